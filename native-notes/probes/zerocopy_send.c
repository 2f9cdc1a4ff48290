// UDP_SEGMENT sender: 64,400-byte messages (46 x 1400 B) to ADDR:PORT for SECONDS, with (ZC = 1) or without
// MSG_ZEROCOPY. Prints messages/s, the sender's CPU time (utime + stime) per message and what the zerocopy
// completions said (SO_EE_CODE_ZEROCOPY_COPIED: the kernel copied after all).
// usage: zerocopy_send ADDR PORT ZC SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
static long copied, zc;
static void reap(int fd) {
  char ctrl[256];
  for (;;) {
    struct msghdr m = {.msg_control = ctrl, .msg_controllen = sizeof ctrl};
    if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      struct sock_extended_err *e = (void *)CMSG_DATA(c);
      if (e->ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
      long k = (long)e->ee_data - e->ee_info + 1;
      if (e->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) copied += k; else zc += k;
    }
  }
}
int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: zerocopy_send ADDR PORT ZC SECONDS\n"); return 2; }
  int use_zc = atoi(argv[3]), secs = atoi(argv[4]), one = 1;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &to.sin_addr);
  connect(fd, (void *)&to, sizeof to);
  if (use_zc && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one)) { perror("SO_ZEROCOPY"); return 1; }
  static char buf[46 * 1400];
  memset(buf, 7, sizeof buf);
  char ctrl[CMSG_SPACE(sizeof(uint16_t))];
  struct rusage r0, r1; getrusage(RUSAGE_SELF, &r0);
  struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);
  long sent = 0, fails = 0;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= secs) break;
    for (int i = 0; i < 64; i++) {
      struct iovec iov = {buf, sizeof buf};
      struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl};
      struct cmsghdr *c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_UDP; c->cmsg_type = UDP_SEGMENT; c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      *(uint16_t *)CMSG_DATA(c) = 1400;
      if (sendmsg(fd, &m, use_zc ? MSG_ZEROCOPY : 0) < 0) fails++; else sent++;
    }
    if (use_zc) reap(fd);
  }
  usleep(200000); if (use_zc) reap(fd);
  getrusage(RUSAGE_SELF, &r1);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
               ((r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec)) / 1e6;
  printf("%s: %ld msgs of 64,400 B in %d s (%.0f/s, %.2f Gbit/s), sender CPU %.2f us/msg, failed %ld; "
         "completions: copied %ld, zero-copy %ld\n", use_zc ? "MSG_ZEROCOPY" : "copy        ", sent, secs,
         sent / (double)secs, sent * 46 * 1400 * 8 / (secs * 1e9), cpu / sent * 1e6, fails, copied, zc);
  return 0;
}
