/* Copies between volumes through the image engine: raw or qcow2 in, a new
 * qcow2 or raw disk out, backing chains flattened (and followed only inside
 * the source's storage), zero ranges left unwritten.  Also the header check
 * that keeps a qcow2 naming a host file as its backing or data file out. */
#include "storage/pool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/image.h"

#define COPY_CHUNK (2u << 20) /* bytes read per step: the largest qcow2 cluster */
#define COPY_GRAIN 65536u     /* zero detection granule: the default cluster */

/* qcow2 header fields the check reads (offsets from the specification). */
#define QH_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QH_VERSION 4
#define QH_BACKING_OFFSET 8
#define QH_BACKING_SIZE 16
#define QH_INCOMPAT 72
#define QH_V3_LEN 104
#define QH_INCOMPAT_DATA_FILE (1ull << 2)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

int pool_qcow2_header_check(const unsigned char *h, size_t len, char *err, size_t errlen)
{
	if (len < 4 || be32(h) != QH_MAGIC)
		return 0; /* not qcow2: nothing in it names another file */
	if (len < QH_BACKING_SIZE + 4) {
		snprintf(err, errlen, "truncated qcow2 header");
		return CR_EFORMAT;
	}
	if (be64(h + QH_BACKING_OFFSET) != 0 && be32(h + QH_BACKING_SIZE) != 0) {
		snprintf(err, errlen, "image has a backing file, which is not allowed here");
		return CR_EFORMAT;
	}
	if (be32(h + QH_VERSION) >= 3 &&
	    (len < QH_V3_LEN || (be64(h + QH_INCOMPAT) & QH_INCOMPAT_DATA_FILE))) {
		snprintf(err, errlen,
			 len < QH_V3_LEN ? "truncated qcow2 header"
					 : "image uses an external data file, "
					   "which is not allowed here");
		return CR_EFORMAT;
	}
	return 0;
}

int pool_image_check_standalone(const char *path, char *err, size_t errlen)
{
	unsigned char h[QH_V3_LEN];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	got = pread(fd, h, sizeof(h), 0);
	r = got < 0 ? -errno : pool_qcow2_header_check(h, (size_t)got, err, errlen);
	if (got < 0)
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	close(fd);
	return r;
}

