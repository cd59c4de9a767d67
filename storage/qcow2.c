/* qcow2 images: header parsing and validation, header extensions, open,
 * create, close, info, the dirty and corrupt bits, L1 growth and resize. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define DEFAULT_CLUSTER_SIZE 65536
#define MAX_L2_CACHE_BYTES (32u << 20) /* QEMU's Linux default cap: covers 256 GiB */
#define DEFAULT_RB_CACHE_BYTES (256u << 10)
#define MIN_CACHE_TABLES 4 /* a write pins at most two tables per cache */

/* ---- header parsing (pure) --------------------------------------------------------- */

struct hdr_limits {
	uint64_t cluster_size;
};

static int parse_fixed(struct qcow2 *q, const uint8_t *b, size_t len, char *err, size_t errlen)
{
	if (len < QCOW2_V2_HEADER_LEN || be32_get(b) != QCOW2_MAGIC)
		return img_fmterr(err, errlen, CR_EFORMAT, "Image is not in qcow2 format");
	q->version = be32_get(b + 4);
	if (q->version != 2 && q->version != 3)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "Unsupported qcow2 version %u", q->version);
	q->cluster_bits = be32_get(b + 20);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return img_fmterr(err, errlen, CR_EFORMAT, "Unsupported cluster size: 2^%u", q->cluster_bits);
	q->cluster_size = 1ull << q->cluster_bits;
	if (be32_get(b + 32) != 0)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "Encrypted images are not supported");
	q->l1_size = be32_get(b + 36);
	q->l1_offset = be64_get(b + 40);
	q->rt_offset = be64_get(b + 48);
	q->rt_clusters = be32_get(b + 56);
	q->nb_snapshots = be32_get(b + 60);
	q->snapshots_offset = be64_get(b + 64);
	q->refcount_order = 4;
	q->header_length = QCOW2_V2_HEADER_LEN;
	return 0;
}

static int parse_v3(struct qcow2 *q, const uint8_t *b, char *err, size_t errlen)
{
	q->incompat = be64_get(b + 72);
	q->compat = be64_get(b + 80);
	q->autoclear = be64_get(b + 88);
	q->refcount_order = be32_get(b + 96);
	q->header_length = be32_get(b + 100);
	if (q->header_length < QCOW2_V3_HEADER_MIN || q->header_length % 8 ||
	    q->header_length > q->cluster_size)
		return img_fmterr(err, errlen, CR_EFORMAT, "Invalid header length %u", q->header_length);
	if (q->refcount_order > QCOW2_MAX_REFCOUNT_ORDER)
		return img_fmterr(err, errlen, CR_EFORMAT, "Refcount width 2^%u exceeds 64 bits",
				  q->refcount_order);
	if (q->incompat & ~QCOW2_INCOMPAT_KNOWN)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED,
				  "Unsupported qcow2 feature(s): incompatible bits 0x%llx",
				  (unsigned long long)(q->incompat & ~QCOW2_INCOMPAT_KNOWN));
	if (q->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "External data files are not supported");
	q->compression_type = b[104];
	if (q->compression_type > 1 ||
	    !!q->compression_type != !!(q->incompat & QCOW2_INCOMPAT_COMPRESSION))
		return img_fmterr(err, errlen, CR_EFORMAT, "Invalid compression type %u",
				  q->compression_type);
	if (q->header_length > QCOW2_HEADER_LEN) {
		q->hdr_tail = malloc(q->header_length - QCOW2_HEADER_LEN);
		if (!q->hdr_tail)
			return -ENOMEM;
		memcpy(q->hdr_tail, b + QCOW2_HEADER_LEN, q->header_length - QCOW2_HEADER_LEN);
	}
	return 0;
}

