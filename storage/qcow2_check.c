/* qcow2 consistency check and repair, as qemu-img check: count every
 * reference (header, tables, snapshots, data), compare with the stored
 * refcounts, verify COPIED flags, and repair leaks and errors on request.
 * Memory is one 32-bit counter per host cluster of the file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define MAX_REPAIR_PASSES 4
#define MAX_CHECK_CLUSTERS (1ull << 28) /* 1 GiB of counters: 16 TiB of 64K clusters */ /* blocks created by a repair need one more pass */

struct chk {
	struct qcow2 *q;
	struct qcow2_check_result *res;
	qcow2_report_fn report;
	void *opaque;
	uint32_t *refs;
	uint64_t nb;      /* clusters of the file */
	uint64_t highest; /* last cluster in use + 1 */
	uint64_t next_contig;
	bool quiet;
	bool rebuild; /* a cluster in use has refcount 0: rebuild the structure */
};

static void say(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct chk *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!c->report || c->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->report(c->opaque, line);
}

static void inc(struct chk *c, uint64_t off, uint64_t len)
{
	struct qcow2 *q = c->q;

	if (!len)
		return;
	for (uint64_t k = off >> q->cluster_bits; k <= (off + len - 1) >> q->cluster_bits; k++) {
		if (k >= c->nb) {
			say(c, "ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x%llx size 0x%llx",
			    (unsigned long long)off, (unsigned long long)len);
			c->res->corruptions++;
			return;
		}
		if (c->refs[k] != UINT32_MAX)
			c->refs[k]++;
	}
}

/* ---- walking the tables ---------------------------------------------------------------------- */

static void count_data(struct chk *c, uint64_t e, bool active, uint64_t l2off, uint64_t i)
{
	struct qcow2 *q = c->q;
	uint64_t off = e & QCOW2_OFFSET_MASK;

	if (e & QCOW2_OFLAG_COMPRESSED) {
		uint64_t nsec = ((e >> q->csize_shift) & q->csize_mask) + 1;
		inc(c, (e & q->coffset_mask) & ~511ull, nsec * 512);
		if (active)
			c->res->allocated_clusters++, c->res->compressed_clusters++, c->res->fragmented_clusters++;
		return;
	}
	if (!off)
		return;
	if (off & (q->cluster_size - 1)) {
		say(c, "ERROR offset=%llx: Cluster is not properly aligned; L2 entry corrupted",
		    (unsigned long long)off);
		c->res->corruptions++;
		return;
	}
	(void)l2off, (void)i;
	inc(c, off, q->cluster_size);
	if (!active)
		return;
	c->res->allocated_clusters++;
	if (c->next_contig && off != c->next_contig)
		c->res->fragmented_clusters++;
	c->next_contig = off + q->cluster_size;
}

static int count_l2(struct chk *c, uint64_t l2off, bool active)
{
	struct qcow2 *q = c->q;
	uint8_t *l2;
	int r = qcow2_cache_get(q->l2c, l2off, false, &l2);

	if (r < 0)
		return r;
	c->next_contig = 0; /* qemu-img counts fragmentation within one L2 table */
	for (uint64_t i = 0; i < q->l2_entries; i++)
		count_data(c, qcow2_l2_get(q, l2, i), active, l2off, i);
	qcow2_cache_put(q->l2c, l2);
	return 0;
}

static int count_l1(struct chk *c, const uint64_t *l1, uint32_t n, uint64_t l1off, bool active)
{
	struct qcow2 *q = c->q;
	int r;

	inc(c, l1off, (uint64_t)n * 8);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
		if (!off)
			continue;
		if ((off & (q->cluster_size - 1)) || (off >> q->cluster_bits) >= c->nb) {
			say(c, "ERROR l2_offset=%llx: Table is not cluster aligned or outside the image; L1 entry corrupted",
			    (unsigned long long)off);
			c->res->corruptions++;
			continue;
		}
		inc(c, off, q->cluster_size);
		r = count_l2(c, off, active);
		if (r < 0)
			return r;
	}
	return 0;
}

static int count_snapshots(struct chk *c)
{
	struct qcow2 *q = c->q;
	uint64_t *l1;
	int r;

	if (q->nb_snapshots)
		inc(c, q->snapshots_offset, q->snapshots_size);
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		struct qcow2_snapshot *s = &q->snaps[i];
		if ((s->l1_offset >> q->cluster_bits) >= c->nb) {
			say(c, "ERROR snapshot %s (%s) l1_offset=%#llx: L1 table is outside the image", s->id,
			    s->name, (unsigned long long)s->l1_offset);
			c->res->corruptions++;
			continue;
		}
		r = qcow2_read_l1(q, s->l1_offset, s->l1_size, &l1);
		if (r == 0)
			r = count_l1(c, l1, s->l1_size, s->l1_offset, false);
		free(l1);
		if (r < 0)
			return r;
	}
	return 0;
}

