/* Tests for server/api_qemu_snapshot_tree.c: the snapshot tree of a VM
 * record (add, remove with re-parenting, rollback's current), the list as
 * Proxmox answers it, reserved names, resize's size argument, the snapshot
 * name pattern and the drives walked. */
#include "server/api_qemu_snapshot.h"
#include "server/params.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <string.h>

#include "common/err.h"

static struct vmconf *conf_with(const char *memory)
{
	struct vmconf *c = vmconf_new();

	vmconf_set(c, "memory", memory);
	vmconf_set(c, "virtio0", "local:100/vm-100-disk-0.qcow2,size=64M");
	return c;
}

static const char *parent_of(const cJSON *snaps, const char *name)
{
	const cJSON *p = cJSON_GetObjectItem(qsnap_get(snaps, name), "parent");

	return p ? p->valuestring : "";
}

/* s1 <- s2 <- s3, current at s3. */
static cJSON *chain(void)
{
	cJSON *snaps = NULL;
	struct vmconf *c = conf_with("256");

	CHECK_INT(qsnap_add(&snaps, "s1", c, 100, "first", NULL), 0);
	CHECK_INT(qsnap_add(&snaps, "s2", c, 200, NULL, "virtio0"), 0);
	CHECK_INT(qsnap_add(&snaps, "s3", c, 300, "", NULL), 0);
	vmconf_free(c);
	return snaps;
}

static void test_add_builds_chain(void)
{
	cJSON *snaps = chain();
	struct vmconf *c = conf_with("512");

	CHECK_STR(qsnap_parent(snaps), "s3");
	CHECK_STR(parent_of(snaps, "s1"), "");
	CHECK_STR(parent_of(snaps, "s2"), "s1");
	CHECK_STR(parent_of(snaps, "s3"), "s2");
	CHECK_INT(qsnap_add(&snaps, "s2", c, 400, NULL, NULL), CR_EEXISTS);
	CHECK_STR(qsnap_parent(snaps), "s3");
	vmconf_free(c);
	cJSON_Delete(snaps);
}

static void test_remove_middle_reparents(void)
{
	cJSON *snaps = chain();

	CHECK_INT(qsnap_remove(snaps, "s2"), 0);
	CHECK(qsnap_get(snaps, "s2") == NULL);
	CHECK_STR(parent_of(snaps, "s3"), "s1");
	CHECK_STR(qsnap_parent(snaps), "s3");
	CHECK_INT(qsnap_remove(snaps, "s2"), CR_ENOTFOUND);
	CHECK_INT(qsnap_remove(snaps, "s3"), 0);
	CHECK_STR(qsnap_parent(snaps), "s1");
	CHECK_INT(qsnap_remove(snaps, "s1"), 0);
	CHECK_STR(qsnap_parent(snaps), "");
	cJSON_Delete(snaps);
}

static void test_rollback_branches(void)
{
	cJSON *snaps = chain();
	struct vmconf *c = conf_with("1024"), *back;

	CHECK_INT(qsnap_set_current(snaps, "s1"), 0);
	CHECK_INT(qsnap_add(&snaps, "b1", c, 500, NULL, NULL), 0);
	CHECK_STR(parent_of(snaps, "b1"), "s1");
	CHECK_STR(qsnap_parent(snaps), "b1");
	CHECK_INT(qsnap_set_current(snaps, "nope"), CR_ENOTFOUND);
	back = qsnap_config(snaps, "s2");
	CHECK(back != NULL);
	CHECK_STR(vmconf_get(back, "memory"), "256");
	CHECK_STR(vmconf_get(back, "virtio0"), "local:100/vm-100-disk-0.qcow2,size=64M");
	CHECK(qsnap_config(snaps, "nope") == NULL);
	vmconf_free(back);
	vmconf_free(c);
	cJSON_Delete(snaps);
}

static void test_list_ends_with_current(void)
{
	cJSON *snaps = chain(), *l = qsnap_list(snaps, "abc", 1), *cur, *first;

	CHECK_INT(cJSON_GetArraySize(l), 4);
	first = cJSON_GetArrayItem(l, 0);
	CHECK_STR(cJSON_GetObjectItem(first, "name")->valuestring, "s1");
	CHECK_STR(cJSON_GetObjectItem(first, "description")->valuestring, "first");
	CHECK_INT(cJSON_GetObjectItem(first, "snaptime")->valueint, 100);
	CHECK_INT(cJSON_GetObjectItem(first, "vmstate")->valueint, 0);
	CHECK(cJSON_GetObjectItem(first, "parent") == NULL);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "vmstate")->valueint, 1);
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "parent")->valuestring, "s1");
	cur = cJSON_GetArrayItem(l, 3);
	CHECK_STR(cJSON_GetObjectItem(cur, "name")->valuestring, "current");
	CHECK_STR(cJSON_GetObjectItem(cur, "description")->valuestring, "You are here!");
	CHECK_STR(cJSON_GetObjectItem(cur, "parent")->valuestring, "s3");
	CHECK_STR(cJSON_GetObjectItem(cur, "digest")->valuestring, "abc");
	CHECK_INT(cJSON_GetObjectItem(cur, "running")->valueint, 1);
	cJSON_Delete(l);
	cJSON_Delete(snaps);
}

