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
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring3_napi.h"

// Large enough for any single netlink datagram the kernel sends us (audit records are capped at
// MAX_AUDIT_MESSAGE_LENGTH 8970; connector messages are < 100 bytes); MSG_TRUNC tells if one was larger.
#define RECV_BUFFER_SIZE (64 * 1024)
// Datagrams handed to JavaScript per call, so one busy second does not become one huge array.
#define MAX_BATCH 512
// Filesystems one fanotify group can resolve handles on (one mount fd each).
#define MAX_FILESYSTEMS 64
// Directory paths appended per fanotify event: FAN_RENAME carries two (old and new directory).
#define MAX_RESOLVED 2
// Resolved directory handles remembered by a fanotify reader. A file storm in one directory then costs one
// open_by_handle_at + readlink + close per directory and DIRECTORY_CACHE_MS instead of three syscalls per event.
#define DIRECTORY_CACHE_SIZE 64
#define DIRECTORY_CACHE_MS 1000
#define MAX_FID_KEY (sizeof(__kernel_fsid_t) + sizeof(struct file_handle) + MAX_HANDLE_SZ)

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

// One remembered directory: the fid record's fsid + file_handle bytes as the key, the path it resolved to.
typedef struct {
  size_t key_length;
  uint8_t key[MAX_FID_KEY];
  char* path;
  size_t path_length;
  uint64_t resolved_ms;
} directory_entry_t;

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
  // After draining, the reader waits this long before polling again, so datagrams that arrive meanwhile are
  // read and handed to JavaScript as one batch: at 500 execs/s the audit socket alone gets ~4,000 datagrams,
  // and a thread wakeup plus a JavaScript call for each cost more CPU than parsing them. The kernel queues
  // what arrives meanwhile in the socket buffer (or the fanotify queue); close() cuts the wait short.
  uint32_t batch_ms;
  directory_entry_t* directories;  // fanotify only, DIRECTORY_CACHE_SIZE entries; reader thread only
  uint64_t directory_hits;
} socket_state_t;


static void state_unref(socket_state_t* s) {
  if (--s->refs > 0) return;
  pthread_mutex_lock(&s->mutex);
  for (size_t i = 0; i < s->count; i++) free(s->ring[(s->head + i) % s->capacity].data);
  pthread_mutex_unlock(&s->mutex);
  pthread_mutex_destroy(&s->mutex);
  if (s->directories != NULL) {
    for (size_t i = 0; i < DIRECTORY_CACHE_SIZE; i++) free(s->directories[i].path);
    free(s->directories);
  }
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

// Queues one record for JavaScript (copying it); notify_js() wakes the main thread once the drain is over.
static void enqueue(socket_state_t* s, const uint8_t* data, size_t length, int truncated) {
  uint8_t* copy = malloc(length > 0 ? length : 1);
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
  pthread_mutex_unlock(&s->mutex);
}

// One JavaScript call for everything queued, unless one is already on its way (it drains the whole ring).
static void notify_js(socket_state_t* s) {
  int notify = 0;
  pthread_mutex_lock(&s->mutex);
  if (!s->notify_pending && s->count > 0) {
    s->notify_pending = 1;
    notify = 1;
  }
  pthread_mutex_unlock(&s->mutex);
  if (notify) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
}

// The batching pause after a drain (see batch_ms); returns 1 when close() asked the thread to stop.
static int batch_pause(socket_state_t* s) {
  if (s->batch_ms == 0) return 0;
  struct pollfd wake = {.fd = s->wake_fd, .events = POLLIN};
  int n;
  do n = poll(&wake, 1, (int)s->batch_ms);
  while (n < 0 && errno == EINTR);
  return n > 0;
}

static void name_thread(const char* name) {
  // Visible in /proc/<pid>/task/*/comm, so per-thread CPU can be told apart from the main thread's.
  pthread_setname_np(pthread_self(), name);
}

static void* reader_main(void* arg) {
  socket_state_t* s = arg;
  name_thread("ring3-netlink");
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
    notify_js(s);
    if (batch_pause(s)) break;
  }
out:
  notify_js(s);
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
static uint64_t monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

// FNV-1a over the fid key: the slot a directory is remembered in.
static size_t directory_slot(const uint8_t* key, size_t length) {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < length; i++) hash = (hash ^ key[i]) * 16777619u;
  return hash % DIRECTORY_CACHE_SIZE;
}

