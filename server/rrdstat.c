/* Statistics history: the sampling thread, the table of open databases
 * (node + one per VM, loaded from DATA/rrd/ on first use) and Proxmox's
 * rrddata rows. */
#include "server/rrdstat.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/nodeinfo.h"
#include "server/qemu_int.h"
#include "server/store.h"

/* Saved once a minute: a crash loses at most one primary data point. */
#define SAVE_PERIOD_S RRD_STEP

struct rrd_entry {
	int vmid; /* 0: the node */
	struct rrd *db;
	int dirty; /* updated since the last save */
	int seen;  /* sampled in the current round */
};

struct rrdstat {
	struct app *app;
	char dir[APP_PATH_MAX];
	pthread_mutex_t lock; /* the table and every database */
	struct rrd_entry *e;
	size_t n, cap;
	int64_t last_save;

	unsigned interval_s;
	int started, stopping; /* under lock */
	pthread_cond_t cond;
	pthread_t thread;
};

/* ---- the table ---- */

static void entry_path(const struct rrdstat *rs, int vmid, char *out, size_t n)
{
	if (vmid)
		snprintf(out, n, "%s/vm-%d.rrd", rs->dir, vmid);
	else
		snprintf(out, n, "%s/node-%s.rrd", rs->dir, rs->app->cfg.node);
}

/* A database from its file, or a new one (a damaged file starts afresh). */
static int open_db(const struct rrdstat *rs, int vmid, struct rrd **out)
{
	const struct rrd_schema *s = vmid ? &rrd_schema_vm : &rrd_schema_node;
	char path[APP_PATH_MAX + APP_NODE_MAX + 32];
	int r;

	entry_path(rs, vmid, path, sizeof(path));
	r = rrd_load(s, path, out);
	if (r == -ENOENT || r == -EINVAL)
		r = rrd_new(s, out);
	return r;
}

/* Under lock: VMID's entry, opened when missing; NULL when out of memory. */
static struct rrd_entry *entry_get(struct rrdstat *rs, int vmid)
{
	struct rrd_entry *e;

	for (size_t i = 0; i < rs->n; i++)
		if (rs->e[i].vmid == vmid)
			return &rs->e[i];
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct rrd_entry *ne = realloc(rs->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		rs->e = ne;
		rs->cap = cap;
	}
	e = &rs->e[rs->n];
	memset(e, 0, sizeof(*e));
	e->vmid = vmid;
	if (open_db(rs, vmid, &e->db) < 0)
		return NULL;
	rs->n++;
	return e;
}

static int entry_save(const struct rrdstat *rs, struct rrd_entry *e)
{
	char path[APP_PATH_MAX + APP_NODE_MAX + 32];
	int r;

	if (!e->dirty)
		return 0;
	entry_path(rs, e->vmid, path, sizeof(path));
	r = rrd_save(e->db, path);
	if (r == 0)
		e->dirty = 0;
	return r;
}

/* Under lock: saves and forgets the VMs not sampled in the last round (they
 * were deleted; their files stay, as Proxmox keeps them). */
static void drop_unseen(struct rrdstat *rs)
{
	size_t k = 0;

	for (size_t i = 0; i < rs->n; i++) {
		if (rs->e[i].vmid && !rs->e[i].seen) {
			entry_save(rs, &rs->e[i]);
			rrd_free(rs->e[i].db);
			continue;
		}
		rs->e[i].seen = 0;
		rs->e[k++] = rs->e[i];
	}
	rs->n = k;
}

int rrdstat_save(struct rrdstat *rs)
{
	int first = 0, r;

	pthread_mutex_lock(&rs->lock);
	for (size_t i = 0; i < rs->n; i++)
		if ((r = entry_save(rs, &rs->e[i])) < 0 && first == 0)
			first = r;
	pthread_mutex_unlock(&rs->lock);
	return first;
}

static void update(struct rrdstat *rs, int vmid, int64_t now, const double *v)
{
	struct rrd_entry *e;

	pthread_mutex_lock(&rs->lock);
	e = entry_get(rs, vmid);
	if (e) {
		e->seen = 1;
		if (rrd_update(e->db, now, v) == 0)
			e->dirty = 1;
	}
	pthread_mutex_unlock(&rs->lock);
}

/* ---- node sample ---- */

