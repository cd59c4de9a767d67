/* SWIM simulator: runs the real cluster/ protocol code for N members on the
 * in-memory transport (virtual clock, encrypted packets) and measures failure
 * detection, dissemination, bandwidth and false positives beside the
 * memberlist/Serf anchors of docs/gossip.md section 6.  Writes a markdown
 * fragment.  Usage: swim_sim [--quick] [--sizes 3,16,128,1024] [--det-trials N]
 * [--no-fp] [--out FILE]; the last two options are for quicker iterations. */
#include "cluster/keyring.h"
#include "cluster/swim.h"
#include "cluster/transport_in_memory.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEP_MS 100
#define MAX_SIZES 8

struct sim;

struct obs {
	struct sim *sim;
	int i;
};

/* What the event callback is watching for: DEAD or STATE about one node. */
struct watch {
	int type;     /* -1: nothing */
	int subject;
	uint64_t version;
	uint64_t start;
	bool *seen;   /* per observer */
	int count;
	uint64_t first_at, last_at, at_999;
	int need, need_999;
};

struct sim {
	int n;
	bool lifeguard;
	struct swim_net *net;
	struct swim **s;
	struct swim_addr *addr;
	struct obs *obs;
	struct keyring *kr;
	uint64_t rng;
	struct watch w;
	bool *stall_set;          /* nodes that get stalled or slowed */
	bool slow_mode;           /* slow receive path instead of full stops */
	uint64_t *next_stall;
	/* A death episode: a node goes from dead in nobody's view to dead in
	 * someone's; it ends when every view has it alive again. */
	uint64_t deaths, deaths_healthy, suspects, suspects_healthy;
	uint8_t *dead_view;       /* [observer * n + subject] */
	int *dead_count;          /* views that have the subject dead */
	uint64_t *last_bytes;     /* per node, at the last 1 s mark */
	uint64_t *last_udp;
	uint64_t next_mark;
	double peak_bps, peak_udp_bps;
};

struct result {
	int n;
	double det_first[2], det_all[2]; /* p50, p99 seconds */
	int det_trials, det_missed;
	double dis_999, dis_100, dis_999_loss;
	double idle_bps, peak_bps, peak_udp_bps;
	/* [lifeguard on, off] per node-hour */
	double fp_loss[2], fp_stall[2], fp_stall_stalled[2], sus_stall[2];
	double fp_slow[2], fp_slow_slowed[2], sus_slow[2];
	double fp_hours;
};

static uint64_t rnd(struct sim *sim, uint64_t bound)
{
	return bound ? swim_splitmix64(&sim->rng) % bound : 0;
}

static int node_of(const char *name)
{
	return atoi(name + 1);
}

static uint64_t now(const struct sim *sim)
{
	return swim_net_now(sim->net);
}

static void watch_hit(struct sim *sim, int observer)
{
	struct watch *w = &sim->w;

	if (w->seen[observer])
		return;
	w->seen[observer] = true;
	w->count++;
	w->last_at = now(sim);
	if (w->count == 1)
		w->first_at = now(sim);
	if (w->count == w->need_999)
		w->at_999 = now(sim);
}

static void death_seen(struct sim *sim, int observer, int subject)
{
	uint8_t *v = &sim->dead_view[(size_t)observer * (size_t)sim->n + (size_t)subject];

	if (*v)
		return;
	*v = 1;
	if (sim->dead_count[subject]++ == 0) {
		sim->deaths++;
		sim->deaths_healthy += !sim->stall_set[subject];
	}
}

static void death_over(struct sim *sim, int observer, int subject)
{
	uint8_t *v = &sim->dead_view[(size_t)observer * (size_t)sim->n + (size_t)subject];

	if (!*v)
		return;
	*v = 0;
	sim->dead_count[subject]--;
}

