// The exec guard: block executables by SHA-256 with fanotify exec-permission events (FAN_OPEN_EXEC_PERM).
//
// A permission listener is dangerous: every execve() of a file on a marked mount waits until the listener
// writes a verdict, so a listener that stalls freezes the host. Three things keep this one from doing so:
//   1. Verdicts are decided here, on the decider thread, never in JavaScript: the decider hashes the file
//      itself (reading the fd the event carries) and looks the digest up in the block list JavaScript set.
//      A busy or paused event loop does not delay an exec.
//   2. A watchdog thread answers FAN_ALLOW for an event the decider has held longer than the deadline (a
//      hung filesystem under a read), and drains the queue with FAN_ALLOW until the decider is back.
//   3. JavaScript heartbeats; when it has not for `failOpenMs` (the agent is wedged and can no longer be told
//      to unblock), the decider allows everything until it heartbeats again.
// And when the agent dies, the kernel closes the group fd, and fanotify(7) says: "When the fanotify file
// descriptor is closed, pending permission events are answered with FAN_ALLOW" — execs resume by themselves.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ring3_response.h"
#include "ring3_sha256.h"

// Read per call; a permission event has no info records, so each is one 24-byte metadata struct.
#define EVENT_BUFFER_BYTES 4096
#define HASH_CHUNK_BYTES (1024 * 1024)
// Denials held for JavaScript; more than this between two drains are counted and dropped.
#define DENIAL_RING 128
#define WATCHDOG_TICK_MS 20

// A file's identity for the hash cache. ctime is part of it because mtime can be set back by anyone who
// can write the file (utimensat), while ctime cannot be chosen: any write or chmod moves it.
typedef struct {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  struct timespec ctime;
  uint8_t digest[32];
  int valid;
} cache_entry_t;

typedef struct {
  int32_t pid;
  uint8_t digest[32];
  char path[PATH_MAX];
} denial_t;

typedef struct {
  int fd;       // the fanotify group
  int wake_fd;  // eventfd: close() writes it to stop both threads
  pthread_t decider;
  pthread_t watchdog;
  int started;
  int closed;
  int refs;  // the JS wrapper and the tsfn each hold one
  napi_threadsafe_function tsfn;
  pthread_mutex_t mutex;  // guards everything below
  uint8_t* blocked;       // sorted 32-byte digests
  size_t blocked_count;
  uint64_t max_bytes;
  uint64_t fail_open_ns;
  uint64_t deadline_ns;
  uint64_t heartbeat_ns;
  int busy_fd;  // the event fd the decider works on: -1 none, -2 answered by the watchdog meanwhile
  uint64_t busy_since_ns;
  uint64_t events, allowed, denied, cache_hits, hashed, hashed_bytes, too_large, errors, stalled_allows,
      watchdog_allows, decision_ns;
  denial_t* ring;
  size_t ring_head;
  size_t ring_count;
  uint64_t ring_drops;
  int notify_pending;
  // Touched by the decider thread only.
  cache_entry_t* cache;
  size_t cache_mask;
} guard_t;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int compare_digests(const void* a, const void* b) { return memcmp(a, b, 32); }

static void respond(int group_fd, int event_fd, uint32_t verdict) {
  struct fanotify_response response = {.fd = event_fd, .response = verdict};
  ssize_t n;
  do n = write(group_fd, &response, sizeof response);
  while (n < 0 && errno == EINTR);
}

static void guard_unref(guard_t* g) {
  if (--g->refs > 0) return;
  pthread_mutex_destroy(&g->mutex);
  free(g->blocked);
  free(g->ring);
  free(g->cache);
  free(g);
}

// The digest of an open file, read from offset 0 with pread (the event fd is ours alone). 0 on a read error.
static int hash_fd(int fd, uint8_t* buffer, uint8_t digest[32], uint64_t* bytes) {
  ring3_sha256_t ctx;
  ring3_sha256_init(&ctx);
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd, buffer, HASH_CHUNK_BYTES, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    if (n == 0) break;
    ring3_sha256_update(&ctx, buffer, (size_t)n);
    offset += n;
  }
  ring3_sha256_final(&ctx, digest);
  *bytes = (uint64_t)offset;
  return 1;
}

