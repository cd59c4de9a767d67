/* Tests for storage/qcow2.c and storage/qcow2_cluster.c: create/open/header
 * checks, byte-granular I/O at every cluster size and refcount width, zero
 * writes and discard, the corrupt bit, dirty bit repair, and compatibility
 * with the real qemu-img/qemu-io in both directions. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/qcow2_int.h"
#include "tests/unit/storage/helpers.h"

static void test_create_layout_matches_qemu(void)
{
	const char *p = tpath("layout.qcow2");
	uint8_t h[0x210 + 16];
	int fd;

	CHECK_INT(create_qcow2(p, 1ull << 30, 0, 0), 0);
	CHECK_INT(qemu_check(p), 0);
	fd = open(p, O_RDONLY);
	CHECK(pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
	CHECK_INT(be32_get(h + 4), 3);
	CHECK_INT(be32_get(h + 20), 16);
	CHECK_INT(be64_get(h + 48), 0x10000);  /* refcount table */
	CHECK_INT(be64_get(h + 40), 0x30000);  /* L1 */
	CHECK_INT(be32_get(h + 36), 2);
	CHECK_INT(be32_get(h + 100), 112);
	CHECK_INT(lseek(fd, 0, SEEK_END), 0x30010); /* not padded, as QEMU */
	close(fd);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"refcount-bits\": 16'", p), 0);
}

