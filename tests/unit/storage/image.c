/* Tests for storage/image.c and storage/raw.c: format probe, raw images,
 * backing chains (reads fall through, copy-up on write, backing files
 * confined to the allowed directories, loops and depth refused), block
 * status of a chain, info. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/unit/storage/helpers.h"

static void test_probe_and_raw(void)
{
	const char *r = tpath("disk.raw"), *q = tpath("disk.qcow2");
	struct img_create_opts o = { .format = IMG_FMT_RAW, .size = 1u << 20 };
	enum img_format f = IMG_FMT_QCOW2;
	struct img_extent e;
	char err[256] = "";
	struct img *img;
	uint8_t b[8];

	CHECK_INT(img_create(r, &o, err, sizeof(err)), 0);
	CHECK_INT(create_qcow2(q, 1u << 20, 0, 0), 0);
	CHECK_INT(img_probe(r, &f, err, sizeof(err)), 0);
	CHECK_INT(f, IMG_FMT_RAW);
	CHECK_INT(img_probe(q, &f, err, sizeof(err)), 0);
	CHECK_INT(f, IMG_FMT_QCOW2);
	img = open_rw(r);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(img_get_format(img), IMG_FMT_RAW);
	CHECK(img_qcow2(img) == NULL);
	CHECK_INT(img_pwrite(img, "rawdata!", 8, 300000), 0);
	CHECK_INT(img_pread(img, b, 8, 300000), 0);
	CHECK(memcmp(b, "rawdata!", 8) == 0);
	CHECK_INT(img_block_status(img, 0, 1u << 20, 0, &e), 0);
	CHECK(e.flags & IMG_BS_ZERO); /* a hole */
	CHECK(e.length <= 300000);
	CHECK_INT(img_pwrite(img, b, 8, (1u << 20) - 4), CR_EINVAL_PARAM);
	CHECK_INT(img_resize(img, 2u << 20, 0, IMG_PREALLOC_OFF, err, sizeof(err)), 0);
	CHECK_INT(img_virtual_size(img), 2u << 20);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(sh("qemu-io -f raw -c 'read -P 0x72 300000 1' '%s' | grep -q 'read 1/1'", r), 0);
}

static void make_chain(void)
{
	CHECK_INT(sh("cd '%s' && qemu-img create -q -f raw base.raw 4M && "
		     "qemu-io -f raw -c 'write -P 0xb0 0 4M' base.raw && "
		     "qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
		     "qemu-io -f qcow2 -c 'write -P 0x33 1M 64k' mid.qcow2 && "
		     "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2", test_tmpdir()), 0);
}

static void test_chain_read_and_copy_up(void)
{
	struct img *img, *top;
	struct img_extent e;
	uint8_t b[4096];

	make_chain();
	top = open_rw(tpath("top.qcow2"));
	CHECK(top != NULL);
	if (!top)
		return;
	CHECK(img_backing(top) != NULL && img_backing(img_backing(top)) != NULL);
	CHECK_INT(img_pread(top, b, 4096, (1u << 20) + 100), 0);
	CHECK(b[0] == 0x33 && b[4095] == 0x33);
	CHECK_INT(img_pread(top, b, 4096, 3u << 20), 0);
	CHECK(b[0] == 0xb0);
	CHECK_INT(img_block_status(top, 1u << 20, 4u << 20, IMG_BS_FOLLOW_BACKING, &e), 0);
	CHECK_INT(e.depth, 1);
	CHECK_INT(e.length, 65536);
	CHECK(e.flags & IMG_BS_PRESENT);
	CHECK_INT(img_block_status(top, 0, 4u << 20, IMG_BS_FOLLOW_BACKING, &e), 0);
	CHECK_INT(e.depth, 2);
	/* a small write copies its cluster up, the rest stays below */
	CHECK_INT(img_pwrite(top, "X", 1, (1u << 20) + 7), 0);
	CHECK_INT(img_close(top), 0);
	CHECK_INT(qemu_check(tpath("top.qcow2")), 0);
	CHECK_INT(sh("qemu-io -f qcow2 -c 'read -P 0x33 1M 7' -c 'read -P 0x58 1048583 1' "
		     "-c 'read -P 0x33 1048584 65528' '%s' | grep -c 'read' | grep -q 3", tpath("top.qcow2")), 0);
	img = open_ro(tpath("top.qcow2"));
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_block_status(img, 1u << 20, 1u << 20, 0, &e), 0);
		CHECK(e.flags & IMG_BS_ALLOCATED);
		CHECK_INT(e.length, 65536);
		img_close(img);
	}
}

