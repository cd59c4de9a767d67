/* Inventories as versioned rows keyed by their resource id ("qemu/100",
 * "storage/n1/local"): this node's own (rebuilt from the local VMs and
 * storages, each row's version bumped when what it says changes) and the
 * cached copies of the other members', kept current by pulling deltas
 * through the peer API when a member's gossiped record shows a newer
 * version. */
#include "server/cluster.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "server/api.h"
#include "server/app.h"
#include "server/cluster_int.h"
#include "server/peer.h"
#include "server/router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inv_row {
	char *key;       /* the row's "id" */
	int vmid;        /* 0: not a VM row */
	int gone;        /* deleted: a tombstone so deltas can say so */
	uint64_t ver;
	char *stable;    /* the row without its fast-moving figures */
	cJSON *row;      /* NULL when gone */
};

struct inv {
	struct inv_row *rows; /* sorted by key */
	size_t n, cap;
	uint64_t version;
};

/* Figures of a VM row that change every second: the row is not "changed"
 * for them. */
static const char *const volatile_keys[] = {
	"cpu", "mem", "uptime", "netin", "netout", "diskread", "diskwrite", "disk",
};

struct inv *inv_new(void)
{
	return calloc(1, sizeof(struct inv));
}

static void row_clear(struct inv_row *r)
{
	free(r->stable);
	cJSON_Delete(r->row);
	r->stable = NULL;
	r->row = NULL;
}

void inv_free(struct inv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		row_clear(&v->rows[i]);
		free(v->rows[i].key);
	}
	free(v->rows);
	free(v);
}

uint64_t inv_version(const struct inv *v)
{
	return v->version;
}

size_t inv_count(const struct inv *v)
{
	size_t n = 0;

	for (size_t i = 0; i < v->n; i++)
		n += !v->rows[i].gone && v->rows[i].vmid > 0;
	return n;
}

/* Index of KEY, or the insertion point with *FOUND 0. */
static size_t find(const struct inv *v, const char *key, int *found)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(v->rows[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < v->n && strcmp(v->rows[lo].key, key) == 0;
	return lo;
}

int inv_has(const struct inv *v, int vmid)
{
	char key[32];
	int found;
	size_t i;

	snprintf(key, sizeof(key), "qemu/%d", vmid);
	i = find(v, key, &found);
	return found && !v->rows[i].gone;
}

/* The "id" of ROW, or NULL; a VM row's id must be "qemu/<vmid>". */
static const char *row_key(const cJSON *row, int *vmid)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id"),
		    *vm = cJSON_GetObjectItemCaseSensitive(row, "vmid");
	int64_t n;

	*vmid = 0;
	if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) > 200)
		return NULL;
	if (strncmp(id->valuestring, "qemu/", 5) != 0)
		return cJSON_IsNumber(vm) ? NULL : id->valuestring;
	if (util_parse_i64(id->valuestring + 5, &n) < 0 || n < 1 || n > 999999999 ||
	    !cJSON_IsNumber(vm) || vm->valuedouble != (double)n)
		return NULL;
	*vmid = (int)n;
	return id->valuestring;
}

static struct inv_row *slot(struct inv *v, const char *key, int vmid)
{
	int found;
	size_t i = find(v, key, &found);
	char *k;

	if (found)
		return &v->rows[i];
	if (!(k = strdup(key)))
		return NULL;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct inv_row *r = realloc(v->rows, cap * sizeof(*r));

		if (!r) {
			free(k);
			return NULL;
		}
		v->rows = r;
		v->cap = cap;
	}
	memmove(&v->rows[i + 1], &v->rows[i], (v->n - i) * sizeof(v->rows[0]));
	memset(&v->rows[i], 0, sizeof(v->rows[0]));
	v->rows[i].key = k;
	v->rows[i].vmid = vmid;
	v->rows[i].gone = 1;
	v->n++;
	return &v->rows[i];
}

