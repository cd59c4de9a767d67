/* Tests for the SWIM state machine (cluster/swim*.c) over the in-memory
 * transport: convergence, refutation, stale incarnations, suspicion timeouts,
 * the buddy system, indirect and stream probes, loss, partitions, restarts,
 * node records and encryption.  Every run is seeded and simulated. */
#include "cluster/keyring.h"
#include "cluster/swim.h"
#include "cluster/transport_in_memory.h"
#include "tests/unit/test.h"

#include <stdio.h>
#include <stdlib.h>

#define MAXN 16

struct cl {
	struct swim_net *net;
	struct swim *s[MAXN];
	struct swim_addr addr[MAXN];
	int n;
	int events[MAXN][SWIM_EV_REAPED + 1];
	int dead_seen[MAXN][MAXN]; /* [observer][subject] */
	struct keyring *kr[MAXN];
};

struct obs {
	struct cl *c;
	int i;
};

static struct obs observers[MAXN];

static int node_index(const char *name)
{
	return atoi(name + 4);
}

static void on_event(void *arg, const struct swim_event *ev)
{
	struct obs *o = arg;

	o->c->events[o->i][ev->type]++;
	if (ev->type == SWIM_EV_DEAD)
		o->c->dead_seen[o->i][node_index(ev->member->name)]++;
}

static void node_config(struct cl *c, int i, struct swim_config *cfg, char *name)
{
	swim_config_default(cfg);
	sprintf(name, "node%d", i);
	cfg->name = name;
	cfg->addr = c->addr[i];
	cfg->keyring = c->kr[i];
	observers[i] = (struct obs){ c, i };
	cfg->on_event = on_event;
	cfg->event_arg = &observers[i];
}

static struct swim *node_start(struct cl *c, int i, void (*tweak)(struct swim_config *))
{
	struct swim_config cfg;
	struct swim_transport t = swim_net_transport(c->net, i);
	char name[16], err[128];
	struct swim *s;

	node_config(c, i, &cfg, name);
	if (tweak)
		tweak(&cfg);
	s = swim_new(&cfg, &t, err, sizeof(err));
	CHECK(s != NULL);
	c->s[i] = s;
	swim_net_bind(c->net, i, s);
	return s;
}

static void cl_init(struct cl *c, int n, uint64_t seed)
{
	char a[32];

	memset(c, 0, sizeof(*c));
	c->net = swim_net_new(seed);
	c->n = n;
	for (int i = 0; i < n; i++) {
		sprintf(a, "10.0.0.%d:7946", i + 1);
		swim_addr_parse(a, &c->addr[i]);
		CHECK_INT(swim_net_add(c->net, &c->addr[i]), i);
	}
}

/* Starts N nodes; each joins node 0. */
static void cl_start(struct cl *c, int n, uint64_t seed, void (*tweak)(struct swim_config *))
{
	cl_init(c, n, seed);
	for (int i = 0; i < n; i++)
		node_start(c, i, tweak);
	for (int i = 1; i < n; i++)
		CHECK_INT(swim_join(c->s[i], &c->addr[0]), 0);
}

static void cl_free(struct cl *c)
{
	for (int i = 0; i < c->n; i++) {
		swim_free(c->s[i]);
		keyring_free(c->kr[i]);
	}
	swim_net_free(c->net);
}

static void run_for(struct cl *c, uint64_t ms)
{
	swim_net_run(c->net, swim_net_now(c->net) + ms);
}

/* Status of node J in node I's view, or -1 if unknown. */
static int view(struct cl *c, int i, int j)
{
	struct swim_member_info info;
	char name[16];

	sprintf(name, "node%d", j);
	if (swim_member_get(c->s[i], name, &info) < 0)
		return -1;
	return (int)info.status;
}

static uint32_t incarnation_seen(struct cl *c, int i, int j)
{
	struct swim_member_info info;
	char name[16];

	sprintf(name, "node%d", j);
	if (swim_member_get(c->s[i], name, &info) < 0)
		return 0;
	return info.incarnation;
}

/* Every node in [from, to) sees every node in [from, to) alive. */
static int all_alive(struct cl *c, int from, int to)
{
	for (int i = from; i < to; i++)
		for (int j = from; j < to; j++)
			if (view(c, i, j) != SWIM_ALIVE)
				return 0;
	return 1;
}

