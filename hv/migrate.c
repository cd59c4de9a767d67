/* Live migration QMP sequences of both ends (see migrate.h): argument
 * builders and status parsers are pure; the drivers poll QEMU through
 * struct hv_mig_qemu. */
#include "hv/migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/blocknode.h"
#include "hv/vm.h"

#define MIG_QMP_MS 10000       /* one command */
#define MIG_TLS_ID "mig-tls"   /* the tls-creds-x509 object on either end */
#define MIG_PREFIX "mig-"      /* NBD client nodes and mirror jobs */
#define MIRROR_POLL_US 20000   /* disk copy: readiness seen within 20 ms */
#define RAM_POLL_US 5000       /* RAM: the source pauses at pre-switchover and
				* waits for us, so this adds to downtime */
#define PROGRESS_EVERY_MS 1000
#define UNLIMITED_BPS (1ull << 40) /* QEMU's own default caps RAM at 128 MiB/s */
#define STALL_CHUNK_KIB 8192ull    /* a mirror's largest step, for the stall limit */

static int run(const struct hv_mig_qemu *q, const char *cmd, cJSON *args, cJSON **ret,
	       char *err, size_t errlen)
{
	int r;

	if (q->fn)
		r = q->fn(q->ctx, cmd, args, MIG_QMP_MS, ret, err, errlen);
	else
		r = hv_vm_qmp(q->h, q->vmid, cmd, args, MIG_QMP_MS, ret, err, errlen);
	cJSON_Delete(args);
	return r;
}

/* Runs a command whose arguments ARGS were built with possibly failed
 * allocations (NULL or OK false means out of memory). */
static int run_built(const struct hv_mig_qemu *q, const char *cmd, cJSON *args, int ok,
		     char *err, size_t errlen)
{
	if (!args || !ok) {
		cJSON_Delete(args);
		snprintf(err, errlen, "%s: out of memory", cmd);
		return -ENOMEM;
	}
	return run(q, cmd, args, NULL, err, errlen);
}

/* Runs CMD and ignores its outcome: cleanup of what may not exist. */
static void run_quiet(const struct hv_mig_qemu *q, const char *cmd, cJSON *args)
{
	char ignored[256];

	run(q, cmd, args, NULL, ignored, sizeof(ignored));
}

