#include "ring3_napi.h"

#include <stdio.h>
#include <string.h>

napi_value ring3_throw_errno(napi_env env, const char* what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "%d", err);
  napi_throw_error(env, code, message);
  return NULL;
}

int ring3_require_args(napi_env env, napi_callback_info info, size_t count, napi_value* argv, const char* usage) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < count) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

int ring3_get_uint32_option(napi_env env, napi_value object, const char* name, uint32_t fallback, uint32_t* out) {
  bool has = false;
  napi_has_named_property(env, object, name, &has);
  if (!has) {
    *out = fallback;
    return 1;
  }
  napi_value value;
  napi_get_named_property(env, object, name, &value);
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined) {
    *out = fallback;
    return 1;
  }
  return napi_get_value_uint32(env, value, out) == napi_ok;
}
