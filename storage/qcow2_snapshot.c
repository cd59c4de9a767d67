/* qcow2 internal snapshots: the snapshot table (unknown extra data and
 * VM-state sizes kept verbatim), create, apply, delete and list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define EXTRA_KNOWN 24 /* vm_state_size_large, disk_size, icount: what QEMU 7.2 writes */

void qcow2_free_snapshots(struct qcow2_snapshot *s, uint32_t n)
{
	for (uint32_t i = 0; s && i < n; i++) {
		free(s[i].id);
		free(s[i].name);
		free(s[i].extra);
	}
	free(s);
}

/* ---- table parsing (bounded by QEMU's limits) -------------------------------------------- */

struct tbuf {
	uint8_t *b;
	uint64_t have, off, limit;
	uint64_t end; /* end of the last entry, before its padding (QEMU stops there) */
};

static int need(struct qcow2 *q, struct tbuf *t, uint64_t n)
{
	uint64_t want = t->have ? t->have : 65536;
	uint8_t *nb;

	if (n <= t->have)
		return 0;
	if (n > t->limit)
		return CR_EFORMAT;
	while (want < n)
		want *= 2;
	if (want > t->limit)
		want = t->limit;
	nb = realloc(t->b, want);
	if (!nb)
		return -ENOMEM;
	t->b = nb;
	memset(nb + t->have, 0, want - t->have);
	if (img_file_read(q->img, nb + t->have, want - t->have, q->snapshots_offset + t->have) < 0)
		return -EIO;
	t->have = want;
	return 0;
}

static void parse_extra(struct qcow2 *q, struct qcow2_snapshot *s, uint32_t vm32)
{
	s->vm_state_size = s->extra_size >= 8 ? be64_get(s->extra) : vm32;
	s->disk_size = s->extra_size >= 16 ? be64_get(s->extra + 8) : q->img->size;
	s->icount = s->extra_size >= 24 ? (int64_t)be64_get(s->extra + 16) : -1;
}

static int parse_one(struct qcow2 *q, struct tbuf *t, struct qcow2_snapshot *s, char *err, size_t errlen)
{
	const uint8_t *h;
	uint16_t idl, nl;
	uint32_t vm32;
	int r = need(q, t, t->off + 40);

	if (r < 0)
		return img_fmterr(err, errlen, r == CR_EFORMAT ? r : r, "Snapshot table is too large or unreadable");
	h = t->b + t->off;
	s->l1_offset = be64_get(h);
	s->l1_size = be32_get(h + 8);
	idl = be16_get(h + 12), nl = be16_get(h + 14);
	s->date_sec = be32_get(h + 16), s->date_nsec = be32_get(h + 20);
	s->vm_clock_nsec = be64_get(h + 24);
	vm32 = be32_get(h + 32);
	s->extra_size = be32_get(h + 36);
	if (s->extra_size > QCOW2_MAX_SNAPSHOT_EXTRA)
		return img_fmterr(err, errlen, CR_EFORMAT, "Too much extra metadata in snapshot table entry");
	if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES || (s->l1_offset & (q->cluster_size - 1)))
		return img_fmterr(err, errlen, CR_EFORMAT, "Snapshot L1 table offset or size invalid");
	r = need(q, t, t->off + 40 + s->extra_size + idl + nl);
	if (r < 0)
		return img_fmterr(err, errlen, r, "Snapshot table is too large or unreadable");
	h = t->b + t->off + 40;
	s->extra = malloc(s->extra_size ? s->extra_size : 1);
	s->id = strndup((const char *)h + s->extra_size, idl);
	s->name = strndup((const char *)h + s->extra_size + idl, nl);
	if (!s->extra || !s->id || !s->name)
		return -ENOMEM;
	memcpy(s->extra, h, s->extra_size);
	parse_extra(q, s, vm32);
	t->end = t->off + 40 + s->extra_size + idl + nl;
	t->off = qcow2_align_up(t->end, 8);
	return 0;
}

int qcow2_read_snapshots(struct qcow2 *q, char *err, size_t errlen)
{
	struct tbuf t = { .limit = QCOW2_MAX_SNAPSHOT_TABLE };
	int r = 0;

	if (!q->nb_snapshots)
		return 0;
	q->snaps = calloc(q->nb_snapshots, sizeof(*q->snaps));
	if (!q->snaps)
		return -ENOMEM;
	for (uint32_t i = 0; r == 0 && i < q->nb_snapshots; i++)
		r = parse_one(q, &t, &q->snaps[i], err, errlen);
	q->snapshots_size = t.end;
	free(t.b);
	return r;
}

/* ---- table writing ---------------------------------------------------------------------- */