// Forgets every remembered directory: a directory was renamed, moved or deleted (its own path or its
// descendants' paths changed), or the queue overflowed and such an event may be among the lost ones.
static void directory_cache_clear(socket_state_t* s) {
  if (s->directories == NULL) return;
  for (size_t i = 0; i < DIRECTORY_CACHE_SIZE; i++) s->directories[i].key_length = 0;
}

static size_t resolve_directory(socket_state_t* s, const uint8_t* record, size_t record_length, char* out,
                                size_t out_size) {
  const size_t fixed = 4 + sizeof(__kernel_fsid_t) + sizeof(struct file_handle);
  if (record_length < fixed) return 0;
  __kernel_fsid_t fsid;
  memcpy(&fsid, record + 4, sizeof fsid);
  struct file_handle header;
  memcpy(&header, record + 4 + sizeof fsid, sizeof header);
  if (header.handle_bytes > MAX_HANDLE_SZ || fixed + header.handle_bytes > record_length) return 0;
  // The cache key is fsid + struct file_handle + f_handle, exactly as the record carries them.
  const uint8_t* key = record + 4;
  const size_t key_length = sizeof fsid + sizeof header + header.handle_bytes;
  directory_entry_t* entry = NULL;
  const uint64_t now = monotonic_ms();
  if (s->directories != NULL) {
    entry = &s->directories[directory_slot(key, key_length)];
    // Entries expire so that what no event reports (a mount over a directory, a rename above a mount point on
    // a filesystem without a mark) is not remembered for longer than DIRECTORY_CACHE_MS.
    if (entry->key_length == key_length && memcmp(entry->key, key, key_length) == 0 &&
        now - entry->resolved_ms < DIRECTORY_CACHE_MS && entry->path_length < out_size) {
      memcpy(out, entry->path, entry->path_length);
      __atomic_fetch_add(&s->directory_hits, 1, __ATOMIC_RELAXED);
      return entry->path_length;
    }
  }
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
  if (n <= 0 || (size_t)n >= out_size) return 0;
  if (entry != NULL) {
    char* copy = realloc(entry->path, (size_t)n);
    if (copy != NULL) {
      memcpy(copy, out, (size_t)n);
      memcpy(entry->key, key, key_length);
      entry->key_length = key_length;
      entry->path = copy;
      entry->path_length = (size_t)n;
      entry->resolved_ms = now;
    }
  }
  return (size_t)n;
}

// One fanotify event as handed to JavaScript: the kernel's bytes (metadata + info records, event_len long),
// then for each directory fid record in order, a __u16 length (host order) and the resolved path (length 0:
// unresolved). src/sensors/fanotify/parse.ts reads exactly this.
static void enqueue_fanotify_event(socket_state_t* s, const uint8_t* event, size_t event_len, uint8_t* scratch,
                                   size_t scratch_size) {
  const struct fanotify_event_metadata* meta = (const void*)event;
  if (meta->mask & FAN_Q_OVERFLOW) {
    directory_cache_clear(s);
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
  // This event's own directories were resolved first (a rename is reported with the names it had); the
  // directories remembered so far may name what was just renamed, moved or deleted, or lie below it.
  if ((meta->mask & FAN_ONDIR) && (meta->mask & (FAN_RENAME | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE |
                                                 FAN_DELETE_SELF | FAN_MOVE_SELF)))
    directory_cache_clear(s);
  enqueue(s, scratch, used, 0);
}

static void* fanotify_reader_main(void* arg) {
  socket_state_t* s = arg;
  name_thread("ring3-fanotify");
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
    notify_js(s);
    if (batch_pause(s)) break;
  }
out:
  notify_js(s);
  free(buffer);
  free(scratch);
  pthread_mutex_lock(&s->mutex);
  int failed = s->last_errno != 0;
  pthread_mutex_unlock(&s->mutex);
  if (failed) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
  return NULL;
}

