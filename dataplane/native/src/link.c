/*
 * Link setup by ioctl, no shelling out: MTU, up, one address, one route per call. Adding what already
 * exists returns 0, so a restart over a persisting device is not an error. Also setns for tests and testbeds.
 */
#include "vx.h"
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* <linux/ipv6.h> clashes with glibc's headers; this is its struct in6_ifreq. */
struct vx_in6_ifreq {
  struct in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

static int ioctl_on(int family, unsigned long req, void *arg) {
  int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int r = ioctl(s, req, arg) < 0 ? -errno : 0;
  close(s);
  return r;
}

static void ifreq_for(struct ifreq *ifr, const char *name) {
  memset(ifr, 0, sizeof *ifr);
  vx_ifname(ifr->ifr_name, name);
}

static int set_mtu(const char *name, int mtu) {
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  ifr.ifr_mtu = mtu;
  return ioctl_on(AF_INET, SIOCSIFMTU, &ifr);
}

static int set_up(const char *name) {
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int r = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    r = -errno;
  } else if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) r = -errno;
  }
  close(s);
  return r;
}

static void sin_at(struct sockaddr *sa, uint32_t addr_be) {
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = addr_be};
  memcpy(sa, &sin, sizeof sin);
}

static uint32_t mask4(int prefix) {
  return htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - prefix));
}

/* IPv4 keeps one address per ioctl label: SIOCSIFADDR replaces it, then the netmask narrows it to the prefix. */
static int add_addr4(const char *name, const uint8_t *addr, int prefix) {
  struct ifreq ifr;
  uint32_t a;
  memcpy(&a, addr, 4);
  ifreq_for(&ifr, name);
  sin_at(&ifr.ifr_addr, a);
  int r = ioctl_on(AF_INET, SIOCSIFADDR, &ifr);
  if (r < 0) return r;
  ifreq_for(&ifr, name);
  sin_at(&ifr.ifr_netmask, mask4(prefix));
  return ioctl_on(AF_INET, SIOCSIFNETMASK, &ifr);
}

static int add_addr6(const char *name, const uint8_t *addr, int prefix) {
  struct vx_in6_ifreq req = {.prefixlen = (uint32_t)prefix, .ifindex = (int)if_nametoindex(name)};
  if (req.ifindex == 0) return -ENODEV;
  memcpy(&req.addr, addr, 16);
  int r = ioctl_on(AF_INET6, SIOCSIFADDR, &req);
  return r == -EEXIST ? 0 : r;
}

static int add_route4(const char *name, const uint8_t *dst, int prefix) {
  struct rtentry rt;
  char dev[IFNAMSIZ];
  uint32_t d;
  memcpy(&d, dst, 4);
  memset(&rt, 0, sizeof rt);
  vx_ifname(dev, name);
  sin_at(&rt.rt_dst, d & mask4(prefix));
  sin_at(&rt.rt_genmask, mask4(prefix));
  rt.rt_flags = RTF_UP | (prefix == 32 ? RTF_HOST : 0);
  rt.rt_dev = dev;
  int r = ioctl_on(AF_INET, SIOCADDRT, &rt);
  return r == -EEXIST ? 0 : r;
}

static int add_route6(const char *name, const uint8_t *dst, int prefix) {
  struct in6_rtmsg rt;
  memset(&rt, 0, sizeof rt);
  rt.rtmsg_ifindex = (int)if_nametoindex(name);
  if (rt.rtmsg_ifindex == 0) return -ENODEV;
  memcpy(&rt.rtmsg_dst, dst, 16);
  rt.rtmsg_dst_len = (uint16_t)prefix;
  rt.rtmsg_metric = 1;
  rt.rtmsg_flags = RTF_UP | (prefix == 128 ? RTF_HOST : 0);
  int r = ioctl_on(AF_INET6, SIOCADDRT, &rt);
  return r == -EEXIST ? 0 : r;
}

