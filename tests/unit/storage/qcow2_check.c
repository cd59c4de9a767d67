/* Tests for storage/qcow2_check.c: the engine's check agrees with qemu-img
 * check (counts and JSON fields) on clean, fragmented, compressed and
 * damaged images, and its repairs leave images qemu-img finds clean. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/qcow2_int.h"
#include "tests/unit/storage/helpers.h"

static uint64_t file_be(const char *p, uint64_t off, int width)
{
	uint8_t b[8] = { 0 };
	int fd = open(p, O_RDONLY);

	if (pread(fd, b, (size_t)width, (off_t)off) != width)
		memset(b, 0, 8);
	close(fd);
	return width == 8 ? be64_get(b) : be16_get(b);
}

static void poke_be16(const char *p, uint64_t off, uint16_t v)
{
	uint8_t b[2];

	be16_put(b, v);
	CHECK_INT(poke_bytes(p, off, b, 2), 0);
}

/* Offset of the 16-bit refcount entry of host cluster K (first block only). */
static uint64_t refcount_entry(const char *p, uint64_t k)
{
	return file_be(p, file_be(p, 48, 8), 8) + k * 2;
}

/* A number field of qemu-img check --output=json. */
static long long qemu_json(const char *p, const char *key)
{
	char pat[128];
	const char *s;

	sh("qemu-img check --output=json '%s'", p);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	s = strstr(sh_out(), pat);
	return s ? atoll(s + strlen(pat)) : 0; /* qemu-img leaves out zero counts */
}

static int ours(const char *p, unsigned repair, struct qcow2_check_result *res)
{
	struct img_open_opts o = { .flags = repair ? IMG_OPEN_RDWR | IMG_OPEN_CHECK : IMG_OPEN_CHECK };
	char err[256] = "";
	struct img *img = NULL;
	int r = img_open(&img, p, &o, err, sizeof(err));

	if (r == 0)
		r = qcow2_check(img_qcow2(img), repair, res, NULL, NULL, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "check %s: %s\n", p, err);
	img_close(img);
	return r;
}

static void same_as_qemu(const char *p)
{
	struct qcow2_check_result res;

	CHECK_INT(ours(p, 0, &res), 0);
	CHECK_INT(res.image_end_offset, qemu_json(p, "image-end-offset"));
	CHECK_INT(res.total_clusters, qemu_json(p, "total-clusters"));
	CHECK_INT(res.allocated_clusters, qemu_json(p, "allocated-clusters"));
	CHECK_INT(res.fragmented_clusters, qemu_json(p, "fragmented-clusters"));
	CHECK_INT(res.compressed_clusters, qemu_json(p, "compressed-clusters"));
	CHECK_INT(res.corruptions, 0);
	CHECK_INT(res.leaks, 0);
}

static void test_fields_match_qemu(void)
{
	const char *p = tpath("f.qcow2");

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 16M && qemu-io -f qcow2 -c 'write 5M 200k' -c 'write 0 64k' "
		     "-c 'write -c 8M 64k' -c 'write -c 9M 64k' -c 'write 12M 1k' -c 'discard 5M 64k' "
		     "-c 'write 15M 64k' '%s'", p, p), 0);
	same_as_qemu(p);
	CHECK_INT(sh("qemu-img snapshot -c s '%s' && qemu-io -f qcow2 -c 'write 0 4k' '%s'", p, p), 0);
	same_as_qemu(p);
	p = tpath("f2.qcow2");
	CHECK_INT(sh("qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=2 '%s' 1M && "
		     "qemu-io -f qcow2 -c 'write 0 100k' -c 'write 500k 3k' '%s'", p, p), 0);
	same_as_qemu(p);
}

static void test_leak_found_and_repaired(void)
{
	const char *p = tpath("leak.qcow2");
	struct qcow2_check_result res;
	uint64_t end;

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 4M && qemu-io -f qcow2 -c 'write 0 64k' '%s' && "
		     "truncate -s 1M '%s'", p, p, p), 0);
	end = 1u << 20;
	poke_be16(p, refcount_entry(p, end / 65536 - 1), 1); /* last cluster: counted, unused */
	CHECK_INT(qemu_check(p), 3);
	CHECK_INT(ours(p, 0, &res), 0);
	CHECK_INT(res.leaks, 1);
	CHECK_INT(res.corruptions, 0);
	CHECK_INT(ours(p, QCOW2_REPAIR_LEAKS, &res), 0);
	CHECK_INT(res.leaks_fixed, 1);
	CHECK_INT(res.leaks, 0);
	CHECK_INT(qemu_check(p), 0);
}

static void test_corruption_found_and_repaired(void)
{
	const char *p = tpath("bad.qcow2"), *raw = tpath("bad.raw");
	struct qcow2_check_result res;
	uint64_t l1, l2, data;

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 4M && qemu-io -f qcow2 -c 'write -P 7 0 128k' '%s' && "
		     "qemu-img convert -O raw '%s' '%s'", p, p, p, raw), 0);
	l1 = file_be(p, 40, 8);
	l2 = file_be(p, l1, 8) & QCOW2_OFFSET_MASK;
	data = file_be(p, l2, 8) & QCOW2_OFFSET_MASK;
	poke_be16(p, refcount_entry(p, data / 65536), 0); /* in use, counted free */
	CHECK_INT(qemu_check(p), 2);
	CHECK_INT(ours(p, 0, &res), 0);
	CHECK(res.corruptions >= 1);
	CHECK_INT(ours(p, QCOW2_REPAIR_LEAKS, &res), 0);
	CHECK(res.corruptions >= 1); /* -r leaks does not touch errors */
	CHECK_INT(ours(p, QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res), 0);
	CHECK(res.corruptions_fixed >= 1);
	CHECK_INT(res.corruptions, 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img compare -f qcow2 -F raw '%s' '%s'", p, raw), 0);
}

static void collect(void *opaque, const char *line)
{
	int *n = opaque;

	if (strstr(line, "Leaked cluster") || strstr(line, "ERROR"))
		(*n)++;
}

static void test_report_lines(void)
{
	const char *p = tpath("rep.qcow2");
	struct img_open_opts o = { 0 };
	struct qcow2_check_result res;
	char err[256];
	struct img *img = NULL;
	int lines = 0;

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 4M && truncate -s 512k '%s'", p, p), 0);
	poke_be16(p, refcount_entry(p, 7), 1);
	poke_be16(p, refcount_entry(p, 6), 3);
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), 0);
	if (!img)
		return;
	CHECK_INT(qcow2_check(img_qcow2(img), 0, &res, collect, &lines, err, sizeof(err)), 0);
	CHECK_INT(lines, 2);
	CHECK_INT(res.leaks, 2);
	CHECK_INT(qcow2_check(img_qcow2(img), QCOW2_REPAIR_LEAKS, &res, NULL, NULL, err, sizeof(err)), -EBADF);
	img_close(img);
}

static const struct test_case tests[] = {
	{ "fields_match_qemu", test_fields_match_qemu },
	{ "leak_found_and_repaired", test_leak_found_and_repaired },
	{ "corruption_found_and_repaired", test_corruption_found_and_repaired },
	{ "report_lines", test_report_lines },
};

TEST_MAIN(tests)