static void rw_roundtrip(uint32_t cs, unsigned rbits)
{
	const char *p = tpath("rw.qcow2");
	uint64_t size = 8ull << 20;
	uint8_t *a = malloc(200000), *b = malloc(200000);
	struct img *img;

	CHECK_INT(create_qcow2(p, size, cs, rbits), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		goto out;
	fill_pattern(a, 200000, cs + rbits);
	CHECK_INT(img_pwrite(img, a, 200000, 12345), 0);
	CHECK_INT(img_pwrite(img, a + 7, 1000, size - 1000), 0);
	CHECK_INT(img_pread(img, b, 200000, 12345), 0);
	CHECK(memcmp(a, b, 200000) == 0);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	/* qemu-io sees the same bytes */
	CHECK_INT(sh("qemu-io -f qcow2 -c 'read -v 12345 16' '%s' | grep -q '%02x %02x'", p, a[0], a[1]), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	if (img) {
		memset(b, 0, 1000);
		CHECK_INT(img_pread(img, b, 1000, size - 1000), 0);
		CHECK(memcmp(a + 7, b, 1000) == 0);
		img_close(img);
	}
out:
	free(a);
	free(b);
}

static void test_rw_cluster_sizes(void)
{
	static const uint32_t sizes[] = { 512, 4096, 65536, 2u << 20 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		rw_roundtrip(sizes[i], 16);
}

static void test_rw_refcount_widths(void)
{
	for (unsigned bits = 1; bits <= 64; bits *= 2)
		rw_roundtrip(bits <= 2 ? 512 : 4096, bits);
}

/* ---- images written by QEMU read identically ---------------------------------------------- */

static int read_all(const char *path, uint8_t **out, uint64_t *size)
{
	struct img *img = open_ro(path);
	int r;

	if (!img)
		return -1;
	*size = img_virtual_size(img);
	*out = malloc(*size ? *size : 1);
	r = img_pread(img, *out, *size, 0);
	img_close(img);
	return r;
}

static int file_equals(const char *raw, const uint8_t *data, uint64_t size)
{
	FILE *f = fopen(raw, "rb");
	uint8_t *b = malloc(size ? size : 1);
	int r = f && fread(b, 1, size, f) == size && memcmp(b, data, size) == 0 ? 0 : -1;

	if (f)
		fclose(f);
	free(b);
	return r;
}

/* Creates with qemu-img OPTS, runs qemu-io COMMANDS, then compares our
 * reading with qemu-img convert's. */
static void qemu_written(const char *opts, const char *cmds)
{
	const char *p = tpath("qw.qcow2"), *raw = tpath("qw.raw");
	uint8_t *data = NULL;
	uint64_t size = 0;

	CHECK_INT(sh("qemu-img create -q -f qcow2 -o %s '%s' 4M && qemu-io -f qcow2 %s '%s'", opts, p, cmds, p), 0);
	CHECK_INT(sh("qemu-img convert -f qcow2 -O raw '%s' '%s'", p, raw), 0);
	CHECK_INT(read_all(p, &data, &size), 0);
	CHECK_INT(size, 4 << 20);
	if (file_equals(raw, data, size) != 0) {
		fprintf(stderr, "  reading differs for -o %s / %s\n", opts, cmds);
		CHECK(0);
	}
	free(data);
}

#define QW_CMDS "-c 'write -P 0x11 0 100k' -c 'write -z 128k 64k' -c 'write -P 0x22 300k 5k' " \
		"-c 'discard 0 64k' -c 'write -P 0x44 2047k 2k' -c 'write -z -u 3M 128k' "

static void test_reads_qemu_images(void)
{
	static const struct { const char *opts; const char *clen; } cfgs[] = {
		{ "cluster_size=65536", "64k" }, { "compat=0.10", "64k" }, { "cluster_size=512", "512" },
		{ "cluster_size=2M", "2M" }, { "refcount_bits=1", "64k" },
		{ "refcount_bits=64,cluster_size=4096", "4k" }, { "extended_l2=on", "64k" },
		{ "extended_l2=on,cluster_size=16k", "16k" }, { "compression_type=zstd", "64k" },
		{ "lazy_refcounts=on", "64k" }, { "preallocation=metadata", NULL },
		{ "preallocation=falloc,cluster_size=4096", NULL },
	};
	char cmds[512];

	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		/* compressed writes need an unallocated cluster: not on preallocated images */
		if (cfgs[i].clen)
			snprintf(cmds, sizeof(cmds), "-c 'write -c -P 0x33 2M %s' " QW_CMDS, cfgs[i].clen);
		else
			snprintf(cmds, sizeof(cmds), "%s", QW_CMDS);
		qemu_written(cfgs[i].opts, cmds);
	}
}

static void test_reads_qemu_snapshots_and_backing(void)
{
	const char *base = tpath("qb-base.qcow2"), *top = tpath("qb-top.qcow2"), *raw = tpath("qb.raw");
	uint8_t *data = NULL;
	uint64_t size = 0;

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 4M && qemu-io -f qcow2 -c 'write -P 0xaa 0 4M' '%s'", base, base), 0);
	CHECK_INT(sh("qemu-img create -q -f qcow2 -b qb-base.qcow2 -F qcow2 -o extended_l2=on '%s'", top), 0);
	CHECK_INT(sh("qemu-io -f qcow2 -c 'write -P 0x01 4k 4k' -c 'write -z 100k 8k' '%s' && "
		     "qemu-img snapshot -c one '%s' && qemu-io -f qcow2 -c 'write -P 0x02 6k 1k' '%s'", top, top, top), 0);
	CHECK_INT(sh("qemu-img convert -f qcow2 -O raw '%s' '%s'", top, raw), 0);
	CHECK_INT(read_all(top, &data, &size), 0);
	CHECK_INT(file_equals(raw, data, size), 0);
	free(data);
}

/* ---- what we write, QEMU reads ------------------------------------------------------------- */

static void test_compressed_write(void)
{
	const char *p = tpath("cw.qcow2"), *raw = tpath("cw.raw");
	uint64_t size = (1u << 20) + 4096; /* last cluster partial */
	uint8_t *d = calloc(1, size);
	struct img *img;

	CHECK_INT(create_qcow2(p, size, 65536, 16), 0);
	for (uint64_t i = 0; i < size; i++)
		d[i] = (uint8_t)((i / 4096) & 0x0f ? i % 7 : 0);
	fill_pattern(d + 196608, 65536, 7); /* incompressible: stored plainly */
	img = open_rw(p);
	CHECK(img != NULL);
	for (uint64_t off = 0; img && off < size; off += 65536) {
		size_t n = size - off < 65536 ? (size_t)(size - off) : 65536;
		CHECK_INT(qcow2_write_compressed(img_qcow2(img), off, d + off, n), 0);
	}
	CHECK_INT(qcow2_write_compressed(img_qcow2(img), 0, d, 65536), -EEXIST);
	CHECK_INT(img_pwrite(img, "xyz", 3, 70000), 0); /* rewrite turns it uncompressed */
	memcpy(d + 70000, "xyz", 3);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(write_bytes(raw, d, size), 0);
	CHECK_INT(sh("qemu-img compare -f qcow2 -F raw '%s' '%s'", p, raw), 0);
	CHECK_INT(sh("qemu-img check --output=json '%s' | grep -q '\"compressed-clusters\": 15'", p), 0);
	free(d);
}

static void prealloc_one(enum img_prealloc mode, const char *name)
{
	struct img_create_opts o = { .format = IMG_FMT_QCOW2, .size = 16u << 20, .prealloc = mode,
				     .cluster_size = 65536 };
	const char *p = tpath(name);
	char err[256] = "";
	uint8_t b[4096], z[4096] = { 0 };
	struct img *img;

	CHECK_INT(img_create(p, &o, err, sizeof(err)), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img map --output=json '%s' | grep -q '\"data\": true'", p), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_pread(img, b, sizeof(b), 5u << 20), 0);
		CHECK(memcmp(b, z, sizeof(b)) == 0);
		CHECK_INT(img_pwrite(img, "abc", 3, 5u << 20), 0);
		CHECK_INT(img_close(img), 0);
	}
	CHECK_INT(qemu_check(p), 0);
}

static void test_preallocation_modes(void)
{
	prealloc_one(IMG_PREALLOC_METADATA, "pm.qcow2");
	prealloc_one(IMG_PREALLOC_FALLOC, "pf.qcow2");
	prealloc_one(IMG_PREALLOC_FULL, "pu.qcow2");
}

static void test_resize(void)
{
	const char *p = tpath("rs.qcow2");
	char err[256] = "";
	uint8_t b[16];
	struct img *img;

	CHECK_INT(create_qcow2(p, 1u << 20, 4096, 16), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(img_pwrite(img, "0123456789abcdef", 16, 1000000), 0);
	CHECK_INT(img_resize(img, 64u << 20, 0, IMG_PREALLOC_OFF, err, sizeof(err)), 0);
	CHECK_INT(img_pwrite(img, "tail", 4, (64u << 20) - 4), 0);
	CHECK_INT(img_resize(img, 512u << 10, 0, IMG_PREALLOC_OFF, err, sizeof(err)), CR_EINVAL_PARAM);
	CHECK_INT(img_resize(img, 512u << 10, IMG_RESIZE_SHRINK, IMG_PREALLOC_OFF, err, sizeof(err)), 0);
	CHECK_INT(img_virtual_size(img), 512u << 10);
	CHECK_INT(img_resize(img, 2u << 20, 0, IMG_PREALLOC_METADATA, err, sizeof(err)), 0);
	CHECK_INT(img_pread(img, b, 16, 1000000), 0);
	CHECK(b[0] == 0 && b[15] == 0); /* shrunk away, then grown back as zeros */
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"virtual-size\": 2097152'", p), 0);
}

/* ---- safety nets ------------------------------------------------------------------------------ */

static uint64_t file_be64(const char *p, uint64_t off)
{
	uint8_t b[8] = { 0 };
	int fd = open(p, O_RDONLY);

	if (pread(fd, b, 8, (off_t)off) != 8)
		memset(b, 0, 8);
	close(fd);
	return be64_get(b);
}

static void poke_be64(const char *p, uint64_t off, uint64_t v)
{
	uint8_t b[8];

	be64_put(b, v);
	CHECK_INT(poke_bytes(p, off, b, 8), 0);
}

static void test_overlap_marks_corrupt(void)
{
	const char *p = tpath("ov.qcow2");
	uint64_t l1, l2;
	struct img *img;
	uint8_t b[512];

	CHECK_INT(create_qcow2(p, 1u << 20, 65536, 16), 0);
	CHECK_INT(sh("qemu-io -f qcow2 -c 'write -P 1 0 64k' '%s'", p), 0);
	l1 = file_be64(p, 40);
	l2 = file_be64(p, l1) & 0x00fffffffffffe00ull;
	/* guest cluster 0 now aliases the active L1 table */
	poke_be64(p, l2, l1 | (1ull << 63));
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	memset(b, 0xee, sizeof(b));
	CHECK_INT(img_pwrite(img, b, sizeof(b), 0), CR_ECORRUPT);
	CHECK(strstr(img_last_error(img), "overlaps with active L1 table") != NULL);
	CHECK(qcow2_is_corrupt(img_qcow2(img)));
	CHECK_INT(img_pwrite(img, b, sizeof(b), 65536 * 8), CR_ECORRUPT);
	img_close(img);
	CHECK_INT(file_be64(p, l1), l2 | (1ull << 63)); /* L1 untouched */
	CHECK(open_rw(p) == NULL);
	img = open_ro(p);
	CHECK(img != NULL);
	img_close(img);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"corrupt\": true'", p), 0);
}

