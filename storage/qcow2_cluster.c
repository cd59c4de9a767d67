/* qcow2 guest-to-host mapping: L1/L2 lookups, reads through zero,
 * compressed, subcluster and backing-file cases, allocating writes with
 * copy-on-write merged into the guest write, zero writes, discard, block
 * status, compressed writes and preallocation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define SC_ALL_ALLOC 0xffffffffull
#define SC_ALL_ZERO (0xffffffffull << 32)

/* ---- L2 entries ------------------------------------------------------------------------- */

uint64_t qcow2_l2_get(const struct qcow2 *q, const uint8_t *l2, uint64_t idx)
{
	return be64_get(l2 + idx * q->l2_entry_size);
}

uint64_t qcow2_l2_bitmap(const struct qcow2 *q, const uint8_t *l2, uint64_t idx)
{
	return q->ext_l2 ? be64_get(l2 + idx * 16 + 8) : 0;
}

void qcow2_l2_set(const struct qcow2 *q, uint8_t *l2, uint64_t idx, uint64_t entry, uint64_t bitmap)
{
	be64_put(l2 + idx * q->l2_entry_size, entry);
	if (q->ext_l2)
		be64_put(l2 + idx * 16 + 8, bitmap);
}

static int check_l2_offset(struct qcow2 *q, uint64_t l1e, uint32_t l1i)
{
	uint64_t off = l1e & QCOW2_OFFSET_MASK;

	if ((l1e & QCOW2_L1E_RESERVED) || (off & (q->cluster_size - 1)) || (off && off < q->cluster_size))
		return qcow2_signal_corrupt(q, "L2 table offset %#llx invalid (L1 index %u)",
					    (unsigned long long)l1e, l1i);
	return 0;
}

int qcow2_get_l2_for_read(struct qcow2 *q, uint64_t gc, uint8_t **l2, uint64_t *idx)
{
	uint64_t l1i = gc >> q->l2_bits;
	int r;

	*l2 = NULL;
	*idx = gc & (q->l2_entries - 1);
	if (l1i >= q->l1_size || !(q->l1[l1i] & QCOW2_OFFSET_MASK))
		return 0;
	r = check_l2_offset(q, q->l1[l1i], (uint32_t)l1i);
	return r < 0 ? r : qcow2_cache_get(q->l2c, q->l1[l1i] & QCOW2_OFFSET_MASK, false, l2);
}

/* A new (or copied) L2 table is written before the L1 entry points at it;
 * the old shared table loses one reference afterwards. */
static int cow_l2(struct qcow2 *q, uint32_t l1i, uint8_t **l2)
{
	uint64_t old = q->l1[l1i] & QCOW2_OFFSET_MASK;
	uint8_t *src = NULL;
	int64_t nw = qcow2_alloc_clusters(q, 1);
	int r;

	if (nw < 0)
		return (int)nw;
	if (old && (r = qcow2_cache_get(q->l2c, old, false, &src)) < 0)
		return r;
	r = qcow2_cache_get(q->l2c, (uint64_t)nw, true, l2);
	if (r == 0 && src)
		memcpy(*l2, src, q->cluster_size);
	if (src)
		qcow2_cache_put(q->l2c, src);
	if (r < 0)
		return r;
	qcow2_cache_mark_dirty(q->l2c, *l2);
	r = q->lazy ? 0 : qcow2_cache_set_dependency(q->l2c, q->rbc);
	if (r == 0)
		r = qcow2_cache_flush(q->l2c);
	if (r == 0) {
		q->l1[l1i] = (uint64_t)nw | QCOW2_OFLAG_COPIED;
		r = qcow2_write_l1_entry(q, l1i);
	}
	if (r == 0 && old)
		r = qcow2_free_clusters(q, old, q->cluster_size);
	if (r < 0)
		qcow2_cache_put(q->l2c, *l2);
	return r;
}

int qcow2_get_l2_for_write(struct qcow2 *q, uint64_t gc, uint8_t **l2, uint64_t *idx)
{
	uint64_t l1i = gc >> q->l2_bits;
	int r;

	*l2 = NULL;
	*idx = gc & (q->l2_entries - 1);
	if (l1i >= q->l1_size && (r = qcow2_grow_l1(q, l1i + 1)) < 0)
		return r;
	r = check_l2_offset(q, q->l1[l1i], (uint32_t)l1i);
	if (r < 0)
		return r;
	if ((q->l1[l1i] & QCOW2_OFFSET_MASK) && (q->l1[l1i] & QCOW2_OFLAG_COPIED))
		return qcow2_cache_get(q->l2c, q->l1[l1i] & QCOW2_OFFSET_MASK, false, l2);
	return cow_l2(q, (uint32_t)l1i, l2);
}

/* ---- reads --------------------------------------------------------------------------------- */

static int check_data_offset(struct qcow2 *q, uint64_t e, uint64_t gc)
{
	if ((e & QCOW2_OFFSET_MASK & (q->cluster_size - 1)) || (e & 0x3f00000000000000ull))
		return qcow2_signal_corrupt(q, "Cluster allocation offset %#llx unaligned (guest cluster %llu)",
					    (unsigned long long)e, (unsigned long long)gc);
	if ((e & QCOW2_OFFSET_MASK) && (e & QCOW2_OFFSET_MASK) < q->cluster_size)
		return qcow2_signal_corrupt(q, "Data cluster of guest cluster %llu overlaps the header",
					    (unsigned long long)gc);
	return 0;
}

