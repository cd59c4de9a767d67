/* qcow2 reference counts: the refcount table and blocks at every width,
 * cluster and byte allocation, freeing with delayed reuse, the metadata
 * overlap check, snapshot refcount walks and COPIED flags. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

int qcow2_load_refcount_table(struct qcow2 *q)
{
	uint64_t bytes = (uint64_t)q->rt_clusters << q->cluster_bits;
	uint8_t *b = malloc(bytes);
	int r;

	q->rt_entries = bytes / 8;
	q->rt = calloc(q->rt_entries, 8);
	if (!b || !q->rt) {
		free(b);
		return -ENOMEM;
	}
	r = img_file_read(q->img, b, bytes, q->rt_offset);
	for (uint64_t i = 0; r == 0 && i < q->rt_entries; i++) {
		q->rt[i] = be64_get(b + i * 8);
		if (q->rt[i])
			q->rt_used = i + 1;
	}
	free(b);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Before writing, every refcount block must be aligned, inside the file and
 * used once: allocation then scans at most the file's clusters. */
int qcow2_validate_refcount_table(struct qcow2 *q, char *err, size_t errlen)
{
	uint64_t size, *v = malloc(q->rt_entries * 8), n = 0;
	int r = v ? img_file_size(q->img, &size) : -ENOMEM;

	for (uint64_t i = 0; r == 0 && i < q->rt_entries; i++) {
		uint64_t off = q->rt[i] & ~QCOW2_RTE_RESERVED;
		if (!off)
			continue;
		if ((off & (q->cluster_size - 1)) || off < q->cluster_size || off >= size)
			r = img_fmterr(err, errlen, CR_ECORRUPT,
				       "Refcount block %llu at %#llx is unaligned or outside the image",
				       (unsigned long long)i, (unsigned long long)off);
		v[n++] = off;
	}
	if (r == 0)
		qsort(v, n, 8, cmp_u64);
	for (uint64_t i = 1; r == 0 && i < n; i++)
		if (v[i] == v[i - 1])
			r = img_fmterr(err, errlen, CR_ECORRUPT, "Refcount block at %#llx is used twice",
				       (unsigned long long)v[i]);
	free(v);
	return r;
}

/* ---- one refcount entry of a block at any width ----------------------------------------- */

static uint64_t rb_get(const struct qcow2 *q, const uint8_t *rb, uint64_t i)
{
	unsigned bits = 1u << q->refcount_order;
	uint64_t v = 0;

	if (bits < 8)
		return (rb[i * bits / 8] >> ((i * bits) % 8)) & ((1u << bits) - 1);
	for (unsigned k = 0; k < bits / 8; k++)
		v = v << 8 | rb[i * (bits / 8) + k];
	return v;
}

static void rb_set(const struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v)
{
	unsigned bits = 1u << q->refcount_order;

	if (bits < 8) {
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << ((i * bits) % 8));
		rb[i * bits / 8] = (uint8_t)((rb[i * bits / 8] & ~mask) | ((v << ((i * bits) % 8)) & mask));
		return;
	}
	for (unsigned k = bits / 8; k-- > 0; v >>= 8)
		rb[i * (bits / 8) + k] = (uint8_t)v;
}

void qcow2_rb_set(const struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v)
{
	rb_set(q, rb, i, v);
}

static int rb_offset(struct qcow2 *q, uint64_t bi, uint64_t *out)
{
	uint64_t e = bi < q->rt_entries ? q->rt[bi] : 0;

	*out = e & ~QCOW2_RTE_RESERVED;
	if (e & QCOW2_RTE_RESERVED & (q->cluster_size - 1))
		return qcow2_signal_corrupt(q, "Refblock offset %#llx unaligned (reftable index %#llx)",
					    (unsigned long long)e, (unsigned long long)bi);
	if (*out & (q->cluster_size - 1))
		return qcow2_signal_corrupt(q, "Refblock offset %#llx unaligned (reftable index %#llx)",
					    (unsigned long long)*out, (unsigned long long)bi);
	return 0;
}

