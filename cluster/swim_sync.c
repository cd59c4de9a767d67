/* Stream side of SWIM: push/pull anti-entropy (digests of every member and
 * its record version; only newer records travel), the join exchange, the
 * fallback ping, periodic reconnection to dead peers and reaping. */
#include "cluster/swim_int.h"
#include "cluster/keyring.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool encrypting(const struct swim *s)
{
	return s->cfg.keyring && keyring_count(s->cfg.keyring) > 0;
}

int swim_seal(struct swim *s, const uint8_t *in, size_t len, struct buf *out)
{
	int rc;

	if (!encrypting(s))
		return buf_append(out, in, len);
	rc = buf_reserve(out, len + KEYRING_OVERHEAD);
	if (rc < 0)
		return rc;
	rc = keyring_seal(s->cfg.keyring, in, len, (uint8_t *)out->data + out->len,
			  out->cap - out->len);
	if (rc < 0)
		return rc;
	out->len += (size_t)rc;
	return 0;
}

/* Opens a frame; *PLAIN is BUF itself or a malloc'ed copy in *OWNED. */
static int open_frame(struct swim *s, const uint8_t *buf, size_t len, const uint8_t **plain,
		      size_t *plen, uint8_t **owned)
{
	int n;

	*owned = NULL;
	if (!encrypting(s)) {
		*plain = buf;
		*plen = len;
		return 0;
	}
	if (len < KEYRING_OVERHEAD || !(*owned = malloc(len)))
		return -EBADMSG;
	n = keyring_open(s->cfg.keyring, buf, len, *owned, len);
	if (n < 0) {
		free(*owned);
		*owned = NULL;
		s->stats.drop_decrypt++;
		return n;
	}
	*plain = *owned;
	*plen = (size_t)n;
	return 0;
}

static int stream_send(struct swim *s, const struct swim_addr *to, const struct buf *plain,
		       uint8_t kind, uint32_t seq)
{
	struct buf sealed = BUF_INIT;
	struct swim_stream st = { ++s->token, kind, seq };
	int rc = swim_seal(s, (const uint8_t *)plain->data, plain->len, &sealed);

	if (rc < 0 || (rc = swim_vec_push(&s->streams, st)) < 0)
		goto free_sealed;
	rc = s->t.ops->stream_request(s->t.ctx, to, (const uint8_t *)sealed.data, sealed.len,
				      st.token);
	if (rc < 0)
		s->streams.n--;
	else
		s->stats.stream_sent_bytes += sealed.len;
free_sealed:
	buf_free(&sealed);
	return rc;
}

static uint64_t peer_version(const struct swim *s, const struct swim_member *m)
{
	return m->pp_gen == s->pp_gen ? m->pp_version : 0;
}

/* A digest of every member (unless PUSH) and the records newer than what the
 * peer's last digest showed (unless REQUEST). */
static int build_pp(struct swim *s, struct buf *out, uint8_t kind, bool join, size_t *nrec)
{
	struct swim_pp_builder b;
	int rc = swim_pp_begin(&b, out, kind, join, s->self->name.s);

	for (size_t i = 0; rc == 0 && kind != SWIM_PP_PUSH && i < s->members.n; i++) {
		const struct swim_member *m = s->members.v[i];
		struct swim_pp_entry e = { m->name, m->addr, m->incarnation, m->status,
					   m->state_version };

		rc = swim_pp_add_entry(&b, &e);
	}
	if (rc == 0)
		rc = swim_pp_begin_records(&b);
	*nrec = 0;
	for (size_t i = 0; rc == 0 && kind != SWIM_PP_REQUEST && i < s->members.n; i++) {
		const struct swim_member *m = s->members.v[i];
		struct swim_state_rec r = { m->name, m->state_version, m->state_len, m->state };

		if (m->state_version == 0 || m->state_version <= peer_version(s, m))
			continue;
		rc = swim_pp_add_record(&b, &r);
		(*nrec)++;
	}
	return rc ? rc : swim_pp_end(&b);
}

int swim_sync_start(struct swim *s, const struct swim_addr *to, bool join)
{
	struct buf plain = BUF_INIT;
	size_t nrec;
	int rc = build_pp(s, &plain, SWIM_PP_REQUEST, join, &nrec);

	if (rc == 0)
		rc = stream_send(s, to, &plain, SWIM_ST_PUSHPULL, 0);
	if (rc == 0)
		s->stats.pushpulls++;
	buf_free(&plain);
	return rc;
}