static int keep_ext(struct qcow2 *q, uint32_t type, uint32_t len, const uint8_t *data)
{
	struct qcow2_ext *n = realloc(q->exts, (q->n_exts + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	q->exts = n;
	n[q->n_exts].type = type;
	n[q->n_exts].len = len;
	n[q->n_exts].data = malloc(len ? len : 1);
	if (!n[q->n_exts].data)
		return -ENOMEM;
	memcpy(n[q->n_exts].data, data, len);
	q->n_exts++;
	return 0;
}

/* Extensions run from header_length to the end marker, inside cluster 0. */
static int parse_exts(struct qcow2 *q, const uint8_t *b, size_t len, uint64_t end, char *err,
		      size_t errlen)
{
	uint64_t off = q->header_length;

	if (end > len)
		end = len;
	while (off + 8 <= end) {
		uint32_t type = be32_get(b + off), elen = be32_get(b + off + 4);
		if (type == QCOW2_EXT_END)
			return 0;
		off += 8;
		if (elen > end - off)
			return img_fmterr(err, errlen, CR_EFORMAT, "Header extension 0x%x too large", type);
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (elen > 31 || !(q->backing_format = strndup((const char *)b + off, elen)))
				return img_fmterr(err, errlen, CR_EFORMAT, "Invalid backing format extension");
		} else if (type != QCOW2_EXT_FEATURE_TABLE && keep_ext(q, type, elen, b + off) < 0) {
			return -ENOMEM;
		}
		off += qcow2_align_up(elen, 8);
	}
	return 0;
}

static int parse_backing_name(struct qcow2 *q, const uint8_t *b, size_t len, char *err, size_t errlen)
{
	uint64_t off = be64_get(b + 8);
	uint32_t n = be32_get(b + 16);

	if (!off)
		return 0;
	if (n > QCOW2_MAX_BACKING_NAME || off > len || n > len - off || n == 0)
		return img_fmterr(err, errlen, CR_EFORMAT, "Backing file name too long or outside cluster 0");
	if (memchr(b + off, 0, n))
		return img_fmterr(err, errlen, CR_EFORMAT, "Backing file name contains NUL");
	q->backing_name = strndup((const char *)b + off, n);
	return q->backing_name ? 0 : -ENOMEM;
}

void qcow2_derive(struct qcow2 *q)
{
	q->ext_l2 = q->incompat & QCOW2_INCOMPAT_EXTL2;
	q->l2_entry_size = q->ext_l2 ? 16 : 8;
	q->l2_bits = q->cluster_bits - (q->ext_l2 ? 4 : 3);
	q->l2_entries = 1ull << q->l2_bits;
	q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
	q->refcount_max = q->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << q->refcount_order)) - 1;
	q->sc_size = q->cluster_size / QCOW2_SUBCLUSTERS;
	q->csize_shift = 62 - (q->cluster_bits - 8);
	q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
	q->coffset_mask = (1ull << q->csize_shift) - 1;
	q->lazy = q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS;
	q->corrupt = q->incompat & QCOW2_INCOMPAT_CORRUPT;
}

static bool bad_table(const struct qcow2 *q, uint64_t off, uint64_t bytes)
{
	return (off & (q->cluster_size - 1)) || off > INT64_MAX - bytes;
}

static int check_tables(struct qcow2 *q, uint64_t size, char *err, size_t errlen)
{
	uint64_t per_l1 = q->l2_entries << q->cluster_bits;
	uint64_t need = size / per_l1 + !!(size % per_l1);

	if (q->ext_l2 && q->cluster_bits < QCOW2_MIN_EXTL2_CLUSTER_BITS)
		return img_fmterr(err, errlen, CR_EFORMAT, "Extended L2 needs clusters of 16 KiB or more");
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES || size > (INT64_MAX / 2))
		return img_fmterr(err, errlen, CR_EFORMAT, "Active L1 table too large");
	if (q->l1_size < need)
		return img_fmterr(err, errlen, CR_EFORMAT, "L1 table is too small");
	if (bad_table(q, q->l1_offset, (uint64_t)q->l1_size * 8))
		return img_fmterr(err, errlen, CR_EFORMAT, "Invalid L1 table offset");
	if ((uint64_t)q->rt_clusters << q->cluster_bits > QCOW2_MAX_RT_BYTES || !q->rt_clusters)
		return img_fmterr(err, errlen, CR_EFORMAT, "Reference count table too large");
	if (bad_table(q, q->rt_offset, (uint64_t)q->rt_clusters << q->cluster_bits) || !q->rt_offset)
		return img_fmterr(err, errlen, CR_EFORMAT, "Invalid reference count table offset");
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		return img_fmterr(err, errlen, CR_EFORMAT, "Too many snapshots");
	if (q->nb_snapshots && bad_table(q, q->snapshots_offset, 0))
		return img_fmterr(err, errlen, CR_EFORMAT, "Invalid snapshot table offset");
	return 0;
}

static bool outside(const struct qcow2 *q, uint64_t off, uint64_t bytes, uint64_t file_size)
{
	return bytes && (off < q->cluster_size || off > file_size || bytes > file_size - off);
}

/* Tables must lie inside the file and off the header: a pointer past the
 * end or at cluster 0 is damage, not something to read zeros from. */
static int check_bounds(struct qcow2 *q, char *err, size_t errlen)
{
	uint64_t size;
	int r = img_file_size(q->img, &size);

	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not get the image size");
	if (outside(q, q->l1_offset, (uint64_t)q->l1_size * 8, size))
		return img_fmterr(err, errlen, CR_EFORMAT,
				  "Active L1 table offset %#llx invalid: past the end of the file or over the header",
				  (unsigned long long)q->l1_offset);
	if (outside(q, q->rt_offset, (uint64_t)q->rt_clusters << q->cluster_bits, size))
		return img_fmterr(err, errlen, CR_EFORMAT,
				  "Reference count table offset %#llx invalid: past the end of the file or over the header",
				  (unsigned long long)q->rt_offset);
	if (q->nb_snapshots && outside(q, q->snapshots_offset, 40, size))
		return img_fmterr(err, errlen, CR_EFORMAT,
				  "Snapshot table offset %#llx invalid: past the end of the file or over the header",
				  (unsigned long long)q->snapshots_offset);
	return 0;
}