static cJSON *obj1(const char *key, const char *value)
{
	cJSON *o = cJSON_CreateObject();

	if (o && !cJSON_AddStringToObject(o, key, value)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Mirror job and NBD export of drive KEY. */
static void job_name(char *out, size_t n, const char *key)
{
	snprintf(out, n, MIG_PREFIX "%s", key);
}

/* The source's NBD client node of drive KEY: not mig-KEY, the name a disk
 * move may have given the drive's own node. */
static void nbd_node(char *out, size_t n, const char *key)
{
	snprintf(out, n, MIG_PREFIX "nbd-%s", key);
}

/* "tcp:HOST:PORT", IPv6 literals bracketed. */
static void tcp_uri(char *out, size_t n, const char *host, int port)
{
	snprintf(out, n, strchr(host, ':') ? "tcp:[%s]:%d" : "tcp:%s:%d", host, port);
}

static int add_tls_object(const struct hv_mig_qemu *q, const char *dir, int server, char *err,
			  size_t errlen)
{
	cJSON *a = obj1("qom-type", "tls-creds-x509");
	int ok = a && cJSON_AddStringToObject(a, "id", MIG_TLS_ID) &&
		 cJSON_AddStringToObject(a, "dir", dir) &&
		 cJSON_AddStringToObject(a, "endpoint", server ? "server" : "client") &&
		 cJSON_AddBoolToObject(a, "verify-peer", 1);

	run_quiet(q, "object-del", obj1("id", MIG_TLS_ID)); /* left by a failed run */
	return run_built(q, "object-add", a, ok, err, errlen);
}

/* ---- target ------------------------------------------------------------------------- */

static int nbd_start(const struct hv_mig_qemu *q, const char *host, int port, char *err,
		     size_t errlen)
{
	cJSON *a = cJSON_CreateObject(), *addr = cJSON_AddObjectToObject(a, "addr");
	cJSON *data = addr ? cJSON_AddObjectToObject(addr, "data") : NULL;
	char p[16];
	int ok;

	snprintf(p, sizeof(p), "%d", port);
	ok = data && cJSON_AddStringToObject(addr, "type", "inet") &&
	     cJSON_AddStringToObject(data, "host", host) && cJSON_AddStringToObject(data, "port", p) &&
	     cJSON_AddStringToObject(a, "tls-creds", MIG_TLS_ID);
	return run_built(q, "nbd-server-start", a, ok, err, errlen);
}

static int nbd_export(const struct hv_mig_qemu *q, const char *key, char *err, size_t errlen)
{
	char id[64], node[64];
	cJSON *a = obj1("type", "nbd");
	int ok;

	job_name(id, sizeof(id), key);
	snprintf(node, sizeof(node), "drive-%s", key);
	ok = a && cJSON_AddStringToObject(a, "id", id) &&
	     cJSON_AddStringToObject(a, "node-name", node) && cJSON_AddStringToObject(a, "name", key) &&
	     cJSON_AddBoolToObject(a, "writable", 1);
	return run_built(q, "block-export-add", a, ok, err, errlen);
}

int hv_mig_target_prepare(const struct hv_mig_qemu *q, const struct hv_mig_target_opts *o,
			  char *err, size_t errlen)
{
	char uri[300];
	int r = add_tls_object(q, o->tls_dir, 1, err, errlen);

	if (r == 0 && o->disks.n)
		r = nbd_start(q, o->listen_host, o->nbd_port, err, errlen);
	for (size_t i = 0; r == 0 && i < o->disks.n; i++)
		r = nbd_export(q, o->disks.key[i], err, errlen);
	if (r == 0)
		r = run_built(q, "migrate-set-parameters", obj1("tls-creds", MIG_TLS_ID), 1, err,
			      errlen);
	tcp_uri(uri, sizeof(uri), o->listen_host, o->mig_port);
	if (r == 0)
		r = run_built(q, "migrate-incoming", obj1("uri", uri), 1, err, errlen);
	return r;
}

/* query-migrate's status into *P; 0 or a negative code. */
static int query_migrate(const struct hv_mig_qemu *q, struct hv_mig_progress *p, char *err,
			 size_t errlen)
{
	cJSON *ret = NULL;
	int r = run(q, "query-migrate", NULL, &ret, err, errlen);

	if (r == 0 && hv_mig_parse_migrate(ret, p) < 0)
		snprintf(p->status, sizeof(p->status), "none");
	cJSON_Delete(ret);
	return r;
}

static int run_state(const struct hv_mig_qemu *q, char *out, size_t n, char *err, size_t errlen)
{
	cJSON *ret = NULL;
	int r = run(q, "query-status", NULL, &ret, err, errlen);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(ret, "status");

	snprintf(out, n, "%s", r == 0 && cJSON_IsString(s) ? s->valuestring : "");
	cJSON_Delete(ret);
	return r;
}

static int wait_incoming(const struct hv_mig_qemu *q, int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	struct hv_mig_progress p;

	for (;;) {
		int r = query_migrate(q, &p, err, errlen);

		if (r < 0)
			return r;
		if (strcmp(p.status, "completed") == 0)
			return 0;
		if (strcmp(p.status, "failed") == 0 || strcmp(p.status, "cancelled") == 0) {
			snprintf(err, errlen, "incoming migration %s", p.status);
			return CR_EQMP;
		}
		if (util_now_ms() >= deadline) {
			snprintf(err, errlen, "incoming migration did not complete (%s)", p.status);
			return CR_ETIMEOUT;
		}
		usleep(RAM_POLL_US);
	}
}

int hv_mig_target_finish(const struct hv_mig_qemu *q, int timeout_ms, char *err, size_t errlen)
{
	char state[32];
	int r = wait_incoming(q, timeout_ms, err, errlen);

	if (r < 0)
		return r;
	run_quiet(q, "nbd-server-stop", NULL); /* absent without disks */
	r = run_state(q, state, sizeof(state), err, errlen);
	if (r == 0 && strcmp(state, "running") != 0)
		r = run(q, "cont", NULL, NULL, err, errlen);
	/* the parameter outlives the object: a later plain migration would try TLS */
	run_quiet(q, "migrate-set-parameters", obj1("tls-creds", ""));
	run_quiet(q, "object-del", obj1("id", MIG_TLS_ID));
	return r;
}

/* ---- parsers ------------------------------------------------------------------------ */

static uint64_t num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static int64_t num_or(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

int hv_mig_parse_migrate(const cJSON *ret, struct hv_mig_progress *p)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(ret, "status");
	const cJSON *ram = cJSON_GetObjectItemCaseSensitive(ret, "ram");
	const cJSON *mbps = cJSON_GetObjectItemCaseSensitive(ram, "mbps");

	if (!cJSON_IsString(st))
		return -EINVAL;
	snprintf(p->status, sizeof(p->status), "%s", st->valuestring);
	p->transferred = num(ram, "transferred");
	p->remaining = num(ram, "remaining");
	p->total = num(ram, "total");
	p->mbps = cJSON_IsNumber(mbps) ? mbps->valuedouble : 0;
	p->dirty_rate = num(ram, "dirty-pages-rate");
	p->dirty_syncs = num(ram, "dirty-sync-count");
	p->expected_downtime_ms = num_or(ret, "expected-downtime", -1);
	p->downtime_ms = num_or(ret, "downtime", -1);
	p->total_ms = num_or(ret, "total-time", -1);
	p->setup_ms = num_or(ret, "setup-time", -1);
	return 0;
}

static int is_mig_job(const cJSON *job)
{
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(job, "device");

	return cJSON_IsString(dev) && strncmp(dev->valuestring, MIG_PREFIX, 4) == 0;
}

int hv_mig_parse_jobs(const cJSON *ret, struct hv_mig_progress *p)
{
	const cJSON *job;
	int n = 0;

	p->disk_done = p->disk_total = 0;
	p->disks_ready = 0;
	cJSON_ArrayForEach(job, ret) {
		if (!is_mig_job(job))
			continue;
		n++;
		p->disk_done += num(job, "offset");
		p->disk_total += num(job, "len");
		p->disks_ready += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "ready"));
	}
	return n;
}

