/* TUN queues: open (optionally multi-queue, with virtio_net_hdr offloads), batched read and write. */
#include "vx.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Debian's 6.1 headers lack these (Linux 6.2 added USO on TUN); the values are the kernel's. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

#define VX_TUN_MULTI_QUEUE 1
#define VX_TUN_VNET_HDR 2
#define VX_TUN_EXCL 4 /* the first queue must create the device: EBUSY when one of that name exists */
#define VX_TUN_TAP 8   /* IFF_TAP: Ethernet frames instead of IP packets */
#define VX_TUN_TUNNEL 16 /* 24-byte virtio_net_hdr_v1_hash_tunnel: UDP-tunnel GSO frames may be written (6.17+) */
#define VX_VNET_HDR_LEN 10
#define VX_VNET_TNL_HDR_LEN 24

/* Linux 6.17 added GSO over UDP tunnels to TUN/TAP (include/uapi/linux/if_tun.h). */
#ifndef TUN_F_UDP_TUNNEL_GSO
#define TUN_F_UDP_TUNNEL_GSO 0x80
#endif
#ifndef TUN_F_UDP_TUNNEL_GSO_CSUM
#define TUN_F_UDP_TUNNEL_GSO_CSUM 0x100
#endif

/*
 * TCP offloads are required once IFF_VNET_HDR is on; USO is probed and dropped silently when refused. With
 * VX_TUN_TUNNEL the tunnel bits are required: a kernel without them refuses TUNSETOFFLOAD with EINVAL (set_offload
 * in tun.c rejects unknown bits), which is how the caller learns that UDP-tunnel GSO is not there.
 */
static int set_offloads(int fd, int flags) {
  int hdr = (flags & VX_TUN_TUNNEL) ? VX_VNET_TNL_HDR_LEN : VX_VNET_HDR_LEN;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) return -errno;
  unsigned tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (flags & VX_TUN_TUNNEL) {
    unsigned all = tcp | TUN_F_UDP_TUNNEL_GSO | TUN_F_UDP_TUNNEL_GSO_CSUM;
    return ioctl(fd, TUNSETOFFLOAD, all) == 0 ? (int)all : -errno;
  }
  if (ioctl(fd, TUNSETOFFLOAD, tcp | TUN_F_USO4 | TUN_F_USO6) == 0) return (int)(tcp | TUN_F_USO4 | TUN_F_USO6);
  if (ioctl(fd, TUNSETOFFLOAD, tcp) == 0) return (int)tcp;
  return -errno;
}

static int open_queue(const char *name, int flags) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  vx_ifname(ifr.ifr_name, name);
  ifr.ifr_flags = ((flags & VX_TUN_TAP) ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
  if (flags & VX_TUN_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  if (flags & VX_TUN_VNET_HDR) ifr.ifr_flags |= IFF_VNET_HDR;
  if (flags & VX_TUN_EXCL) ifr.ifr_flags |= IFF_TUN_EXCL;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static void name_of(int fd, char *out) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) == 0) memcpy(out, ifr.ifr_name, IFNAMSIZ);
}

static void close_all(int32_t *fds, size_t n) {
  for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* Opens n queues of one device; returns the accepted offloads or -errno (then nothing stays open). */
static int open_queues(char *name, int flags, int32_t *fds, size_t n) {
  int offloads = 0;
  for (size_t i = 0; i < n; i++) {
    int fd = open_queue(name, i == 0 ? flags : flags & ~VX_TUN_EXCL);
    if (fd < 0) {
      close_all(fds, i);
      return fd;
    }
    fds[i] = fd;
    if (i > 0) continue;
    name_of(fd, name); /* "tun%d" resolves here; later queues must attach to the same device */
    if (flags & VX_TUN_VNET_HDR) offloads = set_offloads(fd, flags);
    if (offloads < 0) {
      close_all(fds, 1);
      return offloads;
    }
  }
  return offloads;
}

/* (name, flags, fdsOut: Int32Array, nameOut: Uint8Array(16)) -> offloads (>= 0) | -errno */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  napi_value a[4];
  char name[IFNAMSIZ] = {0};
  int32_t flags = 0, *fds = NULL;
  uint8_t *name_out = NULL;
  size_t nfds = 0, nname = 0;
  if (!vx_args(env, info, 4, a) || !vx_str(env, a[0], name, sizeof name) || !vx_i32(env, a[1], &flags) ||
      !vx_typed(env, a[2], napi_int32_array, (void **)&fds, &nfds) ||
      !vx_typed(env, a[3], napi_uint8_array, (void **)&name_out, &nname))
    return NULL;
  if (nfds == 0 || nname < IFNAMSIZ) return vx_int(env, -EINVAL);
  int offloads = open_queues(name, flags, fds, nfds);
  if (offloads >= 0) memcpy(name_out, name, IFNAMSIZ);
  return vx_int(env, offloads);
}

