/* Argument helpers. JS validates ranges; these only catch wrong types, which are programming errors. */
#include "vx.h"
#include <string.h>

bool vx_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, "vxtun_native: too few arguments");
    return false;
  }
  return true;
}

bool vx_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "vxtun_native: expected a number");
    return false;
  }
  return true;
}

bool vx_str(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= cap) {
    napi_throw_type_error(env, NULL, "vxtun_native: expected a short string");
    return false;
  }
  napi_get_value_string_utf8(env, v, out, cap, &len);
  return true;
}

bool vx_typed(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *count) {
  bool is_typed = false;
  napi_typedarray_type actual;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &actual, count, data, NULL, NULL) != napi_ok || actual != type) {
    napi_throw_type_error(env, NULL, "vxtun_native: wrong typed array kind");
    return false;
  }
  return true;
}

napi_value vx_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

void vx_ifname(char *dst, const char *src) {
  size_t n = strnlen(src, 15);
  memcpy(dst, src, n);
  dst[n] = 0;
}
