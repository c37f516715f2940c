// ring3_response: the native half of the agent's response actions. Two things JavaScript cannot do:
//   - pidfds (pidfd_open(2), pidfd_send_signal(2)): a signal that cannot reach a process that reused a pid;
//   - the exec guard (ring3_exec_guard.c): fanotify exec-permission events answered on a thread of its own.
// A separate addon from ring3_sockets, so a host where one fails to load keeps the other.
#define _GNU_SOURCE
#include "ring3_response.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// x86_64, arm64 and every other architecture use the same numbers for these (the unified syscall table).
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif



int ring3_get_path(napi_env env, napi_value value, char* out, size_t size, const char* what) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, out, size, &length) != napi_ok || length >= size - 1 ||
      strlen(out) != length) {
    char message[160];
    snprintf(message, sizeof message, "%s: the path must be a string without NUL, shorter than PATH_MAX", what);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}


static int get_int(napi_env env, napi_value value, int32_t* out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

// pidfdOpen(pid) → fd. The fd names this process for as long as it is open, whatever later reuses the pid;
// JavaScript checks the start time *after* opening it, so a match proves the fd is the process it meant.
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid;
  if (!ring3_require_args(env, info, 1, argv, "pidfdOpen(pid)")) return NULL;
  if (!get_int(env, argv[0], &pid) || pid <= 0) {
    napi_throw_type_error(env, NULL, "pidfdOpen: pid must be a positive integer");
    return NULL;
  }
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return ring3_throw_errno(env, "pidfd_open", errno);
  napi_value result;
  napi_create_int32(env, (int32_t)fd, &result);
  return result;
}

// pidfdSignal(fd, signal): pidfd_send_signal(2); ESRCH once the process has exited.
static napi_value js_pidfd_signal(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, sig;
  if (!ring3_require_args(env, info, 2, argv, "pidfdSignal(fd, signal)")) return NULL;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &sig) || fd < 0 || sig <= 0 || sig >= NSIG) {
    napi_throw_type_error(env, NULL, "pidfdSignal: fd and signal must be valid numbers");
    return NULL;
  }
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return ring3_throw_errno(env, "pidfd_send_signal", errno);
  return NULL;
}

// pidfdExited(fd) → boolean. pidfd_open(2): "the file descriptor becomes readable when the process terminates"
// (exited, zombie or reaped alike).
static napi_value js_pidfd_exited(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!ring3_require_args(env, info, 1, argv, "pidfdExited(fd)")) return NULL;
  if (!get_int(env, argv[0], &fd) || fd < 0) {
    napi_throw_type_error(env, NULL, "pidfdExited: fd must be a number");
    return NULL;
  }
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n;
  do n = poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return ring3_throw_errno(env, "poll(pidfd)", errno);
  napi_value result;
  napi_get_boolean(env, n > 0 && (p.revents & (POLLIN | POLLHUP)) != 0, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdSignal", NULL, js_pidfd_signal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdExited", NULL, js_pidfd_exited, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  ring3_exec_guard_define(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
