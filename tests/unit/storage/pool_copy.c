/* Tests for storage/pool_copy.c: the qcow2 header check, copies between
 * pools (qcow2 and raw, zero ranges, flattened backing chains) and the
 * refusal of a backing file outside the source storage. */
#include "storage/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/image.h"
#include "tests/unit/test.h"

static struct pool *open_pool(const char *id, const char *name)
{
	struct pool_dir_opts o = {.id = id, .content = POOL_CONTENT_ALL, .mkdir = 1};
	struct pool *p = NULL;
	char root[512], err[256];

	snprintf(root, sizeof(root), "%s/%s", test_tmpdir(), name);
	o.root = root;
	CHECK_INT(pool_dir_open(&o, &p, err, sizeof(err)), 0);
	return p;
}

/* A qcow2 of SIZE at PATH with "corral" written at OFF (and BACKING). */
static void make_image(const char *path, uint64_t size, uint64_t off, const char *backing)
{
	struct img_create_opts c = {.format = IMG_FMT_QCOW2, .size = size, .backing_file = backing};
	struct img_open_opts o = {.flags = IMG_OPEN_RDWR};
	struct img *img;
	char err[256];

	if (backing) {
		c.backing_format = "qcow2";
		c.no_backing_open = 1;
	}
	CHECK_INT(img_create(path, &c, err, sizeof(err)), 0);
	if (backing)
		return;
	CHECK_INT(img_open(&img, path, &o, err, sizeof(err)), 0);
	CHECK_INT(img_pwrite(img, "corral", 6, off), 0);
	CHECK_INT(img_close(img), 0);
}

static void read_back(struct pool *p, const char *volid, uint64_t off, const char *want)
{
	struct img_open_opts o = {.flags = IMG_OPEN_NO_BACKING};
	char path[1024], err[256], got[16] = "";
	struct img *img;

	CHECK_INT(pool_vol_path(p, volid, path, sizeof(path), err, sizeof(err)), 0);
	CHECK_INT(img_open(&img, path, &o, err, sizeof(err)), 0);
	CHECK_INT(img_pread(img, got, strlen(want), off), 0);
	got[strlen(want)] = '\0';
	CHECK_STR(got, want);
	CHECK_INT(img_close(img), 0);
}

static void test_header_check(void)
{
	unsigned char h[104] = {0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3};
	char err[256];

	CHECK_INT(pool_qcow2_header_check(h, sizeof(h), err, sizeof(err)), 0);
	CHECK_INT(pool_qcow2_header_check((const unsigned char *)"ISO9660", 7, err, sizeof(err)),
		  0);
	h[15] = 0x68; /* backing file offset */
	h[19] = 11;   /* and size */
	CHECK_INT(pool_qcow2_header_check(h, sizeof(h), err, sizeof(err)), CR_EFORMAT);
	CHECK(strstr(err, "backing file") != NULL);
	h[15] = 0;
	h[79] = 4; /* incompatible: external data file */
	CHECK_INT(pool_qcow2_header_check(h, sizeof(h), err, sizeof(err)), CR_EFORMAT);
	CHECK(strstr(err, "data file") != NULL);
	CHECK_INT(pool_qcow2_header_check(h, 40, err, sizeof(err)), CR_EFORMAT);
}

