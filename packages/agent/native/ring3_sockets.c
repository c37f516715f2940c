// ring3_sockets: netlink sockets and one fanotify group for the Linux agent, and nothing else. It opens a
// socket, sends requests, and reads on a thread of its own into a bounded ring that JavaScript drains in
// batches; every byte is parsed in TypeScript. Node-API only, so one build runs on every Node version.
//
// The one exception to "parsing is TypeScript": fanotify file handles (FAN_REPORT_DFID_NAME) are resolved
// to a directory path here, on the reader thread, because a handle only names a directory while it still
// exists — by the time JavaScript sees the event the directory may be gone or renamed.
//
// Why a thread and not libuv polling: a netlink socket whose receive buffer overflows returns ENOBUFS
// from recv(), and libuv treats a read error as the end of the stream and stops polling. Here ENOBUFS is
// counted (the sensor reports it as loss) and the thread keeps reading.
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

// Large enough for any single netlink datagram the kernel sends us (audit records are capped at
// MAX_AUDIT_MESSAGE_LENGTH 8970; connector messages are < 100 bytes); MSG_TRUNC tells if one was larger.
#define RECV_BUFFER_SIZE (64 * 1024)
// Datagrams handed to JavaScript per call, so one busy second does not become one huge array.
#define MAX_BATCH 512
// Filesystems one fanotify group can resolve handles on (one mount fd each).
#define MAX_FILESYSTEMS 64
// Directory paths appended per fanotify event: FAN_RENAME carries two (old and new directory).
#define MAX_RESOLVED 2

typedef enum { KIND_NETLINK, KIND_FANOTIFY } fd_kind_t;

// A marked filesystem: its fsid as fanotify reports it, and an fd on it for open_by_handle_at().
typedef struct {
  __kernel_fsid_t fsid;
  int mount_fd;
} filesystem_t;

typedef struct {
  uint8_t* data;
  size_t length;
} datagram_t;

typedef struct {
  fd_kind_t kind;
  int fd;
  int wake_fd;  // eventfd written by close() to wake the thread out of poll()
  uint32_t port_id;
  pthread_t thread;
  int thread_started;
  int closed;
  napi_threadsafe_function tsfn;
  napi_ref callback;  // held by the tsfn's call_js through its context
  // The ring: a fixed array of datagrams, guarded by mutex. Full ring → the newest datagram is dropped.
  pthread_mutex_t mutex;
  datagram_t* ring;
  size_t capacity;
  size_t head;
  size_t count;
  int notify_pending;  // one tsfn call in flight at most; JS drains everything when it runs
  // Counters, written by the reader thread under mutex.
  uint64_t received;
  uint64_t bytes;
  uint64_t ring_drops;
  uint64_t enobufs;
  uint64_t truncated;
  uint64_t overflows;    // fanotify: FAN_Q_OVERFLOW events (the kernel queue was full, events were lost)
  uint64_t unresolved;   // fanotify: directory handles that could not be turned into a path
  filesystem_t filesystems[MAX_FILESYSTEMS];  // fanotify only; guarded by mutex
  size_t filesystem_count;
  int last_errno;  // a read error other than ENOBUFS/EINTR/EAGAIN stops the thread; JS sees why
  int refs;         // the JS wrapper and the tsfn each hold one; freed at zero (both on the main thread)
} socket_state_t;

static napi_value throw_errno(napi_env env, const char* what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "%d", err);
  napi_throw_error(env, code, message);
  return NULL;
}

static void state_unref(socket_state_t* s) {
  if (--s->refs > 0) return;
  pthread_mutex_lock(&s->mutex);
  for (size_t i = 0; i < s->count; i++) free(s->ring[(s->head + i) % s->capacity].data);
  pthread_mutex_unlock(&s->mutex);
  pthread_mutex_destroy(&s->mutex);
  free(s->ring);
  free(s);
}

static void stop_thread(socket_state_t* s) {
  if (!s->thread_started) return;
  uint64_t one = 1;
  ssize_t ignored = write(s->wake_fd, &one, sizeof one);
  (void)ignored;
  pthread_join(s->thread, NULL);
  s->thread_started = 0;
}