static char *stable_text(const cJSON *row, int vmid)
{
	cJSON *copy = cJSON_Duplicate(row, 1);
	char *s;

	for (size_t i = 0; copy && vmid && i < sizeof(volatile_keys) / sizeof(volatile_keys[0]);
	     i++)
		cJSON_DeleteItemFromObjectCaseSensitive(copy, volatile_keys[i]);
	s = copy ? cJSON_PrintUnformatted(copy) : NULL;
	cJSON_Delete(copy);
	return s;
}

/* Stores ROW (a copy) at its id; bumps the version when it changed. */
static void put_local(struct inv *v, const cJSON *row)
{
	int vmid;
	const char *key = row_key(row, &vmid);
	struct inv_row *r = key ? slot(v, key, vmid) : NULL;
	char *st = r ? stable_text(row, vmid) : NULL;

	if (!st) {
		free(st);
		return;
	}
	if (r->gone || !r->stable || strcmp(r->stable, st) != 0) {
		row_clear(r);
		r->stable = st;
		r->ver = ++v->version;
		r->gone = 0;
	} else {
		free(st);
		cJSON_Delete(r->row);
	}
	r->row = cJSON_Duplicate(row, 1);
}

uint64_t inv_update_local(struct inv *v, const cJSON *rows)
{
	const cJSON *row;
	char *seen;

	cJSON_ArrayForEach(row, rows)
		put_local(v, row);
	if (!(seen = calloc(v->n + 1, 1)))
		return v->version;
	cJSON_ArrayForEach(row, rows)
	{
		int found, vmid;
		const char *key = row_key(row, &vmid);
		size_t i = key ? find(v, key, &found) : 0;

		if (key && found)
			seen[i] = 1;
	}
	for (size_t i = 0; i < v->n; i++)
		if (!seen[i] && !v->rows[i].gone) {
			row_clear(&v->rows[i]);
			v->rows[i].gone = 1;
			v->rows[i].ver = ++v->version;
		}
	free(seen);
	return v->version;
}

cJSON *inv_delta(const struct inv *v, uint64_t since, int full)
{
	cJSON *o = cJSON_CreateObject(), *vms = cJSON_AddArrayToObject(o, "vms"),
	      *gone = cJSON_AddArrayToObject(o, "gone");

	if (!o || !vms || !gone) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddNumberToObject(o, "version", (double)v->version);
	cJSON_AddNumberToObject(o, "full", full);
	for (size_t i = 0; i < v->n; i++) {
		const struct inv_row *r = &v->rows[i];

		if (!full && r->ver <= since)
			continue;
		if (!r->gone)
			cJSON_AddItemToArray(vms, cJSON_Duplicate(r->row, 1));
		else if (!full)
			cJSON_AddItemToArray(gone, cJSON_CreateString(r->key));
	}
	return o;
}

static void clear_all(struct inv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		row_clear(&v->rows[i]);
		free(v->rows[i].key);
	}
	v->n = 0;
}

static void apply_row(struct inv *v, const cJSON *it)
{
	int vmid;
	const char *key = row_key(it, &vmid);
	struct inv_row *r = key ? slot(v, key, vmid) : NULL;

	if (!r)
		return;
	row_clear(r);
	r->row = cJSON_Duplicate(it, 1);
	r->gone = r->row == NULL;
}

static void apply_gone(struct inv *v, const cJSON *it)
{
	int found = 0;
	size_t i = cJSON_IsString(it) ? find(v, it->valuestring, &found) : 0;

	if (found) {
		row_clear(&v->rows[i]);
		v->rows[i].gone = 1;
	}
}

int inv_apply(struct inv *v, const cJSON *delta)
{
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(delta, "version"), *it;

	if (!cJSON_IsNumber(ver) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(delta, "vms")))
		return -EBADMSG;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(delta, "full")) ||
	    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(delta, "full")) == 1)
		clear_all(v);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(delta, "vms"))
		apply_row(v, it);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(delta, "gone"))
		apply_gone(v, it);
	v->version = (uint64_t)ver->valuedouble;
	return 0;
}