static void test_copy_between_pools(void)
{
	struct pool *a = open_pool("src", "copy-a"), *b = open_pool("dst", "copy-b");
	struct pool_copy_opts o = {.vmid = 120};
	char path[1024], volid[POOL_VOLID_MAX], err[256];
	uint64_t size;

	snprintf(path, sizeof(path), "%s/copy-a/import/disk.qcow2", test_tmpdir());
	make_image(path, 64 << 20, 40 << 20, NULL);
	CHECK_INT(pool_image_check_standalone(path, err, sizeof(err)), 0);
	CHECK_INT(pool_vol_copy(a, "src:import/disk.qcow2", b, &o, volid, sizeof(volid), err,
				sizeof(err)),
		  0);
	CHECK_STR(volid, "dst:120/vm-120-disk-0.qcow2");
	read_back(b, volid, 40 << 20, "corral");
	CHECK_INT(pool_vol_path(b, volid, path, sizeof(path), err, sizeof(err)), 0);
	CHECK_INT(pool_image_size(path, &size, err, sizeof(err)), 0);
	CHECK_INT(size, 64 << 20);
	o.format = "raw";
	CHECK_INT(pool_vol_copy(b, volid, a, &o, volid, sizeof(volid), err, sizeof(err)), 0);
	CHECK_STR(volid, "src:120/vm-120-disk-0.raw");
	read_back(a, volid, 40 << 20, "corral");
	CHECK_INT(pool_vol_copy(a, "src:import/none.qcow2", b, &o, volid, sizeof(volid), err,
				sizeof(err)) < 0,
		  1);
	CHECK_INT(
	    pool_vol_copy(a, "src:import/x.vmdk", b, &o, volid, sizeof(volid), err, sizeof(err)),
	    CR_EUNSUPPORTED);
	pool_free(a);
	pool_free(b);
}

static void test_backing_flattened_or_refused(void)
{
	struct pool *a = open_pool("chain", "chain"), *b = open_pool("out", "chain-out");
	struct pool_copy_opts o = {.vmid = 130};
	char base[1024], top[1024], volid[POOL_VOLID_MAX], err[256];
	struct stat st;

	snprintf(base, sizeof(base), "%s/chain/import/base.qcow2", test_tmpdir());
	snprintf(top, sizeof(top), "%s/chain/import/top.qcow2", test_tmpdir());
	make_image(base, 8 << 20, 4096, NULL);
	make_image(top, 8 << 20, 0, "base.qcow2");
	CHECK_INT(pool_image_check_standalone(top, err, sizeof(err)), CR_EFORMAT);
	CHECK_INT(pool_vol_copy(a, "chain:import/top.qcow2", b, &o, volid, sizeof(volid), err,
				sizeof(err)),
		  0);
	read_back(b, volid, 4096, "corral"); /* the base's data, now in the copy */
	snprintf(top, sizeof(top), "%s/chain/import/evil.qcow2", test_tmpdir());
	make_image(top, 8 << 20, 0, "/etc/shadow");
	CHECK(pool_vol_copy(a, "chain:import/evil.qcow2", b, &o, volid, sizeof(volid), err,
			    sizeof(err)) < 0);
	snprintf(top, sizeof(top), "%s/chain-out/images/130/vm-130-disk-1.qcow2", test_tmpdir());
	CHECK(stat(top, &st) < 0); /* the failed copy left nothing */
	pool_free(a);
	pool_free(b);
}

static void test_file_copy(void)
{
	struct pool *a = open_pool("fa", "file-a"), *b = open_pool("fb", "file-b");
	char path[1024], volid[POOL_VOLID_MAX], err[256], got[8] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/file-a/iso/x.iso", test_tmpdir());
	f = fopen(path, "w");
	fputs("corral", f);
	fclose(f);
	CHECK_INT(
	    pool_file_copy(a, "fa:iso/x.iso", b, NULL, volid, sizeof(volid), err, sizeof(err)), 0);
	CHECK_STR(volid, "fb:iso/x.iso");
	snprintf(path, sizeof(path), "%s/file-b/iso/x.iso", test_tmpdir());
	f = fopen(path, "r");
	CHECK(f && fread(got, 1, 6, f) == 6);
	fclose(f);
	CHECK_STR(got, "corral");
	CHECK_INT(
	    pool_file_copy(a, "fa:iso/x.iso", b, NULL, volid, sizeof(volid), err, sizeof(err)),
	    CR_EEXISTS);
	CHECK(pool_file_copy(a, "fa:iso/none.iso", b, NULL, volid, sizeof(volid), err,
			     sizeof(err)) < 0);
	pool_free(a);
	pool_free(b);
}

static const struct test_case tests[] = {
    {"qcow2 header check", test_header_check},
    {"copy between pools", test_copy_between_pools},
    {"backing chain flattened, outside refused", test_backing_flattened_or_refused},
    {"file volumes copied by name", test_file_copy},
};

TEST_MAIN(tests)
