/* SWIM wire format: encoders into caller buffers, bounds-checked decoders.
 * The byte layout is drawn in swim_proto.h. */
#include "cluster/swim_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Write cursor: the first failure sticks, so encoders check once at the end. */
struct wcur {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

/* Read cursor: same sticky error for the decoders. */
struct rcur {
	const uint8_t *p;
	size_t len;
	size_t pos;
	int err;
};

static void put_bytes(struct wcur *w, const void *d, size_t n)
{
	/* An empty record has no bytes (D may be NULL). */
	if (w->err || n == 0)
		return;
	if (w->cap - w->len < n) {
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void put_u8(struct wcur *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

static void put_u16(struct wcur *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(w, b, 2);
}

static void put_u32(struct wcur *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put_bytes(w, b, 4);
}

static void put_u64(struct wcur *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void put_name(struct wcur *w, const struct swim_name *n)
{
	if (n->len == 0 || n->len > SWIM_NAME_MAX || memchr(n->s, 0, n->len)) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	put_u8(w, n->len);
	put_bytes(w, n->s, n->len);
}

static void put_addr(struct wcur *w, const struct swim_addr *a)
{
	if (a->family != 4 && a->family != 6) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	put_u8(w, a->family);
	put_bytes(w, a->ip, a->family == 4 ? 4 : 16);
	put_u16(w, a->port);
}

static const uint8_t *get_bytes(struct rcur *r, size_t n)
{
	const uint8_t *p;

	if (r->err || r->len - r->pos < n) {
		r->err = -EBADMSG;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

static uint8_t get_u8(struct rcur *r)
{
	const uint8_t *p = get_bytes(r, 1);

	return p ? p[0] : 0;
}

static uint16_t get_u16(struct rcur *r)
{
	const uint8_t *p = get_bytes(r, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t get_u32(struct rcur *r)
{
	const uint8_t *p = get_bytes(r, 4);

	if (!p)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(struct rcur *r)
{
	uint64_t hi = get_u32(r);

	return hi << 32 | get_u32(r);
}

static void get_name(struct rcur *r, struct swim_name *n)
{
	uint8_t len = get_u8(r);
	const uint8_t *p;

	if (len == 0 || len > SWIM_NAME_MAX) {
		r->err = -EBADMSG;
		n->len = 0;
		n->s[0] = 0;
		return;
	}
	p = get_bytes(r, len);
	if (!p || memchr(p, 0, len)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(n->s, p, len);
	n->s[len] = 0;
	n->len = len;
}

static void get_addr(struct rcur *r, struct swim_addr *a)
{
	const uint8_t *p;

	memset(a, 0, sizeof(*a));
	a->family = get_u8(r);
	if (a->family != 4 && a->family != 6) {
		r->err = -EBADMSG;
		return;
	}
	p = get_bytes(r, a->family == 4 ? 4 : 16);
	if (p)
		memcpy(a->ip, p, a->family == 4 ? 4 : 16);
	a->port = get_u16(r);
}

static void put_state(struct wcur *w, const struct swim_state_rec *s)
{
	if (s->len > SWIM_STATE_MAX || (s->len && !s->data)) {
		w->err = w->err ? w->err : -EINVAL;
		return;
	}
	put_name(w, &s->node);
	put_u64(w, s->version);
	put_u16(w, s->len);
	put_bytes(w, s->data, s->len);
}

static void get_state(struct rcur *r, struct swim_state_rec *s)
{
	get_name(r, &s->node);
	s->version = get_u64(r);
	s->len = get_u16(r);
	if (s->len > SWIM_STATE_MAX)
		r->err = -EBADMSG;
	s->data = get_bytes(r, s->len);
}

/* Per-type body codecs, dispatched through the table below. */
static void enc_ping(struct wcur *w, const struct swim_msg *m)
{
	put_u32(w, m->seq);
	put_name(w, &m->node);
	put_name(w, &m->from);
	put_addr(w, &m->src);
}

static void dec_ping(struct rcur *r, struct swim_msg *m)
{
	m->seq = get_u32(r);
	get_name(r, &m->node);
	get_name(r, &m->from);
	get_addr(r, &m->src);
}

static void enc_ping_req(struct wcur *w, const struct swim_msg *m)
{
	put_u32(w, m->seq);
	put_u8(w, m->want_nack ? 1 : 0);
	put_name(w, &m->node);
	put_addr(w, &m->addr);
	put_name(w, &m->from);
	put_addr(w, &m->src);
}

static void dec_ping_req(struct rcur *r, struct swim_msg *m)
{
	m->seq = get_u32(r);
	m->want_nack = get_u8(r);
	if (m->want_nack > 1)
		r->err = -EBADMSG;
	get_name(r, &m->node);
	get_addr(r, &m->addr);
	get_name(r, &m->from);
	get_addr(r, &m->src);
}

static void enc_seq(struct wcur *w, const struct swim_msg *m)
{
	put_u32(w, m->seq);
}

static void dec_seq(struct rcur *r, struct swim_msg *m)
{
	m->seq = get_u32(r);
}

static void enc_accuse(struct wcur *w, const struct swim_msg *m)
{
	put_u32(w, m->incarnation);
	put_name(w, &m->node);
	put_name(w, &m->from);
}

static void dec_accuse(struct rcur *r, struct swim_msg *m)
{
	m->incarnation = get_u32(r);
	get_name(r, &m->node);
	get_name(r, &m->from);
}

static void enc_alive(struct wcur *w, const struct swim_msg *m)
{
	put_u32(w, m->incarnation);
	put_name(w, &m->node);
	put_addr(w, &m->addr);
}

static void dec_alive(struct rcur *r, struct swim_msg *m)
{
	m->incarnation = get_u32(r);
	get_name(r, &m->node);
	get_addr(r, &m->addr);
}

static void enc_state(struct wcur *w, const struct swim_msg *m)
{
	put_state(w, &m->state);
}

static void dec_state(struct rcur *r, struct swim_msg *m)
{
	get_state(r, &m->state);
}

struct msg_codec {
	void (*enc)(struct wcur *w, const struct swim_msg *m);
	void (*dec)(struct rcur *r, struct swim_msg *m);
};

/* Indexed by type; COMPOUND and PUSHPULL have their own framing. */
static const struct msg_codec codecs[] = {
	[SWIM_MSG_PING] = { enc_ping, dec_ping },
	[SWIM_MSG_PING_REQ] = { enc_ping_req, dec_ping_req },
	[SWIM_MSG_ACK] = { enc_seq, dec_seq },
	[SWIM_MSG_NACK] = { enc_seq, dec_seq },
	[SWIM_MSG_SUSPECT] = { enc_accuse, dec_accuse },
	[SWIM_MSG_ALIVE] = { enc_alive, dec_alive },
	[SWIM_MSG_DEAD] = { enc_accuse, dec_accuse },
	[SWIM_MSG_STATE] = { enc_state, dec_state },
};

static const struct msg_codec *codec_for(uint8_t type)
{
	if (type >= sizeof(codecs) / sizeof(codecs[0]) || !codecs[type].enc)
		return NULL;
	return &codecs[type];
}

int swim_msg_encode(const struct swim_msg *m, uint8_t *out, size_t cap)
{
	const struct msg_codec *c = codec_for(m->type);
	struct wcur w = { out, cap, 0, 0 };

	if (!c)
		return -EINVAL;
	put_u8(&w, m->type);
	c->enc(&w, m);
	if (w.err)
		return w.err;
	return (int)w.len;
}

int swim_msg_decode(const uint8_t *buf, size_t len, struct swim_msg *m)
{
	struct rcur r = { buf, len, 0, 0 };
	const struct msg_codec *c;

	memset(m, 0, sizeof(*m));
	m->type = get_u8(&r);
	c = codec_for(m->type);
	if (r.err || !c)
		return -EBADMSG;
	c->dec(&r, m);
	if (r.err || r.pos != len)
		return -EBADMSG;
	return 0;
}

void swim_writer_init(struct swim_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->count = 0;
	w->len = 0;
	if (cap >= 3) {
		buf[0] = SWIM_PROTO_VERSION;
		buf[1] = SWIM_MSG_COMPOUND;
		buf[2] = 0;
		w->len = 3;
	}
}

size_t swim_writer_room(const struct swim_writer *w)
{
	if (w->len < 3 || w->count >= SWIM_COMPOUND_MAX || w->cap - w->len < 2)
		return 0;
	return w->cap - w->len - 2;
}

int swim_writer_add(struct swim_writer *w, const uint8_t *msg, size_t len)
{
	if (len == 0 || len > 0xffff || swim_writer_room(w) < len)
		return -ENOSPC;
	w->buf[w->len] = (uint8_t)(len >> 8);
	w->buf[w->len + 1] = (uint8_t)len;
	memcpy(w->buf + w->len + 2, msg, len);
	w->len += 2 + len;
	w->count++;
	return 0;
}

int swim_writer_add_msg(struct swim_writer *w, const struct swim_msg *m)
{
	size_t room = swim_writer_room(w);
	int n;

	if (room == 0)
		return -ENOSPC;
	n = swim_msg_encode(m, w->buf + w->len + 2, room);
	if (n < 0)
		return n;
	w->buf[w->len] = (uint8_t)(n >> 8);
	w->buf[w->len + 1] = (uint8_t)n;
	w->len += 2 + (size_t)n;
	w->count++;
	return 0;
}

size_t swim_writer_finish(struct swim_writer *w)
{
	if (w->count == 0)
		return 0;
	w->buf[2] = (uint8_t)w->count;
	return w->len;
}

int swim_reader_init(struct swim_reader *r, const uint8_t *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	if (len < 2)
		return -EBADMSG;
	if (buf[0] != SWIM_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	r->buf = buf;
	r->len = len;
	if (buf[1] != SWIM_MSG_COMPOUND) {
		r->single = 1;
		r->left = 1;
		r->pos = 1;
		return 0;
	}
	if (len < 3 || buf[2] == 0)
		return -EBADMSG;
	r->left = buf[2];
	r->pos = 3;
	return 0;
}

int swim_reader_next(struct swim_reader *r, struct swim_msg *m)
{
	size_t n;
	int rc;

	if (r->left == 0)
		return r->pos == r->len ? 0 : -EBADMSG;
	if (r->single) {
		n = r->len - r->pos;
	} else {
		if (r->len - r->pos < 2)
			return -EBADMSG;
		n = (size_t)r->buf[r->pos] << 8 | r->buf[r->pos + 1];
		r->pos += 2;
		if (n > r->len - r->pos)
			return -EBADMSG;
	}
	rc = swim_msg_decode(r->buf + r->pos, n, m);
	if (rc < 0)
		return rc;
	r->pos += n;
	r->left--;
	return 1;
}

/* Push/pull builder: appends to a struct buf through a bounded scratch cursor. */
static int pp_append(struct swim_pp_builder *b, struct wcur *w)
{
	if (w->err)
		return w->err;
	return buf_append(b->out, w->p, w->len);
}

static void pp_patch_count(struct swim_pp_builder *b)
{
	uint8_t *p = (uint8_t *)b->out->data + b->count_pos;

	p[0] = (uint8_t)(b->count >> 24);
	p[1] = (uint8_t)(b->count >> 16);
	p[2] = (uint8_t)(b->count >> 8);
	p[3] = (uint8_t)b->count;
}

int swim_pp_begin(struct swim_pp_builder *b, struct buf *out, uint8_t kind, int join,
		  const char *sender)
{
	uint8_t tmp[8 + SWIM_NAME_MAX + 4];
	struct wcur w = { tmp, sizeof(tmp), 0, 0 };
	struct swim_name n;

	if (kind < SWIM_PP_REQUEST || kind > SWIM_PP_PUSH || swim_name_set(&n, sender) < 0)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->out = out;
	put_u8(&w, SWIM_PROTO_VERSION);
	put_u8(&w, SWIM_MSG_PUSHPULL);
	put_u8(&w, kind);
	put_u8(&w, join ? 1 : 0);
	put_name(&w, &n);
	b->count_pos = out->len + w.len;
	put_u32(&w, 0);
	return pp_append(b, &w);
}

int swim_pp_add_entry(struct swim_pp_builder *b, const struct swim_pp_entry *e)
{
	uint8_t tmp[1 + SWIM_NAME_MAX + 19 + 4 + 1 + 8];
	struct wcur w = { tmp, sizeof(tmp), 0, 0 };
	int rc;

	if (b->in_records || b->count >= SWIM_PP_MAX_ENTRIES || e->status > SWIM_LEFT)
		return -EINVAL;
	put_name(&w, &e->node);
	put_addr(&w, &e->addr);
	put_u32(&w, e->incarnation);
	put_u8(&w, e->status);
	put_u64(&w, e->state_version);
	rc = pp_append(b, &w);
	if (rc == 0)
		b->count++;
	return rc;
}

int swim_pp_begin_records(struct swim_pp_builder *b)
{
	uint8_t tmp[4];
	struct wcur w = { tmp, sizeof(tmp), 0, 0 };

	if (b->in_records)
		return -EINVAL;
	pp_patch_count(b);
	b->in_records = 1;
	b->count = 0;
	b->count_pos = b->out->len;
	put_u32(&w, 0);
	return pp_append(b, &w);
}

int swim_pp_add_record(struct swim_pp_builder *b, const struct swim_state_rec *r)
{
	uint8_t tmp[1 + SWIM_NAME_MAX + 8 + 2 + SWIM_STATE_MAX];
	struct wcur w = { tmp, sizeof(tmp), 0, 0 };
	int rc;

	if (!b->in_records || b->count >= SWIM_PP_MAX_ENTRIES)
		return -EINVAL;
	put_state(&w, r);
	rc = pp_append(b, &w);
	if (rc == 0)
		b->count++;
	return rc;
}

int swim_pp_end(struct swim_pp_builder *b)
{
	int rc = 0;

	if (!b->in_records)
		rc = swim_pp_begin_records(b);
	if (rc < 0)
		return rc;
	pp_patch_count(b);
	if (b->out->len > SWIM_PP_MAX_FRAME)
		return -EMSGSIZE;
	return 0;
}

/* Smallest encodings, used to reject counts the remaining bytes cannot hold. */
#define PP_MIN_ENTRY (2 + 7 + 4 + 1 + 8)
#define PP_MIN_RECORD (2 + 8 + 2)

int swim_pp_open(struct swim_pp_reader *r, const uint8_t *buf, size_t len)
{
	struct rcur c = { buf, len, 0, 0 };
	uint32_t n;

	memset(r, 0, sizeof(*r));
	if (len > SWIM_PP_MAX_FRAME || len < 2)
		return -EBADMSG;
	if (buf[0] != SWIM_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	c.pos = 1;
	if (get_u8(&c) != SWIM_MSG_PUSHPULL)
		return -EBADMSG;
	r->kind = get_u8(&c);
	r->join = get_u8(&c);
	get_name(&c, &r->sender);
	n = get_u32(&c);
	if (c.err || r->kind < SWIM_PP_REQUEST || r->kind > SWIM_PP_PUSH || r->join > 1 ||
	    n > SWIM_PP_MAX_ENTRIES || n > (len - c.pos) / PP_MIN_ENTRY)
		return -EBADMSG;
	r->buf = buf;
	r->len = len;
	r->pos = c.pos;
	r->entries_left = n;
	return 0;
}

int swim_pp_next_entry(struct swim_pp_reader *r, struct swim_pp_entry *e)
{
	struct rcur c = { r->buf, r->len, r->pos, 0 };

	if (r->in_records || r->entries_left == 0)
		return 0;
	memset(e, 0, sizeof(*e));
	get_name(&c, &e->node);
	get_addr(&c, &e->addr);
	e->incarnation = get_u32(&c);
	e->status = get_u8(&c);
	e->state_version = get_u64(&c);
	if (c.err || e->status > SWIM_LEFT)
		return -EBADMSG;
	r->pos = c.pos;
	r->entries_left--;
	return 1;
}

static int pp_start_records(struct swim_pp_reader *r)
{
	struct rcur c = { r->buf, r->len, r->pos, 0 };
	uint32_t n = get_u32(&c);

	if (c.err || n > SWIM_PP_MAX_ENTRIES || n > (r->len - c.pos) / PP_MIN_RECORD)
		return -EBADMSG;
	r->pos = c.pos;
	r->records_left = n;
	r->in_records = 1;
	return 0;
}

int swim_pp_next_record(struct swim_pp_reader *r, struct swim_state_rec *rec)
{
	struct rcur c;
	int rc;

	if (r->entries_left)
		return -EINVAL;
	if (!r->in_records && (rc = pp_start_records(r)) < 0)
		return rc;
	if (r->records_left == 0)
		return r->pos == r->len ? 0 : -EBADMSG;
	c = (struct rcur){ r->buf, r->len, r->pos, 0 };
	memset(rec, 0, sizeof(*rec));
	get_state(&c, rec);
	if (c.err)
		return -EBADMSG;
	r->pos = c.pos;
	r->records_left--;
	return 1;
}

int swim_name_set(struct swim_name *n, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len > SWIM_NAME_MAX)
		return -EINVAL;
	memcpy(n->s, s, len + 1);
	n->len = (uint8_t)len;
	return 0;
}

int swim_name_eq(const struct swim_name *a, const struct swim_name *b)
{
	return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static int parse_port(const char *s, uint16_t *port, bool allow0)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || (v == 0 && !allow0) || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int addr_parse(const char *s, struct swim_addr *out, bool allow0)
{
	char host[64];
	const char *colon;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (!colon || (hl = (size_t)(colon - s - 1)) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		out->family = 6;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (hl = (size_t)(colon - s)) >= sizeof(host) || memchr(s, ':', hl))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = 0;
		out->family = 4;
	}
	if (inet_pton(out->family == 4 ? AF_INET : AF_INET6, host, out->ip) != 1)
		return -EINVAL;
	return parse_port(colon + 1, &out->port, allow0);
}

int swim_addr_parse(const char *s, struct swim_addr *out)
{
	return addr_parse(s, out, false);
}

int swim_addr_parse_bind(const char *s, struct swim_addr *out)
{
	return addr_parse(s, out, true);
}

void swim_addr_format(const struct swim_addr *a, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, host, sizeof(host));
	if (a->family == 6)
		snprintf(out, n, "[%s]:%u", host, a->port);
	else
		snprintf(out, n, "%s:%u", host, a->port);
}

int swim_addr_eq(const struct swim_addr *a, const struct swim_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}