static void on_event(void *arg, const struct swim_event *ev)
{
	struct obs *o = arg;
	struct sim *sim = o->sim;
	int subject = node_of(ev->member->name);

	if (ev->type == SWIM_EV_DEAD) {
		death_seen(sim, o->i, subject);
	} else if (ev->type == SWIM_EV_ALIVE || ev->type == SWIM_EV_JOIN) {
		death_over(sim, o->i, subject);
	} else if (ev->type == SWIM_EV_SUSPECT) {
		sim->suspects++;
		sim->suspects_healthy += !sim->stall_set[subject];
	}
	if ((int)ev->type == sim->w.type && subject == sim->w.subject &&
	    (ev->type != SWIM_EV_STATE || ev->member->state_version >= sim->w.version))
		watch_hit(sim, o->i);
}

static struct swim *start_node(struct sim *sim, int i)
{
	struct swim_config cfg;
	struct swim_transport t = swim_net_transport(sim->net, i);
	char name[16], err[128];

	swim_config_default(&cfg);
	snprintf(name, sizeof(name), "n%d", i);
	cfg.name = name;
	cfg.addr = sim->addr[i];
	cfg.lifeguard = sim->lifeguard;
	cfg.keyring = sim->kr;
	cfg.on_event = on_event;
	cfg.event_arg = &sim->obs[i];
	sim->s[i] = swim_new(&cfg, &t, err, sizeof(err));
	if (!sim->s[i]) {
		fprintf(stderr, "swim_new: %s\n", err);
		exit(1);
	}
	swim_net_bind(sim->net, i, sim->s[i]);
	return sim->s[i];
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

/* A cluster of N that already knows itself (as after a saved peer list). */
static struct sim *sim_new(int n, bool lifeguard, uint64_t seed)
{
	struct sim *sim = xcalloc(1, sizeof(*sim));
	uint8_t key[KEYRING_KEY_LEN];
	char name[16];