static int total_deaths(struct cl *c)
{
	int n = 0;

	for (int i = 0; i < c->n; i++)
		n += c->events[i][SWIM_EV_DEAD];
	return n;
}

static void feed(struct cl *c, int to, const struct swim_msg *m)
{
	uint8_t pkt[SWIM_PACKET_MAX];
	struct swim_writer w;

	swim_writer_init(&w, pkt, sizeof(pkt));
	CHECK_INT(swim_writer_add_msg(&w, m), 0);
	swim_on_packet(c->s[to], &c->addr[(to + 1) % c->n], pkt, swim_writer_finish(&w));
}

static struct swim_msg accuse(int type, int node, int from, uint32_t inc)
{
	struct swim_msg m;
	char a[16], b[16];

	memset(&m, 0, sizeof(m));
	sprintf(a, "node%d", node);
	sprintf(b, "node%d", from);
	m.type = (uint8_t)type;
	m.incarnation = inc;
	swim_name_set(&m.node, a);
	swim_name_set(&m.from, b);
	return m;
}

static void test_join_and_converge(void)
{
	struct cl c;
	struct swim_stats st;

	cl_start(&c, 8, 1, NULL);
	run_for(&c, 10000);
	CHECK(all_alive(&c, 0, 8));
	for (int i = 0; i < 8; i++)
		CHECK_INT(swim_member_count(c.s[i]), 8);
	swim_get_stats(c.s[3], &st);
	CHECK(st.probes > 0);
	CHECK_INT(st.alive, 8);
	CHECK_INT(total_deaths(&c), 0);
	cl_free(&c);
}

static void test_refute_false_suspicion(void)
{
	struct cl c;
	struct swim_msg m;
	struct swim_stats st;

	cl_start(&c, 4, 2, NULL);
	run_for(&c, 5000);
	CHECK(all_alive(&c, 0, 4));
	m = accuse(SWIM_MSG_SUSPECT, 1, 2, incarnation_seen(&c, 0, 1));
	feed(&c, 0, &m);
	CHECK_INT(view(&c, 0, 1), SWIM_SUSPECT);
	run_for(&c, 3000);
	swim_get_stats(c.s[1], &st);
	CHECK(st.refutations >= 1);
	CHECK(incarnation_seen(&c, 0, 1) >= 1);
	CHECK(all_alive(&c, 0, 4));
	CHECK_INT(total_deaths(&c), 0);
	cl_free(&c);
}

static void test_stale_incarnation_ignored(void)
{
	struct cl c;
	struct swim_msg m;

	cl_start(&c, 3, 3, NULL);
	run_for(&c, 5000);
	/* Bump node1 to incarnation >= 1 through a refutation. */
	m = accuse(SWIM_MSG_SUSPECT, 1, 2, 0);
	feed(&c, 1, &m);
	run_for(&c, 3000);
	CHECK(incarnation_seen(&c, 0, 1) >= 1);
	m = accuse(SWIM_MSG_SUSPECT, 1, 2, 0);
	feed(&c, 0, &m);
	CHECK_INT(view(&c, 0, 1), SWIM_ALIVE);
	m = accuse(SWIM_MSG_DEAD, 1, 2, 0);
	feed(&c, 0, &m);
	CHECK_INT(view(&c, 0, 1), SWIM_ALIVE);
	cl_free(&c);
}

static void test_suspicion_timeout_dead(void)
{
	struct cl c;

	cl_start(&c, 5, 4, NULL);
	run_for(&c, 5000);
	CHECK(all_alive(&c, 0, 5));
	swim_net_bind(c.net, 4, NULL); /* crash */
	run_for(&c, 60000);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(view(&c, i, 4), SWIM_DEAD);
		CHECK_INT(c.dead_seen[i][4], 1);
	}
	CHECK(all_alive(&c, 0, 4));
	CHECK_INT(total_deaths(&c), 4);
	cl_free(&c);
}

static void no_gossip(struct swim_config *cfg)
{
	cfg->gossip_interval_ms = 1000000;
	cfg->push_pull_interval_ms = 0;
}

/* The buddy system: the suspect hears of the suspicion in the probe itself
 * and refutes before any gossip round could have told it. */