/*
 * (fd, batch, headroom) -> count | -errno. Reads until EAGAIN or the batch is full; packet i lands at
 * slot i + headroom. An error after the first packet ends the batch and is left for the next call.
 */
static napi_value tun_read(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t fd = -1, headroom = 0;
  vx_batch *b;
  if (!vx_args(env, info, 3, a) || !vx_i32(env, a[0], &fd) || (b = vx_batch_arg(env, a[1])) == NULL ||
      !vx_i32(env, a[2], &headroom))
    return NULL;
  if (headroom < 0 || (uint32_t)headroom >= b->slot_size || (size_t)b->capacity * b->slot_size > b->buf_len)
    return vx_int(env, -EINVAL);
  b->status[VX_ST_ERRNO] = 0;
  uint32_t n = 0;
  while (n < b->capacity) {
    int32_t off = (int32_t)(n * b->slot_size) + headroom;
    ssize_t r = read(fd, b->buf + off, b->slot_size - (uint32_t)headroom);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      b->status[VX_ST_ERRNO] = errno;
      if (n == 0) return vx_int(env, -errno);
      break;
    }
    b->offsets[n] = off;
    b->lengths[n] = (int32_t)r;
    n++;
  }
  return vx_int(env, n);
}

/*
 * (fd, batch, count) -> packets written | -errno. TUN has no multi-write, so this loops write().
 * A packet the kernel rejects (EINVAL: bad virtio header) is skipped and counted; EAGAIN/ENOBUFS drop the rest.
 */
static napi_value tun_write(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t fd = -1, count = 0;
  vx_batch *b;
  if (!vx_args(env, info, 3, a) || !vx_i32(env, a[0], &fd) || (b = vx_batch_arg(env, a[1])) == NULL ||
      !vx_i32(env, a[2], &count))
    return NULL;
  if (count < 0 || (uint32_t)count > b->capacity) return vx_int(env, -EINVAL);
  b->status[VX_ST_ERRNO] = 0;
  b->status[VX_ST_DROPPED] = 0;
  int32_t written = 0;
  for (int32_t i = 0; i < count; i++) {
    int32_t off = b->offsets[i], len = b->lengths[i];
    if (off < 0 || len < 0 || (size_t)off + (size_t)len > b->buf_len) return vx_int(env, -EFAULT);
    ssize_t r = write(fd, b->buf + off, (size_t)len);
    if (r >= 0) {
      written++;
      continue;
    }
    if (errno == EINTR) {
      i--;
      continue;
    }
    b->status[VX_ST_ERRNO] = errno;
    if (errno == EBADF || errno == EFAULT) return vx_int(env, -errno);
    if (errno == EAGAIN || errno == ENOBUFS) break;
    b->status[VX_ST_DROPPED]++;
  }
  return vx_int(env, written);
}

/*
 * (fd, batch, offset, length) -> bytes written | -errno: one frame of the batch's buffer, written at once
 * (a super-packet leaving through the tunnel-GSO TAP, between the batched sends of the packets around it).
 */
static napi_value tun_write_at(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t fd = -1, off = 0, len = 0;
  vx_batch *b;
  if (!vx_args(env, info, 4, a) || !vx_i32(env, a[0], &fd) || (b = vx_batch_arg(env, a[1])) == NULL ||
      !vx_i32(env, a[2], &off) || !vx_i32(env, a[3], &len))
    return NULL;
  if (off < 0 || len <= 0 || (size_t)off + (size_t)len > b->buf_len) return vx_int(env, -EFAULT);
  for (;;) {
    ssize_t r = write(fd, b->buf + off, (size_t)len);
    if (r >= 0) return vx_int(env, r);
    if (errno != EINTR) return vx_int(env, -errno);
  }
}

const vx_fn vx_tun_fns[] = {
    {"tunOpen", tun_open},
    {"tunRead", tun_read},
    {"tunWrite", tun_write},
    {"tunWriteAt", tun_write_at},
    {NULL, NULL},
};
