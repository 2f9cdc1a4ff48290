/* Registers every exported function. NAPI_MODULE_INIT makes the addon context-aware (one copy per thread). */
#include "vx.h"

static bool register_table(napi_env env, napi_value exports, const vx_fn *table) {
  for (const vx_fn *f = table; f->name != NULL; f++) {
    napi_value fn;
    if (napi_create_function(env, f->name, NAPI_AUTO_LENGTH, f->fn, NULL, &fn) != napi_ok) return false;
    if (napi_set_named_property(env, exports, f->name, fn) != napi_ok) return false;
  }
  return true;
}

NAPI_MODULE_INIT() {
  const vx_fn *tables[] = {vx_batch_fns, vx_tun_fns, vx_link_fns, vx_udp_fns, vx_poll_fns, vx_csum_fns};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    if (!register_table(env, exports, tables[i])) return NULL;
  }
  return exports;
}