int swim_sync_ping(struct swim *s, const struct swim_addr *to, uint32_t seq,
		   const struct swim_name *target)
{
	uint8_t pkt[1 + 256];
	struct swim_msg ping;
	struct buf plain = BUF_INIT;
	int n, rc;

	memset(&ping, 0, sizeof(ping));
	ping.type = SWIM_MSG_PING;
	ping.seq = seq;
	ping.node = *target;
	ping.from = s->self->name;
	ping.src = s->self->addr;
	pkt[0] = SWIM_PROTO_VERSION;
	n = swim_msg_encode(&ping, pkt + 1, sizeof(pkt) - 1);
	if (n < 0)
		return n;
	rc = buf_append(&plain, pkt, (size_t)n + 1);
	if (rc == 0)
		rc = stream_send(s, to, &plain, SWIM_ST_PING, seq);
	buf_free(&plain);
	return rc;
}

/* memberlist's mergeState: a peer's "dead" only makes us suspect, so a node
 * that is alive gets the chance to refute. */
static void merge_entry(struct swim *s, const struct swim_pp_entry *e, const struct swim_name *sender)
{
	struct swim_msg msg;
	struct swim_state_rec self_ver = { e->node, e->state_version, 0, NULL };

	memset(&msg, 0, sizeof(msg));
	msg.incarnation = e->incarnation;
	msg.node = e->node;
	msg.addr = e->addr;
	msg.from = *sender;
	msg.type = SWIM_MSG_ALIVE;
	if (e->status == SWIM_ALIVE || (e->status == SWIM_SUSPECT && !swim_m_find(s, &e->node)))
		swim_handle_alive(s, &msg);
	if (e->status == SWIM_SUSPECT || e->status == SWIM_DEAD) {
		msg.type = SWIM_MSG_SUSPECT;
		swim_handle_suspect(s, &msg);
	} else if (e->status == SWIM_LEFT) {
		msg.type = SWIM_MSG_DEAD;
		msg.from = e->node;
		swim_handle_dead(s, &msg);
	}
	if (swim_name_eq(&e->node, &s->self->name))
		swim_handle_state(s, &self_ver, false);
}

static int merge_pp(struct swim *s, struct swim_pp_reader *r)
{
	struct swim_pp_entry e;
	struct swim_state_rec rec;
	struct swim_member *m;
	int rc;

	s->pp_gen++;
	while ((rc = swim_pp_next_entry(r, &e)) == 1) {
		merge_entry(s, &e, &r->sender);
		m = swim_m_find(s, &e.node);
		if (m) {
			m->pp_gen = s->pp_gen;
			m->pp_version = e.state_version;
		}
	}
	while (rc == 0 && (rc = swim_pp_next_record(r, &rec)) == 1)
		swim_handle_state(s, &rec, false);
	return rc;
}

static int answer_ping(struct swim *s, const uint8_t *buf, size_t len, struct buf *reply)
{
	struct swim_reader r;
	struct swim_msg m;
	uint8_t out[16];
	int n;

	if (swim_reader_init(&r, buf, len) < 0 || swim_reader_next(&r, &m) != 1 ||
	    m.type != SWIM_MSG_PING || swim_reader_next(&r, &m) != 0)
		return -EBADMSG;
	if (!swim_name_eq(&m.node, &s->self->name))
		return 0;
	m.type = SWIM_MSG_ACK; /* same seq */
	out[0] = SWIM_PROTO_VERSION;
	n = swim_msg_encode(&m, out + 1, sizeof(out) - 1);
	return n < 0 ? n : swim_seal(s, out, (size_t)n + 1, reply);
}

static int answer_pp(struct swim *s, const uint8_t *buf, size_t len, struct buf *reply)
{
	struct swim_pp_reader r;
	struct buf plain = BUF_INIT;
	size_t nrec;
	int rc = swim_pp_open(&r, buf, len);

	if (rc < 0 || r.kind == SWIM_PP_REPLY)
		return -EBADMSG;
	rc = merge_pp(s, &r);
	if (rc < 0 || r.kind == SWIM_PP_PUSH)
		return rc;
	rc = build_pp(s, &plain, SWIM_PP_REPLY, false, &nrec);
	if (rc == 0)
		rc = swim_seal(s, (const uint8_t *)plain.data, plain.len, reply);
	buf_free(&plain);
	return rc;
}

