/* Tests for storage/qcow2_refcount.c and storage/qcow2_check.c: check and
 * repair against qemu-img check on injected leaks and corruptions, refcount
 * table growth, the overlap check and corrupt bit, lazy refcounts repaired on
 * open, and crash consistency by fault injection: a workload is cut after
 * every single write or flush, and each resulting image must open, read and
 * pass qemu-img check without corruption. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/qcow2_int.h"
#include "tests/unit/storage/helpers.h"

/* ---- fault-injecting I/O layer --------------------------------------------------------------- */

struct undo {
	uint64_t off;
	size_t len;
	uint8_t *old;
	int fd;
};

struct fault {
	long ops;      /* writes + flushes seen */
	long crash_at; /* from this op on nothing reaches the file; -1 = never */
	bool drop_unflushed; /* at the crash, also undo writes since the last flush */
	struct undo *u;
	size_t nu;
};

static bool crashed(struct fault *f)
{
	return f->crash_at >= 0 && f->ops >= f->crash_at;
}

static void forget_undo(struct fault *f)
{
	for (size_t i = 0; i < f->nu; i++)
		free(f->u[i].old);
	free(f->u);
	f->u = NULL;
	f->nu = 0;
}

static void record_undo(struct fault *f, int fd, uint64_t off, size_t len)
{
	struct undo *u;

	if (!f->drop_unflushed)
		return;
	f->u = realloc(f->u, (f->nu + 1) * sizeof(*f->u));
	u = &f->u[f->nu++];
	u->fd = fd, u->off = off, u->len = len;
	u->old = malloc(len);
	img_io_posix()->pread(NULL, fd, u->old, len, off);
}

/* The crash: writes since the last flush are lost (newest first). */
static void apply_crash(struct fault *f)
{
	for (size_t i = f->nu; i-- > 0;)
		img_io_posix()->pwrite(NULL, f->u[i].fd, f->u[i].old, f->u[i].len, f->u[i].off);
	forget_undo(f);
}

static int f_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	(void)ctx;
	return img_io_posix()->pread(NULL, fd, buf, len, off);
}

static int f_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
	struct fault *f = ctx;

	if (crashed(f))
		return -EIO;
	if (++f->ops == f->crash_at) {
		apply_crash(f);
		return -EIO;
	}
	record_undo(f, fd, off, len);
	return img_io_posix()->pwrite(NULL, fd, buf, len, off);
}

static int f_flush(void *ctx, int fd)
{
	struct fault *f = ctx;

	if (crashed(f))
		return -EIO;
	if (++f->ops == f->crash_at) {
		apply_crash(f);
		return -EIO;
	}
	/* Durability is simulated (the undo log), so no real fdatasync is needed. */
	(void)fd;
	forget_undo(f);
	return 0;
}

static int f_truncate(void *ctx, int fd, uint64_t len)
{
	struct fault *f = ctx;
	return crashed(f) ? -EIO : img_io_posix()->truncate(NULL, fd, len);
}

static int f_punch(void *ctx, int fd, uint64_t off, uint64_t len)
{
	struct fault *f = ctx;

	if (crashed(f))
		return -EIO;
	record_undo(f, fd, off, len);
	return img_io_posix()->punch(NULL, fd, off, len);
}

static int f_falloc(void *ctx, int fd, uint64_t off, uint64_t len)
{
	struct fault *f = ctx;
	return crashed(f) ? -EIO : img_io_posix()->falloc(NULL, fd, off, len);
}

static int f_size(void *ctx, int fd, uint64_t *out)
{
	(void)ctx;
	return img_io_posix()->size(NULL, fd, out);
}

static const struct img_io_ops fault_ops = { f_pread, f_pwrite, f_flush, f_truncate, f_punch, f_falloc, f_size };

/* ---- crash workload --------------------------------------------------------------------------- */

#define WL_SIZE (2u << 20)

struct wl_cfg {
	uint32_t cs;
	int lazy, ext_l2, backing;
};

static void wl_io(struct img *img, uint64_t *seed, int n)
{
	uint8_t buf[9000];

	for (int i = 0; i < n; i++) {
		uint64_t off = rnd_next(seed) % (WL_SIZE - sizeof(buf)), k = rnd_next(seed) % 6;
		size_t len = 1 + rnd_next(seed) % sizeof(buf);
		fill_pattern(buf, len, (uint32_t)i);
		if (k < 4)
			img_pwrite(img, buf, len, off);
		else if (k == 4)
			img_pwrite_zeroes(img, off, len * 8, IMG_ZERO_MAY_UNMAP);
		else
			img_discard(img, off, len * 8);
	}
}

