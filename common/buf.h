/* Growable byte buffer, always NUL-terminated so it doubles as a string. */
#ifndef CORRAL_BUF_H
#define CORRAL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* All return 0 or -ENOMEM; on failure the buffer keeps its old contents. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(struct buf *b);
/* Hands the string to the caller (free() it); the buffer is empty afterwards.
 * Never NULL unless memory ran out. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

#endif
