// The only code of shmex that touches node_api.h: files in a shared-memory
// directory, mapped into the process and wrapped as external ArrayBuffers.
// Validation, policy and error wording live in TypeScript (src/shm/); this
// side trusts its inputs beyond what the kernel checks for it.
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <node_api.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH_CAP 4096

// One mapping, shared by the ArrayBuffer's finalizer and by release(): the
// finalizer runs on a later event-loop turn than the GC that found the
// buffer dead, and after an explicit release it must not unmap again (the
// address range may already belong to another mapping).
//
// Nothing here calls napi_adjust_external_memory: V8 counts every
// ArrayBuffer's byteLength as external memory itself (its backing store's
// accounting, external ones too), from its creation until it is collected or
// detached. Adjusting on top counted each mapped byte twice, and a view made
// over a cached mapping four times, which made the parent of a pool collect
// several times more often than the memory it held warranted.
typedef struct {
  void* base;
  size_t length;
  size_t offset;  // where its ArrayBuffer starts in the mapping
  bool writable;  // mapped with PROT_WRITE: write() and fill() refuse the others
  bool is_view;   // a window into another mapping: release() detaches, never unmaps
} mapping_t;

static napi_status throw_errno(napi_env env, const char* syscall, int err) {
  napi_value code, msg, error, sys;
  const char* name = "EUNKNOWN";
  switch (err) {
    case ENOENT: name = "ENOENT"; break;
    case EEXIST: name = "EEXIST"; break;
    case ENOSPC: name = "ENOSPC"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case EACCES: name = "EACCES"; break;
    case EPERM: name = "EPERM"; break;
    case EMFILE: name = "EMFILE"; break;
    case ENFILE: name = "ENFILE"; break;
    case EINVAL: name = "EINVAL"; break;
    case ELOOP: name = "ELOOP"; break;
    case EFBIG: name = "EFBIG"; break;
    case ENAMETOOLONG: name = "ENAMETOOLONG"; break;
    case ENOTDIR: name = "ENOTDIR"; break;
    case EOPNOTSUPP: name = "EOPNOTSUPP"; break;
    case EROFS: name = "EROFS"; break;
    case EISDIR: name = "EISDIR"; break;
    case EAGAIN: name = "EAGAIN"; break;
    case EDQUOT: name = "EDQUOT"; break;
    case EIO: name = "EIO"; break;
    case EBADF: name = "EBADF"; break;
    case ENODEV: name = "ENODEV"; break;
    case ENXIO: name = "ENXIO"; break;
    case EOVERFLOW: name = "EOVERFLOW"; break;
    case EINTR: name = "EINTR"; break;
    default: break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_value errno_value;
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  return napi_throw(env, error);
}

static bool get_path(napi_env env, napi_value value, char* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, out, PATH_CAP, &len) != napi_ok ||
      len == 0 || len >= PATH_CAP - 1) {
    napi_throw_type_error(env, "ERR_SHMEX_NATIVE", "path must be a non-empty string");
    return false;
  }
  return true;
}

static bool get_size(napi_env env, napi_value value, size_t* out) {
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) ||
      d > 9007199254740991.0) {
    napi_throw_range_error(env, "ERR_SHMEX_NATIVE", "size must be a safe non-negative integer");
    return false;
  }
  *out = (size_t)d;
  return true;
}

// An optional size argument: `fallback` when absent or undefined.
static bool get_optional_size(napi_env env, size_t argc, napi_value* argv, size_t at,
                              size_t fallback, size_t* out) {
  *out = fallback;
  if (argc <= at) return true;
  napi_valuetype type;
  napi_typeof(env, argv[at], &type);
  return type == napi_undefined || get_size(env, argv[at], out);
}

static void finalize_mapping(napi_env env, void* data, void* hint) {
  (void)data;
  mapping_t* m = hint;
  (void)env;
  if (m->base != NULL) munmap(m->base, m->length);
  free(m);
}

