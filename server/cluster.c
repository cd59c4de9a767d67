/* Cluster membership of this node: the persisted state, the gossip loop and
 * its keyring, creating a cluster, the member side of a join, removal and
 * the member list (the joining side is in cluster_join.c). */
#include "server/cluster.h"

#include "cluster/keyring.h"
#include "cluster/swim.h"
#include "cluster/swim_loop.h"
#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/cluster_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t cluster_now_ms(void)
{
	return util_now_ms();
}

/* Wall-clock milliseconds: removals and joins are compared across nodes
 * and restarts. */
static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void state_path(const struct cluster *c, char *out, size_t n)
{
	snprintf(out, n, "%.*s/cluster/cluster.json", (int)(n / 2), c->app->cfg.data_dir);
}

int cluster_state_save(struct cluster *c)
{
	char path[APP_PATH_MAX + 64], dir[APP_PATH_MAX + 64];
	cJSON *o = cluster_state_to_json(c->state);
	char *text = o ? cJSON_Print(o) : NULL;
	int r = -ENOMEM;

	snprintf(dir, sizeof(dir), "%.*s/cluster", APP_PATH_MAX, c->app->cfg.data_dir);
	state_path(c, path, sizeof(path));
	if (text && (r = util_mkdir_p(dir, 0700)) == 0)
		r = util_write_file_atomic(path, text, strlen(text), 0600);
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	cJSON_Delete(o);
	return r;
}

static int state_load(struct cluster *c, char *err, size_t errlen)
{
	char path[APP_PATH_MAX + 64], detail[128] = "";
	char *text = NULL;
	size_t len;
	int r;

	state_path(c, path, sizeof(path));
	r = util_read_file(path, 1 << 22, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r == 0 && !(c->state = malloc(sizeof(*c->state))))
		r = -ENOMEM;
	if (r == 0 && (r = cluster_state_parse(text, c->state, detail, sizeof(detail))) < 0) {
		free(c->state);
		c->state = NULL;
	}
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, detail[0] ? detail : err_str(r));
	free(text);
	return r;
}

/* --- addresses --- */

static int wildcard(const char *addr)
{
	return !addr[0] || strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0 ||
	       strcmp(addr, "[::]") == 0;
}

/* The first non-loopback IPv4 address that is up ("127.0.0.1" without). */
static void first_ip(char *out, size_t n)
{
	struct ifaddrs *ifs, *i;

	snprintf(out, n, "127.0.0.1");
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out,
			  (socklen_t)n);
		break;
	}
	freeifaddrs(ifs);
}

static void join_hostport(const char *host, unsigned port, char *out, size_t n)
{
	if (snprintf(out, n, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port) >= (int)n)
		out[0] = '\0';
}

void cluster_node_ip(const struct app *app, char *out, size_t n)
{
	if (wildcard(app->cfg.listen_addr))
		first_ip(out, n);
	else
		snprintf(out, n, "%s", app->cfg.listen_addr);
}

/* The API address other members reach this node at. */
void cluster_local_api(const struct app *app, char *out, size_t n)
{
	char ip[64];

	cluster_node_ip(app, ip, sizeof(ip));
	join_hostport(ip, app->cfg.listen_port, out, n);
}

/* LINK (a host or host:port), else the gossip listen address when it is a
 * specific one, else the API host, with the gossip port. */
static int gossip_advertise(const struct app *app, const char *link, char *out, size_t n)
{
	char lhost[64], host[CLUSTER_HOSTPORT_MAX];
	uint16_t lport, port;

	if (cluster_parse_hostport(app->cfg.gossip_listen, CLUSTER_GOSSIP_PORT, lhost, sizeof(lhost),
				   &lport) < 0)
		return -EINVAL;
	if (link && link[0]) {
		if (cluster_parse_hostport(link, lport, host, sizeof(host), &port) < 0)
			return -EINVAL;
	} else if (!wildcard(lhost)) {
		snprintf(host, sizeof(host), "%s", lhost);
	} else if (!wildcard(app->cfg.listen_addr)) {
		snprintf(host, sizeof(host), "%s", app->cfg.listen_addr);
	} else {
		first_ip(host, sizeof(host));
	}
	join_hostport(host, link && strchr(link, ':') && link[0] != '[' ? port : lport, out, n);
	if (link && link[0] == '[' && strstr(link, "]:"))
		join_hostport(host, port, out, n);
	return 0;
}

/* --- gossip --- */

static int swim_addr_of(const char *hostport, struct swim_addr *a)
{
	return swim_addr_parse(hostport, a) < 0 ? -EINVAL : 0;
}

