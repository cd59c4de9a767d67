/* Small libc-level helpers shared by every module. */
#ifndef CORRAL_UTIL_H
#define CORRAL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Strict decimal parse of the whole string (no sign for u64, no spaces).
 * Returns 0, -EINVAL or -ERANGE. */
int util_parse_i64(const char *s, int64_t *out);
int util_parse_u64(const char *s, uint64_t *out);
/* Perl's number shapes as pve-common's JSONSchema.pm checks them:
 * integer [+-]?\d+ ; number [+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?
 * Shape only, no range.  1 or 0. */
int util_is_integer_text(const char *s);
int util_is_number_text(const char *s);
/* Sizes as Proxmox and qemu-img write them: "32G", "512M", "10240", "1.5T".
 * A bare number is in DEFAULT_UNIT bytes (1 for bytes, 1<<30 for GiB). */
int util_parse_size(const char *s, uint64_t default_unit, uint64_t *out);
/* Copies at most N-1 bytes and always terminates; returns -ERANGE if cut. */
int util_strlcpy(char *dst, const char *src, size_t n);
/* The reason phrase of an HTTP status line LINE of LEN bytes (not NUL
 * terminated: "HTTP/1.1 400 Reason\r\n") into OUT, cut to fit.  Pure.
 * Returns 0, or -EINVAL (OUT untouched) when LINE is no status line. */
int util_http_reason(const char *line, size_t len, char *out, size_t n);
/* Monotonic clock in nanoseconds and in milliseconds. */
uint64_t util_now_ns(void);
uint64_t util_now_ms(void);
/* Writes all of LEN bytes to FD, retrying short writes and EINTR. */
int util_write_all(int fd, const void *data, size_t len);
/* Writes DATA to PATH atomically (temp file, fsync, rename) with MODE. */
int util_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Reads a whole file (at most MAX bytes) into a NUL-terminated malloc'ed
 * buffer owned by the caller. */
int util_read_file(const char *path, size_t max, char **out, size_t *len);
/* mkdir -p with MODE for each created level. */
int util_mkdir_p(const char *path, unsigned mode);

#endif
