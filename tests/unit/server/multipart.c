/* Tests for server/multipart.c: parts and their data under every chunking,
 * delimiter look-alikes inside the data, boundaries from Content-Type,
 * malformed and truncated bodies. */
#include "server/multipart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test.h"

#define CT "multipart/form-data; boundary=XyZ-42"

struct got {
	char text[8192]; /* "name|filename|data;" per part */
	size_t len;
	int begun, ended;
};

static void put(struct got *g, const char *s, size_t n)
{
	if (g->len + n < sizeof(g->text)) {
		memcpy(g->text + g->len, s, n);
		g->len += n;
		g->text[g->len] = '\0';
	}
}

static int on_begin(void *ctx, const struct mp_part *p)
{
	struct got *g = ctx;

	g->begun++;
	put(g, p->name, strlen(p->name));
	put(g, "|", 1);
	put(g, p->filename, strlen(p->filename));
	put(g, p->has_filename ? "|f|" : "|-|", 3);
	return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
	put(ctx, d, n);
	return 0;
}

static int on_end(void *ctx)
{
	struct got *g = ctx;

	g->ended++;
	put(g, ";", 1);
	return 0;
}

static const struct mp_callbacks cbs = {on_begin, on_data, on_end};

/* Parses BODY in chunks of STEP bytes (0: whole); returns mp_finish's code
 * or the first mp_feed error. */
static int parse(const char *ct, const char *body, size_t len, size_t step, struct got *g)
{
	struct mp *m;
	char err[256];
	int r;

	memset(g, 0, sizeof(*g));
	if ((r = mp_new(ct, &cbs, g, &m, err, sizeof(err))) < 0)
		return r;
	for (size_t i = 0; i < len && r == 0; i += step ? step : len)
		r = mp_feed(m, body + i, step && len - i > step ? step : len - i, err, sizeof(err));
	if (r == 0)
		r = mp_finish(m, err, sizeof(err));
	if (r < 0)
		CHECK(err[0] != '\0');
	mp_free(m);
	return r;
}

static const char body1[] =
    "preamble to ignore\r\n"
    "--XyZ-42\r\n"
    "Content-Disposition: form-data; name=\"content\"\r\n\r\n"
    "iso\r\n"
    "--XyZ-42\r\n"
    "Content-Disposition: form-data; name=\"filename\"; filename=\"C:\\\\dir\\\\x.iso\"\r\n"
    "Content-Type: application/octet-stream\r\n\r\n"
    "a\r\nb\r\n-\r\n--\r\n--XyZ\r\n--XyZ-4\rz\r\n\r\n--XyZ-42\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
    "\r\n--XyZ-42--\r\nepilogue";

static const char want1[] = "content||-|iso;filename|x.iso|f|a\r\nb\r\n-\r\n--\r\n--XyZ\r\n"
			    "--XyZ-4\rz\r\n;empty||-|;";

static void test_every_chunking(void)
{
	struct got g;

	for (size_t step = 0; step < sizeof(body1); step++) {
		CHECK_INT(parse(CT, body1, sizeof(body1) - 1, step, &g), 0);
		CHECK_STR(g.text, want1);
		CHECK_INT(g.begun, 3);
		CHECK_INT(g.ended, 3);
	}
}

struct stream {
	const char *want;
	size_t len, at;
	int bad;
};

static int stream_begin(void *ctx, const struct mp_part *p)
{
	(void)ctx;
	return strcmp(p->filename, "b.bin") == 0 ? 0 : -EINVAL;
}

static int stream_data(void *ctx, const char *d, size_t n)
{
	struct stream *s = ctx;

	s->bad |= s->at + n > s->len || memcmp(s->want + s->at, d, n) != 0;
	s->at += n;
	return 0;
}

static int stream_end(void *ctx)
{
	(void)ctx;
	return 0;
}

