/*
 * Byte crunching the benchmark showed JS to be slow at, for a train of TSO segments laid out at a fixed stride
 * (dataplane/tx.ts): laying out their bytes, and finishing their transport checksums. JS summed ~7.5 GB/s; this sums 32-bit words into a
 * 64-bit accumulator. Each segment's checksum field holds the pseudo-header sum on entry (NEEDS_CSUM style).
 */
#include "vx.h"
#include <errno.h>
#include <string.h>

static uint32_t sum_le(const uint8_t *p, size_t len) {
  uint64_t s = 0;
  while (len >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    s += (uint64_t)a + b;
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t a;
    memcpy(&a, p, 4);
    s += a;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t a;
    memcpy(&a, p, 2);
    s += a;
    p += 2;
    len -= 2;
  }
  if (len) s += p[0]; /* little-endian: a trailing byte is the high byte of a big-endian word, padded */
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint32_t)s;
}

/* csumSegments(buf, first, stride, count, l4Off, csumOff, lengths, isUdp) -> 0 or -EINVAL */
static napi_value csum_segments(napi_env env, napi_callback_info info) {
  napi_value a[8];
  int32_t first, stride, count, l4_off, csum_off, is_udp;
  uint8_t *buf;
  int32_t *lengths;
  size_t buf_len, n_len;
  if (!vx_args(env, info, 8, a) || !vx_typed(env, a[0], napi_uint8_array, (void **)&buf, &buf_len) ||
      !vx_i32(env, a[1], &first) || !vx_i32(env, a[2], &stride) || !vx_i32(env, a[3], &count) ||
      !vx_i32(env, a[4], &l4_off) || !vx_i32(env, a[5], &csum_off) ||
      !vx_typed(env, a[6], napi_int32_array, (void **)&lengths, &n_len) || !vx_i32(env, a[7], &is_udp)) {
    return NULL;
  }
  if (first < 0 || stride < 1 || count < 0 || (size_t)count > n_len || l4_off < 0 || csum_off < 0) return vx_int(env, -EINVAL);
  for (int32_t k = 0; k < count; k++) {
    size_t seg = (size_t)first + (size_t)k * (size_t)stride;
    int32_t len = lengths[k];
    if (len < l4_off + csum_off + 2 || seg + (size_t)len > buf_len) return vx_int(env, -EINVAL);
    uint8_t *l4 = buf + seg + l4_off;
    uint32_t s = sum_le(l4, (size_t)(len - l4_off));
    uint16_t be = (uint16_t)~(((s & 0xff) << 8) | (s >> 8));
    if (is_udp && be == 0) be = 0xffff;
    l4[csum_off] = (uint8_t)(be >> 8);
    l4[csum_off + 1] = (uint8_t)be;
  }
  return vx_int(env, 0);
}

/*
 * copySegments(src, pktOff, pktLen, hdrLen, gsoSize, out, outOff, stride) -> segments written, or -EINVAL
 * Lays out the TSO split of src[pktOff, pktOff+pktLen): segment k at out[outOff + k*stride] gets the hdrLen
 * header bytes, then payload bytes [k*gsoSize, (k+1)*gsoSize) (the last one what is left). Only bytes move;
 * tsoSplit (dataplane/offload/tso.ts) then fixes lengths, IDs, sequence numbers and flags. One call per
 * super-packet instead of a view and a copy per segment from JS (costs.md).
 */