static void set_backing_name(const char *img, const char *name)
{
	CHECK_INT(sh("qemu-img rebase -u -f qcow2 -b '%s' -F raw '%s'", name, img), 0);
}

static void test_backing_confined(void)
{
	const char *p = tpath("evil.qcow2");
	const char *dirs[] = { "/nonexistent-dir", NULL };
	struct img_open_opts o = { 0 };
	char err[512] = "";
	struct img *img = NULL;

	CHECK_INT(create_qcow2(p, 1u << 20, 0, 0), 0);
	set_backing_name(p, "/etc/shadow");
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), CR_EPERM_CHECK);
	CHECK(strstr(err, "outside the allowed directories") != NULL);
	set_backing_name(p, "../../../../../../etc/passwd");
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), CR_EPERM_CHECK);
	/* a symlink inside the dir pointing out is resolved first */
	CHECK_INT(symlink("/etc/passwd", tpath("link.raw")), 0);
	set_backing_name(p, "link.raw");
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), CR_EPERM_CHECK);
	/* allowed explicitly: opens */
	o.allowed_dirs = (const char *const[]){ "/etc", NULL };
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), 0);
	img_close(img);
	o.allowed_dirs = dirs;
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), CR_EPERM_CHECK);
	/* without the chain the image still opens */
	o.flags = IMG_OPEN_NO_BACKING;
	CHECK_INT(img_open(&img, p, &o, err, sizeof(err)), 0);
	img_close(img);
}

static void test_backing_loop_and_depth(void)
{
	struct img_open_opts o = { 0 };
	char err[512] = "";
	struct img *img = NULL;

	CHECK_INT(sh("cd '%s' && qemu-img create -q -f qcow2 a.qcow2 1M && qemu-img create -q -f qcow2 b.qcow2 1M && "
		     "qemu-img rebase -u -b b.qcow2 -F qcow2 a.qcow2 && qemu-img rebase -u -b a.qcow2 -F qcow2 b.qcow2 && "
		     "qemu-img create -q -f qcow2 self.qcow2 1M && qemu-img rebase -u -b self.qcow2 -F qcow2 self.qcow2",
		     test_tmpdir()), 0);
	CHECK(img_open(&img, tpath("a.qcow2"), &o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "loop") != NULL);
	CHECK(img_open(&img, tpath("self.qcow2"), &o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "loop") != NULL);
	/* a legal chain of 5 opens with max_depth 6, not with 4 */
	CHECK_INT(sh("cd '%s' && qemu-img create -q -f qcow2 d0.qcow2 1M && for i in 1 2 3 4; do "
		     "qemu-img create -q -f qcow2 -b d$((i-1)).qcow2 -F qcow2 d$i.qcow2; done", test_tmpdir()), 0);
	o.max_depth = 6;
	CHECK_INT(img_open(&img, tpath("d4.qcow2"), &o, err, sizeof(err)), 0);
	img_close(img);
	o.max_depth = 4;
	CHECK(img_open(&img, tpath("d4.qcow2"), &o, err, sizeof(err)) < 0);
}

static void test_create_over_backing_takes_size(void)
{
	struct img_create_opts o = { .format = IMG_FMT_QCOW2, .backing_file = "cb-base.qcow2",
				     .backing_format = "qcow2" };
	struct img_info info;
	char err[256] = "";
	struct img *img;

	CHECK_INT(create_qcow2(tpath("cb-base.qcow2"), 5u << 20, 0, 0), 0);
	CHECK_INT(img_create(tpath("cb-top.qcow2"), &o, err, sizeof(err)), 0);
	img = open_ro(tpath("cb-top.qcow2"));
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(img_virtual_size(img), 5u << 20);
	CHECK_INT(img_get_info(img, &info), 0);
	CHECK_STR(info.backing_file, "cb-base.qcow2");
	CHECK_STR(info.backing_format, "qcow2");
	CHECK(strstr(info.full_backing_file, "/cb-base.qcow2") != NULL);
	CHECK_INT(info.cluster_size, 65536);
	CHECK_INT(info.refcount_bits, 16);
	CHECK_INT(info.version, 3);
	img_close(img);
	CHECK_INT(qemu_check(tpath("cb-top.qcow2")), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"backing-filename-format\": \"qcow2\"'",
		     tpath("cb-top.qcow2")), 0);
}

static const struct test_case tests[] = {
	{ "probe_and_raw", test_probe_and_raw },
	{ "chain_read_and_copy_up", test_chain_read_and_copy_up },
	{ "backing_confined", test_backing_confined },
	{ "backing_loop_and_depth", test_backing_loop_and_depth },
	{ "create_over_backing_takes_size", test_create_over_backing_takes_size },
};

TEST_MAIN(tests)