int qcow2_get_refcount(struct qcow2 *q, uint64_t cluster, uint64_t *out)
{
	uint64_t bi = cluster >> q->rb_bits, off;
	uint8_t *rb;
	int r = rb_offset(q, bi, &off);

	*out = 0;
	if (r < 0 || !off)
		return r;
	r = qcow2_cache_get(q->rbc, off, false, &rb);
	if (r < 0)
		return r;
	*out = rb_get(q, rb, cluster & ((1ull << q->rb_bits) - 1));
	qcow2_cache_put(q->rbc, rb);
	return 0;
}

static bool is_reserved(const struct qcow2 *q, uint64_t c)
{
	return q->reserved && c < q->reserved_n && q->reserved[c];
}

/* ---- refcount blocks and table growth ------------------------------------------------------ */

static int grow_refcount_table(struct qcow2 *q, uint64_t bi);

/* A new block describes its own cluster: it is placed in the range it
 * covers, on the first cluster no one references (during repair). */
static int update_one(struct qcow2 *q, uint64_t c, int64_t delta, bool absolute, uint64_t value);

/* NEAR (the run being allocated) is a good home when an existing block
 * counts it: the new block then sits right before the data, as QEMU does. */
static bool near_usable(struct qcow2 *q, uint64_t near)
{
	uint64_t nb = near >> q->rb_bits, rc;

	if (near == UINT64_MAX || !near || is_reserved(q, near) || nb >= q->rt_entries ||
	    !(q->rt[nb] & ~QCOW2_RTE_RESERVED))
		return false;
	if (q->freed_pending && near >= q->freed_min && near <= q->freed_max)
		return false;
	return qcow2_get_refcount(q, near, &rc) == 0 && rc == 0;
}

/* Otherwise the block describes itself: it goes into the range it covers,
 * on the first cluster no one references (during repair). */
static int place_refblock(struct qcow2 *q, uint64_t bi, uint64_t near, uint64_t *c, bool *self)
{
	uint64_t first = bi << q->rb_bits, n = 1ull << q->rb_bits;

	*self = !near_usable(q, near);
	if (!*self) {
		*c = near;
		return update_one(q, near, 1, false, 0);
	}
	*c = first;
	while (*c < first + n && (is_reserved(q, *c) || *c == 0)) /* cluster 0 is the header */
		(*c)++;
	return *c == first + n ? img_seterr(q->img, -ENOSPC, "no room for a refcount block") : 0;
}

static int alloc_refblock(struct qcow2 *q, uint64_t bi, uint64_t near)
{
	uint64_t c;
	uint8_t *rb;
	bool self;
	int r;

	if (bi >= q->rt_entries)
		return grow_refcount_table(q, bi);
	r = place_refblock(q, bi, near, &c, &self);
	if (r == 0)
		r = qcow2_cache_get(q->rbc, c << q->cluster_bits, true, &rb);
	if (r < 0)
		return r;
	if (self)
		rb_set(q, rb, c - (bi << q->rb_bits), 1);
	qcow2_cache_mark_dirty(q->rbc, rb);
	qcow2_cache_put(q->rbc, rb);
	q->rt[bi] = c << q->cluster_bits;
	if (bi >= q->rt_used)
		q->rt_used = bi + 1;
	q->rb_allocated++;
	/* Written by the next refcount-cache flush, after the block itself. */
	if (!q->rt_dirty || bi < q->rt_dirty_min)
		q->rt_dirty_min = bi;
	if (!q->rt_dirty || bi > q->rt_dirty_max)
		q->rt_dirty_max = bi;
	q->rt_dirty = true;
	return 0;
}

int qcow2_flush_rt(struct qcow2 *q)
{
	int r;

	if (!q->rt_dirty)
		return 0;
	r = qcow2_write_table(q, QCOW2_OL_RT, q->rt_offset + q->rt_dirty_min * 8, q->rt + q->rt_dirty_min,
			      q->rt_dirty_max - q->rt_dirty_min + 1);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0)
		q->rt_dirty = false;
	return r;
}