static void test_list_in_order_taken(void)
{
	struct vmconf *c = conf_with("256");
	cJSON *snaps = NULL, *l;

	CHECK_INT(qsnap_add(&snaps, "zeta", c, 500, NULL, NULL), 0);
	CHECK_INT(qsnap_add(&snaps, "alpha", c, 500, NULL, NULL), 0);
	CHECK_INT(qsnap_add(&snaps, "mid", c, 500, NULL, NULL), 0);
	CHECK_INT(qsnap_remove(snaps, "alpha"), 0);
	l = qsnap_list(snaps, "", 0);
	CHECK_INT(cJSON_GetArraySize(l), 3);
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "name")->valuestring, "zeta");
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "name")->valuestring, "mid");
	CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "parent")->valuestring, "zeta");
	cJSON_Delete(l);
	cJSON_Delete(snaps);
	vmconf_free(c);
}

static void test_list_without_snapshots(void)
{
	cJSON *l = qsnap_list(NULL, "d", 0), *cur = cJSON_GetArrayItem(l, 0);

	CHECK_INT(cJSON_GetArraySize(l), 1);
	CHECK_STR(cJSON_GetObjectItem(cur, "name")->valuestring, "current");
	CHECK(cJSON_GetObjectItem(cur, "parent") == NULL);
	CHECK_INT(cJSON_GetObjectItem(cur, "running")->valueint, 0);
	cJSON_Delete(l);
}

static void test_names(void)
{
	static const char *const good[] = {"ab", "s1", "before-upgrade", "A_b-9",
					    "a234567890123456789012345678901234567890"};
	static const char *const bad[] = {"a", "1abc", "-ab", "a b", "a.b", "a/b", "é1", ""};
	char err[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (param_check_pve_configid(good[i], err, sizeof(err)) != 0)
			test_fail(__FILE__, __LINE__, "refused \"%s\": %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (param_check_pve_configid(bad[i], err, sizeof(err)) == 0)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
	CHECK_INT(qsnap_name_reserved("current", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "unable to use snapshot name 'current' (reserved name)");
	CHECK_INT(qsnap_name_reserved("Pending", err, sizeof(err)), -EINVAL);
	CHECK_INT(qsnap_name_reserved("currently", err, sizeof(err)), 0);
}

static void test_sizes(void)
{
	const uint64_t G = 1ull << 30;
	uint64_t v = 0;
	char err[128];

	CHECK_INT(qsnap_parse_size("+10G", G, &v, err, sizeof(err)), 0);
	CHECK(v == 11 * G);
	CHECK_INT(qsnap_parse_size("32G", G, &v, err, sizeof(err)), 0);
	CHECK(v == 32 * G);
	CHECK_INT(qsnap_parse_size("1.5G", G, &v, err, sizeof(err)), 0);
	CHECK(v == G + G / 2);
	CHECK_INT(qsnap_parse_size("+512M", G, &v, err, sizeof(err)), 0);
	CHECK(v == G + (512ull << 20));
	CHECK_INT(qsnap_parse_size("1000", 0, &v, err, sizeof(err)), 0);
	CHECK(v == 1024); /* bytes, rounded up to sectors */
	CHECK_INT(qsnap_parse_size("1T", G, &v, err, sizeof(err)), 0);
	CHECK(v == 1024 * G);
	CHECK_INT(qsnap_parse_size("1G", G, &v, err, sizeof(err)), 0);
	CHECK(v == G);
	CHECK_INT(qsnap_parse_size("512M", G, &v, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "shrinking disks is not supported");
	static const char *const bad[] = {"", "+", "G", "-1G", "1.G", ".5G", "1e3", "0x10",
					  "10GB", "10g", "1 G", "+-1", "inf", "99999999999T"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (qsnap_parse_size(bad[i], 0, &v, err, sizeof(err)) != -EINVAL ||
		    strncmp(err, "invalid size", 12) != 0)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
}

static void test_drives(void)
{
	struct vmconf *c = conf_with("256");
	char keys[8][16], vols[8][272];

	vmconf_set(c, "ide2", "none,media=cdrom");
	vmconf_set(c, "ide3", "local:iso/x.iso,media=cdrom");
	vmconf_set(c, "scsi1", "local:100/vm-100-disk-1.raw,size=1G");
	vmconf_set(c, "unused0", "local:100/vm-100-disk-2.qcow2");
	vmconf_set(c, "net0", "virtio=BC:24:11:00:00:01");
	CHECK_INT(qsnap_drives(c, keys, vols, 8), 2);
	CHECK_STR(keys[0], "scsi1");
	CHECK_STR(vols[0], "local:100/vm-100-disk-1.raw");
	CHECK_STR(keys[1], "virtio0");
	CHECK_STR(vols[1], "local:100/vm-100-disk-0.qcow2");
	CHECK_INT(qsnap_drives(c, keys, vols, 1), 1);
	vmconf_free(c);
}

static const struct test_case tests[] = {
    {"add builds a chain", test_add_builds_chain},
    {"remove a middle snapshot re-parents", test_remove_middle_reparents},
    {"rollback then snapshot branches", test_rollback_branches},
    {"list ends with current", test_list_ends_with_current},
    {"list in the order taken", test_list_in_order_taken},
    {"list without snapshots", test_list_without_snapshots},
    {"names", test_names},
    {"sizes", test_sizes},
    {"drives", test_drives},
};

TEST_MAIN(tests)