/* ---- source ------------------------------------------------------------------------- */

struct src_run {
	const struct hv_mig_qemu *q;
	const struct hv_mig_source_opts *o;
	struct hv_mig_progress p;
	uint64_t deadline, next_report;
	uint64_t moved, moved_at; /* bytes sent so far, and when that last grew */
	char *err;
	size_t errlen;
};

/* CR_ETIMEOUT once no byte of RAM or disk moved for the stall limit: a
 * link that silently drops packets leaves QEMU's sockets waiting for
 * minutes of TCP retransmissions. */
static int stalled(struct src_run *s, uint64_t now)
{
	uint64_t moved = s->p.transferred + s->p.disk_done;
	int limit = s->o->stall_ms > 0 ? s->o->stall_ms : HV_MIG_STALL_MS;

	/* a low bandwidth limit moves a mirror's chunk of several MiB rarely */
	if (s->o->bwlimit_kib && STALL_CHUNK_KIB * 1000 / s->o->bwlimit_kib > (uint64_t)limit)
		limit = (int)(STALL_CHUNK_KIB * 1000 / s->o->bwlimit_kib);
	if (s->o->stall_ms < 0)
		return 0;
	if (moved != s->moved || !s->moved_at || s->p.phase == HV_MIG_SWITCHOVER) {
		s->moved = moved;
		s->moved_at = now;
		return 0;
	}
	if (now - s->moved_at < (uint64_t)limit)
		return 0;
	snprintf(s->err, s->errlen, "no data reached the target for %d s (%s): link lost",
		 limit / 1000, s->p.phase == HV_MIG_MIRROR ? "disk mirror" : s->p.status);
	return CR_ETIMEOUT;
}