struct rt_plan {
	uint64_t start;   /* first cluster: refcount blocks, then the table */
	uint64_t nblocks; /* blocks bi .. bi+nblocks-1 */
	uint64_t nt;      /* table clusters */
};

static void plan_rt(const struct qcow2 *q, uint64_t bi, struct rt_plan *p)
{
	uint64_t per_cluster = q->cluster_size / 8, want = q->rt_entries + q->rt_entries / 2;

	p->start = bi << q->rb_bits;
	p->nblocks = 1;
	if (want < bi + 2)
		want = bi + 2;
	p->nt = (want + per_cluster - 1) / per_cluster;
	for (;;) {
		uint64_t end = p->start + p->nblocks + p->nt;
		uint64_t last = (end - 1) >> q->rb_bits;
		if (last - bi + 1 > p->nblocks) {
			p->nblocks = last - bi + 1;
			continue;
		}
		if (p->nt * per_cluster <= last) {
			p->nt++;
			continue;
		}
		return;
	}
}

static int write_new_blocks(struct qcow2 *q, uint64_t bi, const struct rt_plan *p, uint64_t *nrt)
{
	uint8_t *b = malloc(q->cluster_size);
	uint64_t used_end = p->start + p->nblocks + p->nt;
	int r = 0;

	if (!b)
		return -ENOMEM;
	for (uint64_t k = 0; k < p->nblocks && r == 0; k++) {
		uint64_t first = (bi + k) << q->rb_bits;
		memset(b, 0, q->cluster_size);
		for (uint64_t c = first; c < used_end && c < first + (1ull << q->rb_bits); c++)
			if (c >= p->start)
				rb_set(q, b, c - first, 1);
		nrt[bi + k] = (p->start + k) << q->cluster_bits;
		r = img_file_write(q->img, b, q->cluster_size, nrt[bi + k]);
	}
	free(b);
	return r;
}

static int set_rt_header(struct qcow2 *q, uint64_t off, uint32_t clusters)
{
	uint8_t b[12];

	be64_put(b, off);
	be32_put(b + 8, clusters);
	return img_file_write(q->img, b, 12, 48);
}

/* New blocks and the new table go into the block range BI (past everything
 * the old table covers), are written and synced, then the header switches
 * to the new table and the old one is freed. */
static int grow_refcount_table(struct qcow2 *q, uint64_t bi)
{
	uint64_t old_off = q->rt_offset, old_clusters = q->rt_clusters, *nrt;
	struct rt_plan p;
	int r;

	plan_rt(q, bi, &p);
	if ((p.nt << q->cluster_bits) > QCOW2_MAX_RT_BYTES)
		return img_seterr(q->img, -EFBIG, "refcount table would exceed %u bytes", QCOW2_MAX_RT_BYTES);
	nrt = calloc(p.nt << q->cluster_bits >> 3, 8);
	if (!nrt)
		return -ENOMEM;
	memcpy(nrt, q->rt, q->rt_entries * 8);
	r = qcow2_cache_flush(q->rbc);
	if (r == 0)
		r = write_new_blocks(q, bi, &p, nrt);
	if (r == 0)
		r = qcow2_write_table(q, QCOW2_OL_RT | QCOW2_OL_RB, (p.start + p.nblocks) << q->cluster_bits, nrt,
				      (p.nt << q->cluster_bits) / 8);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0)
		r = set_rt_header(q, (p.start + p.nblocks) << q->cluster_bits, (uint32_t)p.nt);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r < 0) {
		free(nrt);
		return r;
	}
	free(q->rt);
	q->rt = nrt;
	q->rt_dirty = false; /* the new table was written whole */
	q->rt_entries = (p.nt << q->cluster_bits) / 8;
	q->rt_offset = (p.start + p.nblocks) << q->cluster_bits;
	q->rt_clusters = (uint32_t)p.nt;
	q->rt_used = bi + p.nblocks;
	q->rb_allocated += (unsigned)p.nblocks;
	return qcow2_free_clusters(q, old_off, old_clusters << q->cluster_bits);
}

