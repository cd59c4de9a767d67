/* Template bases and linked clones on a dir pool: a base is a VM disk
 * renamed base-<vmid>-disk-N and made read-only; a linked clone is a new
 * qcow2 whose backing file names the base relative to its own directory
 * ("../100/base-100-disk-0.qcow2"), so nothing is copied. */
#include "storage/pool_snap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "storage/image.h"

/* VOLID parsed as an image volume of P, with its path. */
static int image_vol(struct pool *p, const char *volid, struct pool_volid *v, char *path,
		     size_t n, char *err, size_t errlen)
{
	int r = pool_volid_parse(volid, v, err, errlen);

	if (r == 0 && v->content != POOL_CONTENT_IMAGES) {
		snprintf(err, errlen, "volume '%s' is not a disk image", volid);
		r = -EINVAL;
	}
	return r < 0 ? r : pool_path(p, volid, path, n, err, errlen);
}

int pool_vol_make_base(struct pool *p, const char *volid, char *new_volid, size_t n, char *err,
		       size_t errlen)
{
	char path[PATH_MAX], npath[PATH_MAX];
	struct pool_volid v, nv;
	int r = image_vol(p, volid, &v, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	if (strncmp(v.name, "base-", 5) == 0)
		return snprintf(new_volid, n, "%s", volid) < (int)n ? 0 : -ERANGE;
	if ((size_t)snprintf(new_volid, n, "%s:%d/base-%s", v.storage, v.vmid, v.name + 3) >= n)
		return -ERANGE;
	if ((r = image_vol(p, new_volid, &nv, npath, sizeof(npath), err, errlen)) < 0)
		return r;
	/* link + unlink: never replaces an existing base. */
	if (link(path, npath) < 0 || unlink(path) < 0) {
		r = -errno;
		snprintf(err, errlen, "rename '%s' to '%s' failed: %s", path, npath, strerror(errno));
		return r;
	}
	chmod(npath, 0444);
	return 0;
}

/* Takes the next free vm-<vmid>-disk-N.qcow2 of P (no .raw of that N
 * either) with an O_EXCL create, so two allocations never pick one name;
 * the file is left empty for img_create.  VOLID and PATH get its names. */
static int reserve_qcow2(struct pool *p, int vmid, char *volid, size_t n, char *path,
			 size_t pn, char *err, size_t errlen)
{
	char other[POOL_VOLID_MAX], opath[PATH_MAX], dir[PATH_MAX];

	for (int i = 0; i < 1000; i++) {
		int fd, r;

		snprintf(volid, n, "%s:%d/vm-%d-disk-%d.qcow2", pool_id(p), vmid, vmid, i);
		snprintf(other, sizeof(other), "%s:%d/vm-%d-disk-%d.raw", pool_id(p), vmid, vmid, i);
		if ((r = pool_path(p, volid, path, pn, err, errlen)) < 0 ||
		    (r = pool_path(p, other, opath, sizeof(opath), err, errlen)) < 0)
			return r;
		snprintf(dir, sizeof(dir), "%s", path);
		*strrchr(dir, '/') = '\0';
		if (i == 0 && (r = util_mkdir_p(dir, 0700)) < 0)
			return r;
		if (access(opath, F_OK) == 0)
			continue;
		if ((fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0)
			return close(fd) < 0 ? -errno : 0;
		if (errno != EEXIST)
			return -errno;
	}
	snprintf(err, errlen, "no free disk name for VM %d", vmid);
	return -ENOSPC;
}

int pool_vol_link_clone(struct pool *p, const char *base_volid, int vmid, char *new_volid,
			size_t n, char *err, size_t errlen)
{
	struct img_create_opts o = {.format = IMG_FMT_QCOW2, .no_backing_open = 1};
	char path[PATH_MAX], npath[PATH_MAX], backing[POOL_NAME_MAX + 32];
	struct pool_volid v;
	int r = image_vol(p, base_volid, &v, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	if (strncmp(v.name, "base-", 5) != 0) {
		snprintf(err, errlen, "volume '%s' is not a template base", base_volid);
		return -EINVAL;
	}
	if ((r = pool_image_size(path, &o.size, err, errlen)) < 0 ||
	    (r = reserve_qcow2(p, vmid, new_volid, n, npath, sizeof(npath), err, errlen)) < 0)
		return r;
	snprintf(backing, sizeof(backing), "../%d/%s", v.vmid, v.name);
	o.backing_file = backing;
	o.backing_format = v.format;
	if ((r = img_create(npath, &o, err, errlen)) < 0)
		unlink(npath);
	return r;
}

/* The resolved backing file of the image at PATH ("" for none). */
static int backing_of(const char *path, char *real, size_t n, char *stored, size_t sn)
{
	struct img_open_opts o = {.flags = IMG_OPEN_SHARED | IMG_OPEN_NO_BACKING};
	struct img_info *info = calloc(1, sizeof(*info));
	struct img *img;
	char buf[PATH_MAX];
	int r = info ? img_open(&img, path, &o, NULL, 0) : -ENOMEM;

	real[0] = '\0';
	if (r < 0)
		goto out;
	if ((r = img_get_info(img, info)) == 0 && info->backing_file[0]) {
		util_strlcpy(stored, info->backing_file, sn);
		if (realpath(info->full_backing_file, buf))
			snprintf(real, n, "%s", buf);
	}
	img_close(img);
out:
	free(info);
	return r;
}

struct children {
	struct pool *p;
	char base[PATH_MAX]; /* resolved path of the base */
	pool_volume_fn fn;
	void *ctx;
};

static int child_one(const struct pool_volume *v, void *opaque)
{
	struct children *c = opaque;
	char path[PATH_MAX], real[PATH_MAX], stored[POOL_NAME_MAX + 32], err[64];

	if (strcmp(v->format, "qcow2") != 0 ||
	    pool_path(c->p, v->volid, path, sizeof(path), err, sizeof(err)) < 0 ||
	    backing_of(path, real, sizeof(real), stored, sizeof(stored)) < 0)
		return 0;
	return strcmp(real, c->base) == 0 ? c->fn(v, c->ctx) : 0;
}

int pool_vol_children(struct pool *p, const char *volid, pool_volume_fn fn, void *ctx)
{
	struct children *c = calloc(1, sizeof(*c));
	char path[PATH_MAX], err[64];
	struct pool_volid v;
	int r = c ? image_vol(p, volid, &v, path, sizeof(path), err, sizeof(err)) : -ENOMEM;

	if (r == 0) {
		c->p = p;
		c->fn = fn;
		c->ctx = ctx;
		r = realpath(path, c->base) ? pool_list(p, POOL_CONTENT_IMAGES, 0, child_one, c)
					    : -errno;
	}
	free(c);
	return r;
}

int pool_vol_base(struct pool *p, const char *volid, char *base_volid, size_t n, char *err,
		  size_t errlen)
{
	char path[PATH_MAX], real[PATH_MAX], stored[POOL_NAME_MAX + 32], bpath[PATH_MAX],
	    breal[PATH_MAX], name[POOL_NAME_MAX];
	struct pool_volid v;
	int bvmid, r = image_vol(p, volid, &v, path, sizeof(path), err, errlen);

	base_volid[0] = '\0';
	if (r < 0 || (r = backing_of(path, real, sizeof(real), stored, sizeof(stored))) < 0)
		return r;
	if (!real[0] || sscanf(stored, "../%d/%191s", &bvmid, name) != 2)
		return 0;
	if ((size_t)snprintf(base_volid, n, "%s:%d/%s", v.storage, bvmid, name) >= n ||
	    image_vol(p, base_volid, &v, bpath, sizeof(bpath), err, errlen) < 0 ||
	    !realpath(bpath, breal) || strcmp(breal, real) != 0)
		base_volid[0] = '\0';
	return 0;
}
