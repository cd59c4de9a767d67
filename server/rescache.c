/* VM list rows (/cluster/resources, GET /nodes/{node}/qemu) from a cache of
 * each VM's configuration-derived figures (name, CPUs, memory, boot disk
 * size, ...) and of its rendered rows, keyed by VMID and valid
 * while the VM's stored bytes are unchanged: every write of a configuration,
 * through whichever path, changes those bytes, so nothing can go stale.  One
 * listing reads the store once, checks permissions over one access snapshot
 * and parses only the configurations that changed since the previous one. */
#include "server/rescache.h"

#include "common/buf.h"
#include "common/err.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/qemu_int.h"
#include "server/store.h"
#include "hv/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rc_entry {
	int vmid;
	unsigned seen; /* the listing that last met this VMID in the store */
	char *raw;     /* the stored bytes RC was computed from */
	size_t len;
	struct qemu_rowconf rc; /* tags and lock point at the copies below */
	char *tags, *lock;
	/* Each kind's row rendered from RC with these running figures and
	 * host CPU count (the node name is the app's, fixed); text NULL when
	 * not rendered. */
	struct rc_row {
		char *text;
		struct hv_vm_status st;
		unsigned host_cpus;
	} row[RESCACHE_KINDS];
};

struct rescache {
	pthread_mutex_t lock;
	struct rc_entry *v; /* sorted by vmid */
	size_t n, cap;
	unsigned walks;
};

int rescache_new(struct rescache **out)
{
	struct rescache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

static void entry_clear(struct rc_entry *e)
{
	free(e->raw);
	free(e->tags);
	free(e->lock);
	e->raw = e->tags = e->lock = NULL;
	for (int k = 0; k < RESCACHE_KINDS; k++) {
		free(e->row[k].text);
		e->row[k].text = NULL;
	}
}

void rescache_free(struct rescache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_clear(&c->v[i]);
	free(c->v);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The index of VMID's entry, or where it belongs with *FOUND = 0. */
static size_t entry_find(const struct rescache *c, int vmid, int *found)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->v[mid].vmid < vmid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < c->n && c->v[lo].vmid == vmid;
	return lo;
}

static struct rc_entry *entry_insert(struct rescache *c, size_t at, int vmid)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct rc_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	memmove(&c->v[at + 1], &c->v[at], (c->n - at) * sizeof(*c->v));
	c->n++;
	memset(&c->v[at], 0, sizeof(c->v[at]));
	c->v[at].vmid = vmid;
	return &c->v[at];
}

