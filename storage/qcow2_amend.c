/* qcow2 amend (lazy refcounts, compat upgrade, backing file, size) and
 * measure (the sizes qemu-img measure reports, computed without I/O). */
#include <errno.h>
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

static int amend_compat(struct qcow2 *q, int compat, char *err, size_t errlen)
{
	int r;

	if ((uint32_t)compat == q->version)
		return 0;
	if (compat != 3)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED,
				  "Downgrading to compat=0.10 is not supported");
	q->version = 3;
	q->header_length = QCOW2_HEADER_LEN;
	r = qcow2_flush_all(q);
	if (r == 0)
		r = qcow2_write_header(q);
	return r == 0 ? img_file_sync(q->img) : r;
}

int qcow2_amend(struct qcow2 *q, const struct qcow2_amend_opts *o, char *err, size_t errlen)
{
	int r = 0;

	if (!q->img->rw)
		return img_fmterr(err, errlen, -EBADF, "Image is opened read-only");
	if (q->corrupt)
		return img_fmterr(err, errlen, CR_ECORRUPT, "Image is corrupt");
	if ((o->mask & QCOW2_AMEND_REFCOUNT_BITS) && o->refcount_bits != (1u << q->refcount_order))
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "Changing refcount_bits is not supported");
	if (o->mask & QCOW2_AMEND_COMPAT)
		r = amend_compat(q, o->compat, err, errlen);
	if (r == 0 && (o->mask & QCOW2_AMEND_LAZY_REFCOUNTS)) {
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