static size_t cache_slot(const guard_t* g, const struct stat* st) {
  uint64_t h = (uint64_t)st->st_dev * 0x9e3779b97f4a7c15ull ^ (uint64_t)st->st_ino * 0xc2b2ae3d27d4eb4full;
  return (size_t)(h ^ (h >> 29)) & g->cache_mask;
}

static int same_file(const cache_entry_t* e, const struct stat* st) {
  return e->valid && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
         e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
         e->ctime.tv_sec == st->st_ctim.tv_sec && e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

// The verdict for one exec. Every doubt (no block list, JavaScript stalled, unreadable, too large) allows:
// the guard can only ever cost a blocked hash its block, never an innocent exec its run.
static uint32_t decide(guard_t* g, int fd, uint8_t* buffer, uint8_t digest[32]) {
  pthread_mutex_lock(&g->mutex);
  size_t count = g->blocked_count;
  int stalled = g->fail_open_ns > 0 && now_ns() - g->heartbeat_ns > g->fail_open_ns;
  uint64_t max_bytes = g->max_bytes;
  if (count > 0 && stalled) g->stalled_allows++;
  pthread_mutex_unlock(&g->mutex);
  if (count == 0 || stalled) return FAN_ALLOW;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return FAN_ALLOW;
  cache_entry_t* entry = g->cache == NULL ? NULL : &g->cache[cache_slot(g, &st)];
  if (entry != NULL && same_file(entry, &st)) {
    memcpy(digest, entry->digest, 32);
    pthread_mutex_lock(&g->mutex);
    g->cache_hits++;
    pthread_mutex_unlock(&g->mutex);
  } else {
    uint64_t bytes = 0;
    int ok = buffer != NULL && (uint64_t)st.st_size <= max_bytes && hash_fd(fd, buffer, digest, &bytes);
    pthread_mutex_lock(&g->mutex);
    if ((uint64_t)st.st_size > max_bytes) g->too_large++;
    else if (!ok) g->errors++;
    else {
      g->hashed++;
      g->hashed_bytes += bytes;
    }
    pthread_mutex_unlock(&g->mutex);
    if (!ok) return FAN_ALLOW;
    if (entry != NULL) {
      *entry = (cache_entry_t){.dev = st.st_dev,
                               .ino = st.st_ino,
                               .size = st.st_size,
                               .mtime = st.st_mtim,
                               .ctime = st.st_ctim,
                               .valid = 1};
      memcpy(entry->digest, digest, 32);
    }
  }
  pthread_mutex_lock(&g->mutex);
  int blocked = g->blocked_count > 0 && bsearch(digest, g->blocked, g->blocked_count, 32, compare_digests) != NULL;
  pthread_mutex_unlock(&g->mutex);
  return blocked ? FAN_DENY : FAN_ALLOW;
}

static void report_denial(guard_t* g, int fd, int32_t pid, const uint8_t digest[32]) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  denial_t d = {.pid = pid};
  memcpy(d.digest, digest, 32);
  ssize_t n = readlink(link, d.path, sizeof d.path - 1);
  d.path[n < 0 ? 0 : n] = '\0';
  int notify = 0;
  pthread_mutex_lock(&g->mutex);
  if (g->ring_count == DENIAL_RING) g->ring_drops++;
  else {
    g->ring[(g->ring_head + g->ring_count) % DENIAL_RING] = d;
    g->ring_count++;
  }
  if (!g->notify_pending) notify = g->notify_pending = 1;
  pthread_mutex_unlock(&g->mutex);
  if (notify) napi_call_threadsafe_function(g->tsfn, NULL, napi_tsfn_nonblocking);
}

