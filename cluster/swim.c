/* SWIM core: configuration, the member table, the membership rules
 * (alive < suspect < alive(i+1) < ... < dead, only a node bumps its own
 * incarnation), Lifeguard suspicion timeouts and the public API. */
#include "cluster/swim_int.h"
#include "cluster/keyring.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_MAX 65536

void swim_config_default(struct swim_config *c)
{
	memset(c, 0, sizeof(*c));
	c->probe_interval_ms = 1000;
	c->probe_timeout_ms = 500;
	c->suspicion_mult = 4;
	c->suspicion_max_mult = 6;
	c->indirect_checks = 3;
	c->gossip_interval_ms = 200;
	c->gossip_nodes = 3;
	c->gossip_to_dead_ms = 30000;
	c->retransmit_mult = 4;
	c->push_pull_interval_ms = 30000;
	c->awareness_max = 8;
	c->reconnect_interval_ms = 30000;
	c->dead_reap_ms = 24ULL * 3600 * 1000;
	c->packet_max = SWIM_PACKET_MAX;
	c->tcp_fallback = 1;
	c->lifeguard = 1;
}

int swim_vec_grow(void **v, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(*v, ncap * elem);

	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

uint64_t swim_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t swim_now(const struct swim *s)
{
	return s->t.ops->now_ms(s->t.ctx);
}

uint64_t swim_rand(struct swim *s, uint64_t bound)
{
	return bound ? s->t.ops->random(s->t.ctx) % bound : 0;
}

/* ---- member table ---- */

static size_t name_hash(const struct swim_name *n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n->len; i++)
		h = (h ^ (uint8_t)n->s[i]) * 1099511628211ULL;
	return (size_t)h;
}

struct swim_member *swim_m_find(const struct swim *s, const struct swim_name *name)
{
	struct swim_member *m = s->buckets[name_hash(name) & (s->nbuckets - 1)];

	while (m && !swim_name_eq(&m->name, name))
		m = m->hnext;
	return m;
}

static int rehash(struct swim *s)
{
	size_t nb = s->nbuckets * 2;
	struct swim_member **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->members.n; i++) {
		struct swim_member *m = s->members.v[i];
		size_t h = name_hash(&m->name) & (nb - 1);

		m->hnext = b[h];
		b[h] = m;
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
	return 0;
}

