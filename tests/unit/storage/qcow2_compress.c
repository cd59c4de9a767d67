/* Tests for storage/qcow2_compress.c: raw deflate round trips as QEMU
 * expects it (a stream that fills the cluster, trailing sector bytes
 * ignored), incompressible data is reported as not fitting, and damaged
 * zlib or zstd input fails cleanly. */
#include <errno.h>

#include "storage/qcow2_int.h"
#include "tests/unit/test.h"

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

static const struct test_case tests[] = {
	{ "deflate_round_trip", test_deflate_round_trip },
	{ "incompressible_does_not_fit", test_incompressible_does_not_fit },
	{ "damaged_input_fails", test_damaged_input_fails },
};

TEST_MAIN(tests)