static int keyring_setup(struct cluster *c)
{
	uint8_t key[32];
	int r;

	if (cluster_key_from_hex(c->state->key_hex, key) < 0)
		return -EINVAL;
	if (!(c->kr = keyring_new()))
		return -ENOMEM;
	r = keyring_install(c->kr, key);
	for (size_t i = 0; r == 0 && i < c->state->n_keys; i++)
		if ((r = cluster_key_from_hex(c->state->keys[i], key)) == 0)
			r = keyring_install(c->kr, key);
	if (r == 0)
		r = keyring_set_label(c->kr, c->state->name);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* --- key rotation --- */

static int key_apply(struct cluster *c, enum cluster_key_op op, const char *hex)
{
	uint8_t key[32];
	int r;

	if (cluster_key_from_hex(hex, key) < 0)
		return -EINVAL;
	if (op == CLUSTER_KEY_INSTALL) {
		r = cluster_state_key_install(c->state, hex);
		if (r == 0 && c->kr)
			r = keyring_install(c->kr, key);
	} else if (op == CLUSTER_KEY_USE) {
		r = cluster_state_key_use(c->state, hex);
		if (r == 0 && c->kr)
			r = keyring_use(c->kr, key);
	} else {
		r = cluster_state_key_remove(c->state, hex);
		if (r == 0 && c->kr)
			r = keyring_remove(c->kr, key);
	}
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

int cluster_key_change(struct cluster *c, enum cluster_key_op op, const char *hex, char *err,
		       size_t errlen)
{
	int r;

	pthread_mutex_lock(&c->lock);
	if (!c->state) {
		r = CR_EBADREQ;
		snprintf(err, errlen, "this node is not in a cluster");
	} else if ((r = key_apply(c, op, hex)) < 0) {
		snprintf(err, errlen, "%s", r == -EBUSY ? "the key in use cannot be removed"
					    : r == -ENOENT ? "no such key installed"
					    : r == -ENOSPC ? "too many keys installed"
							   : err_str(r));
		r = r == -ENOENT ? CR_ENOTFOUND : CR_EBADREQ;
	} else if ((r = cluster_state_save(c)) < 0) {
		snprintf(err, errlen, "cannot save the cluster state: %s", err_str(r));
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* Push/pull with every known member that gossip does not know yet. */
void cluster_gossip_rejoin(struct cluster *c)
{
	struct swim *s = swim_loop_lock(c->loop);
	struct swim_member_info mi;
	struct swim_addr a;

	for (size_t i = 0; i < c->state->n_nodes; i++) {
		const struct cluster_state_node *n = &c->state->nodes[i];

		/* Dead members too: a healed partition merges within REJOIN_MS. */
		if (strcmp(n->name, c->app->cfg.node) == 0 ||
		    (swim_member_get(s, n->name, &mi) == 0 && mi.status != SWIM_DEAD))
			continue;
		if (swim_addr_of(n->gossip, &a) == 0)
			swim_join(s, &a);
	}
	swim_loop_unlock(c->loop);
}

int cluster_gossip_start(struct cluster *c, char *err, size_t errlen)
{
	const struct cluster_state_node *self = cluster_state_find(c->state, c->app->cfg.node);
	struct swim_config cfg;
	int r;

	if (!self) {
		snprintf(err, errlen, "this node (%s) is not in the cluster state", c->app->cfg.node);
		return -EINVAL;
	}
	snprintf(c->self_gossip, sizeof(c->self_gossip), "%s", self->gossip);
	swim_config_default(&cfg);
	cfg.name = c->app->cfg.node;
	/* Wall seconds: a restarted node starts above the incarnation it died with. */
	cfg.incarnation = (uint32_t)time(NULL);
	if (swim_addr_of(self->gossip, &cfg.addr) < 0 || (r = keyring_setup(c)) < 0) {
		snprintf(err, errlen, "bad gossip address '%s' or key", self->gossip);
		return -EINVAL;
	}
	cfg.keyring = c->kr;
	if (!(c->loop = swim_loop_start(&cfg, c->app->cfg.gossip_listen, err, errlen)))
		return CR_EINTERNAL;
	cluster_gossip_rejoin(c);
	return 0;
}

void cluster_gossip_stop(struct cluster *c)
{
	if (c->loop) {
		struct swim *s = swim_loop_lock(c->loop);

		swim_leave(s);
		swim_loop_unlock(c->loop);
		/* A few gossip rounds so the leave spreads. */
		usleep(600 * 1000);
		swim_loop_stop(c->loop);
	}
	c->loop = NULL;
	keyring_free(c->kr);
	c->kr = NULL;
}

/* --- life cycle --- */

int cluster_new(struct app *app, struct cluster **out, char *err, size_t errlen)
{
	struct cluster *c = calloc(1, sizeof(*c));
	int r;

	if (!c || !(c->local = inv_new())) {
		free(c);
		return -ENOMEM;
	}
	c->app = app;
	c->started_ms = cluster_now_ms();
	c->inv_epoch = (uint64_t)time(NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	r = state_load(c, err, errlen);
	if (r == 0 && c->state)
		r = cluster_gossip_start(c, err, errlen);
	if (r == 0)
		r = cluster_sync_start(c);
	if (r < 0) {
		cluster_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	cluster_sync_stop(c);
	cluster_gossip_stop(c);
	for (size_t i = 0; i < c->n_remote; i++)
		inv_free(c->remote[i].inv);
	inv_free(c->local);
	free(c->state);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int cluster_is_member(struct cluster *c, char *name, size_t n)
{
	int in;

	pthread_mutex_lock(&c->lock);
	in = c->state != NULL;
	if (in && name)
		snprintf(name, n, "%s", c->state->name);
	pthread_mutex_unlock(&c->lock);
	return in;
}

/* Installs ST as the cluster state and starts gossip (lock held). */
int cluster_adopt_state(struct cluster *c, struct cluster_state *st, char *err, size_t errlen)
{
	int r;

	c->state = st;
	st->joined = wall_ms();
	if ((r = cluster_state_save(c)) < 0)
		snprintf(err, errlen, "cannot save the cluster state: %s", err_str(r));
	else
		r = cluster_gossip_start(c, err, errlen);
	if (r < 0) {
		cluster_gossip_stop(c);
		c->state = NULL;
		free(st);
	}
	return r;
}

/* This node's entry with LINK as its gossip address. */
int cluster_self_node(struct cluster *c, const char *link, struct cluster_state_node *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", c->app->cfg.node);
	cluster_local_api(c->app, n->api, sizeof(n->api));
	snprintf(n->fp, sizeof(n->fp), "%.95s", c->app->cert_fingerprint);
	return gossip_advertise(c->app, link, n->gossip, sizeof(n->gossip));
}

int cluster_create(struct cluster *c, const char *name, const char *link, char *err,
		   size_t errlen)
{
	struct cluster_state *st = calloc(1, sizeof(*st));
	uint8_t key[32];
	int r = -ENOMEM;

	if (!st)
		return r;
	pthread_mutex_lock(&c->lock);
	if (c->state) {
		r = CR_EEXISTS;
		snprintf(err, errlen, "cluster config '%s' already exists", c->state->name);
		goto fail;
	}
	snprintf(st->name, sizeof(st->name), "%s", name);
	if ((r = cluster_self_node(c, link, &st->nodes[0])) < 0) {
		snprintf(err, errlen, "invalid link address '%s'", link ? link : "");
		goto fail;
	}
	st->n_nodes = 1;
	if (RAND_bytes(key, sizeof(key)) != 1) {
		r = CR_EINTERNAL;
		goto fail;
	}
	cluster_key_to_hex(key, st->key_hex);
	OPENSSL_cleanse(key, sizeof(key));
	r = cluster_adopt_state(c, st, err, errlen);
	pthread_mutex_unlock(&c->lock);
	if (r == 0)
		cluster_access_stamp(c);
	return r;
fail:
	pthread_mutex_unlock(&c->lock);
	free(st);
	return r;
}

/* --- removed members --- */

int cluster_was_removed(struct cluster *c, const char *name, const struct cluster_rec *rec)
{
	uint64_t at = c->state ? cluster_state_removed_at(c->state, name) : 0;

	if (!at)
		return 0;
	if (!rec || rec->joined <= at)
		return 1;
	/* It joined again (through another member) since: a member again. */
	cluster_state_set_removed(c->state, name, 0);
	return 0;
}

/* --- the member side of a join --- */

static cJSON *auth_file(const struct cluster *c, const char *name)
{
	char path[APP_PATH_MAX + 64], *text = NULL;
	size_t len;
	cJSON *s = NULL;

	snprintf(path, sizeof(path), "%.*s/auth/%s", APP_PATH_MAX, c->app->cfg.data_dir, name);
	if (util_read_file(path, 1 << 16, &text, &len) == 0)
		s = cJSON_CreateString(text);
	if (text)
		OPENSSL_cleanse(text, len);
	free(text);
	return s;
}

static cJSON *join_answer(struct cluster *c)
{
	cJSON *o = cluster_state_to_json(c->state), *ak = auth_file(c, "authkey.key"),
	      *cs = auth_file(c, "csrf.key");

	if (!o || !ak || !cs) {
		cJSON_Delete(o);
		cJSON_Delete(ak);
		cJSON_Delete(cs);
		return NULL;
	}
	cJSON_AddItemToObject(o, "authkey", ak);
	cJSON_AddItemToObject(o, "csrf", cs);
	return o;
}

int cluster_add_node(struct cluster *c, const char *name, const char *api, const char *gossip,
		     const char *fp, cJSON **out, char *err, size_t errlen)
{
	struct cluster_state_node n = { 0 };
	int r;

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.api, sizeof(n.api), "%s", api);
	snprintf(n.gossip, sizeof(n.gossip), "%s", gossip);
	snprintf(n.fp, sizeof(n.fp), "%s", fp);
	pthread_mutex_lock(&c->lock);
	/* A removed node that joins anew is a member again. */
	if (c->state)
		cluster_state_set_removed(c->state, name, 0);
	if (!c->state) {
		r = CR_EBADREQ;
		snprintf(err, errlen, "this node is not in a cluster");
	} else if (strcmp(name, c->app->cfg.node) == 0) {
		r = CR_EEXISTS;
		snprintf(err, errlen, "node '%s' already exists (it is this node)", name);
	} else if ((r = cluster_state_put_node(c->state, &n)) < 0 ||
		   (r = cluster_state_save(c)) < 0) {
		snprintf(err, errlen, "cannot record node '%s': %s", name, err_str(r));
	} else if (!(*out = join_answer(c))) {
		r = CR_EINTERNAL;
		snprintf(err, errlen, "cannot read the cluster keys");
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int cluster_remove_node(struct cluster *c, const char *name, char *err, size_t errlen)
{
	char path[APP_PATH_MAX + 64];
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->state || !cluster_state_find(c->state, name)) {
		r = CR_ENOTFOUND;
		snprintf(err, errlen, "Node/IP: %s is not a known host of the cluster.", name);
	} else if (strcmp(name, c->app->cfg.node) == 0) {
		cluster_gossip_stop(c);
		state_path(c, path, sizeof(path));
		unlink(path);
		free(c->state);
		c->state = NULL;
	} else {
		cluster_state_del_node(c->state, name);
		cluster_state_set_removed(c->state, name, wall_ms());
		r = cluster_state_save(c);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* --- members --- */

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cluster_member *)a)->name,
		      ((const struct cluster_member *)b)->name);
}

static void member_from_state(const struct cluster_state_node *n, int local,
			      struct cluster_member *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", n->name);
	snprintf(m->api, sizeof(m->api), "%s", n->api);
	snprintf(m->gossip, sizeof(m->gossip), "%s", n->gossip);
	snprintf(m->fp, sizeof(m->fp), "%s", n->fp);
	m->local = local;
	m->online = local;
}

/* Overlays what gossip knows of M. */
static void member_from_swim(struct swim *s, struct cluster_member *m)
{
	struct swim_member_info mi;

	if (swim_member_get(s, m->name, &mi) < 0)
		return;
	m->online = m->local || mi.status == SWIM_ALIVE || mi.status == SWIM_SUSPECT;
	swim_addr_format(&mi.addr, m->gossip, sizeof(m->gossip));
	if (mi.state_len && cluster_rec_decode(mi.state, mi.state_len, &m->rec) == 0) {
		m->has_rec = 1;
		if (m->rec.api[0])
			snprintf(m->api, sizeof(m->api), "%s", m->rec.api);
		if (m->rec.fp[0])
			snprintf(m->fp, sizeof(m->fp), "%s", m->rec.fp);
	}
}

size_t cluster_members(struct cluster *c, struct cluster_member *out, size_t max)
{
	struct swim *s;
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->state || !c->loop)
		goto out;
	s = swim_loop_lock(c->loop);
	for (size_t i = 0; i < c->state->n_nodes && n < max; i++) {
		const struct cluster_state_node *sn = &c->state->nodes[i];

		member_from_state(sn, strcmp(sn->name, c->app->cfg.node) == 0, &out[n]);
		member_from_swim(s, &out[n++]);
	}
	swim_loop_unlock(c->loop);
out:
	pthread_mutex_unlock(&c->lock);
	qsort(out, n, sizeof(out[0]), member_cmp);
	return n;
}

int cluster_member_get(struct cluster *c, const char *name, struct cluster_member *out)
{
	const struct cluster_state_node *sn;
	int r = CR_ENOTFOUND;

	pthread_mutex_lock(&c->lock);
	if (c->state && c->loop && (sn = cluster_state_find(c->state, name))) {
		struct swim *s = swim_loop_lock(c->loop);

		member_from_state(sn, strcmp(name, c->app->cfg.node) == 0, out);
		member_from_swim(s, out);
		swim_loop_unlock(c->loop);
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void cluster_stats(struct cluster *c, struct swim_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	if (c->loop) {
		struct swim *s = swim_loop_lock(c->loop);

		swim_get_stats(s, out);
		swim_loop_unlock(c->loop);
	}
	pthread_mutex_unlock(&c->lock);
}
