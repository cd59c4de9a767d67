/* Tests for server/rescache.c through the router: the cached VM rows of
 * /cluster/resources and GET /nodes/{node}/qemu follow every configuration
 * write, destroy and create at once, filter per user, and equal the rows
 * built without any cache. */
#include "tests/unit/server/api_fixture.h"

#include "server/api.h"
#include "server/qemu_int.h"
#include "server/rescache.h"

#include <stdlib.h>

#define NODE_QEMU "/nodes/" FIX_NODE "/qemu"

static void open_node(struct api_fixture *f, const char *name)
{
	api_fixture_open_storage(f, name);
	CHECK_INT(rescache_new(&f->app.rescache), 0);
}

static void close_node(struct api_fixture *f)
{
	rescache_free(f->app.rescache);
	api_fixture_close_storage(f);
}

/* METHOD PATH?QUERY as admin, whose answer is a task: waits for it to end OK. */
static void task_ok(struct api_fixture *f, const char *method, const char *path,
		    const char *query)
{
	struct api_answer a = api_call(f, method, path, query, "admin@pve");
	const char *upid = cJSON_GetStringValue(api_data(&a));
	char status[512] = "(no task)";

	CHECK_INT(a.status, 200);
	if (upid)
		CHECK_INT(tasks_wait(f->app.tasks, upid, 20000, status, sizeof(status)), 0);
	CHECK_STR(status, "OK");
	api_answer_free(&a);
}

/* The rows of GET PATH?QUERY as USER, as JSON text ("" on failure). */
static char *rows_text(struct api_fixture *f, const char *path, const char *query,
		       const char *user)
{
	struct api_answer a = api_call(f, "GET", path, query, user);
	char *text = NULL;

	CHECK_INT(a.status, 200);
	if (api_data(&a))
		text = cJSON_PrintUnformatted(api_data(&a));
	api_answer_free(&a);
	return text ? text : strdup("");
}

/* The VM rows of /cluster/resources USER sees. */
static char *vm_rows(struct api_fixture *f, const char *user)
{
	return rows_text(f, "/cluster/resources", "type=vm", user);
}

/* The row of VMID in USER's view; NULL when absent.  Free with cJSON_Delete. */
static cJSON *row_of(struct api_fixture *f, const char *user, int vmid, int *count)
{
	char *text = vm_rows(f, user);
	cJSON *rows = cJSON_Parse(text), *row, *found = NULL;

	*count = cJSON_GetArraySize(rows);
	cJSON_ArrayForEach(row, rows)
	{
		if (cJSON_GetNumberValue(cJSON_GetObjectItem(row, "vmid")) == vmid)
			found = cJSON_Duplicate(row, 1);
	}
	cJSON_Delete(rows);
	free(text);
	return found;
}

static void put_config(struct api_fixture *f, int vmid, const char *query)
{
	char path[64];
	struct api_answer a;

	snprintf(path, sizeof(path), NODE_QEMU "/%d/config", vmid);
	a = api_call(f, "PUT", path, query, "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
}

static void check_row(struct api_fixture *f, int vmid, const char *name, double maxmem,
		      int count)
{
	int n;
	cJSON *row = row_of(f, "admin@pve", vmid, &n);

	CHECK_INT(n, count);
	CHECK(row != NULL);
	if (!row)
		return;
	CHECK_STR(api_str(row, "name"), name);
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "maxmem")) == maxmem);
	cJSON_Delete(row);
}

static void test_config_writes(void)
{
	struct api_fixture f;

	open_node(&f, "writes");
	task_ok(&f, "POST", NODE_QEMU, "vmid=201&name=r1&memory=512");
	task_ok(&f, "POST", NODE_QEMU, "vmid=202&name=r2&memory=256&tags=x");
	check_row(&f, 201, "r1", 512.0 * 1048576, 2);
	check_row(&f, 201, "r1", 512.0 * 1048576, 2); /* from the cache now */
	put_config(&f, 201, "name=renamed&memory=1024");
	check_row(&f, 201, "renamed", 1024.0 * 1048576, 2);
	put_config(&f, 201, "delete=name");
	check_row(&f, 201, "VM 201", 1024.0 * 1048576, 2);
	close_node(&f);
}

