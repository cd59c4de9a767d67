/* Reading a qcow2 volume as it was at an internal snapshot (the snapshot's
 * L1 table swapped into a read-only handle, as QEMU's
 * bdrv_snapshot_load_tmp does) and copying it into a new volume: a full
 * clone from a snapshot, also while the VM runs. */
#include "storage/pool_snap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define COPY_CHUNK (1u << 20)

/* Makes the read-only IMG read as snapshot NAME. */
static int load_tmp(struct img *img, const char *name, char *err, size_t errlen)
{
	struct qcow2 *q = img_qcow2(img);
	uint64_t *l1 = NULL;
	uint32_t i;

	for (i = 0; q && i < q->nb_snapshots; i++)
		if (strcmp(q->snaps[i].name, name) == 0)
			break;
	if (!q || i == q->nb_snapshots) {
		snprintf(err, errlen, "snapshot '%s' does not exist", name);
		return CR_ENOTFOUND;
	}
	if (qcow2_read_l1(q, q->snaps[i].l1_offset, q->snaps[i].l1_size, &l1) < 0) {
		snprintf(err, errlen, "cannot read the L1 table of snapshot '%s'", name);
		return -EIO;
	}
	free(q->l1);
	q->l1 = l1;
	q->l1_size = q->snaps[i].l1_size;
	img->size = q->snaps[i].disk_size;
	return 0;
}

static int open_at(struct pool *p, const char *volid, const char *name, struct img **img,
		   char *err, size_t errlen)
{
	struct img_open_opts o = {.flags = IMG_OPEN_SHARED, .format = "qcow2"};
	char path[PATH_MAX], root[PATH_MAX];
	const char *dirs[2] = {root, NULL};
	int r = pool_vol_path(p, volid, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	if (!realpath(pool_root(p), root)) {
		snprintf(err, errlen, "storage '%s': %s", pool_id(p), strerror(errno));
		return -errno;
	}
	o.allowed_dirs = dirs;
	if ((r = img_open(img, path, &o, err, errlen)) < 0)
		return r;
	if ((r = load_tmp(*img, name, err, errlen)) < 0)
		img_close(*img);
	return r;
}

/* 1 when the LEN bytes at B are all zero. */
static int all_zero(const unsigned char *b, size_t len)
{
	return len == 0 || (b[0] == 0 && memcmp(b, b + 1, len - 1) == 0);
}

/* Copies every range of S that reads as data into the zero-reading D. */
static int copy_data(struct img *s, struct img *d, char *err, size_t errlen)
{
	uint64_t size = img_virtual_size(s), off = 0;
	unsigned char *buf = malloc(COPY_CHUNK);
	int r = buf ? 0 : -ENOMEM;

	while (r == 0 && off < size) {
		struct img_extent e;
		size_t len = size - off < COPY_CHUNK ? (size_t)(size - off) : COPY_CHUNK;

		if ((r = img_block_status(s, off, len, IMG_BS_FOLLOW_BACKING, &e)) < 0)
			break;
		len = e.length < len ? (size_t)e.length : len;
		if (!(e.flags & IMG_BS_ZERO) && (e.flags & IMG_BS_PRESENT) &&
		    (r = img_pread(s, buf, len, off)) == 0 && !all_zero(buf, len))
			r = img_pwrite(d, buf, len, off);
		off += len;
	}
	if (r < 0)
		snprintf(err, errlen, "copy failed at offset %llu: %s", (unsigned long long)off,
			 img_last_error(s)[0] ? img_last_error(s) : img_last_error(d));
	free(buf);
	return r;
}

int pool_vol_copy_snapshot(struct pool *p, const char *volid, const char *snapname,
			   struct pool *dst, const struct pool_copy_opts *o, char *new_volid,
			   size_t n, char *err, size_t errlen)
{
	struct img_open_opts dopt = {.flags = IMG_OPEN_RDWR};
	struct img *s, *d = NULL;
	char path[PATH_MAX], e2[128];
	int r;

	new_volid[0] = '\0';
	r = pool_vol_can_snapshot(volid) ? open_at(p, volid, snapname, &s, err, errlen)
					 : CR_EUNSUPPORTED;
	if (r == CR_EUNSUPPORTED)
		snprintf(err, errlen, "volume '%s' is not qcow2: no internal snapshots", volid);
	if (r < 0)
		return r;
	r = pool_alloc(dst, o->vmid, o->format, (img_virtual_size(s) + 511) & ~(uint64_t)511,
		       new_volid, n, err, errlen);
	if (r == 0 && (r = pool_vol_path(dst, new_volid, path, sizeof(path), err, errlen)) == 0 &&
	    (r = img_open(&d, path, &dopt, err, errlen)) == 0)
		r = copy_data(s, d, err, errlen);
	if (d && img_close(d) < 0 && r == 0) {
		snprintf(err, errlen, "cannot flush %s", path);
		r = -EIO;
	}
	img_close(s);
	if (r < 0 && new_volid[0])
		pool_vol_free(dst, new_volid, e2, sizeof(e2));
	return r;
}
