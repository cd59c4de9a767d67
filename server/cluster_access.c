/* Cluster-wide users, groups, roles, ACLs and API tokens.
 *
 * Scheme: last writer wins over the whole access configuration, ordered by
 * hybrid logical clocks.  Every node stamps its access configuration with
 * an HLC (acc_hlc) whenever it changes locally (the store's access
 * generation moves) and gossips that stamp in its node record.  A node that
 * sees a member with a higher stamp fetches the member's whole access
 * configuration through the peer API (GET /cluster/peer/access) and
 * replaces its own in one transaction, adopting the stamp.  Two changes
 * made on different nodes within one sync period (or on both sides of a
 * partition) are not merged: the later stamp wins and the other change is
 * lost.  The stamp is kept in DATA/cluster/access.hlc across restarts.
 * A new cluster stamps its creator's configuration, so joining nodes adopt
 * it (their own users are replaced, as with `pvecm add`). */
#include "server/cluster.h"

#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/app.h"
#include "server/cluster_int.h"
#include "server/peer.h"
#include "server/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const struct {
	const char *name;
	enum store_db db;
	int optional; /* absent from members that predate it: kept as it is */
} access_dbs[] = {
	{ "users", DB_USERS, 0 }, { "groups", DB_GROUPS, 0 }, { "roles", DB_ROLES, 0 },
	{ "acl", DB_ACL, 0 },     { "tokens", DB_TOKENS, 0 }, { "pools", DB_POOLS, 1 },
};

static uint64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void hlc_path(const struct cluster *c, char *out, size_t n)
{
	snprintf(out, n, "%.*s/cluster/access.hlc", (int)(n / 2), c->app->cfg.data_dir);
}

static void hlc_save(const struct cluster *c)
{
	char path[APP_PATH_MAX + 64], text[32];
	int len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)c->acc_hlc);

	hlc_path(c, path, sizeof(path));
	util_write_file_atomic(path, text, (size_t)len, 0600);
}

static void hlc_load(struct cluster *c)
{
	char path[APP_PATH_MAX + 64], *text = NULL;
	size_t len;
	uint64_t v;

	hlc_path(c, path, sizeof(path));
	if (util_read_file(path, 64, &text, &len) == 0) {
		text[strcspn(text, "\n")] = '\0';
		if (util_parse_u64(text, &v) == 0)
			c->acc_hlc = c->hlc = v;
	}
	free(text);
}

static int64_t read_gen(struct store *s)
{
	struct store_txn *t;
	int64_t g = -1;

	if (store_begin(s, 1, &t) == 0) {
		g = acl_read_gen(t);
		store_abort(t);
	}
	return g;
}

/* Notices local changes; the first call only takes the baseline. */
void cluster_access_poll(struct cluster *c)
{
	int64_t gen = read_gen(c->app->store);

	if (gen < 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->acc_ready) {
		hlc_load(c);
		c->acc_ready = 1;
	} else if ((uint64_t)gen != c->acc_gen) {
		c->acc_hlc = cluster_hlc_tick(&c->hlc, wall_ms());
		hlc_save(c);
	}
	c->acc_gen = (uint64_t)gen;
	pthread_mutex_unlock(&c->lock);
}

/* A new cluster: the creator's configuration is the one to adopt. */
void cluster_access_stamp(struct cluster *c)
{
	pthread_mutex_lock(&c->lock);
	c->acc_hlc = cluster_hlc_tick(&c->hlc, wall_ms());
	hlc_save(c);
	pthread_mutex_unlock(&c->lock);
}

/* --- export --- */

static int add_entry(const char *key, const cJSON *val, void *ctx)
{
	return cJSON_AddItemToObject(ctx, key, cJSON_Duplicate(val, 1)) ? 0 : -ENOMEM;
}

cJSON *cluster_access_export(struct cluster *c)
{
	cJSON *o = cJSON_CreateObject();
	struct store_txn *t;
	char hlc[24];
	int r = o ? store_begin(c->app->store, 1, &t) : -ENOMEM;

	for (size_t i = 0; r == 0 && i < sizeof(access_dbs) / sizeof(access_dbs[0]); i++) {
		cJSON *d = cJSON_AddObjectToObject(o, access_dbs[i].name);

		r = d ? store_foreach(t, access_dbs[i].db, "", add_entry, d) : -ENOMEM;
	}
	if (o)
		store_abort(t);
	if (r < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	snprintf(hlc, sizeof(hlc), "%llu", (unsigned long long)c->acc_hlc);
	pthread_mutex_unlock(&c->lock);
	cJSON_AddStringToObject(o, "hlc", hlc);
	return o;
}

/* --- import --- */

static int collect_key(const char *key, const cJSON *val, void *ctx)
{
	(void)val;
	return cJSON_AddItemToArray(ctx, cJSON_CreateString(key)) ? 0 : -ENOMEM;
}

/* Replaces database DB by the entries of object SRC. */
static int replace_db(struct store_txn *t, enum store_db db, const cJSON *src)
{
	cJSON *keys = cJSON_CreateArray(), *k;
	const cJSON *e;
	int r = keys ? store_foreach(t, db, "", collect_key, keys) : -ENOMEM;

	cJSON_ArrayForEach(k, keys)
		if (r == 0)
			r = store_del(t, db, k->valuestring);
	cJSON_Delete(keys);
	cJSON_ArrayForEach(e, src)
		if (r == 0 && e->string)
			r = store_put(t, db, e->string, e);
	return r;
}

static int import(struct cluster *c, const cJSON *data, int64_t *gen)
{
	struct store_txn *t;
	int r = store_begin(c->app->store, 0, &t);

	for (size_t i = 0; r == 0 && i < sizeof(access_dbs) / sizeof(access_dbs[0]); i++) {
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(data, access_dbs[i].name);

		if (!src && access_dbs[i].optional)
			continue;
		r = cJSON_IsObject(src) ? replace_db(t, access_dbs[i].db, src) : -EBADMSG;
	}
	if (r == 0)
		r = acl_touch(t);
	if (r == 0) {
		*gen = acl_read_gen(t);
		return store_commit(t);
	}
	store_abort(t);
	return r;
}

void cluster_access_pull(struct cluster *c, const char *node, const struct cluster_rec *rec)
{
	struct peer_reply rp;
	char err[256];
	uint64_t remote;
	int64_t gen;
	int want;

	pthread_mutex_lock(&c->lock);
	want = rec->acc_hlc > c->acc_hlc && c->acc_ready;
	pthread_mutex_unlock(&c->lock);
	if (!want || peer_request(c->app, node, "GET", "/cluster/peer/access", NULL, "root@pam", &rp,
				  err, sizeof(err)) < 0)
		return;
	remote = strtoull(cJSON_GetStringValue(cJSON_GetObjectItem(rp.data, "hlc")) ?: "0", NULL, 10);
	pthread_mutex_lock(&c->lock);
	/* Re-checked under the lock: a local change may have come in between. */
	if (rp.status == 200 && remote > c->acc_hlc && import(c, rp.data, &gen) == 0) {
		c->acc_hlc = remote;
		cluster_hlc_recv(&c->hlc, remote, wall_ms());
		c->acc_gen = (uint64_t)gen;
		hlc_save(c);
	}
	pthread_mutex_unlock(&c->lock);
	peer_reply_free(&rp);
}
