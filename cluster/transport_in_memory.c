/* In-memory SWIM transport: a binary heap of timed events (datagrams, stream
 * requests and replies, timer wake-ups) over a virtual clock, so thousands of
 * members simulate minutes of protocol time in seconds, reproducibly. */
#include "cluster/transport_in_memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum ev_kind { EV_WAKE, EV_UDP, EV_STREAM_REQ, EV_STREAM_REPLY };

struct ev {
	uint64_t at;
	uint64_t order; /* FIFO among equal times */
	uint8_t kind;
	bool failed;    /* EV_STREAM_REPLY without a reply */
	bool slowed;    /* already held back once by a slow receiver */
	int dst, src;
	uint64_t token;
	uint64_t sent_at;
	size_t len;
	uint8_t data[];
};

struct node {
	struct swim_net *net;
	int index;
	struct swim_addr addr;
	struct swim *swim;
	int group;
	bool udp_blocked;
	uint64_t stall_until;
	uint64_t slow_until;
	uint32_t slow_ms;
	uint64_t wake_at;
	uint64_t rng;
};

struct cut {
	int a, b;
};

struct swim_net {
	uint64_t now;
	uint64_t order;
	uint64_t rng;
	double loss;
	uint32_t delay_min, delay_max;
	uint32_t stream_timeout;
	uint64_t dropped;
	struct ev **heap;
	size_t nheap, capheap;
	struct node **nodes;
	size_t nnodes, capnodes;
	int *slots; /* address hash -> node index + 1 */
	size_t nslots;
	struct cut *cuts;
	size_t ncuts;
	swim_net_tap_fn tap;
	void *tap_arg;
};

static double uniform(struct swim_net *net)
{
	return (double)(swim_splitmix64(&net->rng) >> 11) / 9007199254740992.0;
}

/* ---- event heap ---- */

static bool ev_before(const struct ev *a, const struct ev *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct swim_net *net, struct ev *e)
{
	size_t i;

	if (net->nheap == net->capheap) {
		size_t cap = net->capheap ? net->capheap * 2 : 1024;
		struct ev **h = realloc(net->heap, cap * sizeof(*h));

		if (!h) {
			free(e);
			return;
		}
		net->heap = h;
		net->capheap = cap;
	}
	e->order = net->order++;
	i = net->nheap++;
	while (i > 0 && ev_before(e, net->heap[(i - 1) / 2])) {
		net->heap[i] = net->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	net->heap[i] = e;
}

static struct ev *heap_pop(struct swim_net *net)
{
	struct ev *top = net->heap[0], *last = net->heap[--net->nheap];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < net->nheap) {
		if (c + 1 < net->nheap && ev_before(net->heap[c + 1], net->heap[c]))
			c++;
		if (!ev_before(net->heap[c], last))
			break;
		net->heap[i] = net->heap[c];
		i = c;
	}
	if (net->nheap)
		net->heap[i] = last;
	return top;
}

static struct ev *ev_new(uint8_t kind, uint64_t at, int dst, int src, const uint8_t *data,
			 size_t len)
{
	struct ev *e = calloc(1, sizeof(*e) + len);

	if (!e)
		return NULL;
	e->kind = kind;
	e->at = at;
	e->dst = dst;
	e->src = src;
	e->len = len;
	if (len)
		memcpy(e->data, data, len);
	return e;
}

/* ---- address lookup ---- */

static size_t addr_hash(const struct swim_addr *a)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < 16; i++)
		h = (h ^ a->ip[i]) * 1099511628211ULL;
	h = (h ^ a->port) * 1099511628211ULL;
	return (size_t)(h ^ a->family);
}

static int find_node(const struct swim_net *net, const struct swim_addr *a)
{
	size_t i = addr_hash(a) & (net->nslots - 1);

	for (; net->slots[i]; i = (i + 1) & (net->nslots - 1))
		if (swim_addr_eq(&net->nodes[net->slots[i] - 1]->addr, a))
			return net->slots[i] - 1;
	return -1;
}