int swim_on_stream_request(struct swim *s, const struct swim_addr *from, const uint8_t *buf,
			   size_t len, struct buf *reply)
{
	const uint8_t *plain;
	uint8_t *owned;
	size_t plen;
	int rc;

	(void)from;
	s->stats.stream_recv_bytes += len;
	rc = open_frame(s, buf, len, &plain, &plen, &owned);
	if (rc < 0)
		return -EBADMSG;
	if (plen >= 2 && plain[1] == SWIM_MSG_PUSHPULL)
		rc = answer_pp(s, plain, plen, reply);
	else
		rc = answer_ping(s, plain, plen, reply);
	free(owned);
	if (rc < 0)
		s->stats.drop_malformed++;
	return rc < 0 ? -EBADMSG : 0;
}

static void on_pp_reply(struct swim *s, const uint8_t *buf, size_t len)
{
	struct swim_pp_reader r;
	struct buf push = BUF_INIT;
	size_t nrec = 0;

	if (swim_pp_open(&r, buf, len) < 0 || r.kind != SWIM_PP_REPLY || merge_pp(s, &r) < 0) {
		s->stats.drop_malformed++;
		return;
	}
	if (build_pp(s, &push, SWIM_PP_PUSH, false, &nrec) == 0 && nrec > 0) {
		struct swim_member *peer = swim_m_find(s, &r.sender);

		if (peer)
			stream_send(s, &peer->addr, &push, SWIM_ST_PUSH, 0);
	}
	buf_free(&push);
}

static void on_ping_reply(struct swim *s, const uint8_t *buf, size_t len, uint32_t seq)
{
	struct swim_reader r;
	struct swim_msg m;

	if (swim_reader_init(&r, buf, len) == 0 && swim_reader_next(&r, &m) == 1 &&
	    m.type == SWIM_MSG_ACK && m.seq == seq)
		swim_probe_on_ack(s, seq, true);
}

void swim_on_stream_reply(struct swim *s, uint64_t token, const uint8_t *buf, size_t len)
{
	struct swim_stream st;
	const uint8_t *plain;
	uint8_t *owned;
	size_t plen, i;

	for (i = 0; i < s->streams.n && s->streams.v[i].token != token; i++)
		;
	if (i == s->streams.n)
		return;
	st = s->streams.v[i];
	s->streams.v[i] = s->streams.v[--s->streams.n];
	if (!buf || len == 0)
		return;
	s->stats.stream_recv_bytes += len;
	if (open_frame(s, buf, len, &plain, &plen, &owned) < 0)
		return;
	if (st.kind == SWIM_ST_PUSHPULL)
		on_pp_reply(s, plain, plen);
	else if (st.kind == SWIM_ST_PING)
		on_ping_reply(s, plain, plen, st.seq);
	free(owned);
}

/* memberlist scales push/pull above 32 nodes by ceil(log2 N - 5) + 1. */
static uint64_t pushpull_period(const struct swim *s)
{
	double n = (double)s->members.n;
	uint64_t base = s->cfg.push_pull_interval_ms;

	if (n <= 32)
		return base;
	return base * (uint64_t)(ceil(log2(n) - 5) + 1);
}

static bool dead_ok(const struct swim *s, const struct swim_member *m, uint64_t now)
{
	(void)s;
	(void)now;
	return m->status == SWIM_DEAD;
}

static bool alive_ok(const struct swim *s, const struct swim_member *m, uint64_t now)
{
	(void)s;
	(void)now;
	return m->status == SWIM_ALIVE;
}

void swim_sync_tick(struct swim *s, uint64_t now)
{
	struct swim_member *m;

	if (now >= s->next_pushpull) {
		s->next_pushpull = now + pushpull_period(s);
		if (!s->leaving && swim_pick_random(s, &m, 1, NULL, alive_ok, now) == 1)
			swim_sync_start(s, &m->addr, false);
	}
	if (now >= s->next_reconnect) {
		/* Serf's reconnect: a partition heals without an operator. */
		s->next_reconnect = now + s->cfg.reconnect_interval_ms;
		swim_reap(s, now);
		if (!s->leaving && swim_pick_random(s, &m, 1, NULL, dead_ok, now) == 1) {
			s->stats.reconnects++;
			swim_sync_start(s, &m->addr, false);
		}
	}
}