int qcow2_read_compressed(struct qcow2 *q, uint64_t e, uint8_t *out)
{
	uint64_t off = e & q->coffset_mask;
	uint64_t nsec = ((e >> q->csize_shift) & q->csize_mask) + 1;
	uint64_t len = nsec * 512 - (off & 511);
	uint8_t *in = q->cbuf;
	int r;

	if (len > q->cluster_size * 2)
		return qcow2_signal_corrupt(q, "Compressed cluster at %#llx too large", (unsigned long long)off);
	r = img_file_read(q->img, in, len, off);
	if (r < 0)
		return r;
	r = qcow2_decompress(q->compression_type, in, len, out, q->cluster_size);
	return r < 0 ? img_seterr(q->img, -EIO, "Could not decompress cluster at %#llx",
				  (unsigned long long)off) : 0;
}

/* The guest view of bytes [in, in+n) of guest cluster GC whose entry is E/BM
 * (no L2 table: E = 0).  Used by reads and by copy-on-write. */
static int read_in_cluster(struct qcow2 *q, uint64_t gc, uint64_t e, uint64_t bm, uint8_t *buf,
			   uint64_t in, uint64_t n);

static int read_plain(struct qcow2 *q, uint64_t gc, uint64_t e, uint8_t *buf, uint64_t in, uint64_t n)
{
	uint64_t host = e & QCOW2_OFFSET_MASK;
	int r;

	if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3) {
		memset(buf, 0, n);
		return 0;
	}
	if (!host)
		return img_read_backing(q->img, buf, n, (gc << q->cluster_bits) + in);
	r = check_data_offset(q, e, gc);
	return r < 0 ? r : img_file_read(q->img, buf, n, host + in);
}

static int read_subclusters(struct qcow2 *q, uint64_t gc, uint64_t e, uint64_t bm, uint8_t *buf,
			    uint64_t in, uint64_t n)
{
	uint64_t host = e & QCOW2_OFFSET_MASK;
	int r;

	if ((bm & SC_ALL_ALLOC) & (bm >> 32))
		return qcow2_signal_corrupt(q, "Invalid subcluster bitmap %#llx (guest cluster %llu)",
					    (unsigned long long)bm, (unsigned long long)gc);
	if ((bm & SC_ALL_ALLOC) && (r = check_data_offset(q, e, gc)) < 0)
		return r;
	if ((bm & SC_ALL_ALLOC) && !host)
		return qcow2_signal_corrupt(q, "Allocated subclusters without a host cluster");
	while (n) {
		uint64_t sc = in / q->sc_size, chunk = (sc + 1) * q->sc_size - in;
		if (chunk > n)
			chunk = n;
		if (bm & (1ull << sc))
			r = img_file_read(q->img, buf, chunk, host + in);
		else if (bm & (1ull << (32 + sc)))
			r = (memset(buf, 0, chunk), 0);
		else
			r = img_read_backing(q->img, buf, chunk, (gc << q->cluster_bits) + in);
		if (r < 0)
			return r;
		buf += chunk, in += chunk, n -= chunk;
	}
	return 0;
}

static int read_in_cluster(struct qcow2 *q, uint64_t gc, uint64_t e, uint64_t bm, uint8_t *buf,
			   uint64_t in, uint64_t n)
{
	uint8_t *tmp;
	int r;

	if (e & QCOW2_OFLAG_COMPRESSED) {
		tmp = qcow2_io_alloc(q->cluster_size, false);
		if (!tmp)
			return -ENOMEM;
		r = qcow2_read_compressed(q, e, tmp);
		if (r == 0)
			memcpy(buf, tmp + in, n);
		free(tmp);
		return r;
	}
	if (q->ext_l2)
		return read_subclusters(q, gc, e, bm, buf, in, n);
	return read_plain(q, gc, e, buf, in, n);
}

static int lookup_entry(struct qcow2 *q, uint64_t gc, uint64_t *e, uint64_t *bm)
{
	uint8_t *l2;
	uint64_t idx;
	int r = qcow2_get_l2_for_read(q, gc, &l2, &idx);

	*e = *bm = 0;
	if (r < 0 || !l2)
		return r;
	*e = qcow2_l2_get(q, l2, idx);
	*bm = qcow2_l2_bitmap(q, l2, idx);
	qcow2_cache_put(q->l2c, l2);
	return 0;
}

/* A cluster whose guest bytes are its host bytes, one to one. */
static bool plain_data(const struct qcow2 *q, uint64_t e)
{
	return !q->ext_l2 && (e & QCOW2_OFFSET_MASK) && !(e & QCOW2_OFLAG_COMPRESSED) &&
	       !((e & QCOW2_OFLAG_ZERO) && q->version >= 3);
}

/* Bytes from guest cluster GC on (at most LEN) stored contiguously after the
 * plain cluster E: read with one pread. */
static int plain_extent(struct qcow2 *q, uint64_t gc, uint64_t e, uint64_t len, uint64_t *n)
{
	uint64_t e2, bm;
	int r;

	for (uint64_t k = 1; *n < len; k++) {
		if ((r = lookup_entry(q, gc + k, &e2, &bm)) < 0)
			return r;
		if (!plain_data(q, e2) || (e2 & QCOW2_OFFSET_MASK) != (e & QCOW2_OFFSET_MASK) + k * q->cluster_size)
			break;
		*n += len - *n < q->cluster_size ? len - *n : q->cluster_size;
	}
	return 0;
}