static napi_value copy_segments(napi_env env, napi_callback_info info) {
  napi_value a[8];
  int32_t pkt_off, pkt_len, hdr_len, gso_size, out_off, stride;
  uint8_t *src, *out;
  size_t src_len, out_len;
  if (!vx_args(env, info, 8, a) || !vx_typed(env, a[0], napi_uint8_array, (void **)&src, &src_len) ||
      !vx_i32(env, a[1], &pkt_off) || !vx_i32(env, a[2], &pkt_len) || !vx_i32(env, a[3], &hdr_len) ||
      !vx_i32(env, a[4], &gso_size) || !vx_typed(env, a[5], napi_uint8_array, (void **)&out, &out_len) ||
      !vx_i32(env, a[6], &out_off) || !vx_i32(env, a[7], &stride)) {
    return NULL;
  }
  if (pkt_off < 0 || hdr_len < 0 || gso_size < 1 || pkt_len <= hdr_len || out_off < 0 || stride < hdr_len + gso_size ||
      (size_t)pkt_off + (size_t)pkt_len > src_len) {
    return vx_int(env, -EINVAL);
  }
  size_t payload = (size_t)(pkt_len - hdr_len);
  size_t n = (payload + (size_t)gso_size - 1) / (size_t)gso_size;
  size_t last = payload - (n - 1) * (size_t)gso_size;
  if ((size_t)out_off + (n - 1) * (size_t)stride + (size_t)hdr_len + last > out_len) return vx_int(env, -EINVAL);
  const uint8_t *data = src + pkt_off + hdr_len;
  for (size_t k = 0; k < n; k++) {
    uint8_t *seg = out + out_off + k * (size_t)stride;
    memcpy(seg, src + pkt_off, (size_t)hdr_len);
    memcpy(seg + hdr_len, data + k * (size_t)gso_size, k == n - 1 ? last : (size_t)gso_size);
  }
  return vx_int(env, (int64_t)n);
}

/*
 * copyRanges(src, dst, list, count) -> 0, or -EINVAL (nothing copied) when a range lies outside its buffer
 * list[3k] = source offset, list[3k+1] = destination offset, list[3k+2] = length. The GRO coalescer
 * (dataplane/offload/gro.ts) collects the payload copies of a receive batch and runs them in one call.
 */
static napi_value copy_ranges(napi_env env, napi_callback_info info) {
  napi_value a[4];
  uint8_t *src, *dst;
  int32_t *list, count;
  size_t src_len, dst_len, list_len;
  if (!vx_args(env, info, 4, a) || !vx_typed(env, a[0], napi_uint8_array, (void **)&src, &src_len) ||
      !vx_typed(env, a[1], napi_uint8_array, (void **)&dst, &dst_len) ||
      !vx_typed(env, a[2], napi_int32_array, (void **)&list, &list_len) || !vx_i32(env, a[3], &count)) {
    return NULL;
  }
  if (count < 0 || (size_t)count * 3 > list_len) return vx_int(env, -EINVAL);
  for (int32_t k = 0; k < count; k++) {
    int32_t s = list[3 * k], d = list[3 * k + 1], n = list[3 * k + 2];
    if (s < 0 || d < 0 || n < 0 || (size_t)s + (size_t)n > src_len || (size_t)d + (size_t)n > dst_len) return vx_int(env, -EINVAL);
  }
  for (int32_t k = 0; k < count; k++) memcpy(dst + list[3 * k + 1], src + list[3 * k], (size_t)list[3 * k + 2]);
  return vx_int(env, 0);
}

/*
 * sumRange(buf, off, len) -> the folded ones'-complement sum of buf[off, off+len) as big-endian 16-bit words
 * (0..0xffff), or -EINVAL. The receive path verifies every inner TCP/UDP checksum with it before coalescing
 * (dataplane/offload/partial.ts): one call per packet, about 3x faster than the JS sum here (costs.md).
 */
static napi_value sum_range(napi_env env, napi_callback_info info) {
  napi_value a[3];
  uint8_t *buf;
  size_t buf_len;
  int32_t off, len;
  if (!vx_args(env, info, 3, a) || !vx_typed(env, a[0], napi_uint8_array, (void **)&buf, &buf_len) ||
      !vx_i32(env, a[1], &off) || !vx_i32(env, a[2], &len)) {
    return NULL;
  }
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > buf_len) return vx_int(env, -EINVAL);
  uint32_t s = sum_le(buf + off, (size_t)len);
  return vx_int(env, (int64_t)(((s & 0xff) << 8) | (s >> 8)));
}

const vx_fn vx_csum_fns[] = {
  {"sumRange", sum_range},
  {"copyRanges", copy_ranges},
  {"csumSegments", csum_segments},
  {"copySegments", copy_segments},
  {NULL, NULL},
};