static void close_fds(socket_state_t* s) {
  if (s->fd >= 0) close(s->fd);
  if (s->wake_fd >= 0) close(s->wake_fd);
  s->fd = -1;
  s->wake_fd = -1;
  for (size_t i = 0; i < s->filesystem_count; i++) close(s->filesystems[i].mount_fd);
  s->filesystem_count = 0;
}

// Queues one record for JavaScript (copying it) and wakes the main thread if nobody has yet.
static void enqueue(socket_state_t* s, const uint8_t* data, size_t length, int truncated) {
  uint8_t* copy = malloc(length > 0 ? length : 1);
  int notify = 0;
  pthread_mutex_lock(&s->mutex);
  s->received++;
  s->bytes += length;
  if (truncated) s->truncated++;
  if (copy == NULL || s->count == s->capacity) {
    s->ring_drops++;
    free(copy);
  } else {
    memcpy(copy, data, length);
    s->ring[(s->head + s->count) % s->capacity] = (datagram_t){copy, length};
    s->count++;
  }
  if (!s->notify_pending && s->count > 0) {
    s->notify_pending = 1;
    notify = 1;
  }
  pthread_mutex_unlock(&s->mutex);
  if (notify) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
}

static void* reader_main(void* arg) {
  socket_state_t* s = arg;
  uint8_t* buffer = malloc(RECV_BUFFER_SIZE);
  if (buffer == NULL) {
    pthread_mutex_lock(&s->mutex);
    s->last_errno = ENOMEM;
    pthread_mutex_unlock(&s->mutex);
    return NULL;
  }
  struct pollfd fds[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->wake_fd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    // Drain everything that is queued before polling again.
    for (;;) {
      ssize_t n = recv(s->fd, buffer, RECV_BUFFER_SIZE, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) break;
        pthread_mutex_lock(&s->mutex);
        if (err == ENOBUFS) {
          // netlink(7): "the receive buffer overflowed … messages were lost". The socket stays usable.
          s->enobufs++;
          pthread_mutex_unlock(&s->mutex);
          continue;
        }
        s->last_errno = err;
        pthread_mutex_unlock(&s->mutex);
        goto out;
      }
      size_t length = (size_t)n;
      int truncated = length > RECV_BUFFER_SIZE;
      enqueue(s, buffer, truncated ? RECV_BUFFER_SIZE : length, truncated);
    }
  }
out:
  free(buffer);
  // A fatal read error still needs JS to hear about it: one more (empty) call, and stats() says why.
  pthread_mutex_lock(&s->mutex);
  int failed = s->last_errno != 0;
  pthread_mutex_unlock(&s->mutex);
  if (failed) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
  return NULL;
}

// The directory a fanotify fid record names, as a path: open_by_handle_at() on the mount fd of the
// filesystem with that fsid, then readlink("/proc/self/fd/N"). Returns the path length, 0 if unresolved.
//
// linux/fanotify.h:
//   struct fanotify_event_info_header { __u8 info_type; __u8 pad; __u16 len; };
//   struct fanotify_event_info_fid { struct fanotify_event_info_header hdr; __kernel_fsid_t fsid;
//     unsigned char handle[];  /* struct file_handle, then for *_DFID_NAME a null terminated name */ };
static size_t resolve_directory(socket_state_t* s, const uint8_t* record, size_t record_length, char* out,
                                size_t out_size) {
  const size_t fixed = 4 + sizeof(__kernel_fsid_t) + sizeof(struct file_handle);
  if (record_length < fixed) return 0;
  __kernel_fsid_t fsid;
  memcpy(&fsid, record + 4, sizeof fsid);
  struct file_handle header;
  memcpy(&header, record + 4 + sizeof fsid, sizeof header);
  if (header.handle_bytes > MAX_HANDLE_SZ || fixed + header.handle_bytes > record_length) return 0;
  int mount_fd = -1;
  pthread_mutex_lock(&s->mutex);
  for (size_t i = 0; i < s->filesystem_count; i++) {
    if (memcmp(&s->filesystems[i].fsid, &fsid, sizeof fsid) == 0) mount_fd = s->filesystems[i].mount_fd;
  }
  pthread_mutex_unlock(&s->mutex);
  if (mount_fd < 0) return 0;
  // The record is only byte-aligned for our purposes: copy the handle into an aligned struct.
  union {
    struct file_handle handle;
    uint8_t bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } aligned;
  memcpy(aligned.bytes, record + 4 + sizeof fsid, sizeof header + header.handle_bytes);
  int fd = open_by_handle_at(mount_fd, &aligned.handle, O_PATH | O_CLOEXEC);
  if (fd < 0) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, out_size);
  close(fd);
  // readlink does not terminate; a result filling the buffer may be cut, so it counts as unresolved.
  return n <= 0 || (size_t)n >= out_size ? 0 : (size_t)n;
}