/* Reports progress when due (or FORCE); -ECANCELED if asked to stop,
 * CR_ETIMEOUT past the deadline or when the transfer stalled. */
static int report(struct src_run *s, int force)
{
	uint64_t now = util_now_ms();

	if (s->deadline && now >= s->deadline) {
		snprintf(s->err, s->errlen, "migration timed out (%s)", s->p.status);
		return CR_ETIMEOUT;
	}
	if (stalled(s, now))
		return CR_ETIMEOUT;
	if (!force && now < s->next_report)
		return 0;
	s->next_report = now + PROGRESS_EVERY_MS;
	if (s->o->progress && s->o->progress(s->o->opaque, &s->p)) {
		snprintf(s->err, s->errlen, "migration aborted");
		return -ECANCELED;
	}
	return 0;
}

static int nbd_client_add(struct src_run *s, const char *key)
{
	char node[64], port[16];
	cJSON *a = obj1("driver", "nbd"), *srv = a ? cJSON_AddObjectToObject(a, "server") : NULL;
	int ok;

	nbd_node(node, sizeof(node), key);
	snprintf(port, sizeof(port), "%d", s->o->nbd_port);
	ok = srv && cJSON_AddStringToObject(a, "node-name", node) &&
	     cJSON_AddStringToObject(srv, "type", "inet") &&
	     cJSON_AddStringToObject(srv, "host", s->o->host) &&
	     cJSON_AddStringToObject(srv, "port", port) && cJSON_AddStringToObject(a, "export", key) &&
	     cJSON_AddStringToObject(a, "tls-creds", MIG_TLS_ID) &&
	     cJSON_AddStringToObject(a, "tls-hostname", HV_MIG_TLS_HOSTNAME);
	return run_built(s->q, "blockdev-add", a, ok, s->err, s->errlen);
}

/* Mirror job mig-KEY copying node FROM into node TO. */
static int mirror_nodes(struct src_run *s, const char *key, const char *from, const char *to)
{
	char job[64];
	cJSON *a = cJSON_CreateObject();
	int ok;

	job_name(job, sizeof(job), key);
	ok = a && cJSON_AddStringToObject(a, "job-id", job) &&
	     cJSON_AddStringToObject(a, "device", from) && cJSON_AddStringToObject(a, "target", to) &&
	     cJSON_AddStringToObject(a, "sync", "full") && cJSON_AddBoolToObject(a, "auto-dismiss", 0);
	if (ok && s->o->bwlimit_kib)
		ok = cJSON_AddNumberToObject(a, "speed", (double)s->o->bwlimit_kib * 1024) != NULL;
	return run_built(s->q, "blockdev-mirror", a, ok, s->err, s->errlen);
}

/* The nodes drive KEY uses now (hv/blocknode.h). */
static int drive_nodes(const struct hv_mig_qemu *q, const char *key, struct hv_drive_nodes *n,
		       char *err, size_t errlen)
{
	cJSON *ret = NULL;
	int r = run(q, "query-block", NULL, &ret, err, errlen);

	if (r == 0)
		hv_blocknode_parse(ret, key, n);
	cJSON_Delete(ret);
	return r;
}

static int mirror_start(struct src_run *s, const char *key)
{
	struct hv_drive_nodes cur;
	char node[64];
	int r = drive_nodes(s->q, key, &cur, s->err, s->errlen);

	nbd_node(node, sizeof(node), key);
	return r < 0 ? r : mirror_nodes(s, key, cur.format, node);
}