void inv_each(const struct inv *v, void (*fn)(void *, int vmid, const cJSON *row), void *arg)
{
	for (size_t i = 0; i < v->n; i++)
		if (!v->rows[i].gone)
			fn(arg, v->rows[i].vmid, v->rows[i].row);
}

/* --- this node's inventory --- */

/* The VM list renders rows as raw JSON text: parse them into objects. */
static cJSON *parsed_rows(const cJSON *rows)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *it;

	cJSON_ArrayForEach(it, rows)
	{
		cJSON *o = cJSON_IsRaw(it) ? cJSON_Parse(it->valuestring) : cJSON_Duplicate(it, 1);

		if (o)
			cJSON_AddItemToArray(out, o);
	}
	return out;
}

void cluster_inv_refresh_local(struct cluster *c)
{
	static const struct identity root = { .userid = "root@pam" };
	struct req req = { .app = c->app, .method = HTTP_GET, .path = "/cluster/resources",
			   .who = &root };
	cJSON *rows = cJSON_CreateArray(), *objs;

	if (rows && api_qemu_resource_rows(&req, rows) == 0 &&
	    api_storage_resource_rows(&req, rows) == 0 && (objs = parsed_rows(rows))) {
		pthread_mutex_lock(&c->lock);
		inv_update_local(c->local, objs);
		pthread_mutex_unlock(&c->lock);
		cJSON_Delete(objs);
	}
	cJSON_Delete(rows);
}

cJSON *cluster_inventory_delta(struct cluster *c, uint64_t epoch, uint64_t since)
{
	cJSON *d;

	pthread_mutex_lock(&c->lock);
	d = inv_delta(c->local, since, epoch != c->inv_epoch);
	if (d)
		cJSON_AddNumberToObject(d, "epoch", (double)c->inv_epoch);
	pthread_mutex_unlock(&c->lock);
	return d;
}

/* --- members' inventories --- */

static struct inv_node *remote_node(struct cluster *c, const char *name, int create)
{
	for (size_t i = 0; i < c->n_remote; i++)
		if (strcmp(c->remote[i].name, name) == 0)
			return &c->remote[i];
	if (!create || c->n_remote >= CLUSTER_INV_NODES)
		return NULL;
	struct inv_node *n = &c->remote[c->n_remote];

	memset(n, 0, sizeof(*n));
	if (!(n->inv = inv_new()))
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	c->n_remote++;
	return n;
}

static void apply_pulled(struct cluster *c, const char *node, const cJSON *delta)
{
	struct inv_node *n;
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(delta, "epoch");

	pthread_mutex_lock(&c->lock);
	n = remote_node(c, node, 1);
	if (n && cJSON_IsNumber(ep) && inv_apply(n->inv, delta) == 0) {
		n->epoch = (uint64_t)ep->valuedouble;
		n->version = inv_version(n->inv);
	}
	pthread_mutex_unlock(&c->lock);
}

void cluster_inv_pull(struct cluster *c, const char *node, const struct cluster_rec *rec)
{
	struct inv_node *n;
	uint64_t epoch = 0, since = 0;
	struct peer_reply rp;
	cJSON *q;
	char err[256];
	int want;

	pthread_mutex_lock(&c->lock);
	n = remote_node(c, node, 0);
	if (n) {
		epoch = n->epoch;
		since = n->version;
	}
	want = !n || n->epoch != rec->inv_epoch || n->version != rec->inv_ver;
	pthread_mutex_unlock(&c->lock);
	if (!want || !(q = cJSON_CreateObject()))
		return;
	cJSON_AddNumberToObject(q, "epoch", (double)epoch);
	cJSON_AddNumberToObject(q, "since", (double)since);
	if (peer_request(c->app, node, "GET", "/cluster/peer/inventory", q, "root@pam", &rp, err,
			 sizeof(err)) == 0) {
		if (rp.status == 200 && rp.data)
			apply_pulled(c, node, rp.data);
		else
			log_warn("cluster: inventory of %s: %d %s", node, rp.status, rp.reason);
		peer_reply_free(&rp);
	} else {
		log_warn("cluster: inventory of %s: %s", node, err);
	}
	cJSON_Delete(q);
}

