/* Raw images: the guest disk is the host file byte for byte.  Holes are
 * reported as zero extents so sparse convert can skip them. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

static int raw_open(struct img *img, const struct img_open_opts *o, char *err, size_t errlen)
{
	int r = img_file_size(img, &img->size);

	(void)o;
	return r < 0 ? img_fmterr(err, errlen, r, "Could not get size of '%s'", img->path) : 0;
}

static int raw_close(struct img *img)
{
	return img->rw ? img_file_sync(img) : 0;
}

static int raw_pread(struct img *img, void *buf, size_t len, uint64_t off)
{
	return img_file_read(img, buf, len, off);
}

static int raw_pwrite(struct img *img, const void *buf, size_t len, uint64_t off)
{
	return img_file_write(img, buf, len, off);
}

static int raw_zero(struct img *img, uint64_t off, uint64_t len, unsigned flags)
{
	static const uint8_t zeros[65536];
	int r;

	if (flags & IMG_ZERO_MAY_UNMAP) {
		r = img->io->punch(img->io_ctx, img->fd, off, len);
		if (r == 0)
			return 0;
	}
	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		r = img_file_write(img, zeros, n, off);
		if (r < 0)
			return r;
		off += n, len -= n;
	}
	return 0;
}

static int raw_discard(struct img *img, uint64_t off, uint64_t len)
{
	int r = img->io->punch(img->io_ctx, img->fd, off, len);
	return r < 0 ? img_seterr(img, r, "discard failed: %s", err_str(r)) : 0;
}

static int raw_flush(struct img *img)
{
	return img_file_sync(img);
}

/* A hole reads as zeros; SEEK_DATA/SEEK_HOLE tell where they are. */
static int raw_block_status(struct img *img, uint64_t off, uint64_t len, struct img_extent *ext)
{
	off_t data = lseek(img->fd, (off_t)off, SEEK_DATA);
	off_t end;

	ext->start = off;
	ext->flags = IMG_BS_ALLOCATED | IMG_BS_DATA;
	ext->offset = off;
	if (data < 0 && errno == ENXIO)
		data = (off_t)(off + len);
	if (data < 0) { /* no SEEK_DATA: say data */
		ext->length = len;
		return 0;
	}
	if ((uint64_t)data > off) {
		ext->flags = IMG_BS_ALLOCATED | IMG_BS_ZERO;
		ext->length = (uint64_t)data - off < len ? (uint64_t)data - off : len;
		return 0;
	}
	end = lseek(img->fd, (off_t)off, SEEK_HOLE);
	ext->length = end < 0 || (uint64_t)end - off > len ? len : (uint64_t)end - off;
	return 0;
}

static int raw_info(struct img *img, struct img_info *info)
{
	(void)img;
	(void)info;
	return 0;
}

static int raw_resize(struct img *img, uint64_t size, unsigned flags, enum img_prealloc p,
		      char *err, size_t errlen)
{
	uint64_t old = img->size;
	int r;

	(void)flags;
	if (p == IMG_PREALLOC_METADATA)
		return img_fmterr(err, errlen, CR_EUNSUPPORTED, "preallocation=metadata is for qcow2 only");
	r = img->io->truncate(img->io_ctx, img->fd, size);
	if (r == 0 && size > old && p == IMG_PREALLOC_FALLOC)
		r = img->io->falloc(img->io_ctx, img->fd, old, size - old);
	if (r == 0 && size > old && p == IMG_PREALLOC_FULL)
		r = raw_zero(img, old, size - old, 0);
	if (r < 0)
		return img_fmterr(err, errlen, r, "Could not resize: %s", err_str(r));
	img->size = size;
	return 0;
}

static int raw_create(const char *path, int fd, const struct img_create_opts *o, uint64_t size,
		      char *err, size_t errlen)
{
	struct img tmp = { .drv = &img_raw_driver, .fd = fd, .rw = true,
			   .io = o->io ? o->io : img_io_posix(), .io_ctx = o->io_ctx };
	int r;

	tmp.path = (char *)path;
	r = raw_resize(&tmp, size, 0, o->prealloc, err, errlen);
	return r < 0 ? r : img_file_sync(&tmp);
}

const struct img_driver img_raw_driver = {
	.name = "raw",
	.open = raw_open,
	.close = raw_close,
	.pread = raw_pread,
	.pwrite = raw_pwrite,
	.zero = raw_zero,
	.discard = raw_discard,
	.flush = raw_flush,
	.block_status = raw_block_status,
	.info = raw_info,
	.resize = raw_resize,
	.create = raw_create,
};