// One fanotify event as handed to JavaScript: the kernel's bytes (metadata + info records, event_len long),
// then for each directory fid record in order, a __u16 length (host order) and the resolved path (length 0:
// unresolved). src/sensors/fanotify/parse.ts reads exactly this.
static void enqueue_fanotify_event(socket_state_t* s, const uint8_t* event, size_t event_len, uint8_t* scratch,
                                   size_t scratch_size) {
  const struct fanotify_event_metadata* meta = (const void*)event;
  if (meta->mask & FAN_Q_OVERFLOW) {
    pthread_mutex_lock(&s->mutex);
    s->overflows++;
    pthread_mutex_unlock(&s->mutex);
  }
  memcpy(scratch, event, event_len);
  size_t used = event_len;
  size_t resolved = 0;
  size_t offset = meta->metadata_len;
  while (offset + 4 <= event_len && resolved < MAX_RESOLVED) {
    struct fanotify_event_info_header header;
    memcpy(&header, event + offset, sizeof header);
    if (header.len < 4 || offset + header.len > event_len) break;
    if (header.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || header.info_type == FAN_EVENT_INFO_TYPE_DFID ||
        header.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
        header.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME) {
      // At most PATH_MAX per path, so the length always fits its __u16 and MAX_RESOLVED paths fit scratch.
      size_t room = scratch_size - used - 2;
      uint16_t length = (uint16_t)resolve_directory(s, event + offset, header.len, (char*)scratch + used + 2,
                                                    room < PATH_MAX ? room : PATH_MAX);
      if (length == 0) {
        pthread_mutex_lock(&s->mutex);
        s->unresolved++;
        pthread_mutex_unlock(&s->mutex);
      }
      memcpy(scratch + used, &length, sizeof length);
      used += 2 + length;
      resolved++;
    }
    offset += header.len;
  }
  enqueue(s, scratch, used, 0);
}

static void* fanotify_reader_main(void* arg) {
  socket_state_t* s = arg;
  // scratch holds one event (at most the read buffer) plus its resolved paths.
  const size_t scratch_size = RECV_BUFFER_SIZE + MAX_RESOLVED * (2 + PATH_MAX);
  uint8_t* buffer = malloc(RECV_BUFFER_SIZE);
  uint8_t* scratch = malloc(scratch_size);
  if (buffer == NULL || scratch == NULL) {
    free(buffer);
    free(scratch);
    pthread_mutex_lock(&s->mutex);
    s->last_errno = ENOMEM;
    pthread_mutex_unlock(&s->mutex);
    napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
    return NULL;
  }
  struct pollfd fds[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->wake_fd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    for (;;) {
      ssize_t n = read(s->fd, buffer, RECV_BUFFER_SIZE);
      if (n < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) break;
        pthread_mutex_lock(&s->mutex);
        s->last_errno = err;
        pthread_mutex_unlock(&s->mutex);
        goto out;
      }
      if (n == 0) break;
      const struct fanotify_event_metadata* meta = (const void*)buffer;
      ssize_t left = n;
      while (FAN_EVENT_OK(meta, left)) {
        // FID mode: fd is FAN_NOFD, nothing to close. Permission classes are not used.
        if (meta->vers == FANOTIFY_METADATA_VERSION)
          enqueue_fanotify_event(s, (const uint8_t*)meta, meta->event_len, scratch, scratch_size);
        meta = FAN_EVENT_NEXT(meta, left);
      }
    }
  }
out:
  free(buffer);
  free(scratch);
  pthread_mutex_lock(&s->mutex);
  int failed = s->last_errno != 0;
  pthread_mutex_unlock(&s->mutex);
  if (failed) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
  return NULL;
}

