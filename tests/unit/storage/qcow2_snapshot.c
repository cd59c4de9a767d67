/* Tests for storage/qcow2_snapshot.c: snapshots taken by the engine work in
 * qemu-img, QEMU's own snapshots (with VM state, from savevm) survive our
 * changes and still load in QEMU, unknown extra data is kept. */
#include <errno.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/qcow2_int.h"
#include "tests/unit/storage/helpers.h"

static void test_ours_in_qemu(void)
{
	const char *p = tpath("s.qcow2");
	struct qcow2_snapshot_info *list = NULL;
	char err[256] = "";
	size_t n = 0;
	struct img *img;

	CHECK_INT(create_qcow2(p, 8u << 20, 65536, 16), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(img_pwrite(img, "first", 5, 1000), 0);
	CHECK_INT(qcow2_snapshot_create(img_qcow2(img), "one", err, sizeof(err)), 0);
	CHECK_INT(img_pwrite(img, "second", 6, 1000), 0);
	CHECK_INT(qcow2_snapshot_create(img_qcow2(img), "two", err, sizeof(err)), 0);
	CHECK_INT(qcow2_snapshot_create(img_qcow2(img), "two", err, sizeof(err)), CR_EEXISTS);
	CHECK_INT(img_pwrite(img, "third!", 6, 1000), 0);
	CHECK_INT(qcow2_snapshot_delete(img_qcow2(img), "nope", err, sizeof(err)), CR_ENOTFOUND);
	CHECK_INT(qcow2_snapshot_list(img_qcow2(img), &list, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(list[0].id, "1");
		CHECK_STR(list[1].name, "two");
		CHECK_INT(list[1].disk_size, 8u << 20);
		CHECK_INT(list[1].icount, -1);
	}
	qcow2_snapshot_list_free(list, n);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img snapshot -l '%s' | grep -q 'two'", p), 0);
	CHECK_INT(sh("qemu-img snapshot -a one '%s' && qemu-io -f qcow2 -c 'read -v 1000 5' '%s' | grep -q first",
		     p, p), 0);
	CHECK_INT(qemu_check(p), 0);
	/* and back through ours */
	img = open_rw(p);
	CHECK(img != NULL);
	if (img) {
		char b[6];
		CHECK_INT(qcow2_snapshot_apply(img_qcow2(img), "2", err, sizeof(err)), 0);
		CHECK_INT(img_pread(img, b, 6, 1000), 0);
		CHECK(memcmp(b, "second", 6) == 0);
		CHECK_INT(qcow2_snapshot_delete(img_qcow2(img), "one", err, sizeof(err)), 0);
		CHECK_INT(img_close(img), 0);
	}
	CHECK_INT(qemu_check(p), 0);
}

static int qemu_monitor(const char *img, const char *cmd)
{
	return sh("printf '%s\\nquit\\n' | timeout 60 qemu-system-x86_64 -machine none -nodefaults -display none "
		  "-drive file='%s',if=none,id=d0,format=qcow2 -monitor stdio", cmd, img);
}

static void test_qemu_vm_state_preserved(void)
{
	const char *p = tpath("vm.qcow2");
	struct qcow2_snapshot_info *list = NULL;
	char err[256] = "";
	uint64_t vmsize = 0;
	size_t n = 0;
	struct img *img;

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 16M && qemu-io -f qcow2 -c 'write -P 9 0 1M' '%s'", p, p), 0);
	/* two entries: QEMU pads the first to 8 bytes, not the last one */
	CHECK_INT(qemu_monitor(p, "savevm first\\nsavevm withstate"), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(qcow2_snapshot_list(img_qcow2(img), &list, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		vmsize = list[1].vm_state_size;
		CHECK(vmsize > 0);
		CHECK_INT(list[1].extra_size, 24);
	}
	qcow2_snapshot_list_free(list, n);
	CHECK_INT(img_pwrite(img, "after", 5, 4096), 0);
	CHECK_INT(qcow2_snapshot_create(img_qcow2(img), "disk-only", err, sizeof(err)), 0);
	CHECK_INT(img_pwrite(img, "later", 5, 8192), 0);
	CHECK_INT(qcow2_snapshot_delete(img_qcow2(img), "disk-only", err, sizeof(err)), 0);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img snapshot -l '%s' | grep withstate | grep -q ' %llu B'", p, (unsigned long long)vmsize), 0);
	/* QEMU still loads the VM state and the disk goes back */
	CHECK_INT(qemu_monitor(p, "loadvm withstate"), 0);
	CHECK(strstr(sh_out(), "Error") == NULL);
	CHECK_INT(sh("qemu-img snapshot -a withstate '%s' && qemu-io -f qcow2 -c 'read -P 9 4096 5' '%s' | grep -q 'read 5/5'",
		     p, p), 0);
}

static void test_unknown_extra_data_kept(void)
{
	const char *p = tpath("extra.qcow2");
	char err[256] = "";
	struct qcow2 *q;
	struct img *img;
	uint8_t *x;

	CHECK_INT(create_qcow2(p, 4u << 20, 65536, 16), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	q = img_qcow2(img);
	CHECK_INT(qcow2_snapshot_create(q, "a", err, sizeof(err)), 0);
	/* as a newer QEMU would write it: 8 more bytes of extra data */
	x = realloc(q->snaps[0].extra, 32);
	memcpy(x + 24, "FUTURE!!", 8);
	q->snaps[0].extra = x;
	q->snaps[0].extra_size = 32;
	CHECK_INT(qcow2_write_snapshots(q), 0);
	CHECK_INT(img_close(img), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	q = img_qcow2(img);
	CHECK_INT(qcow2_snapshot_create(q, "b", err, sizeof(err)), 0); /* rewrites the table */
	CHECK_INT(img_close(img), 0);
	img = open_ro(p);
	CHECK(img != NULL);
	if (img) {
		q = img_qcow2(img);
		CHECK_INT(q->snaps[0].extra_size, 32);
		CHECK(memcmp(q->snaps[0].extra + 24, "FUTURE!!", 8) == 0);
		img_close(img);
	}
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img snapshot -l '%s' | grep -c '^[12] ' | grep -q 2", p), 0);
}

static const struct test_case tests[] = {
	{ "ours_in_qemu", test_ours_in_qemu },
	{ "qemu_vm_state_preserved", test_qemu_vm_state_preserved },
	{ "unknown_extra_data_kept", test_unknown_extra_data_kept },
};

TEST_MAIN(tests)
