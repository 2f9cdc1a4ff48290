/* bindBatch: turns a PacketBatch's buffer and metadata arrays into one handle (see vx_batch in vx.h). */
#include "vx.h"
#include <stdlib.h>

/* Scratch entries: at least 128 so a GSO fallback can split a message into many datagrams per sendmmsg. */
#define VX_MIN_SCRATCH 128

static void batch_free(napi_env env, void *data, void *hint) {
  vx_batch *b = data;
  free(b->msgs);
  free(b->iovs);
  free(b->names);
  free(b->ctrl);
  free(b->owner);
  free(b->last);
  free(b);
}

static bool alloc_scratch(vx_batch *b) {
  uint32_t n = b->capacity > VX_MIN_SCRATCH ? b->capacity : VX_MIN_SCRATCH;
  b->scratch_n = n;
  b->msgs = calloc(n, sizeof *b->msgs);
  b->iovs = calloc(n, sizeof *b->iovs);
  b->names = calloc(n, sizeof *b->names);
  b->ctrl = calloc(n, VX_CTRL_LEN);
  b->owner = calloc(n, sizeof *b->owner);
  b->last = calloc(n, sizeof *b->last);
  return b->msgs && b->iovs && b->names && b->ctrl && b->owner && b->last;
}

/* (buf, slotSize, capacity, offsets, lengths, segSizes, families, addrs, ports, status) -> External */
static napi_value bind_batch(napi_env env, napi_callback_info info) {
  napi_value a[10];
  if (!vx_args(env, info, 10, a)) return NULL;
  vx_batch *b = calloc(1, sizeof *b);
  if (b == NULL) {
    napi_throw_error(env, NULL, "vxtun_native: out of memory");
    return NULL;
  }
  int32_t slot = 0, cap = 0;
  size_t n_buf, n_off, n_len, n_seg, n_fam, n_addr, n_port, n_st;
  bool ok = vx_typed(env, a[0], napi_uint8_array, (void **)&b->buf, &n_buf) &&
            vx_i32(env, a[1], &slot) && vx_i32(env, a[2], &cap) &&
            vx_typed(env, a[3], napi_int32_array, (void **)&b->offsets, &n_off) &&
            vx_typed(env, a[4], napi_int32_array, (void **)&b->lengths, &n_len) &&
            vx_typed(env, a[5], napi_int32_array, (void **)&b->seg_sizes, &n_seg) &&
            vx_typed(env, a[6], napi_uint8_array, (void **)&b->families, &n_fam) &&
            vx_typed(env, a[7], napi_uint8_array, (void **)&b->addrs, &n_addr) &&
            vx_typed(env, a[8], napi_uint16_array, (void **)&b->ports, &n_port) &&
            vx_typed(env, a[9], napi_int32_array, (void **)&b->status, &n_st);
  if (!ok) {
    free(b);
    return NULL;
  }
  size_t c = (size_t)cap;
  if (slot <= 0 || cap <= 0 || n_off < c || n_len < c || n_seg < c ||
      n_fam < c || n_addr < 16 * c || n_port < c || n_st < VX_STATUS_LEN) {
    free(b);
    napi_throw_range_error(env, NULL, "vxtun_native: batch metadata arrays smaller than capacity");
    return NULL;
  }
  b->buf_len = n_buf;
  b->slot_size = (uint32_t)slot;
  b->capacity = (uint32_t)cap;
  if (!alloc_scratch(b)) {
    batch_free(env, b, NULL);
    napi_throw_error(env, NULL, "vxtun_native: out of memory");
    return NULL;
  }
  napi_value ext;
  if (napi_create_external(env, b, batch_free, NULL, &ext) != napi_ok) {
    batch_free(env, b, NULL);
    return NULL;
  }
  return ext;
}

vx_batch *vx_batch_arg(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "vxtun_native: expected a batch handle");
    return NULL;
  }
  return data;
}

const vx_fn vx_batch_fns[] = {
    {"bindBatch", bind_batch},
    {NULL, NULL},
};