static void test_dirty_image_repaired_on_open(void)
{
	const char *p = tpath("lazy.qcow2"), *c = tpath("lazy-crashed.qcow2");
	struct img_create_opts o = { .format = IMG_FMT_QCOW2, .size = 4u << 20, .lazy_refcounts = 1 };
	char err[256] = "";
	struct img *img;
	uint8_t b[4] = { 0 };

	CHECK_INT(img_create(p, &o, err, sizeof(err)), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(img_pwrite(img, "live", 4, 123456), 0);
	CHECK_INT(img_flush(img), 0);
	CHECK_INT(sh("cp '%s' '%s'", p, c), 0); /* the file as a crash leaves it: dirty */
	CHECK_INT(img_close(img), 0);
	CHECK_INT(sh("qemu-img info -U --output=json '%s' | grep -q '\"dirty-flag\": true'", c), 0);
	/* refcounts of the crashed copy are stale on purpose */
	poke_be64(c, file_be64(c, file_be64(c, 48)), 0);
	img = open_rw(c);
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_pread(img, b, 4, 123456), 0);
		CHECK(memcmp(b, "live", 4) == 0);
		CHECK_INT(img_close(img), 0);
	}
	CHECK_INT(qemu_check(c), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"dirty-flag\": false'", c), 0);
	/* check -r all on a dirty image (no automatic repair) clears the bit too */
	CHECK_INT(sh("cp '%s' '%s'", p, c), 0);
	CHECK_INT(sh("printf '\\000\\000\\000\\000\\000\\000\\000\\001' | dd of='%s' bs=1 seek=72 conv=notrunc status=none", c), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"dirty-flag\": true'", c), 0);
	img = NULL;
	CHECK_INT(img_open(&img, c, &(struct img_open_opts){ .flags = IMG_OPEN_RDWR | IMG_OPEN_CHECK }, err, sizeof(err)), 0);
	if (img) {
		struct qcow2_check_result res;
		CHECK_INT(qcow2_check(img_qcow2(img), QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res, NULL, NULL,
				      err, sizeof(err)), 0);
		CHECK_INT(img_close(img), 0);
	}
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"dirty-flag\": false'", c), 0);
}