int qcow2_install_refcount_table(struct qcow2 *q, uint64_t *rt, uint64_t entries, uint64_t off)
{
	uint32_t clusters = (uint32_t)(qcow2_align_up(entries * 8, q->cluster_size) >> q->cluster_bits);
	int r = qcow2_cache_flush(q->rbc);

	if (r == 0)
		r = qcow2_write_table(q, 0, off, rt, entries);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0)
		r = set_rt_header(q, off, clusters);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r < 0)
		return r;
	qcow2_cache_drop_all(q->rbc);
	free(q->rt);
	q->rt = rt;
	q->rt_entries = entries;
	q->rt_offset = off;
	q->rt_clusters = clusters;
	q->rt_dirty = false;
	q->rt_used = 0;
	for (uint64_t i = 0; i < entries; i++)
		if (rt[i])
			q->rt_used = i + 1;
	q->free_hint = q->run_hint = 0;
	return 0;
}

/* ---- updates ------------------------------------------------------------------------------------ */

static void queue_punch(struct qcow2 *q, uint64_t off)
{
	struct qcow2_range *v;

	if (q->n_punch && q->punch[q->n_punch - 1].off + q->punch[q->n_punch - 1].len == off) {
		q->punch[q->n_punch - 1].len += q->cluster_size;
		return;
	}
	if (q->n_punch == q->cap_punch) {
		size_t cap = q->cap_punch ? q->cap_punch * 2 : 16;
		v = realloc(q->punch, cap * sizeof(*v));
		if (!v)
			return; /* the hole punch is only an optimisation */
		q->punch = v;
		q->cap_punch = cap;
	}
	q->punch[q->n_punch++] = (struct qcow2_range){ off, q->cluster_size };
}

/* A freed cluster is neither reused nor punched before the next flush:
 * until then an L2 entry on disk may still point at it. */
static void note_freed(struct qcow2 *q, uint64_t c)
{
	if (!q->freed_pending || c < q->freed_min)
		q->freed_min = c;
	if (!q->freed_pending || c > q->freed_max)
		q->freed_max = c;
	q->freed_pending = true;
	if (q->free_byte_offset && qcow2_cl(q, q->free_byte_offset) == c)
		q->free_byte_offset = 0;
	queue_punch(q, c << q->cluster_bits);
}

void qcow2_process_punches(struct qcow2 *q)
{
	for (size_t i = 0; i < q->n_punch; i++)
		q->img->io->punch(q->img->io_ctx, q->img->fd, q->punch[i].off, q->punch[i].len);
	q->n_punch = 0;
}

static int update_one(struct qcow2 *q, uint64_t c, int64_t delta, bool absolute, uint64_t value)
{
	uint64_t bi = c >> q->rb_bits, off, old, nv;
	uint8_t *rb;
	int r = rb_offset(q, bi, &off);

	if (r == 0 && !off)
		r = alloc_refblock(q, bi, UINT64_MAX);
	if (r == 0 && !off)
		r = rb_offset(q, bi, &off);
	if (r < 0)
		return r;
	r = qcow2_cache_get(q->rbc, off, false, &rb);
	if (r < 0)
		return r;
	old = rb_get(q, rb, c & ((1ull << q->rb_bits) - 1));
	nv = absolute ? value : old + (uint64_t)delta;
	if (!absolute && ((delta < 0 && old < (uint64_t)-delta) || (delta > 0 && old > q->refcount_max - (uint64_t)delta) ||
			  nv > q->refcount_max)) {
		qcow2_cache_put(q->rbc, rb);
		if (delta < 0)
			return qcow2_signal_corrupt(q, "Refcount of cluster %llu would drop below zero",
						    (unsigned long long)c);
		return img_seterr(q->img, -ERANGE, "Refcount overflow in cluster %llu (max %llu)",
				  (unsigned long long)c, (unsigned long long)q->refcount_max);
	}
	rb_set(q, rb, c & ((1ull << q->rb_bits) - 1), nv);
	qcow2_cache_mark_dirty(q->rbc, rb);
	qcow2_cache_put(q->rbc, rb);
	if (nv == 0 && old != 0)
		note_freed(q, c);
	return 0;
}

