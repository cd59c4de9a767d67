/* SWIM failure detector with Lifeguard: round-robin probes over a shuffled
 * list, k indirect probes with nacks, the local health multiplier, helper
 * relays, and the separate gossip rounds. */
#include "cluster/swim_int.h"
#include "cluster/keyring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool encrypting(const struct swim *s)
{
	return s->cfg.keyring && keyring_count(s->cfg.keyring) > 0;
}

void swim_send(struct swim *s, const struct swim_addr *to, const struct swim_msg *msgs,
	       size_t n, bool piggyback)
{
	uint8_t pkt[SWIM_PACKET_MAX], sealed[SWIM_PACKET_MAX];
	size_t budget = s->cfg.packet_max - (encrypting(s) ? KEYRING_OVERHEAD : 0);
	struct swim_writer w;
	const uint8_t *out = pkt;
	size_t len;
	int rc;

	swim_writer_init(&w, pkt, budget);
	for (size_t i = 0; i < n; i++)
		if (swim_writer_add_msg(&w, &msgs[i]) < 0)
			return;
	if (piggyback)
		swim_q_fill(s, &w);
	len = swim_writer_finish(&w);
	if (len == 0)
		return;
	if (encrypting(s)) {
		rc = keyring_seal(s->cfg.keyring, pkt, len, sealed, sizeof(sealed));
		if (rc < 0)
			return;
		out = sealed;
		len = (size_t)rc;
	}
	if (s->t.ops->send_udp(s->t.ctx, to, out, len) == 0) {
		s->stats.udp_sent++;
		s->stats.udp_sent_bytes += len;
	}
}

void swim_awareness_add(struct swim *s, int delta)
{
	int v = (int)s->awareness + delta;

	if (!s->cfg.lifeguard)
		return;
	if (v < 0)
		v = 0;
	if (v > (int)s->cfg.awareness_max - 1)
		v = (int)s->cfg.awareness_max - 1;
	s->awareness = (uint32_t)v;
}

uint64_t swim_scaled(const struct swim *s, uint32_t ms)
{
	return s->cfg.lifeguard ? (uint64_t)ms * (s->awareness + 1) : ms;
}

/* ---- random choice and the probe list ---- */

static bool pick_ok(const struct swim *s, const struct swim_member *m, struct swim_member **out,
		    size_t n, const struct swim_name *exclude,
		    bool (*ok)(const struct swim *, const struct swim_member *, uint64_t), uint64_t now)
{
	if (m->is_self || (exclude && swim_name_eq(&m->name, exclude)) || !ok(s, m, now))
		return false;
	for (size_t i = 0; i < n; i++)
		if (out[i] == m)
			return false;
	return true;
}

size_t swim_pick_random(struct swim *s, struct swim_member **out, size_t k,
			const struct swim_name *exclude,
			bool (*ok)(const struct swim *, const struct swim_member *, uint64_t),
			uint64_t now)
{
	size_t n = 0, total = s->members.n, start;

	/* Random draws are cheap in large clusters; a scan finishes the job
	 * when few members qualify. */
	for (size_t tries = 0; n < k && total > 32 && tries < 4 * k + 8; tries++) {
		struct swim_member *m = s->members.v[swim_rand(s, total)];

		if (pick_ok(s, m, out, n, exclude, ok, now))
			out[n++] = m;
	}
	start = swim_rand(s, total);
	for (size_t i = 0; i < total && n < k; i++) {
		struct swim_member *m = s->members.v[(start + i) % total];

		if (pick_ok(s, m, out, n, exclude, ok, now))
			out[n++] = m;
	}
	return n;
}

void swim_probe_list_insert(struct swim *s, struct swim_member *m)
{
	size_t pos = swim_rand(s, s->probe_list.n + 1);

	if (swim_vec_push(&s->probe_list, m) < 0)
		return;
	memmove(&s->probe_list.v[pos + 1], &s->probe_list.v[pos],
		(s->probe_list.n - 1 - pos) * sizeof(m));
	s->probe_list.v[pos] = m;
	if (pos < s->probe_pos)
		s->probe_pos++;
}

void swim_probe_list_remove(struct swim *s, struct swim_member *m)
{
	for (size_t i = 0; i < s->probe_list.n; i++) {
		if (s->probe_list.v[i] != m)
			continue;
		memmove(&s->probe_list.v[i], &s->probe_list.v[i + 1],
			(s->probe_list.n - 1 - i) * sizeof(m));
		s->probe_list.n--;
		if (i < s->probe_pos)
			s->probe_pos--;
		return;
	}
}

/* After each pass the list is reshuffled (SWIM, memberlist), except that the
 * member that closed a pass does not open the next: a member probed twice in a
 * row is then left unprobed for up to 2n-2 periods, and at N=3 that is the
 * whole of detection's tail beyond the model's (docs/gossip.md §6). */
