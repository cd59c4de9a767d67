/* Tests for storage/pool_snap*.c: volume snapshots (create, rollback,
 * delete, with data written between), growth and refused shrinking, template
 * bases, linked clones over them, their discovery, and the copy of a
 * volume as it was at a snapshot.  Images are checked with the real
 * qemu-img. */
#include "storage/pool_snap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/unit/storage/helpers.h"

#define MIB (1ull << 20)

static struct pool *new_pool(const char *name)
{
	struct pool *p = NULL;
	char err[256];

	if (pool_dir_new("local", tpath(name), &p, err, sizeof(err)) < 0)
		fprintf(stderr, "pool: %s\n", err);
	return p;
}

static const char *vpath(struct pool *p, const char *volid)
{
	static char path[PATH_MAX];
	char err[256];

	if (pool_path(p, volid, path, sizeof(path), err, sizeof(err)) < 0)
		fprintf(stderr, "path %s: %s\n", volid, err);
	return path;
}

/* Opens VOLID with its chain allowed anywhere in the pool's images. */
static struct img *open_vol(struct pool *p, const char *volid, unsigned flags)
{
	char root[PATH_MAX], imgs[PATH_MAX + 16], err[256] = "";
	const char *dirs[2] = {imgs, NULL};
	struct img_open_opts o = {.flags = flags, .allowed_dirs = dirs};
	struct img *img = NULL;

	CHECK(realpath(pool_root(p), root) != NULL);
	snprintf(imgs, sizeof(imgs), "%s/images", root);
	if (img_open(&img, vpath(p, volid), &o, err, sizeof(err)) < 0)
		fprintf(stderr, "open %s: %s\n", volid, err);
	return img;
}

static void put(struct pool *p, const char *volid, char c, uint64_t off)
{
	struct img *img = open_vol(p, volid, IMG_OPEN_RDWR);
	char buf[4096];

	memset(buf, c, sizeof(buf));
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img_pwrite(img, buf, sizeof(buf), off), 0);
		CHECK_INT(img_close(img), 0);
	}
}

/* The byte at OFF of VOLID read through its whole chain. */
static int get(struct pool *p, const char *volid, uint64_t off)
{
	struct img *img = open_vol(p, volid, 0);
	char c = -1;

	if (!img)
		return -2;
	CHECK_INT(img_pread(img, &c, 1, off), 0);
	img_close(img);
	return c;
}

static void test_snapshot_rollback_delete(void)
{
	struct pool *p = new_pool("snap");
	char v[POOL_VOLID_MAX], err[256];

	CHECK_INT(pool_alloc(p, 100, "qcow2", 16 * MIB, v, sizeof(v), err, sizeof(err)), 0);
	put(p, v, 'a', 0);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_CREATE, "s1", err, sizeof(err)), 0);
	put(p, v, 'b', 0);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_CREATE, "s2", err, sizeof(err)), 0);
	put(p, v, 'c', 0);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_CREATE, "s2", err, sizeof(err)), CR_EEXISTS);
	CHECK_INT(pool_vol_snapshot_has(p, v, "s1", err, sizeof(err)), 1);
	CHECK_INT(pool_vol_snapshot_has(p, v, "zz", err, sizeof(err)), 0);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_ROLLBACK, "s1", err, sizeof(err)), 0);
	CHECK_INT(get(p, v, 0), 'a');
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_DELETE, "s1", err, sizeof(err)), 0);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_ROLLBACK, "s2", err, sizeof(err)), 0);
	CHECK_INT(get(p, v, 0), 'b');
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_ROLLBACK, "s1", err, sizeof(err)),
		  CR_ENOTFOUND);
	CHECK_STR(err, "snapshot 's1' does not exist");
	CHECK_INT(qemu_check(vpath(p, v)), 0);
	CHECK_INT(sh("qemu-img snapshot -l '%s' | grep -c s2", vpath(p, v)), 0);
	pool_free(p);
}

static void test_raw_refused(void)
{
	struct pool *p = new_pool("raw");
	char v[POOL_VOLID_MAX], err[256];

	CHECK_INT(pool_alloc(p, 100, "raw", MIB, v, sizeof(v), err, sizeof(err)), 0);
	CHECK_INT(pool_vol_can_snapshot(v), 0);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_CREATE, "s1", err, sizeof(err)),
		  CR_EUNSUPPORTED);
	CHECK_INT(pool_vol_can_snapshot("local:100/vm-100-disk-0.qcow2"), 1);
	pool_free(p);
}