	sim->n = n;
	sim->lifeguard = lifeguard;
	sim->rng = seed;
	sim->net = swim_net_new(seed);
	sim->s = xcalloc((size_t)n, sizeof(*sim->s));
	sim->addr = xcalloc((size_t)n, sizeof(*sim->addr));
	sim->obs = xcalloc((size_t)n, sizeof(*sim->obs));
	sim->stall_set = xcalloc((size_t)n, sizeof(bool));
	sim->next_stall = xcalloc((size_t)n, sizeof(uint64_t));
	sim->last_bytes = xcalloc((size_t)n, sizeof(uint64_t));
	sim->last_udp = xcalloc((size_t)n, sizeof(uint64_t));
	sim->w.seen = xcalloc((size_t)n, sizeof(bool));
	sim->dead_view = xcalloc((size_t)n * (size_t)n, 1);
	sim->dead_count = xcalloc((size_t)n, sizeof(int));
	sim->w.type = -1;
	sim->kr = keyring_new();
	memset(key, 0x5a, sizeof(key));
	keyring_install(sim->kr, key);
	swim_net_set_delay(sim->net, 1, 10);
	for (int i = 0; i < n; i++) {
		sim->addr[i] = (struct swim_addr){ .family = 4, .ip = { 10, (uint8_t)(i >> 16),
			(uint8_t)(i >> 8), (uint8_t)i }, .port = 7946 };
		sim->obs[i] = (struct obs){ sim, i };
		swim_net_add(sim->net, &sim->addr[i]);
		start_node(sim, i);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			snprintf(name, sizeof(name), "n%d", j);
			if (i != j)
				swim_add_member(sim->s[i], name, &sim->addr[j]);
		}
	sim->next_mark = now(sim) + 1000;
	return sim;
}

static void sim_free(struct sim *sim)
{
	for (int i = 0; i < sim->n; i++)
		swim_free(sim->s[i]);
	swim_net_free(sim->net);
	keyring_free(sim->kr);
	free(sim->s);
	free(sim->addr);
	free(sim->obs);
	free(sim->stall_set);
	free(sim->next_stall);
	free(sim->last_bytes);
	free(sim->last_udp);
	free(sim->w.seen);
	free(sim->dead_view);
	free(sim->dead_count);
	free(sim);
}

static uint64_t node_bytes(struct swim *s)
{
	struct swim_stats st;

	swim_get_stats(s, &st);
	return st.udp_sent_bytes + st.stream_sent_bytes;
}

static void peak(double *peak, uint64_t *last, uint64_t now_bytes)
{
	if (now_bytes >= *last && (double)(now_bytes - *last) > *peak)
		*peak = (double)(now_bytes - *last);
	*last = now_bytes;
}

/* Once a second: the busiest node's bytes in that second, all and UDP only. */
static void bandwidth_mark(struct sim *sim)
{
	struct swim_stats st;

	for (int i = 0; i < sim->n; i++) {
		if (!sim->s[i])
			continue;
		swim_get_stats(sim->s[i], &st);
		peak(&sim->peak_bps, &sim->last_bytes[i], st.udp_sent_bytes + st.stream_sent_bytes);
		peak(&sim->peak_udp_bps, &sim->last_udp[i], st.udp_sent_bytes);
	}
}

/* Stalled nodes alternate: awake 2-10 s, stopped 2-8 s (SIGSTOP-like). */
static void drive_stalls(struct sim *sim)
{
	uint64_t t = now(sim);

	for (int i = 0; i < sim->n; i++) {
		uint64_t len;

		if (!sim->stall_set[i] || t < sim->next_stall[i])
			continue;
		if (sim->slow_mode) {
			/* Slow for 5-20 s with input handled 2-8 s late, then 5-20 s normal. */
			len = 5000 + rnd(sim, 15001);
			swim_net_slow(sim->net, i, t + len, (uint32_t)(2000 + rnd(sim, 6001)));
			sim->next_stall[i] = t + len + 5000 + rnd(sim, 15001);
			continue;
		}
		len = 2000 + rnd(sim, 6001);
		swim_net_stall(sim->net, i, t + len);
		sim->next_stall[i] = t + len + 2000 + rnd(sim, 8001);
	}
}

/* Runs until UNTIL, or until the watch is complete when STOP_ON_WATCH. */
static void advance(struct sim *sim, uint64_t until, bool stop_on_watch)
{
	while (now(sim) < until) {
		uint64_t next = now(sim) + STEP_MS;

		swim_net_run(sim->net, next < until ? next : until);
		drive_stalls(sim);
		if (now(sim) >= sim->next_mark) {
			bandwidth_mark(sim);
			sim->next_mark += 1000;
		}
		if (stop_on_watch && sim->w.count >= sim->w.need)
			return;
	}
}

static void watch_start(struct sim *sim, int type, int subject, uint64_t version, int need)
{
	struct watch *w = &sim->w;

	memset(w->seen, 0, (size_t)sim->n * sizeof(bool));
	w->type = type;
	w->subject = subject;
	w->version = version;
	w->start = now(sim);
	w->count = 0;
	w->first_at = w->last_at = w->at_999 = 0;
	w->need = need;
	w->need_999 = (int)ceil(0.999 * need);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i;

	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	i = (int)ceil(p * n) - 1;
	return v[i < 0 ? 0 : i];
}

static void restart(struct sim *sim, int v)
{
	int seed = (v + 1 + (int)rnd(sim, (uint64_t)sim->n - 1)) % sim->n;

	for (int j = 0; j < sim->n; j++)
		death_over(sim, v, j); /* the new process remembers nobody */
	swim_free(sim->s[v]);
	start_node(sim, v);
	swim_join(sim->s[v], &sim->addr[seed]);
	sim->last_bytes[v] = 0;
	sim->last_udp[v] = 0;
}

/* Crash a random node at a random phase; time until the first and the last
 * other node declares it dead; then restart it and let the cluster settle. */
static void detection(struct sim *sim, int trials, struct result *r)
{
	double *first = xcalloc((size_t)trials, sizeof(double));
	double *all = xcalloc((size_t)trials, sizeof(double));
	int got = 0;

	for (int t = 0; t < trials; t++) {
		int v = (int)rnd(sim, (uint64_t)sim->n);
		uint64_t t0 = now(sim) + rnd(sim, 1000);

		advance(sim, t0, false);
		swim_net_bind(sim->net, v, NULL);
		watch_start(sim, SWIM_EV_DEAD, v, 0, sim->n - 1);
		advance(sim, t0 + 180000, true);
		if (sim->w.count == sim->w.need) {
			first[got] = (double)(sim->w.first_at - t0) / 1000;
			all[got++] = (double)(sim->w.last_at - t0) / 1000;
		}
		sim->w.type = -1;
		restart(sim, v);
		advance(sim, now(sim) + 30000, false);
	}
	r->det_trials = got;
	r->det_missed = trials - got;
	r->det_first[0] = pct(first, got, 0.5);
	r->det_first[1] = pct(first, got, 0.99);
	r->det_all[0] = pct(all, got, 0.5);
	r->det_all[1] = pct(all, got, 0.99);
	free(first);
	free(all);
}

/* A ~200 B node record changes on a random node: time to 99.9 % and 100 %
 * of the others (medians over the trials). */
static void dissemination(struct sim *sim, int trials, double loss, double *p999, double *p100)
{
	double *a = xcalloc((size_t)trials, sizeof(double)), *b = xcalloc((size_t)trials, sizeof(double));
	char rec[200];
	int got = 0;

	swim_net_set_loss(sim->net, loss);
	for (int t = 0; t < trials; t++) {
		int o = (int)rnd(sim, (uint64_t)sim->n);
		struct swim_member_info info;

		snprintf(rec, sizeof(rec), "{\"api\":\"10.0.0.1:8006\",\"trial\":%d,\"vms\":%d}", t, o);
		memset(rec + strlen(rec), ' ', sizeof(rec) - strlen(rec));
		swim_set_local_state(sim->s[o], rec, sizeof(rec));
		swim_member_get(sim->s[o], swim_self_name(sim->s[o]), &info);
		watch_start(sim, SWIM_EV_STATE, o, info.state_version, sim->n - 1);
		advance(sim, now(sim) + 400000, true);
		if (sim->w.count == sim->w.need) {
			a[got] = (double)(sim->w.at_999 - sim->w.start) / 1000;
			b[got++] = (double)(sim->w.last_at - sim->w.start) / 1000;
		}
		sim->w.type = -1;
		advance(sim, now(sim) + 5000 + rnd(sim, 1000), false);
	}
	swim_net_set_loss(sim->net, 0);
	*p999 = pct(a, got, 0.5);
	*p100 = pct(b, got, 0.5);
	free(a);
	free(b);
}

/* Idle traffic: mean bytes sent per node per second over two push/pull
 * periods (so full syncs are amortised). */
static double idle_bandwidth(struct sim *sim, uint64_t ms)
{
	uint64_t before = 0, after = 0;

	for (int i = 0; i < sim->n; i++)
		before += node_bytes(sim->s[i]);
	advance(sim, now(sim) + ms, false);
	for (int i = 0; i < sim->n; i++)
		after += node_bytes(sim->s[i]);
	return (double)(after - before) / sim->n / ((double)ms / 1000);
}

/* False positives per node-hour: [0] dead declarations about never-stalled
 * nodes, [1] about stalled nodes, [2] suspicions of never-stalled nodes. */
enum degrade { DEG_NONE, DEG_STALL, DEG_SLOW };

static void false_positives(int n, bool lifeguard, enum degrade mode, double loss, uint64_t ms,
			    double out[3])
{
	struct sim *sim = sim_new(n, lifeguard, 1000 + (uint64_t)n);
	double node_hours = (double)n * (double)ms / 3600000.0;
	bool stalls = mode != DEG_NONE;

	sim->slow_mode = mode == DEG_SLOW;
	advance(sim, now(sim) + 10000, false);
	for (int i = 0; stalls && i < n; i++) {
		sim->stall_set[i] = i % 10 == 0; /* 10 % of the nodes */
		sim->next_stall[i] = now(sim) + rnd(sim, 10000);
	}
	swim_net_set_loss(sim->net, loss);
	sim->deaths = sim->deaths_healthy = sim->suspects = sim->suspects_healthy = 0;
	advance(sim, now(sim) + ms, false);
	out[0] = (double)sim->deaths_healthy / node_hours;
	out[1] = (double)(sim->deaths - sim->deaths_healthy) / node_hours;
	out[2] = (double)sim->suspects_healthy / node_hours;
	sim_free(sim);
}

struct plan {
	int det_trials, dis_trials;
	uint64_t fp_ms;
};

/* --det-trials: detection trials per size instead of the plan's;
 * --no-fp: skip the false-positive runs. */
static int det_trials_opt;
static bool no_fp;

static struct plan plan_for(int n, bool quick)
{
	/* Small clusters are cheap: enough trials that p99 is not the maximum
	 * (at 40 trials it was, and moved by half a second from run to run). */
	struct plan p = { 2000, 20, 3600000 };