// The JavaScript callback's arguments for a batch: one Buffer with the datagrams back to back and a
// Uint32Array with where each ends (src/native.ts turns them into one Buffer view per datagram). One
// allocation per batch instead of one per datagram: a Buffer each cost more than parsing a connector event.
static void batch_arguments(napi_env env, const datagram_t* batch, size_t taken, napi_value* argv) {
  size_t total = 0;
  for (size_t i = 0; i < taken; i++) total += batch[i].length;
  void* bytes = NULL;
  napi_create_buffer(env, total, &bytes, &argv[0]);
  napi_value ends_buffer;
  void* ends_data = NULL;
  napi_create_arraybuffer(env, taken * sizeof(uint32_t), &ends_data, &ends_buffer);
  napi_create_typedarray(env, napi_uint32_array, taken, ends_buffer, 0, &argv[1]);
  uint32_t* ends = ends_data;
  size_t at = 0;
  for (size_t i = 0; i < taken; i++) {
    if (batch[i].length > 0) memcpy((uint8_t*)bytes + at, batch[i].data, batch[i].length);
    at += batch[i].length;
    ends[i] = (uint32_t)at;
  }
}

// Runs on the main thread: moves up to MAX_BATCH datagrams out of the ring and calls the JavaScript callback
// with them. When more are queued, the next batch is another call, so the event loop (timers, output,
// promise callbacks) runs between batches and a backlog is not turned into one huge turn whose garbage all
// stays alive until its end.
static void call_js(napi_env env, napi_value js_callback, void* context, void* data) {
  (void)data;
  socket_state_t* s = context;
  if (env == NULL || js_callback == NULL) return;
  datagram_t batch[MAX_BATCH];
  size_t taken = 0;
  pthread_mutex_lock(&s->mutex);
  while (taken < MAX_BATCH && s->count > 0) {
    batch[taken++] = s->ring[s->head];
    s->head = (s->head + 1) % s->capacity;
    s->count--;
  }
  int more = s->count > 0;
  if (!more) s->notify_pending = 0;
  int failed = s->last_errno != 0;
  pthread_mutex_unlock(&s->mutex);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (taken == 0 && failed && !s->closed) {
    // Empty batch: the reader stopped on an error; the callback reads stats().error.
    napi_value argv[2];
    batch_arguments(env, batch, 0, argv);
    napi_call_function(env, undefined, js_callback, 2, argv, NULL);
    return;
  }
  if (taken == 0 || s->closed) {
    for (size_t i = 0; i < taken; i++) free(batch[i].data);
    return;
  }
  napi_value argv[2];
  batch_arguments(env, batch, taken, argv);
  for (size_t i = 0; i < taken; i++) free(batch[i].data);
  napi_status status = napi_call_function(env, undefined, js_callback, 2, argv, NULL);
  // notify_pending stayed set: this call is the one in flight for what is left.
  if (more && !s->closed) napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
  if (status == napi_pending_exception) {
    // A throwing callback must not kill the reader: surface it as an uncaught exception like any
    // other callback error would be, after the batch bookkeeping is done.
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
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


// open({protocol, groups, rcvbuf, ringCapacity, batchMs}) → socket object
// groups: the nl_groups bitmask for bind() (CN_IDX_PROC = 1, AUDIT_NLGRP_READLOG = 1).
// rcvbuf: SO_RCVBUFFORCE (needs CAP_NET_ADMIN; falls back to SO_RCVBUF, capped by rmem_max).
// batchMs: the reader's pause after each drain (see socket_state_t.batch_ms); 0 hands over at once.
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ring3_require_args(env, info, 1, argv, "open(options) needs an options object")) return NULL;
  uint32_t protocol, groups, rcvbuf, capacity, batch_ms;
  if (!ring3_get_uint32_option(env, argv[0], "protocol", UINT32_MAX, &protocol) || protocol == UINT32_MAX ||
      !ring3_get_uint32_option(env, argv[0], "groups", 0, &groups) ||
      !ring3_get_uint32_option(env, argv[0], "rcvbuf", 0, &rcvbuf) ||
      !ring3_get_uint32_option(env, argv[0], "ringCapacity", 16384, &capacity) || capacity == 0 ||
      !ring3_get_uint32_option(env, argv[0], "batchMs", 0, &batch_ms) || batch_ms > 1000) {
    napi_throw_type_error(env, NULL,
                          "open: protocol, groups, rcvbuf, ringCapacity must be unsigned integers, batchMs at most 1000");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, (int)protocol);
  if (fd < 0) return ring3_throw_errno(env, "socket(AF_NETLINK)", errno);
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
    return ring3_throw_errno(env, "bind(netlink)", err);
  }
  socklen_t length = sizeof address;
  getsockname(fd, (struct sockaddr*)&address, &length);
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    close(fd);
    return ring3_throw_errno(env, "eventfd", err);
  }
  napi_value object;
  socket_state_t* s = wrap_state(env, KIND_NETLINK, fd, wake_fd, capacity, &object);
  if (s == NULL) return NULL;
  s->port_id = address.nl_pid;
  s->batch_ms = batch_ms;
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
  if (!ring3_require_args(env, info, 2, argv, "send(socket, buffer)")) return NULL;
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
  if (n < 0) return ring3_throw_errno(env, "sendto(netlink)", errno);
  napi_value result;
  napi_create_uint32(env, (uint32_t)n, &result);
  return result;
}

