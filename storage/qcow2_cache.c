/* Write-back cache of whole L2 tables or refcount blocks.  Ordering between
 * the two caches is expressed as dependencies (as QEMU's qcow2-cache): a
 * cache that depends on another flushes that one (and fsyncs) before it
 * writes any table of its own, so refcounts reach disk before the L2
 * entries that use them, and L2 updates before refcount decreases. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/qcow2_int.h"

#define IO_ALIGN 4096

void *qcow2_io_alloc(size_t len, bool zero)
{
	size_t n = (len + IO_ALIGN - 1) & ~(size_t)(IO_ALIGN - 1);
	void *p = aligned_alloc(IO_ALIGN, n ? n : IO_ALIGN);

	if (p && zero)
		memset(p, 0, n);
	return p;
}

struct qcow2_cache *qcow2_cache_new(struct qcow2 *q, size_t n, int kind)
{
	struct qcow2_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->e = calloc(n, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->q = q;
	c->n = n;
	c->kind = kind;
	return c;
}

void qcow2_cache_free(struct qcow2_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].data);
	free(c->e);
	free(c);
}

static int flush_dependency(struct qcow2_cache *c)
{
	int r = qcow2_cache_flush(c->depends);

	if (r == 0)
		c->depends = NULL;
	return r;
}

static int entry_writeback(struct qcow2_cache *c, struct qcow2_cache_entry *e)
{
	struct qcow2 *q = c->q;
	int r;

	if (!e->dirty)
		return 0;
	if (c->depends) {
		r = flush_dependency(c);
		if (r < 0)
			return r;
	}
	if (c->depends_on_flush) {
		r = img_file_sync(q->img);
		if (r < 0)
			return r;
		c->depends_on_flush = false;
	}
	r = qcow2_overlap_check(q, QCOW2_OL_ALL & ~(unsigned)c->kind, e->offset, q->cluster_size);
	if (r == 0)
		r = img_file_write(q->img, e->data, q->cluster_size, e->offset);
	if (r == 0)
		e->dirty = false;
	return r;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct qcow2_cache_entry *x = *(struct qcow2_cache_entry *const *)a;
	const struct qcow2_cache_entry *y = *(struct qcow2_cache_entry *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Writes every dirty table in file order, then fsyncs. */
int qcow2_cache_flush(struct qcow2_cache *c)
{
	struct qcow2_cache_entry **v;
	size_t n = 0;
	int r = 0;

	v = malloc(c->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].offset && c->e[i].dirty)
			v[n++] = &c->e[i];
	qsort(v, n, sizeof(*v), cmp_entry);
	for (size_t i = 0; i < n && r == 0; i++)
		r = entry_writeback(c, v[i]);
	free(v);
	if (r == 0 && c->depends)
		r = flush_dependency(c);
	if (r == 0 && n)
		r = img_file_sync(c->q->img);
	/* New refcount blocks are on disk: now the table may point at them. */
	if (r == 0 && c->kind == QCOW2_OL_RB)
		r = qcow2_flush_rt(c->q);
	return r;
}

int qcow2_cache_set_dependency(struct qcow2_cache *c, struct qcow2_cache *dep)
{
	int r;

	if (dep->depends) {
		r = flush_dependency(dep);
		if (r < 0)
			return r;
	}
	if (c->depends && c->depends != dep) {
		r = flush_dependency(c);
		if (r < 0)
			return r;
	}
	c->depends = dep;
	return 0;
}

void qcow2_cache_depends_on_flush(struct qcow2_cache *c)
{
	c->depends_on_flush = true;
}

/* Consecutive accesses mostly hit the same table: try the last one first. */
static struct qcow2_cache_entry *lookup(struct qcow2_cache *c, uint64_t off)
{
	if (!off)
		return NULL;
	if (c->e[c->last].offset == off)
		return &c->e[c->last];
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].offset == off) {
			c->last = i;
			return &c->e[i];
		}
	return NULL;
}

/* Least recently used unpinned slot (free slots first). */
static struct qcow2_cache_entry *victim(struct qcow2_cache *c)
{
	struct qcow2_cache_entry *best = NULL;

	for (size_t i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];
		if (e->ref)
			continue;
		if (!e->offset)
			return e;
		if (!best || e->lru < best->lru)
			best = e;
	}
	return best;
}

static int fill(struct qcow2_cache *c, struct qcow2_cache_entry *e, uint64_t off, bool fresh)
{
	int r;

	if (!e->data && !(e->data = qcow2_io_alloc(c->q->cluster_size, false)))
		return -ENOMEM;
	e->offset = 0;
	if (fresh) {
		memset(e->data, 0, c->q->cluster_size);
	} else {
		r = img_file_read(c->q->img, e->data, c->q->cluster_size, off);
		if (r < 0)
			return r;
	}
	e->offset = off;
	e->dirty = false;
	return 0;
}

int qcow2_cache_get(struct qcow2_cache *c, uint64_t off, bool fresh, uint8_t **out)
{
	struct qcow2_cache_entry *e = lookup(c, off);
	int r;

	if (off < c->q->cluster_size || (off & (c->q->cluster_size - 1)))
		return qcow2_signal_corrupt(c->q, "Metadata table at invalid offset %#llx",
					    (unsigned long long)off);
	if (!e) {
		e = victim(c);
		if (!e)
			return img_seterr(c->q->img, -ENOMEM, "metadata cache exhausted");
		r = entry_writeback(c, e);
		if (r == 0)
			r = fill(c, e, off, fresh);
		if (r < 0)
			return r;
	} else if (fresh) {
		memset(e->data, 0, c->q->cluster_size);
	}
	e->lru = ++c->lru_clock;
	e->ref++;
	c->last = (size_t)(e - c->e);
	*out = e->data;
	return 0;
}

static struct qcow2_cache_entry *by_data(struct qcow2_cache *c, const uint8_t *data)
{
	if (c->e[c->last].data == data)
		return &c->e[c->last];
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].data == data)
			return &c->e[i];
	return NULL;
}

void qcow2_cache_put(struct qcow2_cache *c, uint8_t *data)
{
	struct qcow2_cache_entry *e = by_data(c, data);

	if (e && e->ref > 0)
		e->ref--;
}

void qcow2_cache_mark_dirty(struct qcow2_cache *c, uint8_t *data)
{
	struct qcow2_cache_entry *e = by_data(c, data);

	if (e)
		e->dirty = true;
}

void qcow2_cache_discard(struct qcow2_cache *c, uint64_t off)
{
	struct qcow2_cache_entry *e = lookup(c, off);

	if (e && !e->ref) {
		e->offset = 0;
		e->dirty = false;
	}
}

void qcow2_cache_drop_all(struct qcow2_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		c->e[i].offset = 0;
		c->e[i].dirty = false;
		c->e[i].ref = 0;
	}
}
