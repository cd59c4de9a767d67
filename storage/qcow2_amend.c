/* qcow2 amend (lazy refcounts, compat up/downgrade, refcount width, backing file, size) and
 * measure (the sizes qemu-img measure reports, computed without I/O). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

static int amend_lazy(struct qcow2 *q, bool on)
{
	int r = qcow2_flush_all(q);

	if (r < 0)
		return r;
	if (!on && q->dirty_set) {
		r = qcow2_update_incompat(q, q->incompat & ~QCOW2_INCOMPAT_DIRTY);
		q->dirty_set = false;
	}
	q->compat = on ? q->compat | QCOW2_COMPAT_LAZY_REFCOUNTS : q->compat & ~QCOW2_COMPAT_LAZY_REFCOUNTS;
	q->lazy = on;
	if (r == 0)
		r = qcow2_write_header(q);
	return r == 0 ? img_file_sync(q->img) : r;
}

/* ---- compat 0.10 <-> 1.1 ------------------------------------------------------------------ */

/* v2 has no zero flag: a preallocated zero cluster gets real zeros, a plain
 * zero cluster becomes unallocated (only valid without a backing file). */
static int expand_zero_entry(struct qcow2 *q, uint8_t *l2, uint64_t i, const uint8_t *zeros)
{
	uint64_t e = qcow2_l2_get(q, l2, i), off = e & QCOW2_OFFSET_MASK;
	int r = 0;

	if ((e & QCOW2_OFLAG_COMPRESSED) || !(e & QCOW2_OFLAG_ZERO))
		return 0;
	if (!off && q->img->backing)
		return img_seterr(q->img, CR_EUNSUPPORTED,
				  "zero clusters over a backing file cannot be expressed in compat=0.10");
	if (off)
		r = qcow2_overlap_check(q, QCOW2_OL_ALL, off, q->cluster_size);
	if (r == 0 && off)
		r = img_file_write(q->img, zeros, q->cluster_size, off);
	if (r == 0) {
		qcow2_l2_set(q, l2, i, off ? e & ~QCOW2_OFLAG_ZERO : 0, 0);
		qcow2_cache_mark_dirty(q->l2c, l2);
	}
	return r;
}

static int expand_zeros_l1(struct qcow2 *q, const uint64_t *l1, uint32_t n, const uint8_t *zeros)
{
	uint8_t *l2;
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < n; i++) {
		uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
		if (!off || (r = qcow2_cache_get(q->l2c, off, false, &l2)) < 0)
			continue;
		for (uint64_t k = 0; r == 0 && k < q->l2_entries; k++)
			r = expand_zero_entry(q, l2, k, zeros);
		qcow2_cache_put(q->l2c, l2);
	}
	return r;
}

static int expand_all_zeros(struct qcow2 *q)
{
	uint8_t *zeros = qcow2_io_alloc(q->cluster_size, true);
	uint64_t *l1;
	int r = zeros ? expand_zeros_l1(q, q->l1, q->l1_size, zeros) : -ENOMEM;

	for (uint32_t i = 0; r == 0 && i < q->nb_snapshots; i++) {
		r = qcow2_read_l1(q, q->snaps[i].l1_offset, q->snaps[i].l1_size, &l1);
		if (r == 0)
			r = expand_zeros_l1(q, l1, q->snaps[i].l1_size, zeros);
		free(l1);
	}
	free(zeros);
	/* zeros written to disk before the flags that hid them go */
	return r == 0 ? qcow2_flush_all(q) : r;
}

static int downgrade(struct qcow2 *q, char *err, size_t errlen)
{
	int r;

	if (q->lazy || q->ext_l2 || q->compression_type || q->refcount_order != 4 ||
	    (q->incompat & QCOW2_INCOMPAT_DIRTY))
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "compat=0.10 needs refcount_bits=16 and no lazy refcounts, extended L2 or zstd");
	r = expand_all_zeros(q);
	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not expand zero clusters: %s", q->img->errmsg);
	free(q->hdr_tail);
	q->hdr_tail = NULL;
	q->version = 2;
	q->header_length = QCOW2_V2_HEADER_LEN;
	q->incompat = q->compat = q->autoclear = 0;
	r = qcow2_write_header(q);
	return r == 0 ? img_file_sync(q->img) : r;
}

static int amend_compat(struct qcow2 *q, int compat, char *err, size_t errlen)
{
	int r;

	if ((uint32_t)compat == q->version)
		return 0;
	if (compat == 2)
		return downgrade(q, err, errlen);
	q->version = 3;
	q->header_length = QCOW2_HEADER_LEN;
	r = qcow2_flush_all(q);
	if (r == 0)
		r = qcow2_write_header(q);
	return r == 0 ? img_file_sync(q->img) : r;
}

/* ---- refcount width ----------------------------------------------------------------------- */

#define MAX_AMEND_CLUSTERS (1ull << 27) /* refcounts held in memory while rewriting */