static void handle_event(guard_t* g, const struct fanotify_event_metadata* md, uint8_t* buffer) {
  uint64_t start = now_ns();
  pthread_mutex_lock(&g->mutex);
  g->busy_fd = md->fd;
  g->busy_since_ns = start;
  pthread_mutex_unlock(&g->mutex);
  uint8_t digest[32];
  uint32_t verdict = (md->mask & FAN_OPEN_EXEC_PERM) != 0 ? decide(g, md->fd, buffer, digest) : FAN_ALLOW;
  pthread_mutex_lock(&g->mutex);
  int answered = g->busy_fd == -2;
  g->busy_fd = -1;
  g->events++;
  if (!answered) {
    if (verdict == FAN_DENY) g->denied++;
    else g->allowed++;
    // Written under the lock, so the watchdog can never answer this fd too.
    respond(g->fd, md->fd, verdict);
  }
  g->decision_ns += now_ns() - start;
  pthread_mutex_unlock(&g->mutex);
  if (!answered && verdict == FAN_DENY) report_denial(g, md->fd, md->pid, digest);
  close(md->fd);
}

// Reads what is queued and hands each event to `each`; returns 0 when the group is empty or failed.
static int read_events(guard_t* g, uint8_t* events, void (*each)(guard_t*, const struct fanotify_event_metadata*,
                                                                 uint8_t*),
                       uint8_t* buffer) {
  ssize_t n = read(g->fd, events, EVENT_BUFFER_BYTES);
  if (n <= 0) return 0;
  const struct fanotify_event_metadata* md = (const struct fanotify_event_metadata*)events;
  while (FAN_EVENT_OK(md, n)) {
    if (md->vers == FANOTIFY_METADATA_VERSION && md->fd >= 0) each(g, md, buffer);
    else if (md->fd >= 0) close(md->fd);
    md = FAN_EVENT_NEXT(md, n);
  }
  return 1;
}

static void* decider_main(void* arg) {
  guard_t* g = arg;
  // Without a hash buffer every verdict is "allow" (decide() checks), never a stuck exec.
  uint8_t* buffer = malloc(HASH_CHUNK_BYTES);
  uint8_t events[EVENT_BUFFER_BYTES] __attribute__((aligned(8)));
  struct pollfd fds[2] = {{.fd = g->fd, .events = POLLIN}, {.fd = g->wake_fd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    while (read_events(g, events, handle_event, buffer)) {
    }
  }
  free(buffer);
  return NULL;
}

static void allow_event(guard_t* g, const struct fanotify_event_metadata* md, uint8_t* unused) {
  (void)unused;
  pthread_mutex_lock(&g->mutex);
  g->events++;
  g->allowed++;
  g->watchdog_allows++;
  pthread_mutex_unlock(&g->mutex);
  respond(g->fd, md->fd, FAN_ALLOW);
  close(md->fd);
}

static void* watchdog_main(void* arg) {
  guard_t* g = arg;
  uint8_t events[EVENT_BUFFER_BYTES] __attribute__((aligned(8)));
  struct pollfd wake = {.fd = g->wake_fd, .events = POLLIN};
  for (;;) {
    int n = poll(&wake, 1, WATCHDOG_TICK_MS);
    if (n > 0) break;
    pthread_mutex_lock(&g->mutex);
    if (g->busy_fd >= 0 && now_ns() - g->busy_since_ns > g->deadline_ns) {
      respond(g->fd, g->busy_fd, FAN_ALLOW);
      g->busy_fd = -2;
      g->watchdog_allows++;
    }
    int decider_stuck = g->busy_fd == -2;
    pthread_mutex_unlock(&g->mutex);
    // The decider is still inside the read that hung: everything queued behind it is allowed from here.
    if (decider_stuck) {
      while (read_events(g, events, allow_event, NULL)) {
      }
    }
  }
  return NULL;
}

static void stop_threads(guard_t* g) {
  if (!g->started) return;
  uint64_t one = 1;
  ssize_t ignored = write(g->wake_fd, &one, sizeof one);
  (void)ignored;
  pthread_join(g->decider, NULL);
  pthread_join(g->watchdog, NULL);
  g->started = 0;
}

static void close_guard(guard_t* g) {
  if (g->closed) return;
  g->closed = 1;
  stop_threads(g);
  if (g->tsfn != NULL) {
    napi_release_threadsafe_function(g->tsfn, napi_tsfn_release);
    g->tsfn = NULL;
  }
  // Pending permission events are answered FAN_ALLOW by the kernel when the group closes.
  if (g->fd >= 0) close(g->fd);
  if (g->wake_fd >= 0) close(g->wake_fd);
  g->fd = g->wake_fd = -1;
}

static void wrapper_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  guard_t* g = data;
  close_guard(g);
  guard_unref(g);
}

