/* Tests for server/api_tasks.c through the router: list filters and paging,
 * status (no exitstatus while running), log paging, stop, and who may see
 * what.  Tasks are real; running ones wait on a gate the test opens. */
#include "common/err.h"
#include "server/api.h"
#include "tests/unit/server/api_fixture.h"
#include "tests/unit/server/task_gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define WAIT_MS 20000

static const struct identity admin = {.userid = "admin@pve"};
static const struct identity bob = {.userid = "bob@pve"};

static int lines_task(struct task *t, void *arg)
{
	for (int i = 1; i <= *(int *)arg; i++)
		task_log(t, "line %d", i);
	return 0;
}

static int fail_task(struct task *t, void *arg)
{
	(void)arg;
	return task_fail(t, CR_EINTERNAL, "no space left");
}

static void run(struct api_fixture *f, const char *type, const char *id, const struct identity *who,
		task_fn fn, void *arg, char upid[UPID_MAX])
{
	char err[256], status[256];

	CHECK_INT(
	    tasks_start(f->app.tasks, type, id, who, NULL, fn, arg, NULL, upid, err, sizeof(err)),
	    0);
	CHECK_INT(tasks_wait(f->app.tasks, upid, WAIT_MS, status, sizeof(status)), 0);
}

static int count_type(const cJSON *rows, const char *type)
{
	const cJSON *r;
	int n = 0;

	cJSON_ArrayForEach(r, rows) n +=
	    api_str(r, "type") && strcmp(api_str(r, "type"), type) == 0;
	return n;
}

