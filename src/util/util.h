/* util.h — small helpers every subsystem needs: errors, growable buffers, time,
 * files, hashing and ids.
 *
 * Error convention (used across mlplane): functions return an int status, 0 for
 * success and a negative MP_E* code for failure, and fill a caller-owned mp_err
 * with the code and a one-sentence message that says what was wrong, where and,
 * when useful, what to do. An mp_err pointer may be NULL when the caller does not
 * care for the message.
 *
 * Memory: mp_x* allocators never return NULL; on out-of-memory they print one line
 * and exit(70) (Redis' zmalloc does the same). Everything else reports errors.
 * Thread-safety: all functions are reentrant; none keeps global state except the
 * libsodium initialisation done once by mp_init(). */
#ifndef MLPLANE_UTIL_H
#define MLPLANE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#ifndef MLPLANE_VERSION
#define MLPLANE_VERSION "0.0.0"
#endif

#define MP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- errors ------------------------------------------------------------------ */
enum {
    MP_OK = 0,
    MP_EINVAL = -1,    /* bad input from a user: spec, flag, request */
    MP_ENOENT = -2,    /* a named thing does not exist */
    MP_EIO = -3,       /* file system or process failure */
    MP_ESTORE = -4,    /* the store failed */
    MP_ESTATE = -5,    /* the operation does not fit the object's current state */
    MP_EBUSY = -6,     /* someone else holds it (e.g. a run still owned by a live process) */
    MP_EEXIST = -7,    /* already exists */
    MP_EINTERNAL = -8, /* a bug: an invariant did not hold */
    MP_EPERM = -9,     /* the caller may not: no valid credentials, or not allowed */
};

#define MP_ERR_MSG 1024
typedef struct mp_err {
    int code;
    char msg[MP_ERR_MSG];
} mp_err;

/* Sets e (when non-NULL) to code and the formatted message; returns code. */
int mp_err_set(mp_err *e, int code, const char *fmt, ...) MP_PRINTF(3, 4);
/* Prepends "context: " to e's message (when non-NULL); returns e->code. */
int mp_err_prefix(mp_err *e, const char *fmt, ...) MP_PRINTF(2, 3);
void mp_err_clear(mp_err *e);
/* A short name for a code ("invalid input", "not found", ...). */
const char *mp_code_name(int code);

/* Must be called once at start (initialises libsodium). Returns 0 or MP_EINTERNAL. */
int mp_init(void);

/* ---- memory and strings ---------------------------------------------------- */
void *mp_xmalloc(size_t n);
void *mp_xcalloc(size_t n, size_t size);
void *mp_xrealloc(void *p, size_t n);
/* Returns a heap copy of s (NULL stays NULL); caller frees. */
char *mp_xstrdup(const char *s);
char *mp_xstrndup(const char *s, size_t n);
/* Returns a heap string; caller frees. */
char *mp_xasprintf(const char *fmt, ...) MP_PRINTF(1, 2);
/* Bounded copy: always NUL-terminates; returns true when s fit whole. */
bool mp_strlcpy(char *dst, const char *src, size_t n);
bool mp_str_starts(const char *s, const char *prefix);
bool mp_str_ends(const char *s, const char *suffix);
/* Levenshtein distance (for did-you-mean suggestions), capped at 255. */
int mp_edit_distance(const char *a, const char *b);
/* Parses a byte size "N", "NK", "NKi", "NM", "NMi", "NG", "NGi" (K = 1000,
 * Ki = 1024) into *out (at least 1). Returns 0 or MP_EINVAL. Pure. */
int mp_parse_size(const char *s, size_t *out, mp_err *e);

/* A growable byte buffer, always NUL-terminated after init. */
typedef struct mp_buf {
    char *data;
    size_t len;
    size_t cap;
} mp_buf;
void mp_buf_init(mp_buf *b);
void mp_buf_append(mp_buf *b, const void *p, size_t n);
void mp_buf_puts(mp_buf *b, const char *s);
void mp_buf_putc(mp_buf *b, char c);
void mp_buf_printf(mp_buf *b, const char *fmt, ...) MP_PRINTF(2, 3);
void mp_buf_vprintf(mp_buf *b, const char *fmt, va_list ap);
void mp_buf_reset(mp_buf *b);
/* Gives the heap string to the caller (who frees it) and re-initialises b. */
char *mp_buf_steal(mp_buf *b);
void mp_buf_free(mp_buf *b);
/* Appends the n bytes of p to b as valid UTF-8: invalid bytes become U+FFFD.
 * When partial_ok, an incomplete sequence at the very end is left out and its
 * length returned (so that the caller re-reads it later); else it becomes U+FFFD
 * and 0 is returned. Pure. */
