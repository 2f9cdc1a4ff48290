// Replays one virtio header + frame written by `tunnel_gso.py ... --dump FILE` into a TAP for SECONDS and prints
// writes per second and the writer's CPU time (utime + stime) per write. Run only inside a scratch namespace.
// usage: tap_write FILE DEVICE SECONDS
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
  // `ip netns identify` names the namespace this process is in; empty outside the named (scratch) ones.
  char ns[64] = "", query[64];
  snprintf(query, sizeof query, "ip netns identify %d", (int)getpid());
  FILE *id = popen(query, "r");
  if (id != NULL) {
    if (fgets(ns, sizeof ns, id) == NULL) ns[0] = 0;
    pclose(id);
  }
  if (argc != 4 || ns[0] == 0 || ns[0] == '\n') {
    fprintf(stderr, "usage: tap_write FILE DEVICE SECONDS, inside a named scratch network namespace (run.sh)\n");
    return 2;
  }
  static char pkt[70000];
  int f = open(argv[1], O_RDONLY);
  int len = f < 0 ? -1 : (int)read(f, pkt, sizeof pkt);
  if (len < 64) { perror(argv[1]); return 1; }
  close(f);
  int fd = open("/dev/net/tun", O_RDWR);
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[2]);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr)) { perror("TUNSETIFF"); return 1; }
  int sz = 24;
  if (ioctl(fd, TUNSETVNETHDRSZ, &sz) || ioctl(fd, TUNSETOFFLOAD, 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80 | 0x100)) {
    perror("TUNSETVNETHDRSZ/TUNSETOFFLOAD");
    return 1;
  }
  // The frame is addressed to the MAC its TAP had when it was built: give this TAP the same one.
  unsigned char *d = (unsigned char *)pkt + 24;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ip link set %s address %02x:%02x:%02x:%02x:%02x:%02x && ip link set %s up && "
           "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.%s.accept_local=1 net.ipv4.conf.%s.rp_filter=0 "
           "net.ipv4.conf.all.rp_filter=0", argv[2], d[0], d[1], d[2], d[3], d[4], d[5], argv[2], argv[2], argv[2]);
  if (system(cmd) != 0) return 1;
  usleep(300000);
  int secs = atoi(argv[3]);
  long n = 0, fails = 0;
  double c0 = cpu_seconds();
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= secs) break;
    for (int i = 0; i < 64; i++) {
      if (write(fd, pkt, (size_t)len) == len) n++;
      else fails++;
    }
  }
  double cpu = cpu_seconds() - c0;
  printf("TAP writes of %d B (tunnel GSO): %ld in %d s (%.0f/s), writer CPU %.2f us/write, failed %ld\n", len, n, secs,
         n / (double)secs, n > 0 ? cpu / n * 1e6 : 0.0, fails);
  return 0;
}