static void tsfn_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  guard_unref(hint);
}

static guard_t* unwrap(napi_env env, napi_value object) {
  guard_t* g = NULL;
  if (napi_unwrap(env, object, (void**)&g) != napi_ok || g == NULL) {
    napi_throw_type_error(env, NULL, "not a ring3 exec guard");
    return NULL;
  }
  if (g->closed) {
    napi_throw_error(env, NULL, "the exec guard is closed");
    return NULL;
  }
  return g;
}

static void hex(const uint8_t digest[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[i * 2] = digits[digest[i] >> 4];
    out[i * 2 + 1] = digits[digest[i] & 15];
  }
  out[64] = '\0';
}

static void call_js(napi_env env, napi_value js_callback, void* context, void* data) {
  (void)data;
  guard_t* g = context;
  if (env == NULL || js_callback == NULL) return;
  denial_t* taken = malloc(sizeof(denial_t) * DENIAL_RING);
  size_t count = 0;
  pthread_mutex_lock(&g->mutex);
  while (taken != NULL && g->ring_count > 0) {
    taken[count++] = g->ring[g->ring_head];
    g->ring_head = (g->ring_head + 1) % DENIAL_RING;
    g->ring_count--;
  }
  g->notify_pending = 0;
  pthread_mutex_unlock(&g->mutex);
  if (count == 0 || g->closed) {
    free(taken);
    return;
  }
  napi_value array;
  napi_create_array_with_length(env, count, &array);
  for (size_t i = 0; i < count; i++) {
    napi_value object, pid, path, sha256;
    char digest[65];
    hex(taken[i].digest, digest);
    napi_create_object(env, &object);
    napi_create_int32(env, taken[i].pid, &pid);
    napi_create_string_utf8(env, taken[i].path, NAPI_AUTO_LENGTH, &path);
    napi_create_string_utf8(env, digest, 64, &sha256);
    napi_set_named_property(env, object, "pid", pid);
    napi_set_named_property(env, object, "path", path);
    napi_set_named_property(env, object, "sha256", sha256);
    napi_set_element(env, array, (uint32_t)i, object);
  }
  free(taken);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_callback, 1, &array, NULL);
}

// guardOpen({maxMegabytes, failOpenMs, deadlineMs, cacheEntries}) → guard.
// FAN_CLASS_CONTENT: the class permission events need. FAN_NONBLOCK: both threads drain until EAGAIN.
static napi_value js_guard_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ring3_require_args(env, info, 1, argv, "guardOpen(options)")) return NULL;
  uint32_t max_mb, fail_open_ms, deadline_ms, cache_entries;
  if (!ring3_get_uint32_option(env, argv[0], "maxMegabytes", 512, &max_mb) ||
      !ring3_get_uint32_option(env, argv[0], "failOpenMs", 5000, &fail_open_ms) ||
      !ring3_get_uint32_option(env, argv[0], "deadlineMs", 1000, &deadline_ms) ||
      !ring3_get_uint32_option(env, argv[0], "cacheEntries", 8192, &cache_entries) || deadline_ms == 0) {
    napi_throw_type_error(env, NULL, "guardOpen: options must be unsigned integers (deadlineMs > 0)");
    return NULL;
  }
  int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fd < 0) return ring3_throw_errno(env, "fanotify_init(FAN_CLASS_CONTENT)", errno);
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    int err = errno;
    close(fd);
    return ring3_throw_errno(env, "eventfd", err);
  }
  size_t slots = 1;
  while (slots < cache_entries && slots < (1u << 24)) slots <<= 1;
  guard_t* g = calloc(1, sizeof *g);
  denial_t* ring = calloc(DENIAL_RING, sizeof *ring);
  cache_entry_t* cache = cache_entries == 0 ? NULL : calloc(slots, sizeof *cache);
  if (g == NULL || ring == NULL || (cache_entries > 0 && cache == NULL)) {
    free(g);
    free(ring);
    free(cache);
    close(fd);
    close(wake_fd);
    napi_throw_error(env, NULL, "guardOpen: out of memory");
    return NULL;
  }
  g->fd = fd;
  g->wake_fd = wake_fd;
  g->refs = 1;
  g->busy_fd = -1;
  g->ring = ring;
  g->cache = cache;
  g->cache_mask = slots - 1;
  g->max_bytes = (uint64_t)max_mb * 1024 * 1024;
  g->fail_open_ns = (uint64_t)fail_open_ms * 1000000ull;
  g->deadline_ns = (uint64_t)deadline_ms * 1000000ull;
  g->heartbeat_ns = now_ns();
  pthread_mutex_init(&g->mutex, NULL);
  napi_value object;
  napi_create_object(env, &object);
  napi_wrap(env, object, g, wrapper_finalize, NULL, NULL);
  return object;
}

