/* Tests for server/api_cluster.c through the router: index, standalone
 * status, nextid (a JSON string) and the resource rows. */
#include "tests/unit/server/api_fixture.h"

static void add_vm(struct api_fixture *f, const char *vmid)
{
	cJSON *conf = cJSON_CreateObject();

	CHECK_INT(store_put1(f->app.store, DB_VMS, vmid, conf), 0);
	cJSON_Delete(conf);
}

static void test_index_and_status(void)
{
	struct api_fixture f;
	struct api_answer a;
	cJSON *row;

	api_fixture_open(&f, "status");
	a = api_call(&f, "GET", "/cluster", NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "name"), "config");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/status", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "type"), "node");
	CHECK_STR(api_str(row, "id"), "node/" FIX_NODE);
	CHECK_STR(api_str(row, "name"), FIX_NODE);
	CHECK_STR(api_str(row, "ip"), "127.0.0.1");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "nodeid")), 0);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "local")), 1);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "online")), 1);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/status", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_nextid(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "nextid");
	a = api_call(&f, "GET", "/cluster/nextid", NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsString(api_data(&a)));
	CHECK_STR(cJSON_GetStringValue(api_data(&a)), "100");
	api_answer_free(&a);
	add_vm(&f, "100");
	add_vm(&f, "101");
	add_vm(&f, "1000");
	a = api_call(&f, "GET", "/cluster/nextid", NULL, "bob@pve");
	CHECK_STR(cJSON_GetStringValue(api_data(&a)), "102");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/nextid", "vmid=101", "bob@pve");
	CHECK_INT(a.status, 400);
	CHECK_STR(a.reason, "Parameter verification failed.");
	CHECK_STR(api_param_error(&a, "vmid"), "VM 101 already exists");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/nextid", "vmid=555", "bob@pve");
	CHECK_STR(cJSON_GetStringValue(api_data(&a)), "555");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/nextid", "vmid=99", "bob@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "vmid") != NULL);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_resources(void)
{
	struct api_fixture f;
	struct api_answer a;
	cJSON *row;

	api_fixture_open(&f, "resources");
	a = api_call(&f, "GET", "/cluster/resources", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "id"), "node/" FIX_NODE);
	CHECK_STR(api_str(row, "type"), "node");
	CHECK_STR(api_str(row, "node"), FIX_NODE);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "cgroup-mode")), 2);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(row, "maxdisk")));
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/resources", "type=node", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/resources", "type=vm", "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 0);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/resources", "type=pool", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "type") != NULL);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static int quiet_task(struct task *t, void *arg)
{
	(void)t;
	(void)arg;
	return 0;
}

static void run_task(struct api_fixture *f, const char *userid, const char *vmid)
{
	struct identity who = {.privsep = 0};
	char upid[UPID_MAX], err[256], status[64];

	snprintf(who.userid, sizeof(who.userid), "%s", userid);
	CHECK_INT(tasks_start(f->app.tasks, "qmstart", vmid, &who, NULL, quiet_task, NULL, NULL,
			      upid, err, sizeof(err)),
		  0);
	CHECK_INT(tasks_wait(f->app.tasks, upid, 20000, status, sizeof(status)), 0);
}

static void test_cluster_tasks(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "tasks");
	run_task(&f, "admin@pve", "100");
	run_task(&f, "bob@pve", "101");
	a = api_call(&f, "GET", "/cluster/tasks", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	CHECK(!api_has(a.body, "total"));
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/tasks", NULL, "bob@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "id"), "101");
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "status"), "OK");
	api_answer_free(&a);
	api_fixture_close(&f);
}

static const struct test_case tests[] = {
    {"index and status", test_index_and_status},
    {"nextid", test_nextid},
    {"resources", test_resources},
    {"cluster tasks", test_cluster_tasks},
};

TEST_MAIN(tests)