int qcow2_update_refcount(struct qcow2 *q, uint64_t off, uint64_t len, int64_t delta)
{
	uint64_t c0 = off >> q->cluster_bits, c1;
	int r;

	if (!len)
		return 0;
	c1 = (off + len - 1) >> q->cluster_bits;
	if (delta < 0 && !q->lazy) {
		/* Pointers to the clusters leave disk before the clusters are free. */
		r = qcow2_cache_set_dependency(q->rbc, q->l2c);
		if (r < 0)
			return r;
	}
	for (uint64_t c = c0; c <= c1; c++) {
		r = update_one(q, c, delta, false, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int qcow2_set_refcount(struct qcow2 *q, uint64_t cluster, uint64_t value)
{
	return update_one(q, cluster, 0, true, value);
}

int qcow2_free_clusters(struct qcow2 *q, uint64_t off, uint64_t len)
{
	return qcow2_update_refcount(q, off, len, -1);
}

/* The 512-byte sectors a compressed descriptor covers, as qemu-img check counts them. */
static void compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *off, uint64_t *len)
{
	uint64_t nsec = ((entry >> q->csize_shift) & q->csize_mask) + 1;

	*off = (entry & q->coffset_mask) & ~511ull;
	*len = nsec * 512;
}

int qcow2_free_l2_entry(struct qcow2 *q, uint64_t entry)
{
	uint64_t off, len;

	if (entry & QCOW2_OFLAG_COMPRESSED) {
		compressed_range(q, entry, &off, &len);
		return qcow2_free_clusters(q, off, len);
	}
	off = entry & QCOW2_OFFSET_MASK;
	return off ? qcow2_free_clusters(q, off, q->cluster_size) : 0;
}

/* ---- allocation ---------------------------------------------------------------------------------- */

/* First run of N clusters with refcount 0 at or after the hint. */
static int find_free_run(struct qcow2 *q, uint64_t n, uint64_t *start)
{
	/* Runs start at the end of the previous run, so small holes left
	 * behind are not rescanned for every run (single clusters fill them). */
	uint64_t c = n > 1 && q->run_hint > q->free_hint ? q->run_hint : q->free_hint, run = 0, rc;
	int r;

	for (;;) {
		if (is_reserved(q, c)) {
			run = 0;
			c++;
			continue;
		}
		r = qcow2_get_refcount(q, c, &rc);
		if (r < 0)
			return r;
		if (rc) {
			run = 0;
			if (c == q->free_hint)
				q->free_hint = c + 1;
		} else if (q->freed_pending && c >= q->freed_min && c <= q->freed_max) {
			/* Reusing a cluster freed since the last flush: flush first. */
			r = qcow2_flush_all(q);
			if (r < 0)
				return r;
			continue;
		} else if (++run == n) {
			*start = c + 1 - n;
			return 0;
		}
		c++;
		if (c > ((uint64_t)INT64_MAX >> q->cluster_bits))
			return img_seterr(q->img, -ENOSPC, "image file full");
	}
}

/* Blocks for the whole run must exist first; creating one may take a
 * cluster of the run, so the caller searches again. */
static int ensure_blocks(struct qcow2 *q, uint64_t start, uint64_t n, bool *created)
{
	uint64_t off;
	int r;

	*created = false;
	for (uint64_t bi = start >> q->rb_bits; bi <= (start + n - 1) >> q->rb_bits; bi++) {
		r = rb_offset(q, bi, &off);
		if (r == 0 && !off) {
			r = alloc_refblock(q, bi, start);
			*created = true;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int64_t qcow2_alloc_clusters(struct qcow2 *q, uint64_t n)
{
	uint64_t start = 0;
	bool created;
	int r;

	if (!n)
		return img_seterr(q->img, CR_EINTERNAL, "zero-length allocation");
	do {
		r = find_free_run(q, n, &start);
		if (r == 0)
			r = ensure_blocks(q, start, n, &created);
		if (r < 0)
			return r;
	} while (created);
	r = qcow2_update_refcount(q, start << q->cluster_bits, n << q->cluster_bits, 1);
	if (r < 0)
		return r;
	if (start == q->free_hint)
		q->free_hint = start + n;
	if (n > 1)
		q->run_hint = start + n;
	return (int64_t)(start << q->cluster_bits);
}

int64_t qcow2_alloc_bytes(struct qcow2 *q, uint64_t len)
{
	uint64_t fbo = q->free_byte_offset, room = fbo ? q->cluster_size - (fbo & (q->cluster_size - 1)) : 0;
	int64_t off;
	int r;

	if (fbo && len <= room) {
		r = qcow2_update_refcount(q, fbo, 1, 1);
		if (r < 0)
			return r;
		off = (int64_t)fbo;
	} else {
		off = qcow2_alloc_clusters(q, (len + q->cluster_size - 1) >> q->cluster_bits);
		if (off < 0)
			return off;
	}
	q->free_byte_offset = (uint64_t)off + len;
	if (!(q->free_byte_offset & (q->cluster_size - 1)))
		q->free_byte_offset = 0;
	return off;
}

/* ---- overlap check ------------------------------------------------------------------------------- */

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static const char *overlap_fixed(struct qcow2 *q, unsigned chk, uint64_t off, uint64_t len)
{
	if ((chk & QCOW2_OL_HEADER) && overlaps(off, len, 0, q->cluster_size))
		return "qcow2_header";
	if ((chk & QCOW2_OL_L1) && overlaps(off, len, q->l1_offset, (uint64_t)q->l1_size * 8))
		return "active L1 table";
	if ((chk & QCOW2_OL_RT) && overlaps(off, len, q->rt_offset, (uint64_t)q->rt_clusters << q->cluster_bits))
		return "refcount table";
	if ((chk & QCOW2_OL_SNAP_TABLE) && q->nb_snapshots &&
	    overlaps(off, len, q->snapshots_offset, q->snapshots_size))
		return "snapshot table";
	for (uint32_t i = 0; (chk & QCOW2_OL_SNAP_L1) && i < q->nb_snapshots; i++)
		if (overlaps(off, len, q->snaps[i].l1_offset, (uint64_t)q->snaps[i].l1_size * 8))
			return "inactive L1 table";
	return NULL;
}

static const char *overlap_tables(struct qcow2 *q, unsigned chk, uint64_t off, uint64_t len)
{
	uint64_t c0 = off >> q->cluster_bits, c1 = (off + len - 1) >> q->cluster_bits;

	for (uint32_t i = 0; (chk & QCOW2_OL_L2) && i < q->l1_size; i++) {
		uint64_t c = (q->l1[i] & QCOW2_OFFSET_MASK) >> q->cluster_bits;
		if (c && c >= c0 && c <= c1)
			return "active L2 table";
	}
	for (uint64_t i = 0; (chk & QCOW2_OL_RB) && i < q->rt_used; i++) {
		uint64_t c = (q->rt[i] & ~QCOW2_RTE_RESERVED) >> q->cluster_bits;
		if (c && c >= c0 && c <= c1)
			return "refcount block";
	}
	return NULL;
}

int qcow2_overlap_check(struct qcow2 *q, unsigned chk, uint64_t off, uint64_t len)
{
	const char *what;

	if (!len)
		return 0;
	what = overlap_fixed(q, chk, off, len);
	if (!what)
		what = overlap_tables(q, chk, off, len);
	if (!what)
		return q->corrupt && !(q->img->flags & IMG_OPEN_CHECK) ? CR_ECORRUPT : 0;
	return qcow2_signal_corrupt(q, "qcow2: Marking image as corrupt: Preventing invalid write on "
				    "metadata (overlaps with %s)", what);
}

/* ---- snapshot walks ----------------------------------------------------------------------------- */

int qcow2_read_l1(struct qcow2 *q, uint64_t off, uint32_t n, uint64_t **out)
{
	uint8_t *b;
	int r;

	*out = calloc(n ? n : 1, 8);
	b = malloc(n ? (size_t)n * 8 : 1);
	if (!*out || !b) {
		free(b);
		free(*out);
		return -ENOMEM;
	}
	r = n ? img_file_read(q->img, b, (size_t)n * 8, off) : 0;
	for (uint32_t i = 0; r == 0 && i < n; i++)
		(*out)[i] = be64_get(b + (size_t)i * 8);
	free(b);
	if (r < 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

static int walk_l2_entry(struct qcow2 *q, uint8_t *l2, uint64_t i, int delta, bool active)
{
	uint64_t e = qcow2_l2_get(q, l2, i), off, len, rc;
	int r;

	if (e & QCOW2_OFLAG_COMPRESSED) {
		compressed_range(q, e, &off, &len);
		return delta ? qcow2_update_refcount(q, off, len, delta) : 0;
	}
	off = e & QCOW2_OFFSET_MASK;
	if (!off)
		return 0;
	r = delta ? qcow2_update_refcount(q, off, q->cluster_size, delta) : 0;
	if (r == 0 && active)
		r = qcow2_get_refcount(q, off >> q->cluster_bits, &rc);
	if (r == 0 && active && !!(e & QCOW2_OFLAG_COPIED) != (rc == 1)) {
		/* The flag follows the refcount on disk, never runs ahead of it. */
		r = q->lazy ? 0 : qcow2_cache_set_dependency(q->l2c, q->rbc);
		e = rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
		qcow2_l2_set(q, l2, i, e, qcow2_l2_bitmap(q, l2, i));
		qcow2_cache_mark_dirty(q->l2c, l2);
	}
	return r;
}

static int walk_l2(struct qcow2 *q, uint64_t l2off, int delta, bool active)
{
	uint8_t *l2;
	int r = qcow2_cache_get(q->l2c, l2off, false, &l2);

	for (uint64_t i = 0; r == 0 && i < q->l2_entries; i++)
		r = walk_l2_entry(q, l2, i, delta, active);
	if (r == 0)
		qcow2_cache_put(q->l2c, l2);
	else if (l2)
		qcow2_cache_put(q->l2c, l2);
	return r;
}

int qcow2_update_l1_refcounts(struct qcow2 *q, uint64_t *l1, uint32_t l1_size, int delta, bool active)
{
	uint64_t rc;
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < l1_size; i++) {
		uint64_t off = l1[i] & QCOW2_OFFSET_MASK, ne;
		if (!off)
			continue;
		if (off & (q->cluster_size - 1)) {
			r = qcow2_signal_corrupt(q, "L2 table offset %#llx unaligned", (unsigned long long)off);
			break;
		}
		r = walk_l2(q, off, delta, active);
		if (r == 0 && delta)
			r = qcow2_update_refcount(q, off, q->cluster_size, delta);
		if (r == 0 && active)
			r = qcow2_get_refcount(q, off >> q->cluster_bits, &rc);
		if (r || !active)
			continue;
		ne = rc == 1 ? l1[i] | QCOW2_OFLAG_COPIED : l1[i] & ~QCOW2_OFLAG_COPIED;
		if (ne != l1[i]) {
			/* The L2 changes behind this entry go first. */
			l1[i] = ne;
			r = qcow2_flush_all(q);
			if (r == 0)
				r = qcow2_write_l1_entry(q, i);
		}
	}
	return r;
}
