// Node-API argument and error helpers shared by both addons (ring3_sockets and ring3_response): each compiles
// ring3_napi.c in, so a host where one addon fails to build or load keeps the other.
#ifndef RING3_NAPI_H
#define RING3_NAPI_H
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
// An optional unsigned property of an options object: `fallback` when absent or undefined; 0 when not a uint32.
int ring3_get_uint32_option(napi_env env, napi_value object, const char* name, uint32_t fallback, uint32_t* out);

#endif