static void test_buddy_refutes_at_once(void)
{
	struct cl c;
	struct swim_msg m;
	struct swim_stats st;

	cl_init(&c, 2, 5);
	node_start(&c, 0, no_gossip);
	node_start(&c, 1, no_gossip);
	swim_add_member(c.s[0], "node1", &c.addr[1]);
	swim_add_member(c.s[1], "node0", &c.addr[0]);
	/* Block datagrams so the suspicion cannot ride on any packet, then let
	 * node0's queue run out of retransmissions. */
	swim_net_block_udp(c.net, 1, true);
	m = accuse(SWIM_MSG_SUSPECT, 1, 0, 0);
	feed(&c, 0, &m);
	run_for(&c, 3000);
	swim_get_stats(c.s[1], &st);
	CHECK_INT(st.refutations, 0);
	CHECK_INT(view(&c, 0, 1), SWIM_SUSPECT);
	swim_net_block_udp(c.net, 1, false);
	run_for(&c, 1100); /* exactly one more probe */
	swim_get_stats(c.s[1], &st);
	CHECK_INT(st.refutations, 1);
	cl_free(&c);
}

static void no_tcp(struct swim_config *cfg)
{
	cfg->tcp_fallback = 0;
}

static void test_indirect_probe_when_direct_cut(void)
{
	struct cl c;
	struct swim_stats st;

	cl_start(&c, 5, 6, no_tcp);
	run_for(&c, 5000);
	swim_net_cut_udp(c.net, 0, 1, true);
	run_for(&c, 60000);
	swim_get_stats(c.s[0], &st);
	CHECK(st.indirect_rounds > 0);
	CHECK_INT(st.probes_failed, 0);
	CHECK_INT(view(&c, 0, 1), SWIM_ALIVE);
	CHECK_INT(view(&c, 1, 0), SWIM_ALIVE);
	CHECK_INT(total_deaths(&c), 0);
	cl_free(&c);
}

static void test_tcp_fallback(void)
{
	struct cl c;
	struct swim_stats st;

	cl_start(&c, 3, 7, NULL);
	run_for(&c, 5000);
	CHECK(all_alive(&c, 0, 3));
	swim_net_block_udp(c.net, 2, true);
	run_for(&c, 30000);
	swim_get_stats(c.s[0], &st);
	CHECK(st.stream_pings_ok > 0);
	CHECK_INT(st.probes_failed, 0);
	CHECK_INT(view(&c, 0, 2), SWIM_ALIVE);
	CHECK_INT(total_deaths(&c), 0);
	cl_free(&c);
}

static void test_loss_no_false_deaths(void)
{
	struct cl c;
	struct swim_stats st;
	int suspects = 0;

	cl_start(&c, 10, 8, NULL);
	run_for(&c, 10000);
	CHECK(all_alive(&c, 0, 10));
	swim_net_set_loss(c.net, 0.05);
	run_for(&c, 10 * 60 * 1000);
	CHECK_INT(total_deaths(&c), 0);
	CHECK(all_alive(&c, 0, 10));
	for (int i = 0; i < 10; i++)
		suspects += c.events[i][SWIM_EV_SUSPECT];
	CHECK(suspects < 10);
	swim_get_stats(c.s[0], &st);
	CHECK(st.probes > 550);
	cl_free(&c);
}

static void test_partition_heals(void)
{
	struct cl c;

	cl_start(&c, 8, 9, NULL);
	run_for(&c, 10000);
	CHECK(all_alive(&c, 0, 8));
	for (int i = 4; i < 8; i++)
		swim_net_set_group(c.net, i, 1);
	run_for(&c, 90000);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			CHECK_INT(view(&c, i, j), (i < 4) == (j < 4) ? SWIM_ALIVE : SWIM_DEAD);
	CHECK(all_alive(&c, 0, 4));
	CHECK(all_alive(&c, 4, 8));
	for (int i = 4; i < 8; i++)
		swim_net_set_group(c.net, i, 0);
	run_for(&c, 60000);
	CHECK(all_alive(&c, 0, 8));
	cl_free(&c);
}

