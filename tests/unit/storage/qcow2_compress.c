/* Tests for storage/qcow2_compress.c: raw deflate round trips as QEMU
 * expects it (a stream that fills the cluster, trailing sector bytes
 * ignored), incompressible data is reported as not fitting, and damaged
 * zlib or zstd input fails cleanly; a compressor kept across clusters
 * writes what a fresh one writes. */
#include <errno.h>
#include <pthread.h>

#include "storage/qcow2_int.h"
#include "tests/unit/storage/helpers.h"

#define CS 65536

static uint8_t src[CS], out[CS], comp[2 * CS];

static void test_deflate_round_trip(void)
{
	long n;

	for (size_t i = 0; i < CS; i++)
		src[i] = (uint8_t)(i % 251 < 100 ? 'a' + i % 7 : 0);
	n = qcow2_deflate(src, CS, comp, CS - 1);
	CHECK(n > 0 && n < CS / 4);
	memset(comp + n, 0xee, 512); /* the rest of the last sector is garbage on disk */
	CHECK_INT(qcow2_decompress(0, comp, (size_t)n + 511, out, CS), 0);
	CHECK(memcmp(src, out, CS) == 0);
}

static void test_incompressible_does_not_fit(void)
{
	uint64_t s = 88172645463325252ull;

	for (size_t i = 0; i < CS; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		src[i] = (uint8_t)s;
	}
	CHECK_INT(qcow2_deflate(src, CS, comp, CS - 1), 0);
}

static void test_damaged_input_fails(void)
{
	long n;

	memset(src, 'z', CS);
	n = qcow2_deflate(src, CS, comp, CS - 1);
	CHECK(n > 0);
	CHECK_INT(qcow2_decompress(0, comp, (size_t)n / 2, out, CS), -EIO); /* cut short */
	memset(comp, 0xff, 64);
	CHECK(qcow2_decompress(0, comp, 64, out, CS) < 0);
	CHECK(qcow2_decompress(1, comp, 64, out, CS) < 0); /* not a zstd frame */
	CHECK_INT(qcow2_decompress(7, comp, 64, out, CS), -EINVAL);
}

/* Clusters compressed on worker threads, linked on the image's thread. */
#define PAR_CLUSTERS 32

struct job {
	const uint8_t *src;
	uint8_t *dst;
	long n;
};

static void *compress_job(void *arg)
{
	struct job *j = arg;

	j->n = qcow2_compress_cluster(IMG_COMPRESS_ZLIB, CS, j->src, CS, j->dst);
	return NULL;
}

static void test_parallel_compress_then_link(void)
{
	const char *p = tpath("par.qcow2"), *raw = tpath("par.raw");
	static uint8_t data[PAR_CLUSTERS * CS], dst[PAR_CLUSTERS][CS];
	struct job jobs[PAR_CLUSTERS];
	pthread_t t[PAR_CLUSTERS];
	struct img *img;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)((i / 777) % 5 ? 'q' : i);
	for (int k = 0; k < PAR_CLUSTERS; k++) {
		jobs[k] = (struct job){ data + (size_t)k * CS, dst[k], 0 };
		CHECK_INT(pthread_create(&t[k], NULL, compress_job, &jobs[k]), 0);
	}
	for (int k = 0; k < PAR_CLUSTERS; k++)
		pthread_join(t[k], NULL);
	CHECK_INT(create_qcow2(p, sizeof(data), CS, 16), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	for (int k = 0; img && k < PAR_CLUSTERS; k++) {
		CHECK(jobs[k].n > 0);
		CHECK_INT(qcow2_write_precompressed(img_qcow2(img), (uint64_t)k * CS, dst[k], (size_t)jobs[k].n), 0);
	}
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(write_bytes(raw, data, sizeof(data)), 0);
	CHECK_INT(sh("qemu-img compare -F raw '%s' '%s'", p, raw), 0);
}

/* A compressor reused across clusters (incompressible, compressible, a
 * short last cluster, in turn) gives what a fresh one gives each time,
 * and its output decompresses to the zero-padded input. */
static void zctx_matches_one_shot(enum img_compression type)
{
	static uint8_t data[3 * CS], once[CS], padded[CS];
	static const size_t lens[] = { CS, CS, CS / 3 };
	struct qcow2_zctx *c = qcow2_zctx_new(type);
	uint64_t s = 2463534242ull;

	CHECK(c != NULL);
	for (size_t i = 0; i < CS; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		data[i] = (uint8_t)s;
		data[CS + i] = data[2 * CS + i] = (uint8_t)(i % 300 < 120 ? 'k' + i % 5 : 0);
	}
	for (int round = 0; c && round < 2; round++)
		for (int k = 0; k < 3; k++) {
			long a = qcow2_zctx_compress(c, CS, data + (size_t)k * CS, lens[k], comp);
			long b = qcow2_compress_cluster(type, CS, data + (size_t)k * CS, lens[k], once);

			CHECK(a == b && a >= 0 && memcmp(comp, once, (size_t)a) == 0);
			CHECK(k == 0 ? a == 0 : a > 0);
			memset(padded, 0, CS);
			memcpy(padded, data + (size_t)k * CS, lens[k]);
			CHECK(a == 0 || (qcow2_decompress(type == IMG_COMPRESS_ZSTD, comp, (size_t)a, out, CS) == 0 &&
					 memcmp(out, padded, CS) == 0));
		}
	CHECK_INT(qcow2_zctx_compress(c, CS, data, CS + 1, comp), -EINVAL);
	qcow2_zctx_free(c);
	CHECK(qcow2_zctx_new((enum img_compression)7) == NULL);
}

static void test_zctx_zlib(void)
{
	zctx_matches_one_shot(IMG_COMPRESS_ZLIB);
}

static void test_zctx_zstd(void)
{
	zctx_matches_one_shot(IMG_COMPRESS_ZSTD);
}

static const struct test_case tests[] = {
	{ "zctx_zlib", test_zctx_zlib },
	{ "zctx_zstd", test_zctx_zstd },
	{ "deflate_round_trip", test_deflate_round_trip },
	{ "incompressible_does_not_fit", test_incompressible_does_not_fit },
	{ "damaged_input_fails", test_damaged_input_fails },
	{ "parallel_compress_then_link", test_parallel_compress_then_link },
};

TEST_MAIN(tests)