static void test_list_filters(void)
{
	struct api_fixture f;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], running[UPID_MAX], err[256];
	int three = 3;
	struct api_answer a;

	api_fixture_open(&f, "list");
	run(&f, "qmstart", "100", &admin, lines_task, &three, upid);
	run(&f, "qmstop", "101", &admin, fail_task, NULL, upid);
	run(&f, "qmconfig", "100", &bob, lines_task, &three, upid);
	CHECK_INT(tasks_start(f.app.tasks, "qmigrate", "102", &admin, "vm:102", gated_task, &g,
			      NULL, running, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);

	/* Default source "archive": finished tasks only, with status and endtime. */
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 3);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(a.body, "total")), 3);
	CHECK_INT(count_type(api_data(&a), "qmigrate"), 0);
	CHECK(api_has(cJSON_GetArrayItem(api_data(&a), 0), "endtime"));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(api_data(&a), 0), "pid")));
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "source=all", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 4);
	/* Running tasks come first and have neither status nor endtime. */
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "upid"), running);
	CHECK(!api_has(cJSON_GetArrayItem(api_data(&a), 0), "status"));
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "source=active", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "errors=1", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "status"), "no space left");
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "vmid=100&typefilter=qmstart",
		     "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "statusfilter=ok", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "userfilter=BOB", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "start=1&limit=1", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(a.body, "total")), 3);
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "until=1", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 0);
	api_answer_free(&a);

	/* bob has no Sys.Audit: he sees his own task only. */
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "source=all", "bob@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "user"), "bob@pve");
	api_answer_free(&a);

	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks", "statusfilter=fine", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "statusfilter") != NULL);
	api_answer_free(&a);

	gate_open(&g);
	CHECK_INT(tasks_wait(f.app.tasks, running, WAIT_MS, err, sizeof(err)), 0);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_status_running_and_stopped(void)
{
	struct api_fixture f;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], path[512], err[256];
	struct api_answer a;

	api_fixture_open(&f, "status");
	CHECK_INT(tasks_start(f.app.tasks, "qmstart", "100", &admin, "vm:100", gated_task, &g, NULL,
			      upid, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	snprintf(path, sizeof(path), "/nodes/" FIX_NODE "/tasks/%s/status", upid);
	a = api_call(&f, "GET", path, NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "status"), "running");
	CHECK(!api_has(api_data(&a), "exitstatus"));
	CHECK_STR(api_str(api_data(&a), "upid"), upid);
	CHECK_STR(api_str(api_data(&a), "id"), "100");
	CHECK_STR(api_str(api_data(&a), "node"), FIX_NODE);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(api_data(&a), "starttime")));
	api_answer_free(&a);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.app.tasks, upid, WAIT_MS, err, sizeof(err)), 0);
	a = api_call(&f, "GET", path, NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "status"), "stopped");
	CHECK_STR(api_str(api_data(&a), "exitstatus"), "OK");
	api_answer_free(&a);
	/* Not bob's task, and bob lacks Sys.Audit. */
	a = api_call(&f, "GET", path, NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	CHECK_STR(a.reason, "Permission check failed (/nodes/" FIX_NODE ", Sys.Audit)");
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_bad_upid_node_and_index(void)
{
	struct api_fixture f;
	char upid[UPID_MAX], path[512];
	int one = 1;
	struct api_answer a;

	api_fixture_open(&f, "bad");
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/tasks/UPID:broken/status", NULL, "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "upid"), "unable to parse worker upid");
	api_answer_free(&a);
	a = api_call(&f, "GET",
		     "/nodes/" FIX_NODE "/tasks/UPID:" FIX_NODE
		     ":00000001:00000002:00000003:qmstart:1:admin@pve:/status",
		     NULL, "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "upid"), "no such task");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/elsewhere/tasks", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK_STR(a.reason, "no such node 'elsewhere'");
	api_answer_free(&a);
	run(&f, "qmstart", "100", &admin, lines_task, &one, upid);
	snprintf(path, sizeof(path), "/nodes/" FIX_NODE "/tasks/%s", upid);
	a = api_call(&f, "GET", path, NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "name"), "log");
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 1), "name"), "status");
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_log_paging(void)
{
	struct api_fixture f;
	char upid[UPID_MAX], path[512];
	int five = 5;
	struct api_answer a;
	cJSON *row;

	api_fixture_open(&f, "log");
	run(&f, "qmclone", "100", &bob, lines_task, &five, upid);
	snprintf(path, sizeof(path), "/nodes/" FIX_NODE "/tasks/%s/log", upid);
	a = api_call(&f, "GET", path, NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 6);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(a.body, "total")), 6);
	row = cJSON_GetArrayItem(api_data(&a), 5);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "n")), 6);
	CHECK_STR(api_str(row, "t"), "TASK OK");
	api_answer_free(&a);
	a = api_call(&f, "GET", path, "start=2&limit=2", "bob@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "n")), 3);
	CHECK_STR(api_str(row, "t"), "line 3");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(a.body, "total")), 6);
	api_answer_free(&a);
	/* An auditor reads anyone's log. */
	a = api_call(&f, "GET", path, "download=1", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 6);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_stop(void)
{
	struct api_fixture f;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], path[512], err[256], status[256];
	struct api_answer a;

	api_fixture_open(&f, "stop");
	CHECK_INT(tasks_start(f.app.tasks, "qmshutdown", "100", &admin, "vm:100", gated_task, &g,
			      NULL, upid, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	snprintf(path, sizeof(path), "/nodes/" FIX_NODE "/tasks/%s", upid);
	a = api_call(&f, "DELETE", path, NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	CHECK_STR(a.reason, "Permission check failed (/nodes/" FIX_NODE ", Sys.Modify)");
	api_answer_free(&a);
	a = api_call(&f, "DELETE", path, NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsNull(api_data(&a)));
	api_answer_free(&a);
	CHECK_INT(tasks_wait(f.app.tasks, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "stopped by request");
	api_fixture_close(&f);
}

static void test_task_reply(void)
{
	struct api_fixture f;
	struct gate g = GATE_INIT;
	struct req req = {0};
	struct resp resp = {.total = -1};
	char upid[UPID_MAX], err[256];
	int one = 1;

	api_fixture_open(&f, "reply");
	req.app = &f.app;
	/* No delay: the UPID, as a string. */
	CHECK_INT(tasks_start(f.app.tasks, "qmconfig", "100", &admin, NULL, lines_task, &one, NULL,
			      upid, err, sizeof(err)),
		  0);
	CHECK_INT(api_task_reply(&req, &resp, upid, 0, "update VM 100"), 0);
	CHECK_STR(cJSON_GetStringValue(resp.data), upid);
	resp_clear(&resp);
	/* Done within the delay: null. */
	CHECK_INT(api_task_reply(&req, &resp, upid, 5, "update VM 100"), 0);
	CHECK(resp.data == NULL);
	resp_clear(&resp);
	/* Failed within the delay: the task's error. */
	CHECK_INT(tasks_start(f.app.tasks, "qmconfig", "100", &admin, NULL, fail_task, NULL, NULL,
			      upid, err, sizeof(err)),
		  0);
	CHECK_INT(api_task_reply(&req, &resp, upid, 5, "update VM 100"), CR_EINTERNAL);
	CHECK_STR(resp.message, "update VM 100: no space left");
	resp_clear(&resp);
	/* Still running when the delay ends: the UPID. */
	CHECK_INT(tasks_start(f.app.tasks, "qmconfig", "100", &admin, NULL, gated_task, &g, NULL,
			      upid, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	CHECK_INT(api_task_reply(&req, &resp, upid, 1, "update VM 100"), 0);
	CHECK_STR(cJSON_GetStringValue(resp.data), upid);
	resp_clear(&resp);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.app.tasks, upid, WAIT_MS, err, sizeof(err)), 0);
	api_fixture_close(&f);
}

static const struct test_case tests[] = {
    {"list filters, paging and visibility", test_list_filters},
    {"status running and stopped", test_status_running_and_stopped},
    {"bad upid, other node, index", test_bad_upid_node_and_index},
    {"log paging", test_log_paging},
    {"stop", test_stop},
    {"task reply with background delay", test_task_reply},
};

TEST_MAIN(tests)
