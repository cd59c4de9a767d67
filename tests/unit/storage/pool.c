/* Tests for storage/pool*.c: the strict volume id parser, path confinement
 * (symlinks leading out), allocation, listing, free and status. */
#include "storage/pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/unit/test.h"

static void check_reject(const char *volid)
{
	struct pool_volid v;
	char err[256] = "";

	if (pool_volid_parse(volid, &v, err, sizeof(err)) != -EINVAL)
		test_fail(__FILE__, __LINE__, "accepted volume id '%s'", volid);
	CHECK(err[0] != '\0');
}

static void test_parse_accepts(void)
{
	struct pool_volid v;
	char err[256];

	CHECK_INT(pool_volid_parse("local:100/vm-100-disk-0.qcow2", &v, err, sizeof(err)), 0);
	CHECK_STR(v.storage, "local");
	CHECK_INT(v.content, POOL_CONTENT_IMAGES);
	CHECK_INT(v.vmid, 100);
	CHECK_STR(v.name, "vm-100-disk-0.qcow2");
	CHECK_STR(v.format, "qcow2");
	CHECK_INT(pool_volid_parse("local:iso/debian-12.iso", &v, err, sizeof(err)), 0);
	CHECK_INT(v.content, POOL_CONTENT_ISO);
	CHECK_INT(v.vmid, 0);
	CHECK_INT(pool_volid_parse("local:import/x.qcow2", &v, err, sizeof(err)), 0);
	CHECK_INT(v.content, POOL_CONTENT_IMPORT);
	CHECK_INT(pool_volid_parse("my-store.1:123456/vm-123456-disk-12.raw", &v, err, sizeof(err)),
		  0);
	CHECK_STR(v.format, "raw");
}