static int physical_nic(const char *name, size_t len)
{
	if (len > 3 && strncmp(name, "eth", 3) == 0)
		return strspn(name + 3, "0123456789") == len - 3;
	if (len > 2 && (strncmp(name, "en", 2) == 0 || strncmp(name, "ib", 2) == 0))
		return memchr(name, '.', len) == NULL;
	return 0;
}

/* One "  name: rx ... tx ..." line into RX/TX when NAME is a physical NIC. */
static int net_dev_line(const char *line, uint64_t *rx, uint64_t *tx)
{
	const char *name = line + strspn(line, " "), *colon = strchr(name, ':');
	unsigned long long r, t, skip;

	if (!colon || !physical_nic(name, (size_t)(colon - name)))
		return 0;
	if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &r, &skip, &skip,
		   &skip, &skip, &skip, &skip, &skip, &t) != 9)
		return -EINVAL;
	*rx += r;
	*tx += t;
	return 0;
}

int rrdstat_parse_net_dev(const char *text, uint64_t *rx, uint64_t *tx)
{
	*rx = *tx = 0;
	if (!strstr(text, "Receive"))
		return -EINVAL;
	while (*text) {
		size_t n = strcspn(text, "\n");
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
			 text);
		if (net_dev_line(line, rx, tx) < 0)
			return -EINVAL;
		text += n + (text[n] == '\n');
	}
	return 0;
}

static void node_net(double *in, double *out)
{
	uint64_t rx, tx;
	char *text;
	size_t len;

	if (util_read_file("/proc/net/dev", 1 << 20, &text, &len) < 0)
		return;
	if (rrdstat_parse_net_dev(text, &rx, &tx) == 0) {
		*in = (double)rx;
		*out = (double)tx;
	}
	free(text);
}

/* Proxmox's pve2-node sources, in rrd_schema_node's order.  The node's
 * list-row figures are kept on the way (nodeinfo_publish), so that
 * /cluster/resources reads no /proc file per request. */
static void node_values(struct rrdstat *rs, double *v)
{
	struct nodeinfo *ni = rs->app->nodeinfo;
	struct nodeinfo_figures f = {.cpus = 0};
	struct nodeinfo_cpuinfo ci;
	char avg[3][16];
	int all = ni != NULL;

	for (size_t j = 0; j < rrd_schema_node.nds; j++)
		v[j] = NAN;
	if (nodeinfo_read_loadavg(avg) == 0)
		v[0] = strtod(avg[0], NULL);
	if (nodeinfo_read_cpuinfo(&ci) == 0)
		v[1] = f.cpus = ci.cpus;
	if (ni && nodeinfo_cpu(ni, &f.cpu, &f.wait) == 0) {
		v[2] = f.cpu;
		v[3] = f.wait;
	}
	if (nodeinfo_read_meminfo(&f.mem) == 0) {
		v[4] = (double)f.mem.total;
		v[5] = (double)f.mem.used;
		v[6] = (double)f.mem.swap_total;
		v[7] = (double)f.mem.swap_used;
	}
	if (nodeinfo_read_disk(rs->app->cfg.data_dir, &f.disk) == 0) {
		v[8] = (double)f.disk.total;
		v[9] = (double)f.disk.used;
	}
	node_net(&v[10], &v[11]);
	for (size_t j = 1; j < 10; j++)
		all = all && !isnan(v[j]);
	if (all && nodeinfo_read_uptime(&f.uptime) == 0)
		nodeinfo_publish(ni, &f, util_now_ms());
}

/* ---- VM samples ---- */

struct vm_round {
	struct rrdstat *rs;
	int64_t now;
	unsigned host_cpus;
};