struct new_rc {
	unsigned order;
	uint64_t per_block, start, nb, nt; /* blocks then table from cluster START */
	uint64_t *rc;                      /* refcount of every cluster < start */
};

static int collect_refcounts(struct qcow2 *q, struct new_rc *n)
{
	uint64_t size;
	int r = img_file_size(q->img, &size);

	n->start = qcow2_align_up(size, q->cluster_size) >> q->cluster_bits;
	if (r < 0 || n->start > MAX_AMEND_CLUSTERS)
		return r < 0 ? r : img_seterr(q->img, CR_ETOOBIG, "image too large to change refcount_bits");
	n->rc = calloc(n->start ? n->start : 1, 8);
	if (!n->rc)
		return -ENOMEM;
	for (uint64_t c = 0; r == 0 && c < n->start; c++)
		r = qcow2_get_refcount(q, c, &n->rc[c]);
	for (uint64_t c = 0; r == 0 && c < n->start; c++)
		if (n->rc[c] > (n->order == 6 ? UINT64_MAX : (1ull << (1u << n->order)) - 1))
			r = img_seterr(q->img, -ERANGE, "cluster %llu has refcount %llu, too wide for %u bits",
				       (unsigned long long)c, (unsigned long long)n->rc[c], 1u << n->order);
	/* the old structures are free once the header points at the new ones */
	for (uint64_t i = 0; r == 0 && i < q->rt_entries; i++)
		if (q->rt[i] && (q->rt[i] >> q->cluster_bits) < n->start)
			n->rc[q->rt[i] >> q->cluster_bits] = 0;
	for (uint64_t c = 0; r == 0 && c < q->rt_clusters; c++)
		n->rc[(q->rt_offset >> q->cluster_bits) + c] = 0;
	return r;
}

/* Blocks and table clusters to count every cluster including themselves. */
static void plan_new(struct qcow2 *q, struct new_rc *n)
{
	uint64_t per_table = q->cluster_size / 8, last = 0;

	n->per_block = (q->cluster_size * 8) >> n->order;
	n->nb = n->nt = 0;
	do {
		last = n->nb + n->nt;
		n->nb = (n->start + n->nb + n->nt + n->per_block - 1) / n->per_block;
		n->nt = (n->nb + per_table - 1) / per_table;
	} while (n->nb + n->nt != last);
}

static void put_rc(unsigned order, uint8_t *b, uint64_t i, uint64_t v)
{
	unsigned bits = 1u << order;

	if (bits < 8) {
		b[i * bits / 8] |= (uint8_t)(v << ((i * bits) % 8));
		return;
	}
	for (unsigned k = bits / 8; k-- > 0; v >>= 8)
		b[i * (bits / 8) + k] = (uint8_t)v;
}

static int write_new_structures(struct qcow2 *q, struct new_rc *n, uint64_t *table)
{
	uint8_t *b = qcow2_io_alloc(q->cluster_size, false);
	uint64_t end = n->start + n->nb + n->nt;
	int r = b ? 0 : -ENOMEM;

	for (uint64_t k = 0; r == 0 && k < n->nb; k++) {
		memset(b, 0, q->cluster_size);
		for (uint64_t i = 0; i < n->per_block; i++) {
			uint64_t c = k * n->per_block + i;
			if (c < end)
				put_rc(n->order, b, i, c < n->start ? n->rc[c] : 1);
		}
		table[k] = (n->start + k) << q->cluster_bits;
		r = img_file_write(q->img, b, q->cluster_size, table[k]);
	}
	free(b);
	if (r == 0)
		r = qcow2_write_table(q, QCOW2_OL_ALL, (n->start + n->nb) << q->cluster_bits, table,
				      n->nt * (q->cluster_size / 8));
	return r == 0 ? img_file_sync(q->img) : r;
}

/* One write moves the header to the new table and width together. */
static int switch_header(struct qcow2 *q, const struct new_rc *n)
{
	uint8_t b[52];

	be64_put(b, (n->start + n->nb) << q->cluster_bits);
	be32_put(b + 8, (uint32_t)n->nt);
	be32_put(b + 12, q->nb_snapshots);
	be64_put(b + 16, q->snapshots_offset);
	be64_put(b + 24, q->incompat);
	be64_put(b + 32, q->compat);
	be64_put(b + 40, q->autoclear);
	be32_put(b + 48, n->order);
	return img_file_write(q->img, b, sizeof(b), 48);
}

