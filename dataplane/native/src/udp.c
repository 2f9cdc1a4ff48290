/* UDP sockets with UDP_GRO receive and UDP_SEGMENT send, moved in batches with recvmmsg/sendmmsg. */
#include "vx.h"
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define VX_UDP_REUSEPORT 1
#define VX_UDP_GRO 2
#define VX_UDP_NO_CHECK 4 /* IPv4: send with a zero UDP checksum (SO_NO_CHECK) */

static socklen_t fill_sockaddr(struct sockaddr_in6 *out, int family, const uint8_t *addr, uint16_t port) {
  memset(out, 0, sizeof *out);
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    memcpy(&sin->sin_addr, addr, 4);
    return sizeof *sin;
  }
  out->sin6_family = AF_INET6;
  out->sin6_port = htons(port);
  memcpy(&out->sin6_addr, addr, 16);
  return sizeof *out;
}

/* *BUFFORCE needs CAP_NET_ADMIN and ignores rmem_max; without it the plain option is capped by the sysctl. */
static void set_buffers(int fd, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

static int configure(int fd, int family, int flags, int bytes) {
  int one = 1;
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) return -errno;
  if ((flags & VX_UDP_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) return -errno;
  if ((flags & VX_UDP_NO_CHECK) && setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one) < 0) return -errno;
  /* Every received message then carries the socket's drop count once there were drops (Linux 2.6.33). */
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  set_buffers(fd, bytes);
  return 0;
}

/* Fills info[0] bound port, info[1] UDP_SEGMENT available, info[2] UDP_GRO enabled. */
static void probe_offloads(int fd, int flags, int32_t *info) {
  struct sockaddr_in6 local;
  socklen_t len = sizeof local;
  int one = 1, val = 0;
  socklen_t vlen = sizeof val;
  info[0] = getsockname(fd, (struct sockaddr *)&local, &len) == 0 ? ntohs(local.sin6_port) : 0;
  info[1] = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &val, &vlen) == 0;
  info[2] = (flags & VX_UDP_GRO) && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
}

/* (family 4|6, addr: Uint8Array, port, flags, bufferBytes, info: Int32Array(3)) -> fd | -errno */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  napi_value a[6];
  int32_t family, port, flags, bytes, *out;
  uint8_t *addr;
  size_t naddr, nout;
  if (!vx_args(env, info, 6, a) || !vx_i32(env, a[0], &family) ||
      !vx_typed(env, a[1], napi_uint8_array, (void **)&addr, &naddr) || !vx_i32(env, a[2], &port) ||
      !vx_i32(env, a[3], &flags) || !vx_i32(env, a[4], &bytes) ||
      !vx_typed(env, a[5], napi_int32_array, (void **)&out, &nout))
    return NULL;
  if ((family != 4 && family != 6) || naddr < (family == 4 ? 4u : 16u) || port < 0 || port > 65535 || nout < 3)
    return vx_int(env, -EINVAL);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return vx_int(env, -errno);
  struct sockaddr_in6 sa;
  socklen_t salen = fill_sockaddr(&sa, family, addr, (uint16_t)port);
  int r = configure(fd, family, flags, bytes);
  if (r == 0 && bind(fd, (struct sockaddr *)&sa, salen) < 0) r = -errno;
  if (r < 0) {
    close(fd);
    return vx_int(env, r);
  }
  probe_offloads(fd, flags, out);
  return vx_int(env, fd);
}

static void store_peer(vx_batch *b, uint32_t i, const struct sockaddr_in6 *sa) {
  uint8_t *dst = b->addrs + 16 * i;
  memset(dst, 0, 16);
  if (sa->sin6_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    b->families[i] = 4;
    memcpy(dst, &sin->sin_addr, 4);
    b->ports[i] = ntohs(sin->sin_port);
  } else {
    b->families[i] = 6;
    memcpy(dst, &sa->sin6_addr, 16);
    b->ports[i] = ntohs(sa->sin6_port);
  }
}

/* The UDP_GRO segment size of a message (0: not coalesced); a SO_RXQ_OVFL drop count goes to *drops. */
static int32_t read_cmsgs(const struct msghdr *m, int32_t *drops) {
  int32_t seg = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      seg = v;
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      uint32_t v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      *drops = (int32_t)v;
    }
  }
  return seg;
}

/* (fd, batch, headroom) -> messages received | -errno (0 when nothing is waiting) */
static napi_value udp_recv(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t fd, headroom;
  vx_batch *b;
  if (!vx_args(env, info, 3, a) || !vx_i32(env, a[0], &fd) || (b = vx_batch_arg(env, a[1])) == NULL ||
      !vx_i32(env, a[2], &headroom))
    return NULL;
  if (headroom < 0 || (uint32_t)headroom >= b->slot_size || (size_t)b->capacity * b->slot_size > b->buf_len)
    return vx_int(env, -EINVAL);
  for (uint32_t i = 0; i < b->capacity; i++) {
    b->iovs[i].iov_base = b->buf + i * b->slot_size + (uint32_t)headroom;
    b->iovs[i].iov_len = b->slot_size - (uint32_t)headroom;
    b->msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &b->names[i],
        .msg_namelen = sizeof b->names[i],
        .msg_iov = &b->iovs[i],
        .msg_iovlen = 1,
        .msg_control = b->ctrl + i * VX_CTRL_LEN,
        .msg_controllen = VX_CTRL_LEN,
    };
  }
  int n;
  do n = recvmmsg(fd, b->msgs, b->capacity, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  b->status[VX_ST_TRUNC] = 0;
  if (n < 0) return vx_int(env, errno == EAGAIN ? 0 : -errno);
  for (int i = 0; i < n; i++) {
    struct msghdr *m = &b->msgs[i].msg_hdr;
    b->offsets[i] = (int32_t)(i * b->slot_size) + headroom;
    b->lengths[i] = (int32_t)b->msgs[i].msg_len;
    b->seg_sizes[i] = read_cmsgs(m, &b->status[VX_ST_OVFL]);
    store_peer(b, (uint32_t)i, &b->names[i]);
    if (m->msg_flags & MSG_TRUNC) b->status[VX_ST_TRUNC]++;
  }
  return vx_int(env, n);
}

