/* Tests for storage/qcow2_cluster.c: a randomized differential test (random
 * writes, zero writes, discards, snapshots, reverts and reopens through the
 * library against an in-memory model, then qemu-img check and qemu-img
 * compare), zero writes of subclusters (extended L2), and writes into
 * new clusters that skip copying zeros only where the file reads as zeros. */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/unit/storage/helpers.h"

#define DIFF_SIZE (3u << 20)
#define MAX_SNAPS 4

struct model {
	uint8_t *cur, *backing;
	uint8_t *snap[MAX_SNAPS];
	char names[MAX_SNAPS][16];
	int nsnap, next_id;
	int version;
	unsigned rbits;
};

struct diff_cfg {
	uint32_t cs;
	unsigned rbits;
	int ext_l2, lazy, version, backing, ops;
};

static int setup(const struct diff_cfg *c, struct model *m, const char *p, uint64_t *seed)
{
	struct img_create_opts o = { .format = IMG_FMT_QCOW2, .size = DIFF_SIZE, .cluster_size = c->cs,
				     .refcount_bits = c->rbits, .extended_l2 = c->ext_l2,
				     .lazy_refcounts = c->lazy, .compat = c->version };
	char err[256] = "";

	memset(m, 0, sizeof(*m));
	m->cur = calloc(1, DIFF_SIZE);
	m->backing = calloc(1, DIFF_SIZE);
	m->version = c->version;
	m->rbits = c->rbits;
	if (c->backing) {
		for (size_t i = 0; i < DIFF_SIZE; i += 4096)
			if (rnd_next(seed) & 1)
				fill_pattern(m->backing + i, 4096, (uint32_t)i);
		memcpy(m->cur, m->backing, DIFF_SIZE);
		if (write_bytes(fpath("diff-base.raw"), m->backing, DIFF_SIZE) < 0)
			return -1;
		o.backing_file = "diff-base.raw";
		o.backing_format = "raw";
	}
	if (img_create(p, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "create: %s\n", err);
		return -1;
	}
	return 0;
}

static void random_range(uint64_t *seed, uint64_t *off, uint64_t *len, uint32_t cs)
{
	uint64_t r = rnd_next(seed);

	if (r & 1) { /* cluster-aligned, several clusters */
		*off = (rnd_next(seed) % (DIFF_SIZE / cs)) * cs;
		*len = cs * (1 + rnd_next(seed) % 5);
	} else {
		*off = rnd_next(seed) % DIFF_SIZE;
		*len = 1 + rnd_next(seed) % (3 * cs);
	}
	if (*off + *len > DIFF_SIZE)
		*len = DIFF_SIZE - *off;
}

static int op_data(struct img *img, struct model *m, uint64_t *seed, uint32_t cs, int kind)
{
	uint64_t off, len;
	uint8_t *b;
	int r;

	random_range(seed, &off, &len, cs);
	if (kind == 0) {
		b = malloc(len);
		fill_pattern(b, len, (uint32_t)rnd_next(seed));
		r = img_pwrite(img, b, len, off);
		memcpy(m->cur + off, b, len);
		free(b);
		return r;
	}
	if (kind == 1) {
		r = img_pwrite_zeroes(img, off, len, (rnd_next(seed) & 1) ? IMG_ZERO_MAY_UNMAP : 0);
		memset(m->cur + off, 0, len);
		return r;
	}
	r = img_discard(img, off, len);
	/* Whole clusters only; v3 reads zeros, v2 falls through to the backing file. */
	for (uint64_t c = (off + cs - 1) / cs * cs; c + cs <= off + len || (c < off + len && off + len == DIFF_SIZE); c += cs) {
		uint64_t n = c + cs > DIFF_SIZE ? DIFF_SIZE - c : cs;
		if (m->version == 2)
			memcpy(m->cur + c, m->backing + c, n);
		else
			memset(m->cur + c, 0, n);
	}
	return r;
}

