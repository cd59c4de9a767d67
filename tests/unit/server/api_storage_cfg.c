/* Tests for server/api_storage_cfg.c: the parameter formats of storage
 * definitions, and /storage through the router (defaults, create, update,
 * delete, the pool set kept in step, privileges). */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/pool.h"
#include "tests/unit/server/api_fixture.h"

static void test_formats(void)
{
	static const char *const good_paths[] = {"/", "/srv/images", "/a/b.c/..d/x..", "/x y"};
	static const char *const bad_paths[] = {"",    "rel/x",	  "/a/../b", "/a/./b",
						"/..", "/a/\x01", "/a/..",   "./a"};
	static const char *const good_nodes[] = {"", "n1", "n1,n2", "n1; n2", "a-b,c"};
	static const char *const bad_nodes[] = {"-a", "a,b-", "a_b", "n!"};
	char err[256];

	for (size_t i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++)
		CHECK_INT(api_storage_check_path(good_paths[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
		CHECK_INT(api_storage_check_path(bad_paths[i], err, sizeof(err)), -EINVAL);
	for (size_t i = 0; i < sizeof(good_nodes) / sizeof(good_nodes[0]); i++)
		CHECK_INT(api_storage_check_nodes(good_nodes[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad_nodes) / sizeof(bad_nodes[0]); i++)
		CHECK_INT(api_storage_check_nodes(bad_nodes[i], err, sizeof(err)), -EINVAL);
	CHECK_INT(api_storage_check_content("images,iso,import,snippets,backup", err, sizeof(err)),
		  0);
	CHECK_INT(api_storage_check_content("vztmpl", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid content type 'vztmpl'");
}

static void test_nodes_and_enabled(void)
{
	cJSON *doc = cJSON_Parse("{\"nodes\":\"a1,b2\"}");

	CHECK_INT(api_storage_on_node(doc, "b2"), 1);
	CHECK_INT(api_storage_on_node(doc, "b"), 0);
	CHECK_INT(api_storage_enabled(doc, "a1"), 1);
	cJSON_AddNumberToObject(doc, "disable", 1);
	CHECK_INT(api_storage_enabled(doc, "a1"), 0);
	cJSON_Delete(doc);
	doc = cJSON_Parse("{}");
	CHECK_INT(api_storage_on_node(doc, "any"), 1);
	cJSON_Delete(doc);
}

static void test_default_local(void)
{
	struct api_fixture f;
	struct api_answer a;
	char want[APP_PATH_MAX + 16];

	api_fixture_open_storage(&f, "local");
	CHECK(f.app.pool != NULL);
	CHECK(api_storage_pool(&f.app, "local") == f.app.pool);
	a = api_call(&f, "GET", "/storage/local", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	snprintf(want, sizeof(want), "%s/images", f.app.cfg.data_dir);
	CHECK_STR(api_str(api_data(&a), "path"), want);
	CHECK_STR(api_str(api_data(&a), "content"), "images,import,iso");
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static void test_create_update_delete(void)
{
	struct api_fixture f;
	struct api_answer a;
	char body[1024];
	struct stat st;

	api_fixture_open_storage(&f, "crud");
	snprintf(body, sizeof(body), "storage=s1&type=dir&path=%s/s1&content=iso,backup",
		 test_tmpdir());
	a = api_request(&f, "POST", "/storage", NULL, body, "admin@pve", NULL);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	CHECK(api_storage_pool(&f.app, "s1") != NULL);
	CHECK_STR(pool_content_list(api_storage_pool(&f.app, "s1")), "backup,iso");
	snprintf(body, sizeof(body), "%s/s1/dump", test_tmpdir());
	CHECK_INT(stat(body, &st), 0);
	a = api_request(&f, "POST", "/storage", NULL, "storage=s1&type=dir&path=/x", "admin@pve",
			NULL);
	CHECK_INT(a.status, 500);
	api_answer_free(&a);
	a = api_request(&f, "PUT", "/storage/s1", NULL, "disable=1", "admin@pve", NULL);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	CHECK(api_storage_pool(&f.app, "s1") == NULL);
	a = api_request(&f, "PUT", "/storage/s1", NULL, "delete=disable&content=images",
			"admin@pve", NULL);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	CHECK_STR(pool_content_list(api_storage_pool(&f.app, "s1")), "images");
	a = api_request(&f, "PUT", "/storage/s1", NULL, "delete=path", "admin@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "delete") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "DELETE", "/storage/s1", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	CHECK(api_storage_pool(&f.app, "s1") == NULL);
	a = api_call(&f, "GET", "/storage/s1", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK_STR(a.reason, "storage 's1' does not exist");
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static void test_privileges(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open_storage(&f, "privs");
	a = api_request(&f, "POST", "/storage", NULL, "storage=s2&type=dir&path=/tmp/s2", "bob@pve",
			NULL);
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/storage", NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 0);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/storage", NULL, "bob@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 0);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static const struct test_case tests[] = {
    {"parameter formats", test_formats},   {"nodes and enabled", test_nodes_and_enabled},
    {"default local", test_default_local}, {"create, update, delete", test_create_update_delete},
    {"privileges", test_privileges},
};

TEST_MAIN(tests)