static int amend_refcount_bits(struct qcow2 *q, unsigned bits, char *err, size_t errlen)
{
	struct new_rc n = { .order = bits ? (unsigned)__builtin_ctz(bits) : 0 };
	uint64_t *table = NULL;
	int r;

	if (bits == (1u << q->refcount_order))
		return 0;
	if (!bits || bits > 64 || (bits & (bits - 1)) || q->version < 3)
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "refcount_bits must be a power of two up to 64 (and needs compat=1.1)");
	r = qcow2_flush_all(q);
	if (r == 0)
		r = collect_refcounts(q, &n);
	if (r == 0) {
		plan_new(q, &n);
		table = calloc(n.nt * (q->cluster_size / 8), 8);
		r = table ? write_new_structures(q, &n, table) : -ENOMEM;
	}
	if (r == 0)
		r = switch_header(q, &n);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0) {
		qcow2_cache_drop_all(q->rbc);
		free(q->rt);
		q->rt = table;
		table = NULL;
		q->rt_offset = (n.start + n.nb) << q->cluster_bits;
		q->rt_clusters = (uint32_t)n.nt;
		q->rt_entries = n.nt * (q->cluster_size / 8);
		q->rt_used = n.nb;
		q->refcount_order = n.order;
		q->free_hint = q->run_hint = 0;
		qcow2_derive(q);
	}
	free(table);
	free(n.rc);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not change refcount_bits: %s", q->img->errmsg) : 0;
}

int qcow2_amend(struct qcow2 *q, const struct qcow2_amend_opts *o, char *err, size_t errlen)
{
	int r = 0;

	if (!q->img->rw)
		return img_fmterr(err, errlen, -EBADF, "Image is opened read-only");
	if (q->corrupt)
		return img_fmterr(err, errlen, CR_ECORRUPT, "Image is corrupt");
	/* lazy refcounts go off before a downgrade, and on after an upgrade */
	if ((o->mask & QCOW2_AMEND_LAZY_REFCOUNTS) && !o->lazy_refcounts)
		r = amend_lazy(q, false);
	/* a width change needs v3: after an upgrade, before a downgrade */
	if (r == 0 && (o->mask & QCOW2_AMEND_COMPAT) && o->compat == 3)
		r = amend_compat(q, o->compat, err, errlen);
	if (r == 0 && (o->mask & QCOW2_AMEND_REFCOUNT_BITS))
		r = amend_refcount_bits(q, o->refcount_bits, err, errlen);
	if (r == 0 && (o->mask & QCOW2_AMEND_COMPAT) && o->compat != 3)
		r = amend_compat(q, o->compat, err, errlen);
	if (r == 0 && (o->mask & QCOW2_AMEND_LAZY_REFCOUNTS) && o->lazy_refcounts) {
		if (o->lazy_refcounts && q->version < 3)
			return img_fmterr(err, errlen, CR_EINVAL_PARAM,
					  "Lazy refcounts only supported with compatibility level 1.1 and above");
		r = amend_lazy(q, o->lazy_refcounts);
	}
	if (r == 0 && (o->mask & QCOW2_AMEND_BACKING))
		r = qcow2_rebase(q, o->backing_file, o->backing_format, QCOW2_REBASE_UNSAFE, NULL, NULL,
				 NULL, err, errlen);
	if (r == 0 && (o->mask & QCOW2_AMEND_SIZE))
		r = img_resize(q->img, o->size, 0, IMG_PREALLOC_OFF, err, errlen);
	if (r < 0 && err && errlen && !err[0])
		img_fmterr(err, errlen, r, "Amend failed: %s", q->img->errmsg);
	return r;
}

/* ---- measure ------------------------------------------------------------------------------------ */

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/* Refcount blocks and table clusters for CLUSTERS clusters, counting
 * themselves: iterate to the fixed point. */
static uint64_t refcount_meta(uint64_t clusters, uint64_t cs, unsigned order)
{
	uint64_t per_block = cs * 8 >> order, per_table = cs / 8;
	uint64_t blocks = 0, table = 0, n = 0, last;

	do {
		last = n;
		blocks = div_up(clusters + table + blocks, per_block);
		table = div_up(blocks, per_table);
		n = clusters + blocks + table;
	} while (n != last);
	return (blocks + table) * cs;
}

int qcow2_measure_size(const struct img_create_opts *opts, uint64_t virtual_size,
		       uint64_t data_bytes, struct qcow2_measure *out)
{
	uint64_t cs = opts->cluster_size ? opts->cluster_size : 65536;
	unsigned bits = opts->refcount_bits ? opts->refcount_bits : 16;
	uint64_t l2e = opts->extended_l2 ? 16 : 8, aligned, nl2e, nl1e, meta;

	if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)) || !bits || bits > 64 || (bits & (bits - 1)))
		return CR_EINVAL_PARAM;
	aligned = div_up(virtual_size, cs) * cs;
	meta = cs; /* header */
	nl2e = div_up(aligned / cs, cs / l2e) * (cs / l2e);
	meta += nl2e * l2e;
	nl1e = div_up(nl2e * l2e / cs, cs / 8) * (cs / 8);
	meta += nl1e * 8;
	meta += refcount_meta((meta + aligned) / cs, cs, (unsigned)__builtin_ctz(bits));
	out->fully_allocated = meta + aligned;
	out->required = meta + data_bytes;
	return 0;
}