static void test_restart_comes_back(void)
{
	struct cl c;
	uint32_t inc_dead;

	cl_start(&c, 4, 10, NULL);
	run_for(&c, 5000);
	swim_net_bind(c.net, 3, NULL);
	swim_free(c.s[3]);
	c.s[3] = NULL;
	run_for(&c, 60000);
	CHECK_INT(view(&c, 0, 3), SWIM_DEAD);
	inc_dead = incarnation_seen(&c, 0, 3);
	node_start(&c, 3, NULL); /* a new process, starting at incarnation 0 */
	CHECK_INT(swim_join(c.s[3], &c.addr[1]), 0);
	run_for(&c, 20000);
	CHECK(all_alive(&c, 0, 4));
	CHECK(incarnation_seen(&c, 0, 3) > inc_dead);
	CHECK(c.events[0][SWIM_EV_ALIVE] >= 1);
	cl_free(&c);
}

static void test_state_propagates_newer_wins(void)
{
	struct cl c;
	struct swim_member_info info;
	struct swim_msg m;

	cl_start(&c, 6, 11, NULL);
	run_for(&c, 5000);
	CHECK_INT(swim_set_local_state(c.s[2], "v1", 2), 0);
	CHECK_INT(swim_set_local_state(c.s[2], "version-2", 9), 0);
	run_for(&c, 3000);
	for (int i = 0; i < 6; i++) {
		CHECK_INT(swim_member_get(c.s[i], "node2", &info), 0);
		CHECK_INT(info.state_version, 2);
		CHECK(info.state_len == 9 && memcmp(info.state, "version-2", 9) == 0);
	}
	/* An older record arriving late changes nothing. */
	memset(&m, 0, sizeof(m));
	m.type = SWIM_MSG_STATE;
	swim_name_set(&m.state.node, "node2");
	m.state.version = 1;
	m.state.len = 2;
	m.state.data = (const uint8_t *)"v1";
	feed(&c, 0, &m);
	swim_member_get(c.s[0], "node2", &info);
	CHECK(info.state_len == 9 && memcmp(info.state, "version-2", 9) == 0);
	CHECK(c.events[0][SWIM_EV_STATE] >= 1);
	cl_free(&c);
}

/* A node that joins after the gossip died down gets records by push/pull. */
static void test_state_reaches_late_joiner(void)
{
	struct cl c;
	struct swim_member_info info;

	cl_init(&c, 4, 12);
	for (int i = 0; i < 3; i++)
		node_start(&c, i, NULL);
	swim_join(c.s[1], &c.addr[0]);
	swim_join(c.s[2], &c.addr[0]);
	swim_set_local_state(c.s[1], "rec-of-1", 8);
	run_for(&c, 20000);
	node_start(&c, 3, NULL);
	swim_join(c.s[3], &c.addr[2]);
	run_for(&c, 2000);
	CHECK_INT(swim_member_get(c.s[3], "node1", &info), 0);
	CHECK(info.state_len == 8 && memcmp(info.state, "rec-of-1", 8) == 0);
	cl_free(&c);
}

/* A restarted node starts its record at version 1 again; it must still win. */
static void test_state_after_restart_wins(void)
{
	struct cl c;
	struct swim_member_info info;

	cl_start(&c, 3, 13, NULL);
	run_for(&c, 3000);
	for (int k = 0; k < 5; k++)
		swim_set_local_state(c.s[2], "old", 3);
	run_for(&c, 5000);
	swim_net_bind(c.net, 2, NULL);
	swim_free(c.s[2]);
	node_start(&c, 2, NULL);
	swim_join(c.s[2], &c.addr[0]);
	swim_set_local_state(c.s[2], "new", 3);
	run_for(&c, 10000);
	CHECK_INT(swim_member_get(c.s[0], "node2", &info), 0);
	CHECK(info.state_len == 3 && memcmp(info.state, "new", 3) == 0);
	CHECK(info.state_version > 5);
	cl_free(&c);
}