int qcow2_pread(struct img *img, void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = img->q;
	uint8_t *p = buf;
	uint64_t e, bm;
	int r;

	while (len) {
		uint64_t gc = off >> q->cluster_bits, in = off & (q->cluster_size - 1);
		uint64_t n = q->cluster_size - in < len ? q->cluster_size - in : len;
		r = lookup_entry(q, gc, &e, &bm);
		if (r == 0 && plain_data(q, e) && (r = check_data_offset(q, e, gc)) == 0 &&
		    (r = plain_extent(q, gc, e, len, &n)) == 0)
			r = img_file_read(q->img, p, n, (e & QCOW2_OFFSET_MASK) + in);
		else if (r == 0)
			r = read_in_cluster(q, gc, e, bm, p, in, n);
		if (r < 0)
			return r;
		p += n, off += n, len -= n;
	}
	return 0;
}

/* ---- allocating writes ------------------------------------------------------------------------- */

static bool l2_entry_writable(const struct qcow2 *q, uint64_t e)
{
	return (e & QCOW2_OFLAG_COPIED) && (e & QCOW2_OFFSET_MASK) && !(e & QCOW2_OFLAG_COMPRESSED) &&
	       (q->ext_l2 || !(e & QCOW2_OFLAG_ZERO));
}

static int write_data(struct qcow2 *q, const void *buf, uint64_t len, uint64_t host)
{
	int r = qcow2_overlap_check(q, QCOW2_OL_ALL, host, len);
	return r < 0 ? r : img_file_write(q->img, buf, len, host);
}

/* Range [s0, s1) of subcluster indexes touched by [in, in+n). */
static void sc_range(const struct qcow2 *q, uint64_t in, uint64_t n, uint64_t *s0, uint64_t *s1)
{
	*s0 = in / q->sc_size;
	*s1 = (in + n + q->sc_size - 1) / q->sc_size;
}

static uint64_t sc_mask(uint64_t s0, uint64_t s1)
{
	return (s1 - s0 == 64 ? ~0ull : ((1ull << (s1 - s0)) - 1)) << s0;
}

/* Fills BUF (the span [from, to) of the cluster) with the old guest view and
 * the new data on top; says whether old data (not zeros) was copied. */
static int merge_cow(struct qcow2 *q, uint64_t gc, uint64_t e, uint64_t bm, uint8_t *buf,
		     uint64_t from, uint64_t to, const uint8_t *data, uint64_t in, uint64_t n, bool *copied)
{
	int r = 0;

	*copied = false;
	if (in > from) {
		r = read_in_cluster(q, gc, e, bm, buf, from, in - from);
		*copied = true;
	}
	if (r == 0 && in + n < to) {
		r = read_in_cluster(q, gc, e, bm, buf + (in + n - from), in + n, to - in - n);
		*copied = true;
	}
	if (r == 0)
		memcpy(buf + (in - from), data, n);
	return r;
}

/* Extended L2, cluster writable in place: only the touched subclusters
 * change; partial ones that were not allocated get their old view. */
static int write_sc_inplace(struct qcow2 *q, uint8_t *l2, uint64_t idx, uint64_t gc, uint64_t e,
			    uint64_t bm, const uint8_t *data, uint64_t in, uint64_t n)
{
	uint64_t s0, s1, from, to, host = e & QCOW2_OFFSET_MASK, mask;
	uint8_t *buf;
	bool copied;
	int r;

	sc_range(q, in, n, &s0, &s1);
	mask = sc_mask(s0, s1);
	if ((bm & mask) == mask)
		return write_data(q, data, n, host + in);
	from = s0 * q->sc_size, to = s1 * q->sc_size;
	buf = qcow2_io_alloc(to - from, false);
	if (!buf)
		return -ENOMEM;
	r = merge_cow(q, gc, e, bm, buf, from, to, data, in, n, &copied);
	if (r == 0)
		r = write_data(q, buf, to - from, host + from);
	free(buf);
	if (r < 0)
		return r;
	if (copied)
		qcow2_cache_depends_on_flush(q->l2c);
	qcow2_l2_set(q, l2, idx, e, (bm | mask) & ~(mask << 32));
	qcow2_cache_mark_dirty(q->l2c, l2);
	return 0;
}

/* What a new host cluster must hold: [from, to) and the subcluster bits. */
static void alloc_span(const struct qcow2 *q, uint64_t e, uint64_t bm, uint64_t in, uint64_t n,
		       uint64_t *from, uint64_t *to, uint64_t *nbm)
{
	uint64_t s0, s1, keep;

	*from = 0, *to = q->cluster_size, *nbm = 0;
	if (!q->ext_l2)
		return;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		*nbm = SC_ALL_ALLOC;
		return;
	}
	sc_range(q, in, n, &s0, &s1);
	keep = (e & QCOW2_OFFSET_MASK) ? (bm & SC_ALL_ALLOC) : 0; /* shared host data to copy */
	*nbm = keep | sc_mask(s0, s1);
	*nbm |= (bm & SC_ALL_ZERO) & ~(*nbm << 32);
	if (keep) {
		s0 = (uint64_t)__builtin_ctzll(*nbm & SC_ALL_ALLOC);
		s1 = 64 - (uint64_t)__builtin_clzll(*nbm & SC_ALL_ALLOC);
	}
	*from = s0 * q->sc_size, *to = s1 * q->sc_size;
}

