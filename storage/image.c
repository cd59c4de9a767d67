/* The public image interface: open/create/close, QEMU-compatible OFD image
 * locks, backing chains (path confinement, loops, depth) and dispatch to
 * the raw and qcow2 drivers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "storage/qcow2_int.h"

/* ---- errors ----------------------------------------------------------------- */

int img_fmterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int img_seterr(struct img *img, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(img->errmsg, sizeof(img->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

const char *img_last_error(const struct img *img)
{
	return img->errmsg;
}

/* ---- POSIX I/O ops --------------------------------------------------------------- */

static int posix_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	(void)ctx;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n, len -= (size_t)n, off += (uint64_t)n;
	}
	return 0;
}

static int posix_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	(void)ctx;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n, len -= (size_t)n, off += (uint64_t)n;
	}
	return 0;
}

static int posix_flush(void *ctx, int fd)
{
	(void)ctx;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int posix_truncate(void *ctx, int fd, uint64_t len)
{
	(void)ctx;
	return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
}

static int posix_punch(void *ctx, int fd, uint64_t off, uint64_t len)
{
	(void)ctx;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return errno == EOPNOTSUPP ? 0 : -errno; /* hole punch is an optimisation only */
}

static int posix_falloc(void *ctx, int fd, uint64_t off, uint64_t len)
{
	int r;

	(void)ctx;
	r = posix_fallocate(fd, (off_t)off, (off_t)len);
	return -r;
}

static int posix_size(void *ctx, int fd, uint64_t *out)
{
	struct stat st;

	(void)ctx;
	if (fstat(fd, &st) < 0)
		return -errno;
	*out = (uint64_t)st.st_size;
	return 0;
}

static const struct img_io_ops posix_ops = {
	posix_pread, posix_pwrite, posix_flush, posix_truncate, posix_punch, posix_falloc, posix_size,
};

const struct img_io_ops *img_io_posix(void)
{
	return &posix_ops;
}

int img_file_read(struct img *img, void *buf, size_t len, uint64_t off)
{
	int r = img->io->pread(img->io_ctx, img->fd, buf, len, off);
	return r < 0 ? img_seterr(img, r, "read of %zu bytes at %llu failed: %s", len,
				  (unsigned long long)off, err_str(r)) : 0;
}

int img_file_write(struct img *img, const void *buf, size_t len, uint64_t off)
{
	int r = img->io->pwrite(img->io_ctx, img->fd, buf, len, off);

	if (off + len > img->zero_from)
		img->zero_from = off + len;
	return r < 0 ? img_seterr(img, r, "write of %zu bytes at %llu failed: %s", len,
				  (unsigned long long)off, err_str(r)) : 0;
}

int img_file_sync(struct img *img)
{
	int r = img->io->flush(img->io_ctx, img->fd);
	return r < 0 ? img_seterr(img, r, "flush failed: %s", err_str(r)) : 0;
}

int img_file_size(struct img *img, uint64_t *out)
{
	return img->io->size(img->io_ctx, img->fd, out);
}

/* ---- QEMU image locks ----------------------------------------------------------- */

/* block/file-posix.c: permission bit N is held as a shared OFD lock on byte
 * 100+N; "I do not share permission N" on byte 200+N.  A conflict is a
 * lock by someone else on the opposite byte. */
#define LOCK_PERM_BASE 100
#define LOCK_SHARED_BASE 200
#define PERM_READ 0x1u
#define PERM_WRITE 0x2u
#define PERM_WRITE_UNCHANGED 0x4u
#define PERM_RESIZE 0x8u
#define PERM_ALL 0x1fu

static const char *const perm_names[] = { "consistent read", "write", "write unchanged",
					  "resize", "graph modification" };

static int lock_byte(int fd, int byte, short type, int cmd, short *found)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	if (fcntl(fd, cmd, &fl) < 0)
		return -errno;
	if (found)
		*found = fl.l_type;
	return 0;
}

