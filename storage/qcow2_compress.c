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

/* One zstd frame at the default level; 0 when it does not fit in DSTLEN. */
static long zstd_frame(const void *src, size_t len, void *dst, size_t dstlen)
{
	size_t n = ZSTD_compress(dst, dstlen, src, len, ZSTD_CLEVEL_DEFAULT);

	if (!ZSTD_isError(n))
		return (long)n;
	return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
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

long qcow2_compress_cluster(enum img_compression type, uint32_t cluster_size, const void *src, size_t len,
			   void *dst)
{
	uint8_t *full = NULL;
	long n;

	if (len > cluster_size || cluster_size < 512 || (type != IMG_COMPRESS_ZLIB && type != IMG_COMPRESS_ZSTD))
		return -EINVAL;
	if (len < cluster_size) {
		full = calloc(1, cluster_size);
		if (!full)
			return -ENOMEM;
		memcpy(full, src, len);
	}
	/* one byte less than a cluster: a compressed cluster must save space */
	if (type == IMG_COMPRESS_ZSTD)
		n = zstd_frame(full ? full : src, cluster_size, dst, cluster_size - 1);
	else
		n = qcow2_deflate(full ? full : src, cluster_size, dst, cluster_size - 1);
	free(full);
	return n;
}

enum img_compression qcow2_compression(const struct qcow2 *q)
{
	return q->compression_type ? IMG_COMPRESS_ZSTD : IMG_COMPRESS_ZLIB;
}
