/* WebSocket handshake checks, frame headers and the message reader (see
 * ws.h): pure functions over bytes, fuzzed by tests/fuzz/ws.c. */
#include "server/ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

/* The GUID every server appends to the client's key (RFC 6455 section 1.3). */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* --- opening handshake --- */

/* 1 when the comma-separated LIST holds TOKEN (case-insensitive). */
static int list_has(const char *list, const char *token)
{
	size_t tn = strlen(token);

	while (list && *list) {
		const char *end;
		size_t n;

		while (*list == ' ' || *list == '\t' || *list == ',')
			list++;
		end = list;
		while (*end && *end != ',')
			end++;
		n = (size_t)(end - list);
		while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
			n--;
		if (n == tn && strncasecmp(list, token, tn) == 0)
			return 1;
		list = end;
	}
	return 0;
}

/* The key must be base64 of exactly 16 bytes: 22 characters and "==". */
static int key_valid(const char *key)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
		return 0;
	for (int i = 0; i < 22; i++)
		if (!strchr(b64, key[i]) || !key[i])
			return 0;
	return 1;
}

int ws_handshake_check(const struct ws_handshake *h, char *err, size_t errlen)
{
	const char *why = NULL;

	if (!h->method || strcmp(h->method, "GET") != 0)
		why = "websocket upgrade needs GET";
	else if (!list_has(h->upgrade, "websocket"))
		why = "missing 'Upgrade: websocket'";
	else if (!list_has(h->connection, "upgrade"))
		why = "missing 'Connection: Upgrade'";
	else if (!h->version || strcmp(h->version, "13") != 0)
		why = "unsupported Sec-WebSocket-Version (need 13)";
	else if (!key_valid(h->key))
		why = "invalid Sec-WebSocket-Key";
	if (!why)
		return 0;
	util_strlcpy(err, why, errlen);
	return -EINVAL;
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char cat[64];
	size_t n = strlen(key);

	if (n + sizeof(ws_guid) > sizeof(cat))
		return -EINVAL;
	memcpy(cat, key, n);
	memcpy(cat + n, ws_guid, sizeof(ws_guid));
	SHA1((const unsigned char *)cat, n + sizeof(ws_guid) - 1, md);
	return EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) == WS_ACCEPT_LEN
		       ? 0
		       : -EINVAL;
}

const char *ws_pick_protocol(const char *offered)
{
	return list_has(offered, "binary") ? "binary" : NULL;
}

/* --- frames ---
 *
 *   byte 0   FIN RSV1 RSV2 RSV3 opcode(4)
 *   byte 1   MASK len7          len7 126: 16-bit length follows, 127: 64-bit
 *   [2|8]    extended length, network order
 *   [4]      masking key when MASK
 */

static int opcode_known(int op)
{
	return op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE ||
	       op == WS_OP_PING || op == WS_OP_PONG;
}

/* Reads the extended length; -EPROTO when it is not the minimal encoding. */
static int parse_length(const uint8_t *buf, unsigned len7, struct ws_frame *f, size_t *pos)
{
	uint64_t v = 0;
	unsigned bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;

	if (!bytes) {
		f->len = len7;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | buf[*pos + i];
	*pos += bytes;
	if ((bytes == 2 && v < 126) || (bytes == 8 && (v <= 0xffff || v >> 63)))
		return -EPROTO;
	f->len = v;
	return 0;
}

int ws_frame_parse(const uint8_t *buf, size_t n, struct ws_frame *f)
{
	size_t need = 2, pos = 2;
	unsigned len7;

	if (n < 2)
		return -EAGAIN;
	len7 = buf[1] & 0x7f;
	need += (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((buf[1] & 0x80) ? 4 : 0);
	if (buf[0] & 0x70 || !opcode_known(buf[0] & 0x0f))
		return -EPROTO;
	f->fin = !!(buf[0] & 0x80);
	f->opcode = buf[0] & 0x0f;
	f->masked = !!(buf[1] & 0x80);
	if (f->opcode >= WS_OP_CLOSE && (!f->fin || len7 > 125))
		return -EPROTO; /* control frames: final, payload up to 125 bytes */
	if (n < need)
		return -EAGAIN;
	if (parse_length(buf, len7, f, &pos) < 0)
		return -EPROTO;
	memset(f->mask, 0, sizeof(f->mask));
	if (f->masked)
		memcpy(f->mask, buf + pos, 4);
	f->header_len = need;
	return 0;
}

void ws_unmask(uint8_t *data, size_t n, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < n; i++)
		data[i] ^= mask[(offset + i) & 3];
}

size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], int opcode, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