static int img_lock(struct img *img, char *err, size_t errlen)
{
	unsigned perm = img->rw ? PERM_READ | PERM_WRITE | PERM_RESIZE : PERM_READ;
	unsigned shared = img->rw ? PERM_READ | PERM_WRITE_UNCHANGED
				  : PERM_ALL & ~PERM_WRITE;
	short t;

	for (int i = 0; i < 5; i++) {
		if (((perm >> i) & 1) && lock_byte(img->fd, LOCK_PERM_BASE + i, F_RDLCK, F_OFD_SETLK, NULL))
			return img_fmterr(err, errlen, CR_ELOCKED, "Failed to lock byte %d", LOCK_PERM_BASE + i);
		if (!((shared >> i) & 1) && lock_byte(img->fd, LOCK_SHARED_BASE + i, F_RDLCK, F_OFD_SETLK, NULL))
			return img_fmterr(err, errlen, CR_ELOCKED, "Failed to lock byte %d", LOCK_SHARED_BASE + i);
	}
	for (int i = 0; i < 5; i++) {
		if (((perm >> i) & 1) && !lock_byte(img->fd, LOCK_SHARED_BASE + i, F_WRLCK, F_OFD_GETLK, &t) &&
		    t != F_UNLCK)
			return img_fmterr(err, errlen, CR_ELOCKED, "Failed to get \"%s\" lock: %s is in use",
					  perm_names[i], img->path);
		if (!((shared >> i) & 1) && !lock_byte(img->fd, LOCK_PERM_BASE + i, F_WRLCK, F_OFD_GETLK, &t) &&
		    t != F_UNLCK)
			return img_fmterr(err, errlen, CR_ELOCKED, "Failed to get shared \"%s\" lock: %s is in use",
					  perm_names[i], img->path);
	}
	return 0;
}

/* ---- open and close -------------------------------------------------------------- */

static int probe_fd(const struct img_io_ops *io, void *ctx, int fd, enum img_format *out)
{
	uint8_t b[4];
	int r = io->pread(ctx, fd, b, 4, 0);

	if (r < 0)
		return r;
	*out = be32_get(b) == QCOW2_MAGIC ? IMG_FMT_QCOW2 : IMG_FMT_RAW;
	return 0;
}

int img_probe(const char *path, enum img_format *out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return img_fmterr(err, errlen, -errno, "Could not open '%s': %s", path, strerror(errno));
	r = probe_fd(img_io_posix(), NULL, fd, out);
	close(fd);
	return r < 0 ? img_fmterr(err, errlen, r, "Could not read '%s'", path) : 0;
}

static const struct img_driver *driver_by_name(const char *name)
{
	if (!strcmp(name, "raw"))
		return &img_raw_driver;
	if (!strcmp(name, "qcow2"))
		return &img_qcow2_driver;
	return NULL;
}

static int copy_allowed(struct img *img, const char *const *dirs)
{
	size_t n = 0;

	while (dirs && dirs[n])
		n++;
	img->allowed = calloc(n + 2, sizeof(char *));
	if (!img->allowed)
		return -ENOMEM;
	if (!dirs) {
		img->allowed[0] = strdup(img->real_dir);
		return img->allowed[0] ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char rp[PATH_MAX];
		img->allowed[i] = strdup(realpath(dirs[i], rp) ? rp : dirs[i]);
		if (!img->allowed[i])
			return -ENOMEM;
	}
	return 0;
}

static int set_real_dir(struct img *img)
{
	char rp[PATH_MAX];
	char *slash;

	if (!realpath(img->path, rp))
		return -errno;
	slash = strrchr(rp, '/');
	if (slash == rp)
		slash[1] = 0;
	else
		*slash = 0;
	img->real_dir = strdup(rp);
	return img->real_dir ? 0 : -ENOMEM;
}

static void img_free(struct img *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	for (size_t i = 0; img->allowed && img->allowed[i]; i++)
		free(img->allowed[i]);
	free(img->allowed);
	free(img->real_dir);
	free(img->path);
	free(img);
}

static int img_new(struct img **out, const char *path, const struct img_open_opts *o)
{
	struct img *img = calloc(1, sizeof(*img));

	if (!img)
		return -ENOMEM;
	img->fd = -1;
	img->flags = o->flags;
	img->rw = o->flags & IMG_OPEN_RDWR;
	img->io = o->io ? o->io : img_io_posix();
	img->io_ctx = o->io_ctx;
	img->max_depth = o->max_depth ? o->max_depth : IMG_DEFAULT_MAX_DEPTH;
	img->l2_cache_bytes = o->l2_cache_bytes;
	img->refcount_cache_bytes = o->refcount_cache_bytes;
	img->path = strdup(path);
	*out = img;
	return img->path ? 0 : -ENOMEM;
}

