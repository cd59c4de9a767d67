/* An incremental multipart/form-data parser (RFC 7578): bytes in, parts out
 * through callbacks, any chunking of the input.  Pure: no I/O, and memory
 * bounded by the header limit whatever the size of the parts, so an upload
 * of any size streams through it. */
#ifndef CORRAL_SERVER_MULTIPART_H
#define CORRAL_SERVER_MULTIPART_H

#include <stddef.h>

#define MP_BOUNDARY_MAX 70  /* RFC 2046 */
#define MP_HEADERS_MAX 8192 /* the header block of one part */

struct mp_part {
	char name[128];	    /* form field name */
	char filename[256]; /* file name, directories stripped; "" when none */
	int has_filename;   /* a file part (Content-Disposition filename=) */
	char content_type[128];
};

/* Each returns 0 to go on or a negative code, which mp_feed returns. */
struct mp_callbacks {
	int (*part_begin)(void *ctx, const struct mp_part *part);
	int (*part_data)(void *ctx, const char *data, size_t len);
	int (*part_end)(void *ctx);
};

struct mp;

/* Takes the boundary from CONTENT_TYPE ("multipart/form-data; boundary=x").
 * -EINVAL with ERR when it is not multipart/form-data or the boundary is
 * missing or invalid.  *OUT is freed with mp_free. */
int mp_new(const char *content_type, const struct mp_callbacks *cb, void *ctx, struct mp **out,
	   char *err, size_t errlen);
void mp_free(struct mp *m);
/* Parses LEN more bytes.  0, -EINVAL with ERR on malformed input, or a
 * callback's code. */
int mp_feed(struct mp *m, const char *data, size_t len, char *err, size_t errlen);
/* The end of the body: -EINVAL ("truncated") unless the closing boundary
 * was seen. */
int mp_finish(struct mp *m, char *err, size_t errlen);

#endif