static void test_binary_data(void)
{
	static const struct mp_callbacks scb = {stream_begin, stream_data, stream_end};
	static char body[300000];
	size_t n = 0, data = 200000;
	struct mp *m;
	char err[128];

	n += (size_t)sprintf(body, "--XyZ-42\r\nContent-Disposition: form-data; name=\"f\"; "
				   "filename=\"b.bin\"\r\n\r\n");
	for (size_t i = 0; i < data; i++)
		body[n + i] = (char)(i % 7 == 0 ? '\r' : i % 5 == 0 ? '\n' : i % 3 == 0 ? '-' : i);
	memcpy(body + n + 1000, "\r\n--XyZ-4", 9); /* a delimiter missing one byte */
	n += data;
	n += (size_t)sprintf(body + n, "\r\n--XyZ-42--");
	for (size_t step = 1; step < 20000; step = step * 3 + 1) {
		struct stream st = {body + n - data - 12, data, 0, 0};
		int r = 0;

		CHECK_INT(mp_new(CT, &scb, &st, &m, err, sizeof(err)), 0);
		for (size_t i = 0; i < n && r == 0; i += step)
			r = mp_feed(m, body + i, n - i > step ? step : n - i, err, sizeof(err));
		CHECK_INT(r, 0);
		CHECK_INT(mp_finish(m, err, sizeof(err)), 0);
		CHECK_INT(st.at, data);
		CHECK_INT(st.bad, 0);
		mp_free(m);
	}
}

static void test_boundaries(void)
{
	struct got g;
	static const char *const bad[] = {
	    "multipart/form-data",
	    "multipart/form-data; boundary=",
	    "multipart/mixed; boundary=abc",
	    "application/x-www-form-urlencoded",
	    "multipart/form-data; boundary=\"a\r\nb\"",
	    "multipart/form-data; boundary=a{b",
	    "multipart/form-data; boundary="
	    "12345678901234567890123456789012345678901234567890123456789012345678901",
	};
	const char quoted[] = "--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a b--";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(parse(bad[i], "", 0, 0, &g), -EINVAL);
	CHECK_INT(parse("Multipart/Form-Data; charset=x; BOUNDARY=\"a b\"", quoted,
			sizeof(quoted) - 1, 0, &g),
		  0);
	CHECK_STR(g.text, "x||-|1;");
	CHECK_INT(parse(NULL, "", 0, 0, &g), -EINVAL);
}

static void test_malformed(void)
{
	struct got g;
	static const char *const bad[] = {
	    "--XyZ-42\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ-42--",
	    "--XyZ-42\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ-42--",
	    "--XyZ-42\r\nno colon here\r\n\r\nx\r\n--XyZ-42--",
	    "--XyZ-42\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ-42--",
	    "--XyZ-42\r\nContent-Disposition: form-data; name=\"a\"; "
	    "filename=\"x/y\r\n\r\nx\r\n--XyZ-42--",
	    "--XyZ-42xx",
	    "--XyZ-42-x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(parse(CT, bad[i], strlen(bad[i]), 0, &g), -EINVAL);
}

static void test_truncated(void)
{
	struct got g;
	const char *cut = "--XyZ-42\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nsome da";

	CHECK_INT(parse(CT, cut, strlen(cut), 3, &g), -EINVAL);
	CHECK_INT(g.ended, 0);
	CHECK_INT(parse(CT, body1, sizeof(body1) - 30, 0, &g), -EINVAL);
	CHECK_INT(parse(CT, "", 0, 0, &g), -EINVAL);
}

static void test_header_limit(void)
{
	static char body[MP_HEADERS_MAX + 200];
	struct got g;
	int n = sprintf(body, "--XyZ-42\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ");

	memset(body + n, 'p', MP_HEADERS_MAX);
	strcpy(body + n + MP_HEADERS_MAX, "\r\n\r\nx\r\n--XyZ-42--");
	CHECK_INT(parse(CT, body, strlen(body), 100, &g), -EINVAL);
}

static int fail_data(void *ctx, const char *d, size_t n)
{
	(void)ctx;
	(void)d;
	(void)n;
	return -ENOSPC;
}

static void test_callback_error(void)
{
	static const struct mp_callbacks failing = {on_begin, fail_data, on_end};
	struct got g = {.len = 0};
	struct mp *m;
	char err[128];

	CHECK_INT(mp_new(CT, &failing, &g, &m, err, sizeof(err)), 0);
	CHECK_INT(mp_feed(m, body1, sizeof(body1) - 1, err, sizeof(err)), -ENOSPC);
	mp_free(m);
}

static const struct test_case tests[] = {
    {"every chunking", test_every_chunking},
    {"binary data with delimiter look-alikes", test_binary_data},
    {"boundaries from Content-Type", test_boundaries},
    {"malformed bodies", test_malformed},
    {"truncated bodies", test_truncated},
    {"header size limit", test_header_limit},
    {"callback errors stop the parse", test_callback_error},
};

TEST_MAIN(tests)