static int op_snapshot(struct img *img, struct model *m, uint64_t *seed)
{
	struct qcow2 *q = img_qcow2(img);
	char err[256] = "";
	int k, r;

	if (m->rbits == 1) { /* no room for a refcount of 2: refused, nothing changes */
		r = qcow2_snapshot_create(q, "x", err, sizeof(err));
		return r == -ERANGE ? 0 : -1;
	}
	if (m->nsnap < MAX_SNAPS && (rnd_next(seed) & 1)) {
		snprintf(m->names[m->nsnap], 16, "s%d", m->next_id++);
		r = qcow2_snapshot_create(q, m->names[m->nsnap], err, sizeof(err));
		m->snap[m->nsnap] = malloc(DIFF_SIZE);
		memcpy(m->snap[m->nsnap++], m->cur, DIFF_SIZE);
	} else if (m->nsnap && (rnd_next(seed) & 1)) {
		k = (int)(rnd_next(seed) % (uint64_t)m->nsnap);
		r = qcow2_snapshot_apply(q, m->names[k], err, sizeof(err));
		memcpy(m->cur, m->snap[k], DIFF_SIZE);
	} else if (m->nsnap) {
		k = (int)(rnd_next(seed) % (uint64_t)m->nsnap);
		r = qcow2_snapshot_delete(q, m->names[k], err, sizeof(err));
		free(m->snap[k]);
		memmove(&m->snap[k], &m->snap[k + 1], (size_t)(m->nsnap - k - 1) * sizeof(m->snap[0]));
		memmove(m->names[k], m->names[k + 1], (size_t)(m->nsnap - k - 1) * 16);
		m->nsnap--;
	} else {
		return 0;
	}
	if (r < 0)
		fprintf(stderr, "snapshot op: %s\n", err);
	return r;
}

static int compare_all(struct img *img, const struct model *m)
{
	uint8_t *b = malloc(DIFF_SIZE);
	int r = img_pread(img, b, DIFF_SIZE, 0);

	if (r == 0 && memcmp(b, m->cur, DIFF_SIZE)) {
		for (size_t i = 0; i < DIFF_SIZE; i++)
			if (b[i] != m->cur[i]) {
				fprintf(stderr, "differs at %zu: %02x want %02x\n", i, b[i], m->cur[i]);
				break;
			}
		r = -1;
	}
	free(b);
	return r;
}

static void free_model(struct model *m)
{
	for (int i = 0; i < m->nsnap; i++)
		free(m->snap[i]);
	free(m->cur);
	free(m->backing);
}

static void diff_run(const struct diff_cfg *c, uint64_t seed)
{
	const char *p = fpath("diff.qcow2");
	struct model m;
	struct img *img;
	int r = 0;

	CHECK_INT(setup(c, &m, p, &seed), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	for (int i = 0; img && r == 0 && i < c->ops; i++) {
		uint64_t k = rnd_next(&seed) % 20;
		if (k < 10)
			r = op_data(img, &m, &seed, c->cs, 0);
		else if (k < 13)
			r = op_data(img, &m, &seed, c->cs, 1);
		else if (k < 16)
			r = op_data(img, &m, &seed, c->cs, 2);
		else if (k < 19)
			r = op_snapshot(img, &m, &seed);
		else {
			CHECK_INT(img_close(img), 0);
			img = open_rw(p);
		}
		if (r < 0)
			fprintf(stderr, "op %d (kind %llu) failed: %s\n", i, (unsigned long long)k,
				img ? img_last_error(img) : "");
		if (img && (i % 16 == 0 || r < 0) && compare_all(img, &m) < 0) {
			fprintf(stderr, "content differs after op %d (kind %llu)\n", i, (unsigned long long)k);
			r = -1;
		}
	}
	CHECK_INT(r, 0);
	if (img) {
		CHECK_INT(compare_all(img, &m), 0);
		CHECK_INT(img_close(img), 0);
	}
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(write_bytes(fpath("diff-model.raw"), m.cur, DIFF_SIZE), 0);
	CHECK_INT(sh("qemu-img compare -f qcow2 -F raw '%s' '%s'", p, fpath("diff-model.raw")), 0);
	free_model(&m);
}

static void test_differential(void)
{
	static const struct diff_cfg cfgs[] = {
		{ 65536, 16, 0, 0, 3, 0, 300 },  { 4096, 16, 0, 0, 3, 1, 300 },
		{ 512, 1, 0, 0, 3, 0, 200 },     { 1024, 64, 0, 1, 3, 1, 200 },
		{ 65536, 16, 1, 0, 3, 1, 300 },  { 16384, 4, 1, 0, 3, 0, 200 },
		{ 8192, 16, 0, 0, 2, 1, 200 },   { 2u << 20, 32, 0, 1, 3, 1, 60 },
		{ 65536, 16, 0, 0, 2, 0, 200 },
		{ 4096, 8, 0, 1, 3, 0, 300 },
	};

	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		int before = test_failures;
		diff_run(&cfgs[i], 0x9e3779b97f4a7c15ull * (i + 1));
		if (test_failures != before)
			fprintf(stderr, "  in config %zu (cs %u, refcount %u, extl2 %d, lazy %d, v%d, backing %d)\n",
				i, cfgs[i].cs, cfgs[i].rbits, cfgs[i].ext_l2, cfgs[i].lazy, cfgs[i].version,
				cfgs[i].backing);
	}
}