/* A job that concluded before we asked it to has failed. */
static int job_failed(const cJSON *ret, char *err, size_t errlen)
{
	const cJSON *job;

	cJSON_ArrayForEach(job, ret) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(job, "status");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(job, "error");

		if (is_mig_job(job) && cJSON_IsString(st) && strcmp(st->valuestring, "concluded") == 0) {
			snprintf(err, errlen, "disk mirror %s failed: %s",
				 cJSON_GetObjectItemCaseSensitive(job, "device")->valuestring,
				 cJSON_IsString(e) ? e->valuestring : "stopped");
			return 1;
		}
	}
	return 0;
}

static int wait_mirrors_ready(struct src_run *s)
{
	for (;;) {
		cJSON *ret = NULL;
		int r = run(s->q, "query-block-jobs", NULL, &ret, s->err, s->errlen);
		int n = r == 0 ? hv_mig_parse_jobs(ret, &s->p) : 0;

		if (r == 0 && (job_failed(ret, s->err, s->errlen) || n < (int)s->o->disks.n)) {
			if (n < (int)s->o->disks.n)
				snprintf(s->err, s->errlen, "disk mirror job vanished");
			r = CR_EQMP;
		}
		cJSON_Delete(ret);
		if (r < 0)
			return r;
		if (s->p.disks_ready == n)
			return report(s, 1);
		r = report(s, 0);
		if (r < 0)
			return r;
		usleep(MIRROR_POLL_US);
	}
}

static int mirror_disks(struct src_run *s)
{
	int r = 0;

	s->p.phase = HV_MIG_MIRROR;
	for (size_t i = 0; r == 0 && i < s->o->disks.n; i++) {
		r = nbd_client_add(s, s->o->disks.key[i]);
		if (r == 0)
			r = mirror_start(s, s->o->disks.key[i]);
	}
	return r == 0 && s->o->disks.n ? wait_mirrors_ready(s) : r;
}

