/* Tests for storage/qcow2_cache.c: a cache much smaller than the disk's
 * metadata evicts dirty L2 tables and refcount blocks in the right order
 * (content and qemu-img check stay right), and handles on different
 * images work from different threads at once. */
#include <pthread.h>

#include "tests/unit/storage/helpers.h"

#define TINY_SIZE (8u << 20)

/* 512-byte clusters: 256 L2 tables for 8 MiB, the cache holds 4 of them. */
static int tiny_cache_run(const char *p, uint64_t seed)
{
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR, .l2_cache_bytes = 512, .refcount_cache_bytes = 512 };
	uint8_t *model = calloc(1, TINY_SIZE), *b = malloc(TINY_SIZE), buf[3000];
	char err[256];
	struct img *img = NULL;
	int r = create_qcow2(p, TINY_SIZE, 512, 16);

	if (r == 0)
		r = img_open(&img, p, &o, err, sizeof(err));
	for (int i = 0; r == 0 && i < 1500; i++) {
		uint64_t off = rnd_next(&seed) % (TINY_SIZE - sizeof(buf)), len = 1 + rnd_next(&seed) % sizeof(buf);
		fill_pattern(buf, len, (uint32_t)i);
		if (rnd_next(&seed) % 5) {
			r = img_pwrite(img, buf, len, off);
			memcpy(model + off, buf, len);
		} else {
			r = img_pwrite_zeroes(img, off, len * 4, IMG_ZERO_MAY_UNMAP);
			memset(model + off, 0, len * 4);
		}
	}
	if (r == 0)
		r = img_pread(img, b, TINY_SIZE, 0);
	if (r == 0 && memcmp(b, model, TINY_SIZE))
		r = -1;
	if (img && img_close(img) < 0 && r == 0)
		r = -1;
	free(model);
	free(b);
	return r;
}

static void test_tiny_cache_evicts_in_order(void)
{
	CHECK_INT(tiny_cache_run(fpath("tiny.qcow2"), 7), 0);
	CHECK_INT(qemu_check(fpath("tiny.qcow2")), 0);
}

struct worker {
	char path[512];
	uint64_t seed;
	int result;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	w->result = tiny_cache_run(w->path, w->seed);
	return NULL;
}

static void test_threads_on_different_images(void)
{
	struct worker w[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		snprintf(w[i].path, sizeof(w[i].path), "%s/thr%d.qcow2", fast_dir(), i);
		w[i].seed = 100 + (uint64_t)i;
		CHECK_INT(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(w[i].result, 0);
		CHECK_INT(qemu_check(w[i].path), 0);
	}
}

static const struct test_case tests[] = {
	{ "tiny_cache_evicts_in_order", test_tiny_cache_evicts_in_order },
	{ "threads_on_different_images", test_threads_on_different_images },
};

TEST_MAIN(tests)