static void shuffle(struct swim *s)
{
	size_t n = s->probe_list.n;
	struct swim_member *last = n ? s->probe_list.v[n - 1] : NULL, *t;

	for (size_t i = n; i > 1; i--) {
		size_t j = swim_rand(s, i);

		t = s->probe_list.v[i - 1];
		s->probe_list.v[i - 1] = s->probe_list.v[j];
		s->probe_list.v[j] = t;
	}
	if (n > 1 && s->probe_list.v[0] == last) {
		size_t j = 1 + swim_rand(s, n - 1);

		s->probe_list.v[0] = s->probe_list.v[j];
		s->probe_list.v[j] = last;
	}
}

static struct swim_member *next_target(struct swim *s)
{
	for (size_t tries = 0; tries < s->probe_list.n; tries++) {
		struct swim_member *m;

		if (s->probe_pos >= s->probe_list.n) {
			shuffle(s);
			s->probe_pos = 0;
		}
		m = s->probe_list.v[s->probe_pos++];
		if (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT)
			return m;
	}
	return NULL;
}

/* ---- probing ---- */

static void ping_msg(const struct swim *s, struct swim_msg *out, uint32_t seq,
		     const struct swim_name *target)
{
	memset(out, 0, sizeof(*out));
	out->type = SWIM_MSG_PING;
	out->seq = seq;
	out->node = *target;
	out->from = s->self->name;
	out->src = s->self->addr;
}

static void probe_start(struct swim *s, uint64_t now)
{
	struct swim_member *m = next_target(s);
	struct swim_probe *p = &s->probe;
	struct swim_msg msgs[2];
	size_t n = 0;

	s->next_probe = now + swim_scaled(s, s->cfg.probe_interval_ms);
	if (!m)
		return;
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->seq = ++s->seq;
	p->target = m->name;
	p->start = now;
	/* As memberlist: the local health multiplier stretches the probe period
	 * (and so the wait for indirect acks and nacks) but not the direct ack
	 * wait, which a longer wait would not help through. */
	p->timeout_at = now + s->cfg.probe_timeout_ms;
	p->deadline = s->next_probe;
	/* Buddy system: a suspect learns of the suspicion from the probe itself. */
	if (s->cfg.lifeguard && m->status == SWIM_SUSPECT) {
		memset(&msgs[n], 0, sizeof(msgs[n]));
		msgs[n].type = SWIM_MSG_SUSPECT;
		msgs[n].incarnation = m->incarnation;
		msgs[n].node = m->name;
		msgs[n++].from = s->self->name;
	}
	ping_msg(s, &msgs[n++], p->seq, &m->name);
	s->stats.probes++;
	swim_send(s, &m->addr, msgs, n, true);
}

static bool live_ok(const struct swim *s, const struct swim_member *m, uint64_t now)
{
	(void)s;
	(void)now;
	return m->status == SWIM_ALIVE;
}

static void send_indirect(struct swim *s)
{
	struct swim_probe *p = &s->probe;
	struct swim_member *target = swim_m_find(s, &p->target), *helpers[16];
	size_t k = s->cfg.indirect_checks < 16 ? s->cfg.indirect_checks : 16;
	struct swim_msg msg;

	p->indirect_sent = true;
	if (!target)
		return;
	s->stats.indirect_rounds++;
	k = swim_pick_random(s, helpers, k, &p->target, live_ok, 0);
	memset(&msg, 0, sizeof(msg));
	msg.type = SWIM_MSG_PING_REQ;
	msg.seq = p->seq;
	msg.want_nack = s->cfg.lifeguard ? 1 : 0;
	msg.node = target->name;
	msg.addr = target->addr;
	msg.from = s->self->name;
	msg.src = s->self->addr;
	for (size_t i = 0; i < k; i++)
		swim_send(s, &helpers[i]->addr, &msg, 1, true);
	p->nacks_expected = s->cfg.lifeguard ? (uint32_t)k : 0;
	if (s->cfg.tcp_fallback)
		swim_sync_ping(s, &target->addr, p->seq, &target->name);
}

static void probe_finish(struct swim *s)
{
	struct swim_probe *p = &s->probe;
	struct swim_member *m;
	int delta = 1;

	p->active = false;
	if (p->acked) {
		/* Only a direct ack says our own path is healthy; memberlist also
		 * counts indirect and stream acks, which in the simulator's slow-member
		 * runs triples suspicions of healthy peers (bench/swim_sim). */
		if (p->acked_direct)
			swim_awareness_add(s, -1);
		return;
	}
	/* Missing nacks mean our own network or CPU is the problem (Lifeguard). */
	if (p->nacks_expected)
		delta = p->nacks_got < p->nacks_expected ? (int)(p->nacks_expected - p->nacks_got) : 0;
	swim_awareness_add(s, delta);
	s->stats.probes_failed++;
	m = swim_m_find(s, &p->target);
	if (m && (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT))
		swim_suspect_member(s, m);
}