// guardStart(guard, onDenied(denials)) → starts the decider and the watchdog. Before any mark: a marked
// mount with nobody answering would hold every exec on it.
static napi_value js_guard_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ring3_require_args(env, info, 2, argv, "guardStart(guard, onDenied)")) return NULL;
  guard_t* g = unwrap(env, argv[0]);
  if (g == NULL) return NULL;
  if (g->started || g->tsfn != NULL) {
    napi_throw_error(env, NULL, "guardStart: already started");
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "ring3-exec-guard", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, g, tsfn_finalize, g, call_js, &g->tsfn) !=
      napi_ok) {
    napi_throw_error(env, NULL, "guardStart: cannot create the threadsafe function");
    return NULL;
  }
  g->refs++;
  // The guard does not keep the process alive by itself; whoever owns it does.
  napi_unref_threadsafe_function(env, g->tsfn);
  int err = pthread_create(&g->decider, NULL, decider_main, g);
  if (err == 0) {
    err = pthread_create(&g->watchdog, NULL, watchdog_main, g);
    if (err != 0) {
      uint64_t one = 1;
      ssize_t ignored = write(g->wake_fd, &one, sizeof one);
      (void)ignored;
      pthread_join(g->decider, NULL);
    }
  }
  if (err != 0) {
    napi_release_threadsafe_function(g->tsfn, napi_tsfn_release);
    g->tsfn = NULL;
    return ring3_throw_errno(env, "pthread_create", err);
  }
  g->started = 1;
  return NULL;
}

// guardMark(guard, path, filesystem): FAN_OPEN_EXEC_PERM on the mount (false) or the whole filesystem (true)
// holding path.
static napi_value js_guard_mark(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ring3_require_args(env, info, 3, argv, "guardMark(guard, path, filesystem)")) return NULL;
  guard_t* g = unwrap(env, argv[0]);
  if (g == NULL) return NULL;
  if (!g->started) {
    napi_throw_error(env, NULL, "guardMark: start the guard first (a mark without a decider holds every exec)");
    return NULL;
  }
  char path[PATH_MAX];
  bool filesystem = false;
  if (!ring3_get_path(env, argv[1], path, sizeof path, "guardMark")) return NULL;
  if (napi_get_value_bool(env, argv[2], &filesystem) != napi_ok) {
    napi_throw_type_error(env, NULL, "guardMark: filesystem must be a boolean");
    return NULL;
  }
  unsigned int flags = FAN_MARK_ADD | (filesystem ? FAN_MARK_FILESYSTEM : FAN_MARK_MOUNT);
  if (fanotify_mark(g->fd, flags, FAN_OPEN_EXEC_PERM, AT_FDCWD, path) < 0)
    return ring3_throw_errno(env, filesystem ? "fanotify_mark(FAN_MARK_FILESYSTEM)" : "fanotify_mark(FAN_MARK_MOUNT)",
                             errno);
  return NULL;
}

