/* libFuzzer target for server/ws.c and ws_term.c.  Byte 0 picks the
 * parser: the frame reader (input split at byte 1's position, to cover
 * headers and payloads cut anywhere), the termproxy stream parser, or the
 * handshake checks (NUL-separated header values).  Reassembled messages
 * must respect the size limit; accepted keys give 28-character answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGE 4096

static int on_message(void *ctx, int opcode, const uint8_t *d, size_t n)
{
	(void)ctx;
	(void)d;
	if (opcode >= WS_OP_CLOSE ? n > 125 : n > FUZZ_MAX_MESSAGE)
		abort();
	return opcode == WS_OP_CLOSE;
}

static void run_reader(const uint8_t *d, size_t n)
{
	struct ws_reader r;
	size_t cut;

	if (!n)
		return;
	cut = d[0] % n;
	ws_reader_init(&r, FUZZ_MAX_MESSAGE);
	if (ws_reader_feed(&r, d + 1, cut ? cut - 1 : 0, on_message, NULL) == 0 && cut)
		ws_reader_feed(&r, d + cut, n - cut, on_message, NULL);
	ws_reader_free(&r);
}

static int t_auth(void *ctx, const char *line)
{
	(void)ctx;
	return strlen(line) >= WS_TERM_AUTH_MAX ? (abort(), 0) : 0;
}

static int t_data(void *ctx, const uint8_t *d, size_t n)
{
	(void)ctx;
	(void)d;
	(void)n;
	return 0;
}

static int t_resize(void *ctx, unsigned cols, unsigned rows)
{
	(void)ctx;
	if (cols > 0xffff || rows > 0xffff)
		abort();
	return 0;
}

static int t_ping(void *ctx)
{
	(void)ctx;
	return 0;
}

static void run_term(const uint8_t *d, size_t n)
{
	static const struct ws_term_ops ops = { t_auth, t_data, t_resize, t_ping };
	struct ws_term t;
	size_t half = n / 2;

	ws_term_init(&t);
	if (ws_term_feed(&t, d, half, &ops, NULL) == 0)
		ws_term_feed(&t, d + half, n - half, &ops, NULL);
}

/* Up to five NUL-separated values: upgrade, connection, version, key, protocols. */
static void run_handshake(const char *s, size_t n)
{
	const char *v[5] = { 0 };
	struct ws_handshake h = { .method = "GET" };
	char err[128], accept[WS_ACCEPT_LEN + 1];
	size_t i = 0;

	for (const char *p = s; i < 5 && p < s + n; p += strlen(p) + 1)
		v[i++] = p;
	h.upgrade = v[0];
	h.connection = v[1];
	h.version = v[2];
	h.key = v[3];
	h.protocols = v[4];
	if (ws_handshake_check(&h, err, sizeof(err)) == 0 &&
	    (ws_accept_key(h.key, accept) != 0 || strlen(accept) != WS_ACCEPT_LEN))
		abort();
	ws_pick_protocol(h.protocols);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		run_reader(data + 1, size - 1);
		break;
	case 1:
		run_term(data + 1, size - 1);
		break;
	default:
		if (!(s = malloc(size)))
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		run_handshake(s, size - 1);
		free(s);
	}
	return 0;
}