// start(socket, callback(bytes: Buffer, ends: Uint32Array)) → starts the reader thread.
static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ring3_require_args(env, info, 2, argv, "start(socket, callback)")) return NULL;
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
    return ring3_throw_errno(env, "pthread_create", err);
  }
  s->thread_started = 1;
  return NULL;
}

static void set_counter(napi_env env, napi_value object, const char* name, uint64_t value) {
  napi_value number;
  napi_create_double(env, (double)value, &number);
  napi_set_named_property(env, object, name, number);
}

// stats(socket) → {received, bytes, ringDrops, enobufs, truncated, queued, overflows, unresolved,
//                   directoryCacheHits, error}
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ring3_require_args(env, info, 1, argv, "stats(socket)")) return NULL;
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
  set_counter(env, object, "directoryCacheHits", __atomic_load_n(&s->directory_hits, __ATOMIC_RELAXED));
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
  if (!ring3_require_args(env, info, 1, argv, "close(socket)")) return NULL;
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

// openFanotify({ringCapacity, batchMs}) → fanotify object (start/stats/close like a socket).
// FAN_CLASS_NOTIF: notification only, nothing waits on ring3. FAN_REPORT_DFID_NAME: every event names the
// parent directory (a handle) and the entry name, which create/delete/rename need; the kernel requires a
// FID-reporting group for those events and for FAN_MARK_FILESYSTEM with them. FAN_NONBLOCK: the reader
// drains with read() until EAGAIN.
static napi_value js_open_fanotify(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t capacity = 16384, batch_ms = 0;
  if (argc >= 1 && (!ring3_get_uint32_option(env, argv[0], "ringCapacity", 16384, &capacity) || capacity == 0 ||
                    !ring3_get_uint32_option(env, argv[0], "batchMs", 0, &batch_ms) || batch_ms > 1000)) {
    napi_throw_type_error(env, NULL,
                          "openFanotify: ringCapacity must be a positive integer, batchMs an integer up to 1000");
    return NULL;
  }
  int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                         O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fd < 0) return ring3_throw_errno(env, "fanotify_init", errno);
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    close(fd);
    return ring3_throw_errno(env, "eventfd", err);
  }
  napi_value object;
  socket_state_t* s = wrap_state(env, KIND_FANOTIFY, fd, wake_fd, capacity, &object);
  if (s == NULL) return NULL;
  s->batch_ms = batch_ms;
  // Without the cache (out of memory) every handle is resolved with syscalls, as correct and slower.
  s->directories = calloc(DIRECTORY_CACHE_SIZE, sizeof *s->directories);
  return object;
}

// markFilesystem(fanotify, path, mask): FAN_MARK_ADD | FAN_MARK_FILESYSTEM on the filesystem holding path,
// and keeps an fd on path for open_by_handle_at(). Throws with the errno as code when the kernel refuses.
static napi_value js_mark_filesystem(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ring3_require_args(env, info, 3, argv, "markFilesystem(fanotify, path, mask)")) return NULL;
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
  if (used == MAX_FILESYSTEMS) return ring3_throw_errno(env, "markFilesystem", ENOSPC);
  int mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) return ring3_throw_errno(env, "open(mount point)", errno);
  struct statfs info_fs;
  if (fstatfs(mount_fd, &info_fs) < 0) {
    int err = errno;
    close(mount_fd);
    return ring3_throw_errno(env, "fstatfs", err);
  }
  if (fanotify_mark(s->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, mount_fd, NULL) < 0) {
    int err = errno;
    close(mount_fd);
    return ring3_throw_errno(env, "fanotify_mark(FAN_MARK_FILESYSTEM)", err);
  }
  pthread_mutex_lock(&s->mutex);
  memcpy(&s->filesystems[s->filesystem_count].fsid, &info_fs.f_fsid, sizeof(__kernel_fsid_t));
  s->filesystems[s->filesystem_count].mount_fd = mount_fd;
  s->filesystem_count++;
  pthread_mutex_unlock(&s->mutex);
  return NULL;
}

