/* Unit tests for server/ws.c and server/ws_term.c: the handshake checks and
 * accept key, frame headers, the message reader (masking, fragmentation,
 * control frames, limits) and the termproxy framing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/ws.h"
#include "tests/unit/test.h"

/* --- handshake --- */

static struct ws_handshake good_handshake(void)
{
	struct ws_handshake h = {
		.method = "GET",
		.upgrade = "websocket",
		.connection = "keep-alive, Upgrade",
		.version = "13",
		.key = "dGhlIHNhbXBsZSBub25jZQ==",
		.protocols = "binary, base64",
	};
	return h;
}

static void test_handshake_ok(void)
{
	struct ws_handshake h = good_handshake();
	char err[128] = "";

	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), 0);
	h.upgrade = "WebSocket";
	h.connection = "upgrade";
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), 0);
}

static void test_handshake_bad(void)
{
	struct ws_handshake h;
	char err[128];

	h = good_handshake();
	h.method = "POST";
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), -EINVAL);
	h = good_handshake();
	h.upgrade = NULL;
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "missing 'Upgrade: websocket'");
	h = good_handshake();
	h.connection = "keep-alive, upgrades";
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), -EINVAL);
	h = good_handshake();
	h.version = "8";
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), -EINVAL);
	h = good_handshake();
	h.key = "dGhlIHNhbXBsZSBub25jZQ"; /* unpadded */
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), -EINVAL);
	h.key = "dGhlIHNhbXBsZSBub2*jZQ==";
	CHECK_INT(ws_handshake_check(&h, err, sizeof(err)), -EINVAL);
}

