/* The client-to-server framing of Proxmox's termproxy (see ws.h): a pure
 * stream parser, so a message may arrive split over websocket frames or
 * several in one. */
#include <errno.h>
#include <string.h>

#include "server/ws.h"

/* Numbers are decimal; ten digits are more than any length or size needs. */
#define TERM_DIGITS_MAX 10

enum term_state {
	TS_AUTH,      /* reading "USER:TICKET\n" */
	TS_TYPE,      /* expecting '0', '1' or '2' */
	TS_COLON,     /* the ':' after the type */
	TS_NUMBER,    /* digits up to ':' (num[0], then num[1] for a resize) */
	TS_DATA,      /* LEFT bytes of input */
};

void ws_term_init(struct ws_term *t)
{
	memset(t, 0, sizeof(*t));
	t->state = TS_AUTH;
}

static int auth_byte(struct ws_term *t, uint8_t c, const struct ws_term_ops *ops, void *ctx)
{
	if (c != '\n') {
		if (t->line_len + 1 >= sizeof(t->line) || c < 0x20 || c == 0x7f)
			return -EPROTO;
		t->line[t->line_len++] = (char)c;
		return 0;
	}
	t->line[t->line_len] = '\0';
	t->state = TS_TYPE;
	return ops->auth(ctx, t->line);
}

/* TYPE: '0' data, '1' resize, '2' ping.  The digit count of num[] tells
 * which message: TYPE is kept in num[1] until the first number is read. */
static int type_byte(struct ws_term *t, uint8_t c, const struct ws_term_ops *ops, void *ctx)
{
	if (c == '2')
		return ops->ping(ctx);
	if (c != '0' && c != '1')
		return -EPROTO;
	t->num[0] = 0;
	t->num[1] = (uint64_t)(c - '0');
	t->digits = 0;
	t->left = 0;
	t->state = TS_COLON;
	return 0;
}

/* One number ended (at its ':'): start the data, read the next number or
 * deliver the resize.  LEFT's top bit marks "second number" for resizes. */
static int number_end(struct ws_term *t, const struct ws_term_ops *ops, void *ctx)
{
	uint64_t type = t->num[1];

	if (!t->digits)
		return -EPROTO;
	t->digits = 0;
	if (type == 0) {
		t->left = t->num[0];
		t->state = t->left ? TS_DATA : TS_TYPE;
		return 0;
	}
	if (!(t->left >> 63)) { /* first number of a resize: the columns */
		t->left = 1ull << 63 | t->num[0];
		t->num[0] = 0;
		return 0;
	}
	t->state = TS_TYPE;
	if ((t->left & ~(1ull << 63)) > 0xffff || t->num[0] > 0xffff)
		return -EPROTO;
	type = t->left & 0xffff;
	t->left = 0;
	return ops->resize(ctx, (unsigned)type, (unsigned)t->num[0]);
}

static int number_byte(struct ws_term *t, uint8_t c, const struct ws_term_ops *ops, void *ctx)
{
	if (c == ':')
		return number_end(t, ops, ctx);
	if (c < '0' || c > '9' || ++t->digits > TERM_DIGITS_MAX)
		return -EPROTO;
	t->num[0] = t->num[0] * 10 + (uint64_t)(c - '0');
	return 0;
}

int ws_term_feed(struct ws_term *t, const uint8_t *in, size_t n, const struct ws_term_ops *ops,
		 void *ctx)
{
	size_t i = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		if (t->state == TS_DATA) {
			size_t take = t->left < n - i ? (size_t)t->left : n - i;

			rc = ops->data(ctx, in + i, take);
			t->left -= take;
			i += take;
			if (!t->left)
				t->state = TS_TYPE;
			continue;
		}
		if (t->state == TS_AUTH)
			rc = auth_byte(t, in[i], ops, ctx);
		else if (t->state == TS_TYPE)
			rc = type_byte(t, in[i], ops, ctx);
		else if (t->state == TS_COLON)
			rc = in[i] == ':' ? (t->state = TS_NUMBER, 0) : -EPROTO;
		else
			rc = number_byte(t, in[i], ops, ctx);
		i++;
	}
	return rc;
}