static uint64_t file_u64(const char *path, uint64_t off)
{
	uint8_t b[8] = { 0 };
	FILE *f = fopen(path, "rb");

	if (f && fseek(f, (long)off, SEEK_SET) == 0 && fread(b, 1, 8, f) != 8)
		memset(b, 0, 8);
	if (f)
		fclose(f);
	return ((uint64_t)b[0] << 56) | ((uint64_t)b[1] << 48) | ((uint64_t)b[2] << 40) | ((uint64_t)b[3] << 32) |
	       ((uint64_t)b[4] << 24) | ((uint64_t)b[5] << 16) | ((uint64_t)b[6] << 8) | b[7];
}

static bool all_byte(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* As QEMU (128 KiB clusters): an 8 KiB zero write at 64 KiB into an
 * allocated cluster clears allocation bits 16-17 and sets zero bits 16-17. */
static void test_extl2_zero_subclusters(void)
{
	const char *p = tpath("sczero.qcow2");
	uint8_t *b = malloc(128 << 10);
	uint64_t l2, bm;
	struct img *img;

	CHECK_INT(sh("qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=128k '%s' 1M", p), 0);
	img = open_rw(p);
	CHECK(img != NULL && b != NULL);
	memset(b, 0xab, 128 << 10);
	CHECK_INT(img_pwrite(img, b, 128 << 10, 0), 0);
	CHECK_INT(img_pwrite_zeroes(img, 64 << 10, 8 << 10, 0), 0);
	/* a partial subcluster around whole ones: data zeros, then zero bits */
	CHECK_INT(img_pwrite_zeroes(img, (16 << 10) - 512, (8 << 10) + 512, 0), 0);
	CHECK_INT(img_close(img), 0);
	l2 = file_u64(p, file_u64(p, 40)) & 0x00fffffffffffe00ull; /* L1[0] */
	bm = file_u64(p, l2 + 8);                                  /* entry 0's bitmap */
	CHECK((bm & 0xffffffffull) == (0xffffffffull & ~(3ull << 16) & ~(3ull << 4)));
	CHECK((bm >> 32) == ((3ull << 16) | (3ull << 4)));
	CHECK_INT(qemu_check(p), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	CHECK_INT(img_pread(img, b, 128 << 10, 0), 0);
	CHECK(all_byte(b, (16 << 10) - 512, 0xab) && all_byte(b + (16 << 10) - 512, (8 << 10) + 512, 0));
	CHECK(all_byte(b + (24 << 10), 40 << 10, 0xab) && all_byte(b + (64 << 10), 8 << 10, 0));
	CHECK(all_byte(b + (72 << 10), 56 << 10, 0xab));
	img_close(img);
	free(b);
}

static int no_punch(void *ctx, int fd, uint64_t off, uint64_t len)
{
	(void)ctx, (void)fd, (void)off, (void)len;
	return 0;
}

/* A 4 KiB write into a new cluster past the end of the file writes only
 * those 4 KiB; into a reused cluster (freed, its old bytes still there: this
 * I/O layer punches no holes) it writes the whole cluster, zeros around. */
static void test_fresh_cluster_write(void)
{
	const char *p = tpath("fresh.qcow2");
	struct img_io_ops io = *img_io_posix();
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR, .io = &io };
	struct img *img = NULL;
	uint8_t *b = malloc(64 << 10);
	char err[256] = "";
	struct stat st;
	off_t end;

	io.punch = no_punch;
	CHECK(b != NULL);
	CHECK_INT(create_qcow2(p, 8 << 20, 65536, 16), 0);
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), 0);
	memset(b, 0xcd, 64 << 10);
	CHECK_INT(img_pwrite(img, b, 4096, 8192), 0);
	CHECK_INT(img_flush(img), 0);
	CHECK_INT(stat(p, &st), 0);
	end = st.st_size;
	CHECK(end % 65536 == 8192 + 4096); /* the data cluster holds only the written block */
	CHECK_INT(img_pwrite(img, b, 64 << 10, 1 << 20), 0);
	CHECK_INT(img_discard(img, 1 << 20, 64 << 10), 0);
	CHECK_INT(img_flush(img), 0);
	CHECK_INT(img_pwrite(img, b, 4096, 2 << 20), 0); /* takes the freed cluster */
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	CHECK_INT(img_pread(img, b, 64 << 10, 2 << 20), 0);
	CHECK(all_byte(b, 4096, 0xcd) && all_byte(b + 4096, (64 << 10) - 4096, 0));
	CHECK_INT(img_pread(img, b, 64 << 10, 0), 0);
	CHECK(all_byte(b, 8192, 0) && all_byte(b + 8192, 4096, 0xcd) && all_byte(b + 12288, 52 << 10, 0));
	img_close(img);
	free(b);
}

static const struct test_case tests[] = {
	{ "differential", test_differential },
	{ "extended L2 zero write sets subcluster zero bits", test_extl2_zero_subclusters },
	{ "writes into new clusters copy zeros only where needed", test_fresh_cluster_write },
};

TEST_MAIN(tests)
