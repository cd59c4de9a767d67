/* The "dir" pool type: a directory with images/<vmid>/, iso/ and import/.
 * Every path handed out is checked with realpath() to stay under the root,
 * so a symlink planted in the pool cannot lead outside it. */
#include "storage/pool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "storage/image.h"

/* Disks one VM may have in one pool: vm-<vmid>-disk-0 .. -disk-(N-1). */
#define DIR_MAX_DISKS 1000

struct dir_pool {
	char root[PATH_MAX]; /* realpath of the root */
};

static const char *root_of(const struct pool *p)
{
	return ((const struct dir_pool *)p->priv)->root;
}

/* The directory of a content relative to the root ("images/100", "iso"). */
static void content_dir(enum pool_content c, int vmid, char *out, size_t n)
{
	if (c == POOL_CONTENT_IMAGES)
		snprintf(out, n, "images/%d", vmid);
	else
		snprintf(out, n, "%s", pool_content_name(c));
}

/* 1 if the resolved REAL lies inside ROOT. */
static int inside(const char *root, const char *real)
{
	size_t len = strlen(root);

	return strncmp(real, root, len) == 0 && (real[len] == '/' || real[len] == '\0');
}

/* Resolves PATH (or, when it does not exist, its directory) and checks it. */
static int confine(const char *root, const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX], *slash;

	if (realpath(path, real)) {
		if (inside(root, real))
			return 0;
	} else if (errno == ENOENT) {
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (!realpath(dir, real) ? errno == ENOENT : inside(root, real))
			return 0;
	} else {
		snprintf(err, errlen, "cannot resolve '%s': %s", path, strerror(errno));
		return -errno;
	}
	snprintf(err, errlen, "volume path '%s' leads outside the storage", path);
	return -EACCES;
}

static int dir_path(struct pool *p, const struct pool_volid *v, char *out, size_t n, char *err,
		    size_t errlen)
{
	char sub[64];

	content_dir(v->content, v->vmid, sub, sizeof(sub));
	if ((size_t)snprintf(out, n, "%s/%s/%s", root_of(p), sub, v->name) >= n) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	return confine(root_of(p), out, err, errlen);
}

/* Reserves the next free vm-<vmid>-disk-<n>.<fmt> in DIR with O_EXCL, so two
 * allocations never pick one name. */
