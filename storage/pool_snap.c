/* Volume snapshots and growth on a pool: internal qcow2 snapshots taken,
 * rolled back and deleted through the native engine while no QEMU holds
 * the image. */
#include "storage/pool_snap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/image.h"
#include "storage/qcow2.h"

int pool_vol_can_snapshot(const char *volid)
{
	struct pool_volid v;

	return pool_volid_parse(volid, &v, NULL, 0) == 0 && strcmp(v.format, "qcow2") == 0;
}

/* Opens VOLID of P without its backing chain (snapshots and growth touch
 * the top image only; a linked clone's base lives in another directory). */
static int open_vol(struct pool *p, const char *volid, unsigned flags, struct img **img,
		    char *err, size_t errlen)
{
	struct img_open_opts o = {.flags = flags | IMG_OPEN_NO_BACKING};
	char path[PATH_MAX];
	int r = pool_path(p, volid, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	return img_open(img, path, &o, err, errlen);
}

/* The qcow2 view of IMG, or CR_EUNSUPPORTED naming VOLID. */
static struct qcow2 *need_qcow2(struct img *img, const char *volid, int *r, char *err,
				size_t errlen)
{
	struct qcow2 *q = img_qcow2(img);

	if (!q) {
		snprintf(err, errlen, "volume '%s' is not qcow2: no internal snapshots", volid);
		*r = CR_EUNSUPPORTED;
	}
	return q;
}

static int find(struct qcow2 *q, const char *name)
{
	struct qcow2_snapshot_info *l;
	size_t n;
	int r = qcow2_snapshot_list(q, &l, &n), found = 0;

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		found |= strcmp(l[i].name, name) == 0;
	qcow2_snapshot_list_free(l, n);
	return found;
}

int pool_vol_snapshot_has(struct pool *p, const char *volid, const char *name, char *err,
			  size_t errlen)
{
	struct img *img;
	struct qcow2 *q;
	int r = open_vol(p, volid, IMG_OPEN_SHARED, &img, err, errlen);

	if (r < 0)
		return r;
	if ((q = need_qcow2(img, volid, &r, err, errlen)))
		r = find(q, name);
	img_close(img);
	return r;
}

/* The engine call for OP, after checking NAME's presence (the engine looks
 * names up by id first; a Proxmox name never is an id, but a precise
 * message is worth the lookup). */
static int snap_op(struct qcow2 *q, enum pool_snap_op op, const char *name, char *err,
		   size_t errlen)
{
	int have = find(q, name);

	if (have < 0)
		return have;
	if (op == POOL_SNAP_CREATE && have) {
		snprintf(err, errlen, "snapshot '%s' already exists", name);
		return CR_EEXISTS;
	}
	if (op != POOL_SNAP_CREATE && !have) {
		snprintf(err, errlen, "snapshot '%s' does not exist", name);
		return CR_ENOTFOUND;
	}
	if (op == POOL_SNAP_CREATE)
		return qcow2_snapshot_create(q, name, err, errlen);
	if (op == POOL_SNAP_ROLLBACK)
		return qcow2_snapshot_apply(q, name, err, errlen);
	return qcow2_snapshot_delete(q, name, err, errlen);
}

int pool_vol_snapshot(struct pool *p, const char *volid, enum pool_snap_op op, const char *name,
		      char *err, size_t errlen)
{
	struct img *img;
	struct qcow2 *q;
	int r, rc;

	if (!pool_vol_can_snapshot(volid)) {
		snprintf(err, errlen, "volume '%s' is not qcow2: no internal snapshots", volid);
		return CR_EUNSUPPORTED;
	}
	if ((r = open_vol(p, volid, IMG_OPEN_RDWR, &img, err, errlen)) < 0)
		return r;
	if ((q = need_qcow2(img, volid, &r, err, errlen)))
		r = snap_op(q, op, name, err, errlen);
	rc = img_close(img);
	if (r == 0 && rc < 0) {
		snprintf(err, errlen, "cannot flush '%s': %s", volid, err_str(rc));
		r = rc;
	}
	return r;
}

int pool_vol_grow(struct pool *p, const char *volid, uint64_t size, uint64_t *old, char *err,
		  size_t errlen)
{
	struct img *img;
	uint64_t cur;
	int r = open_vol(p, volid, IMG_OPEN_RDWR, &img, err, errlen), rc;

	if (r < 0)
		return r;
	cur = img_virtual_size(img);
	if (old)
		*old = cur;
	if (size < cur) {
		snprintf(err, errlen, "shrinking disks is not supported");
		r = -EINVAL;
	} else if (size > cur) {
		r = img_resize(img, size, 0, IMG_PREALLOC_OFF, err, errlen);
	}
	rc = img_close(img);
	if (r == 0 && rc < 0) {
		snprintf(err, errlen, "cannot flush '%s': %s", volid, err_str(rc));
		r = rc;
	}
	return r;
}