static void count_refcount_structures(struct chk *c)
{
	struct qcow2 *q = c->q;

	inc(c, q->rt_offset, (uint64_t)q->rt_clusters << q->cluster_bits);
	for (uint64_t i = 0; i < q->rt_entries; i++) {
		uint64_t off = q->rt[i] & ~QCOW2_RTE_RESERVED;
		if (!off)
			continue;
		if ((off & (q->cluster_size - 1)) || (off >> q->cluster_bits) >= c->nb) {
			say(c, "ERROR refcount block %llu is not cluster aligned or outside the image",
			    (unsigned long long)i);
			c->res->corruptions++;
			continue;
		}
		inc(c, off, q->cluster_size);
	}
}

static int count_all(struct chk *c)
{
	struct qcow2 *q = c->q;
	int r;

	memset(c->refs, 0, c->nb * sizeof(*c->refs));
	c->next_contig = 0;
	inc(c, 0, q->cluster_size);
	r = count_l1(c, q->l1, q->l1_size, q->l1_offset, true);
	if (r == 0)
		r = count_snapshots(c);
	if (r == 0)
		count_refcount_structures(c);
	return r;
}

/* ---- comparing and repairing ----------------------------------------------------------------- */

static bool cluster_has_block(const struct qcow2 *q, uint64_t k)
{
	uint64_t bi = k >> q->rb_bits;
	uint64_t off = bi < q->rt_entries ? q->rt[bi] & ~QCOW2_RTE_RESERVED : 0;

	return off && !(off & (q->cluster_size - 1));
}

static int compare_one(struct chk *c, uint64_t k, unsigned fix)
{
	struct qcow2 *q = c->q;
	uint64_t rc = 0, ref = c->refs[k];
	int r = cluster_has_block(q, k) ? qcow2_get_refcount(q, k, &rc) : 0;
	int64_t *fixed = NULL;

	if (r < 0)
		return r;
	if ((rc || ref) && k + 1 > c->highest)
		c->highest = k + 1; /* leaked clusters count too, as in qemu-img */
	if (!rc && ref)
		c->rebuild = true;
	if (rc == ref)
		return 0;
	if (rc > ref && (fix & QCOW2_REPAIR_LEAKS))
		fixed = &c->res->leaks_fixed;
	else if (rc < ref && (fix & QCOW2_REPAIR_ERRORS))
		fixed = &c->res->corruptions_fixed;
	say(c, "%s cluster %llu refcount=%llu reference=%llu",
	    fixed ? "Repairing" : rc < ref ? "ERROR" : "Leaked", (unsigned long long)k,
	    (unsigned long long)rc, (unsigned long long)ref);
	if (!fixed) {
		if (rc < ref)
			c->res->corruptions++;
		else
			c->res->leaks++;
		return 0;
	}
	r = qcow2_set_refcount(q, k, ref > q->refcount_max ? q->refcount_max : ref);
	if (r < 0)
		return r;
	(*fixed)++;
	return 0;
}

static int compare_all(struct chk *c, unsigned fix)
{
	int r = 0;

	c->highest = 0;
	/* Raise missing counts before freeing leaks: a repair never hands out
	 * a cluster that is still referenced (q->reserved). */
	for (uint64_t k = 0; r == 0 && k < c->nb; k++)
		if (c->refs[k])
			r = compare_one(c, k, fix);
	for (uint64_t k = 0; r == 0 && k < c->nb; k++)
		if (!c->refs[k])
			r = compare_one(c, k, fix);
	return r;
}