/* O_DIRECT granularity: a narrowed write keeps to whole 4 KiB blocks. */
#define FRESH_ALIGN 4096u

/* The guest saw zeros in the whole cluster before this write. */
static bool old_view_zero(const struct qcow2 *q, uint64_t e)
{
	if (q->ext_l2 || (e & QCOW2_OFLAG_COMPRESSED))
		return false;
	if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3)
		return true;
	return !(e & QCOW2_OFFSET_MASK) && !q->img->backing;
}

/* Copy-on-write of zeros into a host cluster that already reads as zeros
 * (past everything ever written) is skipped, as QEMU skips it with a zero
 * write: [*from, *to) shrinks to the written bytes widened to 4 KiB. */
static void narrow_fresh(const struct qcow2 *q, uint64_t in, uint64_t n, uint64_t *from, uint64_t *to)
{
	uint64_t a = q->cluster_size < FRESH_ALIGN ? q->cluster_size : FRESH_ALIGN;

	*from = in & ~(a - 1);
	*to = qcow2_align_up(in + n, a);
}

/* Writes the new cluster's span [from, to): the guest data merged with the
 * old view around it (ZEROS: that view is zeros and the cluster reads as
 * zeros already).  *copied says whether old data (not zeros) was copied. */
static int fill_new_cluster(struct qcow2 *q, uint64_t gc, uint64_t e, uint64_t bm, uint64_t host,
			    uint64_t from, uint64_t to, const uint8_t *data, uint64_t in, uint64_t n,
			    bool zeros, bool *copied)
{
	uint8_t *buf;
	int r = 0;

	*copied = false;
	if (from == in && to == in + n) /* the write covers the span: no buffer */
		return write_data(q, data, n, host + from);
	buf = qcow2_io_alloc(to - from, zeros);
	if (!buf)
		return -ENOMEM;
	if (zeros)
		memcpy(buf + (in - from), data, n);
	else
		r = merge_cow(q, gc, e, bm, buf, from, to, data, in, n, copied);
	if (r == 0)
		r = write_data(q, buf, to - from, host + from);
	free(buf);
	return r;
}

static int write_alloc(struct qcow2 *q, uint8_t *l2, uint64_t idx, uint64_t gc, uint64_t e,
		       uint64_t bm, const uint8_t *data, uint64_t in, uint64_t n)
{
	uint64_t from, to, nbm;
	bool copied, zeros;
	int64_t host = qcow2_alloc_clusters(q, 1);
	int r;

	if (host < 0)
		return (int)host;
	zeros = (uint64_t)host >= q->img->zero_from && old_view_zero(q, e);
	alloc_span(q, e, bm, in, n, &from, &to, &nbm);
	if (zeros)
		narrow_fresh(q, in, n, &from, &to);
	r = fill_new_cluster(q, gc, e, bm, (uint64_t)host, from, to, data, in, n, zeros, &copied);
	if (r < 0)
		return r;
	if (copied)
		qcow2_cache_depends_on_flush(q->l2c);
	r = q->lazy ? 0 : qcow2_cache_set_dependency(q->l2c, q->rbc);
	if (r < 0)
		return r;
	qcow2_l2_set(q, l2, idx, (uint64_t)host | QCOW2_OFLAG_COPIED, nbm);
	qcow2_cache_mark_dirty(q->l2c, l2);
	return qcow2_free_l2_entry(q, e);
}

static int write_in_cluster(struct qcow2 *q, uint64_t gc, const uint8_t *data, uint64_t in, uint64_t n)
{
	uint8_t *l2;
	uint64_t idx, e, bm;
	int r = qcow2_get_l2_for_write(q, gc, &l2, &idx);

	if (r < 0)
		return r;
	e = qcow2_l2_get(q, l2, idx);
	bm = qcow2_l2_bitmap(q, l2, idx);
	r = (e & QCOW2_OFLAG_COMPRESSED) ? 0 : check_data_offset(q, e, gc);
	if (r < 0) {
		qcow2_cache_put(q->l2c, l2);
		return r;
	}
	if (l2_entry_writable(q, e))
		r = q->ext_l2 ? write_sc_inplace(q, l2, idx, gc, e, bm, data, in, n)
			      : write_data(q, data, n, (e & QCOW2_OFFSET_MASK) + in);
	else
		r = write_alloc(q, l2, idx, gc, e, bm, data, in, n);
	qcow2_cache_put(q->l2c, l2);
	return r;
}

static int begin_write(struct qcow2 *q)
{
	if (q->corrupt)
		return img_seterr(q->img, CR_ECORRUPT, "Image is corrupt; cannot be written");
	return qcow2_set_dirty(q);
}

/* ---- whole-cluster runs: one allocation and one pwrite ---------------------------------------- */

static bool fresh_entry(uint64_t e, uint64_t bm)
{
	return !(e & QCOW2_OFFSET_MASK) && !(e & QCOW2_OFLAG_COMPRESSED) && !(bm & SC_ALL_ALLOC);
}

static bool inplace_entry(const struct qcow2 *q, uint64_t e, uint64_t bm)
{
	return l2_entry_writable(q, e) && (!q->ext_l2 || (bm & SC_ALL_ALLOC) == SC_ALL_ALLOC);
}

/* How many of the K entries from IDX are like the first: all fresh, or all
 * writable in place and contiguous on the host. */