static struct swim_member *member_add(struct swim *s, const struct swim_name *name,
				      const struct swim_addr *addr, uint32_t inc)
{
	struct swim_member *m;
	size_t h;

	if (s->members.n >= s->nbuckets && rehash(s) < 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (swim_vec_push(&s->members, m) < 0) {
		free(m);
		return NULL;
	}
	m->name = *name;
	m->addr = *addr;
	m->incarnation = inc;
	m->status = SWIM_ALIVE;
	m->status_since = swim_now(s);
	m->index = s->members.n - 1;
	h = name_hash(name) & (s->nbuckets - 1);
	m->hnext = s->buckets[h];
	s->buckets[h] = m;
	s->nlive++;
	return m;
}

static void suspects_remove(struct swim *s, struct swim_member *m)
{
	for (size_t i = 0; i < s->suspects.n; i++)
		if (s->suspects.v[i] == m) {
			s->suspects.v[i] = s->suspects.v[--s->suspects.n];
			break;
		}
	free(m->susp);
	m->susp = NULL;
}

static void member_remove(struct swim *s, struct swim_member *m)
{
	struct swim_member **pp = &s->buckets[name_hash(&m->name) & (s->nbuckets - 1)];
	struct swim_member *last = s->members.v[--s->members.n];

	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	last->index = m->index;
	s->members.v[m->index] = last;
	swim_probe_list_remove(s, m);
	swim_q_forget(s, m);
	if (m->susp)
		suspects_remove(s, m);
	if (m->status == SWIM_ALIVE || m->status == SWIM_SUSPECT)
		s->nlive--;
	free(m->state);
	free(m);
}

void swim_m_info(const struct swim_member *m, struct swim_member_info *out)
{
	out->name = m->name.s;
	out->addr = m->addr;
	out->incarnation = m->incarnation;
	out->status = (enum swim_status)m->status;
	out->status_since_ms = m->status_since;
	out->state_version = m->state_version;
	out->state = m->state;
	out->state_len = m->state_len;
	out->is_self = m->is_self;
}

void swim_m_notify(struct swim *s, struct swim_member *m, enum swim_event_type type)
{
	struct swim_member_info info;
	struct swim_event ev = { type, &info };

	if (!s->cfg.on_event)
		return;
	swim_m_info(m, &info);
	s->cfg.on_event(s->cfg.event_arg, &ev);
}

static bool is_live(uint8_t status)
{
	return status == SWIM_ALIVE || status == SWIM_SUSPECT;
}

static void set_status(struct swim *s, struct swim_member *m, uint8_t status)
{
	if (is_live(m->status) && !is_live(status))
		s->nlive--;
	else if (!is_live(m->status) && is_live(status))
		s->nlive++;
	if (m->susp && status != SWIM_SUSPECT)
		suspects_remove(s, m);
	m->status = status;
	m->status_since = swim_now(s);
}

/* ---- Lifeguard suspicion ---- */

static uint64_t susp_timeout(const struct swim_suspicion *sp)
{
	double frac, t;

	if (sp->k == 0)
		return sp->min_ms;
	frac = log((double)sp->confirmations + 1) / log((double)sp->k + 1);
	t = (double)sp->max_ms - ((double)sp->max_ms - (double)sp->min_ms) * frac;
	return t < (double)sp->min_ms ? sp->min_ms : (uint64_t)t;
}

/* Lifeguard's K = mult - 2 independent confirmations, capped by the members
 * that could give one (all but this node and the suspect).  memberlist drops
 * K to 0 when fewer than K could confirm, which at N=3 lets one member's
 * lone suspicion kill a healthy peer after Min; capping keeps the Max start
 * for a lone accuser and still reaches Min once the other member agrees. */
static uint32_t susp_k(const struct swim *s)
{
	uint32_t k = s->cfg.suspicion_mult > 2 ? s->cfg.suspicion_mult - 2 : 0;
	size_t others = s->nlive > 2 ? s->nlive - 2 : 0;

	return others < k ? (uint32_t)others : k;
}

static int susp_start(struct swim *s, struct swim_member *m, const struct swim_name *from)
{
	struct swim_suspicion *sp = calloc(1, sizeof(*sp));
	double n = (double)s->nlive, scale = log10(n < 1 ? 1 : n);

	if (!sp || swim_vec_push(&s->suspects, m) < 0) {
		free(sp);
		return -ENOMEM;
	}
	sp->start = swim_now(s);
	sp->min_ms = (uint64_t)(s->cfg.suspicion_mult * (scale < 1 ? 1 : scale) *
				s->cfg.probe_interval_ms);
	sp->max_ms = sp->min_ms * s->cfg.suspicion_max_mult;
	sp->k = s->cfg.lifeguard ? susp_k(s) : 0;
	sp->accusers[0] = *from;
	sp->naccusers = 1;
	sp->deadline = sp->start + susp_timeout(sp);
	m->susp = sp;
	return 0;
}

/* A new independent accuser shortens the timer; true if it counted. */
static bool susp_confirm(struct swim_suspicion *sp, const struct swim_name *from)
{
	if (sp->confirmations >= sp->k || sp->naccusers >= SWIM_MAX_CONFIRMERS)
		return false;
	for (uint32_t i = 0; i < sp->naccusers; i++)
		if (swim_name_eq(&sp->accusers[i], from))
			return false;
	sp->accusers[sp->naccusers++] = *from;
	sp->confirmations++;
	sp->deadline = sp->start + susp_timeout(sp);
	return true;
}

static void accuse_msg(struct swim_msg *out, uint8_t type, const struct swim_member *m,
		       const struct swim_name *from)
{
	memset(out, 0, sizeof(*out));
	out->type = type;
	out->incarnation = m->incarnation;
	out->node = m->name;
	out->from = *from;
}

static void alive_msg(struct swim_msg *out, const struct swim_member *m)
{
	memset(out, 0, sizeof(*out));
	out->type = SWIM_MSG_ALIVE;
	out->incarnation = m->incarnation;
	out->node = m->name;
	out->addr = m->addr;
}

void swim_broadcast_self_alive(struct swim *s)
{
	struct swim_msg msg;

	alive_msg(&msg, s->self);
	swim_q_put(s, SWIM_BC_MEMBER, s->self, &msg);
}

static void refute(struct swim *s, uint32_t accused_inc)
{
	if (accused_inc >= s->self->incarnation)
		s->self->incarnation = accused_inc + 1;
	else
		s->self->incarnation++;
	s->stats.refutations++;
	swim_awareness_add(s, 1);
	swim_broadcast_self_alive(s);
}

void swim_suspect_member(struct swim *s, struct swim_member *m)
{
	struct swim_msg msg;

	accuse_msg(&msg, SWIM_MSG_SUSPECT, m, &s->self->name);
	s->stats.suspects_raised++;
	swim_handle_suspect(s, &msg);
}

static void declare_dead(struct swim *s, struct swim_member *m)
{
	struct swim_msg msg;

	accuse_msg(&msg, SWIM_MSG_DEAD, m, &s->self->name);
	s->stats.deaths_declared++;
	swim_handle_dead(s, &msg);
}

void swim_check_suspicions(struct swim *s, uint64_t now)
{
	for (size_t i = 0; i < s->suspects.n;) {
		struct swim_member *m = s->suspects.v[i];

		if (now >= m->susp->deadline)
			declare_dead(s, m); /* removes it from suspects */
		else
			i++;
	}
}

uint64_t swim_suspicion_next(const struct swim *s)
{
	uint64_t t = UINT64_MAX;

	for (size_t i = 0; i < s->suspects.n; i++)
		if (s->suspects.v[i]->susp->deadline < t)
			t = s->suspects.v[i]->susp->deadline;
	return t;
}

/* ---- membership rules ---- */

static void alive_new(struct swim *s, const struct swim_msg *msg)
{
	struct swim_member *m = member_add(s, &msg->node, &msg->addr, msg->incarnation);

	if (!m)
		return;
	swim_probe_list_insert(s, m);
	swim_q_put(s, SWIM_BC_MEMBER, m, msg);
	swim_m_notify(s, m, SWIM_EV_JOIN);
}

void swim_handle_alive(struct swim *s, const struct swim_msg *msg)
{
	struct swim_member *m = swim_m_find(s, &msg->node);
	uint8_t old;

	if (!m) {
		alive_new(s, msg);
		return;
	}
	if (m->is_self) {
		if (!s->leaving && msg->incarnation > m->incarnation)
			refute(s, msg->incarnation);
		return;
	}
	if (msg->incarnation <= m->incarnation)
		return;
	old = m->status;
	m->incarnation = msg->incarnation;
	m->addr = msg->addr;
	if (old != SWIM_ALIVE)
		set_status(s, m, SWIM_ALIVE);
	swim_q_put(s, SWIM_BC_MEMBER, m, msg);
	if (old != SWIM_ALIVE)
		swim_m_notify(s, m, SWIM_EV_ALIVE);
}

void swim_handle_suspect(struct swim *s, const struct swim_msg *msg)
{
	struct swim_member *m = swim_m_find(s, &msg->node);

	if (!m || msg->incarnation < m->incarnation)
		return;
	if (m->is_self) {
		if (!s->leaving)
			refute(s, msg->incarnation);
		return;
	}
	if (m->status == SWIM_DEAD || m->status == SWIM_LEFT)
		return;
	if (m->status == SWIM_SUSPECT) {
		if (msg->incarnation > m->incarnation)
			m->incarnation = msg->incarnation;
		if (s->cfg.lifeguard && susp_confirm(m->susp, &msg->from))
			swim_q_put(s, SWIM_BC_MEMBER, m, msg);
		return;
	}
	m->incarnation = msg->incarnation;
	set_status(s, m, SWIM_SUSPECT);
	if (susp_start(s, m, &msg->from) < 0)
		return;
	swim_q_put(s, SWIM_BC_MEMBER, m, msg);
	swim_m_notify(s, m, SWIM_EV_SUSPECT);
}

void swim_handle_dead(struct swim *s, const struct swim_msg *msg)
{
	struct swim_member *m = swim_m_find(s, &msg->node);
	bool left = swim_name_eq(&msg->node, &msg->from);

	if (!m || msg->incarnation < m->incarnation)
		return;
	if (m->is_self) {
		if (!s->leaving)
			refute(s, msg->incarnation);
		return;
	}
	if (m->status == SWIM_LEFT || (m->status == SWIM_DEAD && !left))
		return;
	m->incarnation = msg->incarnation;
	set_status(s, m, left ? SWIM_LEFT : SWIM_DEAD);
	swim_q_put(s, SWIM_BC_MEMBER, m, msg);
	swim_m_notify(s, m, left ? SWIM_EV_LEFT : SWIM_EV_DEAD);
}

static int store_state(struct swim_member *m, uint64_t version, const uint8_t *data, size_t len)
{
	uint8_t *copy = NULL;

	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	free(m->state);
	m->state = copy;
	m->state_len = (uint16_t)len;
	m->state_version = version;
	return 0;
}

static void broadcast_state(struct swim *s, struct swim_member *m)
{
	struct swim_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = SWIM_MSG_STATE;
	msg.state.node = m->name;
	msg.state.version = m->state_version;
	msg.state.len = m->state_len;
	msg.state.data = m->state;
	swim_q_put(s, SWIM_BC_STATE, m, &msg);
}

void swim_handle_state(struct swim *s, const struct swim_state_rec *r, bool gossip)
{
	struct swim_member *m = swim_m_find(s, &r->node);

	if (!m)
		return;
	if (m->is_self) {
		/* The cluster remembers a newer record of ours, or another one
		 * under our version (we restarted): continue above it. */
		if (r->version > m->state_version ||
		    (r->version == m->state_version && r->version > 0 && r->data &&
		     (r->len != m->state_len || memcmp(r->data, m->state, r->len) != 0))) {
			m->state_version = r->version + 1;
			broadcast_state(s, m);
		}
		return;
	}
	if (r->version <= m->state_version || store_state(m, r->version, r->data, r->len) < 0)
		return;
	if (gossip)
		broadcast_state(s, m);
	swim_m_notify(s, m, SWIM_EV_STATE);
}

bool swim_gossip_target(const struct swim *s, const struct swim_member *m, uint64_t now)
{
	if (is_live(m->status))
		return true;
	return m->status == SWIM_DEAD && now - m->status_since < s->cfg.gossip_to_dead_ms;
}

void swim_reap(struct swim *s, uint64_t now)
{
	for (size_t i = 0; i < s->members.n;) {
		struct swim_member *m = s->members.v[i];

		if (!m->is_self && !is_live(m->status) && now - m->status_since >= s->cfg.dead_reap_ms) {
			swim_m_notify(s, m, SWIM_EV_REAPED);
			member_remove(s, m);
		} else {
			i++;
		}
	}
}

/* ---- packets ---- */

typedef void (*msg_handler)(struct swim *s, const struct swim_addr *from, const struct swim_msg *m);

static void on_ping(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	swim_probe_on_ping(s, from, m);
}

static void on_ping_req(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	swim_probe_on_ping_req(s, from, m);
}

static void on_ack(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	(void)from;
	swim_probe_on_ack(s, m->seq, false);
}

static void on_nack(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	(void)from;
	swim_probe_on_nack(s, m->seq);
}

static void on_suspect(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	(void)from;
	swim_handle_suspect(s, m);
}

static void on_alive(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	(void)from;
	swim_handle_alive(s, m);
}

static void on_dead(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	(void)from;
	swim_handle_dead(s, m);
}

static void on_state(struct swim *s, const struct swim_addr *from, const struct swim_msg *m)
{
	(void)from;
	swim_handle_state(s, &m->state, true);
}

static const msg_handler handlers[] = {
	[SWIM_MSG_PING] = on_ping,       [SWIM_MSG_PING_REQ] = on_ping_req,
	[SWIM_MSG_ACK] = on_ack,         [SWIM_MSG_NACK] = on_nack,
	[SWIM_MSG_SUSPECT] = on_suspect, [SWIM_MSG_ALIVE] = on_alive,
	[SWIM_MSG_DEAD] = on_dead,       [SWIM_MSG_STATE] = on_state,
};

/* Whole packet checked before any message acts, so a bad tail changes nothing. */
static int packet_valid(const uint8_t *buf, size_t len)
{
	struct swim_reader r;
	struct swim_msg m;
	int rc = swim_reader_init(&r, buf, len);

	while (rc == 0 && (rc = swim_reader_next(&r, &m)) == 1)
		if (m.type >= ARRAY_SIZE(handlers) || !handlers[m.type])
			return -EBADMSG;
	return rc;
}

void swim_on_packet(struct swim *s, const struct swim_addr *from, const uint8_t *buf, size_t len)
{
	struct swim_reader r;
	struct swim_msg m;
	int n;

	s->stats.udp_recv++;
	s->stats.udp_recv_bytes += len;
	if (s->cfg.keyring && keyring_count(s->cfg.keyring)) {
		n = keyring_open(s->cfg.keyring, buf, len, s->rx, RX_MAX);
		if (n < 0) {
			s->stats.drop_decrypt++;
			return;
		}
		buf = s->rx;
		len = (size_t)n;
	}
	if (packet_valid(buf, len) < 0) {
		s->stats.drop_malformed++;
		return;
	}
	swim_reader_init(&r, buf, len);
	while (swim_reader_next(&r, &m) == 1)
		handlers[m.type](s, from, &m);
}

/* ---- API ---- */

static int check_config(const struct swim_config *c, char *err, size_t errlen)
{
	struct swim_name n;
	const char *why = NULL;

	if (swim_name_set(&n, c->name) < 0)
		why = "node name must be 1..64 bytes";
	else if (c->addr.family != 4 && c->addr.family != 6)
		why = "address family must be IPv4 or IPv6";
	else if (!c->probe_interval_ms || !c->probe_timeout_ms ||
		 c->probe_timeout_ms >= c->probe_interval_ms)
		why = "probe timeout must be shorter than the probe interval";
	else if (!c->gossip_interval_ms || !c->suspicion_mult || !c->suspicion_max_mult ||
		 !c->retransmit_mult || !c->awareness_max)
		why = "intervals and multipliers must be positive";
	else if (c->packet_max < 256 || c->packet_max > SWIM_PACKET_MAX)
		why = "packet_max must be 256..1400";
	if (why)
		snprintf(err, errlen, "%s", why);
	return why ? -EINVAL : 0;
}

static void init_timers(struct swim *s)
{
	uint64_t now = swim_now(s);

	/* Random phases keep a cluster started at once from probing in step. */
	s->next_probe = now + swim_rand(s, s->cfg.probe_interval_ms);
	s->next_gossip = now + swim_rand(s, s->cfg.gossip_interval_ms);
	s->next_pushpull = s->cfg.push_pull_interval_ms
				   ? now + s->cfg.push_pull_interval_ms / 2 +
					     swim_rand(s, s->cfg.push_pull_interval_ms)
				   : UINT64_MAX;
	s->next_reconnect = s->cfg.reconnect_interval_ms
				    ? now + s->cfg.reconnect_interval_ms / 2 +
					      swim_rand(s, s->cfg.reconnect_interval_ms)
				    : UINT64_MAX;
}

struct swim *swim_new(const struct swim_config *cfg, const struct swim_transport *t,
		      char *err, size_t errlen)
{
	struct swim *s;
	struct swim_name name;

	if (check_config(cfg, err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->cfg = *cfg;
	s->t = *t;
	s->nbuckets = 16;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->rx = malloc(RX_MAX);
	swim_name_set(&name, cfg->name);
	if (!s->buckets || !s->rx || !(s->self = member_add(s, &name, &cfg->addr, cfg->incarnation)))
		goto free_swim;
	s->self->is_self = true;
	util_strlcpy(s->name_buf, cfg->name, sizeof(s->name_buf));
	s->cfg.name = s->name_buf;
	init_timers(s);
	swim_broadcast_self_alive(s);
	return s;
free_swim:
	swim_free(s);
nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void swim_free(struct swim *s)
{
	if (!s)
		return;
	while (s->members.n)
		member_remove(s, s->members.v[s->members.n - 1]);
	swim_q_free(s);
	free(s->members.v);
	free(s->probe_list.v);
	free(s->suspects.v);
	free(s->relays.v);
	free(s->streams.v);
	free(s->buckets);
	free(s->rx);
	free(s);
}

int swim_join(struct swim *s, const struct swim_addr *addr)
{
	return swim_sync_start(s, addr, true);
}

int swim_add_member(struct swim *s, const char *name, const struct swim_addr *addr)
{
	struct swim_name n;
	struct swim_member *m;

	if (swim_name_set(&n, name) < 0 || (addr->family != 4 && addr->family != 6))
		return -EINVAL;
	if (swim_m_find(s, &n))
		return -EEXIST;
	m = member_add(s, &n, addr, 0);
	if (!m)
		return -ENOMEM;
	swim_probe_list_insert(s, m);
	swim_m_notify(s, m, SWIM_EV_JOIN);
	return 0;
}

int swim_leave(struct swim *s)
{
	struct swim_msg msg;
	uint64_t now = swim_now(s);

	if (s->leaving)
		return 0;
	accuse_msg(&msg, SWIM_MSG_DEAD, s->self, &s->self->name);
	s->leaving = true;
	set_status(s, s->self, SWIM_LEFT);
	swim_q_put(s, SWIM_BC_MEMBER, s->self, &msg);
	s->next_gossip = now;
	swim_gossip_tick(s, now);
	return 0;
}

int swim_set_local_state(struct swim *s, const void *data, size_t len)
{
	int rc;

	if (len > SWIM_STATE_MAX)
		return -EMSGSIZE;
	rc = store_state(s->self, s->self->state_version + 1, data, len);
	if (rc < 0)
		return rc;
	broadcast_state(s, s->self);
	return 0;
}

void swim_tick(struct swim *s)
{
	uint64_t now = swim_now(s);

	swim_probe_tick(s, now);
	swim_check_suspicions(s, now);
	swim_gossip_tick(s, now);
	swim_sync_tick(s, now);
}

uint64_t swim_next_deadline(const struct swim *s)
{
	uint64_t t = swim_probe_next(s), u = swim_suspicion_next(s);

	if (u < t)
		t = u;
	if (s->next_gossip < t)
		t = s->next_gossip;
	if (s->next_pushpull < t)
		t = s->next_pushpull;
	if (s->next_reconnect < t)
		t = s->next_reconnect;
	return t;
}

size_t swim_member_count(const struct swim *s)
{
	return s->members.n;
}

int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out)
{
	if (i >= s->members.n)
		return -ENOENT;
	swim_m_info(s->members.v[i], out);
	return 0;
}

int swim_member_get(const struct swim *s, const char *name, struct swim_member_info *out)
{
	struct swim_name n;
	struct swim_member *m;

	if (swim_name_set(&n, name) < 0 || !(m = swim_m_find(s, &n)))
		return -ENOENT;
	swim_m_info(m, out);
	return 0;
}

void swim_get_stats(const struct swim *s, struct swim_stats *out)
{
	*out = s->stats;
	out->awareness = s->awareness;
	out->members = (uint32_t)s->members.n;
	out->alive = (uint32_t)s->nlive;
}

const char *swim_self_name(const struct swim *s)
{
	return s->self->name.s;
}