static void test_parse_rejects(void)
{
	static const char *const bad[] = {
	    "local:../../x",
	    "/etc/shadow",
	    "local:100/../../etc/passwd",
	    "local:100/vm-100-disk-0.qcow2/../../x",
	    "local:/etc/shadow",
	    "local:iso/../../../etc/shadow",
	    "local:iso/.hidden.iso",
	    "local:iso/a..iso",
	    "local:iso/x.iso\n",
	    "local:iso/x\x01.iso",
	    "local:iso/x y.iso",
	    "local:iso/x.exe",
	    "local:etc/passwd",
	    "local:images/vm-100-disk-0.qcow2",
	    "local:100/vm-101-disk-0.qcow2",
	    "local:99/vm-99-disk-0.qcow2",
	    "local:0100/vm-100-disk-0.qcow2",
	    "local:100/vm-100-.qcow2",
	    "local:100/vm-100-disk-0.iso",
	    "local:100/sub/vm-100-disk-0.qcow2",
	    "local:",
	    "local",
	    ":iso/x.iso",
	    "1local:iso/x.iso",
	    "lo cal:iso/x.iso",
	    "local-:iso/x.iso",
	    "",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_reject(bad[i]);
}

static void test_parse_nul(void)
{
	/* A NUL inside the text ends the C string: what remains must not parse as
	 * the longer name the bytes after it spelled. */
	const char raw[] = "local:iso/x.iso\0/../../etc/shadow";
	struct pool_volid v;
	char err[256];

	CHECK_INT(pool_volid_parse(raw, &v, err, sizeof(err)), 0);
	CHECK_STR(v.name, "x.iso");
	check_reject("local:iso/\0x.iso");
}

static struct pool *open_pool(const char *name, char *root, size_t n)
{
	struct pool *p = NULL;
	char err[256];

	snprintf(root, n, "%s/%s", test_tmpdir(), name);
	CHECK_INT(pool_dir_new("local", root, &p, err, sizeof(err)), 0);
	return p;
}

static void test_path_and_unknown_storage(void)
{
	char root[512], path[1024], want[1100], err[256];
	struct pool *p = open_pool("paths", root, sizeof(root));

	CHECK_STR(pool_id(p), "local");
	CHECK_STR(pool_type(p), "dir");
	CHECK_INT(
	    pool_path(p, "local:100/vm-100-disk-0.qcow2", path, sizeof(path), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/images/100/vm-100-disk-0.qcow2", root);
	CHECK_STR(path, want);
	CHECK_INT(pool_path(p, "local:iso/x.iso", path, sizeof(path), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/iso/x.iso", root);
	CHECK_STR(path, want);
	CHECK_INT(pool_path(p, "other:iso/x.iso", path, sizeof(path), err, sizeof(err)),
		  CR_ENOTFOUND);
	CHECK_STR(err, "storage 'other' does not exist");
	CHECK_INT(pool_path(p, "local:../../x", path, sizeof(path), err, sizeof(err)), -EINVAL);
	pool_free(p);
}

static void test_symlink_escape(void)
{
	char root[512], link[1024], target[600], path[1024], err[256];
	struct pool *p = open_pool("symlinks", root, sizeof(root));

	snprintf(link, sizeof(link), "%s/iso/evil.iso", root);
	CHECK_INT(symlink("/etc/passwd", link), 0);
	CHECK_INT(pool_path(p, "local:iso/evil.iso", path, sizeof(path), err, sizeof(err)),
		  -EACCES);
	/* A VM directory that is a link to elsewhere: even a file that does not
	 * exist yet resolves outside. */
	snprintf(target, sizeof(target), "%s/outside", test_tmpdir());
	CHECK_INT(mkdir(target, 0700), 0);
	snprintf(link, sizeof(link), "%s/images/200", root);
	CHECK_INT(symlink(target, link), 0);
	CHECK_INT(
	    pool_path(p, "local:200/vm-200-disk-0.qcow2", path, sizeof(path), err, sizeof(err)),
	    -EACCES);
	CHECK_INT(pool_alloc(p, 200, "qcow2", 1 << 20, path, sizeof(path), err, sizeof(err)),
		  -EACCES);
	/* A link that stays inside is fine. */
	snprintf(link, sizeof(link), "%s/iso/real.iso", root);
	fclose(fopen(link, "w"));
	snprintf(link, sizeof(link), "%s/iso/alias.iso", root);
	CHECK_INT(symlink("real.iso", link), 0);
	CHECK_INT(pool_path(p, "local:iso/alias.iso", path, sizeof(path), err, sizeof(err)), 0);
	pool_free(p);
}

struct seen {
	char volids[8][300];
	uint64_t sizes[8];
	int vmids[8];
	int n;
};

static int collect(const struct pool_volume *v, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8) {
		snprintf(s->volids[s->n], sizeof(s->volids[0]), "%s", v->volid);
		s->sizes[s->n] = v->size;
		s->vmids[s->n] = v->vmid;
		s->n++;
	}
	return 0;
}

static void test_alloc_list_free(void)
{
	char root[512], volid[POOL_VOLID_MAX], path[1024], err[256];
	struct pool *p = open_pool("alloc", root, sizeof(root));
	struct seen s = {.n = 0};
	struct stat st;

	CHECK_INT(pool_alloc(p, 100, NULL, 1 << 30, volid, sizeof(volid), err, sizeof(err)), 0);
	CHECK_STR(volid, "local:100/vm-100-disk-0.qcow2");
	CHECK_INT(pool_alloc(p, 100, "raw", 1 << 20, volid, sizeof(volid), err, sizeof(err)), 0);
	CHECK_STR(volid, "local:100/vm-100-disk-1.raw");
	CHECK_INT(pool_alloc(p, 101, "qcow2", 1 << 20, volid, sizeof(volid), err, sizeof(err)), 0);
	CHECK_STR(volid, "local:101/vm-101-disk-0.qcow2");
	CHECK_INT(pool_alloc(p, 100, "vmdk", 1 << 20, volid, sizeof(volid), err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(pool_list(p, -1, 0, collect, &s), 0);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.volids[0], "local:100/vm-100-disk-0.qcow2");
	CHECK_INT(s.sizes[0], 1 << 30);
	CHECK_INT(s.vmids[0], 100);
	CHECK_STR(s.volids[1], "local:100/vm-100-disk-1.raw");
	CHECK_INT(s.sizes[1], 1 << 20);
	s.n = 0;
	CHECK_INT(pool_list(p, POOL_CONTENT_IMAGES, 101, collect, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(pool_vol_free(p, "local:100/vm-100-disk-0.qcow2", err, sizeof(err)), 0);
	CHECK_INT(pool_vol_free(p, "local:100/vm-100-disk-1.raw", err, sizeof(err)), 0);
	CHECK_INT(pool_vol_free(p, "local:100/vm-100-disk-1.raw", err, sizeof(err)), -ENOENT);
	snprintf(path, sizeof(path), "%s/images/100", root);
	CHECK(stat(path, &st) < 0); /* the VM's directory went with its last disk */
	s.n = 0;
	CHECK_INT(pool_list(p, POOL_CONTENT_ISO, 0, collect, &s), 0);
	CHECK_INT(s.n, 0);
	pool_free(p);
}

static void test_status(void)
{
	char root[512], err[256];
	struct pool *p = open_pool("status", root, sizeof(root));
	struct pool_status st;

	CHECK_INT(pool_status(p, &st, err, sizeof(err)), 0);
	CHECK(st.total > 0);
	CHECK(st.used <= st.total);
	CHECK(st.avail <= st.total);
	pool_free(p);
}

static const struct test_case tests[] = {
    {"volume ids accepted", test_parse_accepts},
    {"volume ids rejected", test_parse_rejects},
    {"NUL in a volume id", test_parse_nul},
    {"paths and unknown storage", test_path_and_unknown_storage},
    {"symlinks leading out", test_symlink_escape},
    {"allocate, list, free", test_alloc_list_free},
    {"status", test_status},
};

TEST_MAIN(tests)