static uint64_t run_length(const struct qcow2 *q, const uint8_t *l2, uint64_t idx, uint64_t k, bool *fresh)
{
	uint64_t e0 = qcow2_l2_get(q, l2, idx), m = 1;

	*fresh = fresh_entry(e0, qcow2_l2_bitmap(q, l2, idx));
	if (!*fresh && !inplace_entry(q, e0, qcow2_l2_bitmap(q, l2, idx)))
		return 0;
	for (; m < k; m++) {
		uint64_t e = qcow2_l2_get(q, l2, idx + m), bm = qcow2_l2_bitmap(q, l2, idx + m);
		if (*fresh ? !fresh_entry(e, bm)
			   : !inplace_entry(q, e, bm) ||
				     (e & QCOW2_OFFSET_MASK) != (e0 & QCOW2_OFFSET_MASK) + m * q->cluster_size)
			break;
	}
	return m;
}

static int link_run(struct qcow2 *q, uint8_t *l2, uint64_t idx, uint64_t m, uint64_t host)
{
	int r = q->lazy ? 0 : qcow2_cache_set_dependency(q->l2c, q->rbc);

	for (uint64_t i = 0; r == 0 && i < m; i++)
		qcow2_l2_set(q, l2, idx + i, (host + i * q->cluster_size) | QCOW2_OFLAG_COPIED,
			     q->ext_l2 ? SC_ALL_ALLOC : 0);
	qcow2_cache_mark_dirty(q->l2c, l2);
	return r;
}

/* Writes up to K whole clusters from guest cluster GC (one L2 table);
 * *done = clusters written, 0 when the first one needs the general path. */
static int write_run(struct qcow2 *q, uint64_t gc, const uint8_t *data, uint64_t k, uint64_t *done)
{
	uint8_t *l2;
	uint64_t idx, m;
	int64_t host = 0;
	bool fresh;
	int r = qcow2_get_l2_for_write(q, gc, &l2, &idx);

	*done = 0;
	if (r < 0)
		return r;
	m = run_length(q, l2, idx, k, &fresh);
	if (m && fresh)
		host = qcow2_alloc_clusters(q, m);
	else if (m)
		host = (int64_t)(qcow2_l2_get(q, l2, idx) & QCOW2_OFFSET_MASK);
	r = host < 0 ? (int)host : m ? write_data(q, data, m << q->cluster_bits, (uint64_t)host) : 0;
	if (r == 0 && m && fresh)
		r = link_run(q, l2, idx, m, (uint64_t)host);
	qcow2_cache_put(q->l2c, l2);
	*done = r == 0 ? m : 0;
	return r;
}

int qcow2_pwrite(struct img *img, const void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = img->q;
	const uint8_t *p = buf;
	int r = begin_write(q);

	while (r == 0 && len) {
		uint64_t gc = off >> q->cluster_bits, in = off & (q->cluster_size - 1);
		uint64_t n = q->cluster_size - in < len ? q->cluster_size - in : len, k, done = 0;
		k = in ? 0 : len >> q->cluster_bits;
		if (k > q->l2_entries - (gc & (q->l2_entries - 1)))
			k = q->l2_entries - (gc & (q->l2_entries - 1));
		if (k >= 2 && (r = write_run(q, gc, p, k, &done)) == 0 && done)
			n = done << q->cluster_bits;
		else if (r == 0)
			r = write_in_cluster(q, gc, p, in, n);
		p += n, off += n, len -= n;
	}
	return r;
}

/* ---- zero writes and discard ----------------------------------------------------------------- */

#define ZERO_CHUNK (1u << 20) /* bounded buffer for zeros written as data */

static int write_zero_bytes(struct qcow2 *q, uint64_t off, uint64_t len)
{
	size_t chunk = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
	uint8_t *z = qcow2_io_alloc(chunk, true);
	int r = z ? 0 : -ENOMEM;

	for (uint64_t done = 0; r == 0 && done < len; done += chunk) {
		if (chunk > len - done)
			chunk = (size_t)(len - done);
		r = qcow2_pwrite(q->img, z, chunk, off + done);
	}
	free(z);
	return r;
}

/* New entry for a whole cluster that must read as zeros (DISCARD: as
 * QEMU's guest discard).  *free_old says whether the host cluster goes. */
static void zero_entry(const struct qcow2 *q, uint64_t e, unsigned flags, bool discard, uint64_t *ne,
		       uint64_t *nbm, bool *free_old)
{
	bool keep = !discard && !(flags & IMG_ZERO_MAY_UNMAP) && (e & QCOW2_OFLAG_COPIED) &&
		    (e & QCOW2_OFFSET_MASK) && !(e & QCOW2_OFLAG_COMPRESSED);

	*free_old = !keep;
	if (q->ext_l2) {
		*ne = keep ? e : 0;
		*nbm = SC_ALL_ZERO;
		return;
	}
	*nbm = 0;
	if (q->version < 3) { /* no zero flag: the cluster goes, unallocated reads zeros */
		*ne = 0;
		*free_old = true;
		return;
	}
	*ne = keep ? (e & (QCOW2_OFFSET_MASK | QCOW2_OFLAG_COPIED)) | QCOW2_OFLAG_ZERO : QCOW2_OFLAG_ZERO;
}