static int dup_opt(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

/* Computes E's figures from the stored bytes DATA: 0, 1 when the record is
 * no VM configuration (the row is left out, as the VM list does), or < 0. */
static int entry_load(struct rc_entry *e, const char *data, size_t len)
{
	cJSON *doc = cJSON_ParseWithLength(data, len);
	struct qvm vm;
	int r;

	entry_clear(e);
	if (!doc)
		return CR_ESTORE;
	r = qvm_from_json(doc, &vm);
	cJSON_Delete(doc);
	if (r < 0)
		return 1;
	qemu_rowconf(e->vmid, &vm, &e->rc);
	r = dup_opt(e->rc.tags, &e->tags);
	if (r == 0)
		r = dup_opt(e->rc.lock, &e->lock);
	e->rc.tags = e->tags;
	e->rc.lock = e->lock;
	qvm_clear(&vm);
	if (r == 0 && !(e->raw = malloc(len ? len : 1)))
		r = -ENOMEM;
	if (r < 0)
		entry_clear(e);
	else
		memcpy(e->raw, data, len);
	e->len = e->raw ? len : 0;
	return r;
}

struct walk {
	struct rescache *c;
	struct req *req;
	const struct auth_checker *auth;
	cJSON *rows;
	struct buf b;
	unsigned host_cpus, id;
	enum rescache_kind kind;
	size_t next; /* where the next VMID's entry likely is (the store's order) */
};

/* VMID's entry index as entry_find gives it, trying the walk's hint first:
 * VMIDs of one width come out of the store in the entries' order. */
static size_t walk_find(struct walk *w, int vmid, int *found)
{
	size_t at = w->next;

	if (at < w->c->n && w->c->v[at].vmid == vmid)
		*found = 1;
	else
		at = entry_find(w->c, vmid, found);
	w->next = at + 1;
	return at;
}

/* VMID's entry, current for DATA; NULL with *R set when there is no row. */
static struct rc_entry *entry_current(struct walk *w, int vmid, const char *data, size_t len,
				      int *r)
{
	int found;
	size_t at = walk_find(w, vmid, &found);
	struct rc_entry *e = found ? &w->c->v[at] : entry_insert(w->c, at, vmid);

	*r = e ? 0 : -ENOMEM;
	if (!e)
		return NULL;
	e->seen = w->id;
	if (e->raw && e->len == len && memcmp(e->raw, data, len) == 0)
		return e;
	*r = entry_load(e, data, len);
	return *r == 0 ? e : NULL;
}

/* E's row of the walk's kind as a raw JSON item, rendered again only when
 * its running figures or the host's CPU count changed. */
static cJSON *entry_row(struct walk *w, struct rc_entry *e, const struct hv_vm_status *st)
{
	struct rc_row *row = &e->row[w->kind];
	const char *node = w->kind == RESCACHE_RESOURCES ? w->req->app->cfg.node : NULL;

	if (row->text && row->host_cpus == w->host_cpus && memcmp(&row->st, st, sizeof(*st)) == 0)
		return cJSON_CreateRaw(row->text);
	free(row->text);
	row->text = NULL;
	buf_reset(&w->b);
	qemu_row_text(e->vmid, &e->rc, w->host_cpus, node, st, &w->b);
	/* complete: no append ran out of memory */
	if (!w->b.len || w->b.data[w->b.len - 1] != '}' || !(row->text = strdup(w->b.data)))
		return NULL;
	row->st = *st;
	row->host_cpus = w->host_cpus;
	return cJSON_CreateRaw(row->text);
}

/* VMID's row as a raw JSON item; NULL with *R = 0 when there is none (no
 * VM configuration), else with *R < 0. */
static cJSON *render(struct walk *w, int vmid, const char *data, size_t len, int *r)
{
	struct hv_vm_status st;
	struct rc_entry *e;
	cJSON *row = NULL;

	qemu_row_status(w->req->app, vmid, &st);
	pthread_mutex_lock(&w->c->lock);
	e = entry_current(w, vmid, data, len, r);
	if (e && !(row = entry_row(w, e, &st)))
		*r = -ENOMEM;
	pthread_mutex_unlock(&w->c->lock);
	return row;
}

/* Only marks the entry of a VM the caller may not see, so that the sweep
 * after the walk keeps it. */
static void mark_seen(struct walk *w, int vmid)
{
	int found;
	size_t at;

	pthread_mutex_lock(&w->c->lock);
	at = walk_find(w, vmid, &found);
	if (found)
		w->c->v[at].seen = w->id;
	pthread_mutex_unlock(&w->c->lock);
}

static int visit_vm(const char *key, const char *data, size_t len, void *ctx)
{
	struct walk *w = ctx;
	int vmid = atoi(key), r;
	char path[32];
	cJSON *raw;

	snprintf(path, sizeof(path), "/vms/%d", vmid);
	if (!auth_checker_can(w->auth, path, "VM.Audit")) {
		mark_seen(w, vmid);
		return 0;
	}
	if (!(raw = render(w, vmid, data, len, &r)))
		return r < 0 ? r : 0;
	cJSON_AddItemToArray(w->rows, raw);
	return 0;
}

/* Drops the entries of VMs the walk ID did not meet: deleted ones. */
static void sweep(struct rescache *c, unsigned id)
{
	size_t keep = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].seen != id)
			entry_clear(&c->v[i]);
		else
			c->v[keep++] = c->v[i];
	}
	c->n = keep;
	pthread_mutex_unlock(&c->lock);
}

static int walk_store(struct walk *w)
{
	struct store_txn *t;
	int r = store_begin(w->req->app->store, 1, &t);

	if (r < 0)
		return r;
	r = store_foreach_raw(t, DB_VMS, "", visit_vm, w);
	store_abort(t);
	return r;
}

int rescache_rows(struct rescache *c, struct req *req, enum rescache_kind kind, cJSON *rows)
{
	struct walk w = { .c = c, .req = req, .rows = rows, .b = BUF_INIT,
			  .host_cpus = qemu_host_cpus(), .kind = kind };
	struct auth_checker *auth = auth_checker_new(req->app->auth, req->who);
	struct rescache *own = NULL;
	int r = auth ? 0 : -ENOMEM;

	if (r == 0 && !c && (r = rescache_new(&own)) == 0)
		w.c = own;
	if (r == 0 && (r = buf_reserve(&w.b, 4096)) == 0) {
		pthread_mutex_lock(&w.c->lock);
		w.id = ++w.c->walks;
		pthread_mutex_unlock(&w.c->lock);
		w.auth = auth;
		if ((r = walk_store(&w)) == 0)
			sweep(w.c, w.id);
	}
	buf_free(&w.b);
	rescache_free(own);
	auth_checker_free(auth);
	return r;
}