static void test_wrong_key_dropped(void)
{
	struct cl c;
	uint8_t good[KEYRING_KEY_LEN], bad[KEYRING_KEY_LEN];
	struct swim_stats st;
	struct keyring_stats ks;

	memset(good, 7, sizeof(good));
	memset(bad, 8, sizeof(bad));
	cl_init(&c, 4, 14);
	for (int i = 0; i < 4; i++) {
		c.kr[i] = keyring_new();
		keyring_install(c.kr[i], i < 3 ? good : bad);
		node_start(&c, i, NULL);
	}
	for (int i = 1; i < 4; i++)
		swim_join(c.s[i], &c.addr[0]);
	/* The intruder also knows everyone's address and probes them. */
	for (int i = 0; i < 3; i++) {
		char name[16];

		sprintf(name, "node%d", i);
		swim_add_member(c.s[3], name, &c.addr[i]);
	}
	run_for(&c, 20000);
	CHECK(all_alive(&c, 0, 3));
	for (int i = 0; i < 3; i++)
		CHECK_INT(view(&c, i, 3), -1);
	swim_get_stats(c.s[0], &st);
	keyring_get_stats(c.kr[0], &ks);
	CHECK(st.drop_decrypt > 0);
	CHECK(ks.drop_auth > 0);
	cl_free(&c);
}

/* Install, use, remove: the cluster changes keys without dropping a packet. */
static void test_key_rotation_live(void)
{
	struct cl c;
	uint8_t k1[KEYRING_KEY_LEN], k2[KEYRING_KEY_LEN];
	struct swim_stats st;

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	cl_init(&c, 4, 18);
	for (int i = 0; i < 4; i++) {
		c.kr[i] = keyring_new();
		keyring_install(c.kr[i], k1);
		node_start(&c, i, NULL);
	}
	for (int i = 1; i < 4; i++)
		swim_join(c.s[i], &c.addr[0]);
	run_for(&c, 5000);
	for (int i = 0; i < 4; i++)
		CHECK_INT(keyring_install(c.kr[i], k2), 0);
	run_for(&c, 3000);
	CHECK_INT(keyring_use(c.kr[0], k2), 0); /* one node switches first */
	run_for(&c, 5000);
	for (int i = 1; i < 4; i++)
		keyring_use(c.kr[i], k2);
	for (int i = 0; i < 4; i++)
		CHECK_INT(keyring_remove(c.kr[i], k1), 0);
	run_for(&c, 30000);
	CHECK(all_alive(&c, 0, 4));
	CHECK_INT(total_deaths(&c), 0);
	for (int i = 0; i < 4; i++) {
		swim_get_stats(c.s[i], &st);
		CHECK_INT(st.drop_decrypt, 0);
	}
	cl_free(&c);
}

static void test_leave(void)
{
	struct cl c;

	cl_start(&c, 4, 15, NULL);
	run_for(&c, 5000);
	swim_leave(c.s[3]);
	run_for(&c, 3000);
	for (int i = 0; i < 3; i++)
		CHECK_INT(view(&c, i, 3), SWIM_LEFT);
	CHECK_INT(c.events[0][SWIM_EV_LEFT], 1);
	CHECK_INT(total_deaths(&c), 0);
	cl_free(&c);
}

static void test_short_stall_survives(void)
{
	struct cl c;

	cl_start(&c, 6, 16, NULL);
	run_for(&c, 5000);
	swim_net_stall(c.net, 5, swim_net_now(c.net) + 2500);
	run_for(&c, 30000);
	CHECK_INT(total_deaths(&c), 0);
	CHECK(all_alive(&c, 0, 6));
	cl_free(&c);
}

/* Lifeguard: a node that handles its input late raises its local health
 * multiplier instead of declaring healthy peers dead. */
static void test_slow_node_lifeguard(void)
{
	struct cl c;
	struct swim_stats st;
	int healthy_dead = 0;

	cl_start(&c, 8, 17, NULL);
	run_for(&c, 5000);
	swim_net_slow(c.net, 0, swim_net_now(c.net) + 60000, 3000);
	run_for(&c, 20000);
	swim_get_stats(c.s[0], &st);
	CHECK(st.awareness > 0);
	run_for(&c, 120000);
	for (int i = 0; i < 8; i++)
		for (int j = 1; j < 8; j++)
			healthy_dead += c.dead_seen[i][j];
	CHECK_INT(healthy_dead, 0);
	swim_get_stats(c.s[0], &st);
	CHECK_INT(st.awareness, 0); /* healthy again: the multiplier came back down */
	CHECK(all_alive(&c, 0, 8));
	cl_free(&c);
}

/* What node 0 sends, seen through the transport's tap: the targets of its
 * probes in order, and when it sent its last probe and indirect probe. */
