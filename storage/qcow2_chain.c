/* Backing-chain operations on a qcow2 overlay: commit into the backing
 * file and rebase (safe: copy what would change; unsafe: header only). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define CHAIN_CHUNK (1u << 20) /* bytes copied per step */

static int progress_step(img_progress_fn fn, void *opaque, uint64_t done, uint64_t total)
{
	return fn && fn(opaque, done, total) ? -ECANCELED : 0;
}

/* ---- commit --------------------------------------------------------------------------------- */

/* Copies an extent the layers above the base own, as the top shows it. */
static int copy_extent(struct img *top, struct img *base, const struct img_extent *e, uint8_t *buf)
{
	uint64_t pos = e->start, end = e->start + e->length;
	int r = 0;

	if (e->flags & IMG_BS_ZERO)
		return img_pwrite_zeroes(base, pos, end - pos, 0);
	while (r == 0 && pos < end) {
		size_t n = end - pos < CHAIN_CHUNK ? (size_t)(end - pos) : CHAIN_CHUNK;
		r = img_pread(top, buf, n, pos);
		if (r == 0)
			r = img_pwrite(base, buf, n, pos);
		pos += n;
	}
	return r;
}

/* The chain of TOP ends above the base here: every range some layer
 * answers for goes into BASE. */
static int commit_copy(struct img *top, struct img *base, img_progress_fn fn, void *opaque)
{
	uint8_t *buf = qcow2_io_alloc(CHAIN_CHUNK, false);
	struct img_extent e;
	uint64_t pos = 0;
	int r = buf ? 0 : -ENOMEM;

	if (r == 0 && base->size < top->size)
		r = img_resize(base, top->size, 0, IMG_PREALLOC_OFF, NULL, 0);
	while (r == 0 && pos < top->size) {
		r = img_block_status(top, pos, top->size - pos, IMG_BS_FOLLOW_BACKING, &e);
		if (r == 0 && (e.flags & IMG_BS_ALLOCATED))
			r = copy_extent(top, base, &e, buf);
		if (r == 0)
			r = progress_step(fn, opaque, pos + e.length, top->size);
		pos += e.length;
	}
	free(buf);
	return r == 0 ? img_flush(base) : r;
}

/* The layer whose backing file is BASE (NULL: the top's own backing). */
static struct img *layer_above(struct img *top, struct img *base)
{
	struct img *p = top;

	if (!base)
		return top->backing ? top : NULL;
	while (p && p->backing != base)
		p = p->backing;
	return p;
}

/* The base is reopened read-write on its own (our read-only handle's lock
 * would forbid that), then reopened read-only below the layer above it. */
int qcow2_commit(struct qcow2 *q, struct img *base_layer, unsigned flags, img_progress_fn progress,
		 void *opaque, char *err, size_t errlen)
{
	struct img *top = q->img, *above = layer_above(top, base_layer), *base = NULL;
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR, .io = top->io, .io_ctx = top->io_ctx,
				   .allowed_dirs = (const char *const *)top->allowed };
	char *path;
	int r, r2;

	if (!top->rw || !above)
		return img_fmterr(err, errlen, !top->rw ? -EBADF : CR_EINVAL_PARAM,
				  !top->rw ? "Image is opened read-only"
				  : top->backing ? "The base is not in the backing chain"
						 : "Image does not have a backing file");
	path = strdup(above->backing->path);
	if (!path)
		return -ENOMEM;
	o.format = above->backing->drv->name;
	img_close(above->backing);
	above->backing = NULL;
	r = img_open(&base, path, &o, err, errlen);
	if (r == 0) {
		r = commit_copy(top, base, progress, opaque);
		if (r < 0)
			img_fmterr(err, errlen, r, "Commit failed: %s", img_last_error(base));
		r2 = img_close(base);
		r = r < 0 ? r : r2;
	}
	if (r == 0 && !(flags & QCOW2_COMMIT_KEEP))
		r = qcow2_make_empty(q);
	r2 = img_open_backing(above, above->q->backing_name, above->q->backing_format, r < 0 ? NULL : err,
			      errlen);
	free(path);
	return r < 0 ? r : r2;
}

/* ---- rebase --------------------------------------------------------------------------------- */

static int read_layer(struct img *b, uint8_t *buf, size_t n, uint64_t off)
{
	uint64_t avail = !b || off >= b->size ? 0 : b->size - off;

	if (avail < n)
		memset(buf + avail, 0, n - avail);
	return avail ? img_pread(b, buf, avail < n ? (size_t)avail : n, off) : 0;
}

