/* The cluster sync thread: once a second it rebuilds this node's VM
 * inventory, republishes the node's gossiped record when it changed (and
 * every RECORD_REFRESH_MS for the load figures), records members that
 * joined through other nodes, pulls changed inventories and access
 * configuration from members, and retries members gossip does not know. */
#include "server/cluster.h"

#include "cluster/swim.h"
#include "cluster/swim_loop.h"
#include "common/version.h"
#include "server/app.h"
#include "server/cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define SYNC_PERIOD_MS 1000
/* Load and memory figures are refreshed this often even when nothing changed. */
#define RECORD_REFRESH_MS 10000
/* Known members gossip has no entry for are contacted again this often. */
#define REJOIN_MS 5000

static void fill_record(struct cluster *c, struct cluster_rec *r)
{
	struct sysinfo si;

	memset(r, 0, sizeof(*r));
	snprintf(r->cluster, sizeof(r->cluster), "%s", c->state->name);
	cluster_local_api(c->app, r->api, sizeof(r->api));
	snprintf(r->fp, sizeof(r->fp), "%.95s", c->app->cert_fingerprint);
	snprintf(r->version, sizeof(r->version), "%s", CORRAL_VERSION);
	if (sysinfo(&si) == 0) {
		r->load = (double)si.loads[0] / (double)(1 << SI_LOAD_SHIFT);
		r->maxmem = (uint64_t)si.totalram * si.mem_unit;
		r->mem = r->maxmem - (uint64_t)si.freeram * si.mem_unit;
		r->uptime = (uint64_t)si.uptime;
	}
	r->cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	r->inv_epoch = c->inv_epoch;
	r->inv_ver = inv_version(c->local);
	r->vm_count = (uint32_t)inv_count(c->local);
	r->acc_hlc = c->acc_hlc;
	r->joined = c->state->joined;
}

/* The record without its time and figures: publish at once when it changes. */
static void record_key(const struct cluster_rec *r, char *out, size_t n)
{
	snprintf(out, n, "%s|%s|%s|%llu|%llu|%llu", r->api, r->fp, r->cluster,
		 (unsigned long long)r->inv_epoch, (unsigned long long)r->inv_ver,
		 (unsigned long long)r->acc_hlc);
}

static void publish(struct cluster *c)
{
	struct cluster_rec rec;
	char text[1024], key[sizeof(c->rec_last)];
	uint64_t now = cluster_now_ms();
	int len;

	fill_record(c, &rec);
	record_key(&rec, key, sizeof(key));
	if (strcmp(key, c->rec_last) == 0 && now - c->rec_published_ms < RECORD_REFRESH_MS)
		return;
	rec.time = (uint64_t)time(NULL);
	if ((len = cluster_rec_encode(&rec, text, sizeof(text))) < 0)
		return;
	swim_set_local_state(swim_loop_lock(c->loop), text, (size_t)len);
	swim_loop_unlock(c->loop);
	snprintf(c->rec_last, sizeof(c->rec_last), "%s", key);
	c->rec_published_ms = now;
}

/* Members that joined through another node land in our state file too. */
static int adopt_member(struct cluster *c, const struct cluster_member *m)
{
	struct cluster_state_node n = { 0 };

	if (!m->online || !m->has_rec || strcmp(m->rec.cluster, c->state->name) != 0)
		return 0;
	snprintf(n.name, sizeof(n.name), "%s", m->name);
	snprintf(n.api, sizeof(n.api), "%s", m->rec.api);
	snprintf(n.gossip, sizeof(n.gossip), "%s", m->gossip);
	snprintf(n.fp, sizeof(n.fp), "%s", m->rec.fp);
	return cluster_state_put_node(c->state, &n) == 0;
}

static void adopt_new_members(struct cluster *c)
{
	struct swim *s = swim_loop_lock(c->loop);
	size_t count = swim_member_count(s);
	int changed = 0;

	for (size_t i = 0; i < count; i++) {
		struct swim_member_info mi;
		struct cluster_member m = { 0 };

		if (swim_member_at(s, i, &mi) < 0 || mi.is_self || !mi.state_len ||
		    cluster_state_find(c->state, mi.name))
			continue;
		m.has_rec = cluster_rec_decode(mi.state, mi.state_len, &m.rec) == 0;
		if (cluster_was_removed(c, mi.name, m.has_rec ? &m.rec : NULL))
			continue;
		snprintf(m.name, sizeof(m.name), "%s", mi.name);
		swim_addr_format(&mi.addr, m.gossip, sizeof(m.gossip));
		m.online = mi.status == SWIM_ALIVE;
		changed |= adopt_member(c, &m);
	}
	swim_loop_unlock(c->loop);
	if (changed)
		cluster_state_save(c);
}

/* One round with the lock held; returns 0 when standalone. */
static int local_round(struct cluster *c, uint64_t *last_rejoin)
{
	if (!c->state || !c->loop)
		return 0;
	publish(c);
	adopt_new_members(c);
	if (cluster_now_ms() - *last_rejoin >= REJOIN_MS) {
		cluster_gossip_rejoin(c);
		*last_rejoin = cluster_now_ms();
	}
	return 1;
}

static void pull_round(struct cluster *c)
{
	struct cluster_member *m = calloc(CLUSTER_INV_NODES, sizeof(*m));
	size_t n = m ? cluster_members(c, m, CLUSTER_INV_NODES) : 0;

	for (size_t i = 0; i < n && !c->stopping; i++) {
		if (m[i].local || !m[i].online || !m[i].has_rec)
			continue;
		cluster_inv_pull(c, m[i].name, &m[i].rec);
		cluster_access_pull(c, m[i].name, &m[i].rec);
	}
	free(m);
}

static void wait_period(struct cluster *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SYNC_PERIOD_MS / 1000;
	pthread_mutex_lock(&c->lock);
	if (!c->stopping)
		pthread_cond_timedwait(&c->wake, &c->lock, &ts);
	pthread_mutex_unlock(&c->lock);
}

static void *sync_main(void *arg)
{
	struct cluster *c = arg;
	uint64_t last_rejoin = cluster_now_ms();
	int clustered;

	while (!c->stopping) {
		if (cluster_is_member(c, NULL, 0)) {
			cluster_inv_refresh_local(c);
			cluster_access_poll(c);
		}
		pthread_mutex_lock(&c->lock);
		clustered = local_round(c, &last_rejoin);
		pthread_mutex_unlock(&c->lock);
		if (clustered)
			pull_round(c);
		wait_period(c);
	}
	return NULL;
}

int cluster_sync_start(struct cluster *c)
{
	if (pthread_create(&c->sync, NULL, sync_main, c) != 0)
		return -EAGAIN;
	c->sync_running = 1;
	return 0;
}

void cluster_sync_stop(struct cluster *c)
{
	if (!c->sync_running)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->sync, NULL);
	c->sync_running = 0;
}

/* Wakes the sync thread (after a local change worth spreading now). */
void cluster_sync_kick(struct cluster *c)
{
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
}