// guardSetBlocked(guard, digests): the whole block list, as a Buffer of 32-byte SHA-256 digests.
static napi_value js_guard_set_blocked(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ring3_require_args(env, info, 2, argv, "guardSetBlocked(guard, digests)")) return NULL;
  guard_t* g = unwrap(env, argv[0]);
  if (g == NULL) return NULL;
  void* data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok || length % 32 != 0) {
    napi_throw_type_error(env, NULL, "guardSetBlocked: digests must be a Buffer of 32-byte SHA-256 digests");
    return NULL;
  }
  uint8_t* copy = NULL;
  if (length > 0) {
    copy = malloc(length);
    if (copy == NULL) {
      napi_throw_error(env, NULL, "guardSetBlocked: out of memory");
      return NULL;
    }
    memcpy(copy, data, length);
    qsort(copy, length / 32, 32, compare_digests);
  }
  pthread_mutex_lock(&g->mutex);
  uint8_t* old = g->blocked;
  g->blocked = copy;
  g->blocked_count = length / 32;
  pthread_mutex_unlock(&g->mutex);
  free(old);
  return NULL;
}

// guardHeartbeat(guard): JavaScript is alive; see failOpenMs.
static napi_value js_guard_heartbeat(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ring3_require_args(env, info, 1, argv, "guardHeartbeat(guard)")) return NULL;
  guard_t* g = unwrap(env, argv[0]);
  if (g == NULL) return NULL;
  pthread_mutex_lock(&g->mutex);
  g->heartbeat_ns = now_ns();
  pthread_mutex_unlock(&g->mutex);
  return NULL;
}

static void set_number(napi_env env, napi_value object, const char* name, double value) {
  napi_value number;
  napi_create_double(env, value, &number);
  napi_set_named_property(env, object, name, number);
}

// guardStats(guard) → counters.
static napi_value js_guard_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ring3_require_args(env, info, 1, argv, "guardStats(guard)")) return NULL;
  guard_t* g = unwrap(env, argv[0]);
  if (g == NULL) return NULL;
  napi_value object;
  napi_create_object(env, &object);
  pthread_mutex_lock(&g->mutex);
  set_number(env, object, "events", (double)g->events);
  set_number(env, object, "allowed", (double)g->allowed);
  set_number(env, object, "denied", (double)g->denied);
  set_number(env, object, "cacheHits", (double)g->cache_hits);
  set_number(env, object, "hashed", (double)g->hashed);
  set_number(env, object, "hashedBytes", (double)g->hashed_bytes);
  set_number(env, object, "tooLarge", (double)g->too_large);
  set_number(env, object, "errors", (double)g->errors);
  set_number(env, object, "stalledAllows", (double)g->stalled_allows);
  set_number(env, object, "watchdogAllows", (double)g->watchdog_allows);
  set_number(env, object, "denialDrops", (double)g->ring_drops);
  set_number(env, object, "blocked", (double)g->blocked_count);
  set_number(env, object, "decisionMs", (double)g->decision_ns / 1e6);
  pthread_mutex_unlock(&g->mutex);
  return object;
}

// guardClose(guard): stops both threads and closes the group; the kernel allows whatever was pending.
static napi_value js_guard_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ring3_require_args(env, info, 1, argv, "guardClose(guard)")) return NULL;
  guard_t* g = NULL;
  if (napi_unwrap(env, argv[0], (void**)&g) != napi_ok || g == NULL) {
    napi_throw_type_error(env, NULL, "not a ring3 exec guard");
    return NULL;
  }
  close_guard(g);
  return NULL;
}

void ring3_exec_guard_define(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"guardOpen", NULL, js_guard_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"guardStart", NULL, js_guard_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"guardMark", NULL, js_guard_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"guardSetBlocked", NULL, js_guard_set_blocked, NULL, NULL, NULL, napi_enumerable, NULL},
      {"guardHeartbeat", NULL, js_guard_heartbeat, NULL, NULL, NULL, napi_enumerable, NULL},
      {"guardStats", NULL, js_guard_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"guardClose", NULL, js_guard_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
}