static int zero_cluster(struct qcow2 *q, uint64_t gc, unsigned flags, bool discard)
{
	uint8_t *l2;
	uint64_t idx, e, bm, ne, nbm;
	bool free_old;
	int r = qcow2_get_l2_for_write(q, gc, &l2, &idx);

	if (r < 0)
		return r;
	e = qcow2_l2_get(q, l2, idx);
	bm = qcow2_l2_bitmap(q, l2, idx);
	zero_entry(q, e, flags, discard, &ne, &nbm, &free_old);
	if ((discard && !e && !bm && !q->img->backing) || (flags & QCOW2_ZERO_UNALLOCATE))
		ne = 0, nbm = 0; /* nothing to hide (or make-empty): unallocated */
	if (ne != e || nbm != bm) {
		qcow2_l2_set(q, l2, idx, ne, nbm);
		qcow2_cache_mark_dirty(q->l2c, l2);
	}
	qcow2_cache_put(q->l2c, l2);
	return free_old ? qcow2_free_l2_entry(q, e) : 0;
}

/* Extended L2: whole subclusters [off, off+len) of one cluster read as
 * zeros by their zero bits, as QEMU's zero_l2_subclusters; a compressed
 * cluster has no subclusters and gets zero data written instead. */
static int zero_subclusters(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t gc = off >> q->cluster_bits, in = off & (q->cluster_size - 1), idx, e, bm, s0, s1, mask;
	uint8_t *l2;
	int r = qcow2_get_l2_for_write(q, gc, &l2, &idx);

	if (r < 0)
		return r;
	e = qcow2_l2_get(q, l2, idx);
	bm = qcow2_l2_bitmap(q, l2, idx);
	if (e & QCOW2_OFLAG_COMPRESSED) {
		qcow2_cache_put(q->l2c, l2);
		return write_zero_bytes(q, off, len);
	}
	sc_range(q, in, len, &s0, &s1);
	mask = sc_mask(s0, s1);
	qcow2_l2_set(q, l2, idx, e, (bm & ~mask) | (mask << 32));
	qcow2_cache_mark_dirty(q->l2c, l2);
	qcow2_cache_put(q->l2c, l2);
	return 0;
}

/* Zeroes [off, off+len) inside one cluster (not all of it). */
static int zero_partial(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t a = qcow2_align_up(off, q->sc_size), b = (off + len) & ~(q->sc_size - 1);
	int r = 0;

	if (!q->ext_l2 || a >= b)
		return write_zero_bytes(q, off, len);
	if (a > off)
		r = write_zero_bytes(q, off, a - off);
	if (r == 0)
		r = zero_subclusters(q, a, b - a);
	if (r == 0 && b < off + len)
		r = write_zero_bytes(q, b, off + len - b);
	return r;
}

/* v2 keeps no zero flag: unallocated reads as zeros only without backing. */
static bool can_zero_by_metadata(const struct qcow2 *q)
{
	return q->version >= 3 || !q->img->backing;
}

/* Discard drops whole clusters only; the partial ones at the ends stay. */
static int discard_range(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t cs = q->cluster_size, head = qcow2_align_up(off, cs), tail = (off + len) & ~(cs - 1);
	int r = 0;

	for (uint64_t c = head; r == 0 && c < tail; c += cs)
		r = zero_cluster(q, c >> q->cluster_bits, 0, true);
	return r;
}

static int zero_range(struct qcow2 *q, uint64_t off, uint64_t len, unsigned flags)
{
	uint64_t cs = q->cluster_size, end = off + len, next;
	int r = 0;

	if (!can_zero_by_metadata(q))
		return write_zero_bytes(q, off, len);
	for (uint64_t pos = off; r == 0 && pos < end; pos = next) {
		next = (pos & ~(cs - 1)) + cs;
		if (next > end)
			next = end;
		if (next - pos < cs)
			r = zero_partial(q, pos, next - pos);
		else
			r = zero_cluster(q, pos >> q->cluster_bits, flags, false);
	}
	return r;
}

static int zero_or_discard(struct img *img, uint64_t off, uint64_t len, unsigned flags, bool discard)
{
	struct qcow2 *q = img->q;
	int r = begin_write(q);

	if (r < 0)
		return r;
	return discard ? discard_range(q, off, len) : zero_range(q, off, len, flags);
}

int qcow2_zero(struct img *img, uint64_t off, uint64_t len, unsigned flags)
{
	return zero_or_discard(img, off, len, flags, false);
}

int qcow2_discard(struct img *img, uint64_t off, uint64_t len)
{
	struct qcow2 *q = img->q;

	/* The last cluster of the disk may be partial: it counts as whole. */
	if (off + len == img->size)
		len = qcow2_align_up(off + len, q->cluster_size) - off;
	return zero_or_discard(img, off, len, 0, true);
}

int qcow2_make_empty(struct qcow2 *q)
{
	uint64_t n = qcow2_align_up(q->img->size, q->cluster_size) >> q->cluster_bits;
	int r = begin_write(q);

	for (uint64_t gc = 0; r == 0 && gc < n; gc++) {
		uint64_t l1i = gc >> q->l2_bits;
		if (l1i >= q->l1_size || !(q->l1[l1i] & QCOW2_OFFSET_MASK)) {
			gc = ((l1i + 1) << q->l2_bits) - 1;
			continue;
		}
		r = zero_cluster(q, gc, QCOW2_ZERO_UNALLOCATE, true);
	}
	return r == 0 ? qcow2_flush_all(q) : r;
}

/* ---- block status ------------------------------------------------------------------------------ */