static int slots_grow(struct swim_net *net)
{
	size_t n = net->nslots ? net->nslots * 2 : 64;
	int *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	free(net->slots);
	net->slots = s;
	net->nslots = n;
	for (size_t k = 0; k < net->nnodes; k++) {
		size_t i = addr_hash(&net->nodes[k]->addr) & (n - 1);

		while (s[i])
			i = (i + 1) & (n - 1);
		s[i] = (int)k + 1;
	}
	return 0;
}

/* ---- reachability ---- */

static bool is_cut(const struct swim_net *net, int a, int b)
{
	for (size_t i = 0; i < net->ncuts; i++)
		if ((net->cuts[i].a == a && net->cuts[i].b == b) ||
		    (net->cuts[i].a == b && net->cuts[i].b == a))
			return true;
	return false;
}

static bool reachable(const struct swim_net *net, int a, int b)
{
	return net->nodes[a]->group == net->nodes[b]->group && net->nodes[b]->swim;
}

static uint64_t delay(struct swim_net *net)
{
	uint32_t span = net->delay_max - net->delay_min;

	return net->delay_min + (span ? swim_splitmix64(&net->rng) % (span + 1) : 0);
}

/* ---- transport ops ---- */

static int op_send_udp(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len)
{
	struct node *src = ctx;
	struct swim_net *net = src->net;
	int dst = find_node(net, to);
	struct ev *e;

	if (net->tap)
		net->tap(net->tap_arg, src->index, dst, buf, len);
	if (dst < 0 || src->udp_blocked || net->nodes[dst]->udp_blocked ||
	    is_cut(net, src->index, dst) || uniform(net) < net->loss) {
		net->dropped++;
		return 0;
	}
	e = ev_new(EV_UDP, net->now + delay(net), dst, src->index, buf, len);
	if (!e)
		return -ENOMEM;
	heap_push(net, e);
	return 0;
}

static int op_stream_request(void *ctx, const struct swim_addr *to, const uint8_t *buf,
			     size_t len, uint64_t token)
{
	struct node *src = ctx;
	struct swim_net *net = src->net;
	int dst = find_node(net, to);
	struct ev *e;

	if (dst < 0)
		return -EHOSTUNREACH;
	e = ev_new(EV_STREAM_REQ, net->now + delay(net), dst, src->index, buf, len);
	if (!e)
		return -ENOMEM;
	e->token = token;
	e->sent_at = net->now;
	heap_push(net, e);
	return 0;
}

static uint64_t op_now(void *ctx)
{
	struct node *n = ctx;

	return n->net->now;
}

static uint64_t op_random(void *ctx)
{
	struct node *n = ctx;

	return swim_splitmix64(&n->rng);
}

static const struct swim_transport_ops net_ops = {
	.send_udp = op_send_udp,
	.stream_request = op_stream_request,
	.now_ms = op_now,
	.random = op_random,
};

/* ---- public API ---- */

struct swim_net *swim_net_new(uint64_t seed)
{
	struct swim_net *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	net->now = 1000;
	net->rng = seed;
	net->delay_min = 1;
	net->delay_max = 5;
	net->stream_timeout = 2000;
	if (slots_grow(net) < 0) {
		free(net);
		return NULL;
	}
	return net;
}

void swim_net_free(struct swim_net *net)
{
	if (!net)
		return;
	while (net->nheap)
		free(heap_pop(net));
	for (size_t i = 0; i < net->nnodes; i++)
		free(net->nodes[i]);
	free(net->nodes);
	free(net->heap);
	free(net->slots);
	free(net->cuts);
	free(net);
}