// Wraps [base + offset, base + offset + length) as an ArrayBuffer that owns
// the whole mapping (view(), write() and fill() reach all of it, whatever
// the ArrayBuffer shows). On failure the mapping is unmapped and NULL returned.
static napi_value wrap_mapping(napi_env env, void* base, size_t map_length, size_t offset,
                               size_t length, bool writable) {
  mapping_t* m = malloc(sizeof(mapping_t));
  if (m == NULL) {
    munmap(base, map_length);
    throw_errno(env, "malloc", ENOMEM);
    return NULL;
  }
  m->base = base;
  m->length = map_length;
  m->offset = offset;
  m->writable = writable;
  m->is_view = false;
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(env, (char*)base + offset, length,
                                                        finalize_mapping, m, &buffer);
  if (status != napi_ok) {
    munmap(base, map_length);
    free(m);
    if (status == napi_no_external_buffers_allowed) {
      napi_throw_error(env, "ERR_SHMEX_NO_EXTERNAL_BUFFERS",
                       "this runtime does not allow external ArrayBuffers (V8 sandbox), "
                       "so shared memory cannot be mapped into JavaScript");
    } else {
      napi_throw_error(env, "ERR_SHMEX_NATIVE", "cannot create an external ArrayBuffer");
    }
    return NULL;
  }
  // A null finalizer: the wrap only lets release() find the mapping again.
  if (napi_wrap(env, buffer, m, NULL, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "ERR_SHMEX_NATIVE", "cannot tag the mapped ArrayBuffer");
    return NULL;
  }
  return buffer;
}

// create(path, size, reserve, window): a new file of `size` bytes, created
// exclusively with mode 0600, mapped shared and writable, the space of its
// first `reserve` bytes (all of them if not given) reserved, so that a full
// tmpfs fails here with ENOSPC instead of raising SIGBUS on first write. The
// rest stays a hole that takes no memory until reserve() is called for it.
// The ArrayBuffer returned shows its first `window` bytes (all if not given),
// and V8 counts only those as external memory (see mapping_t): a segment kept
// mapped for reuse, which no collection can free, does not push V8 towards
// collections; the arrays made in it (view()) count their own bytes.
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_CAP];
  size_t size;
  size_t reserve;
  size_t window;
  if (!get_path(env, argv[0], path) || !get_size(env, argv[1], &size)) return NULL;
  if (size == 0) {
    napi_throw_range_error(env, "ERR_SHMEX_NATIVE", "a segment cannot be empty");
    return NULL;
  }
  if (!get_optional_size(env, argc, argv, 2, size, &reserve) ||
      !get_optional_size(env, argc, argv, 3, size, &window))
    return NULL;
  if (reserve > size) reserve = size;
  if (window > size) window = size;
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    throw_errno(env, "open", errno);
    return NULL;
  }
  const char* op = "ftruncate";
  int err = 0;
  if (reserve < size && ftruncate(fd, (off_t)size) != 0) err = errno;
  if (err == 0 && reserve > 0) {
    op = "posix_fallocate";
    err = posix_fallocate(fd, 0, (off_t)reserve);
  }
  if (err != 0) {
    close(fd);
    unlink(path);
    throw_errno(env, op, err);
    return NULL;
  }
  void* base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  err = errno;
  close(fd);
  if (base == MAP_FAILED) {
    unlink(path);
    throw_errno(env, "mmap", err);
    return NULL;
  }
  napi_value buffer = wrap_mapping(env, base, size, 0, window, true);
  if (buffer == NULL) unlink(path);
  return buffer;
}