static void entry_status(const struct qcow2 *q, uint64_t e, uint64_t bm, uint64_t in,
			 unsigned *flags, uint64_t *host)
{
	uint64_t off = e & QCOW2_OFFSET_MASK;

	*host = IMG_BS_NO_OFFSET;
	*flags = 0;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		*flags = IMG_BS_ALLOCATED | IMG_BS_DATA | IMG_BS_COMPRESSED;
	} else if (q->ext_l2) {
		uint64_t sc = in / q->sc_size;
		if (bm & (1ull << sc))
			*flags = IMG_BS_ALLOCATED | IMG_BS_DATA, *host = off + in;
		else if (bm & (1ull << (32 + sc)))
			*flags = IMG_BS_ALLOCATED | IMG_BS_ZERO;
	} else if ((e & QCOW2_OFLAG_ZERO) && q->version >= 3) {
		*flags = IMG_BS_ALLOCATED | IMG_BS_ZERO;
		if (off)
			*host = off + in;
	} else if (off) {
		*flags = IMG_BS_ALLOCATED | IMG_BS_DATA, *host = off + in;
	}
}

/* Granule: a subcluster with extended L2, else a cluster. */
static uint64_t granule(const struct qcow2 *q)
{
	return q->ext_l2 ? q->sc_size : q->cluster_size;
}

int qcow2_block_status(struct img *img, uint64_t off, uint64_t len, struct img_extent *ext)
{
	struct qcow2 *q = img->q;
	uint64_t pos = off, end = off + len, g = granule(q), e, bm, host;
	unsigned flags;
	int r;

	ext->start = off;
	ext->length = 0;
	while (pos < end) {
		uint64_t gc = pos >> q->cluster_bits, in = pos & (q->cluster_size - 1);
		uint64_t n = g - (pos & (g - 1)), l1i = gc >> q->l2_bits;
		if (l1i >= q->l1_size || !(q->l1[l1i] & QCOW2_OFFSET_MASK)) {
			e = bm = 0; /* whole L2 range unallocated */
			n = (((l1i + 1) << q->l2_bits) << q->cluster_bits) - pos;
		} else if ((r = lookup_entry(q, gc, &e, &bm)) < 0) {
			return r;
		}
		entry_status(q, e, bm, in, &flags, &host);
		if (n > end - pos)
			n = end - pos;
		if (pos == off) {
			ext->flags = flags, ext->offset = host;
		} else if (flags != ext->flags || (host != IMG_BS_NO_OFFSET) != (ext->offset != IMG_BS_NO_OFFSET) ||
			   (host != IMG_BS_NO_OFFSET && host != ext->offset + (pos - off))) {
			break;
		}
		pos += n;
	}
	ext->length = pos - off;
	return 0;
}

/* ---- compressed write --------------------------------------------------------------------------- */

static int link_compressed(struct qcow2 *q, uint64_t gc, const uint8_t *c, long clen)
{
	uint8_t *l2;
	uint64_t idx, e, nsec;
	int64_t host;
	int r = qcow2_get_l2_for_write(q, gc, &l2, &idx);

	if (r < 0)
		return r;
	e = qcow2_l2_get(q, l2, idx);
	if ((e & ~QCOW2_OFLAG_ZERO) || qcow2_l2_bitmap(q, l2, idx) & SC_ALL_ALLOC) {
		qcow2_cache_put(q->l2c, l2);
		return img_seterr(q->img, -EEXIST, "compressed write over an allocated cluster");
	}
	host = qcow2_alloc_bytes(q, (uint64_t)clen);
	r = host < 0 ? (int)host : write_data(q, c, (uint64_t)clen, (uint64_t)host);
	if (r == 0 && !q->lazy)
		r = qcow2_cache_set_dependency(q->l2c, q->rbc);
	if (r == 0) {
		nsec = (((uint64_t)host + (uint64_t)clen - 1) >> 9) - ((uint64_t)host >> 9);
		qcow2_l2_set(q, l2, idx, QCOW2_OFLAG_COMPRESSED | (nsec << q->csize_shift) | (uint64_t)host, 0);
		qcow2_cache_mark_dirty(q->l2c, l2);
	}
	qcow2_cache_put(q->l2c, l2);
	return r;
}

static int compressed_args(struct qcow2 *q, uint64_t off, size_t len)
{
	int r = begin_write(q);

	if (r < 0)
		return r;
	if ((off & (q->cluster_size - 1)) || off >= q->img->size ||
	    (len != q->cluster_size && off + len != q->img->size) || len > q->cluster_size)
		return img_seterr(q->img, CR_EINVAL_PARAM, "compressed writes are whole clusters");
	return 0;
}

int qcow2_write_compressed(struct qcow2 *q, uint64_t off, const void *buf, size_t len)
{
	long clen;
	int r = compressed_args(q, off, len);

	if (r < 0)
		return r;
	clen = qcow2_compress_cluster(qcow2_compression(q), (uint32_t)q->cluster_size, buf, len, q->cbuf);
	if (clen > 0)
		return link_compressed(q, off >> q->cluster_bits, q->cbuf, clen);
	return clen < 0 ? (int)clen : qcow2_pwrite(q->img, buf, len, off);
}

int qcow2_write_precompressed(struct qcow2 *q, uint64_t off, const void *comp, size_t clen)
{
	int r = compressed_args(q, off, off + q->cluster_size > q->img->size ? q->img->size - off : q->cluster_size);

	if (r == 0 && (clen == 0 || clen >= q->cluster_size))
		r = img_seterr(q->img, CR_EINVAL_PARAM, "compressed size %zu out of range", clen);
	return r < 0 ? r : link_compressed(q, off >> q->cluster_bits, comp, (long)clen);
}