/* Each hostile header is refused with a message, quickly, without a crash. */
static void test_hostile_headers(void)
{
	static const struct { uint64_t off; int width; uint64_t val; const char *what; } cases[] = {
		{ 0, 4, 0x514649fa, "not in qcow2 format" }, { 4, 4, 4, "version" },
		{ 20, 4, 8, "cluster size" }, { 20, 4, 22, "cluster size" },
		{ 36, 4, 0x7fffffff, "L1 table too large" }, { 40, 8, 0x30001, "L1 table offset" },
		{ 56, 4, 0x1000000, "Reference count table too large" }, { 48, 8, 0, "reference count table offset" },
		{ 96, 4, 7, "Refcount width" }, { 72, 8, 1ull << 40, "Unsupported qcow2 feature" },
		{ 100, 4, 105, "header length" }, { 16, 4, 5000, "Backing file name" },
		{ 60, 4, 70000, "Too many snapshots" }, { 32, 4, 1, "Encrypted" },
		{ 24, 8, 1ull << 62, "too large" },
	};
	const char *p = tpath("hostile.qcow2");
	char err[256];
	struct img *img;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[8];
		int fd;
		CHECK_INT(create_qcow2(p, 1u << 20, 65536, 16), 0);
		fd = open(p, O_WRONLY);
		if (cases[i].width == 4)
			be32_put(b, (uint32_t)cases[i].val);
		else
			be64_put(b, cases[i].val);
		CHECK(pwrite(fd, b, (size_t)cases[i].width, (off_t)cases[i].off) == cases[i].width);
		if (cases[i].off == 16) { /* a backing name needs an offset */
			be64_put(b, 600);
			CHECK(pwrite(fd, b, 8, 8) == 8);
		}
		close(fd);
		err[0] = 0;
		img = NULL;
		CHECK(img_open(&img, p, &(struct img_open_opts){ .format = "qcow2" }, err, sizeof(err)) < 0);
		CHECK(img == NULL);
		if (!strcasestr(err, cases[i].what)) {
			fprintf(stderr, "  case %zu: error '%s' lacks '%s'\n", i, err, cases[i].what);
			CHECK(0);
		}
	}
}