struct rows_arg {
	cJSON *rows;
	int (*vm_ok)(void *, int);
	int (*storage_ok)(void *, const char *);
	void *arg;
};

static void add_row(void *p, int vmid, const cJSON *row)
{
	struct rows_arg *a = p;
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(row, "storage");
	int ok;

	if (a->storage_ok)
		ok = !vmid && cJSON_IsString(sid) && a->storage_ok(a->arg, sid->valuestring);
	else
		ok = vmid > 0 && (!a->vm_ok || a->vm_ok(a->arg, vmid));
	if (ok)
		cJSON_AddItemToArray(a->rows, cJSON_Duplicate(row, 1));
}

static void remote_rows(struct cluster *c, struct rows_arg *a)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_remote; i++) {
		/* Members removed from the cluster drop out of the view. */
		if (!c->state || !cluster_state_find(c->state, c->remote[i].name))
			continue;
		inv_each(c->remote[i].inv, add_row, a);
	}
	pthread_mutex_unlock(&c->lock);
}

void cluster_remote_vm_rows(struct cluster *c, cJSON *rows, int (*row_ok)(void *, int),
			    void *arg)
{
	struct rows_arg a = { .rows = rows, .vm_ok = row_ok, .arg = arg };

	remote_rows(c, &a);
}

void cluster_remote_storage_rows(struct cluster *c, cJSON *rows,
				 int (*row_ok)(void *, const char *storage), void *arg)
{
	struct rows_arg a = { .rows = rows, .storage_ok = row_ok, .arg = arg };

	remote_rows(c, &a);
}

int cluster_vmid_elsewhere(struct cluster *c, int vmid, char *node, size_t n)
{
	int found = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; !found && i < c->n_remote; i++) {
		if (!c->state || !cluster_state_find(c->state, c->remote[i].name))
			continue;
		if ((found = inv_has(c->remote[i].inv, vmid)) && node)
			snprintf(node, n, "%s", c->remote[i].name);
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

static void add_conflict(cJSON *out, int vmid, const char *node)
{
	cJSON *it, *nodes;

	cJSON_ArrayForEach(it, out)
		if (cJSON_GetNumberValue(cJSON_GetObjectItem(it, "vmid")) == vmid)
			break;
	if (!it) {
		it = cJSON_CreateObject();
		cJSON_AddNumberToObject(it, "vmid", vmid);
		cJSON_AddArrayToObject(it, "nodes");
		cJSON_AddItemToArray(out, it);
	}
	nodes = cJSON_GetObjectItem(it, "nodes");
	cJSON_ArrayForEach(it, nodes)
		if (strcmp(it->valuestring, node) == 0)
			return;
	cJSON_AddItemToArray(nodes, cJSON_CreateString(node));
}

/* VMIDs of inventory A also present in inventory B. */
static void conflicts_between(const struct inv *a, const char *an, const struct inv *b,
			      const char *bn, cJSON *out)
{
	for (size_t i = 0; i < a->n; i++)
		if (!a->rows[i].gone && a->rows[i].vmid > 0 && inv_has(b, a->rows[i].vmid)) {
			add_conflict(out, a->rows[i].vmid, an);
			add_conflict(out, a->rows[i].vmid, bn);
		}
}

cJSON *cluster_vmid_conflicts(struct cluster *c)
{
	cJSON *out = cJSON_CreateArray();

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; out && c->state && i < c->n_remote; i++) {
		const struct inv_node *ni = &c->remote[i];

		if (!cluster_state_find(c->state, ni->name))
			continue;
		conflicts_between(c->local, c->app->cfg.node, ni->inv, ni->name, out);
		for (size_t j = i + 1; j < c->n_remote; j++)
			if (cluster_state_find(c->state, c->remote[j].name))
				conflicts_between(ni->inv, ni->name, c->remote[j].inv,
						  c->remote[j].name, out);
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}