// reserve(path, bytes): reserves the space of the first `bytes` of an
// existing segment (see create), for a segment reused for more data than it
// held so far. ENOSPC if the directory is full.
static napi_value reserve_space(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_CAP];
  size_t bytes;
  if (!get_path(env, argv[0], path) || !get_size(env, argv[1], &bytes)) return NULL;
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    throw_errno(env, "open", errno);
    return NULL;
  }
  int err = bytes > 0 ? posix_fallocate(fd, 0, (off_t)bytes) : 0;
  close(fd);
  if (err != 0) {
    throw_errno(env, "posix_fallocate", err);
    return NULL;
  }
  napi_value result;
  napi_get_boolean(env, true, &result);
  return result;
}

// open(path, readWrite): a descriptor for an existing file, to be checked by
// the caller (fstat, header) and then given to map(): one open per mapping, so
// what was checked is what gets mapped. Never follows a symbolic link (ELOOP);
// O_NONBLOCK so that a FIFO put where a segment was expected cannot block the
// open until someone writes to it (it changes nothing for a regular file). The
// caller closes the descriptor with close().
static napi_value open_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_CAP];
  bool read_write = false;
  if (!get_path(env, argv[0], path)) return NULL;
  napi_get_value_bool(env, argv[1], &read_write);
  int fd = open(path, (read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    throw_errno(env, "open", errno);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// close(fd): closes a descriptor from open(). Node's fs.closeSync would warn
// about a descriptor it did not open itself (in a worker thread, which tracks
// its descriptors). False if it was not open; nothing to report otherwise: the
// file was only read, and its mapping does not need the descriptor.
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  napi_value result;
  bool closed = napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0 &&
                (close(fd) == 0 || errno != EBADF);
  napi_get_boolean(env, closed, &result);
  return result;
}

// map(fd, offset, length, writable, private, window): maps the pages of the file
// open on `fd` that cover [offset, offset + length), and returns that range;
// `private` maps copy-on-write. Only those pages: a view of a large segment
// costs the receiver the address space, page tables and V8's external-memory
// accounting of the view, not of the whole file. The descriptor stays open.
// The caller has checked the file already, with the words to say why it
// refuses one; this is the floor beneath it, read from the same descriptor:
// a regular file of this user (EPERM), the range within it (EINVAL), so that
// no mapping ever reaches past the end of its file (SIGBUS at the first
// access). CPython's mmap checks the size the same way. `window`: the
// ArrayBuffer shows only the first `window` bytes of the range, as in create().
static napi_value map_fd(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  size_t offset, length;
  bool writable = false, priv = false;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_SHMEX_NATIVE", "fd must be an open file descriptor");
    return NULL;
  }
  size_t window;
  if (!get_size(env, argv[1], &offset) || !get_size(env, argv[2], &length)) return NULL;
  napi_get_value_bool(env, argv[3], &writable);
  napi_get_value_bool(env, argv[4], &priv);
  if (!get_optional_size(env, argc, argv, 5, length, &window)) return NULL;
  if (window > length) window = length;
  // statx, not fstat: glibc gave fstat a new symbol version in 2.33, and the
  // prebuilt binary should load on distributions from glibc 2.28 on.
  struct statx st;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_UID | STATX_SIZE, &st) != 0) {
    throw_errno(env, "fstat", errno);
    return NULL;
  }
  if (!S_ISREG(st.stx_mode) || st.stx_uid != geteuid()) {
    throw_errno(env, "fstat", EPERM);
    return NULL;
  }
  size_t file_size = (size_t)st.stx_size;
  if (file_size == 0 || offset > file_size || length > file_size - offset) {
    throw_errno(env, "fstat", EINVAL);
    return NULL;
  }
  // mmap takes a page-aligned file offset. An empty range still maps one
  // byte of the file (mmap refuses a length of 0), inside it.
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t first = offset - offset % page;
  if (first == file_size) first -= page;
  size_t map_length = offset + length - first;
  if (map_length == 0) map_length = 1;
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* base = mmap(NULL, map_length, prot, priv ? MAP_PRIVATE : MAP_SHARED, fd, (off_t)first);
  if (base == MAP_FAILED) {
    throw_errno(env, "mmap", errno);
    return NULL;
  }
  return wrap_mapping(env, base, map_length, offset - first, window, writable);
}

