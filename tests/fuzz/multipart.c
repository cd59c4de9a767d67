/* libFuzzer target for server/multipart.c: a body parses to the same events
 * (parts, their data, the result) whole and split at any point, and part
 * names and file names never hold a directory separator of the client's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_begin(void *ctx, const struct mp_part *p)
{
	if (strchr(p->filename, '/') || strchr(p->filename, '\\'))
		abort();
	return buf_printf(ctx, "<%s|%s|%d>", p->name, p->filename, p->has_filename);
}

static int on_data(void *ctx, const char *d, size_t n)
{
	if (n == 0)
		abort(); /* empty data events are never sent */
	return buf_append(ctx, d, n);
}

static int on_end(void *ctx)
{
	return buf_append(ctx, "</>", 3);
}

static const struct mp_callbacks cbs = {on_begin, on_data, on_end};

/* Events of parsing DATA fed in two pieces split at SPLIT. */
static int events(const uint8_t *data, size_t size, size_t split, struct buf *out)
{
	struct mp *m;
	char err[256];
	int r = mp_new("multipart/form-data; boundary=B", &cbs, out, &m, err, sizeof(err));

	if (r < 0)
		abort();
	r = mp_feed(m, (const char *)data, split, err, sizeof(err));
	if (r == 0)
		r = mp_feed(m, (const char *)data + split, size - split, err, sizeof(err));
	if (r == 0)
		r = mp_finish(m, err, sizeof(err));
	mp_free(m);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = BUF_INIT, parts = BUF_INIT;
	size_t split = size ? data[0] % (size + 1) : 0;
	int a = events(data, size, size, &whole), b = events(data, size, split, &parts);

	/* A malformed body may fail at a different byte once split, but a
	 * well-formed one gives the very same events. */
	if (a == 0 &&
	    (b != 0 || whole.len != parts.len || memcmp(whole.data, parts.data, whole.len)))
		abort();
	buf_free(&whole);
	buf_free(&parts);
	return 0;
}
