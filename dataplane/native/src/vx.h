/*
 * vxtun native shim: syscalls Node lacks (TUN, link ioctls, batched UDP with GSO/GRO, poll/eventfd).
 * Conventions (native-notes/shim-contract.md): arguments are validated in JS; here a wrong JS type throws a
 * TypeError (a programming error), every system failure is returned as -errno, never thrown.
 * Context-aware: no mutable static state, so each worker thread can load its own copy.
 */
#ifndef VX_H
#define VX_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

typedef struct {
  const char *name;
  napi_callback fn;
} vx_fn;

/* Each concern exports a NULL-terminated table; module.c registers them all. */
extern const vx_fn vx_batch_fns[];
extern const vx_fn vx_tun_fns[];
extern const vx_fn vx_link_fns[];
extern const vx_fn vx_udp_fns[];
extern const vx_fn vx_poll_fns[];
extern const vx_fn vx_csum_fns[];

/* Argument helpers: on a wrong type they throw a TypeError and return false. */
bool vx_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);
bool vx_i32(napi_env env, napi_value v, int32_t *out);
bool vx_str(napi_env env, napi_value v, char *out, size_t cap);
bool vx_typed(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *count);
napi_value vx_int(napi_env env, int64_t v);
/* Copies an interface name into a zeroed IFNAMSIZ (16) byte field, always NUL-terminated. */
void vx_ifname(char *dst, const char *src);

/*
 * A PacketBatch bound once (bindBatch) so that each batch call passes one handle instead of nine arrays.
 * The pointers stay valid because the JS side keeps the arrays alive as long as the handle and never
 * transfers or detaches them. Scratch arrays for recvmmsg/sendmmsg live here so no call allocates.
 */
typedef struct {
  uint8_t *buf;
  size_t buf_len;
  uint32_t slot_size;
  uint32_t capacity;
  int32_t *offsets;
  int32_t *lengths;
  int32_t *seg_sizes;
  uint8_t *families;
  uint8_t *addrs;
  uint16_t *ports;
  int32_t *status; /* see VX_ST_* */
  uint32_t scratch_n;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  struct sockaddr_in6 *names;
  uint8_t *ctrl; /* VX_CTRL_LEN bytes per scratch entry */
  int32_t *owner; /* send: index of the batch message a wire message belongs to */
  uint8_t *last;  /* send: 1 when the wire message is the last piece of its batch message */
} vx_batch;

#define VX_CTRL_LEN 64 /* room for UDP_GRO and SO_RXQ_OVFL, 24 bytes each */
/* status[] slots written by batch calls. */
#define VX_ST_ERRNO 0   /* errno that stopped the call, or of the last skipped packet; 0 if none */
#define VX_ST_RESUME 1  /* send: first batch message not attempted (== count when all were) */
#define VX_ST_DROPPED 2 /* packets/wire messages skipped because of a per-packet error */
#define VX_ST_TRUNC 3   /* messages truncated because the slot was too small */
#define VX_ST_OVFL 4   /* receive: the socket's drop count (SO_RXQ_OVFL) from the last message carrying it */
#define VX_STATUS_LEN 5

/* Returns the batch behind handle v, or throws a TypeError and returns NULL. */
vx_batch *vx_batch_arg(napi_env env, napi_value v);

#endif
