/* Compressed clusters: raw deflate (zlib, window 2^12 as QEMU writes it)
 * and zstd frames (one frame per cluster, read by streaming until the
 * cluster is full: the data may be followed by the rest of its last
 * 512-byte sector). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "storage/qcow2_int.h"

#define DEFLATE_WINDOW_BITS (-12) /* raw deflate, no zlib header */

long qcow2_deflate(const void *src, size_t len, void *dst, size_t dstlen)
{
	z_stream z = { 0 };
	long out;
	int r;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, DEFLATE_WINDOW_BITS, 9,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)len;
	z.next_out = dst;
	z.avail_out = (uInt)dstlen;
	r = deflate(&z, Z_FINISH);
	out = r == Z_STREAM_END ? (long)(dstlen - z.avail_out) : 0;
	deflateEnd(&z);
	return out;
}

static int inflate_raw(const void *src, size_t len, void *dst, size_t dstlen)
{
	z_stream z = { 0 };
	int r;

	if (inflateInit2(&z, DEFLATE_WINDOW_BITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = (uInt)len;
	z.next_out = dst;
	z.avail_out = (uInt)dstlen;
	r = inflate(&z, Z_FINISH);
	/* QEMU accepts a stream that filled the cluster even without its end. */
	if (r != Z_STREAM_END && !(r == Z_BUF_ERROR && z.avail_out == 0))
		r = -EIO;
	else
		r = z.avail_out == 0 ? 0 : -EIO;
	inflateEnd(&z);
	return r;
}

static int unzstd(const void *src, size_t len, void *dst, size_t dstlen)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { src, len, 0 };
	ZSTD_outBuffer out = { dst, dstlen, 0 };
	int r = 0;

	if (!d)
		return -ENOMEM;
	while (out.pos < out.size) {
		size_t ret = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(ret) || (in.pos == in.size && out.pos < out.size && ret != 0) ||
		    (ret == 0 && out.pos < out.size)) {
			r = -EIO;
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return r;
}

int qcow2_decompress(int type, const void *src, size_t len, void *dst, size_t dstlen)
{
	if (type == 0)
		return inflate_raw(src, len, dst, dstlen);
	if (type == 1)
		return unzstd(src, len, dst, dstlen);
	return -EINVAL;
}

/* A compressor keeps its codec state from one cluster to the next: deflate
 * and zstd each set up a few hundred KiB of state, and made afresh for
 * every cluster those pages are faulted in again every time (on several
 * threads at once, that costs more than the compression itself). */
struct qcow2_zctx {
	enum img_compression type;
	z_stream z;      /* deflate, reset for each cluster */
	ZSTD_CCtx *zs;
	uint8_t *pad;    /* the short last cluster, zero-padded */
	uint32_t pad_size;
};

struct qcow2_zctx *qcow2_zctx_new(enum img_compression type)
{
	struct qcow2_zctx *c;

	if (type != IMG_COMPRESS_ZLIB && type != IMG_COMPRESS_ZSTD)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->type = type;
	if (type == IMG_COMPRESS_ZSTD)
		c->zs = ZSTD_createCCtx();
	else if (deflateInit2(&c->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, DEFLATE_WINDOW_BITS, 9,
			      Z_DEFAULT_STRATEGY) != Z_OK)
		c->z.state = NULL;
	if (type == IMG_COMPRESS_ZSTD ? !c->zs : !c->z.state) {
		free(c);
		return NULL;
	}
	return c;
}

void qcow2_zctx_free(struct qcow2_zctx *c)
{
	if (!c)
		return;
	if (c->type == IMG_COMPRESS_ZSTD)
		ZSTD_freeCCtx(c->zs);
	else
		deflateEnd(&c->z);
	free(c->pad);
	free(c);
}

static long zctx_deflate(struct qcow2_zctx *c, const void *src, size_t len, void *dst, size_t dstlen)
{
	int r;

	if (deflateReset(&c->z) != Z_OK)
		return -EIO;
	c->z.next_in = (Bytef *)(uintptr_t)src;
	c->z.avail_in = (uInt)len;
	c->z.next_out = dst;
	c->z.avail_out = (uInt)dstlen;
	r = deflate(&c->z, Z_FINISH);
	return r == Z_STREAM_END ? (long)(dstlen - c->z.avail_out) : 0;
}

static long zctx_zstd(struct qcow2_zctx *c, const void *src, size_t len, void *dst, size_t dstlen)
{
	size_t n = ZSTD_compressCCtx(c->zs, dst, dstlen, src, len, ZSTD_CLEVEL_DEFAULT);

	if (!ZSTD_isError(n))
		return (long)n;
	return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
}

/* SRC padded with zeros to CLUSTER_SIZE, in the context's own buffer. */
static const void *zctx_padded(struct qcow2_zctx *c, uint32_t cluster_size, const void *src, size_t len)
{
	if (c->pad_size < cluster_size) {
		free(c->pad);
		c->pad = malloc(cluster_size);
		c->pad_size = c->pad ? cluster_size : 0;
		if (!c->pad)
			return NULL;
	}
	memcpy(c->pad, src, len);
	memset(c->pad + len, 0, cluster_size - len);
	return c->pad;
}

long qcow2_zctx_compress(struct qcow2_zctx *c, uint32_t cluster_size, const void *src, size_t len, void *dst)
{
	if (len > cluster_size || cluster_size < 512)
		return -EINVAL;
	if (len < cluster_size && !(src = zctx_padded(c, cluster_size, src, len)))
		return -ENOMEM;
	/* one byte less than a cluster: a compressed cluster must save space */
	if (c->type == IMG_COMPRESS_ZSTD)
		return zctx_zstd(c, src, cluster_size, dst, cluster_size - 1);
	return zctx_deflate(c, src, cluster_size, dst, cluster_size - 1);
}

long qcow2_compress_cluster(enum img_compression type, uint32_t cluster_size, const void *src, size_t len,
			   void *dst)
{
	struct qcow2_zctx *c = qcow2_zctx_new(type);
	long n;

	if (!c)
		return type != IMG_COMPRESS_ZLIB && type != IMG_COMPRESS_ZSTD ? -EINVAL : -ENOMEM;
	n = qcow2_zctx_compress(c, cluster_size, src, len, dst);
	qcow2_zctx_free(c);
	return n;
}

enum img_compression qcow2_compression(const struct qcow2 *q)
{
	return q->compression_type ? IMG_COMPRESS_ZSTD : IMG_COMPRESS_ZLIB;
}