static void test_grow(void)
{
	struct pool *p = new_pool("grow");
	char v[POOL_VOLID_MAX], err[256];
	uint64_t old = 0;

	CHECK_INT(pool_alloc(p, 100, "qcow2", 16 * MIB, v, sizeof(v), err, sizeof(err)), 0);
	put(p, v, 'x', 15 * MIB);
	CHECK_INT(pool_vol_grow(p, v, 64 * MIB, &old, err, sizeof(err)), 0);
	CHECK(old == 16 * MIB);
	CHECK_INT(pool_vol_grow(p, v, 32 * MIB, &old, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "shrinking disks is not supported");
	CHECK(old == 64 * MIB);
	CHECK_INT(get(p, v, 15 * MIB), 'x');
	CHECK_INT(sh("qemu-img info '%s' | grep -q '64 MiB'", vpath(p, v)), 0);
	CHECK_INT(qemu_check(vpath(p, v)), 0);
	pool_free(p);
}

static int count_child(const struct pool_volume *v, void *ctx)
{
	(*(int *)ctx)++;
	CHECK(v->vmid == 101 || v->vmid == 102);
	return 0;
}

static void test_base_and_linked_clones(void)
{
	struct pool *p = new_pool("clone");
	char v[POOL_VOLID_MAX], base[POOL_VOLID_MAX], c1[POOL_VOLID_MAX], c2[POOL_VOLID_MAX];
	char got[POOL_VOLID_MAX], err[256];
	struct stat st;
	int n = 0;

	CHECK_INT(pool_alloc(p, 100, "qcow2", 16 * MIB, v, sizeof(v), err, sizeof(err)), 0);
	put(p, v, 't', 4096);
	CHECK_INT(pool_vol_make_base(p, v, base, sizeof(base), err, sizeof(err)), 0);
	CHECK_STR(base, "local:100/base-100-disk-0.qcow2");
	CHECK(access(vpath(p, v), F_OK) != 0);
	CHECK_INT(stat(vpath(p, base), &st), 0);
	CHECK_INT(st.st_mode & 0777, 0444);
	CHECK_INT(pool_vol_link_clone(p, v, 101, c1, sizeof(c1), err, sizeof(err)) < 0, 1);
	CHECK_INT(pool_vol_link_clone(p, base, 101, c1, sizeof(c1), err, sizeof(err)), 0);
	CHECK_STR(c1, "local:101/vm-101-disk-0.qcow2");
	CHECK_INT(pool_vol_link_clone(p, base, 102, c2, sizeof(c2), err, sizeof(err)), 0);
	CHECK_INT(get(p, c1, 4096), 't');
	put(p, c1, 'u', 4096);
	CHECK_INT(get(p, c1, 4096), 'u');
	CHECK_INT(get(p, c2, 4096), 't');
	CHECK_INT(get(p, base, 4096), 't');
	CHECK_INT(pool_vol_children(p, base, count_child, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(pool_vol_base(p, c1, got, sizeof(got), err, sizeof(err)), 0);
	CHECK_STR(got, base);
	CHECK_INT(pool_vol_base(p, base, got, sizeof(got), err, sizeof(err)), 0);
	CHECK_STR(got, "");
	/* qemu-img follows the relative backing name too */
	CHECK_INT(sh("qemu-img info '%s' | grep -q 'backing file: ../100/base-100-disk-0.qcow2'",
		     vpath(p, c2)),
		  0);
	CHECK_INT(qemu_check(vpath(p, c1)), 0);
	/* snapshots of a linked clone leave the base alone */
	CHECK_INT(pool_vol_snapshot(p, c2, POOL_SNAP_CREATE, "s1", err, sizeof(err)), 0);
	CHECK_INT(pool_vol_grow(p, c2, 32 * MIB, NULL, err, sizeof(err)), 0);
	CHECK_INT(get(p, c2, 4096), 't');
	CHECK_INT(pool_vol_free(p, c1, err, sizeof(err)), 0);
	CHECK_INT(pool_vol_free(p, c2, err, sizeof(err)), 0);
	n = 0;
	CHECK_INT(pool_vol_children(p, base, count_child, &n), 0);
	CHECK_INT(n, 0);
	pool_free(p);
}

static void test_copy_at_snapshot(void)
{
	struct pool *p = new_pool("copysnap");
	struct pool_copy_opts o = {.vmid = 200};
	char v[POOL_VOLID_MAX], nv[POOL_VOLID_MAX], err[256];

	CHECK_INT(pool_alloc(p, 100, "qcow2", 16 * MIB, v, sizeof(v), err, sizeof(err)), 0);
	put(p, v, 'a', 0);
	put(p, v, 'z', 8 * MIB);
	CHECK_INT(pool_vol_snapshot(p, v, POOL_SNAP_CREATE, "s1", err, sizeof(err)), 0);
	put(p, v, 'b', 0);
	CHECK_INT(pool_vol_grow(p, v, 32 * MIB, NULL, err, sizeof(err)), 0);
	CHECK_INT(pool_vol_copy_snapshot(p, v, "s1", p, &o, nv, sizeof(nv), err, sizeof(err)), 0);
	CHECK_STR(nv, "local:200/vm-200-disk-0.qcow2");
	CHECK_INT(get(p, nv, 0), 'a');
	CHECK_INT(get(p, nv, 8 * MIB), 'z');
	CHECK_INT(get(p, nv, 4 * MIB), 0);
	CHECK_INT(get(p, v, 0), 'b');
	CHECK_INT(sh("qemu-img info '%s' | grep -q '16 MiB'", vpath(p, nv)), 0);
	CHECK_INT(qemu_check(vpath(p, nv)), 0);
	CHECK_INT(pool_vol_copy_snapshot(p, v, "nope", p, &o, nv, sizeof(nv), err, sizeof(err)),
		  CR_ENOTFOUND);
	CHECK_STR(nv, "");
	pool_free(p);
}

static const struct test_case tests[] = {
    {"snapshot, rollback, delete", test_snapshot_rollback_delete},
    {"raw volumes have no snapshots", test_raw_refused},
    {"grow, shrink refused", test_grow},
    {"template base and linked clones", test_base_and_linked_clones},
    {"copy at a snapshot", test_copy_at_snapshot},
};

TEST_MAIN(tests)