/* ---- preallocation -------------------------------------------------------------------------------- */

/* No table yet: it is written once, already filled (after the refcounts
 * of its clusters), and only then linked into L1. */
static int prealloc_fresh_table(struct qcow2 *q, uint64_t gc, uint64_t n, uint64_t *last_end)
{
	uint32_t l1i = (uint32_t)(gc >> q->l2_bits);
	uint64_t idx = gc & (q->l2_entries - 1);
	int64_t tbl = qcow2_alloc_clusters(q, 1), host = tbl < 0 ? tbl : qcow2_alloc_clusters(q, n);
	uint8_t *l2;
	int r = host < 0 ? (int)host : qcow2_cache_get(q->l2c, (uint64_t)tbl, true, &l2);

	if (r < 0)
		return r;
	for (uint64_t i = 0; i < n; i++)
		qcow2_l2_set(q, l2, idx + i, ((uint64_t)host + i * q->cluster_size) | QCOW2_OFLAG_COPIED,
			     q->ext_l2 ? SC_ALL_ALLOC : 0);
	qcow2_cache_mark_dirty(q->l2c, l2);
	r = q->lazy ? 0 : qcow2_cache_set_dependency(q->l2c, q->rbc);
	if (r == 0)
		r = qcow2_cache_flush(q->l2c);
	if (r == 0) {
		q->l1[l1i] = (uint64_t)tbl | QCOW2_OFLAG_COPIED;
		r = qcow2_write_l1_entry(q, l1i);
	}
	qcow2_cache_put(q->l2c, l2);
	if ((uint64_t)host + n * q->cluster_size > *last_end)
		*last_end = (uint64_t)host + n * q->cluster_size;
	return r;
}

static int prealloc_table(struct qcow2 *q, uint64_t gc, uint64_t n, uint64_t *last_end)
{
	uint8_t *l2;
	uint64_t idx, want = 0, l1i = gc >> q->l2_bits;
	int64_t host;
	int r;

	if (l1i < q->l1_size && !q->l1[l1i])
		return prealloc_fresh_table(q, gc, n, last_end);
	r = qcow2_get_l2_for_write(q, gc, &l2, &idx);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < n; i++)
		want += !(qcow2_l2_get(q, l2, idx + i) & QCOW2_OFFSET_MASK);
	host = want ? qcow2_alloc_clusters(q, want) : 0;
	if (host < 0) {
		qcow2_cache_put(q->l2c, l2);
		return (int)host;
	}
	r = !want || q->lazy ? 0 : qcow2_cache_set_dependency(q->l2c, q->rbc);
	for (uint64_t i = 0; r == 0 && i < n && want; i++) {
		if (qcow2_l2_get(q, l2, idx + i) & QCOW2_OFFSET_MASK)
			continue;
		qcow2_l2_set(q, l2, idx + i, (uint64_t)host | QCOW2_OFLAG_COPIED,
			     q->ext_l2 ? SC_ALL_ALLOC : 0);
		host += (int64_t)q->cluster_size;
	}
	if (want) {
		qcow2_cache_mark_dirty(q->l2c, l2);
		if ((uint64_t)host > *last_end)
			*last_end = (uint64_t)host;
	}
	qcow2_cache_put(q->l2c, l2);
	return r;
}

static int fill_data(struct qcow2 *q, uint64_t from, uint64_t to, enum img_prealloc p)
{
	struct img_extent ext;
	uint64_t pos = from;
	int r = 0;

	while (r == 0 && pos < to) {
		r = qcow2_block_status(q->img, pos, to - pos, &ext);
		if (r == 0 && ext.offset != IMG_BS_NO_OFFSET && p == IMG_PREALLOC_FALLOC)
			r = q->img->io->falloc(q->img->io_ctx, q->img->fd, ext.offset, ext.length);
		if (r == 0 && ext.offset != IMG_BS_NO_OFFSET && p == IMG_PREALLOC_FULL) {
			uint8_t *z = qcow2_io_alloc(q->cluster_size, true);
			for (uint64_t o = 0; z && r == 0 && o < ext.length; o += q->cluster_size)
				r = img_file_write(q->img, z, ext.length - o < q->cluster_size ? ext.length - o : q->cluster_size, ext.offset + o);
			r = z ? r : -ENOMEM;
			free(z);
		}
		pos += ext.length;
	}
	return r;
}

int qcow2_preallocate(struct qcow2 *q, uint64_t from, uint64_t to, enum img_prealloc p)
{
	uint64_t gc = from >> q->cluster_bits, end = qcow2_align_up(to, q->cluster_size) >> q->cluster_bits;
	uint64_t last_end = 0, size;
	int r = 0;

	while (r == 0 && gc < end) {
		uint64_t n = q->l2_entries - (gc & (q->l2_entries - 1));
		if (n > end - gc)
			n = end - gc;
		r = prealloc_table(q, gc, n, &last_end);
		gc += n;
	}
	if (r == 0)
		r = qcow2_flush_all(q);
	if (r == 0 && (r = img_file_size(q->img, &size)) == 0 && last_end > size)
		r = q->img->io->truncate(q->img->io_ctx, q->img->fd, last_end);
	if (r == 0 && p != IMG_PREALLOC_METADATA)
		r = fill_data(q, from, to, p);
	return r;
}