static int reserve_name(const char *dir, int vmid, const char *fmt, char *name, size_t n)
{
	char path[PATH_MAX + 64 + POOL_NAME_MAX], other[PATH_MAX + 64 + POOL_NAME_MAX];

	for (int i = 0; i < DIR_MAX_DISKS; i++) {
		int fd;

		snprintf(name, n, "vm-%d-disk-%d.%s", vmid, i, fmt);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		snprintf(other, sizeof(other), "%s/vm-%d-disk-%d.%s", dir, vmid, i,
			 strcmp(fmt, "raw") == 0 ? "qcow2" : "raw");
		if (access(other, F_OK) == 0)
			continue;
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -ENOSPC;
}

static int dir_alloc(struct pool *p, int vmid, const char *format, uint64_t size, char *volid,
		     size_t n, char *err, size_t errlen)
{
	struct img_create_opts o = {.size = size};
	char dir[PATH_MAX + 32], path[PATH_MAX + 64 + POOL_NAME_MAX], name[POOL_NAME_MAX];
	int r;

	o.format = strcmp(format, "raw") == 0 ? IMG_FMT_RAW : IMG_FMT_QCOW2;
	snprintf(dir, sizeof(dir), "%s/images/%d", root_of(p), vmid);
	if ((r = util_mkdir_p(dir, 0700)) < 0 || (r = confine(root_of(p), dir, err, errlen)) < 0 ||
	    (r = reserve_name(dir, vmid, format, name, sizeof(name))) < 0) {
		if (r != -EACCES)
			snprintf(err, errlen, "cannot allocate a disk in %s: %s", dir, err_str(r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = img_create(path, &o, err, errlen)) < 0) {
		unlink(path);
		return r;
	}
	snprintf(volid, n, "%s:%d/%s", p->id, vmid, name);
	return 0;
}

static int dir_vol_free(struct pool *p, const struct pool_volid *v, char *err, size_t errlen)
{
	char path[PATH_MAX + POOL_NAME_MAX], *slash;
	int r = dir_path(p, v, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	if (unlink(path) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot remove '%s': %s", path, strerror(errno));
		return r;
	}
	slash = strrchr(path, '/');
	*slash = '\0';
	if (v->content == POOL_CONTENT_IMAGES)
		rmdir(path); /* only succeeds once the VM has no disk left */
	return 0;
}

static int dir_status(struct pool *p, struct pool_status *st, char *err, size_t errlen)
{
	struct statvfs s;

	if (statvfs(root_of(p), &s) < 0) {
		snprintf(err, errlen, "statvfs %s: %s", root_of(p), strerror(errno));
		return -errno;
	}
	st->total = (uint64_t)s.f_blocks * s.f_frsize;
	st->avail = (uint64_t)s.f_bavail * s.f_frsize;
	st->used = st->total - (uint64_t)s.f_bfree * s.f_frsize;
	return 0;
}

static void dir_destroy(struct pool *p)
{
	free(p->priv);
}

/* Virtual size of an image file (qcow2 header), else its length. */
static uint64_t image_size(const char *path, const struct stat *st, const char *format)
{
	struct img_open_opts o = {.flags = IMG_OPEN_SHARED | IMG_OPEN_NO_BACKING};
	struct img *img;
	uint64_t size = (uint64_t)st->st_size;

	if (strcmp(format, "qcow2") != 0)
		return size;
	o.format = "qcow2";
	if (img_open(&img, path, &o, NULL, 0) == 0) {
		size = img_virtual_size(img);
		img_close(img);
	}
	return size;
}

/* One listed file: SUB/NAME under the root, shown if its volume id parses
 * and its path stays inside the pool. */
static int list_one(struct pool *p, const char *sub, const char *name, pool_volume_fn fn, void *ctx)
{
	struct pool_volume v = {.vmid = 0};
	struct pool_volid id;
	char path[PATH_MAX + POOL_NAME_MAX], err[256];
	struct stat st;
	const char *volname = strncmp(sub, "images/", 7) == 0 ? sub + 7 : sub;

	if ((size_t)snprintf(v.volid, sizeof(v.volid), "%s:%s/%s", p->id, volname, name) >=
		sizeof(v.volid) ||
	    pool_volid_parse(v.volid, &id, err, sizeof(err)) < 0 ||
	    dir_path(p, &id, path, sizeof(path), err, sizeof(err)) < 0 || stat(path, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	v.content = id.content;
	v.vmid = id.vmid;
	snprintf(v.format, sizeof(v.format), "%s", id.format);
	v.size = id.content == POOL_CONTENT_ISO ? (uint64_t)st.st_size
						: image_size(path, &st, id.format);
	v.used = (uint64_t)st.st_blocks * 512;
	v.ctime = st.st_ctime;
	return fn(&v, ctx);
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Calls list_one for every entry of SUB (or, with RECURSE, of each of its
 * subdirectories named by a VMID matching VMID (0: all)). */
static int list_dir(struct pool *p, const char *sub, int recurse, int vmid, pool_volume_fn fn,
		    void *ctx)
{
	struct dirent **ents;
	char path[PATH_MAX + 64], child[96];
	int n, r = 0;

	snprintf(path, sizeof(path), "%s/%s", root_of(p), sub);
	if ((n = scandir(path, &ents, not_dot, alphasort)) < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (r == 0 && !recurse)
			r = list_one(p, sub, ents[i]->d_name, fn, ctx);
		else if (r == 0 && (vmid == 0 || atoi(ents[i]->d_name) == vmid) &&
			 strlen(ents[i]->d_name) < 16) {
			snprintf(child, sizeof(child), "%s/%s", sub, ents[i]->d_name);
			r = list_dir(p, child, 0, 0, fn, ctx);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

static int dir_list(struct pool *p, int content, int vmid, pool_volume_fn fn, void *ctx)
{
	int r = 0;

	for (int c = 0; r == 0 && c < POOL_CONTENT_COUNT; c++) {
		if (content >= 0 && c != content)
			continue;
		if (c == POOL_CONTENT_IMAGES)
			r = list_dir(p, "images", 1, vmid, fn, ctx);
		else if (vmid == 0)
			r = list_dir(p, pool_content_name((enum pool_content)c), 0, 0, fn, ctx);
	}
	return r;
}

static const struct pool_ops dir_ops = {
    .type = "dir",
    .content = "images,iso,import",
    .path = dir_path,
    .alloc = dir_alloc,
    .vol_free = dir_vol_free,
    .list = dir_list,
    .status = dir_status,
    .destroy = dir_destroy,
};

int pool_dir_new(const char *id, const char *root, struct pool **out, char *err, size_t errlen)
{
	static const char *const subdirs[] = {"images", "iso", "import"};
	struct pool *p = calloc(1, sizeof(*p));
	struct dir_pool *d = calloc(1, sizeof(*d));
	char path[PATH_MAX + 16];
	int r = -ENOMEM;

	if (!p || !d)
		goto fail_alloc;
	if ((r = util_mkdir_p(root, 0700)) < 0 || !realpath(root, d->root)) {
		r = r < 0 ? r : -errno;
		snprintf(err, errlen, "storage directory %s: %s", root, err_str(r));
		goto fail_alloc;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->root, subdirs[i]);
		if ((r = util_mkdir_p(path, 0700)) < 0) {
			snprintf(err, errlen, "storage directory %s: %s", path, err_str(r));
			goto fail_alloc;
		}
	}
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->ops = &dir_ops;
	p->priv = d;
	*out = p;
	return 0;
fail_alloc:
	free(d);
	free(p);
	return r;
}
