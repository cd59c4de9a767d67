/* Tests for server/cluster_inv.c (VM and storage inventories as versioned
 * deltas) and
 * the pure part of server/peer.c (which node a path names). */
#include "server/cluster_int.h"
#include "server/peer.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <string.h>

static cJSON *row(int vmid, const char *status, double cpu)
{
	cJSON *o = cJSON_CreateObject();
	char id[32];

	snprintf(id, sizeof(id), "qemu/%d", vmid);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddNumberToObject(o, "vmid", vmid);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddNumberToObject(o, "cpu", cpu);
	cJSON_AddNumberToObject(o, "maxmem", 64 << 20);
	return o;
}

static cJSON *rows2(int a, const char *sa, int b, const char *sb, double cpu)
{
	cJSON *r = cJSON_CreateArray();

	cJSON_AddItemToArray(r, row(a, sa, cpu));
	if (b)
		cJSON_AddItemToArray(r, row(b, sb, cpu));
	return r;
}

static int count(const cJSON *d, const char *k)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(d, k));
}

static void test_versions_and_deltas(void)
{
	struct inv *v = inv_new();
	cJSON *r = rows2(101, "stopped", 100, "running", 0.1), *d;
	uint64_t v1, v2;

	v1 = inv_update_local(v, r);
	cJSON_Delete(r);
	CHECK(v1 == 2);
	CHECK_INT((int)inv_count(v), 2);
	CHECK(inv_has(v, 100) && inv_has(v, 101) && !inv_has(v, 102));
	/* Only cpu moved: no new version, nothing in a delta. */
	r = rows2(101, "stopped", 100, "running", 0.9);
	CHECK(inv_update_local(v, r) == v1);
	cJSON_Delete(r);
	d = inv_delta(v, v1, 0);
	CHECK_INT(count(d, "vms"), 0);
	cJSON_Delete(d);
	/* 100 stopped, 101 deleted: one changed row and one tombstone. */
	r = rows2(100, "stopped", 0, NULL, 0);
	v2 = inv_update_local(v, r);
	cJSON_Delete(r);
	CHECK(v2 == v1 + 2);
	d = inv_delta(v, v1, 0);
	CHECK_INT(count(d, "vms"), 1);
	CHECK_INT(count(d, "gone"), 1);
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "gone"), 0)->valuestring, "qemu/101");
	cJSON_Delete(d);
	/* A full delta has every live row and no tombstones. */
	d = inv_delta(v, 0, 1);
	CHECK_INT(count(d, "vms"), 1);
	CHECK_INT(count(d, "gone"), 0);
	cJSON_Delete(d);
	inv_free(v);
}

static void test_apply_on_a_peer(void)
{
	struct inv *own = inv_new(), *copy = inv_new();
	cJSON *r = rows2(100, "running", 200, "stopped", 0), *d;
	uint64_t v1;

	v1 = inv_update_local(own, r);
	cJSON_Delete(r);
	d = inv_delta(own, 0, 1);
	CHECK_INT(inv_apply(copy, d), 0);
	cJSON_Delete(d);
	CHECK(inv_version(copy) == v1);
	CHECK(inv_has(copy, 100) && inv_has(copy, 200));
	r = rows2(200, "running", 300, "stopped", 0);
	inv_update_local(own, r);
	cJSON_Delete(r);
	d = inv_delta(own, v1, 0);
	CHECK_INT(inv_apply(copy, d), 0);
	cJSON_Delete(d);
	CHECK(!inv_has(copy, 100) && inv_has(copy, 200) && inv_has(copy, 300));
	CHECK(inv_version(copy) == inv_version(own));
	/* A full delta replaces whatever the copy had. */
	d = inv_delta(own, 0, 1);
	CHECK_INT(inv_apply(copy, d), 0);
	cJSON_Delete(d);
	CHECK_INT((int)inv_count(copy), 2);
	d = cJSON_CreateNull();
	CHECK_INT(inv_apply(copy, d), -EBADMSG);
	cJSON_Delete(d);
	inv_free(own);
	inv_free(copy);
}