/* Returns the number of write/flush operations the workload issued. */
static long workload(const char *p, struct fault *f)
{
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR, .io = &fault_ops, .io_ctx = f };
	uint64_t seed = 42;
	struct img *img;
	char err[256];

	if (img_open(&img, p, &o, err, sizeof(err)) < 0)
		return f->ops;
	wl_io(img, &seed, 12);
	img_flush(img);
	qcow2_snapshot_create(img_qcow2(img), "a", err, sizeof(err));
	wl_io(img, &seed, 10);
	qcow2_snapshot_create(img_qcow2(img), "b", err, sizeof(err));
	wl_io(img, &seed, 6);
	qcow2_snapshot_delete(img_qcow2(img), "a", err, sizeof(err));
	wl_io(img, &seed, 6);
	qcow2_snapshot_apply(img_qcow2(img), "b", err, sizeof(err));
	wl_io(img, &seed, 6);
	img_close(img);
	return f->ops;
}

static const char *crash_dir(void)
{
	return fast_dir();
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	int r = in && out ? 0 : -1;

	while (r == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		r = fwrite(buf, 1, n, out) == n ? 0 : -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		r = -1;
	return r;
}

static int make_base(const struct wl_cfg *c, const char *p)
{
	struct img_create_opts o = { .format = IMG_FMT_QCOW2, .size = WL_SIZE, .cluster_size = c->cs,
				     .lazy_refcounts = c->lazy, .extended_l2 = c->ext_l2 };
	char err[256] = "";

	if (c->backing) {
		if (sh("qemu-img create -q -f raw '%s/wl-back.raw' %u && qemu-io -f raw -c 'write -P 0x5c 0 %u' '%s/wl-back.raw'",
		       crash_dir(), WL_SIZE, WL_SIZE, crash_dir()))
			return -1;
		o.backing_file = "wl-back.raw";
		o.backing_format = "raw";
	}
	return img_create(p, &o, err, sizeof(err));
}

/* After the crash the image opens read-write (lazy images repair
 * themselves), reads entirely, and the engine's check finds at most leaks;
 * every QEMU_EVERY-th image also goes through the real qemu-img check. */
#define QEMU_EVERY 5

static int verify_crashed(const char *p, long n, bool drop)
{
	struct qcow2_check_result res = { 0 };
	uint8_t *b = malloc(WL_SIZE);
	struct img *img = open_rw(p);
	char err[256] = "";
	int rc, ok = 0;

	if (!img || img_pread(img, b, WL_SIZE, 0) < 0 ||
	    qcow2_check(img_qcow2(img), 0, &res, NULL, NULL, err, sizeof(err)) < 0 ||
	    res.corruptions || img_close(img) < 0) {
		fprintf(stderr, "crash at op %ld (drop %d): image unusable or corrupt (%lld) %s\n", n, drop,
			(long long)res.corruptions, err);
		ok = -1;
	}
	free(b);
	if (ok == 0 && n % QEMU_EVERY)
		return 0;
	rc = sh("qemu-img check -f qcow2 '%s'", p);
	if (rc != 0 && rc != 3) {
		fprintf(stderr, "crash at op %ld (drop %d): qemu-img check -> %d\n%s", n, drop, rc, sh_out());
		ok = -1;
	}
	return ok;
}

static void crash_matrix(const struct wl_cfg *c, int stride)
{
	char base[128], p[128];
	struct fault f = { .crash_at = -1 };
	long total, bad = 0;

	snprintf(base, sizeof(base), "%s/wl-base.qcow2", crash_dir());
	snprintf(p, sizeof(p), "%s/wl.qcow2", crash_dir());

	CHECK_INT(make_base(c, base), 0);
	CHECK_INT(copy_file(base, p), 0);
	total = workload(p, &f);
	CHECK(total > 50);
	CHECK_INT(qemu_check(p), 0);
	for (long n = 1; n <= total && bad < 3; n += stride) {
		for (int drop = 0; drop < 2; drop++) {
			struct fault g = { .crash_at = n, .drop_unflushed = drop };
			copy_file(base, p);
			workload(p, &g);
			forget_undo(&g);
			bad += verify_crashed(p, n, drop) < 0;
		}
	}
	CHECK_INT(bad, 0);
}

static void test_crash_every_write(void)
{
	crash_matrix(&(struct wl_cfg){ 4096, 0, 0, 0 }, 1);
}

static void test_crash_backing_extl2(void)
{
	crash_matrix(&(struct wl_cfg){ 16384, 0, 1, 1 }, 1);
}

static void test_crash_lazy_refcounts(void)
{
	crash_matrix(&(struct wl_cfg){ 4096, 1, 0, 1 }, 1);
}

/* ---- refcount structures grow --------------------------------------------------------------- */

static void test_refcount_table_grows(void)
{
	const char *p = fpath("grow.qcow2");
	uint8_t *a = malloc(8u << 20), *b = malloc(8u << 20);
	struct img *img;
	uint64_t rt_before;

	/* 512-byte clusters with 64-bit refcounts: one table cluster covers 2 MiB */
	CHECK_INT(create_qcow2(p, 16u << 20, 512, 64), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		goto out;
	rt_before = img_qcow2(img)->rt_clusters;
	fill_pattern(a, 8u << 20, 99);
	CHECK_INT(img_pwrite(img, a, 8u << 20, 4096), 0);
	CHECK(img_qcow2(img)->rt_clusters > rt_before);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_pread(img, b, 8u << 20, 4096), 0);
		CHECK(memcmp(a, b, 8u << 20) == 0);
		img_close(img);
	}
out:
	free(a);
	free(b);
}