static void test_hostile_tables(void)
{
	const char *p = tpath("hostile2.qcow2");
	uint8_t b[4096];
	struct img *img;
	uint64_t l1;

	/* L1 entry pointing into the header and past the end */
	CHECK_INT(create_qcow2(p, 4u << 20, 65536, 16), 0);
	l1 = file_be64(p, 40);
	poke_be64(p, l1, 0x200);
	img = open_ro(p);
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_pread(img, b, sizeof(b), 0), CR_ECORRUPT);
		img_close(img);
	}
	poke_be64(p, l1, (1ull << 50) | (1ull << 63));
	img = open_ro(p);
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_pread(img, b, sizeof(b), 0), 0); /* an L2 of zeros past EOF */
		img_close(img);
	}
	/* refcount table entry at the header: writes refuse to touch cluster 0 */
	CHECK_INT(create_qcow2(p, 4u << 20, 65536, 16), 0);
	poke_be64(p, file_be64(p, 48), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (img) {
		CHECK(img_pwrite(img, b, sizeof(b), 0) < 0);
		img_close(img);
	}
	/* one refcount block listed twice: readable, but never written */
	CHECK_INT(create_qcow2(p, 4u << 20, 65536, 16), 0);
	poke_be64(p, file_be64(p, 48) + 8, file_be64(p, file_be64(p, 48)));
	CHECK(open_rw(p) == NULL);
	img = open_ro(p);
	CHECK(img != NULL);
	img_close(img);
}

static void test_qemu_lock_respected(void)
{
	const char *p = tpath("lock.qcow2");
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR };
	char err[256] = "";
	struct img *img = NULL, *img2 = NULL;

	CHECK_INT(create_qcow2(p, 1u << 20, 65536, 16), 0);
	/* our writer keeps QEMU out, -U readers in */
	img = open_rw(p);
	CHECK(img != NULL);
	CHECK(sh("qemu-io -f qcow2 -c 'write 0 512' '%s'", p) != 0);
	CHECK(strstr(sh_out(), "Failed to get \"write\" lock") != NULL);
	CHECK(sh("qemu-img info '%s'", p) != 0);
	CHECK(strstr(sh_out(), "Failed to get shared \"write\" lock") != NULL);
	CHECK_INT(sh("qemu-io -U -r -f qcow2 -c 'read 0 512' '%s'", p), 0);
	CHECK(img_open(&img2, p, &o, err, sizeof(err)) == CR_ELOCKED); /* second writer, same process */
	CHECK(img2 == NULL);
	img_close(img);
	/* a running QEMU writer keeps us out unless shared */
	CHECK_INT(sh("(qemu-io -f qcow2 -c 'sleep 3000' '%s' & echo $! > '%s/qpid') ; sleep 0.5", p, test_tmpdir()), 0);
	img = NULL;
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), CR_ELOCKED);
	CHECK(img_open(&img, p, &(struct img_open_opts){ 0 }, err, sizeof(err)) == CR_ELOCKED);
	CHECK_INT(img_open(&img, p, &(struct img_open_opts){ .flags = IMG_OPEN_SHARED }, err, sizeof(err)), 0);
	img_close(img);
	CHECK_INT(sh("kill $(cat '%s/qpid'); wait 2>/dev/null; true", test_tmpdir()), 0);
}

/* Random damage to the metadata of real images: every open, read, write and
 * check returns (an error or data) without crashing and in bounded time. */
static void mutate_once(const char *src, const char *dst, uint64_t *seed)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	static uint8_t b[1 << 20];
	size_t n = in ? fread(b, 1, sizeof(b), in) : 0;
	int flips = 1 + (int)(rnd_next(seed) % 4);

	for (int k = 0; k < flips && n; k++) {
		uint64_t meta = rnd_next(seed) % 4; /* header, or one of the first clusters */
		size_t at = meta == 0 ? rnd_next(seed) % 120 : (rnd_next(seed) % (n < 0x50000 ? n : 0x50000));
		if (rnd_next(seed) & 1)
			b[at] ^= (uint8_t)(1u << (rnd_next(seed) % 8));
		else
			b[at] = (uint8_t)rnd_next(seed);
	}
	if (out && fwrite(b, 1, n, out) != n)
		fprintf(stderr, "short write\n");
	if (in)
		fclose(in);
	if (out)
		fclose(out);
}