int qcow2_check_snapshot_bounds(struct qcow2 *q, char *err, size_t errlen)
{
	uint64_t size;
	int r = img_file_size(q->img, &size);

	if (r == 0 && q->nb_snapshots && outside(q, q->snapshots_offset, q->snapshots_size, size))
		return img_fmterr(err, errlen, CR_EFORMAT, "Snapshot table runs past the end of the file");
	for (uint32_t i = 0; r == 0 && i < q->nb_snapshots; i++)
		if (outside(q, q->snaps[i].l1_offset, (uint64_t)q->snaps[i].l1_size * 8, size))
			return img_fmterr(err, errlen, CR_EFORMAT,
					  "Snapshot %s: L1 table offset %#llx invalid: past the end of the file or over the header",
					  q->snaps[i].id, (unsigned long long)q->snaps[i].l1_offset);
	return r;
}

static int parse_header(struct img *img, struct qcow2 *q, const uint8_t *b, size_t len, char *err,
			size_t errlen)
{
	int r = parse_fixed(q, b, len, err, errlen);
	uint64_t boff;

	if (r == 0 && q->version == 3)
		r = parse_v3(q, b, err, errlen);
	if (r < 0)
		return r;
	qcow2_derive(q);
	img->size = be64_get(b + 24);
	r = check_tables(q, img->size, err, errlen);
	if (r < 0)
		return r;
	boff = be64_get(b + 8);
	r = parse_exts(q, b, len, boff ? boff : len, err, errlen);
	return r < 0 ? r : parse_backing_name(q, b, len, err, errlen);
}

/* ---- header writing ---------------------------------------------------------------------- */

static const struct { uint8_t type, bit; const char *name; } feature_names[] = {
	{ 0, 0, "dirty bit" }, { 0, 1, "corrupt bit" }, { 0, 2, "external data file" },
	{ 0, 3, "compression type" }, { 0, 4, "extended L2 entries" }, { 1, 0, "lazy refcounts" },
	{ 2, 0, "bitmaps" }, { 2, 1, "raw external data" },
};
#define ARRAY_LEN_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

static size_t put_ext(uint8_t *b, size_t off, uint32_t type, const void *data, uint32_t len)
{
	be32_put(b + off, type);
	be32_put(b + off + 4, len);
	memcpy(b + off + 8, data, len);
	return off + 8 + qcow2_align_up(len, 8);
}

static size_t put_feature_table(uint8_t *b, size_t off)
{
	uint8_t t[ARRAY_LEN_FEATURES * 48];

	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < ARRAY_LEN_FEATURES; i++) {
		t[i * 48] = feature_names[i].type;
		t[i * 48 + 1] = feature_names[i].bit;
		memcpy(t + i * 48 + 2, feature_names[i].name, strlen(feature_names[i].name));
	}
	return put_ext(b, off, QCOW2_EXT_FEATURE_TABLE, t, sizeof(t));
}

static void put_fixed(const struct qcow2 *q, uint8_t *b)
{
	be32_put(b, QCOW2_MAGIC);
	be32_put(b + 4, q->version);
	be32_put(b + 20, q->cluster_bits);
	be64_put(b + 24, q->img->size);
	be32_put(b + 36, q->l1_size);
	be64_put(b + 40, q->l1_offset);
	be64_put(b + 48, q->rt_offset);
	be32_put(b + 56, q->rt_clusters);
	be32_put(b + 60, q->nb_snapshots);
	be64_put(b + 64, q->snapshots_offset);
	if (q->version < 3)
		return;
	be64_put(b + 72, q->incompat);
	be64_put(b + 80, q->compat);
	be64_put(b + 88, q->autoclear);
	be32_put(b + 96, q->refcount_order);
	be32_put(b + 100, q->header_length);
	b[104] = q->compression_type;
	if (q->hdr_tail)
		memcpy(b + QCOW2_HEADER_LEN, q->hdr_tail, q->header_length - QCOW2_HEADER_LEN);
}

/* Serialises the whole header into B (one cluster); returns bytes used or
 * -EFBIG when it does not fit. */
