/* Shared helpers of the storage unit tests: paths in the test dir, running
 * the real qemu-img/qemu-io, creating and opening images in one line. */
#ifndef CORRAL_TESTS_STORAGE_HELPERS_H
#define CORRAL_TESTS_STORAGE_HELPERS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "storage/image.h"
#include "storage/qcow2.h"
#include "tests/unit/test.h"

static inline const char *tpath(const char *name)
{
	static char buf[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", test_tmpdir(), name);
	return buf[k];
}

static char fast_dir_buf[64];

static inline void fast_dir_cleanup(void)
{
	char cmd[128];

	if (fast_dir_buf[0] && !getenv("TEST_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fast_dir_buf);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", fast_dir_buf);
	}
}

/* A scratch directory on tmpfs (removed at exit) for tests that open and
 * flush images thousands of times; the test dir when there is no tmpfs. */
static inline const char *fast_dir(void)
{
	if (fast_dir_buf[0])
		return fast_dir_buf;
	snprintf(fast_dir_buf, sizeof(fast_dir_buf), "/dev/shm/corral-unit-XXXXXX");
	if (!mkdtemp(fast_dir_buf)) {
		snprintf(fast_dir_buf, sizeof(fast_dir_buf), "%s", test_tmpdir());
		return fast_dir_buf;
	}
	atexit(fast_dir_cleanup);
	return fast_dir_buf;
}

static inline const char *fpath(const char *name)
{
	static char buf[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", fast_dir(), name);
	return buf[k];
}

/* Runs a shell command (output to /dev/null unless it failed); returns its exit status. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[2048], full[2300];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "(%s) >%s/.out 2>&1", cmd, test_tmpdir());
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The output of the last sh() call (static buffer). */
static inline const char *sh_out(void)
{
	static char buf[65536];
	FILE *f;
	size_t n;

	snprintf(buf, sizeof(buf), "%s/.out", test_tmpdir());
	f = fopen(buf, "r");
	buf[0] = 0;
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* qemu-img check exit status: 0 clean, 2 corrupt, 3 leaks. Prints output when not 0. */
static inline int qemu_check(const char *path)
{
	int r = sh("qemu-img check -f qcow2 '%s'", path);

	if (r != 0)
		fprintf(stderr, "qemu-img check %s -> %d\n%s", path, r, sh_out());
	return r;
}

static inline struct img *open_rw(const char *path)
{
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR };
	struct img *img = NULL;
	char err[256] = "";

	if (img_open(&img, path, &o, err, sizeof(err)) < 0)
		fprintf(stderr, "open %s: %s\n", path, err);
	return img;
}

static inline struct img *open_ro(const char *path)
{
	struct img_open_opts o = { 0 };
	struct img *img = NULL;
	char err[256] = "";

	if (img_open(&img, path, &o, err, sizeof(err)) < 0)
		fprintf(stderr, "open %s: %s\n", path, err);
	return img;
}

static inline int create_qcow2(const char *path, uint64_t size, uint32_t cs, unsigned rbits)
{
	struct img_create_opts o = { .format = IMG_FMT_QCOW2, .size = size, .cluster_size = cs,
				     .refcount_bits = rbits };
	char err[256] = "";
	int r = img_create(path, &o, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "create %s: %s\n", path, err);
	return r;
}

/* Writes N bytes to a new file PATH; 0 or -1. */
static inline int write_bytes(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	int r = f && fwrite(d, 1, n, f) == n ? 0 : -1;

	if (f && fclose(f) != 0)
		r = -1;
	return r;
}

/* Overwrites N bytes at OFF of an existing file (to damage images on purpose). */
static inline int poke_bytes(const char *path, uint64_t off, const void *d, size_t n)
{
	FILE *f = fopen(path, "r+b");
	int r = f && fseeko(f, (off_t)off, SEEK_SET) == 0 && fwrite(d, 1, n, f) == n ? 0 : -1;

	if (f && fclose(f) != 0)
		r = -1;
	return r;
}

static inline void fill_pattern(uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
}

/* Deterministic PRNG for randomized tests (xorshift64*). */
static inline uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif
