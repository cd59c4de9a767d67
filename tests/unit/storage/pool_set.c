/* Tests for storage/pool_set.c (the node's pools by id) and the per-pool
 * content types, activation and upload temporaries of storage/pool*.c. */
#include "storage/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/unit/test.h"

static struct pool *open_pool(const char *id, const char *sub, unsigned content, int mkdir)
{
	struct pool_dir_opts o = {.id = id, .content = content, .mkdir = mkdir};
	struct pool *p = NULL;
	char root[512], err[256];

	snprintf(root, sizeof(root), "%s/%s", test_tmpdir(), sub);
	o.root = root;
	CHECK_INT(pool_dir_open(&o, &p, err, sizeof(err)), 0);
	return p;
}

static int count(struct pool *p, void *ctx)
{
	(void)p;
	++*(int *)ctx;
	return 0;
}

static void test_set(void)
{
	struct pool_set *s;
	struct pool *a = open_pool("bbb", "set-b", POOL_CONTENT_DEFAULT, 1);
	struct pool *b = open_pool("aaa", "set-a", POOL_CONTENT_DEFAULT, 1);
	struct pool *b2 = open_pool("aaa", "set-a2", POOL_CONTENT_DEFAULT, 1);
	int n = 0;

	CHECK_INT(pool_set_new(&s), 0);
	CHECK_INT(pool_set_put(s, a), 0);
	CHECK_INT(pool_set_put(s, b), 0);
	CHECK(pool_set_get(s, "aaa") == b);
	CHECK_INT(pool_set_put(s, b2), 0);
	CHECK(pool_set_get(s, "aaa") == b2);
	CHECK_STR(pool_id(b), "aaa"); /* retired, still readable */
	CHECK_INT(pool_set_foreach(s, count, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(pool_set_remove(s, "bbb"), 0);
	CHECK_INT(pool_set_remove(s, "bbb"), CR_ENOTFOUND);
	CHECK(pool_set_get(s, "bbb") == NULL);
	CHECK(pool_set_get(s, "ccc") == NULL);
	pool_set_free(s);
}

static void test_content_masks(void)
{
	unsigned m;
	char out[96], err[128];

	CHECK_INT(pool_content_mask_parse("iso,images,,backup", &m, err, sizeof(err)), 0);
	pool_content_mask_format(m, out, sizeof(out));
	CHECK_STR(out, "backup,images,iso");
	CHECK_INT(pool_content_mask_parse("iso,rootdir", &m, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid content type 'rootdir'");
	CHECK_INT(pool_content_mask_parse("", &m, err, sizeof(err)), 0);
	CHECK_INT(m, 0);
}

static void test_wrong_content_and_inactive(void)
{
	struct pool *p = open_pool("isos", "isos", 1u << POOL_CONTENT_ISO, 1);
	struct pool *gone = open_pool("gone", "never-made", POOL_CONTENT_DEFAULT, 0);
	char path[1024], volid[POOL_VOLID_MAX], err[256];
	struct pool_status st;

	CHECK_STR(pool_content_list(p), "iso");
	CHECK_INT(pool_vol_path(p, "isos:import/x.qcow2", path, sizeof(path), err, sizeof(err)),
		  -EINVAL);
	CHECK_STR(err, "storage 'isos' does not support content-type 'import'");
	CHECK_INT(pool_alloc(p, 100, NULL, 1 << 20, volid, sizeof(volid), err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(pool_vol_path(p, "isos:iso/x.iso", path, sizeof(path), err, sizeof(err)), 0);
	CHECK_INT(pool_status(gone, &st, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "unable to activate storage 'gone'") != NULL);
	CHECK_INT(pool_vol_path(gone, "gone:iso/x.iso", path, sizeof(path), err, sizeof(err)),
		  -ENOENT);
	pool_free(p);
	pool_free(gone);
}

static void test_tmp_commit(void)
{
	struct pool *p = open_pool("up", "up", POOL_CONTENT_DEFAULT, 1);
	struct pool_volume v;
	char tmp[1024], tmp2[1024], err[256];
	int fd;

	CHECK_INT(pool_tmp_create(p, POOL_CONTENT_ISO, tmp, sizeof(tmp), &fd, err, sizeof(err)), 0);
	CHECK(strstr(tmp, "/iso/.upload-") != NULL);
	CHECK_INT(write(fd, "data", 4), 4);
	close(fd);
	CHECK_INT(pool_tmp_commit(p, tmp, "up:iso/a.iso", err, sizeof(err)), 0);
	CHECK(access(tmp, F_OK) < 0);
	CHECK_INT(pool_vol_info(p, "up:iso/a.iso", &v, err, sizeof(err)), 0);
	CHECK_INT(v.size, 4);
	CHECK_STR(v.format, "iso");
	CHECK_INT(pool_tmp_create(p, POOL_CONTENT_ISO, tmp2, sizeof(tmp2), &fd, err, sizeof(err)),
		  0);
	close(fd);
	CHECK_INT(pool_tmp_commit(p, tmp2, "up:iso/a.iso", err, sizeof(err)), CR_EEXISTS);
	CHECK_INT(unlink(tmp2), 0);
	CHECK_INT(
	    pool_tmp_create(p, POOL_CONTENT_SNIPPETS, tmp2, sizeof(tmp2), &fd, err, sizeof(err)),
	    -EINVAL);
	CHECK_INT(pool_vol_info(p, "up:iso/b.iso", &v, err, sizeof(err)), CR_ENOTFOUND);
	pool_free(p);
}

static const struct test_case tests[] = {
    {"pool set", test_set},
    {"content masks", test_content_masks},
    {"wrong content, storage offline", test_wrong_content_and_inactive},
    {"upload temporaries", test_tmp_commit},
};

TEST_MAIN(tests)