static uint64_t entry_size(const struct qcow2_snapshot *s)
{
	uint32_t extra = s->extra_size > EXTRA_KNOWN ? s->extra_size : EXTRA_KNOWN;
	return qcow2_align_up(40 + extra + strlen(s->id) + strlen(s->name), 8);
}

static uint64_t put_entry(const struct qcow2_snapshot *s, uint8_t *b)
{
	uint32_t extra = s->extra_size > EXTRA_KNOWN ? s->extra_size : EXTRA_KNOWN;
	size_t idl = strlen(s->id), nl = strlen(s->name);

	be64_put(b, s->l1_offset);
	be32_put(b + 8, s->l1_size);
	be16_put(b + 12, (uint16_t)idl);
	be16_put(b + 14, (uint16_t)nl);
	be32_put(b + 16, s->date_sec);
	be32_put(b + 20, s->date_nsec);
	be64_put(b + 24, s->vm_clock_nsec);
	be32_put(b + 32, (uint32_t)s->vm_state_size);
	be32_put(b + 36, extra);
	if (s->extra_size > EXTRA_KNOWN)
		memcpy(b + 40 + EXTRA_KNOWN, s->extra + EXTRA_KNOWN, s->extra_size - EXTRA_KNOWN);
	be64_put(b + 40, s->vm_state_size);
	be64_put(b + 48, s->disk_size);
	be64_put(b + 56, (uint64_t)s->icount);
	memcpy(b + 40 + extra, s->id, idl);
	memcpy(b + 40 + extra + idl, s->name, nl);
	return entry_size(s);
}

static int set_snap_header(struct qcow2 *q, uint32_t n, uint64_t off)
{
	uint8_t b[12];
	int r;

	be32_put(b, n);
	be64_put(b + 4, off);
	r = img_file_write(q->img, b, 12, 60);
	return r == 0 ? img_file_sync(q->img) : r;
}

/* New table in new clusters, synced, then the header switches to it and
 * the old table is freed: a crash leaves the old or the new table. */
int qcow2_write_snapshots(struct qcow2 *q)
{
	uint64_t size = 0, off = 0, old_off = q->snapshots_offset, old_size = q->snapshots_size;
	uint8_t *b;
	int64_t host = 0;
	int r;

	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		size += entry_size(&q->snaps[i]);
	if (size > QCOW2_MAX_SNAPSHOT_TABLE)
		return img_seterr(q->img, -EFBIG, "snapshot table too large");
	b = calloc(1, size ? size : 1);
	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		off += put_entry(&q->snaps[i], b + off);
	if (size)
		host = qcow2_alloc_clusters(q, qcow2_align_up(size, q->cluster_size) >> q->cluster_bits);
	r = host < 0 ? (int)host : qcow2_flush_all(q);
	if (r == 0 && size)
		r = qcow2_overlap_check(q, QCOW2_OL_ALL & ~QCOW2_OL_SNAP_TABLE, (uint64_t)host, size);
	if (r == 0 && size)
		r = img_file_write(q->img, b, size, (uint64_t)host);
	free(b);
	if (r == 0)
		r = img_file_sync(q->img);
	if (r == 0)
		r = set_snap_header(q, q->nb_snapshots, (uint64_t)host);
	if (r < 0)
		return r;
	q->snapshots_offset = (uint64_t)host;
	q->snapshots_size = size;
	return old_size ? qcow2_free_clusters(q, old_off, qcow2_align_up(old_size, q->cluster_size)) : 0;
}

/* ---- operations ----------------------------------------------------------------------------- */

static int find_snapshot(struct qcow2 *q, const char *id_or_name)
{
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (!strcmp(q->snaps[i].id, id_or_name))
			return (int)i;
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (!strcmp(q->snaps[i].name, id_or_name))
			return (int)i;
	return -1;
}

static int writable(struct qcow2 *q, char *err, size_t errlen)
{
	if (!q->img->rw)
		return img_fmterr(err, errlen, -EBADF, "Image is opened read-only");
	if (q->corrupt)
		return img_fmterr(err, errlen, CR_ECORRUPT, "Image is corrupt");
	return qcow2_set_dirty(q);
}

static char *next_id(const struct qcow2 *q)
{
	unsigned long max = 0;
	char buf[24];

	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		unsigned long v = strtoul(q->snaps[i].id, NULL, 10);
		if (v > max)
			max = v;
	}
	snprintf(buf, sizeof(buf), "%lu", max + 1);
	return strdup(buf);
}