static void relays_tick(struct swim *s, uint64_t now)
{
	struct swim_msg msg;

	for (size_t i = 0; i < s->relays.n;) {
		struct swim_relay *r = &s->relays.v[i];

		if (now < r->nack_at) {
			i++;
			continue;
		}
		if (r->want_nack) {
			memset(&msg, 0, sizeof(msg));
			msg.type = SWIM_MSG_NACK;
			msg.seq = r->origin_seq;
			swim_send(s, &r->origin, &msg, 1, false);
		}
		s->relays.v[i] = s->relays.v[--s->relays.n];
	}
}

void swim_probe_tick(struct swim *s, uint64_t now)
{
	struct swim_probe *p = &s->probe;

	relays_tick(s, now);
	if (s->leaving)
		return;
	if (p->active && now >= p->deadline)
		probe_finish(s);
	else if (p->active && !p->acked && !p->indirect_sent && now >= p->timeout_at)
		send_indirect(s);
	if (now >= s->next_probe)
		probe_start(s, now);
}

uint64_t swim_probe_next(const struct swim *s)
{
	uint64_t t = s->leaving ? UINT64_MAX : s->next_probe;
	const struct swim_probe *p = &s->probe;

	if (!s->leaving && p->active) {
		uint64_t u = p->indirect_sent || p->acked ? p->deadline : p->timeout_at;

		if (u < t)
			t = u;
	}
	for (size_t i = 0; i < s->relays.n; i++)
		if (s->relays.v[i].nack_at < t)
			t = s->relays.v[i].nack_at;
	return t;
}

void swim_probe_on_ack(struct swim *s, uint32_t seq, bool via_stream)
{
	struct swim_probe *p = &s->probe;
	struct swim_msg msg;

	if (p->active && seq == p->seq) {
		if (!p->acked) {
			p->acked = true;
			p->acked_direct = !p->indirect_sent && !via_stream;
			if (via_stream)
				s->stats.stream_pings_ok++;
		}
		return;
	}
	for (size_t i = 0; i < s->relays.n; i++) {
		struct swim_relay r = s->relays.v[i];

		if (r.seq != seq)
			continue;
		s->relays.v[i] = s->relays.v[--s->relays.n];
		memset(&msg, 0, sizeof(msg));
		msg.type = SWIM_MSG_ACK;
		msg.seq = r.origin_seq;
		swim_send(s, &r.origin, &msg, 1, true);
		return;
	}
}

void swim_probe_on_nack(struct swim *s, uint32_t seq)
{
	if (s->probe.active && seq == s->probe.seq)
		s->probe.nacks_got++;
}

void swim_probe_on_ping(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	struct swim_msg ack;

	/* A ping meant for whoever had this address before us is not ours. */
	if (!swim_name_eq(&m->node, &s->self->name))
		return;
	memset(&ack, 0, sizeof(ack));
	ack.type = SWIM_MSG_ACK;
	ack.seq = m->seq;
	swim_send(s, from, &ack, 1, true);
}

void swim_probe_on_ping_req(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	struct swim_relay r;
	struct swim_msg ping;

	memset(&r, 0, sizeof(r));
	r.seq = ++s->seq;
	r.origin_seq = m->seq;
	r.origin = *from;
	r.want_nack = m->want_nack;
	/* Nack a little before the requester's own deadline so it still counts. */
	r.nack_at = swim_now(s) + s->cfg.probe_timeout_ms * 4 / 5;
	if (swim_vec_push(&s->relays, r) < 0)
		return;
	ping_msg(s, &ping, r.seq, &m->node);
	swim_send(s, &m->addr, &ping, 1, true);
}

/* ---- gossip rounds ---- */

void swim_gossip_tick(struct swim *s, uint64_t now)
{
	struct swim_member *to[16];
	size_t k = s->cfg.gossip_nodes < 16 ? s->cfg.gossip_nodes : 16;

	if (now < s->next_gossip)
		return;
	s->next_gossip += s->cfg.gossip_interval_ms;
	if (s->next_gossip <= now)
		s->next_gossip = now + s->cfg.gossip_interval_ms;
	if (s->queue.n == 0)
		return;
	k = swim_pick_random(s, to, k, NULL, swim_gossip_target, now);
	for (size_t i = 0; i < k && s->queue.n; i++)
		swim_send(s, &to[i]->addr, NULL, 0, true);
}