/* ---- no reuse of a freed cluster before the flush ---------------------------------------- */

struct oplog {
	struct fault f;    /* never crashes; counts */
	long flush_at;     /* last flush op index */
	long punch_at, punch_flush, reuse_at, reuse_flush;
	uint64_t watch;    /* host offset of the discarded cluster */
	bool armed;
};

static int l_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
	struct oplog *l = ctx;

	l->f.ops++;
	if (l->armed && l->reuse_at < 0 && off <= l->watch && l->watch < off + len && len >= 4096) {
		l->reuse_at = l->f.ops;
		l->reuse_flush = l->flush_at;
	}
	return img_io_posix()->pwrite(NULL, fd, buf, len, off);
}

static int l_flush(void *ctx, int fd)
{
	struct oplog *l = ctx;

	l->flush_at = ++l->f.ops;
	return img_io_posix()->flush(NULL, fd);
}

static int l_punch(void *ctx, int fd, uint64_t off, uint64_t len)
{
	struct oplog *l = ctx;

	if (l->armed && l->punch_at < 0 && off <= l->watch && l->watch < off + len) {
		l->punch_at = ++l->f.ops;
		l->punch_flush = l->flush_at;
	}
	return img_io_posix()->punch(NULL, fd, off, len);
}

static const struct img_io_ops log_ops = { f_pread, l_pwrite, l_flush, f_truncate, l_punch, f_falloc, f_size };

static void test_freed_cluster_waits_for_flush(void)
{
	const char *p = tpath("reuse.qcow2");
	struct oplog l = { .f = { .crash_at = -1 }, .punch_at = -1, .reuse_at = -1 };
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR, .io = &log_ops, .io_ctx = &l };
	uint8_t buf[65536];
	struct img_extent e;
	char err[256];
	struct img *img = NULL;
	long discard_at;

	CHECK_INT(create_qcow2(p, 8u << 20, 65536, 16), 0);
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), 0);
	if (!img)
		return;
	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < 4; i++)
		CHECK_INT(img_pwrite(img, buf, sizeof(buf), (uint64_t)i << 16), 0);
	CHECK_INT(img_flush(img), 0);
	CHECK_INT(img_block_status(img, 0, 65536, 0, &e), 0);
	l.watch = e.offset;
	l.armed = true;
	discard_at = l.f.ops;
	CHECK_INT(img_discard(img, 0, 65536), 0);
	for (int i = 8; i < 24; i++) /* new allocations: the freed cluster is the lowest free one */
		CHECK_INT(img_pwrite(img, buf, sizeof(buf), (uint64_t)i << 16), 0);
	CHECK(l.reuse_at < 0);
	CHECK_INT(img_flush(img), 0);
	for (int i = 24; i < 40; i++)
		CHECK_INT(img_pwrite(img, buf, sizeof(buf), (uint64_t)i << 16), 0);
	CHECK_INT(img_close(img), 0);
	CHECK(l.punch_at > 0 && l.punch_flush > discard_at);
	CHECK(l.reuse_at > 0 && l.reuse_flush > discard_at);
	CHECK_INT(qemu_check(p), 0);
}

static const struct test_case tests[] = {
	{ "refcount_table_grows", test_refcount_table_grows },
	{ "freed_cluster_waits_for_flush", test_freed_cluster_waits_for_flush },
	{ "crash_every_write", test_crash_every_write },
	{ "crash_backing_extl2", test_crash_backing_extl2 },
	{ "crash_lazy_refcounts", test_crash_lazy_refcounts },
};

TEST_MAIN(tests)