static int check_copied_l2(struct chk *c, uint64_t l2off, unsigned fix)
{
	struct qcow2 *q = c->q;
	uint8_t *l2;
	uint64_t rc;
	int r = qcow2_cache_get(q->l2c, l2off, false, &l2);

	for (uint64_t i = 0; r == 0 && i < q->l2_entries; i++) {
		uint64_t e = qcow2_l2_get(q, l2, i), off = e & QCOW2_OFFSET_MASK;
		if ((e & QCOW2_OFLAG_COMPRESSED) || !off || (off & (q->cluster_size - 1)) ||
		    (off >> q->cluster_bits) >= c->nb)
			continue;
		r = qcow2_get_refcount(q, off >> q->cluster_bits, &rc);
		if (r < 0 || !!(e & QCOW2_OFLAG_COPIED) == (rc == 1))
			continue;
		say(c, "%s OFLAG_COPIED data cluster: l2_entry=%llx refcount=%llu",
		    (fix & QCOW2_REPAIR_ERRORS) ? "Repairing" : "ERROR", (unsigned long long)e,
		    (unsigned long long)rc);
		if (!(fix & QCOW2_REPAIR_ERRORS)) {
			c->res->corruptions++;
			continue;
		}
		qcow2_l2_set(q, l2, i, rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED,
			     qcow2_l2_bitmap(q, l2, i));
		qcow2_cache_mark_dirty(q->l2c, l2);
		c->res->corruptions_fixed++;
	}
	if (l2)
		qcow2_cache_put(q->l2c, l2);
	return r;
}

static int check_copied(struct chk *c, unsigned fix)
{
	struct qcow2 *q = c->q;
	uint64_t rc;
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & QCOW2_OFFSET_MASK;
		if (!off || (off & (q->cluster_size - 1)) || (off >> q->cluster_bits) >= c->nb)
			continue;
		r = qcow2_get_refcount(q, off >> q->cluster_bits, &rc);
		if (r == 0 && !!(q->l1[i] & QCOW2_OFLAG_COPIED) != (rc == 1)) {
			say(c, "%s OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%llx refcount=%llu",
			    (fix & QCOW2_REPAIR_ERRORS) ? "Repairing" : "ERROR", i,
			    (unsigned long long)q->l1[i], (unsigned long long)rc);
			if (fix & QCOW2_REPAIR_ERRORS) {
				q->l1[i] = rc == 1 ? q->l1[i] | QCOW2_OFLAG_COPIED : q->l1[i] & ~QCOW2_OFLAG_COPIED;
				r = qcow2_write_l1_entry(q, i);
				c->res->corruptions_fixed++;
			} else {
				c->res->corruptions++;
			}
		}
		if (r == 0)
			r = check_copied_l2(c, off, fix);
	}
	return r;
}

/* ---- entry points ------------------------------------------------------------------------------ */

static int chk_init(struct chk *c, struct qcow2 *q, struct qcow2_check_result *res)
{
	uint64_t size;
	int r = img_file_size(q->img, &size);

	if (r < 0)
		return r;
	c->q = q;
	c->res = res;
	c->nb = qcow2_align_up(size, q->cluster_size) >> q->cluster_bits;
	if (c->nb > MAX_CHECK_CLUSTERS)
		return img_seterr(q->img, CR_ETOOBIG, "image file too large to check (%llu clusters)",
				  (unsigned long long)c->nb);
	c->refs = calloc(c->nb ? c->nb : 1, sizeof(*c->refs));
	return c->refs ? 0 : img_seterr(q->img, -ENOMEM, "not enough memory for %llu clusters",
					(unsigned long long)c->nb);
}

/* Before repairing, qemu-img reports what the comparison finds (the
 * "Leaked cluster"/"ERROR cluster" lines) into *FOUND, then repairs. */
static int pre_report(struct chk *c, struct qcow2_check_result *found)
{
	struct qcow2_check_result keep = *c->res;
	int r;

	c->rebuild = false;
	r = compare_all(c, 0);
	*found = *c->res;
	*c->res = keep;
	return r;
}

/* ---- rebuilding the refcount structure ------------------------------------------------------- */

/* A refcount table being built: host-endian entries. */
struct newrt {
	uint64_t *e;
	uint64_t n;
};

static int grow_refs(struct chk *c, uint64_t nb)
{
	uint32_t *v = realloc(c->refs, nb * sizeof(*v));

	if (!v)
		return -ENOMEM;
	memset(v + c->nb, 0, (nb - c->nb) * sizeof(*v));
	c->refs = v;
	c->nb = nb;
	c->q->reserved = v;
	c->q->reserved_n = nb;
	return 0;
}

/* The first run of N clusters free in the counts from *FIRST on (past the
 * end of the file when there is none), taken: its host offset. */
static int64_t refs_alloc(struct chk *c, uint64_t n, uint64_t *first)
{
	uint64_t k = *first, run = 0;
	bool gap = true;

	for (; k < c->nb && run < n; k++) {
		if (c->refs[k]) {
			run = 0;
			continue;
		}
		if (gap)
			*first = k, gap = false;
		run++;
	}
	if (run < n && grow_refs(c, k + n - run) < 0)
		return -ENOMEM;
	k = (run < n ? k + n - run : k) - n;
	for (uint64_t i = 0; i < n; i++)
		c->refs[k + i] = 1;
	return (int64_t)(k << c->q->cluster_bits);
}