static int fill_new(struct qcow2 *q, struct qcow2_snapshot *s, const char *name)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(s, 0, sizeof(*s));
	s->id = next_id(q);
	s->name = strdup(name);
	s->extra = calloc(1, EXTRA_KNOWN);
	s->extra_size = EXTRA_KNOWN;
	s->date_sec = (uint32_t)ts.tv_sec;
	s->date_nsec = (uint32_t)ts.tv_nsec;
	s->disk_size = q->img->size;
	s->icount = -1;
	s->l1_size = q->l1_size;
	return s->id && s->name && s->extra ? 0 : -ENOMEM;
}

static int copy_l1(struct qcow2 *q, uint64_t *off)
{
	uint64_t bytes = (uint64_t)q->l1_size * 8;
	int64_t host = qcow2_alloc_clusters(q, bytes ? qcow2_align_up(bytes, q->cluster_size) >> q->cluster_bits : 1);

	*off = (uint64_t)host;
	return host < 0 ? (int)host : qcow2_write_table(q, 0, (uint64_t)host, q->l1, q->l1_size);
}

static int add_snapshot(struct qcow2 *q, struct qcow2_snapshot *s)
{
	struct qcow2_snapshot *n = realloc(q->snaps, (q->nb_snapshots + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	q->snaps = n;
	n[q->nb_snapshots++] = *s;
	return 0;
}

int qcow2_snapshot_create(struct qcow2 *q, const char *name, char *err, size_t errlen)
{
	struct qcow2_snapshot s;
	int r = writable(q, err, errlen);

	if (r < 0)
		return r;
	if (find_snapshot(q, name) >= 0)
		return img_fmterr(err, errlen, CR_EEXISTS, "Snapshot '%s' already exists", name);
	if (q->nb_snapshots >= QCOW2_MAX_SNAPSHOTS)
		return img_fmterr(err, errlen, -EFBIG, "Too many snapshots");
	if (q->refcount_max < 2)
		return img_fmterr(err, errlen, -ERANGE,
				  "Snapshots need refcount_bits of 2 or more (clusters are shared)");
	r = fill_new(q, &s, name);
	if (r == 0)
		r = qcow2_journal_begin(q);
	if (r == 0)
		r = copy_l1(q, &s.l1_offset);
	/* References first: a crash before the table write only leaks. */
	if (r == 0)
		r = qcow2_update_l1_refcounts(q, q->l1, q->l1_size, 1, true);
	if (r == 0)
		r = qcow2_flush_all(q);
	if (r == 0)
		r = add_snapshot(q, &s);
	if (r < 0) {
		free(s.id), free(s.name), free(s.extra);
		return img_fmterr(err, errlen, r, "Could not create snapshot: %s", q->img->errmsg);
	}
	r = qcow2_write_snapshots(q);
	if (r == 0)
		r = qcow2_journal_end(q);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not write snapshot table: %s", q->img->errmsg) : 0;
}

static int write_active_l1(struct qcow2 *q)
{
	int r = qcow2_write_table(q, QCOW2_OL_L1, q->l1_offset, q->l1, q->l1_size);

	return r == 0 ? img_file_sync(q->img) : r;
}

static int set_size(struct qcow2 *q, uint64_t size)
{
	uint8_t b[8];
	int r;

	if (size == q->img->size)
		return 0;
	be64_put(b, size);
	r = img_file_write(q->img, b, 8, 24);
	if (r == 0)
		q->img->size = size;
	return r;
}

/* Snapshot's tables gain a reference, the active L1 takes its contents,
 * the old active tables lose one; COPIED flags follow the new counts. */
static int goto_snapshot(struct qcow2 *q, struct qcow2_snapshot *s)
{
	uint64_t *sl1 = NULL, *old = NULL;
	uint32_t old_n = q->l1_size;
	int r = qcow2_flush_all(q);

	if (r == 0 && s->l1_size > q->l1_size)
		r = qcow2_grow_l1(q, s->l1_size);
	if (r == 0)
		r = qcow2_read_l1(q, s->l1_offset, s->l1_size, &sl1);
	if (r == 0)
		r = qcow2_update_l1_refcounts(q, sl1, s->l1_size, 1, false);
	if (r == 0)
		r = qcow2_flush_all(q);
	if (r == 0 && !(old = malloc((size_t)q->l1_size * 8 + 8)))
		r = -ENOMEM;
	old_n = q->l1_size;
	if (r == 0) {
		memcpy(old, q->l1, (size_t)q->l1_size * 8);
		memset(q->l1, 0, (size_t)q->l1_size * 8);
		memcpy(q->l1, sl1, (size_t)s->l1_size * 8);
		r = write_active_l1(q);
	}
	if (r == 0)
		r = qcow2_update_l1_refcounts(q, old, old_n, -1, false);
	if (r == 0)
		r = qcow2_update_l1_refcounts(q, q->l1, q->l1_size, 0, true);
	if (r == 0)
		r = set_size(q, s->disk_size);
	if (r == 0)
		r = qcow2_flush_all(q);
	free(sl1);
	free(old);
	return r;
}

/* Index of the snapshot to change, or a negative code. */
static int writable_snapshot(struct qcow2 *q, const char *id_or_name, char *err, size_t errlen)
{
	int i, r = writable(q, err, errlen);

	if (r < 0)
		return r;
	i = find_snapshot(q, id_or_name);
	return i < 0 ? img_fmterr(err, errlen, CR_ENOTFOUND, "Can't find snapshot '%s'", id_or_name) : i;
}

int qcow2_snapshot_apply(struct qcow2 *q, const char *id_or_name, char *err, size_t errlen)
{
	int i = writable_snapshot(q, id_or_name, err, errlen), r;

	if (i < 0)
		return i;
	r = qcow2_journal_begin(q);
	if (r == 0)
		r = goto_snapshot(q, &q->snaps[i]);
	if (r == 0)
		r = qcow2_journal_end(q);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not apply snapshot: %s", q->img->errmsg) : 0;
}

int qcow2_snapshot_delete(struct qcow2 *q, const char *id_or_name, char *err, size_t errlen)
{
	struct qcow2_snapshot s;
	uint64_t *sl1 = NULL;
	int i = writable_snapshot(q, id_or_name, err, errlen), r;

	if (i < 0)
		return i;
	s = q->snaps[i];
	memmove(&q->snaps[i], &q->snaps[i + 1], (q->nb_snapshots - (uint32_t)i - 1) * sizeof(s));
	q->nb_snapshots--;
	/* The table loses the entry first: a crash later only leaks. */
	r = qcow2_journal_begin(q);
	if (r == 0)
		r = qcow2_write_snapshots(q);
	if (r == 0)
		r = qcow2_read_l1(q, s.l1_offset, s.l1_size, &sl1);
	if (r == 0)
		r = qcow2_update_l1_refcounts(q, sl1, s.l1_size, -1, false);
	if (r == 0 && s.l1_size)
		r = qcow2_free_clusters(q, s.l1_offset, qcow2_align_up((uint64_t)s.l1_size * 8, q->cluster_size));
	if (r == 0)
		r = qcow2_update_l1_refcounts(q, q->l1, q->l1_size, 0, true);
	if (r == 0)
		r = qcow2_journal_end(q);
	free(sl1);
	free(s.id), free(s.name), free(s.extra);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not delete snapshot: %s", q->img->errmsg) : 0;
}

int qcow2_snapshot_list(struct qcow2 *q, struct qcow2_snapshot_info **out, size_t *n)
{
	struct qcow2_snapshot_info *v;

	*out = NULL;
	*n = 0;
	if (!q->nb_snapshots)
		return 0;
	v = calloc(q->nb_snapshots, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		const struct qcow2_snapshot *s = &q->snaps[i];
		v[i] = (struct qcow2_snapshot_info){ strdup(s->id), strdup(s->name), s->vm_state_size,
						     s->date_sec, s->date_nsec, s->vm_clock_nsec,
						     s->disk_size, s->icount, s->extra_size };
		if (!v[i].id || !v[i].name) {
			qcow2_snapshot_list_free(v, i + 1);
			return -ENOMEM;
		}
	}
	*out = v;
	*n = q->nb_snapshots;
	return 0;
}

void qcow2_snapshot_list_free(struct qcow2_snapshot_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].id);
		free(list[i].name);
	}
	free(list);
}

