/* Tests for server/api_nodes.c through the router: /version, /nodes, the
 * node index and the node status with Proxmox's field names and types. */
#include "tests/unit/server/api_fixture.h"

static int is_num(const cJSON *o, const char *key)
{
	return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void test_version(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "version");
	a = api_call(&f, "GET", "/version", NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "version"), "8.4.1");
	CHECK_STR(api_str(api_data(&a), "release"), "8.4");
	CHECK(api_str(api_data(&a), "repoid") != NULL);
	CHECK(api_str(api_data(&a), "corral") != NULL);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_nodes_list(void)
{
	struct api_fixture f;
	struct api_answer a;
	cJSON *row;

	api_fixture_open(&f, "nodes");
	snprintf(f.app.cert_fingerprint, sizeof(f.app.cert_fingerprint), "AA:BB");
	a = api_call(&f, "GET", "/nodes", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "node"), FIX_NODE);
	CHECK_STR(api_str(row, "id"), "node/" FIX_NODE);
	CHECK_STR(api_str(row, "type"), "node");
	CHECK_STR(api_str(row, "status"), "online");
	CHECK_STR(api_str(row, "level"), "");
	CHECK_STR(api_str(row, "ssl_fingerprint"), "AA:BB");
	CHECK(is_num(row, "cpu") && is_num(row, "maxcpu") && is_num(row, "mem") &&
	      is_num(row, "maxmem") && is_num(row, "disk") && is_num(row, "maxdisk") &&
	      is_num(row, "uptime"));
	CHECK(cJSON_GetObjectItem(row, "maxcpu")->valuedouble >= 1);
	api_answer_free(&a);
	/* Without Sys.Audit the node is listed without its figures. */
	a = api_call(&f, "GET", "/nodes", NULL, "bob@pve");
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "status"), "online");
	CHECK(!api_has(row, "cpu") && !api_has(row, "maxmem"));
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_node_index(void)
{
	struct api_fixture f;
	struct api_answer a;
	const cJSON *it;
	int status = 0, tasks = 0;

	api_fixture_open(&f, "index");
	a = api_call(&f, "GET", "/nodes/" FIX_NODE, NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	cJSON_ArrayForEach(it, api_data(&a))
	{
		status += api_str(it, "name") && strcmp(api_str(it, "name"), "status") == 0;
		tasks += api_str(it, "name") && strcmp(api_str(it, "name"), "tasks") == 0;
	}
	CHECK_INT(status, 1);
	CHECK_INT(tasks, 1);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/other", NULL, "bob@pve");
	CHECK_INT(a.status, 500);
	CHECK_STR(a.reason, "no such node 'other'");
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_node_status(void)
{
	struct api_fixture f;
	struct api_answer a;
	cJSON *d, *mem, *load;

	api_fixture_open(&f, "status");
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/status", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	d = api_data(&a);
	CHECK(is_num(d, "cpu") && is_num(d, "wait") && is_num(d, "uptime") && is_num(d, "idle"));
	load = cJSON_GetObjectItem(d, "loadavg");
	CHECK_INT(cJSON_GetArraySize(load), 3);
	CHECK(cJSON_IsString(cJSON_GetArrayItem(load, 0)));
	mem = cJSON_GetObjectItem(d, "memory");
	CHECK(is_num(mem, "total") && is_num(mem, "used") && is_num(mem, "free") &&
	      is_num(mem, "available"));
	CHECK(cJSON_GetObjectItem(mem, "used")->valuedouble <=
	      cJSON_GetObjectItem(mem, "total")->valuedouble);
	CHECK(is_num(cJSON_GetObjectItem(d, "swap"), "total"));
	CHECK(is_num(cJSON_GetObjectItem(d, "rootfs"), "avail"));
	CHECK(is_num(cJSON_GetObjectItem(d, "cpuinfo"), "sockets"));
	CHECK(api_str(cJSON_GetObjectItem(d, "cpuinfo"), "model") != NULL);
	CHECK(is_num(cJSON_GetObjectItem(d, "ksm"), "shared"));
	CHECK(api_str(cJSON_GetObjectItem(d, "boot-info"), "mode") != NULL);
	CHECK_STR(api_str(cJSON_GetObjectItem(d, "current-kernel"), "sysname"), "Linux");
	CHECK(strncmp(api_str(d, "pveversion"), "corral/", 7) == 0);
	CHECK(strncmp(api_str(d, "kversion"), "Linux ", 6) == 0);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/status", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static const struct test_case tests[] = {
    {"version", test_version},
    {"nodes list", test_nodes_list},
    {"node index", test_node_index},
    {"node status", test_node_status},
};

TEST_MAIN(tests)