static void test_destroy_create(void)
{
	struct api_fixture f;
	int n;
	cJSON *row;

	open_node(&f, "destroy");
	task_ok(&f, "POST", NODE_QEMU, "vmid=301&name=keep&memory=512");
	task_ok(&f, "POST", NODE_QEMU, "vmid=302&name=old&memory=512");
	check_row(&f, 302, "old", 512.0 * 1048576, 2);
	task_ok(&f, "DELETE", NODE_QEMU "/302", NULL);
	row = row_of(&f, "admin@pve", 302, &n);
	CHECK(row == NULL);
	CHECK_INT(n, 1);
	cJSON_Delete(row);
	/* The same VMID again, with another configuration. */
	task_ok(&f, "POST", NODE_QEMU, "vmid=302&name=new&memory=128");
	check_row(&f, 302, "new", 128.0 * 1048576, 2);
	task_ok(&f, "POST", NODE_QEMU, "vmid=303&name=third&memory=64");
	check_row(&f, 303, "third", 64.0 * 1048576, 3);
	check_row(&f, 301, "keep", 512.0 * 1048576, 3);
	close_node(&f);
}

static void test_per_user(void)
{
	struct api_fixture f;
	struct api_answer a;
	int n;
	cJSON *row;

	open_node(&f, "users");
	task_ok(&f, "POST", NODE_QEMU, "vmid=401&name=mine&memory=512");
	task_ok(&f, "POST", NODE_QEMU, "vmid=402&name=theirs&memory=512");
	check_row(&f, 402, "theirs", 512.0 * 1048576, 2);
	row = row_of(&f, "bob@pve", 401, &n);
	CHECK(row == NULL);
	CHECK_INT(n, 0);
	cJSON_Delete(row);
	a = api_call(&f, "PUT", "/access/acl", "path=%2Fvms%2F401&roles=PVEAuditor&users=bob%40pve",
		     "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	row = row_of(&f, "bob@pve", 401, &n);
	CHECK(row != NULL);
	CHECK_INT(n, 1);
	CHECK_STR(row ? api_str(row, "name") : "", "mine");
	cJSON_Delete(row);
	/* What bob's listing left out is still current for admin. */
	check_row(&f, 402, "theirs", 512.0 * 1048576, 2);
	close_node(&f);
}

/* The rows of VMIDS as qemu_list_row renders them for NODE, as JSON text. */
static char *list_rows(struct api_fixture *f, const int *vmids, size_t n, const char *node)
{
	cJSON *rows = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; i < n; i++) {
		struct qvm vm;

		CHECK_INT(qvm_read(&f->app, vmids[i], &vm), 0);
		cJSON_AddItemToArray(rows,
				     qemu_list_row(&f->app, vmids[i], &vm, qemu_host_cpus(), node));
		qvm_clear(&vm);
	}
	text = cJSON_PrintUnformatted(rows);
	cJSON_Delete(rows);
	return text;
}

/* Cached rows are byte for byte the rows built without a cache, and the
 * rows the VM engine renders. */
static void test_same_as_uncached(void)
{
	struct api_fixture f;
	struct rescache *keep;
	static const int vmids[] = {501, 502};
	char *cached, *again, *plain, *engine;

	open_node(&f, "same");
	task_ok(&f, "POST", NODE_QEMU,
		"vmid=501&name=web-1.example&memory=512&cores=2&sockets=2&tags=t1%3Bt2&agent=1");
	task_ok(&f, "POST", NODE_QEMU, "vmid=502&memory=256&template=1&serial0=socket");
	cached = vm_rows(&f, "admin@pve");
	again = vm_rows(&f, "admin@pve");
	keep = f.app.rescache;
	f.app.rescache = NULL;
	plain = vm_rows(&f, "admin@pve");
	f.app.rescache = keep;
	CHECK(strstr(cached, "\"name\":\"web-1.example\"") != NULL);
	CHECK(strstr(cached, "\"template\":1") != NULL);
	CHECK(strstr(cached, "\"maxcpu\":") != NULL);
	CHECK_STR(again, cached);
	CHECK_STR(plain, cached);
	engine = list_rows(&f, vmids, 2, FIX_NODE);
	CHECK_STR(engine, cached);
	free(engine);
	free(cached);
	free(again);
	free(plain);
	close_node(&f);
}