// pidfd_open(2) and pidfd_getfd(2) have the same number on every architecture (the unified table from 5.1 on).
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static void set_hex_property(napi_env env, napi_value object, const char* name, const uint8_t* bytes,
                             size_t length) {
  static const char digits[] = "0123456789abcdef";
  char hex[2 * sizeof(struct sockaddr_storage) + 1];
  for (size_t i = 0; i < length; i++) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  napi_value value;
  napi_create_string_latin1(env, hex, 2 * length, &value);
  napi_set_named_property(env, object, name, value);
}

// socketInfo(pid, fd) → {family, type, protocol, inode, cookie, local, peer} or a positive errno.
//
// What the socket behind another process's fd is bound and connected to: the audit record of connect() or
// accept() names the fd and the remote address but not the local one. pidfd_getfd(2) duplicates the fd into
// this process (PTRACE_MODE_ATTACH_REALCREDS: root with CAP_SYS_PTRACE), getsockname/getpeername/SO_COOKIE
// read it, and the duplicate is closed at once: the target's socket is not otherwise touched (only its last
// close is delayed by these few microseconds if the target closes it meanwhile). local and peer are the
// sockaddr bytes in hex, exactly like an audit SOCKADDR record's saddr (peer "" when not connected); cookie is
// SO_COOKIE's 8 bytes in memory order, as inet_diag reports idiag_cookie. Errors are returned, not thrown
// (an fd already closed is the common case for short connections): ESRCH the process is gone, EBADF the fd
// is closed, ENOTSOCK it is no socket, EPERM no ptrace access.
static napi_value js_socket_info(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ring3_require_args(env, info, 2, argv, "socketInfo(pid, fd)")) return NULL;
  uint32_t pid, target;
  if (napi_get_value_uint32(env, argv[0], &pid) != napi_ok || napi_get_value_uint32(env, argv[1], &target) != napi_ok ||
      pid == 0 || target > INT32_MAX) {
    napi_throw_type_error(env, NULL, "socketInfo: pid must be a positive integer, fd a non-negative integer");
    return NULL;
  }
  napi_value result;
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) {
    napi_create_uint32(env, (uint32_t)errno, &result);
    return result;
  }
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)target, 0);
  int err = errno;
  close(pidfd);
  if (fd < 0) {
    napi_create_uint32(env, (uint32_t)err, &result);
    return result;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
    close(fd);
    napi_create_uint32(env, ENOTSOCK, &result);
    return result;
  }
  int domain = 0, type = 0, protocol = 0;
  socklen_t length = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length);
  length = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length);
  length = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length);
  uint64_t cookie = 0;
  length = sizeof cookie;
  int has_cookie = getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) == 0;
  struct sockaddr_storage local, peer;
  socklen_t local_length = sizeof local, peer_length = sizeof peer;
  if (getsockname(fd, (struct sockaddr*)&local, &local_length) < 0) local_length = 0;
  if (getpeername(fd, (struct sockaddr*)&peer, &peer_length) < 0) peer_length = 0;
  close(fd);
  if (local_length > sizeof local) local_length = sizeof local;
  if (peer_length > sizeof peer) peer_length = sizeof peer;
  napi_create_object(env, &result);
  napi_value number;
  napi_create_int32(env, domain, &number);
  napi_set_named_property(env, result, "family", number);
  napi_create_int32(env, type, &number);
  napi_set_named_property(env, result, "type", number);
  napi_create_int32(env, protocol, &number);
  napi_set_named_property(env, result, "protocol", number);
  napi_create_double(env, (double)st.st_ino, &number);
  napi_set_named_property(env, result, "inode", number);
  set_hex_property(env, result, "cookie", (const uint8_t*)&cookie, has_cookie ? sizeof cookie : 0);
  set_hex_property(env, result, "local", (const uint8_t*)&local, local_length);
  set_hex_property(env, result, "peer", (const uint8_t*)&peer, peer_length);
  return result;
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
      {"socketInfo", NULL, js_socket_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