int pool_image_size(const char *path, uint64_t *size, char *err, size_t errlen)
{
	struct img_open_opts o = {.flags = IMG_OPEN_SHARED | IMG_OPEN_NO_BACKING};
	struct img *img;
	int r = img_open(&img, path, &o, err, errlen);

	if (r < 0)
		return r;
	*size = img_virtual_size(img);
	img_close(img);
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Writes the non-zero grains of BUF (LEN bytes of guest offset OFF). */
static int write_nonzero(struct img *dst, const unsigned char *buf, size_t len, uint64_t off)
{
	int r = 0;

	for (size_t at = 0; at < len && r == 0; at += COPY_GRAIN) {
		size_t n = len - at < COPY_GRAIN ? len - at : COPY_GRAIN;

		if (!all_zero(buf + at, n))
			r = img_pwrite(dst, buf + at, n, off + at);
	}
	return r;
}

/* One step: the run of one status at OFF, at most COPY_CHUNK bytes. */
static int copy_step(struct img *src, struct img *dst, unsigned char *buf, uint64_t off,
		     uint64_t size, uint64_t *done)
{
	uint64_t want = size - off < COPY_CHUNK ? size - off : COPY_CHUNK;
	struct img_extent e;
	int r = img_block_status(src, off, want, IMG_BS_FOLLOW_BACKING, &e);

	if (r < 0)
		return r;
	if (e.length == 0)
		return CR_EINTERNAL;
	*done = e.length;
	if (e.flags & IMG_BS_ZERO)
		return 0; /* a new target reads as zeros already */
	if ((r = img_pread(src, buf, e.length, off)) < 0)
		return r;
	return write_nonzero(dst, buf, e.length, off);
}

static int copy_all(struct img *src, struct img *dst, const struct pool_copy_opts *o, char *err,
		    size_t errlen)
{
	uint64_t size = img_virtual_size(src), off = 0, step = 0;
	unsigned char *buf;
	int r = 0;

	if (posix_memalign((void **)&buf, 4096, COPY_CHUNK))
		return -ENOMEM;
	for (; off < size && r == 0; off += step) {
		if ((r = copy_step(src, dst, buf, off, size, &step)) < 0)
			snprintf(
			    err, errlen, "copy failed at byte %llu: %s", (unsigned long long)off,
			    img_last_error(src)[0] ? img_last_error(src) : img_last_error(dst));
		else if (o && o->progress && o->progress(o->opaque, off + step, size)) {
			snprintf(err, errlen, "copy cancelled");
			r = -ECANCELED;
		}
	}
	free(buf);
	if (r == 0 && (r = img_flush(dst)) < 0)
		snprintf(err, errlen, "flush failed: %s", img_last_error(dst));
	return r;
}

/* The directory of PATH (realpath'd) into OUT. */
static int dir_of(const char *path, char *out)
{
	char tmp[PATH_MAX], *slash;

	if (!realpath(path, tmp))
		return -errno;
	slash = strrchr(tmp, '/');
	if (slash)
		*slash = '\0';
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}

int pool_image_copy(const char *src, const char *const *src_dirs, const char *dst,
		    const struct pool_copy_opts *o, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *own[2] = {dir, NULL};
	struct img_open_opts so = {.allowed_dirs = src_dirs}, dopt = {.flags = IMG_OPEN_RDWR};
	struct img *s, *d;
	int r;

	if (!src_dirs && (r = dir_of(src, dir)) < 0) {
		snprintf(err, errlen, "%s: %s", src, strerror(-r));
		return r;
	}
	if (!src_dirs)
		so.allowed_dirs = own;
	if ((r = img_open(&s, src, &so, err, errlen)) < 0)
		return r;
	if ((r = img_open(&d, dst, &dopt, err, errlen)) < 0)
		goto close_src;
	if (img_virtual_size(d) < img_virtual_size(s)) {
		snprintf(err, errlen, "target image is smaller than the source");
		r = -EINVAL;
	} else
		r = copy_all(s, d, o, err, errlen);
	if (img_close(d) < 0 && r == 0) {
		snprintf(err, errlen, "cannot close %s", dst);
		r = -EIO;
	}
close_src:
	img_close(s);
	return r;
}

/* The source's format, read from its volume name: copies never probe, so a
 * raw file holding a qcow2 header stays raw. */
static int source_format(const struct pool_volid *v, char *err, size_t errlen)
{
	if (strcmp(v->format, "qcow2") == 0 || strcmp(v->format, "raw") == 0)
		return 0;
	snprintf(err, errlen, "cannot import format '%s' (qcow2 and raw only)", v->format);
	return CR_EUNSUPPORTED;
}

int pool_vol_copy(struct pool *src, const char *src_volid, struct pool *dst,
		  const struct pool_copy_opts *o, char *new_volid, size_t n, char *err,
		  size_t errlen)
{
	char spath[PATH_MAX], dpath[PATH_MAX], root[PATH_MAX], e2[128];
	const char *dirs[2] = {root, NULL};
	struct pool_volid v;
	uint64_t size;
	int r;

	if ((r = pool_volid_parse(src_volid, &v, err, errlen)) < 0 ||
	    (r = source_format(&v, err, errlen)) < 0 ||
	    (r = pool_vol_path(src, src_volid, spath, sizeof(spath), err, errlen)) < 0)
		return r;
	if (!realpath(pool_root(src), root)) {
		snprintf(err, errlen, "storage '%s': %s", pool_id(src), strerror(errno));
		return -errno;
	}
	if ((r = pool_image_size(spath, &size, err, errlen)) < 0 ||
	    (r = pool_alloc(dst, o->vmid, o->format, (size + 511) & ~(uint64_t)511, new_volid, n,
			    err, errlen)) < 0 ||
	    (r = pool_vol_path(dst, new_volid, dpath, sizeof(dpath), err, errlen)) < 0)
		return r;
	if ((r = pool_image_copy(spath, dirs, dpath, o, err, errlen)) < 0)
		pool_vol_free(dst, new_volid, e2, sizeof(e2));
	return r;
}

/* Copies the open file IN to OUT with copy_file_range (reflinks where the
 * file system can). */
static int copy_fd(int in, int out, const struct pool_copy_opts *o, uint64_t total)
{
	uint64_t done = 0;
	ssize_t n;

	while ((n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0)) > 0) {
		done += (uint64_t)n;
		if (o && o->progress && o->progress(o->opaque, done, total))
			return -ECANCELED;
	}
	return n < 0 ? -errno : 0;
}

int pool_file_copy(struct pool *src, const char *src_volid, struct pool *dst,
		   const struct pool_copy_opts *o, char *new_volid, size_t n, char *err,
		   size_t errlen)
{
	char spath[PATH_MAX], tmp[PATH_MAX];
	struct pool_volid v;
	struct stat st;
	int in, out = -1, r;

	if ((r = pool_volid_parse(src_volid, &v, err, errlen)) < 0 ||
	    (r = pool_vol_path(src, src_volid, spath, sizeof(spath), err, errlen)) < 0)
		return r;
	snprintf(new_volid, n, "%s:%s/%s", pool_id(dst), pool_content_name(v.content), v.name);
	if ((in = open(spath, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "volume '%s' does not exist", src_volid);
		goto close_in;
	}
	if ((r = pool_tmp_create(dst, v.content, tmp, sizeof(tmp), &out, err, errlen)) < 0)
		goto close_in;
	if ((r = copy_fd(in, out, o, (uint64_t)st.st_size)) < 0)
		snprintf(err, errlen, "copy failed: %s", strerror(-r));
	if (r == 0 && fdatasync(out) < 0)
		r = -errno;
	close(out);
	if (r == 0)
		r = pool_tmp_commit(dst, tmp, new_volid, err, errlen);
	if (r < 0)
		unlink(tmp);
close_in:
	if (in >= 0)
		close(in);
	return r;
}