/* GET /nodes/{node}/qemu rows come from the same entries: current after
 * every write, the same bytes as the uncached vmstatus rows, per user. */
static void test_vm_list(void)
{
	struct api_fixture f;
	static const int vmids[] = {601, 602};
	char *first, *again, *engine, *renamed, *bob, *left;

	open_node(&f, "vmlist");
	task_ok(&f, "POST", NODE_QEMU, "vmid=601&name=one&memory=512&tags=a");
	task_ok(&f, "POST", NODE_QEMU, "vmid=602&name=two&memory=256&cores=2&agent=1");
	first = rows_text(&f, NODE_QEMU, NULL, "admin@pve");
	again = rows_text(&f, NODE_QEMU, NULL, "admin@pve");
	engine = list_rows(&f, vmids, 2, NULL);
	CHECK_STR(again, first);
	CHECK_STR(engine, first);
	CHECK(strstr(first, "\"qmpstatus\":\"stopped\"") != NULL);
	put_config(&f, 601, "name=renamed");
	renamed = rows_text(&f, NODE_QEMU, NULL, "admin@pve");
	CHECK(strstr(renamed, "\"name\":\"renamed\"") != NULL);
	CHECK(strstr(renamed, "\"name\":\"one\"") == NULL);
	check_row(&f, 601, "renamed", 512.0 * 1048576, 2); /* the other kind of the entry */
	bob = rows_text(&f, NODE_QEMU, NULL, "bob@pve");
	CHECK_STR(bob, "[]");
	task_ok(&f, "DELETE", NODE_QEMU "/602", NULL);
	left = rows_text(&f, NODE_QEMU, NULL, "admin@pve");
	CHECK(strstr(left, "\"vmid\":601") != NULL && strstr(left, "\"vmid\":602") == NULL);
	free(first);
	free(again);
	free(engine);
	free(renamed);
	free(bob);
	free(left);
	close_node(&f);
}

/* The store lists "1000" before "999" while the cache keeps them in
 * numeric order: every row is found, kept and updated all the same. */
static void test_widths(void)
{
	struct api_fixture f;

	open_node(&f, "widths");
	task_ok(&f, "POST", NODE_QEMU, "vmid=999&name=short&memory=64");
	task_ok(&f, "POST", NODE_QEMU, "vmid=1000&name=long&memory=128");
	task_ok(&f, "POST", NODE_QEMU, "vmid=10000&name=longer&memory=256");
	check_row(&f, 999, "short", 64.0 * 1048576, 3);
	check_row(&f, 1000, "long", 128.0 * 1048576, 3);
	put_config(&f, 999, "name=short2");
	put_config(&f, 10000, "name=longer2");
	check_row(&f, 999, "short2", 64.0 * 1048576, 3);
	check_row(&f, 1000, "long", 128.0 * 1048576, 3);
	check_row(&f, 10000, "longer2", 256.0 * 1048576, 3);
	task_ok(&f, "DELETE", NODE_QEMU "/1000", NULL);
	check_row(&f, 999, "short2", 64.0 * 1048576, 2);
	check_row(&f, 10000, "longer2", 256.0 * 1048576, 2);
	close_node(&f);
}

static const struct test_case tests[] = {
    {"config writes show at once", test_config_writes},
    {"destroy and create show at once", test_destroy_create},
    {"rows filtered per user", test_per_user},
    {"cached rows equal uncached ones", test_same_as_uncached},
    {"VM list rows from the cache", test_vm_list},
    {"VMIDs of different widths", test_widths},
};

TEST_MAIN(tests)