static cJSON *caps_args(int on)
{
	cJSON *a = cJSON_CreateObject(), *caps = cJSON_AddArrayToObject(a, "capabilities");
	cJSON *c = cJSON_CreateObject();

	if (!caps || !c || !cJSON_AddStringToObject(c, "capability", "pause-before-switchover") ||
	    !cJSON_AddBoolToObject(c, "state", on) || !cJSON_AddItemToArray(caps, c)) {
		cJSON_Delete(c);
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

static int migrate_start(struct src_run *s)
{
	const struct hv_mig_source_opts *o = s->o;
	uint64_t bps = o->bwlimit_kib ? o->bwlimit_kib * 1024 : UNLIMITED_BPS;
	cJSON *a = obj1("tls-creds", MIG_TLS_ID);
	char uri[300];
	int ok = a && cJSON_AddStringToObject(a, "tls-hostname", HV_MIG_TLS_HOSTNAME) &&
		 cJSON_AddNumberToObject(a, "max-bandwidth", (double)bps) &&
		 cJSON_AddNumberToObject(a, "downtime-limit",
					 o->downtime_ms > 0 ? o->downtime_ms : HV_MIG_DOWNTIME_MS);
	int r = run_built(s->q, "migrate-set-capabilities", caps_args(1), 1, s->err, s->errlen);

	if (r == 0)
		r = run_built(s->q, "migrate-set-parameters", a, ok, s->err, s->errlen);
	else
		cJSON_Delete(a);
	tcp_uri(uri, sizeof(uri), o->host, o->mig_port);
	if (r == 0)
		r = run_built(s->q, "migrate", obj1("uri", uri), 1, s->err, s->errlen);
	s->p.phase = HV_MIG_RAM;
	snprintf(s->p.status, sizeof(s->p.status), "setup");
	return r == 0 ? report(s, 1) : r;
}

static int job_concluded(const struct hv_mig_qemu *q, const char *id, char *err, size_t errlen)
{
	cJSON *ret = NULL, *job;
	int r = run(q, "query-block-jobs", NULL, &ret, err, errlen), done = 1;

	cJSON_ArrayForEach(job, ret) {
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(job, "device");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(job, "status");

		if (cJSON_IsString(dev) && strcmp(dev->valuestring, id) == 0)
			done = cJSON_IsString(st) && (strcmp(st->valuestring, "concluded") == 0 ||
						      strcmp(st->valuestring, "null") == 0);
	}
	cJSON_Delete(ret);
	return r < 0 ? r : done;
}

/* Ends mirror job ID (FORCE: abandoning it) and waits until it is gone. */
static int job_end(const struct hv_mig_qemu *q, const char *id, int force, uint64_t deadline,
		   char *err, size_t errlen)
{
	cJSON *a = obj1("device", id);
	int r = a && cJSON_AddBoolToObject(a, "force", force) ? 0 : -ENOMEM;

	r = r == 0 ? run(q, "block-job-cancel", a, NULL, err, errlen) : (cJSON_Delete(a), r);
	while (r == 0 && (r = job_concluded(q, id, err, errlen)) == 0) {
		if (util_now_ms() >= deadline) {
			snprintf(err, errlen, "disk mirror %s did not finish", id);
			return CR_ETIMEOUT;
		}
		usleep(RAM_POLL_US);
	}
	run_quiet(q, "job-dismiss", obj1("id", id));
	return r < 0 ? r : 0;
}

/* Source paused before switchover: finish the disk copies, then let the
 * migration send the device state. */
static int switchover(struct src_run *s)
{
	uint64_t deadline = util_now_ms() + 60000; /* the rest of a synced mirror */
	char id[64], node[64];
	int r = 0;

	s->p.phase = HV_MIG_SWITCHOVER;
	for (size_t i = 0; r == 0 && i < s->o->disks.n; i++) {
		job_name(id, sizeof(id), s->o->disks.key[i]);
		nbd_node(node, sizeof(node), s->o->disks.key[i]);
		r = job_end(s->q, id, 0, deadline, s->err, s->errlen);
		if (r == 0)
			r = run_built(s->q, "blockdev-del", obj1("node-name", node), 1, s->err,
				      s->errlen);
	}
	if (r == 0)
		r = run_built(s->q, "migrate-continue", obj1("state", "pre-switchover"), 1, s->err,
			      s->errlen);
	return r;
}

static int migrate_wait(struct src_run *s)
{
	for (;;) {
		int r = query_migrate(s->q, &s->p, s->err, s->errlen);

		if (r < 0)
			return r;
		if (strcmp(s->p.status, "completed") == 0)
			return 0;
		if (strcmp(s->p.status, "failed") == 0 || strcmp(s->p.status, "cancelled") == 0) {
			snprintf(s->err, s->errlen, "migration %s", s->p.status);
			return CR_EQMP;
		}
		if (strcmp(s->p.status, "pre-switchover") == 0 && s->p.phase == HV_MIG_RAM) {
			r = switchover(s);
			if (r < 0)
				return r;
			continue;
		}
		r = report(s, 0);
		if (r < 0)
			return r;
		usleep(RAM_POLL_US);
	}
}

static int migration_settled(const struct hv_mig_qemu *q)
{
	struct hv_mig_progress p;
	char ignored[256];

	if (query_migrate(q, &p, ignored, sizeof(ignored)) < 0)
		return 1;
	return strcmp(p.status, "active") != 0 && strcmp(p.status, "cancelling") != 0 &&
	       strcmp(p.status, "pre-switchover") != 0 && strcmp(p.status, "device") != 0 &&
	       strcmp(p.status, "setup") != 0;
}

/* yank of one instance {"type": TYPE[, "node-name": NODE]}; QEMU refuses
 * the whole list when one instance does not exist, hence one at a time. */
static void yank_one(const struct hv_mig_qemu *q, const char *type, const char *node)
{
	cJSON *i = obj1("type", type);
	cJSON *a = i && (!node || cJSON_AddStringToObject(i, "node-name", node))
			   ? cJSON_CreateObject() : NULL;
	cJSON *list = a ? cJSON_AddArrayToObject(a, "instances") : NULL;

	if (!list) {
		cJSON_Delete(i);
		cJSON_Delete(a);
		return;
	}
	cJSON_AddItemToArray(list, i);
	run_quiet(q, "yank", a);
}

/* Shuts down the NBD clients' sockets, then the migration stream.  Over a
 * dead link NBD requests wait out TCP's retransmissions (minutes), and the
 * end of a migration (its cleanup) or of a mirror job drains every block
 * node with the big QEMU lock held: the guest would freeze until the kernel
 * gives up.  Yanked first, the NBD requests fail at once and the drains
 * that follow find nothing to wait for. */
static void yank_links(const struct hv_mig_qemu *q, const struct hv_mig_disks *d)
{
	char id[64];

	for (size_t i = 0; i < d->n; i++) {
		nbd_node(id, sizeof(id), d->key[i]);
		yank_one(q, "block-node", id);
	}
	yank_one(q, "migration", NULL);
}

/* Back to where we started: no migration, no jobs, no NBD nodes, no TLS
 * object, the guest running if it ran before. */
static void source_rollback(const struct hv_mig_qemu *q, const struct hv_mig_disks *d,
			    int was_running)
{
	uint64_t deadline = util_now_ms() + 30000;
	char id[64], node[64], ignored[256], state[32];

	yank_links(q, d);
	run_quiet(q, "migrate_cancel", NULL);
	while (!migration_settled(q) && util_now_ms() < deadline)
		usleep(RAM_POLL_US);
	for (size_t i = 0; i < d->n; i++) {
		job_name(id, sizeof(id), d->key[i]);
		nbd_node(node, sizeof(node), d->key[i]);
		job_end(q, id, 1, deadline, ignored, sizeof(ignored));
		run_quiet(q, "blockdev-del", obj1("node-name", node));
	}
	run_quiet(q, "migrate-set-capabilities", caps_args(0));
	run_quiet(q, "object-del", obj1("id", MIG_TLS_ID));
	if (was_running && run_state(q, state, sizeof(state), ignored, sizeof(ignored)) == 0 &&
	    strcmp(state, "running") != 0)
		run_quiet(q, "cont", NULL);
}

int hv_mig_source_run(const struct hv_mig_qemu *q, const struct hv_mig_source_opts *o,
		      struct hv_mig_progress *last, char *err, size_t errlen)
{
	struct src_run s = { .q = q, .o = o, .err = err, .errlen = errlen };
	char state[32];
	int r;

	memset(&s.p, 0, sizeof(s.p));
	s.p.downtime_ms = s.p.total_ms = s.p.setup_ms = s.p.expected_downtime_ms = -1;
	if (o->timeout_ms > 0)
		s.deadline = util_now_ms() + (uint64_t)o->timeout_ms;
	r = run_state(q, state, sizeof(state), err, errlen);
	if (r < 0)
		return r;
	r = add_tls_object(q, o->tls_dir, 0, err, errlen);
	if (r == 0)
		r = mirror_disks(&s);
	if (r == 0)
		r = migrate_start(&s);
	if (r == 0)
		r = migrate_wait(&s);
	if (r < 0) {
		source_rollback(q, &o->disks, strcmp(state, "running") == 0);
	} else {
		s.p.phase = HV_MIG_DONE;
		run_quiet(q, "migrate-set-capabilities", caps_args(0));
		report(&s, 1); /* too late to stop: the target owns the guest */
	}
	if (last)
		*last = s.p;
	return r;
}

int hv_mig_free_port(const char *host)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
	struct addrinfo *ai;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int fd, port = -EADDRNOTAVAIL;

	if (getaddrinfo(host, "0", &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
						      : ((struct sockaddr_in *)&sa)->sin_port);
	else
		port = -errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return port;
}

/* ---- local disk move ------------------------------------------------------------------ */

/* The names of a move: the drive's nodes now and the new image's. */
struct move_names {
	struct hv_drive_nodes from, to;
};

static int move_names(const struct hv_mig_qemu *q, const char *key, struct move_names *m,
		      char *err, size_t errlen)
{
	int r = drive_nodes(q, key, &m->from, err, errlen);

	if (r == 0)
		hv_blocknode_next(&m->from, key, &m->to);
	return r;
}

static int image_add(const struct hv_mig_qemu *q, const struct move_names *m, const char *path,
		     const char *format, char *err, size_t errlen)
{
	cJSON *a = obj1("driver", format), *f = a ? cJSON_AddObjectToObject(a, "file") : NULL;
	int ok = f && cJSON_AddStringToObject(a, "node-name", m->to.format) &&
		 cJSON_AddStringToObject(f, "driver", "file") &&
		 cJSON_AddStringToObject(f, "node-name", m->to.file) &&
		 cJSON_AddStringToObject(f, "filename", path);

	return run_built(q, "blockdev-add", a, ok, err, errlen);
}

/* job-complete on a ready mirror: the device switches to the copy. */
static int move_complete(struct src_run *s, const char *job)
{
	uint64_t deadline = util_now_ms() + 60000;
	int r = run_built(s->q, "job-complete", obj1("id", job), 1, s->err, s->errlen);
	cJSON *ret = NULL;

	while (r == 0 && (r = job_concluded(s->q, job, s->err, s->errlen)) == 0) {
		if (util_now_ms() >= deadline) {
			snprintf(s->err, s->errlen, "disk mirror %s did not finish", job);
			return CR_ETIMEOUT;
		}
		usleep(RAM_POLL_US);
	}
	if (r > 0 && (r = run(s->q, "query-block-jobs", NULL, &ret, s->err, s->errlen)) == 0) {
		const cJSON *job;

		cJSON_ArrayForEach(job, ret) {
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(job, "error");

			if (is_mig_job(job) && cJSON_IsString(e)) {
				snprintf(s->err, s->errlen, "disk mirror failed: %s", e->valuestring);
				r = CR_EQMP;
			}
		}
	}
	cJSON_Delete(ret);
	run_quiet(s->q, "job-dismiss", obj1("id", job));
	return r;
}

int hv_mig_local_move(const struct hv_mig_qemu *q, const char *key, const char *path,
		      const char *format, uint64_t bwlimit_kib, hv_mig_progress_fn progress,
		      void *opaque, char *err, size_t errlen)
{
	struct hv_mig_source_opts o = { .disks = { .key = { key }, .n = 1 },
					.bwlimit_kib = bwlimit_kib, .progress = progress,
					.opaque = opaque, .stall_ms = -1 /* no link to lose */ };
	struct src_run s = { .q = q, .o = &o, .err = err, .errlen = errlen };
	struct move_names m;
	char job[64];
	int r = move_names(q, key, &m, err, errlen);

	job_name(job, sizeof(job), key);
	s.p.phase = HV_MIG_MIRROR;
	s.p.downtime_ms = s.p.total_ms = s.p.setup_ms = s.p.expected_downtime_ms = -1;
	if (r == 0)
		r = image_add(q, &m, path, format, err, errlen);
	if (r < 0)
		return r;
	r = mirror_nodes(&s, key, m.from.format, m.to.format);
	if (r == 0)
		r = wait_mirrors_ready(&s);
	if (r == 0)
		r = move_complete(&s, job);
	if (r < 0) {
		char ignored[256];

		job_end(q, job, 1, util_now_ms() + 30000, ignored, sizeof(ignored));
		run_quiet(q, "blockdev-del", obj1("node-name", m.to.format));
		run_quiet(q, "blockdev-del", obj1("node-name", m.to.file));
		return r;
	}
	run_quiet(q, "blockdev-del", obj1("node-name", m.from.format)); /* closes the old image */
	run_quiet(q, "blockdev-del", obj1("node-name", m.from.file));
	s.p.phase = HV_MIG_DONE;
	report(&s, 1);
	return 0;
}