struct tap_log {
	int targets[64];
	int n;
	uint64_t last_ping_at, last_req_at;
	int last_ping_to;
	struct swim_net *net;
};

static void tap_node0(void *arg, int from, int to, const uint8_t *buf, size_t len)
{
	struct tap_log *t = arg;
	struct swim_reader r;
	struct swim_msg m;

	if (from != 0 || swim_reader_init(&r, buf, len) < 0)
		return;
	while (swim_reader_next(&r, &m) == 1) {
		if (m.type == SWIM_MSG_PING && t->n < 64)
			t->targets[t->n++] = to;
		if (m.type == SWIM_MSG_PING) {
			t->last_ping_at = swim_net_now(t->net);
			t->last_ping_to = to;
		}
		if (m.type == SWIM_MSG_PING_REQ)
			t->last_req_at = swim_net_now(t->net);
	}
}

/* Round robin: a reshuffled pass never starts with the member that closed
 * the last one, so at N=3 each member is probed every other period, and at
 * N=5 every member is probed within any 7 periods (SWIM's 2n-1 bound). */
static void probe_order_run(int n, uint64_t seed, struct tap_log *t)
{
	struct cl c;

	cl_start(&c, n, seed, NULL);
	run_for(&c, 5000);
	CHECK(all_alive(&c, 0, n));
	t->net = c.net;
	swim_net_set_tap(c.net, tap_node0, t);
	run_for(&c, 40000);
	cl_free(&c);
}

static void test_probe_order_round_robin(void)
{
	struct tap_log t = { .net = NULL };

	probe_order_run(3, 19, &t);
	CHECK(t.n >= 30);
	for (int i = 1; i < t.n; i++)
		CHECK(t.targets[i] != t.targets[i - 1]);
	memset(&t, 0, sizeof(t));
	probe_order_run(5, 24, &t);
	CHECK(t.n >= 30);
	for (int i = 1; i < t.n; i++)
		CHECK(t.targets[i] != t.targets[i - 1]);
	for (int i = 0; i + 7 <= t.n; i++) {
		int seen[5] = { 0 };

		for (int k = i; k < i + 7; k++)
			seen[t.targets[k]] = 1;
		CHECK_INT(seen[1] + seen[2] + seen[3] + seen[4], 4);
	}
}

/* The local health multiplier stretches the probe period but, as in
 * memberlist, not the wait for the direct ack before indirect probes. */
static void test_awareness_keeps_direct_timeout(void)
{
	struct cl c;
	struct tap_log t = { .net = NULL };
	struct swim_stats st;
	struct swim_msg m;

	cl_start(&c, 3, 20, no_tcp);
	run_for(&c, 5000);
	t.net = c.net;
	swim_net_set_tap(c.net, tap_node0, &t);
	swim_net_cut_udp(c.net, 0, 1, true);
	for (int k = 0; k < 4; k++) { /* each refutation adds one */
		m = accuse(SWIM_MSG_SUSPECT, 0, 2, incarnation_seen(&c, 1, 0) + (uint32_t)k);
		feed(&c, 0, &m);
	}
	swim_get_stats(c.s[0], &st);
	CHECK_INT(st.awareness, 4);
	for (int i = 0; i < 1000 && (t.last_ping_to != 1 || t.last_req_at < t.last_ping_at); i++)
		run_for(&c, 10);
	CHECK_INT(t.last_ping_to, 1);
	CHECK(t.last_req_at - t.last_ping_at >= 500);
	CHECK(t.last_req_at - t.last_ping_at < 600);
	swim_get_stats(c.s[0], &st);
	CHECK(st.awareness >= 3);
	CHECK_INT(view(&c, 0, 1), SWIM_ALIVE); /* the indirect ack came in time */
	cl_free(&c);
}

/* At N=3 the one other member can confirm a suspicion (K = min(2, N-2)):
 * a lone accuser's timer starts at Max and only a second accuser brings it
 * down to Min. */