static int open_fd(struct img *img, char *err, size_t errlen)
{
	img->fd = open(img->path, (img->rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (img->fd < 0)
		return img_fmterr(err, errlen, -errno, "Could not open '%s': %s", img->path,
				  strerror(errno));
	if (img_file_size(img, &img->zero_from) < 0)
		img->zero_from = UINT64_MAX;
	if (!(img->flags & IMG_OPEN_SHARED))
		return img_lock(img, err, errlen);
	return 0;
}

static int pick_driver(struct img *img, const char *format, char *err, size_t errlen)
{
	enum img_format f;
	int r;

	if (format) {
		img->drv = driver_by_name(format);
		if (!img->drv)
			return img_fmterr(err, errlen, CR_EUNSUPPORTED, "Unknown driver '%s'", format);
		return 0;
	}
	r = probe_fd(img->io, img->io_ctx, img->fd, &f);
	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not read '%s'", img->path);
	img->drv = f == IMG_FMT_QCOW2 ? &img_qcow2_driver : &img_raw_driver;
	return 0;
}

/* Opens one layer; the allowed list is ALLOWED (already resolved) when
 * inherited from the layer above, else built from O. */
static int open_layer(struct img **out, const char *path, const struct img_open_opts *o,
		      char *const *allowed, struct img *parent, char *err, size_t errlen)
{
	struct img *img = NULL;
	int r = img_new(&img, path, o);

	if (r < 0)
		goto fail;
	img->parent = parent;
	img->depth = parent ? parent->depth + 1 : 0;
	r = open_fd(img, err, errlen);
	if (r < 0)
		goto fail;
	r = set_real_dir(img);
	if (r == 0)
		r = allowed ? copy_allowed(img, (const char *const *)allowed)
			    : copy_allowed(img, o->allowed_dirs);
	if (r < 0) {
		img_fmterr(err, errlen, r, "Could not resolve '%s': %s", path, err_str(r));
		goto fail;
	}
	r = pick_driver(img, o->format, err, errlen);
	if (r == 0)
		r = img->drv->open(img, o, err, errlen);
	if (r < 0)
		goto fail;
	*out = img;
	return 0;
fail:
	img_free(img);
	return r;
}

int img_open(struct img **out, const char *path, const struct img_open_opts *opts,
	     char *err, size_t errlen)
{
	struct img_open_opts def = { 0 };

	*out = NULL;
	return open_layer(out, path, opts ? opts : &def, NULL, NULL, err, errlen);
}

int img_close(struct img *img)
{
	int r = 0, r2;

	if (!img)
		return 0;
	r = img->drv ? img->drv->close(img) : 0;
	r2 = img_close(img->backing);
	img_free(img);
	return r < 0 ? r : r2;
}

/* ---- backing files ---------------------------------------------------------------- */

int img_resolve_backing(const struct img *img, const char *name, char *out, size_t outlen)
{
	int n;

	if (name[0] == '/')
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "%s/%s", img->real_dir, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static bool path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

static int check_confined(char *const *allowed, const char *real, const char *name, const char *img,
			  char *err, size_t errlen)
{
	for (size_t i = 0; allowed[i]; i++)
		if (path_inside(real, allowed[i]))
			return 0;
	return img_fmterr(err, errlen, CR_EPERM_CHECK,
			  "Backing file '%s' of '%s' is outside the allowed directories", name, img);
}

/* The backing file must not be any image above it in the chain. */
static int check_loop(struct img *img, const char *real, char *err, size_t errlen)
{
	struct stat st, me;

	if (stat(real, &st) < 0)
		return img_fmterr(err, errlen, -errno, "Could not open backing file '%s'", real);
	for (struct img *up = img; up; up = up->parent)
		if (fstat(up->fd, &me) == 0 && me.st_dev == st.st_dev && me.st_ino == st.st_ino)
			return img_fmterr(err, errlen, CR_EFORMAT,
					  "Backing file loop: '%s' is already in the chain above '%s'", real,
					  img->path);
	return 0;
}

int img_backing_path(struct img *img, const char *name, char *const *allowed, char *real, size_t len,
		     char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r = img_resolve_backing(img, name, path, sizeof(path));

	if (r < 0 || len < PATH_MAX)
		return img_fmterr(err, errlen, -ENAMETOOLONG, "Backing file name too long");
	if (!realpath(path, real))
		return img_fmterr(err, errlen, -errno, "Could not open backing file '%s': %s", path,
				  strerror(errno));
	r = check_confined(allowed ? allowed : img->allowed, real, name, img->path, err, errlen);
	return r < 0 ? r : check_loop(img, real, err, errlen);
}

int img_open_backing(struct img *img, const char *name, const char *fmt, char *err, size_t errlen)
{
	struct img_open_opts o = { 0 };
	char real[PATH_MAX];
	int r;

	if (img->flags & IMG_OPEN_NO_BACKING)
		return 0;
	if (img->depth + 1 >= img->max_depth)
		return img_fmterr(err, errlen, CR_EFORMAT,
				  "Backing chain of '%s' is too deep (or loops): more than %u images",
				  img->path, img->max_depth);
	r = img_backing_path(img, name, NULL, real, sizeof(real), err, errlen);
	if (r < 0)
		return r;
	o.flags = img->flags & (IMG_OPEN_SHARED);
	o.format = fmt;
	o.l2_cache_bytes = img->l2_cache_bytes;
	o.refcount_cache_bytes = img->refcount_cache_bytes;
	o.max_depth = img->max_depth;
	o.io = img->io;
	o.io_ctx = img->io_ctx;
	return open_layer(&img->backing, real, &o, img->allowed, img, err, errlen);
}

int img_read_backing(struct img *img, void *buf, size_t len, uint64_t off)
{
	struct img *b = img->backing;
	uint64_t avail;

	if (!b) {
		memset(buf, 0, len);
		return 0;
	}
	avail = off >= b->size ? 0 : b->size - off;
	if (avail < len)
		memset((uint8_t *)buf + avail, 0, len - avail);
	if (!avail)
		return 0;
	return b->drv->pread(b, buf, avail < len ? (size_t)avail : len, off);
}

/* ---- create -------------------------------------------------------------------------- */

static int create_backing_size(const char *path, const struct img_create_opts *o, uint64_t *size,
			       char *err, size_t errlen)
{
	struct img_open_opts bo = { .flags = IMG_OPEN_SHARED, .format = o->backing_format,
				    .allowed_dirs = o->allowed_dirs, .io = o->io, .io_ctx = o->io_ctx };
	const char *root[] = { "/", NULL };
	char full[PATH_MAX + 8], dir[PATH_MAX];
	struct img *b;
	int r;

	if (o->backing_file[0] == '/' || !strchr(path, '/'))
		snprintf(full, sizeof(full), "%s%s", o->backing_file[0] == '/' ? "" : "./",
			 o->backing_file);
	else {
		util_strlcpy(dir, path, sizeof(dir));
		*strrchr(dir, '/') = 0;
		if (snprintf(full, sizeof(full), "%s/%s", dir, o->backing_file) >= (int)sizeof(full))
			return img_fmterr(err, errlen, -ENAMETOOLONG, "Backing file name too long");
	}
	if (!o->allowed_dirs)
		bo.allowed_dirs = root;
	r = img_open(&b, full, &bo, err, errlen);
	if (r < 0)
		return r;
	if (!*size)
		*size = b->size;
	img_close(b);
	return 0;
}

static int create_lock_truncate(const char *path, int fd, char *err, size_t errlen)
{
	struct img tmp = { .fd = fd, .rw = true };

	tmp.path = (char *)path;
	if (img_lock(&tmp, err, errlen) < 0)
		return CR_ELOCKED;
	return ftruncate(fd, 0) < 0 ? img_fmterr(err, errlen, -errno, "Could not truncate '%s'", path) : 0;
}

int img_create(const char *path, const struct img_create_opts *opts, char *err, size_t errlen)
{
	const struct img_driver *drv = opts->format == IMG_FMT_QCOW2 ? &img_qcow2_driver
								     : &img_raw_driver;
	uint64_t size = opts->size;
	int fd, r;

	if (opts->backing_file && opts->format != IMG_FMT_QCOW2)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "raw images have no backing file");
	if (opts->backing_file && !opts->no_backing_open) {
		r = create_backing_size(path, opts, &size, err, errlen);
		if (r < 0)
			return r;
	}
	/* Lock before truncating: never clobber an image a QEMU holds. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return img_fmterr(err, errlen, -errno, "Could not create '%s': %s", path, strerror(errno));
	r = create_lock_truncate(path, fd, err, errlen);
	if (r == 0)
		r = drv->create(path, fd, opts, size, err, errlen);
	if (close(fd) < 0 && r == 0)
		r = img_fmterr(err, errlen, -errno, "Could not close '%s'", path);
	return r;
}

/* ---- I/O dispatch ----------------------------------------------------------------------- */

static int check_range(struct img *img, uint64_t off, uint64_t len, bool write)
{
	if (write && !img->rw)
		return img_seterr(img, -EBADF, "image '%s' is opened read-only", img->path);
	if (off > img->size || len > img->size - off)
		return img_seterr(img, CR_EINVAL_PARAM, "request [%llu, +%llu) past the end (%llu)",
				  (unsigned long long)off, (unsigned long long)len,
				  (unsigned long long)img->size);
	return 0;
}

int img_pread(struct img *img, void *buf, size_t len, uint64_t off)
{
	int r = check_range(img, off, len, false);
	return r < 0 ? r : img->drv->pread(img, buf, len, off);
}

int img_pwrite(struct img *img, const void *buf, size_t len, uint64_t off)
{
	int r = check_range(img, off, len, true);
	return r < 0 ? r : img->drv->pwrite(img, buf, len, off);
}

int img_pwrite_zeroes(struct img *img, uint64_t off, uint64_t len, unsigned flags)
{
	int r = check_range(img, off, len, true);
	return r < 0 ? r : img->drv->zero(img, off, len, flags);
}

int img_discard(struct img *img, uint64_t off, uint64_t len)
{
	int r = check_range(img, off, len, true);
	return r < 0 ? r : img->drv->discard(img, off, len);
}

int img_flush(struct img *img)
{
	return img->rw ? img->drv->flush(img) : 0;
}

uint64_t img_virtual_size(const struct img *img)
{
	return img->size;
}

enum img_format img_get_format(const struct img *img)
{
	return img->drv == &img_qcow2_driver ? IMG_FMT_QCOW2 : IMG_FMT_RAW;
}

struct img *img_backing(struct img *img)
{
	return img->backing;
}

struct qcow2 *img_qcow2(struct img *img)
{
	return img->q;
}

int img_get_info(struct img *img, struct img_info *info)
{
	struct stat st;

	memset(info, 0, sizeof(*info));
	info->format = img_get_format(img);
	info->virtual_size = img->size;
	if (fstat(img->fd, &st) == 0) {
		info->actual_size = (uint64_t)st.st_blocks * 512;
		info->file_length = (uint64_t)st.st_size;
	}
	return img->drv->info(img, info);
}

int img_resize(struct img *img, uint64_t new_size, unsigned flags, enum img_prealloc prealloc,
	       char *err, size_t errlen)
{
	if (!img->rw)
		return img_fmterr(err, errlen, -EBADF, "image is opened read-only");
	if (new_size < img->size && !(flags & IMG_RESIZE_SHRINK))
		return img_fmterr(err, errlen, CR_EINVAL_PARAM,
				  "Use the --shrink option to perform a shrink operation");
	return img->drv->resize(img, new_size, flags, prealloc, err, errlen);
}

/* Extents of one layer, then down the chain for ranges it does not own. */
int img_block_status(struct img *img, uint64_t off, uint64_t len, unsigned flags,
		     struct img_extent *ext)
{
	struct img *cur = img;
	int r;

	if (!len || off >= img->size)
		return img_seterr(img, CR_EINVAL_PARAM, "block status past the end");
	if (len > img->size - off)
		len = img->size - off;
	for (;;) {
		r = cur->drv->block_status(cur, off, len, ext);
		if (r < 0)
			return r;
		ext->depth = cur->depth - img->depth;
		if ((ext->flags & IMG_BS_ALLOCATED) || !(flags & IMG_BS_FOLLOW_BACKING))
			break;
		if (!cur->backing || off >= cur->backing->size) {
			ext->flags |= IMG_BS_ZERO;
			return 0;
		}
		len = ext->length;
		if (len > cur->backing->size - off)
			len = cur->backing->size - off;
		cur = cur->backing;
	}
	if (ext->flags & IMG_BS_ALLOCATED)
		ext->flags |= IMG_BS_PRESENT;
	if (cur == img && !(ext->flags & IMG_BS_ALLOCATED) && !cur->backing)
		ext->flags |= IMG_BS_ZERO;
	return 0;
}