/* (name, mtu) -> 0 | -errno */
static napi_value link_set_mtu(napi_env env, napi_callback_info info) {
  napi_value a[2];
  char name[IFNAMSIZ];
  int32_t mtu;
  if (!vx_args(env, info, 2, a) || !vx_str(env, a[0], name, sizeof name) || !vx_i32(env, a[1], &mtu)) return NULL;
  return vx_int(env, set_mtu(name, mtu));
}

/* (name) -> 0 | -errno */
static napi_value link_set_up(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char name[IFNAMSIZ];
  if (!vx_args(env, info, 1, a) || !vx_str(env, a[0], name, sizeof name)) return NULL;
  return vx_int(env, set_up(name));
}

/* (name) -> the device's flags (IFF_UP 0x1, ...) | -errno (-ENODEV: no such device in this namespace) */
static napi_value link_flags(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char name[IFNAMSIZ];
  struct ifreq ifr;
  if (!vx_args(env, info, 1, a) || !vx_str(env, a[0], name, sizeof name)) return NULL;
  ifreq_for(&ifr, name);
  int r = ioctl_on(AF_INET, SIOCGIFFLAGS, &ifr);
  return vx_int(env, r < 0 ? r : (ifr.ifr_flags & 0xffff));
}

/* (name, family 4|6, addr: Uint8Array(4|16), prefixLen, isRoute) -> 0 | -errno */
static napi_value link_add(napi_env env, napi_callback_info info) {
  napi_value a[5];
  char name[IFNAMSIZ];
  int32_t family, prefix, is_route;
  uint8_t *addr;
  size_t n;
  if (!vx_args(env, info, 5, a) || !vx_str(env, a[0], name, sizeof name) || !vx_i32(env, a[1], &family) ||
      !vx_typed(env, a[2], napi_uint8_array, (void **)&addr, &n) || !vx_i32(env, a[3], &prefix) ||
      !vx_i32(env, a[4], &is_route))
    return NULL;
  if (family == 4 && n >= 4 && prefix >= 0 && prefix <= 32)
    return vx_int(env, is_route ? add_route4(name, addr, prefix) : add_addr4(name, addr, prefix));
  if (family == 6 && n >= 16 && prefix >= 0 && prefix <= 128)
    return vx_int(env, is_route ? add_route6(name, addr, prefix) : add_addr6(name, addr, prefix));
  return vx_int(env, -EINVAL);
}

/* (nsFd) -> 0 | -errno. Moves the calling thread into a network namespace (see dataplane/sys/netns.ts). */
static napi_value set_netns(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (!vx_args(env, info, 1, a) || !vx_i32(env, a[0], &fd)) return NULL;
  return vx_int(env, setns(fd, CLONE_NEWNET) < 0 ? -errno : 0);
}

/* (name, out: Uint8Array(6)) -> 0 | -errno: the device's hardware address (SIOCGIFHWADDR). */
static napi_value link_hw_addr(napi_env env, napi_callback_info info) {
  napi_value a[2];
  char name[IFNAMSIZ] = {0};
  uint8_t *out = NULL;
  size_t n = 0;
  if (!vx_args(env, info, 2, a) || !vx_str(env, a[0], name, sizeof name) ||
      !vx_typed(env, a[1], napi_uint8_array, (void **)&out, &n))
    return NULL;
  if (n < 6) return vx_int(env, -EINVAL);
  struct ifreq ifr;
  ifreq_for(&ifr, name);
  int r = ioctl_on(AF_INET, SIOCGIFHWADDR, &ifr);
  if (r == 0) memcpy(out, ifr.ifr_hwaddr.sa_data, 6);
  return vx_int(env, r);
}

const vx_fn vx_link_fns[] = {
    {"linkSetMtu", link_set_mtu},
    {"linkSetUp", link_set_up},
    {"linkFlags", link_flags},
    {"linkHwAddr", link_hw_addr},
    {"linkAdd", link_add},
    {"setNetns", set_netns},
    {NULL, NULL},
};