/* Room for entry BI, a whole cluster of entries at a time. */
static int newrt_grow(struct chk *c, struct newrt *t, uint64_t bi, bool *grown)
{
	uint64_t per = c->q->cluster_size / 8, n = (bi / per + 1) * per;
	uint64_t *v;

	if (bi < t->n)
		return 0;
	v = realloc(t->e, n * 8);
	if (!v)
		return -ENOMEM;
	memset(v + t->n, 0, (n - t->n) * 8);
	t->e = v;
	t->n = n;
	*grown = true;
	return 0;
}

/* Blocks for every range of clusters that holds counts, each placed in the
 * first free cluster; *added: some were placed (the counts changed). */
static int alloc_blocks(struct chk *c, struct newrt *t, bool *grown, bool *added)
{
	struct qcow2 *q = c->q;
	uint64_t first_free = 0;
	int64_t off;
	int r = 0;

	*added = false;
	for (uint64_t k = 0; r == 0 && k < c->nb; k++) {
		uint64_t bi = k >> q->rb_bits;
		if (!c->refs[k])
			continue;
		r = newrt_grow(c, t, bi, grown);
		if (r == 0 && !t->e[bi]) {
			off = refs_alloc(c, 1, &first_free);
			r = off < 0 ? (int)off : 0;
			t->e[bi] = off < 0 ? 0 : (uint64_t)off;
			*added = true;
		}
		k = ((bi + 1) << q->rb_bits) - 1;
	}
	return r;
}

/* Every block of T, from the final counts. */
static int write_blocks(struct chk *c, const struct newrt *t)
{
	struct qcow2 *q = c->q;
	uint8_t *buf = qcow2_io_alloc(q->cluster_size, false);
	uint64_t per = 1ull << q->rb_bits;
	int r = buf ? 0 : -ENOMEM;

	for (uint64_t bi = 0; r == 0 && bi < t->n; bi++) {
		if (!t->e[bi])
			continue;
		memset(buf, 0, q->cluster_size);
		for (uint64_t i = 0, k = bi << q->rb_bits; i < per && k + i < c->nb; i++)
			qcow2_rb_set(q, buf, i, c->refs[k + i] > q->refcount_max ? q->refcount_max : c->refs[k + i]);
		r = qcow2_overlap_check(q, QCOW2_OL_ALL, t->e[bi], q->cluster_size);
		if (r == 0)
			r = img_file_write(q->img, buf, q->cluster_size, t->e[bi]);
	}
	free(buf);
	return r;
}

/* Blocks until every count has one (placing blocks changes the counts). */
static int alloc_all_blocks(struct chk *c, struct newrt *t, bool *grown)
{
	bool added = true;
	int r = 0;

	*grown = false;
	while (r == 0 && added)
		r = alloc_blocks(c, t, grown, &added);
	return r;
}

/* As qemu-img check -r all when a cluster in use has refcount 0: blocks for
 * the counts, then a table placed where the counts leave room (its clusters
 * need blocks too; when that makes the table grow, it is placed again); the
 * blocks and the table are written and the header switches to them.  The
 * old table and blocks become leaks. */
static int rebuild_refcounts(struct chk *c)
{
	struct newrt t = { 0 };
	uint64_t first;
	int64_t off = 0;
	bool grown;
	int r = qcow2_flush_all(c->q);

	if (r == 0)
		r = alloc_all_blocks(c, &t, &grown);
	for (grown = true; r == 0 && grown;) {
		first = 0;
		off = refs_alloc(c, qcow2_align_up(t.n * 8, c->q->cluster_size) >> c->q->cluster_bits, &first);
		r = off < 0 ? (int)off : alloc_all_blocks(c, &t, &grown);
	}
	if (r == 0)
		r = write_blocks(c, &t);
	if (r == 0)
		r = qcow2_install_refcount_table(c->q, t.e, t.n, (uint64_t)off);
	if (r < 0)
		free(t.e);
	return r;
}

/* Rebuilds, counts again (the old structures are leaks now, freed at once,
 * as qemu-img does), and keeps the first count's statistics. */
static int rebuild_pass(struct chk *c, const struct qcow2_check_result *found)
{
	struct qcow2_check_result keep = *c->res;
	uint64_t fresh;
	int r;

	say(c, "Rebuilding refcount structure");
	r = rebuild_refcounts(c);
	if (r == 0)
		r = count_all(c);
	if (r == 0)
		r = compare_all(c, QCOW2_REPAIR_LEAKS);
	fresh = (uint64_t)c->res->leaks;
	*c->res = keep;
	c->res->corruptions_fixed += found->corruptions;
	c->res->leaks_fixed += found->leaks;
	c->res->leaks += (int64_t)fresh;
	return r;
}

