/* Waiting: poll over a TUN queue, a UDP socket and an eventfd that any thread can signal to wake the waiter. */
#include "vx.h"
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define VX_READY_TUN 1
#define VX_READY_UDP 2
#define VX_READY_WAKE 4

static int drain(int fd) {
  uint64_t v = 0;
  ssize_t r = read(fd, &v, sizeof v);
  if (r < 0) return errno == EAGAIN ? 0 : -errno;
  return (int)(v > 0x7fffffff ? 0x7fffffff : v);
}

/*
 * (tunFd, udpFd, wakeFd, timeoutMs) -> READY_* bitmask (0 on timeout or signal) | -errno.
 * A negative fd is left out. Error and hang-up conditions count as ready so the next read reports them.
 * A signalled wake fd is drained here, so one wake() returns exactly one wait().
 */
static napi_value poll_wait(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t tun, udp, wake, timeout;
  if (!vx_args(env, info, 4, a) || !vx_i32(env, a[0], &tun) || !vx_i32(env, a[1], &udp) ||
      !vx_i32(env, a[2], &wake) || !vx_i32(env, a[3], &timeout))
    return NULL;
  struct pollfd p[3] = {{.fd = tun, .events = POLLIN}, {.fd = udp, .events = POLLIN}, {.fd = wake, .events = POLLIN}};
  int r = poll(p, 3, timeout);
  if (r < 0) return vx_int(env, errno == EINTR ? 0 : -errno);
  int mask = 0;
  for (int i = 0; i < 3; i++) {
    if (p[i].revents & POLLNVAL) return vx_int(env, -EBADF);
    if (p[i].revents) mask |= 1 << i;
  }
  if (mask & VX_READY_WAKE) {
    int d = drain(wake);
    if (d < 0) return vx_int(env, d);
  }
  return vx_int(env, mask);
}

/* () -> fd | -errno */
static napi_value eventfd_create(napi_env env, napi_callback_info info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return vx_int(env, fd < 0 ? -errno : fd);
}

/* (fd) -> 0 | -errno. Safe from any thread: the fd number is process-wide. */
static napi_value eventfd_signal(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (!vx_args(env, info, 1, a) || !vx_i32(env, a[0], &fd)) return NULL;
  uint64_t one = 1;
  if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN) return vx_int(env, -errno);
  return vx_int(env, 0);
}

/* (fd) -> signals pending (0 if none) | -errno */
static napi_value eventfd_drain(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (!vx_args(env, info, 1, a) || !vx_i32(env, a[0], &fd)) return NULL;
  return vx_int(env, drain(fd));
}

/* (fd) -> 0 | -errno */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  if (!vx_args(env, info, 1, a) || !vx_i32(env, a[0], &fd)) return NULL;
  return vx_int(env, close(fd) < 0 ? -errno : 0);
}

const vx_fn vx_poll_fns[] = {
    {"pollWait", poll_wait},
    {"eventfdCreate", eventfd_create},
    {"eventfdSignal", eventfd_signal},
    {"eventfdDrain", eventfd_drain},
    {"closeFd", close_fd},
    {NULL, NULL},
};