int swim_net_add(struct swim_net *net, const struct swim_addr *addr)
{
	struct node *n;

	if (find_node(net, addr) >= 0)
		return -EEXIST;
	if (net->nnodes == net->capnodes) {
		size_t cap = net->capnodes ? net->capnodes * 2 : 16;
		struct node **v = realloc(net->nodes, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		net->nodes = v;
		net->capnodes = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->net = net;
	n->index = (int)net->nnodes;
	n->addr = *addr;
	n->wake_at = UINT64_MAX;
	n->rng = net->rng ^ (0x5851f42d4c957f2dULL * (uint64_t)(n->index + 1));
	net->nodes[net->nnodes++] = n;
	if (net->nnodes * 2 > net->nslots && slots_grow(net) < 0)
		return -ENOMEM;
	if (net->nnodes * 2 <= net->nslots && find_node(net, addr) < 0) {
		size_t i = addr_hash(addr) & (net->nslots - 1);

		while (net->slots[i])
			i = (i + 1) & (net->nslots - 1);
		net->slots[i] = n->index + 1;
	}
	return n->index;
}

struct swim_transport swim_net_transport(struct swim_net *net, int i)
{
	struct swim_transport t = { &net_ops, net->nodes[i] };

	return t;
}

static void reschedule(struct swim_net *net, struct node *n)
{
	uint64_t t;
	struct ev *e;

	if (!n->swim)
		return;
	t = swim_next_deadline(n->swim);
	if (t < net->now)
		t = net->now;
	if (t >= n->wake_at || t == UINT64_MAX)
		return;
	e = ev_new(EV_WAKE, t, n->index, n->index, NULL, 0);
	if (!e)
		return;
	n->wake_at = t;
	heap_push(net, e);
}

void swim_net_bind(struct swim_net *net, int i, struct swim *s)
{
	net->nodes[i]->swim = s;
	net->nodes[i]->wake_at = UINT64_MAX;
	reschedule(net, net->nodes[i]);
}

void swim_net_set_loss(struct swim_net *net, double p)
{
	net->loss = p;
}

void swim_net_set_delay(struct swim_net *net, uint32_t min_ms, uint32_t max_ms)
{
	net->delay_min = min_ms;
	net->delay_max = max_ms < min_ms ? min_ms : max_ms;
}

void swim_net_set_group(struct swim_net *net, int i, int group)
{
	net->nodes[i]->group = group;
}

void swim_net_cut_udp(struct swim_net *net, int a, int b, bool cut)
{
	struct cut *c;

	for (size_t i = 0; i < net->ncuts; i++)
		if ((net->cuts[i].a == a && net->cuts[i].b == b) ||
		    (net->cuts[i].a == b && net->cuts[i].b == a)) {
			if (!cut)
				net->cuts[i] = net->cuts[--net->ncuts];
			return;
		}
	if (!cut || !(c = realloc(net->cuts, (net->ncuts + 1) * sizeof(*c))))
		return;
	net->cuts = c;
	net->cuts[net->ncuts++] = (struct cut){ a, b };
}

void swim_net_block_udp(struct swim_net *net, int i, bool block)
{
	net->nodes[i]->udp_blocked = block;
}

void swim_net_stall(struct swim_net *net, int i, uint64_t until_ms)
{
	net->nodes[i]->stall_until = until_ms;
}

void swim_net_slow(struct swim_net *net, int i, uint64_t until_ms, uint32_t delay_ms)
{
	net->nodes[i]->slow_until = until_ms;
	net->nodes[i]->slow_ms = delay_ms;
}

void swim_net_set_stream_timeout(struct swim_net *net, uint32_t ms)
{
	net->stream_timeout = ms;
}

void swim_net_set_tap(struct swim_net *net, swim_net_tap_fn fn, void *arg)
{
	net->tap = fn;
	net->tap_arg = arg;
}

uint64_t swim_net_now(const struct swim_net *net)
{
	return net->now;
}

uint64_t swim_net_dropped(const struct swim_net *net)
{
	return net->dropped;
}

/* ---- event processing ---- */

/* A stalled node keeps its input for later: requeue just after the stall,
 * behind the timers that went overdue meanwhile. */
static bool defer_if_stalled(struct swim_net *net, struct node *n, struct ev *e)
{
	if (net->now < n->slow_until && !e->slowed) {
		e->slowed = true;
		e->at = net->now + n->slow_ms;
		heap_push(net, e);
		return true;
	}
	if (net->now >= n->stall_until)
		return false;
	e->at = n->stall_until + 1;
	heap_push(net, e);
	return true;
}

static void fail_stream(struct swim_net *net, struct ev *e)
{
	struct ev *r = ev_new(EV_STREAM_REPLY, e->sent_at + net->stream_timeout, e->src, e->dst,
			      NULL, 0);

	if (!r)
		return;
	r->token = e->token;
	r->failed = true;
	if (r->at < net->now)
		r->at = net->now;
	heap_push(net, r);
}

static void requeue_stream_req(struct swim_net *net, const struct ev *e, uint64_t at)
{
	struct ev *again = ev_new(EV_STREAM_REQ, at, e->dst, e->src, e->data, e->len);

	if (!again)
		return;
	again->token = e->token;
	again->sent_at = e->sent_at;
	again->slowed = true;
	heap_push(net, again);
}

static void deliver_stream_req(struct swim_net *net, struct ev *e)
{
	struct node *n = net->nodes[e->dst];
	struct buf reply = BUF_INIT;
	struct ev *r;

	if (!reachable(net, e->src, e->dst) ||
	    (n->stall_until > net->now && n->stall_until - e->sent_at >= net->stream_timeout)) {
		fail_stream(net, e);
		return;
	}
	if (n->stall_until > net->now) {
		requeue_stream_req(net, e, n->stall_until + 1);
		return;
	}
	if (n->slow_until > net->now && !e->slowed) {
		if (net->now + n->slow_ms - e->sent_at >= net->stream_timeout)
			fail_stream(net, e);
		else
			requeue_stream_req(net, e, net->now + n->slow_ms);
		return;
	}
	if (swim_on_stream_request(n->swim, &net->nodes[e->src]->addr, e->data, e->len, &reply) < 0)
		buf_reset(&reply);
	r = ev_new(EV_STREAM_REPLY, net->now + delay(net), e->src, e->dst,
		   (const uint8_t *)reply.data, reply.len);
	if (r) {
		r->token = e->token;
		r->failed = reply.len == 0;
		heap_push(net, r);
	}
	buf_free(&reply);
	reschedule(net, n);
}

static void wake(struct swim_net *net, struct node *n, struct ev *e)
{
	if (e->at != n->wake_at)
		return; /* superseded by an earlier wake-up */
	n->wake_at = UINT64_MAX;
	if (net->now < n->stall_until) {
		struct ev *w = ev_new(EV_WAKE, n->stall_until, n->index, n->index, NULL, 0);

		if (w) {
			n->wake_at = n->stall_until;
			heap_push(net, w);
		}
		return;
	}
	swim_tick(n->swim);
	reschedule(net, n);
}

/* Returns true if E was requeued and must not be freed. */
static bool dispatch(struct swim_net *net, struct ev *e)
{
	struct node *n = net->nodes[e->dst];

	if (e->kind == EV_STREAM_REQ) {
		deliver_stream_req(net, e);
		return false;
	}
	if (!n->swim)
		return false;
	if (e->kind == EV_WAKE) {
		wake(net, n, e);
		return false;
	}
	if (defer_if_stalled(net, n, e))
		return true;
	if (e->kind == EV_UDP) {
		if (n->group != net->nodes[e->src]->group || n->udp_blocked) {
			net->dropped++;
			return false;
		}
		swim_on_packet(n->swim, &net->nodes[e->src]->addr, e->data, e->len);
	} else {
		swim_on_stream_reply(n->swim, e->token, e->failed ? NULL : e->data, e->len);
	}
	reschedule(net, n);
	return false;
}

void swim_net_run(struct swim_net *net, uint64_t until_ms)
{
	while (net->nheap && net->heap[0]->at <= until_ms) {
		struct ev *e = heap_pop(net);

		net->now = e->at;
		if (!dispatch(net, e))
			free(e);
	}
	if (net->now < until_ms)
		net->now = until_ms;
}