static long build_header(const struct qcow2 *q, uint8_t *b)
{
	size_t off = q->version < 3 ? QCOW2_V2_HEADER_LEN : q->header_length;
	size_t need = off + (q->backing_format ? 40 : 0) + 8 +
		      (q->backing_name ? strlen(q->backing_name) : 0);
	bool features;

	for (size_t i = 0; i < q->n_exts; i++)
		need += 8 + qcow2_align_up(q->exts[i].len, 8);
	if (need > q->cluster_size)
		return -EFBIG;
	/* Like QEMU, the (optional) feature-name table only when it fits. */
	features = q->version >= 3 && need + 8 + ARRAY_LEN_FEATURES * 48 <= q->cluster_size;
	memset(b, 0, q->cluster_size);
	put_fixed(q, b);
	if (q->backing_format)
		off = put_ext(b, off, QCOW2_EXT_BACKING_FORMAT, q->backing_format,
			      (uint32_t)strlen(q->backing_format));
	if (features)
		off = put_feature_table(b, off);
	for (size_t i = 0; i < q->n_exts; i++)
		off = put_ext(b, off, q->exts[i].type, q->exts[i].data, q->exts[i].len);
	off += 8; /* end marker: zeros */
	if (q->backing_name) {
		size_t n = strlen(q->backing_name);
		be64_put(b + 8, off);
		be32_put(b + 16, (uint32_t)n);
		memcpy(b + off, q->backing_name, n);
		off += n;
	}
	return (long)off;
}

int qcow2_write_header(struct qcow2 *q)
{
	uint8_t *b = malloc(q->cluster_size);
	long n;
	int r;

	if (!b)
		return -ENOMEM;
	n = build_header(q, b);
	if (n < 0) {
		free(b);
		return img_seterr(q->img, (int)n, "header extensions do not fit in cluster 0");
	}
	r = img_file_write(q->img, b, (size_t)n, 0);
	free(b);
	return r;
}

/* Only the feature words change: one 8-byte write, then flush. */
int qcow2_update_incompat(struct qcow2 *q, uint64_t incompat)
{
	uint8_t b[8];
	int r;

	if (q->version < 3)
		return 0;
	be64_put(b, incompat);
	r = img_file_write(q->img, b, 8, 72);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0)
		q->incompat = incompat;
	return r;
}

int qcow2_set_dirty(struct qcow2 *q)
{
	int r;

	if (!q->lazy || q->dirty_set || q->version < 3)
		return 0;
	/* The refcounts written below may be stale from here on. */
	r = img_file_sync(q->img);
	if (r == 0)
		r = qcow2_update_incompat(q, q->incompat | QCOW2_INCOMPAT_DIRTY);
	if (r == 0)
		q->dirty_set = true;
	return r;
}

/* Multi-step refcount updates (snapshots) have states in between where
 * refcounts and COPIED flags disagree.  The dirty bit covers them: a crash
 * inside leaves an image that is rebuilt on its next read-write open. */
int qcow2_journal_begin(struct qcow2 *q)
{
	int r;

	if (q->version < 3 || (q->incompat & QCOW2_INCOMPAT_DIRTY))
		return 0;
	r = qcow2_flush_all(q);
	if (r == 0)
		r = qcow2_update_incompat(q, q->incompat | QCOW2_INCOMPAT_DIRTY);
	return r;
}

int qcow2_journal_end(struct qcow2 *q)
{
	int r;

	if (q->version < 3 || q->dirty_set || !(q->incompat & QCOW2_INCOMPAT_DIRTY))
		return 0;
	r = qcow2_flush_all(q);
	return r == 0 ? qcow2_update_incompat(q, q->incompat & ~QCOW2_INCOMPAT_DIRTY) : r;
}

int qcow2_signal_corrupt(struct qcow2 *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->img->errmsg, sizeof(q->img->errmsg), fmt, ap);
	va_end(ap);
	if (q->img->rw && !q->corrupt && !(q->img->flags & IMG_OPEN_CHECK))
		qcow2_update_incompat(q, q->incompat | QCOW2_INCOMPAT_CORRUPT);
	q->corrupt = true;
	return CR_ECORRUPT;
}

int qcow2_mark_corrupt(struct qcow2 *q, const char *reason)
{
	if (!q->img->rw)
		return -EBADF;
	qcow2_signal_corrupt(q, "Marking image as corrupt: %s", reason);
	return q->incompat & QCOW2_INCOMPAT_CORRUPT ? 0 : -EIO;
}

int qcow2_is_corrupt(const struct qcow2 *q)
{
	return q->corrupt;
}

int qcow2_write_l1_entry(struct qcow2 *q, uint32_t idx)
{
	uint8_t b[8];
	uint64_t off = q->l1_offset + (uint64_t)idx * 8;
	int r = qcow2_overlap_check(q, QCOW2_OL_ALL & ~QCOW2_OL_L1, off, 8);

	if (r < 0)
		return r;
	be64_put(b, q->l1[idx]);
	return img_file_write(q->img, b, 8, off);
}

int qcow2_flush_all(struct qcow2 *q)
{
	int r = qcow2_cache_flush(q->l2c);

	if (r == 0)
		r = qcow2_cache_flush(q->rbc);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0 && q->freed_pending) {
		/* The pointers to freed clusters are gone from disk: reuse is safe. */
		qcow2_process_punches(q);
		if (q->freed_min < q->free_hint)
			q->free_hint = q->freed_min;
		if (q->freed_min < q->run_hint)
			q->run_hint = q->freed_min;
		q->freed_pending = false;
	}
	return r;
}

/* ---- L1 growth ------------------------------------------------------------------------------ */

