/* Tests for storage/qcow2_bitmap.c: QEMU's persistent bitmaps are listed
 * with their names, granularity and flags; once the autoclear bit is gone
 * (a read-write open) they are stale and listed no more; a directory entry
 * out of range is refused. */
#include "tests/unit/storage/helpers.h"

static const char *with_bitmaps(const char *name)
{
	const char *p = tpath(name);

	if (sh("qemu-img create -q -f qcow2 '%s' 4M && qemu-img bitmap --add '%s' b0 && "
	       "qemu-img bitmap --add -g 128k --disable '%s' second", p, p, p) != 0)
		fprintf(stderr, "qemu-img: %s\n", sh_out());
	return p;
}

static void test_list(void)
{
	const char *p = with_bitmaps("bm.qcow2");
	struct img *img = open_ro(p);
	struct qcow2_bitmap_info *v = NULL;
	size_t n = 0;

	CHECK(img != NULL);
	CHECK_INT(qcow2_bitmap_list(img_qcow2(img), &v, &n), 0);
	CHECK_INT((int)n, 2);
	if (n == 2) {
		CHECK_STR(v[0].name, "b0");
		CHECK(v[0].granularity == 65536 && v[0].autoload && !v[0].in_use);
		CHECK_STR(v[1].name, "second");
		CHECK(v[1].granularity == 131072 && !v[1].autoload && !v[1].in_use);
	}
	qcow2_bitmap_list_free(v, n);
	img_close(img);
}

static void test_stale_after_write_open(void)
{
	const char *p = with_bitmaps("bmrw.qcow2");
	struct img *img = open_rw(p);
	struct qcow2_bitmap_info *v = NULL;
	size_t n = 1;

	CHECK(img != NULL);
	CHECK_INT(img_close(img), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	CHECK_INT(qcow2_bitmap_list(img_qcow2(img), &v, &n), 0);
	CHECK_INT((int)n, 0);
	CHECK(v == NULL);
	img_close(img);
}

static uint64_t be(const uint8_t *b, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* Host offset of the bitmap directory named in the header, 0 if none. */
static uint64_t directory_offset(const char *path)
{
	uint8_t h[4096];
	FILE *f = fopen(path, "rb");
	size_t got = f ? fread(h, 1, sizeof(h), f) : 0;
	uint64_t pos = got >= 104 ? be(h + 100, 4) : got;

	if (f)
		fclose(f);
	while (pos + 8 <= got && be(h + pos, 4)) {
		if (be(h + pos, 4) == 0x23852875 && pos + 32 <= got)
			return be(h + pos + 24, 8);
		pos += 8 + ((be(h + pos + 4, 4) + 7) & ~7ull);
	}
	return 0;
}

static void test_bad_entry(void)
{
	const char *p = with_bitmaps("bmbad.qcow2");
	struct img *img = open_ro(p);
	struct qcow2_bitmap_info *v = NULL;
	size_t n = 0;
	uint8_t granularity = 40; /* entry byte 17: 2^40 bytes per bit */

	uint64_t dir = directory_offset(p);

	CHECK(img != NULL && dir != 0);
	img_close(img);
	CHECK_INT(poke_bytes(p, dir + 17, &granularity, 1), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	CHECK(qcow2_bitmap_list(img_qcow2(img), &v, &n) < 0);
	CHECK(v == NULL && n == 0);
	img_close(img);
}

static const struct test_case tests[] = {
	{ "bitmaps listed as qemu-img lists them", test_list },
	{ "a read-write open leaves them stale", test_stale_after_write_open },
	{ "entry with granularity out of range", test_bad_entry },
};

TEST_MAIN(tests)