static int one_pass(struct chk *c, unsigned fix)
{
	struct qcow2 *q = c->q;
	struct qcow2_check_result found;
	int r;

	memset(c->res, 0, sizeof(*c->res));
	r = count_all(c);
	q->reserved = c->refs;
	q->reserved_n = c->nb;
	q->rb_allocated = 0;
	if (r == 0 && fix)
		r = pre_report(c, &found);
	if (r == 0 && fix && c->rebuild && (fix & QCOW2_REPAIR_ERRORS))
		r = rebuild_pass(c, &found);
	else if (r == 0)
		r = compare_all(c, fix);
	if (r == 0)
		r = check_copied(c, fix);
	if (r == 0 && fix)
		r = qcow2_flush_all(q);
	q->reserved = NULL;
	return r;
}

static void finish_result(struct chk *c)
{
	struct qcow2 *q = c->q;

	c->res->image_end_offset = c->highest << q->cluster_bits;
	c->res->total_clusters = qcow2_align_up(q->img->size, q->cluster_size) >> q->cluster_bits;
}

/* Repairs, repeats while repairs created refcount blocks, then checks once
 * more: OUT keeps the fixed counts and gets what remains (as qemu-img). */
static int repair_passes(struct chk *c, unsigned fix, struct qcow2_check_result *out)
{
	struct qcow2_check_result tmp;
	int r;

	c->res = out;
	r = one_pass(c, fix);
	c->quiet = true;
	c->res = &tmp;
	for (int i = 0; r == 0 && c->q->rb_allocated && i < MAX_REPAIR_PASSES; i++)
		r = one_pass(c, fix);
	if (r == 0)
		r = one_pass(c, 0);
	if (r == 0) {
		out->corruptions = tmp.corruptions;
		out->leaks = tmp.leaks;
	}
	c->res = out;
	return r;
}

int qcow2_check(struct qcow2 *q, unsigned repair, struct qcow2_check_result *res,
		qcow2_report_fn report, void *opaque, char *err, size_t errlen)
{
	struct qcow2_check_result out = { 0 };
	struct chk c = { .report = report, .opaque = opaque };
	int r;

	memset(res, 0, sizeof(*res));
	if (repair && !q->img->rw)
		return img_fmterr(err, errlen, -EBADF, "Repair needs the image opened read-write");
	r = chk_init(&c, q, &out);
	if (r < 0)
		return img_fmterr(err, errlen, r, "%s", q->img->errmsg);
	r = repair ? repair_passes(&c, repair, &out) : one_pass(&c, 0);
	c.res = &out;
	finish_result(&c);
	if (r == 0 && (repair & QCOW2_REPAIR_ERRORS) && !out.corruptions && q->corrupt) {
		r = qcow2_update_incompat(q, q->incompat & ~QCOW2_INCOMPAT_CORRUPT);
		q->corrupt = false;
	}
	/* refcounts rebuilt: the dirty bit (lazy refcounts, crash) has done its job */
	if (r == 0 && (repair & QCOW2_REPAIR_ERRORS) && !out.corruptions && (q->incompat & QCOW2_INCOMPAT_DIRTY)) {
		r = qcow2_update_incompat(q, q->incompat & ~QCOW2_INCOMPAT_DIRTY);
		q->dirty_set = false;
	}
	free(c.refs);
	*res = out;
	if (r < 0) {
		res->check_errors++;
		return img_fmterr(err, errlen, r, "Check failed: %s", q->img->errmsg);
	}
	return 0;
}

int qcow2_rebuild_after_dirty(struct qcow2 *q, char *err, size_t errlen)
{
	struct qcow2_check_result res;
	int r;

	q->img->flags |= IMG_OPEN_CHECK; /* the image is known stale: no corrupt marking */
	r = qcow2_check(q, QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res, NULL, NULL, err, errlen);
	q->img->flags &= ~IMG_OPEN_CHECK;
	if (r == 0 && res.corruptions)
		return img_fmterr(err, errlen, CR_ECORRUPT, "Could not repair dirty image: %lld corruptions remain",
				  (long long)res.corruptions);
	if (r == 0)
		r = qcow2_update_incompat(q, q->incompat & ~QCOW2_INCOMPAT_DIRTY);
	return r;
}