static double num(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static int vm_sample(const char *key, const cJSON *val, void *opaque)
{
	struct vm_round *c = opaque;
	double v[RRD_MAX_DS];
	struct qvm vm;
	cJSON *st;
	int vmid = atoi(key);

	if (vmid <= 0 || qvm_from_json(val, &vm) < 0)
		return 0;
	st = qemu_vmstatus(c->rs->app, vmid, &vm, c->host_cpus, 1);
	qvm_clear(&vm);
	if (!st)
		return 0;
	for (size_t j = 0; j < rrd_schema_vm.nds; j++)
		v[j] = num(st, rrd_schema_vm.ds_names[j]);
	v[0] = num(st, "cpus"); /* maxcpu */
	cJSON_Delete(st);
	update(c->rs, vmid, c->now, v);
	return 0;
}

static void vm_samples(struct rrdstat *rs, int64_t now)
{
	struct vm_round c = { rs, now, qemu_host_cpus() };
	struct store_txn *t;

	if (!rs->app->store || store_begin(rs->app->store, 1, &t) < 0)
		return;
	store_foreach(t, DB_VMS, "", vm_sample, &c);
	store_abort(t);
}

void rrdstat_sample(struct rrdstat *rs, int64_t now)
{
	double v[RRD_MAX_DS];
	int save;

	node_values(rs, v);
	update(rs, 0, now, v);
	vm_samples(rs, now);
	pthread_mutex_lock(&rs->lock);
	drop_unseen(rs);
	save = now / SAVE_PERIOD_S != rs->last_save / SAVE_PERIOD_S;
	if (save)
		rs->last_save = now;
	pthread_mutex_unlock(&rs->lock);
	if (save)
		rrdstat_save(rs);
}

/* ---- rrddata ---- */

static cJSON *rows_json(const struct rrd *db, const int64_t *times, const double *vals)
{
	const struct rrd_schema *s = rrd_schema_of(db);
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < RRD_ROWS; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "time", (double)times[i]);
		for (size_t j = 0; j < s->nds; j++)
			if (isfinite(vals[i * s->nds + j]))
				cJSON_AddNumberToObject(o, s->ds_names[j], vals[i * s->nds + j]);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

int rrdstat_fetch(struct rrdstat *rs, int vmid, enum rrd_timeframe tf, enum rrd_cf cf,
		  int64_t now, cJSON **out)
{
	int64_t times[RRD_ROWS];
	double *vals = calloc(RRD_ROWS * RRD_MAX_DS, sizeof(*vals));
	struct rrd_entry *e;
	int r = -ENOMEM;

	if (!vals)
		return r;
	pthread_mutex_lock(&rs->lock);
	e = entry_get(rs, vmid);
	if (e) {
		e->seen = 1; /* a VM asked for between rounds stays until the next one */
		rrd_fetch(e->db, tf, cf, now, times, vals);
		*out = rows_json(e->db, times, vals);
		r = *out ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&rs->lock);
	free(vals);
	return r;
}

/* ---- the thread ---- */

/* Waits one interval; 1 when the thread must stop. */
static int wait_interval(struct rrdstat *rs)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += rs->interval_s;
	pthread_mutex_lock(&rs->lock);
	while (!rs->stopping && pthread_cond_timedwait(&rs->cond, &rs->lock, &until) == 0)
		;
	stop = rs->stopping;
	pthread_mutex_unlock(&rs->lock);
	return stop;
}

static void *rrdstat_main(void *arg)
{
	struct rrdstat *rs = arg;

	do
		rrdstat_sample(rs, (int64_t)time(NULL));
	while (!wait_interval(rs));
	return NULL;
}

static int start_thread(struct rrdstat *rs)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&rs->thread, NULL, rrdstat_main, rs);
	if (r) {
		pthread_cond_destroy(&rs->cond);
		return -r;
	}
	rs->started = 1;
	return 0;
}

int rrdstat_new(struct app *app, const char *dir, unsigned interval_s, struct rrdstat **out,
		char *err, size_t errlen)
{
	struct rrdstat *rs = calloc(1, sizeof(*rs));
	int r = -ENOMEM;

	if (!rs)
		goto fail;
	rs->app = app;
	rs->interval_s = interval_s;
	if (util_strlcpy(rs->dir, dir, sizeof(rs->dir)) < 0) {
		r = -ENAMETOOLONG;
		goto free_rs;
	}
	if ((r = util_mkdir_p(dir, 0700)) < 0)
		goto free_rs;
	pthread_mutex_init(&rs->lock, NULL);
	if (interval_s && (r = start_thread(rs)) < 0)
		goto destroy_lock;
	*out = rs;
	return 0;
destroy_lock:
	pthread_mutex_destroy(&rs->lock);
free_rs:
	free(rs);
fail:
	snprintf(err, errlen, "statistics in %s: %s", dir, err_str(r));
	return r;
}

void rrdstat_free(struct rrdstat *rs)
{
	if (!rs)
		return;
	if (rs->started) {
		pthread_mutex_lock(&rs->lock);
		rs->stopping = 1;
		pthread_cond_broadcast(&rs->cond);
		pthread_mutex_unlock(&rs->lock);
		pthread_join(rs->thread, NULL);
		pthread_cond_destroy(&rs->cond);
	}
	rrdstat_save(rs);
	for (size_t i = 0; i < rs->n; i++)
		rrd_free(rs->e[i].db);
	free(rs->e);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}