	if (n >= 1024)
		p = (struct plan){ 20, 10, 120000 };
	else if (n >= 128)
		p = (struct plan){ 100, 15, 1200000 };
	if (quick) {
		p.det_trials = p.det_trials / 4 + 1;
		p.dis_trials = p.dis_trials / 4 + 1;
		p.fp_ms /= 10;
	}
	if (det_trials_opt > 0)
		p.det_trials = det_trials_opt;
	return p;
}

/* Loss, stall and slow runs for one Lifeguard setting: nine figures. */
static void fp_runs(int n, bool lifeguard, uint64_t ms, double out[9])
{
	false_positives(n, lifeguard, DEG_NONE, 0.05, ms, out);
	false_positives(n, lifeguard, DEG_STALL, 0, ms, out + 3);
	false_positives(n, lifeguard, DEG_SLOW, 0, ms, out + 6);
}

/* The false-positive runs go to child processes so two cores are used. */
static pid_t fp_fork(int n, bool lifeguard, uint64_t ms, int *fd)
{
	int p[2];
	pid_t pid;
	double out[9];

	if (pipe(p) < 0 || (pid = fork()) < 0) {
		perror("swim_sim: fork");
		exit(1);
	}
	if (pid == 0) {
		close(p[0]);
		fp_runs(n, lifeguard, ms, out);
		_exit(write(p[1], out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 1);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

static void fp_collect(pid_t pid, int fd, struct result *r, int lg)
{
	double v[9] = { NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN };

	if (read(fd, v, sizeof(v)) != (ssize_t)sizeof(v))
		fprintf(stderr, "swim_sim: a false-positive run failed\n");
	close(fd);
	waitpid(pid, NULL, 0);
	r->fp_loss[lg] = v[0];
	r->fp_stall[lg] = v[3];
	r->fp_stall_stalled[lg] = v[4];
	r->sus_stall[lg] = v[5];
	r->fp_slow[lg] = v[6];
	r->fp_slow_slowed[lg] = v[7];
	r->sus_slow[lg] = v[8];
}

static void run_size(int n, bool quick, struct result *r)
{
	struct plan p = plan_for(n, quick);
	struct sim *sim;
	double ignored;
	uint64_t pp = n <= 32 ? 30000 : 30000 * (uint64_t)(ceil(log2(n) - 5) + 1);
	pid_t on = 0, off = 0;
	int fd_on = -1, fd_off = -1;

	memset(r, 0, sizeof(*r));
	r->n = n;
	r->fp_hours = (double)n * (double)p.fp_ms / 3600000.0;
	if (!no_fp) {
		on = fp_fork(n, true, p.fp_ms, &fd_on);
		off = fp_fork(n, false, p.fp_ms, &fd_off);
	}
	sim = sim_new(n, true, (uint64_t)n * 7919);
	advance(sim, now(sim) + 10000, false);
	r->idle_bps = idle_bandwidth(sim, 2 * pp);
	detection(sim, p.det_trials, r);
	dissemination(sim, p.dis_trials, 0, &r->dis_999, &r->dis_100);
	dissemination(sim, p.dis_trials, 0.10, &r->dis_999_loss, &ignored);
	r->peak_bps = sim->peak_bps;
	r->peak_udp_bps = sim->peak_udp_bps;
	sim_free(sim);
	if (!no_fp) {
		fp_collect(on, fd_on, r, 0);
		fp_collect(off, fd_off, r, 1);
	}
}

/* ---- report ---- */

struct anchor {
	int n;
	const char *first, *all, *dis;
};

static const struct anchor anchors[] = {
	{ 3, "≤5.6 / 6.8 s", "≤6.8 / 8.0 s", "≤1.2 s" },
	{ 16, "≤6.6 / 9.9 s", "≤8.0 / 11.3 s", "≤1.4 s" },
	{ 128, "≤10.1 / 13.9 s", "≤11.7 / 15.5 s", "≤1.6 s" },
	{ 1024, "≤13.7 / 17.6 s", "≤15.7 / 19.6 s", "≤2.0 s (2.2 s at 10 % loss)" },
};

static const struct anchor *anchor_for(int n)
{
	for (size_t i = 0; i < sizeof(anchors) / sizeof(anchors[0]); i++)
		if (anchors[i].n == n)
			return &anchors[i];
	return NULL;
}

static void report_row(FILE *f, const struct result *r)
{
	const struct anchor *a = anchor_for(r->n);

	fprintf(f, "| %d | %.1f / %.1f s (%d) | %s | %.1f / %.1f s | %s | %.2f s (%.2f s) | %s | %.1f s | "
		   "%.0f B/s | %.1f KB/s (%.1f KB/s) |\n",
		r->n, r->det_first[0], r->det_first[1], r->det_trials, a ? a->first : "–",
		r->det_all[0],
		r->det_all[1], a ? a->all : "–", r->dis_999, r->dis_999_loss, a ? a->dis : "–",
		r->dis_100, r->idle_bps, r->peak_bps / 1024, r->peak_udp_bps / 1024);
}

/* Off/on; with none at all under Lifeguard, the bound it would have if it had
 * one episode in the run: the off count itself. */
static void ratio(char *out, size_t n, double on, double off, double hours)
{
	if (on > 0)
		snprintf(out, n, "%.0f×", off / on);
	else if (off > 0)
		snprintf(out, n, "≥ %.0f× (none with Lifeguard)", off * hours);
	else
		snprintf(out, n, "none either way");
}

static void fp_row(FILE *f, const struct result *r)
{
	char stall[64], slow[64];

	ratio(stall, sizeof(stall), r->fp_stall[0], r->fp_stall[1], r->fp_hours);
	ratio(slow, sizeof(slow), r->fp_slow[0], r->fp_slow[1], r->fp_hours);
	fprintf(f, "| %d | %.1f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.1f / %.1f | %s | "
		   "%.2f / %.2f | %.2f / %.2f | %.1f / %.1f | %s |\n",
		r->n, r->fp_hours, r->fp_loss[0], r->fp_loss[1], r->fp_stall[0], r->fp_stall[1],
		r->fp_stall_stalled[0], r->fp_stall_stalled[1], r->sus_stall[0], r->sus_stall[1],
		stall, r->fp_slow[0], r->fp_slow[1], r->fp_slow_slowed[0], r->fp_slow_slowed[1],
		r->sus_slow[0], r->sus_slow[1], slow);
}

static void report(FILE *f, const struct result *res, int nres, double secs)
{
	fprintf(f, "## Gossip membership (SWIM + Lifeguard), simulated\n\n"
		   "`bench/swim_sim` runs the real `cluster/` protocol code for N members on the "
		   "in-memory transport (virtual clock, 1–10 ms one-way delay, AES-256-GCM on every "
		   "packet), memberlist LAN defaults.  Detection: a random node crashes at a random "
		   "phase; p50/p99 over the trials (their number in brackets).  Where cluster/ "
		   "departs from memberlist: a reshuffled probe pass never opens with the member "
		   "that closed the last one (no back-to-back probes, so at N=3 each member is "
		   "probed every other period, as the model assumes); Lifeguard's K is "
		   "min(2, N-2), not 0, at N=3; only a direct ack lowers the health multiplier.  "
		   "Dissemination: a 200 B node record changes; medians.  Anchors are the memberlist/Serf *model* figures of docs/gossip.md §6.  "
		   "Wall time %.0f s.\n\n", secs);
	fprintf(f, "| N | crash → first marks dead p50/p99 | anchor | crash → all know p50/p99 | "
		   "anchor | change → 99.9 %% (10 %% loss) | anchor | change → 100 %% | "
		   "idle sent/node | peak sent/node in 1 s (datagrams only) |\n|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nres; i++)
		report_row(f, &res[i]);
	fprintf(f, "\nGoals: 100 %% within 30 s; idle ≤ 0.5 KB/s per node; peak ≤ 42 KB/s (Serf's "
		   "gossip bound, 328 kbps).  The peak counts every crash, restart (a restarted node "
		   "re-announces every member it learns), record change and push/pull (a full digest, "
		   "about 27 KB at N=1024, over TCP).\n\n");
	if (no_fp)
		return;
	fprintf(f, "False positives per node-hour, Lifeguard on / off (node-hours per run).  "
		   "*Loss*: 5 %% datagram loss, death episodes of healthy nodes.  *Stalls*: 10 %% "
		   "of the nodes stop (SIGSTOP-like) for 2–8 s, run 2–10 s, repeatedly; after a stop "
		   "their overdue timers fire before their backlog is read.  *Slow*: 10 %% of the "
		   "nodes are slow for 5–20 s at a time, handling every input 2–8 s late while their "
		   "timers keep time (Lifeguard's slow-member case).  Columns: death episodes (a node "
		   "is dead in at least one view until every view has it alive again) of healthy "
		   "(never degraded) nodes and of degraded nodes, and suspicion events about healthy "
		   "nodes (every view counts); the ratios are off/on over the death episodes of healthy "
		   "nodes, the false positives Lifeguard is about (a node stopped for longer than the "
		   "suspicion timeout is rightly found dead, with or without it).  "
		   "Anchor: Lifeguard reports ≥ 50× fewer false positives.\n\n");
	fprintf(f, "| N | node-hours | loss: healthy dead | stalls: healthy dead | stalls: stalled dead | "
		   "stalls: healthy suspected | ratio | slow: healthy dead | slow: slow dead | "
		   "slow: healthy suspected | ratio |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nres; i++)
		fp_row(f, &res[i]);
}

static int parse_sizes(const char *s, int *out)
{
	int n = 0;

	while (*s && n < MAX_SIZES) {
		out[n++] = atoi(s);
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	return n;
}

int main(int argc, char **argv)
{
	int sizes[MAX_SIZES] = { 3, 16, 128, 1024 }, nsizes = 4;
	struct result res[MAX_SIZES];
	const char *out = NULL;
	bool quick = false;
	struct timespec t0, t1;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
			nsizes = parse_sizes(argv[++i], sizes);
		else if (!strcmp(argv[i], "--no-fp"))
			no_fp = true;
		else if (!strcmp(argv[i], "--det-trials") && i + 1 < argc)
			det_trials_opt = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nsizes; i++) {
		run_size(sizes[i], quick, &res[i]);
		fprintf(stderr, "swim_sim: N=%d done\n", sizes[i]);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (out && (f = fopen(out, "w"))) {
			report(f, res, i + 1, (double)(t1.tv_sec - t0.tv_sec));
			fclose(f);
		}
	}
	report(stdout, res, nsizes, (double)(t1.tv_sec - t0.tv_sec));
	return 0;
}
