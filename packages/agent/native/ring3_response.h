// Shared by the ring3_response addon's sources (ring3_response.c, ring3_exec_guard.c).
#ifndef RING3_RESPONSE_H
#define RING3_RESPONSE_H
#include "ring3_napi.h"

// A path argument (NUL-free, shorter than PATH_MAX) into `out`; throws and returns 0 otherwise.
int ring3_get_path(napi_env env, napi_value value, char* out, size_t size, const char* what);
// Adds the exec guard's functions to the module's exports.
void ring3_exec_guard_define(napi_env env, napi_value exports);

#endif