int qcow2_write_table(struct qcow2 *q, unsigned ignore, uint64_t off, const uint64_t *v, uint64_t n)
{
	uint8_t *b;
	int r;

	if (!n)
		return 0;
	b = malloc(n * 8);
	if (!b)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		be64_put(b + i * 8, v[i]);
	r = qcow2_overlap_check(q, QCOW2_OL_ALL & ~ignore, off, n * 8);
	if (r == 0)
		r = img_file_write(q->img, b, n * 8, off);
	free(b);
	return r;
}

static int set_l1_header(struct qcow2 *q, uint64_t off, uint32_t n)
{
	uint8_t b[12];

	be32_put(b, n);
	be64_put(b + 4, off);
	return img_file_write(q->img, b, 12, 36);
}

int qcow2_grow_l1(struct qcow2 *q, uint64_t min_size)
{
	uint64_t old_off = q->l1_offset, old_bytes = (uint64_t)q->l1_size * 8;
	uint64_t *nl1;
	int64_t off;
	int r;

	if (min_size <= q->l1_size)
		return 0;
	if (min_size * 8 > QCOW2_MAX_L1_BYTES)
		return img_seterr(q->img, -EFBIG, "L1 table would exceed %u bytes", QCOW2_MAX_L1_BYTES);
	nl1 = calloc(min_size, 8);
	if (!nl1)
		return -ENOMEM;
	if (q->l1_size)
		memcpy(nl1, q->l1, old_bytes);
	r = qcow2_flush_all(q);
	off = r < 0 ? r : qcow2_alloc_clusters(q, qcow2_align_up(min_size * 8, q->cluster_size) >> q->cluster_bits);
	if (off >= 0)
		r = qcow2_flush_all(q); /* refcounts of the new table first */
	if (off >= 0 && r == 0)
		r = qcow2_write_table(q, QCOW2_OL_L1, (uint64_t)off, nl1, min_size);
	if (off >= 0 && r == 0)
		r = img_file_sync(q->img);
	if (off >= 0 && r == 0)
		r = set_l1_header(q, (uint64_t)off, (uint32_t)min_size);
	if (off >= 0 && r == 0)
		r = img_file_sync(q->img);
	if (off < 0 || r < 0) {
		free(nl1);
		return off < 0 ? (int)off : r;
	}
	free(q->l1);
	q->l1 = nl1;
	q->l1_offset = (uint64_t)off;
	q->l1_size = (uint32_t)min_size;
	return old_bytes ? qcow2_free_clusters(q, old_off, qcow2_align_up(old_bytes, q->cluster_size)) : 0;
}

/* ---- open ------------------------------------------------------------------------------------ */

static int load_l1(struct qcow2 *q, char *err, size_t errlen)
{
	uint8_t *b;
	int r;

	q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
	b = malloc(q->l1_size ? (size_t)q->l1_size * 8 : 1);
	if (!q->l1 || !b) {
		free(b);
		return -ENOMEM;
	}
	r = q->l1_size ? img_file_read(q->img, b, (size_t)q->l1_size * 8, q->l1_offset) : 0;
	for (uint32_t i = 0; r == 0 && i < q->l1_size; i++)
		q->l1[i] = be64_get(b + (size_t)i * 8);
	free(b);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not read L1 table") : 0;
}

static size_t cache_tables(uint64_t bytes, uint64_t cluster_size, uint64_t want)
{
	uint64_t n = bytes ? bytes / cluster_size : want;

	return n < MIN_CACHE_TABLES ? MIN_CACHE_TABLES : (size_t)n;
}

static int make_caches(struct qcow2 *q)
{
	struct img *img = q->img;
	uint64_t l2_want = q->l1_size ? q->l1_size : 1;

	if (!img->l2_cache_bytes && (l2_want << q->cluster_bits) > MAX_L2_CACHE_BYTES)
		l2_want = MAX_L2_CACHE_BYTES >> q->cluster_bits;
	q->l2c = qcow2_cache_new(q, cache_tables(img->l2_cache_bytes, q->cluster_size, l2_want),
				 QCOW2_OL_L2);
	q->rbc = qcow2_cache_new(q, cache_tables(img->refcount_cache_bytes, q->cluster_size,
						 DEFAULT_RB_CACHE_BYTES >> q->cluster_bits),
				 QCOW2_OL_RB);
	q->cbuf = qcow2_io_alloc(q->cluster_size * 2 + QCOW2_COMPRESSED_SECTOR, false);
	return q->l2c && q->rbc && q->cbuf ? 0 : -ENOMEM;
}