typedef struct {
  vx_batch *b;
  int32_t next;   /* batch message to fill from */
  int32_t offset; /* bytes of that message already queued (GSO fallback splits a message) */
  bool gso;
} send_cursor;

/* Queues the next wire message into scratch slot n and advances the cursor. */
static void queue_one(send_cursor *c, uint32_t n) {
  vx_batch *b = c->b;
  int32_t i = c->next, len = b->lengths[i], seg = b->seg_sizes[i];
  struct msghdr *m = &b->msgs[n].msg_hdr;
  memset(m, 0, sizeof *m);
  m->msg_name = &b->names[n];
  m->msg_namelen = fill_sockaddr(&b->names[n], b->families[i], b->addrs + 16 * i, b->ports[i]);
  m->msg_iov = &b->iovs[n];
  m->msg_iovlen = 1;
  int32_t piece = len - c->offset;
  if (seg > 0 && seg < len && c->gso) {
    uint8_t *ctrl = b->ctrl + n * VX_CTRL_LEN;
    memset(ctrl, 0, VX_CTRL_LEN);
    m->msg_control = ctrl;
    m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    struct cmsghdr *cm = CMSG_FIRSTHDR(m);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t s = (uint16_t)seg;
    memcpy(CMSG_DATA(cm), &s, sizeof s);
  } else if (seg > 0 && piece > seg) {
    piece = seg;
  }
  b->iovs[n].iov_base = b->buf + b->offsets[i] + c->offset;
  b->iovs[n].iov_len = (size_t)piece;
  b->owner[n] = i;
  c->offset += piece;
  b->last[n] = c->offset >= len;
  if (b->last[n]) {
    c->next++;
    c->offset = 0;
  }
}

static bool bad_message(vx_batch *b, int32_t i) {
  int32_t off = b->offsets[i], len = b->lengths[i];
  return off < 0 || len < 0 || (size_t)off + (size_t)len > b->buf_len || (b->families[i] != 4 && b->families[i] != 6);
}

/*
 * (fd, batch, start, count, useGso) -> batch messages fully sent | -errno.
 * Messages start..count-1 go out with sendmmsg. With useGso a message with 0 < segSizes[i] < lengths[i] carries a
 * UDP_SEGMENT cmsg; without it such a message is cut into segSizes[i]-byte datagrams here. EIO on a GSO message
 * (the egress device lacks checksum offload) stops the call with status[ERRNO] = EIO and status[RESUME] = that
 * message, so the caller turns GSO off and calls again from there. Per-message errors skip the message;
 * EAGAIN/ENOBUFS drop the rest. status[RESUME] == count when everything was attempted.
 */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  napi_value a[5];
  int32_t fd, start, count, use_gso;
  vx_batch *b;
  if (!vx_args(env, info, 5, a) || !vx_i32(env, a[0], &fd) || (b = vx_batch_arg(env, a[1])) == NULL ||
      !vx_i32(env, a[2], &start) || !vx_i32(env, a[3], &count) || !vx_i32(env, a[4], &use_gso))
    return NULL;
  if (start < 0 || count < start || (uint32_t)count > b->capacity) return vx_int(env, -EINVAL);
  for (int32_t i = start; i < count; i++)
    if (bad_message(b, i)) return vx_int(env, -EFAULT);
  send_cursor c = {.b = b, .next = start, .offset = 0, .gso = use_gso != 0};
  int32_t sent = 0;
  b->status[VX_ST_ERRNO] = 0;
  b->status[VX_ST_DROPPED] = 0;
  while (c.next < count) {
    uint32_t n = 0;
    while (n < b->scratch_n && c.next < count) queue_one(&c, n++);
    for (uint32_t k = 0; k < n;) {
      int r = sendmmsg(fd, b->msgs + k, n - k, MSG_DONTWAIT);
      if (r > 0) {
        for (uint32_t j = k; j < k + (uint32_t)r; j++) sent += b->last[j];
        k += (uint32_t)r;
        continue;
      }
      if (errno == EINTR) continue;
      b->status[VX_ST_ERRNO] = errno;
      if (errno == EBADF || errno == ENOTSOCK || errno == EFAULT) return vx_int(env, -errno);
      bool is_gso = b->msgs[k].msg_hdr.msg_controllen != 0;
      if ((errno == EIO && is_gso) || errno == EAGAIN || errno == ENOBUFS) {
        b->status[VX_ST_RESUME] = errno == EIO ? b->owner[k] : count;
        return vx_int(env, sent);
      }
      b->status[VX_ST_DROPPED]++;
      k++;
    }
  }
  b->status[VX_ST_RESUME] = count;
  return vx_int(env, sent);
}

const vx_fn vx_udp_fns[] = {
    {"udpOpen", udp_open},
    {"udpRecv", udp_recv},
    {"udpSend", udp_send},
    {NULL, NULL},
};