/* Where the overlay does not answer, copy the old chain's bytes in when the
 * new chain would show different ones. */
static int rebase_copy(struct qcow2 *q, struct img *nb, img_progress_fn fn, void *opaque)
{
	struct img *top = q->img;
	uint8_t *a = qcow2_io_alloc(q->cluster_size, false), *b = qcow2_io_alloc(q->cluster_size, false);
	struct img_extent e;
	int r = a && b ? 0 : -ENOMEM;

	for (uint64_t pos = 0; r == 0 && pos < top->size; pos += e.length) {
		r = img_block_status(top, pos, top->size - pos, 0, &e);
		if (r < 0 || (e.flags & IMG_BS_ALLOCATED))
			continue;
		for (uint64_t p = pos; r == 0 && p < pos + e.length;) {
			size_t n = (size_t)(q->cluster_size - (p & (q->cluster_size - 1)));
			if (n > pos + e.length - p)
				n = (size_t)(pos + e.length - p);
			r = read_layer(top->backing, a, n, p);
			if (r == 0)
				r = read_layer(nb, b, n, p);
			if (r == 0 && memcmp(a, b, n))
				r = img_pwrite(top, a, n, p);
			p += n;
		}
		if (r == 0)
			r = progress_step(fn, opaque, pos + e.length, top->size);
	}
	free(a);
	free(b);
	return r;
}

static int set_backing_header(struct qcow2 *q, const char *name, const char *fmt)
{
	char *nn = name && *name ? strdup(name) : NULL, *nf = fmt && nn ? strdup(fmt) : NULL;
	int r;

	if ((name && *name && !nn) || (fmt && nn && !nf)) {
		free(nn);
		free(nf);
		return -ENOMEM;
	}
	free(q->backing_name);
	free(q->backing_format);
	q->backing_name = nn;
	q->backing_format = nf;
	r = qcow2_flush_all(q);
	if (r == 0)
		r = qcow2_write_header(q);
	return r == 0 ? img_file_sync(q->img) : r;
}

static int open_new_backing(struct img *top, const char *name, const char *fmt,
			    const char *const *allowed, struct img **out, char *err, size_t errlen)
{
	struct img_open_opts o = { .format = fmt, .io = top->io, .io_ctx = top->io_ctx,
				   .flags = top->flags & IMG_OPEN_SHARED };
	char real[4096];
	int r = img_backing_path(top, name, (char *const *)allowed, real, sizeof(real), err, errlen);

	o.allowed_dirs = allowed ? allowed : (const char *const *)top->allowed;
	return r < 0 ? r : img_open(out, real, &o, err, errlen);
}

int qcow2_rebase(struct qcow2 *q, const char *new_backing, const char *new_format,
		 unsigned flags, const char *const *allowed_dirs,
		 img_progress_fn progress, void *opaque, char *err, size_t errlen)
{
	struct img *top = q->img, *nb = NULL;
	bool none = !new_backing || !*new_backing;
	int r;

	if (!top->rw)
		return img_fmterr(err, errlen, -EBADF, "Image is opened read-only");
	if (new_backing && strlen(new_backing) > QCOW2_MAX_BACKING_NAME)
		return img_fmterr(err, errlen, CR_EINVAL_PARAM, "Backing file name too long");
	if (!(flags & QCOW2_REBASE_UNSAFE)) {
		if (q->backing_name && !top->backing && !(top->flags & IMG_OPEN_NO_BACKING))
			return img_fmterr(err, errlen, CR_EINVAL_PARAM, "Old backing file is not open");
		r = none ? 0 : open_new_backing(top, new_backing, new_format, allowed_dirs, &nb, err, errlen);
		if (r == 0)
			r = rebase_copy(q, nb, progress, opaque);
		if (r < 0) {
			img_close(nb);
			return img_fmterr(err, errlen, r, "Rebase failed: %s", top->errmsg);
		}
	}
	r = set_backing_header(q, none ? NULL : new_backing, new_format);
	if (r < 0) {
		img_close(nb);
		return img_fmterr(err, errlen, r, "Could not update the header: %s", top->errmsg);
	}
	img_close(top->backing);
	top->backing = nb;
	if (nb)
		nb->parent = top;
	for (unsigned d = top->depth + 1; nb; nb = nb->backing)
		nb->depth = d++;
	return 0;
}
