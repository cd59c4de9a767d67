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
	char root[PATH_MAX]; /* realpath of the root (as configured while it is missing) */
	char conf[PATH_MAX]; /* the root as configured */
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
		snprintf(out, n, "%s", pool_content_dir(c));
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

/* Takes exactly NAME in DIR with O_EXCL. */
static int take_name(const char *dir, const char *name)
{
	char path[PATH_MAX + 64 + POOL_NAME_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? CR_EEXISTS : -errno;
	close(fd);
	return 0;
}

static int dir_alloc(struct pool *p, int vmid, const char *want, const char *format, uint64_t size,
		     char *volid, size_t n, char *err, size_t errlen)
{
	struct img_create_opts o = {.size = size};
	char dir[PATH_MAX + 32], path[PATH_MAX + 64 + POOL_NAME_MAX], name[POOL_NAME_MAX];
	int r;

	o.format = strcmp(format, "raw") == 0 ? IMG_FMT_RAW : IMG_FMT_QCOW2;
	snprintf(dir, sizeof(dir), "%s/images/%d", root_of(p), vmid);
	if ((r = util_mkdir_p(dir, 0700)) < 0 || (r = confine(root_of(p), dir, err, errlen)) < 0 ||
	    (r = want ? take_name(dir, want)
		      : reserve_name(dir, vmid, format, name, sizeof(name))) < 0) {
		if (r == CR_EEXISTS)
			snprintf(err, errlen, "volume '%s:%d/%s' already exists", p->id, vmid,
				 want);
		else if (r != -EACCES)
			snprintf(err, errlen, "cannot allocate a disk in %s: %s", dir, err_str(r));
		return r;
	}
	if (want)
		snprintf(name, sizeof(name), "%s", want);
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

/* Fills V from the file of the parsed volume ID; CR_ENOTFOUND unless it
 * is a regular file inside the pool. */
static int vol_fill(struct pool *p, const struct pool_volid *id, struct pool_volume *v, char *err,
		    size_t errlen)
{
	char path[PATH_MAX + POOL_NAME_MAX];
	struct stat st;
	int r = dir_path(p, id, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "volume '%s' does not exist", v->volid);
		return CR_ENOTFOUND;
	}
	v->content = id->content;
	v->vmid = id->vmid;
	snprintf(v->format, sizeof(v->format), "%s", id->format);
	v->size = id->content == POOL_CONTENT_ISO ? (uint64_t)st.st_size
						  : image_size(path, &st, id->format);
	v->used = (uint64_t)st.st_blocks * 512;
	v->ctime = st.st_ctime;
	return 0;
}

static int dir_info(struct pool *p, const struct pool_volid *id, struct pool_volume *out, char *err,
		    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (id->content == POOL_CONTENT_IMAGES)
		snprintf(out->volid, sizeof(out->volid), "%s:%d/%s", p->id, id->vmid, id->name);
	else
		snprintf(out->volid, sizeof(out->volid), "%s:%s/%s", p->id,
			 pool_content_name(id->content), id->name);
	return vol_fill(p, id, out, err, errlen);
}

/* One listed file: NAME in the directory of VOLDIR ("iso", "100"), shown
 * if its volume id parses and its path stays inside the pool. */
static int list_one(struct pool *p, const char *voldir, const char *name, pool_volume_fn fn,
		    void *ctx)
{
	struct pool_volume v = {.vmid = 0};
	struct pool_volid id;
	char err[256];

	if ((size_t)snprintf(v.volid, sizeof(v.volid), "%s:%s/%s", p->id, voldir, name) >=
		sizeof(v.volid) ||
	    pool_volid_parse(v.volid, &id, err, sizeof(err)) < 0 ||
	    vol_fill(p, &id, &v, err, sizeof(err)) < 0)
		return 0;
	return fn(&v, ctx);
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Calls list_one for every entry of the directory SUB, naming the volumes
 * VOLDIR/<entry>. */
static int list_dir(struct pool *p, const char *sub, const char *voldir, pool_volume_fn fn,
		    void *ctx)
{
	struct dirent **ents;
	char path[PATH_MAX + 64];
	int n, r = 0;

	snprintf(path, sizeof(path), "%s/%s", root_of(p), sub);
	if ((n = scandir(path, &ents, not_dot, alphasort)) < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (r == 0)
			r = list_one(p, voldir, ents[i]->d_name, fn, ctx);
		free(ents[i]);
	}
	free(ents);
	return r;
}

/* images/<vmid>/ for every VMID matching VMID (0: all). */
static int list_images(struct pool *p, int vmid, pool_volume_fn fn, void *ctx)
{
	struct dirent **ents;
	char path[PATH_MAX + 64], child[96];
	int n, r = 0;

	snprintf(path, sizeof(path), "%s/images", root_of(p));
	if ((n = scandir(path, &ents, not_dot, alphasort)) < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (r == 0 && strlen(name) < 16 && (vmid == 0 || atoi(name) == vmid)) {
			snprintf(child, sizeof(child), "images/%s", name);
			r = list_dir(p, child, name, fn, ctx);
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
		enum pool_content pc = (enum pool_content)c;

		if ((content >= 0 && c != content) || !(p->content & (1u << c)))
			continue;
		if (pc == POOL_CONTENT_IMAGES)
			r = list_images(p, vmid, fn, ctx);
		else if (vmid == 0)
			r = list_dir(p, pool_content_dir(pc), pool_content_name(pc), fn, ctx);
	}
	return r;
}

static int dir_active(struct pool *p, char *err, size_t errlen)
{
	const struct dir_pool *d = p->priv;
	struct stat st;

	if (stat(d->conf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(err, errlen, "unable to activate storage '%s' - directory '%s' does not exist",
		 p->id, d->conf);
	return -ENOENT;
}

static const char *dir_root(const struct pool *p)
{
	return ((const struct dir_pool *)p->priv)->conf;
}

/* A hidden ".upload-XXXXXX" beside the final name: rename stays atomic. */
static int dir_tmp_create(struct pool *p, enum pool_content c, char *path, size_t n, int *fd,
			  char *err, size_t errlen)
{
	char dir[PATH_MAX + 32];
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", root_of(p), pool_content_dir(c));
	if ((r = util_mkdir_p(dir, 0700)) < 0 || (r = confine(root_of(p), dir, err, errlen)) < 0) {
		if (r != -EACCES)
			snprintf(err, errlen, "cannot create directory %s: %s", dir, err_str(r));
		return r;
	}
	if ((size_t)snprintf(path, n, "%s/.upload-XXXXXX", dir) >= n) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	if ((*fd = mkostemp(path, O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create a file in %s: %s", dir, strerror(errno));
		return r;
	}
	fchmod(*fd, 0600);
	return 0;
}

/* link() then unlink(): an existing volume is never replaced. */
static int dir_tmp_commit(struct pool *p, const char *tmp, const struct pool_volid *v, char *err,
			  size_t errlen)
{
	char path[PATH_MAX + POOL_NAME_MAX];
	int r = dir_path(p, v, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	if (link(tmp, path) < 0) {
		r = errno == EEXIST ? CR_EEXISTS : -errno;
		snprintf(err, errlen, "%s: %s", path,
			 errno == EEXIST ? "file already exists" : strerror(errno));
		return r;
	}
	unlink(tmp);
	return 0;
}

static const struct pool_ops dir_ops = {
    .type = "dir",
    .content = "images,iso,import,snippets,backup",
    .path = dir_path,
    .alloc = dir_alloc,
    .vol_free = dir_vol_free,
    .list = dir_list,
    .status = dir_status,
    .active = dir_active,
    .info = dir_info,
    .tmp_create = dir_tmp_create,
    .tmp_commit = dir_tmp_commit,
    .root = dir_root,
    .destroy = dir_destroy,
};

/* ROOT and the directory of each content of P. */
static int make_dirs(const struct pool *p, const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	int r;

	if ((r = util_mkdir_p(root, 0700)) < 0) {
		snprintf(err, errlen, "storage directory %s: %s", root, err_str(r));
		return r;
	}
	for (int c = 0; c < POOL_CONTENT_COUNT; c++) {
		if (!(p->content & (1u << c)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, pool_content_dir((enum pool_content)c));
		if ((r = util_mkdir_p(path, 0700)) < 0) {
			snprintf(err, errlen, "storage directory %s: %s", path, err_str(r));
			return r;
		}
	}
	return 0;
}

int pool_dir_open(const struct pool_dir_opts *o, struct pool **out, char *err, size_t errlen)
{
	struct pool *p = calloc(1, sizeof(*p));
	struct dir_pool *d = calloc(1, sizeof(*d));
	int r = -ENOMEM;

	if (!p || !d)
		goto fail_alloc;
	snprintf(p->id, sizeof(p->id), "%s", o->id);
	p->content = o->content & POOL_CONTENT_ALL;
	p->shared = o->shared;
	pool_content_mask_format(p->content, p->content_list, sizeof(p->content_list));
	r = -ENAMETOOLONG;
	if (util_strlcpy(d->conf, o->root, sizeof(d->conf)) < 0 || o->root[0] != '/') {
		snprintf(err, errlen, "invalid storage path '%s'", o->root);
		goto fail_alloc;
	}
	if (o->mkdir && (r = make_dirs(p, o->root, err, errlen)) < 0)
		goto fail_alloc;
	if (!realpath(o->root, d->root))
		snprintf(d->root, sizeof(d->root), "%s", o->root);
	p->ops = &dir_ops;
	p->priv = d;
	*out = p;
	return 0;
fail_alloc:
	free(d);
	free(p);
	return r;
}

int pool_dir_new(const char *id, const char *root, struct pool **out, char *err, size_t errlen)
{
	char abs[PATH_MAX];
	struct pool_dir_opts o = {
	    .id = id, .root = root, .content = POOL_CONTENT_DEFAULT, .mkdir = 1};

	if (root[0] != '/' && util_mkdir_p(root, 0700) == 0 && realpath(root, abs))
		o.root = abs;
	return pool_dir_open(&o, out, err, errlen);
}