// Runs on the main thread: moves up to MAX_BATCH datagrams out of the ring into Buffers, repeating until
// the ring is empty, and calls the JavaScript callback once per batch.
static void call_js(napi_env env, napi_value js_callback, void* context, void* data) {
  (void)data;
  socket_state_t* s = context;
  if (env == NULL || js_callback == NULL) return;
  for (;;) {
    datagram_t batch[MAX_BATCH];
    size_t taken = 0;
    pthread_mutex_lock(&s->mutex);
    while (taken < MAX_BATCH && s->count > 0) {
      batch[taken++] = s->ring[s->head];
      s->head = (s->head + 1) % s->capacity;
      s->count--;
    }
    if (taken == 0) s->notify_pending = 0;
    int failed = s->last_errno != 0;
    pthread_mutex_unlock(&s->mutex);
    if (taken == 0 && failed && !s->closed) {
      // Empty batch: the reader stopped on an error; the callback reads stats().error.
      napi_value empty, undefined;
      napi_create_array(env, &empty);
      napi_get_undefined(env, &undefined);
      napi_call_function(env, undefined, js_callback, 1, &empty, NULL);
      return;
    }
    if (taken == 0 || s->closed) {
      for (size_t i = 0; i < taken; i++) free(batch[i].data);
      return;
    }
    napi_value array;
    napi_create_array_with_length(env, taken, &array);
    for (size_t i = 0; i < taken; i++) {
      napi_value buffer;
      void* unused;
      napi_create_buffer_copy(env, batch[i].length, batch[i].data, &unused, &buffer);
      free(batch[i].data);
      napi_set_element(env, array, (uint32_t)i, buffer);
    }
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_status status = napi_call_function(env, undefined, js_callback, 1, &array, NULL);
    if (status == napi_pending_exception) {
      // A throwing callback must not kill the reader: surface it as an uncaught exception like any
      // other callback error would be, after the batch bookkeeping is done.
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
}

static void tsfn_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  state_unref(hint);
}

static void wrapper_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  socket_state_t* s = data;
  // Garbage-collected without close(): stop the thread so it never touches freed memory.
  if (!s->closed) {
    s->closed = 1;
    stop_thread(s);
    if (s->tsfn != NULL) napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
    close_fds(s);
  }
  (void)env;
  state_unref(s);
}

