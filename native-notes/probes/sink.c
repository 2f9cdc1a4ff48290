// Drains UDP on ADDR:PORT with UDP_GRO and recvmmsg until nothing came for 3 s; prints the bytes received.
// usage: sink ADDR PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
int main(int argc, char **argv) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  setsockopt(fd, 17, 104, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  bind(fd, (void *)&a, sizeof a);
  struct timeval tv = {3, 0}; setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static char bufs[16][65536]; struct iovec iov[16]; struct mmsghdr m[16];
  for (int i = 0; i < 16; i++) { iov[i].iov_base = bufs[i]; iov[i].iov_len = 65536; m[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1}; }
  long bytes = 0; int n;
  while ((n = recvmmsg(fd, m, 16, 0, NULL)) > 0) for (int i = 0; i < n; i++) bytes += m[i].msg_len;
  printf("sink: %ld bytes\n", bytes);
  return 0;
}