static void test_lone_suspicion_n3_waits(void)
{
	struct cl c;
	struct swim_msg m;
	uint32_t inc;

	cl_start(&c, 3, 21, no_gossip);
	run_for(&c, 5000);
	CHECK(all_alive(&c, 0, 3));
	swim_net_block_udp(c.net, 1, true); /* node1 cannot hear the rumour */
	inc = incarnation_seen(&c, 0, 1);
	m = accuse(SWIM_MSG_SUSPECT, 1, 2, inc);
	feed(&c, 0, &m);
	CHECK_INT(view(&c, 0, 1), SWIM_SUSPECT);
	run_for(&c, 10000); /* Min is 4 s, Max 24 s */
	CHECK_INT(view(&c, 0, 1), SWIM_SUSPECT);
	feed(&c, 0, &m); /* the same accuser again counts once */
	run_for(&c, 1500); /* past node0's next timer */
	CHECK_INT(view(&c, 0, 1), SWIM_SUSPECT);
	m = accuse(SWIM_MSG_SUSPECT, 1, 0, inc);
	feed(&c, 0, &m);
	run_for(&c, 1500);
	CHECK_INT(view(&c, 0, 1), SWIM_DEAD);
	cl_free(&c);
}

/* A crash at N=3: both survivors accuse, so the timer still ends at Min. */
static void test_crash_n3_detected_at_min(void)
{
	struct cl c;
	uint64_t t0;

	cl_start(&c, 3, 22, NULL);
	run_for(&c, 5000);
	swim_net_bind(c.net, 2, NULL);
	t0 = swim_net_now(c.net);
	while (view(&c, 0, 2) != SWIM_DEAD && swim_net_now(c.net) < t0 + 60000)
		run_for(&c, 100);
	/* at most 2 periods to the first probe, 1 to fail it, then Min 4 s */
	CHECK(swim_net_now(c.net) - t0 <= 7200);
	run_for(&c, 2000);
	CHECK_INT(view(&c, 1, 2), SWIM_DEAD);
	cl_free(&c);
}

/* Lifeguard at N=3: a member that handles its input 2-8 s late is a third of
 * the cluster, yet its lone suspicions must not kill its healthy peers. */
static void test_slow_node_n3_kills_nobody(void)
{
	struct cl c;
	int healthy_dead = 0;

	cl_start(&c, 3, 23, NULL);
	run_for(&c, 5000);
	for (int k = 0; k < 10; k++) {
		swim_net_slow(c.net, 0, swim_net_now(c.net) + 15000, (uint32_t)(2000 + 600 * k));
		run_for(&c, 30000);
	}
	for (int i = 0; i < 3; i++)
		for (int j = 1; j < 3; j++)
			healthy_dead += c.dead_seen[i][j];
	CHECK_INT(healthy_dead, 0);
	CHECK(all_alive(&c, 0, 3));
	cl_free(&c);
}

static const struct test_case tests[] = {
	{ "join_and_converge", test_join_and_converge },
	{ "refute_false_suspicion", test_refute_false_suspicion },
	{ "stale_incarnation_ignored", test_stale_incarnation_ignored },
	{ "suspicion_timeout_dead", test_suspicion_timeout_dead },
	{ "buddy_refutes_at_once", test_buddy_refutes_at_once },
	{ "indirect_probe_when_direct_cut", test_indirect_probe_when_direct_cut },
	{ "tcp_fallback", test_tcp_fallback },
	{ "loss_no_false_deaths", test_loss_no_false_deaths },
	{ "partition_heals", test_partition_heals },
	{ "restart_comes_back", test_restart_comes_back },
	{ "state_propagates_newer_wins", test_state_propagates_newer_wins },
	{ "state_reaches_late_joiner", test_state_reaches_late_joiner },
	{ "state_after_restart_wins", test_state_after_restart_wins },
	{ "wrong_key_dropped", test_wrong_key_dropped },
	{ "key_rotation_live", test_key_rotation_live },
	{ "leave", test_leave },
	{ "short_stall_survives", test_short_stall_survives },
	{ "slow_node_lifeguard", test_slow_node_lifeguard },
	{ "probe_order_round_robin", test_probe_order_round_robin },
	{ "awareness_keeps_direct_timeout", test_awareness_keeps_direct_timeout },
	{ "lone_suspicion_n3_waits", test_lone_suspicion_n3_waits },
	{ "crash_n3_detected_at_min", test_crash_n3_detected_at_min },
	{ "slow_node_n3_kills_nobody", test_slow_node_n3_kills_nobody },
};

TEST_MAIN(tests)