// release(buffer): detaches a buffer made by create/map and unmaps it now,
// instead of on a later turn after GC. Returns false for any other buffer or
// one already released.
static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_value result;
  mapping_t* m = NULL;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab || napi_unwrap(env, argv[0], (void**)&m) != napi_ok || m == NULL ||
      (m->base == NULL && !m->is_view)) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  bool detached = false;
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (detached) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    napi_throw_error(env, "ERR_SHMEX_NATIVE", "cannot detach the mapped ArrayBuffer");
    return NULL;
  }
  if (m->is_view) {
    m->length = 0;
    napi_get_boolean(env, true, &result);
    return result;
  }
  munmap(m->base, m->length);
  m->base = NULL;
  napi_get_boolean(env, true, &result);
  return result;
}

// discard(mapping): gives the pages of a segment mapped shared and writable by
// create/map back to its file system now (MADV_REMOVE punches them out of
// the file), even while other processes still map it. For a segment nobody
// uses any more and that is about to be unlinked: the space is free at once,
// not when the last process that mapped it unmaps it. Whatever still maps it
// reads zeros afterwards. False for any other buffer or one already released.
static napi_value discard(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_value result;
  mapping_t* m = NULL;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab || napi_unwrap(env, argv[0], (void**)&m) != napi_ok || m == NULL || m->is_view ||
      m->base == NULL) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  if (madvise(m->base, m->length, MADV_REMOVE) != 0) {
    throw_errno(env, "madvise", errno);
    return NULL;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

static void finalize_view(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  free(hint);
}

// The address of [offset, offset + length) of a mapping made by create/map,
// counted from where its ArrayBuffer starts: within the whole mapping, not
// only the window the ArrayBuffer shows (which may be empty). NULL (with an
// error thrown) if it is not such a mapping, or is released, or the range
// lies beyond it, or `for_write` and the mapping is read-only (a write would
// fault).
static char* mapping_range(napi_env env, napi_value mapping, size_t offset, size_t length,
                           bool for_write) {
  bool is_ab = false;
  void* data = NULL;
  size_t shown = 0;
  mapping_t* m = NULL;
  napi_is_arraybuffer(env, mapping, &is_ab);
  if (is_ab && napi_get_arraybuffer_info(env, mapping, &data, &shown) == napi_ok) {
    char* start = data;
    size_t limit = shown;
    bool writable = true;
    if (napi_unwrap(env, mapping, (void**)&m) == napi_ok && m != NULL) {
      if (!m->is_view && m->base == NULL) start = NULL;  // released
      if (!m->is_view && m->base != NULL) {
        start = (char*)m->base + m->offset;
        limit = m->length - m->offset;
      }
      writable = m->writable;
    }
    if (for_write && !writable && start != NULL) {
      throw_errno(env, "write", EACCES);
      return NULL;
    }
    if (start != NULL && offset <= limit && length <= limit - offset) return start + offset;
  }
  napi_throw_range_error(env, "ERR_SHMEX_NATIVE", "range out of the mapping's bounds");
  return NULL;
}

// The arguments (mapping, offset, length) of view() and fill(): the address of
// that range (see mapping_range), its length in *length and the mapping in
// *mapping. NULL with an error thrown if they do not name a range of one.
static char* range_args(napi_env env, napi_callback_info info, bool for_write, size_t* length,
                        napi_value* mapping) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t offset;
  if (!get_size(env, argv[1], &offset) || !get_size(env, argv[2], length)) return NULL;
  *mapping = argv[0];
  return mapping_range(env, argv[0], offset, *length, for_write);
}