size_t mp_utf8_clean(mp_buf *b, const char *p, size_t n, bool partial_ok);

/* A growable array of heap strings (owned). */
typedef struct mp_strv {
    char **v;
    size_t n;
    size_t cap;
} mp_strv;
void mp_strv_push(mp_strv *sv, const char *s);  /* copies s */
void mp_strv_push_owned(mp_strv *sv, char *s);  /* takes s */
/* Returns a NULL-terminated view (valid until the next push). */
char **mp_strv_terminated(mp_strv *sv);
void mp_strv_free(mp_strv *sv);

/* ---- time ------------------------------------------------------------------ */
int64_t mp_now_ms(void);  /* wall clock, ms since the epoch */
int64_t mp_mono_ms(void); /* monotonic ms */
int64_t mp_mono_us(void); /* monotonic µs (latencies) */
/* Formats ms-since-epoch as RFC 3339 UTC ("2026-11-25T19:54:55Z") into out. */
void mp_format_time(int64_t ms, char *out, size_t n);
/* Formats a duration as "1.2s", "3m04s", "2h01m" into out. */
void mp_format_duration(int64_t ms, char *out, size_t n);
void mp_sleep_ms(int64_t ms);

/* ---- files ----------------------------------------------------------------- */
int mp_mkdir_p(const char *path, mp_err *e);
/* Removes path recursively; a missing path is not an error. */
int mp_rm_rf(const char *path, mp_err *e);
/* Reads a whole file into a heap buffer (NUL-terminated); caller frees *out. */
int mp_read_file(const char *path, char **out, size_t *len, mp_err *e);
/* Writes data to path through a temporary file and rename(2). */
int mp_write_file_atomic(const char *path, const void *data, size_t len, mp_err *e);
bool mp_path_exists(const char *path);
bool mp_is_dir(const char *path);
/* Hard-links src, a file or a directory tree, to dst (symbolic links followed;
 * a file is copied where a link is not possible, e.g. across file systems). A file
 * already at dst is kept: meant for files that never change once written. */
int mp_link_tree(const char *src, const char *dst, mp_err *e);
/* Returns a heap absolute, lexically cleaned path of p relative to base (or cwd when
 * base is NULL); caller frees. */
char *mp_path_abs(const char *base, const char *p);
/* Returns the heap directory part of path ("." when none); caller frees. */
char *mp_path_dir(const char *path);

/* ---- hashing (SHA-256 through libsodium) ----------------------------------- */
typedef struct mp_hash {
    crypto_hash_sha256_state st;
} mp_hash;
void mp_hash_init(mp_hash *h);
void mp_hash_bytes(mp_hash *h, const void *p, size_t n);
/* Hashes a string with its length, so ("ab","c") and ("a","bc") differ. */
void mp_hash_str(mp_hash *h, const char *s);
/* Hashes the contents of a file, or of a directory tree (names sorted, each
 * entry's relative name and contents), so equal trees give equal hashes. */
int mp_hash_path(mp_hash *h, const char *path, mp_err *e);
/* What mp_hash_path_visit hands its caller while it hashes, in the order it
 * hashes (each callback optional; a nonzero return stops the walk with it):
 * entry: every entry, the root first (rel "") then each one below in name
 * order, a folder before what it holds; bytes: each block of the current
 * file; file_end: after a file's last block. */
typedef struct mp_hash_visit {
    int (*entry)(void *ud, const char *rel, const char *full, bool is_dir, mp_err *e);
    int (*bytes)(void *ud, const void *p, size_t n, mp_err *e);
    int (*file_end)(void *ud, mp_err *e);
    void *ud;
} mp_hash_visit;
/* mp_hash_path, showing v what it reads (v may be NULL): one pass over the bytes. */
int mp_hash_path_visit(mp_hash *h, const char *path, const mp_hash_visit *v, mp_err *e);
/* Writes 64 lowercase hex characters and a NUL into out. */
void mp_hash_final_hex(mp_hash *h, char out[65]);

/* Writes n-1 random characters from [a-z0-9] and a NUL into out. */
void mp_random_alnum(char *out, size_t n);

/* ---- processes ------------------------------------------------------------- */
/* The start time of process pid in clock ticks since boot (field 22 of
 * /proc/PID/stat), or -1 when the process does not exist. Together with the pid it
 * identifies a process across pid reuse. */
int64_t mp_proc_start_time(int pid);
/* Whether process pid is the one that started at start (mp_proc_start_time):
 * alive, not a zombie, not a recycled pid. */
bool mp_proc_alive(int pid, int64_t start);
/* Number of online CPUs (at least 1). */
int mp_cpu_count(void);
/* Physical memory in bytes (0 when unknown). */
int64_t mp_mem_total(void);

#endif