static int read_cluster0(struct img *img, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	uint8_t head[24];
	uint32_t bits;
	int r = img_file_read(img, head, sizeof(head), 0);

	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not read qcow2 header");
	bits = be32_get(head + 20);
	if (be32_get(head) != QCOW2_MAGIC || bits < QCOW2_MIN_CLUSTER_BITS || bits > QCOW2_MAX_CLUSTER_BITS)
		return img_fmterr(err, errlen, CR_EFORMAT, "Image is not in qcow2 format or has an invalid cluster size");
	*len = (size_t)1 << bits;
	*out = malloc(*len);
	if (!*out)
		return -ENOMEM;
	r = img_file_read(img, *out, *len, 0);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not read qcow2 header") : 0;
}

static int open_checks(struct qcow2 *q, char *err, size_t errlen)
{
	struct img *img = q->img;
	int r;

	if (img->rw && q->corrupt && !(img->flags & IMG_OPEN_CHECK))
		return img_fmterr(err, errlen, CR_ECORRUPT,
				  "qcow2: Image is corrupt; cannot be opened read/write");
	if (!img->rw)
		return 0;
	if (!(img->flags & IMG_OPEN_CHECK) && (r = qcow2_validate_refcount_table(q, err, errlen)) < 0)
		return r;
	if ((q->incompat & QCOW2_INCOMPAT_DIRTY) && !(img->flags & IMG_OPEN_CHECK)) {
		r = qcow2_rebuild_after_dirty(q, err, errlen);
		if (r < 0)
			return r;
	}
	if (q->autoclear && q->version >= 3) {
		/* Unknown autoclear features (bitmaps) are no longer in sync once we write. */
		q->autoclear = 0;
		r = qcow2_write_header(q);
		if (r == 0)
			r = img_file_sync(img);
		if (r < 0)
			return img_fmterr(err, errlen, r, "Could not update header");
	}
	return 0;
}

static int qcow2_open(struct img *img, const struct img_open_opts *o, char *err, size_t errlen)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	uint8_t *b = NULL;
	size_t len = 0;
	int r;

	(void)o;
	if (!q)
		return -ENOMEM;
	img->q = q;
	q->img = img;
	r = read_cluster0(img, &b, &len, err, errlen);
	if (r == 0)
		r = parse_header(img, q, b, len, err, errlen);
	free(b);
	if (r == 0)
		r = check_bounds(q, err, errlen);
	if (r == 0)
		r = load_l1(q, err, errlen);
	if (r == 0)
		r = qcow2_load_refcount_table(q);
	if (r == 0)
		r = make_caches(q);
	if (r == 0)
		r = qcow2_read_snapshots(q, err, errlen);
	if (r == 0)
		r = qcow2_check_snapshot_bounds(q, err, errlen);
	if (r == 0 && q->backing_name)
		r = img_open_backing(img, q->backing_name, q->backing_format, err, errlen);
	if (r == 0)
		r = open_checks(q, err, errlen);
	if (r < 0) {
		if (err && errlen && !err[0])
			img_fmterr(err, errlen, r, "%s", img->errmsg[0] ? img->errmsg : err_str(r));
		qcow2_state_free(q);
		img->q = NULL;
	}
	return r;
}

void qcow2_state_free(struct qcow2 *q)
{
	if (!q)
		return;
	qcow2_cache_free(q->l2c);
	qcow2_cache_free(q->rbc);
	qcow2_free_snapshots(q->snaps, q->nb_snapshots);
	for (size_t i = 0; i < q->n_exts; i++)
		free(q->exts[i].data);
	free(q->exts);
	free(q->hdr_tail);
	free(q->backing_name);
	free(q->backing_format);
	free(q->l1);
	free(q->rt);
	free(q->cbuf);
	free(q->punch);
	free(q);
}

static int qcow2_close(struct img *img)
{
	struct qcow2 *q = img->q;
	int r = 0;

	if (img->rw) {
		r = q->corrupt ? 0 : qcow2_flush_all(q);
		if (r == 0 && q->dirty_set)
			r = qcow2_update_incompat(q, q->incompat & ~QCOW2_INCOMPAT_DIRTY);
	}
	qcow2_state_free(q);
	img->q = NULL;
	return r;
}

static int qcow2_flush(struct img *img)
{
	return img->q->corrupt ? CR_ECORRUPT : qcow2_flush_all(img->q);
}

static int qcow2_info(struct img *img, struct img_info *info)
{
	struct qcow2 *q = img->q;

	info->cluster_size = (uint32_t)q->cluster_size;
	info->dirty = !!(q->incompat & QCOW2_INCOMPAT_DIRTY);
	info->version = (int)q->version;
	info->lazy_refcounts = q->lazy;
	info->corrupt = q->corrupt;
	info->extended_l2 = q->ext_l2;
	info->refcount_bits = 1u << q->refcount_order;
	info->compression_type = q->compression_type ? IMG_COMPRESS_ZSTD : IMG_COMPRESS_ZLIB;
	info->nb_snapshots = q->nb_snapshots;
	if (q->backing_name) {
		snprintf(info->backing_file, sizeof(info->backing_file), "%s", q->backing_name);
		img_resolve_backing(img, q->backing_name, info->full_backing_file,
				    sizeof(info->full_backing_file));
	}
	if (q->backing_format)
		snprintf(info->backing_format, sizeof(info->backing_format), "%s", q->backing_format);
	return 0;
}