static int get_uint32_property(napi_env env, napi_value object, const char* name, uint32_t fallback, uint32_t* out) {
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

static socket_state_t* unwrap(napi_env env, napi_value object) {
  socket_state_t* s = NULL;
  if (napi_unwrap(env, object, (void**)&s) != napi_ok || s == NULL) {
    napi_throw_type_error(env, NULL, "not a ring3 netlink socket");
    return NULL;
  }
  return s;
}

// The state behind a JS object; takes ownership of fd and wake_fd (closed on failure).
static socket_state_t* wrap_state(napi_env env, fd_kind_t kind, int fd, int wake_fd, uint32_t capacity,
                                  napi_value* object) {
  socket_state_t* s = calloc(1, sizeof *s);
  datagram_t* ring = calloc(capacity, sizeof *ring);
  if (s == NULL || ring == NULL) {
    free(s);
    free(ring);
    close(fd);
    close(wake_fd);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  s->kind = kind;
  s->fd = fd;
  s->wake_fd = wake_fd;
  s->ring = ring;
  s->capacity = capacity;
  s->refs = 1;
  pthread_mutex_init(&s->mutex, NULL);
  napi_create_object(env, object);
  napi_wrap(env, *object, s, wrapper_finalize, NULL, NULL);
  return s;
}

// Reads exactly `count` arguments into `argv`; throws a usage TypeError and returns 0 when fewer were passed.
static int require_args(napi_env env, napi_callback_info info, size_t count, napi_value* argv, const char* usage) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < count) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

// open({protocol, groups, rcvbuf, ringCapacity}) → socket object
// groups: the nl_groups bitmask for bind() (CN_IDX_PROC = 1, AUDIT_NLGRP_READLOG = 1).
// rcvbuf: SO_RCVBUFFORCE (needs CAP_NET_ADMIN; falls back to SO_RCVBUF, capped by rmem_max).
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!require_args(env, info, 1, argv, "open(options) needs an options object")) return NULL;
  uint32_t protocol, groups, rcvbuf, capacity;
  if (!get_uint32_property(env, argv[0], "protocol", UINT32_MAX, &protocol) || protocol == UINT32_MAX ||
      !get_uint32_property(env, argv[0], "groups", 0, &groups) ||
      !get_uint32_property(env, argv[0], "rcvbuf", 0, &rcvbuf) ||
      !get_uint32_property(env, argv[0], "ringCapacity", 16384, &capacity) || capacity == 0) {
    napi_throw_type_error(env, NULL, "open: protocol, groups, rcvbuf, ringCapacity must be unsigned integers");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, (int)protocol);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", errno);
  if (rcvbuf > 0) {
    int size = (int)rcvbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
  struct sockaddr_nl address = {.nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = groups};
  if (bind(fd, (struct sockaddr*)&address, sizeof address) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(netlink)", err);
  }
  socklen_t length = sizeof address;
  getsockname(fd, (struct sockaddr*)&address, &length);
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "eventfd", err);
  }
  napi_value object;
  socket_state_t* s = wrap_state(env, KIND_NETLINK, fd, wake_fd, capacity, &object);
  if (s == NULL) return NULL;
  s->port_id = address.nl_pid;
  napi_value port;
  napi_create_uint32(env, s->port_id, &port);
  napi_set_named_property(env, object, "portId", port);
  int actual = 0;
  socklen_t actual_length = sizeof actual;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &actual_length);
  napi_value rcvbuf_value;
  napi_create_uint32(env, (uint32_t)actual, &rcvbuf_value);
  napi_set_named_property(env, object, "rcvbuf", rcvbuf_value);
  return object;
}

// send(socket, buffer) → bytes sent; to the kernel (nl_pid 0).
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!require_args(env, info, 2, argv, "send(socket, buffer)")) return NULL;
  socket_state_t* s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed) {
    napi_throw_error(env, NULL, "send: socket is closed");
    return NULL;
  }
  if (s->kind != KIND_NETLINK) {
    napi_throw_error(env, NULL, "send: not a netlink socket");
    return NULL;
  }
  void* data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "send: buffer must be a Buffer");
    return NULL;
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(s->fd, data, length, 0, (struct sockaddr*)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "sendto(netlink)", errno);
  napi_value result;
  napi_create_uint32(env, (uint32_t)n, &result);
  return result;
}

// start(socket, callback(datagrams: Buffer[])) → starts the reader thread.
static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!require_args(env, info, 2, argv, "start(socket, callback)")) return NULL;
  socket_state_t* s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed || s->thread_started || s->tsfn != NULL) {
    napi_throw_error(env, NULL, "start: socket is closed or already started");
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "ring3-netlink-reader", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, s, tsfn_finalize, s, call_js, &s->tsfn) !=
      napi_ok) {
    napi_throw_error(env, NULL, "start: cannot create the threadsafe function");
    return NULL;
  }
  s->refs++;  // released in tsfn_finalize
  int err = pthread_create(&s->thread, NULL, s->kind == KIND_FANOTIFY ? fanotify_reader_main : reader_main, s);
  if (err != 0) {
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
    s->tsfn = NULL;
    return throw_errno(env, "pthread_create", err);
  }
  s->thread_started = 1;
  return NULL;
}

static void set_counter(napi_env env, napi_value object, const char* name, uint64_t value) {
  napi_value number;
  napi_create_double(env, (double)value, &number);
  napi_set_named_property(env, object, name, number);
}

// stats(socket) → {received, bytes, ringDrops, enobufs, truncated, queued, error}
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!require_args(env, info, 1, argv, "stats(socket)")) return NULL;
  socket_state_t* s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  napi_value object;
  napi_create_object(env, &object);
  pthread_mutex_lock(&s->mutex);
  set_counter(env, object, "received", s->received);
  set_counter(env, object, "bytes", s->bytes);
  set_counter(env, object, "ringDrops", s->ring_drops);
  set_counter(env, object, "enobufs", s->enobufs);
  set_counter(env, object, "truncated", s->truncated);
  set_counter(env, object, "queued", s->count);
  set_counter(env, object, "overflows", s->overflows);
  set_counter(env, object, "unresolved", s->unresolved);
  int last_errno = s->last_errno;
  pthread_mutex_unlock(&s->mutex);
  napi_value error;
  if (last_errno != 0) napi_create_string_utf8(env, strerror(last_errno), NAPI_AUTO_LENGTH, &error);
  else napi_get_null(env, &error);
  napi_set_named_property(env, object, "error", error);
  return object;
}