// view(mapping, offset, length): a new ArrayBuffer over part of a mapping made
// by create/map, sharing its memory. The caller keeps `mapping` alive for
// as long as the view may be used (release() the view before dropping it).
static napi_value view(napi_env env, napi_callback_info info) {
  size_t length;
  napi_value mapping;
  char* data = range_args(env, info, false, &length, &mapping);
  if (data == NULL) return NULL;
  mapping_t* whole = NULL;
  bool writable =
      napi_unwrap(env, mapping, (void**)&whole) != napi_ok || whole == NULL || whole->writable;
  mapping_t* m = malloc(sizeof(mapping_t));
  if (m == NULL) {
    throw_errno(env, "malloc", ENOMEM);
    return NULL;
  }
  // V8 counts the view's length as external memory (see mapping_t), so that
  // GC, and with it the return of the segment to its owner, keeps pace with a
  // loop that drops views.
  m->base = NULL;
  m->length = length;
  m->offset = 0;
  m->writable = writable;
  m->is_view = true;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, data, length, finalize_view, m, &buffer) != napi_ok) {
    free(m);
    napi_throw_error(env, "ERR_SHMEX_NATIVE", "cannot create an external ArrayBuffer");
    return NULL;
  }
  napi_wrap(env, buffer, m, NULL, NULL, NULL);
  return buffer;
}

// write(mapping, offset, bytes): copies a Uint8Array into a mapping made by
// create/map at `offset`, anywhere in the mapping (see mapping_range). A
// copy into a pooled segment through a view made for it would count its
// length as external memory for a moment, enough for V8 to start a full
// collection on the way in of a large array.
static napi_value write_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t offset;
  if (!get_size(env, argv[1], &offset)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void* source = NULL;
  napi_is_typedarray(env, argv[2], &is_typed);
  if (!is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &source, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_SHMEX_NATIVE", "bytes must be a Uint8Array");
    return NULL;
  }
  char* target = mapping_range(env, argv[0], offset, length, true);
  if (target == NULL) return NULL;
  if (length > 0) memmove(target, source, length);
  return NULL;
}

// fill(mapping, offset, length): zeroes [offset, offset + length) of a
// mapping made by create/map, anywhere in it (see write()).
static napi_value fill_zero(napi_env env, napi_callback_info info) {
  size_t length;
  napi_value mapping;
  char* target = range_args(env, info, true, &length, &mapping);
  if (target == NULL) return NULL;
  if (length > 0) memset(target, 0, length);
  return NULL;
}

