/* imgio: applies a seeded random sequence of writes, zero-writes and discards to
 * an image through the storage library and mirrors each one into a raw
 * reference file, verifying reads on the way and the whole disk at the end.
 * Usage: imgio IMAGE REF SEED NOPS MAXLEN [ALIGN]   (exit 0 ok, 1 error, 2 mismatch) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/image.h"

struct run {
	struct img *img;
	int ref;
	uint64_t rng, size, maxlen, align, cluster;
	int can_discard;
	unsigned char *a, *b; /* MAXLEN bytes each */
};

static uint64_t rnd(struct run *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

/* A random range [off, off+len) inside the disk, aligned to r->align. */
static void pick(struct run *r, uint64_t *off, uint64_t *len)
{
	uint64_t n = 1 + rnd(r) % r->maxlen;

	*off = rnd(r) % r->size;
	*off -= *off % r->align;
	n = (n + r->align - 1) / r->align * r->align;
	if (n > r->size - *off)
		n = r->size - *off;
	*len = n;
}

static int ref_write(struct run *r, const void *buf, uint64_t len, uint64_t off)
{
	return pwrite(r->ref, buf, len, (off_t)off) == (ssize_t)len ? 0 : -EIO;
}

/* Data with some structure: random bytes, a repeated byte, or zeros. */
static void fill(struct run *r, unsigned char *buf, uint64_t len)
{
	uint64_t kind = rnd(r) % 4;

	if (kind == 0)
		memset(buf, 0, len);
	else if (kind == 1)
		memset(buf, (int)(rnd(r) & 0xff), len);
	else
		for (uint64_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(rnd(r) >> 24);
}

static int op_write(struct run *r, uint64_t off, uint64_t len)
{
	int rc;

	fill(r, r->a, len);
	rc = img_pwrite(r->img, r->a, len, off);
	return rc < 0 ? rc : ref_write(r, r->a, len, off);
}

static int op_zero(struct run *r, uint64_t off, uint64_t len)
{
	int rc = img_pwrite_zeroes(r->img, off, len, (rnd(r) & 1) ? IMG_ZERO_MAY_UNMAP : 0);

	memset(r->a, 0, len);
	return rc < 0 ? rc : ref_write(r, r->a, len, off);
}

/* Whole clusters inside the range read as zeros afterwards. */
static int op_discard(struct run *r, uint64_t off, uint64_t len)
{
	uint64_t c = r->cluster, first = (off + c - 1) / c * c, end = (off + len) / c * c;
	int rc = img_discard(r->img, off, len);

	if (rc < 0 || end <= first)
		return rc;
	memset(r->a, 0, end - first);
	return ref_write(r, r->a, end - first, first);
}

static int verify(struct run *r, uint64_t off, uint64_t len)
{
	int rc = img_pread(r->img, r->a, len, off);

	if (rc < 0)
		return rc;
	if (pread(r->ref, r->b, len, (off_t)off) != (ssize_t)len)
		return -EIO;
	for (uint64_t i = 0; i < len; i++)
		if (r->a[i] != r->b[i]) {
			fprintf(stderr, "imgio: mismatch at byte %" PRIu64 ": image %02x, reference %02x\n",
				off + i, r->a[i], r->b[i]);
			return 1;
		}
	return 0;
}

static int one_op(struct run *r)
{
	uint64_t off, len, kind = rnd(r) % 20;

	pick(r, &off, &len);
	if (kind < 11)
		return op_write(r, off, len);
	if (kind < 14)
		return op_zero(r, off, len);
	if (kind < 16 && r->can_discard)
		return op_discard(r, off, len);
	if (kind == 16)
		return img_flush(r->img);
	return verify(r, off, len);
}

static int verify_all(struct run *r)
{
	int rc = 0;

	for (uint64_t off = 0; off < r->size && rc == 0; off += r->maxlen)
		rc = verify(r, off, r->size - off < r->maxlen ? r->size - off : r->maxlen);
	return rc;
}

/* Discards are mirrored only where their result is known without the
 * backing file (qcow2 v3, or no backing file at all) and the disk ends on a
 * cluster boundary. */
static int setup(struct run *r, const char *image, const char *ref)
{
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR };
	struct img_info in;
	char err[512] = "";
	int rc = img_open(&r->img, image, &o, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "imgio: %s: %s\n", image, err[0] ? err : err_str(rc));
		return rc;
	}
	if ((rc = img_get_info(r->img, &in)) < 0)
		return rc;
	r->size = in.virtual_size;
	r->cluster = in.cluster_size;
	r->can_discard = in.format == IMG_FMT_QCOW2 && r->size % r->cluster == 0 &&
			 (in.version >= 3 || !in.backing_file[0]);
	r->ref = open(ref, O_RDWR);
	if (r->ref < 0 || ftruncate(r->ref, (off_t)r->size) < 0) {
		fprintf(stderr, "imgio: %s: %s\n", ref, strerror(errno));
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { .ref = -1 };
	uint64_t nops;
	int rc;

	if (argc < 6) {
		fprintf(stderr, "usage: imgio IMAGE REF SEED NOPS MAXLEN [ALIGN]\n");
		return 1;
	}
	r.rng = strtoull(argv[3], NULL, 0) * 2654435761u + 1;
	nops = strtoull(argv[4], NULL, 0);
	r.maxlen = strtoull(argv[5], NULL, 0);
	r.align = argc > 6 ? strtoull(argv[6], NULL, 0) : 1;
	r.a = malloc(r.maxlen + r.align);
	r.b = malloc(r.maxlen + r.align);
	rc = r.a && r.b && r.align ? setup(&r, argv[1], argv[2]) : -ENOMEM;
	for (uint64_t i = 0; i < nops && rc == 0; i++)
		rc = one_op(&r);
	if (rc == 0)
		rc = verify_all(&r);
	if (rc < 0)
		fprintf(stderr, "imgio: %s: %s (%s)\n", argv[1], err_str(rc), r.img ? img_last_error(r.img) : "");
	if (img_close(r.img) < 0 && rc == 0)
		rc = -EIO;
	if (r.ref >= 0)
		close(r.ref);
	free(r.a);
	free(r.b);
	return rc == 0 ? 0 : rc > 0 ? 2 : 1;
}