// close(socket): joins the reader thread, closes the socket; queued datagrams are discarded.
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!require_args(env, info, 1, argv, "close(socket)")) return NULL;
  socket_state_t* s = unwrap(env, argv[0]);
  if (s == NULL || s->closed) return NULL;
  s->closed = 1;
  stop_thread(s);
  if (s->tsfn != NULL) {
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
    s->tsfn = NULL;
  }
  close_fds(s);
  return NULL;
}

// openFanotify({ringCapacity}) → fanotify object (start/stats/close like a socket).
// FAN_CLASS_NOTIF: notification only, nothing waits on ring3. FAN_REPORT_DFID_NAME: every event names the
// parent directory (a handle) and the entry name, which create/delete/rename need; the kernel requires a
// FID-reporting group for those events and for FAN_MARK_FILESYSTEM with them. FAN_NONBLOCK: the reader
// drains with read() until EAGAIN.
static napi_value js_open_fanotify(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t capacity = 16384;
  if (argc >= 1 && (!get_uint32_property(env, argv[0], "ringCapacity", 16384, &capacity) || capacity == 0)) {
    napi_throw_type_error(env, NULL, "openFanotify: ringCapacity must be a positive integer");
    return NULL;
  }
  int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                         O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "fanotify_init", errno);
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "eventfd", err);
  }
  napi_value object;
  if (wrap_state(env, KIND_FANOTIFY, fd, wake_fd, capacity, &object) == NULL) return NULL;
  return object;
}

// markFilesystem(fanotify, path, mask): FAN_MARK_ADD | FAN_MARK_FILESYSTEM on the filesystem holding path,
// and keeps an fd on path for open_by_handle_at(). Throws with the errno as code when the kernel refuses.
static napi_value js_mark_filesystem(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!require_args(env, info, 3, argv, "markFilesystem(fanotify, path, mask)")) return NULL;
  socket_state_t* s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed || s->kind != KIND_FANOTIFY) {
    napi_throw_error(env, NULL, "markFilesystem: not an open fanotify group");
    return NULL;
  }
  char path[PATH_MAX];
  size_t path_length = 0;
  uint32_t mask = 0;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &path_length) != napi_ok ||
      path_length >= sizeof path - 1 || napi_get_value_uint32(env, argv[2], &mask) != napi_ok) {
    napi_throw_type_error(env, NULL, "markFilesystem: path must be a string shorter than PATH_MAX, mask a uint32");
    return NULL;
  }
  pthread_mutex_lock(&s->mutex);
  size_t used = s->filesystem_count;
  pthread_mutex_unlock(&s->mutex);
  if (used == MAX_FILESYSTEMS) return throw_errno(env, "markFilesystem", ENOSPC);
  int mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) return throw_errno(env, "open(mount point)", errno);
  struct statfs info_fs;
  if (fstatfs(mount_fd, &info_fs) < 0) {
    int err = errno;
    close(mount_fd);
    return throw_errno(env, "fstatfs", err);
  }
  if (fanotify_mark(s->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, mount_fd, NULL) < 0) {
    int err = errno;
    close(mount_fd);
    return throw_errno(env, "fanotify_mark(FAN_MARK_FILESYSTEM)", err);
  }
  pthread_mutex_lock(&s->mutex);
  memcpy(&s->filesystems[s->filesystem_count].fsid, &info_fs.f_fsid, sizeof(__kernel_fsid_t));
  s->filesystems[s->filesystem_count].mount_fd = mount_fd;
  s->filesystem_count++;
  pthread_mutex_unlock(&s->mutex);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openFanotify", NULL, js_open_fanotify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"markFilesystem", NULL, js_mark_filesystem, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