// unlink(path): true if removed, false if it was already gone.
static napi_value unlink_path(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_CAP];
  if (!get_path(env, argv[0], path)) return NULL;
  napi_value result;
  if (unlink(path) != 0) {
    if (errno != ENOENT) {
      throw_errno(env, "unlink", errno);
      return NULL;
    }
    napi_get_boolean(env, false, &result);
    return result;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

// watchParent(parentPid, dir, prefixes): a worker process that outlives its
// parent removes the parent's segments and its own, then exits at once, even
// when it is stuck in synchronous code. The kernel sends PARENT_DEATH_SIGNAL
// when the parent dies (PR_SET_PDEATHSIG); the handler runs on whatever the
// worker was doing, so it uses only async-signal-safe calls on state fixed
// here beforehand. This is what makes a parent ended by SIGINT, SIGTERM or
// SIGHUP (no exit handlers run) or SIGKILL leave nothing in the directory.
#define PARENT_DEATH_SIGNAL SIGUSR2
#define PREFIX_CAP 128
#define MAX_PREFIXES 2

static char watched_dir[PATH_CAP];
static char watched_prefixes[MAX_PREFIXES][PREFIX_CAP];
static size_t watched_prefix_count = 0;
static volatile pid_t watched_parent = 0;

struct linux_dirent64_ {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static bool has_watched_prefix(const char* name) {
  for (size_t i = 0; i < watched_prefix_count; i++) {
    size_t n = strlen(watched_prefixes[i]);
    if (strncmp(name, watched_prefixes[i], n) == 0) return true;
  }
  return false;
}

static void remove_watched_segments(void) {
  int dir = open(watched_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  // Unlinking while reading the directory may skip entries; read it again
  // until a pass removes nothing.
  static char entries[32768];
  for (int pass = 0; pass < 8; pass++) {
    bool removed = false;
    lseek(dir, 0, SEEK_SET);
    for (;;) {
      long got = syscall(SYS_getdents64, dir, entries, sizeof entries);
      if (got <= 0) break;
      for (long at = 0; at < got;) {
        struct linux_dirent64_* entry = (struct linux_dirent64_*)(entries + at);
        if (has_watched_prefix(entry->d_name) && unlinkat(dir, entry->d_name, 0) == 0) removed = true;
        at += entry->d_reclen;
      }
    }
    if (!removed) break;
  }
  close(dir);
}

static void on_parent_death(int sig) {
  (void)sig;
  // The signal comes when the thread that spawned this process ends, which is
  // not always the whole parent (a worker thread can own an executor).
  if (getppid() == watched_parent) return;
  remove_watched_segments();
  _exit(0);
}

static napi_value watch_parent(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t parent = 0;
  uint32_t count = 0;
  bool is_array = false;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &parent) != napi_ok) {
    napi_throw_type_error(env, NULL, "watchParent(parentPid: number, dir: string, prefixes: string[2])");
    return NULL;
  }
  if (!get_path(env, argv[1], watched_dir)) return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[2], &count) != napi_ok || count > MAX_PREFIXES) {
    napi_throw_type_error(env, NULL, "watchParent(parentPid: number, dir: string, prefixes: string[2])");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    size_t len = 0;
    if (napi_get_element(env, argv[2], i, &item) != napi_ok ||
        napi_get_value_string_utf8(env, item, watched_prefixes[i], PREFIX_CAP, &len) != napi_ok ||
        len == 0 || len >= PREFIX_CAP - 1) {
      napi_throw_type_error(env, NULL, "watchParent: each prefix must be a short non-empty string");
      return NULL;
    }
  }
  watched_prefix_count = count;
  watched_parent = (pid_t)parent;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_parent_death;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(PARENT_DEATH_SIGNAL, &action, NULL) != 0 ||
      prctl(PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL) != 0) {
    throw_errno(env, "prctl", errno);
    return NULL;
  }
  // The parent may have died before the signal was armed: then it never comes.
  if (getppid() != watched_parent) on_parent_death(PARENT_DEATH_SIGNAL);
  return NULL;
}

// trimHeap(): gives the free memory of malloc's heap back to the system
// (glibc's malloc_trim). A worker whose allocator keeps freed memory for reuse
// (see src/pool/worker-env.ts) calls it once idle, so that what it keeps
// between tasks does not outlive the work. False where there is no such call.
static napi_value trim_heap(napi_env env, napi_callback_info info) {
  (void)info;
  bool trimmed = false;
#ifdef __GLIBC__
  trimmed = malloc_trim(0) != 0;
#endif
  napi_value result;
  napi_get_boolean(env, trimmed, &result);
  return result;
}

// externalMemory(): the bytes V8 counts as external memory now, the figure
// its collection heuristics compare (process.memoryUsage().external reports
// only ArrayBuffer backing stores). For measurements and tests.
static napi_value external_memory(napi_env env, napi_callback_info info) {
  (void)info;
  int64_t amount = 0;
  napi_adjust_external_memory(env, 0, &amount);
  napi_value result;
  napi_create_double(env, (double)amount, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reserve", NULL, reserve_space, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, open_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"map", NULL, map_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"release", NULL, release, NULL, NULL, NULL, napi_enumerable, NULL},
      {"view", NULL, view, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, write_bytes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fill", NULL, fill_zero, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlink", NULL, unlink_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"discard", NULL, discard, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchParent", NULL, watch_parent, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimHeap", NULL, trim_heap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"externalMemory", NULL, external_memory, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