/* ---- resize -------------------------------------------------------------------------------- */

static int set_size_header(struct qcow2 *q, uint64_t size)
{
	uint8_t b[8];
	int r;

	be64_put(b, size);
	r = img_file_write(q->img, b, 8, 24);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0)
		q->img->size = size;
	return r;
}

static uint64_t l1_needed(const struct qcow2 *q, uint64_t size)
{
	uint64_t per = q->l2_entries << q->cluster_bits;
	return size / per + !!(size % per);
}

/* L2 tables wholly past the new end go, as QEMU's qcow2_shrink_l1_table:
 * their L1 entries are cleared on disk before the clusters are freed. */
static int drop_tail_l2(struct qcow2 *q, uint64_t size)
{
	uint64_t keep = l1_needed(q, size), *gone, n = 0;
	int r = 0;

	if (keep >= q->l1_size)
		return 0;
	gone = calloc(q->l1_size - keep, sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	for (uint64_t i = keep; r == 0 && i < q->l1_size; i++) {
		if (!(q->l1[i] & QCOW2_OFFSET_MASK))
			continue;
		gone[n++] = q->l1[i] & QCOW2_OFFSET_MASK;
		q->l1[i] = 0;
		r = qcow2_write_l1_entry(q, (uint32_t)i);
	}
	if (r == 0 && n)
		r = img_file_sync(q->img);
	for (uint64_t j = 0; r == 0 && j < n; j++) {
		qcow2_cache_discard(q->l2c, gone[j]);
		r = qcow2_free_clusters(q, gone[j], q->cluster_size);
	}
	free(gone);
	return r;
}

/* The host file ends after the last cluster in use (QEMU truncates it too). */
static int truncate_unused_tail(struct qcow2 *q)
{
	uint64_t size, k, rc = 0;
	int r = img_file_size(q->img, &size);

	k = r == 0 ? qcow2_align_up(size, q->cluster_size) >> q->cluster_bits : 0;
	while (r == 0 && k > 1 && (r = qcow2_get_refcount(q, k - 1, &rc)) == 0 && !rc)
		k--;
	if (r == 0 && (k << q->cluster_bits) < size)
		r = q->img->io->truncate(q->img->io_ctx, q->img->fd, k << q->cluster_bits);
	return r;
}

static int shrink(struct qcow2 *q, uint64_t size, char *err, size_t errlen)
{
	uint64_t start = qcow2_align_up(size, q->cluster_size);
	int r = 0;

	if (q->nb_snapshots)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED,
				  "Can't shrink an image with internal snapshots");
	if (start < q->img->size) {
		r = qcow2_discard(q->img, start, q->img->size - start);
		if (r == 0)
			r = qcow2_zero(q->img, start, q->img->size - start, IMG_ZERO_MAY_UNMAP);
		if (r < 0)
			return img_fmterr(err, errlen, r, "%s", q->img->errmsg);
	}
	if (r == 0)
		r = qcow2_flush_all(q);
	if (r == 0)
		r = drop_tail_l2(q, size);
	if (r == 0)
		r = set_size_header(q, size);
	if (r == 0)
		r = qcow2_flush_all(q);
	if (r == 0)
		r = truncate_unused_tail(q);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not shrink: %s", q->img->errmsg) : 0;
}

static int qcow2_resize(struct img *img, uint64_t size, unsigned flags, enum img_prealloc p,
			char *err, size_t errlen)
{
	struct qcow2 *q = img->q;
	uint64_t old = img->size;
	int r;

	(void)flags;
	if (q->corrupt)
		return img_fmterr(err, errlen, CR_ECORRUPT, "Image is corrupt");
	if (size < old)
		return shrink(q, size, err, errlen);
	if (size > (INT64_MAX / 2))
		return img_fmterr(err, errlen, -EFBIG, "Image size too large");
	r = qcow2_grow_l1(q, l1_needed(q, size));
	if (r == 0)
		r = set_size_header(q, size);
	if (r == 0 && p != IMG_PREALLOC_OFF)
		r = qcow2_preallocate(q, old, size, p);
	if (r == 0)
		r = qcow2_flush_all(q);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not resize: %s", img->errmsg) : 0;
}

/* ---- create ----------------------------------------------------------------------------------- */