/* Index of the snapshot matching ID and NAME (each NULL: any), or -1. */
static int match_snapshot(const struct qcow2 *q, const char *id, const char *name)
{
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if ((!id || !strcmp(q->snaps[i].id, id)) && (!name || !strcmp(q->snaps[i].name, name)))
			return (int)i;
	return -1;
}

int qcow2_snapshot_load_tmp(struct qcow2 *q, const char *id, const char *name, char *err, size_t errlen)
{
	uint64_t *sl1 = NULL;
	int i, r;

	if (q->img->rw)
		return img_fmterr(err, errlen, -EBADF, "Snapshots can only be viewed on a read-only image");
	if (!id && !name)
		return img_fmterr(err, errlen, CR_EINVAL_PARAM, "No snapshot id or name given");
	i = match_snapshot(q, id, name);
	if (i < 0)
		return img_fmterr(err, errlen, CR_ENOTFOUND, "Can't find snapshot");
	r = qcow2_read_l1(q, q->snaps[i].l1_offset, q->snaps[i].l1_size, &sl1);
	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not read the snapshot's L1 table: %s", q->img->errmsg);
	free(q->l1);
	q->l1 = sl1;
	q->l1_size = q->snaps[i].l1_size;
	q->img->size = q->snaps[i].disk_size;
	return 0;
}