static void test_many_rows_stay_sorted(void)
{
	struct inv *v = inv_new();
	cJSON *r = cJSON_CreateArray();

	for (int i = 999; i >= 100; i -= 3)
		cJSON_AddItemToArray(r, row(i, "stopped", 0));
	inv_update_local(v, r);
	cJSON_Delete(r);
	CHECK_INT((int)inv_count(v), 300);
	for (int i = 999; i >= 100; i -= 3)
		CHECK(inv_has(v, i));
	CHECK(!inv_has(v, 998));
	inv_free(v);
}

static cJSON *storage_row(const char *sid, double disk)
{
	cJSON *o = cJSON_CreateObject();
	char id[64];

	snprintf(id, sizeof(id), "storage/n1/%s", sid);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "storage");
	cJSON_AddStringToObject(o, "storage", sid);
	cJSON_AddNumberToObject(o, "disk", disk);
	return o;
}

static void each_storage(void *arg, int vmid, const cJSON *row)
{
	(void)row;
	*(int *)arg += vmid == 0;
}

static void test_storage_rows(void)
{
	struct inv *own = inv_new(), *copy = inv_new();
	cJSON *r = rows2(100, "running", 0, NULL, 0), *d, *bad;
	int n = 0;
	uint64_t v1;

	cJSON_AddItemToArray(r, storage_row("local", 10));
	cJSON_AddItemToArray(r, storage_row("nfs", 5));
	/* A VM row whose id does not match its vmid is not taken. */
	bad = row(300, "stopped", 0);
	cJSON_ReplaceItemInObject(bad, "id", cJSON_CreateString("qemu/301"));
	cJSON_AddItemToArray(r, bad);
	v1 = inv_update_local(own, r);
	CHECK(v1 == 3);
	CHECK_INT((int)inv_count(own), 1);
	CHECK(!inv_has(own, 300) && !inv_has(own, 301));
	/* A storage's disk usage is a change (only VM figures are volatile). */
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(r, 1), "disk", cJSON_CreateNumber(11));
	CHECK(inv_update_local(own, r) == v1 + 1);
	cJSON_DeleteItemFromArray(r, 2);
	inv_update_local(own, r);
	cJSON_Delete(r);
	d = inv_delta(own, v1 + 1, 0);
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "gone"), 0)->valuestring,
		  "storage/n1/nfs");
	cJSON_Delete(d);
	d = inv_delta(own, 0, 1);
	CHECK_INT(inv_apply(copy, d), 0);
	cJSON_Delete(d);
	inv_each(copy, each_storage, &n);
	CHECK_INT(n, 1);
	CHECK(inv_has(copy, 100));
	inv_free(own);
	inv_free(copy);
}

static void test_path_node(void)
{
	char n[64];

	CHECK_INT(peer_path_node("/nodes/n2/qemu/100/status/start", n, sizeof(n)), 0);
	CHECK_STR(n, "n2");
	CHECK_INT(peer_path_node("/nodes/n3", n, sizeof(n)), 0);
	CHECK_STR(n, "n3");
	CHECK_INT(peer_path_node("/nodes", n, sizeof(n)), -ENOENT);
	CHECK_INT(peer_path_node("/nodes/", n, sizeof(n)), -ENOENT);
	CHECK_INT(peer_path_node("/cluster/status", n, sizeof(n)), -ENOENT);
	CHECK_INT(peer_path_node("/nodes/xxxxxxxx/a", n, 4), -ENOENT);
}

static const struct test_case tests[] = {
	{ "versions and deltas", test_versions_and_deltas },
	{ "apply on a peer", test_apply_on_a_peer },
	{ "many rows stay sorted", test_many_rows_stay_sorted },
	{ "storage rows", test_storage_rows },
	{ "path node", test_path_node },
};

TEST_MAIN(tests)