/* Returns how many of the three opens succeeded. */
static int exercise(const char *p)
{
	int opened = 0;

	struct img_open_opts o = { .format = "qcow2", .flags = IMG_OPEN_NO_BACKING };
	struct qcow2_check_result res;
	struct img_extent e;
	static uint8_t buf[1 << 16];
	char err[256];
	struct img *img = NULL;

	if (img_open(&img, p, &o, err, sizeof(err)) == 0) {
		opened++;
		for (uint64_t off = 0; off < img_virtual_size(img) && off < (8u << 20); off += sizeof(buf))
			img_pread(img, buf, sizeof(buf), off);
		img_block_status(img, 0, img_virtual_size(img) ? img_virtual_size(img) : 1, 0, &e);
		qcow2_check(img_qcow2(img), 0, &res, NULL, NULL, err, sizeof(err));
		img_close(img);
	}
	o.flags |= IMG_OPEN_RDWR;
	if (img_open(&img, p, &o, err, sizeof(err)) == 0) {
		opened++;
		img_pwrite(img, buf, 3000, 70000);
		img_pwrite_zeroes(img, 0, 200000, IMG_ZERO_MAY_UNMAP);
		qcow2_snapshot_create(img_qcow2(img), "fz", err, sizeof(err));
		img_discard(img, 65536, 65536 * 3);
		img_close(img);
	}
	o.flags |= IMG_OPEN_CHECK;
	if (img_open(&img, p, &o, err, sizeof(err)) == 0) {
		opened++;
		qcow2_check(img_qcow2(img), QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res, NULL, NULL, err, sizeof(err));
		img_close(img);
	}
	return opened;
}

static void test_damaged_images_never_crash(void)
{
	static const char *const seeds[] = {
		"-o cluster_size=4096", "-o extended_l2=on,cluster_size=16k", "-o compat=0.10,cluster_size=4096",
	};
	uint64_t seed = 0x5eed;
	int opened = 0, runs = 0;

	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		const char *src = fpath("fz-src.qcow2"), *dst = fpath("fz.qcow2");
		CHECK_INT(sh("qemu-img create -q -f qcow2 %s '%s' 4M && qemu-io -f qcow2 -c 'write -P 1 0 300k' "
			     "-c 'write -c -P 2 1M %s' -c 'write -z 2M 64k' '%s' && qemu-img snapshot -c a '%s' && "
			     "qemu-io -f qcow2 -c 'write -P 3 4k 8k' '%s'", seeds[s], src,
			     s == 1 ? "16k" : "4k", src, src, src), 0);
		for (int i = 0; i < 600; i++, runs += 3) {
			mutate_once(src, dst, &seed);
			opened += exercise(dst);
		}
	}
	/* no crash (ASan enforces memory safety); most damage is subtle enough to open */
	fprintf(stderr, "  %d of %d opens of damaged images succeeded\n", opened, runs);
	CHECK(opened > runs / 3);
}

static const struct test_case tests[] = {
	{ "create_layout_matches_qemu", test_create_layout_matches_qemu },
	{ "rw_cluster_sizes", test_rw_cluster_sizes },
	{ "rw_refcount_widths", test_rw_refcount_widths },
	{ "reads_qemu_images", test_reads_qemu_images },
	{ "reads_qemu_snapshots_and_backing", test_reads_qemu_snapshots_and_backing },
	{ "compressed_write", test_compressed_write },
	{ "preallocation_modes", test_preallocation_modes },
	{ "resize", test_resize },
	{ "overlap_marks_corrupt", test_overlap_marks_corrupt },
	{ "dirty_image_repaired_on_open", test_dirty_image_repaired_on_open },
	{ "hostile_headers", test_hostile_headers },
	{ "hostile_tables", test_hostile_tables },
	{ "qemu_lock_respected", test_qemu_lock_respected },
	{ "damaged_images_never_crash", test_damaged_images_never_crash },
};

TEST_MAIN(tests)