static int check_create_opts(const struct img_create_opts *o, uint64_t cs, int version,
			     unsigned rbits, char *err, size_t errlen)
{
	if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "Cluster size must be a power of two between 512 and 2048k");
	if (version != 2 && version != 3)
		return img_fmterr(err, errlen, CR_EINVAL_PARAM, "Invalid compatibility level");
	if (!rbits || rbits > 64 || (rbits & (rbits - 1)))
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "Refcount width must be a power of two and may not exceed 64 bits");
	if (version == 2 && (rbits != 16 || o->lazy_refcounts || o->extended_l2 ||
			     o->compression_type != IMG_COMPRESS_ZLIB))
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "This option requires compatibility level 1.1 or above");
	if (o->extended_l2 && cs < (1u << QCOW2_MIN_EXTL2_CLUSTER_BITS))
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
	if (o->backing_format && strcmp(o->backing_format, "raw") && strcmp(o->backing_format, "qcow2"))
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "Unknown backing format '%s'",
				  o->backing_format);
	if (o->backing_file && strlen(o->backing_file) > QCOW2_MAX_BACKING_NAME)
		return img_fmterr(err, errlen, CR_EINVAL_PARAM, "Backing file name too long");
	return 0;
}

static void init_create_state(struct qcow2 *q, struct img *img, const struct img_create_opts *o,
			      uint64_t cs, int version, unsigned rbits)
{
	q->img = img;
	q->version = (uint32_t)version;
	q->cluster_bits = (uint32_t)__builtin_ctzll(cs);
	q->cluster_size = cs;
	q->refcount_order = (uint32_t)__builtin_ctz(rbits);
	q->header_length = version == 3 ? QCOW2_HEADER_LEN : QCOW2_V2_HEADER_LEN;
	q->rt_offset = cs;
	q->rt_clusters = 1;
	q->compat = o->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0;
	q->incompat = (o->extended_l2 ? QCOW2_INCOMPAT_EXTL2 : 0) |
		      (o->compression_type == IMG_COMPRESS_ZSTD ? QCOW2_INCOMPAT_COMPRESSION : 0);
	q->compression_type = o->compression_type == IMG_COMPRESS_ZSTD ? 1 : 0;
	q->backing_name = (char *)(uintptr_t)o->backing_file;
	q->backing_format = (char *)(uintptr_t)o->backing_format;
}

/* Writes header, refcount table (cluster 1) and one refcount block (cluster
 * 2) describing clusters 0-2; the L1 table is added by growing it. */
static int write_skeleton(struct img *img, struct qcow2 *q)
{
	uint8_t *b = calloc(1, q->cluster_size);
	int r;

	if (!b)
		return -ENOMEM;
	be64_put(b, 2 * q->cluster_size);
	r = img_file_write(img, b, q->cluster_size, q->cluster_size);
	memset(b, 0, q->cluster_size);
	for (unsigned i = 0; i < 3; i++) {
		unsigned bits = 1u << q->refcount_order;
		if (bits >= 8)
			b[(i + 1) * (bits / 8) - 1] = 1;
		else
			b[(i * bits) / 8] |= (uint8_t)(1u << ((i * bits) % 8));
	}
	if (r == 0)
		r = img_file_write(img, b, q->cluster_size, 2 * q->cluster_size);
	free(b);
	if (r == 0)
		r = qcow2_write_header(q);
	return r == 0 ? img_file_sync(img) : r;
}

static int create_finish(const char *path, const struct img_create_opts *o, uint64_t size,
			 char *err, size_t errlen)
{
	/* img_create's descriptor holds the image lock for us meanwhile. */
	struct img_open_opts oo = { .flags = IMG_OPEN_RDWR | IMG_OPEN_NO_BACKING | IMG_OPEN_SHARED,
				    .format = "qcow2",
				    .io = o->io, .io_ctx = o->io_ctx };
	struct img *img;
	int r = img_open(&img, path, &oo, err, errlen);

	if (r < 0)
		return r;
	r = qcow2_resize(img, size, 0, o->prealloc, err, errlen);
	if (r == 0)
		return img_close(img);
	img_close(img);
	return r;
}

static int qcow2_create(const char *path, int fd, const struct img_create_opts *o, uint64_t size,
			char *err, size_t errlen)
{
	struct img tmp = { .fd = fd, .rw = true, .io = o->io ? o->io : img_io_posix(),
			   .io_ctx = o->io_ctx };
	struct qcow2 q = { 0 };
	uint64_t cs = o->cluster_size ? o->cluster_size : DEFAULT_CLUSTER_SIZE;
	int version = o->compat ? o->compat : 3;
	unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
	int r = check_create_opts(o, cs, version, rbits, err, errlen);

	if (r < 0)
		return r;
	tmp.path = (char *)path;
	init_create_state(&q, &tmp, o, cs, version, rbits);
	r = write_skeleton(&tmp, &q);
	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not write '%s': %s", path, tmp.errmsg);
	return create_finish(path, o, size, err, errlen);
}

const struct img_driver img_qcow2_driver = {
	.name = "qcow2",
	.open = qcow2_open,
	.close = qcow2_close,
	.pread = qcow2_pread,
	.pwrite = qcow2_pwrite,
	.zero = qcow2_zero,
	.discard = qcow2_discard,
	.flush = qcow2_flush,
	.block_status = qcow2_block_status,
	.info = qcow2_info,
	.resize = qcow2_resize,
	.create = qcow2_create,
};