size_t ws_close_payload(uint8_t out[125], unsigned code, const char *reason)
{
	size_t n = reason ? strlen(reason) : 0;

	if (n > 123)
		n = 123;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (n)
		memcpy(out + 2, reason, n);
	return n + 2;
}

/* --- the message reader --- */

void ws_reader_init(struct ws_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : WS_MAX_MESSAGE;
}

void ws_reader_free(struct ws_reader *r)
{
	free(r->msg);
	r->msg = NULL;
	r->msg_len = r->msg_cap = 0;
}

/* Completes the frame header from IN; returns bytes used, or a negative close code. */
static long take_header(struct ws_reader *r, const uint8_t *in, size_t n)
{
	size_t used = 0;
	int rc;

	for (;;) {
		rc = ws_frame_parse(r->hdr, r->hdr_have, &r->f);
		if (rc == 0)
			break;
		if (rc != -EAGAIN)
			return -WS_CLOSE_PROTOCOL;
		if (used == n)
			return (long)used;
		r->hdr[r->hdr_have++] = in[used++];
	}
	if (!r->f.masked)
		return -WS_CLOSE_PROTOCOL;
	r->in_frame = 1;
	r->got = 0;
	return (long)used;
}

/* Checks where a data frame fits in the message sequence. */
static int start_data_frame(struct ws_reader *r)
{
	int op = r->f.opcode;

	if (op >= WS_OP_CLOSE)
		return 0;
	if ((op == WS_OP_CONT) != (r->msg_opcode != 0))
		return -WS_CLOSE_PROTOCOL; /* a continuation without a start, or a new start inside */
	if (op != WS_OP_CONT)
		r->msg_opcode = op;
	if (r->f.len > r->max - r->msg_len)
		return -WS_CLOSE_TOO_BIG;
	return 0;
}

static int grow(struct ws_reader *r, size_t need)
{
	size_t cap = r->msg_cap ? r->msg_cap : 4096;
	uint8_t *p;

	while (cap < need)
		cap *= 2;
	if (cap == r->msg_cap)
		return 0;
	if (!(p = realloc(r->msg, cap)))
		return -ENOMEM;
	r->msg = p;
	r->msg_cap = cap;
	return 0;
}

/* Copies payload bytes of the current frame into the message or control buffer. */
static int take_payload(struct ws_reader *r, const uint8_t *in, size_t n)
{
	uint8_t *dst;

	if (r->f.opcode >= WS_OP_CLOSE) {
		dst = r->ctl + r->got;
	} else {
		if (grow(r, r->msg_len + n) < 0)
			return -ENOMEM;
		dst = r->msg + r->msg_len;
		r->msg_len += n;
	}
	memcpy(dst, in, n);
	ws_unmask(dst, n, r->f.mask, r->got);
	r->got += n;
	return 0;
}

/* The current frame is complete: deliver what is due. */
static int end_frame(struct ws_reader *r, ws_message_fn fn, void *ctx)
{
	int rc = 0;

	r->in_frame = 0;
	r->hdr_have = 0;
	if (r->f.opcode >= WS_OP_CLOSE)
		return fn(ctx, r->f.opcode, r->ctl, (size_t)r->f.len);
	if (r->f.fin) {
		rc = fn(ctx, r->msg_opcode, r->msg ? r->msg : r->ctl, r->msg_len);
		r->msg_opcode = 0;
		r->msg_len = 0;
	}
	return rc;
}

int ws_reader_feed(struct ws_reader *r, const uint8_t *in, size_t n, ws_message_fn fn,
		   void *ctx)
{
	while (n || (r->in_frame && r->got == r->f.len)) {
		long used;
		size_t take;
		int rc;

		if (!r->in_frame) {
			if ((used = take_header(r, in, n)) < 0)
				return (int)used;
			in += used;
			n -= (size_t)used;
			if (!r->in_frame)
				return 0;
			if ((rc = start_data_frame(r)) < 0)
				return rc;
		}
		take = r->f.len - r->got < n ? (size_t)(r->f.len - r->got) : n;
		if (take && (rc = take_payload(r, in, take)) < 0)
			return rc;
		in += take;
		n -= take;
		if (r->got == r->f.len && (rc = end_frame(r, fn, ctx)) != 0)
			return rc;
	}
	return 0;
}
