// Shared by the ring3_response addon's sources (ring3_response.c, ring3_exec_guard.c).
#ifndef RING3_RESPONSE_H
#define RING3_RESPONSE_H
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

// Throws an Error whose message names the call and strerror(err), and whose `code` is the errno number.
napi_value ring3_throw_errno(napi_env env, const char* what, int err);
// Reads exactly `count` arguments; throws a TypeError with `usage` and returns 0 when fewer were passed.
int ring3_require_args(napi_env env, napi_callback_info info, size_t count, napi_value* argv, const char* usage);
// A path argument (NUL-free, shorter than PATH_MAX) into `out`; throws and returns 0 otherwise.
int ring3_get_path(napi_env env, napi_value value, char* out, size_t size, const char* what);
// An optional unsigned property of an options object: `fallback` when absent or undefined; 0 when not a uint32.
int ring3_get_uint32_option(napi_env env, napi_value object, const char* name, uint32_t fallback, uint32_t* out);
// Adds the exec guard's functions to the module's exports.
void ring3_exec_guard_define(napi_env env, napi_value exports);

#endif