/* The example of RFC 6455 section 1.3. */
static void test_accept_key(void)
{
	char out[WS_ACCEPT_LEN + 1];

	CHECK_INT(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_pick_protocol(void)
{
	CHECK_STR(ws_pick_protocol("base64, binary"), "binary");
	CHECK(ws_pick_protocol("base64") == NULL);
	CHECK(ws_pick_protocol(NULL) == NULL);
	CHECK(ws_pick_protocol("binaryx") == NULL);
}

/* --- frames --- */

/* A masked client frame of OPCODE (FIN as given) around DATA. */
static size_t client_frame(uint8_t *out, int fin, int opcode, const void *data, size_t n)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t hl = ws_frame_header(out, opcode, n);

	if (!fin)
		out[0] &= 0x7f;
	out[1] |= 0x80;
	memcpy(out + hl, mask, 4);
	memcpy(out + hl + 4, data, n);
	ws_unmask(out + hl + 4, n, mask, 0);
	return hl + 4 + n;
}

static void test_header_lengths(void)
{
	uint8_t h[WS_MAX_HEADER];
	struct ws_frame f;

	CHECK_INT(ws_frame_header(h, WS_OP_BINARY, 125), 2);
	CHECK_INT(h[0], 0x82);
	CHECK_INT(h[1], 125);
	CHECK_INT(ws_frame_header(h, WS_OP_BINARY, 126), 4);
	CHECK_INT(h[1], 126);
	CHECK_INT(ws_frame_parse(h, 4, &f), 0);
	CHECK_INT(f.len, 126);
	CHECK_INT(ws_frame_header(h, WS_OP_TEXT, 70000), 10);
	CHECK_INT(ws_frame_parse(h, 10, &f), 0);
	CHECK_INT(f.len, 70000);
	CHECK_INT(f.header_len, 10);
	CHECK_INT(f.opcode, WS_OP_TEXT);
	CHECK_INT(ws_frame_parse(h, 9, &f), -EAGAIN);
	CHECK_INT(ws_frame_parse(h, 1, &f), -EAGAIN);
}

static void test_header_violations(void)
{
	struct ws_frame f;
	uint8_t rsv[2] = { 0xc2, 0x00 }, op[2] = { 0x83, 0x00 }, ping_frag[2] = { 0x09, 0x00 };
	uint8_t ping_long[2] = { 0x89, 126 }, nonmin[4] = { 0x82, 126, 0x00, 0x7d };
	uint8_t top[10] = { 0x82, 127, 0x80, 0, 0, 0, 0, 1, 0, 0 };

	CHECK_INT(ws_frame_parse(rsv, 2, &f), -EPROTO);
	CHECK_INT(ws_frame_parse(op, 2, &f), -EPROTO);
	CHECK_INT(ws_frame_parse(ping_frag, 2, &f), -EPROTO);
	CHECK_INT(ws_frame_parse(ping_long, 2, &f), -EPROTO);
	CHECK_INT(ws_frame_parse(nonmin, 4, &f), -EPROTO);
	CHECK_INT(ws_frame_parse(top, 10, &f), -EPROTO);
}

static void test_close_payload(void)
{
	uint8_t p[125];
	char longr[200];

	CHECK_INT(ws_close_payload(p, 1001, "bye"), 5);
	CHECK_INT(p[0], 0x03);
	CHECK_INT(p[1], 0xe9);
	CHECK(memcmp(p + 2, "bye", 3) == 0);
	memset(longr, 'x', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	CHECK_INT(ws_close_payload(p, 1000, longr), 125);
}

/* --- the reader --- */

struct got {
	int n;
	int opcode[8];
	char data[8][256];
	size_t len[8];
};

static int collect(void *ctx, int opcode, const uint8_t *data, size_t n)
{
	struct got *g = ctx;

	if (g->n < 8) {
		g->opcode[g->n] = opcode;
		g->len[g->n] = n;
		memcpy(g->data[g->n], data, n < 255 ? n : 255);
		g->data[g->n][n < 255 ? n : 255] = '\0';
	}
	g->n++;
	return 0;
}

static void test_reader_single_and_split(void)
{
	uint8_t buf[64];
	size_t n = client_frame(buf, 1, WS_OP_BINARY, "hello", 5);
	struct ws_reader r;
	struct got g = { 0 };

	ws_reader_init(&r, 0);
	/* Byte by byte: the header and payload may arrive in any pieces. */
	for (size_t i = 0; i < n; i++)
		CHECK_INT(ws_reader_feed(&r, buf + i, 1, collect, &g), 0);
	CHECK_INT(g.n, 1);
	CHECK_INT(g.opcode[0], WS_OP_BINARY);
	CHECK_STR(g.data[0], "hello");
	ws_reader_free(&r);
}

static void test_reader_fragments_with_ping(void)
{
	uint8_t buf[256];
	size_t n = 0;
	struct ws_reader r;
	struct got g = { 0 };

	n += client_frame(buf + n, 0, WS_OP_TEXT, "echo ", 5);
	n += client_frame(buf + n, 1, WS_OP_PING, "p", 1);
	n += client_frame(buf + n, 0, WS_OP_CONT, "4", 1);
	n += client_frame(buf + n, 1, WS_OP_CONT, "2", 1);
	n += client_frame(buf + n, 1, WS_OP_BINARY, "", 0);
	ws_reader_init(&r, 0);
	CHECK_INT(ws_reader_feed(&r, buf, n, collect, &g), 0);
	CHECK_INT(g.n, 3);
	CHECK_INT(g.opcode[0], WS_OP_PING);
	CHECK_STR(g.data[0], "p");
	CHECK_INT(g.opcode[1], WS_OP_TEXT);
	CHECK_STR(g.data[1], "echo 42");
	CHECK_INT(g.opcode[2], WS_OP_BINARY);
	CHECK_INT(g.len[2], 0);
	ws_reader_free(&r);
}

static void test_reader_refusals(void)
{
	uint8_t buf[256], plain[7] = { 0x82, 0x05, 'h', 'e', 'l', 'l', 'o' };
	struct ws_reader r;
	struct got g = { 0 };
	size_t n;

	ws_reader_init(&r, 0); /* unmasked client frame */
	CHECK_INT(ws_reader_feed(&r, plain, sizeof(plain), collect, &g), -WS_CLOSE_PROTOCOL);
	ws_reader_free(&r);
	ws_reader_init(&r, 0); /* continuation without a start */
	n = client_frame(buf, 1, WS_OP_CONT, "x", 1);
	CHECK_INT(ws_reader_feed(&r, buf, n, collect, &g), -WS_CLOSE_PROTOCOL);
	ws_reader_free(&r);
	ws_reader_init(&r, 0); /* a new message inside a fragmented one */
	n = client_frame(buf, 0, WS_OP_TEXT, "a", 1);
	n += client_frame(buf + n, 1, WS_OP_TEXT, "b", 1);
	CHECK_INT(ws_reader_feed(&r, buf, n, collect, &g), -WS_CLOSE_PROTOCOL);
	ws_reader_free(&r);
	ws_reader_init(&r, 8); /* over the limit, also across fragments */
	n = client_frame(buf, 0, WS_OP_BINARY, "12345", 5);
	n += client_frame(buf + n, 1, WS_OP_CONT, "6789", 4);
	CHECK_INT(ws_reader_feed(&r, buf, n, collect, &g), -WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
	CHECK_INT(g.n, 0);
}

static int stop_on_close(void *ctx, int opcode, const uint8_t *data, size_t n)
{
	collect(ctx, opcode, data, n);
	return opcode == WS_OP_CLOSE ? 1 : 0;
}

static void test_reader_close_stops(void)
{
	uint8_t buf[64], cp[125];
	size_t n = client_frame(buf, 1, WS_OP_CLOSE, cp, ws_close_payload(cp, 1000, "done"));
	struct ws_reader r;
	struct got g = { 0 };

	n += client_frame(buf + n, 1, WS_OP_BINARY, "late", 4);
	ws_reader_init(&r, 0);
	CHECK_INT(ws_reader_feed(&r, buf, n, stop_on_close, &g), 1);
	CHECK_INT(g.n, 1);
	CHECK_INT(g.len[0], 6);
	ws_reader_free(&r);
}

/* --- termproxy framing --- */

struct term_got {
	char auth[256];
	char data[256];
	size_t data_len;
	unsigned cols, rows;
	int pings, resizes;
};

static int t_auth(void *ctx, const char *line)
{
	struct term_got *g = ctx;

	snprintf(g->auth, sizeof(g->auth), "%s", line);
	return 0;
}

static int t_data(void *ctx, const uint8_t *d, size_t n)
{
	struct term_got *g = ctx;

	memcpy(g->data + g->data_len, d, n);
	g->data_len += n;
	return 0;
}

static int t_resize(void *ctx, unsigned cols, unsigned rows)
{
	struct term_got *g = ctx;

	g->cols = cols;
	g->rows = rows;
	g->resizes++;
	return 0;
}

static int t_ping(void *ctx)
{
	((struct term_got *)ctx)->pings++;
	return 0;
}

static const struct ws_term_ops t_ops = { t_auth, t_data, t_resize, t_ping };

static void test_term_stream(void)
{
	static const char in[] = "root@pam:PVEVNC:5F00::sig\n0:5:ab:de1:80:24:20:3:x\n!";
	struct ws_term t;
	struct term_got g = { 0 };

	ws_term_init(&t);
	/* In pieces of 3: messages split anywhere still parse. */
	for (size_t i = 0; i < sizeof(in) - 1; i += 3) {
		size_t n = sizeof(in) - 1 - i < 3 ? sizeof(in) - 1 - i : 3;

		CHECK_INT(ws_term_feed(&t, (const uint8_t *)in + i, n, &t_ops, &g), 0);
	}
	CHECK_STR(g.auth, "root@pam:PVEVNC:5F00::sig");
	CHECK_INT(g.data_len, 8);
	CHECK(memcmp(g.data, "ab:dex\n!", 8) == 0);
	CHECK_INT(g.resizes, 1);
	CHECK_INT(g.cols, 80);
	CHECK_INT(g.rows, 24);
	CHECK_INT(g.pings, 1);
}

static void test_term_malformed(void)
{
	static const char *const bad[] = {
		"u:t\n3", "u:t\n0x", "u:t\n0::", "u:t\n1:80:", "u:t\n1:80:x", "u:t\n0:12345678901:",
		"u:t\n1:70000:24:", "u\x01:t\n",
	};
	char longline[WS_TERM_AUTH_MAX + 8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ws_term t;
		struct term_got g = { 0 };
		int rc;

		ws_term_init(&t);
		rc = ws_term_feed(&t, (const uint8_t *)bad[i], strlen(bad[i]), &t_ops, &g);
		if (i == 3) /* "1:80:" waits for the rows: not an error yet */
			CHECK_INT(rc, 0);
		else if (rc != -EPROTO)
			test_fail(__FILE__, __LINE__, "'%s' gave %d", bad[i], rc);
	}
	memset(longline, 'a', sizeof(longline));
	{
		struct ws_term t;
		struct term_got g = { 0 };

		ws_term_init(&t);
		CHECK_INT(ws_term_feed(&t, (const uint8_t *)longline, sizeof(longline), &t_ops, &g),
			  -EPROTO);
	}
}

static const struct test_case tests[] = {
	{ "handshake: valid requests", test_handshake_ok },
	{ "handshake: refusals", test_handshake_bad },
	{ "handshake: RFC 6455 accept key", test_accept_key },
	{ "handshake: subprotocol", test_pick_protocol },
	{ "frames: header lengths", test_header_lengths },
	{ "frames: violations", test_header_violations },
	{ "frames: close payload", test_close_payload },
	{ "reader: one frame byte by byte", test_reader_single_and_split },
	{ "reader: fragments with a ping between", test_reader_fragments_with_ping },
	{ "reader: unmasked, bad sequences, too big", test_reader_refusals },
	{ "reader: close stops", test_reader_close_stops },
	{ "termproxy: stream in pieces", test_term_stream },
	{ "termproxy: malformed input", test_term_malformed },
};

TEST_MAIN(tests)
