/* Tests for server/tasks.c: real worker threads, real log files and a real
 * LMDB index in a temp directory.  Tasks that must stay running wait on a
 * gate the test opens, so nothing depends on timing. */
#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/store.h"
#include "server/tasks.h"
#include "tests/unit/server/task_gate.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 20000

struct fixture {
	struct app app;
	struct tasks *ts;
	char logdir[512];
};

static void fixture_open(struct fixture *f, const char *name, unsigned workers)
{
	char dir[512], err[256];

	memset(f, 0, sizeof(*f));
	snprintf(f->app.cfg.node, sizeof(f->app.cfg.node), "testnode");
	snprintf(dir, sizeof(dir), "%s/%s/db", test_tmpdir(), name);
	snprintf(f->logdir, sizeof(f->logdir), "%s/%s/log", test_tmpdir(), name);
	CHECK_INT(store_open(dir, &f->app.store, err, sizeof(err)), 0);
	CHECK_INT(tasks_new(&f->app, f->logdir, workers, &f->ts), 0);
}

static void fixture_close(struct fixture *f)
{
	tasks_free(f->ts);
	store_close(f->app.store);
}

static const struct identity alice = {.userid = "alice@pve"};

static int ok_task(struct task *t, void *arg)
{
	int *lines = arg;

	for (int i = 1; i <= *lines; i++)
		task_log(t, "line %d", i);
	return 0;
}

static int failing_task(struct task *t, void *arg)
{
	(void)arg;
	task_log(t, "about to fail");
	return task_fail(t, CR_EINTERNAL, "disk %s is full\nsecond line", "scsi0");
}

static int bare_code_task(struct task *t, void *arg)
{
	(void)t;
	(void)arg;
	return CR_ENOTRUNNING;
}

static int warning_task(struct task *t, void *arg)
{
	(void)arg;
	task_warn(t, "first");
	task_warn(t, "second");
	return 0;
}

/* Reads the task's log file; caller frees. */
static char *read_log(struct fixture *f, const char *upid)
{
	char path[1024], *text = NULL;
	size_t len;

	CHECK_INT(tasks_log_path(f->ts, upid, path, sizeof(path)), 0);
	CHECK_INT(util_read_file(path, 1 << 20, &text, &len), 0);
	return text;
}

static const char *entry_str(const cJSON *e, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(e, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_run_to_ok(void)
{
	struct fixture f;
	char upid[UPID_MAX], err[256], status[256];
	int lines = 3;
	cJSON *e = NULL;
	struct upid u;
	char *log;

	fixture_open(&f, "ok", 2);
	CHECK_INT(tasks_start(f.ts, "qmstart", "100", &alice, "vm:100", ok_task, &lines, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(upid_parse(upid, &u), 0);
	CHECK_STR(u.node, "testnode");
	CHECK_INT(u.pid, getpid());
	CHECK_STR(u.user, "alice@pve");
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "OK");
	log = read_log(&f, upid);
	CHECK_STR(log, "line 1\nline 2\nline 3\nTASK OK\n");
	free(log);
	CHECK_INT(tasks_get(f.ts, upid, &e), 0);
	CHECK_STR(entry_str(e, "status"), "stopped");
	CHECK_STR(entry_str(e, "exitstatus"), "OK");
	CHECK_STR(entry_str(e, "type"), "qmstart");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(e, "endtime")));
	cJSON_Delete(e);
	fixture_close(&f);
}

static void test_run_to_error(void)
{
	struct fixture f;
	char upid[UPID_MAX], err[256], status[256];
	char *log;

	fixture_open(&f, "error", 1);
	CHECK_INT(tasks_start(f.ts, "qmstart", "101", &alice, NULL, failing_task, NULL, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "disk scsi0 is full second line");
	log = read_log(&f, upid);
	CHECK_STR(log, "about to fail\nTASK ERROR: disk scsi0 is full second line\n");
	free(log);
	CHECK_INT(tasks_start(f.ts, "qmstop", "101", &alice, NULL, bare_code_task, NULL, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, err_str(CR_ENOTRUNNING));
	fixture_close(&f);
}

static void test_warnings(void)
{
	struct fixture f;
	char upid[UPID_MAX], err[256], status[256];
	char *log;

	fixture_open(&f, "warn", 1);
	CHECK_INT(tasks_start(f.ts, "qmconfig", "102", &alice, NULL, warning_task, NULL, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "WARNINGS: 2");
	log = read_log(&f, upid);
	CHECK_STR(log, "WARN: first\nWARN: second\nTASK WARNINGS: 2\n");
	free(log);
	fixture_close(&f);
}

static void test_lock_conflict(void)
{
	struct fixture f;
	struct gate g = GATE_INIT;
	char first[UPID_MAX], upid[UPID_MAX], err[512] = "", status[256];
	int lines = 1;

	fixture_open(&f, "lock", 2);
	CHECK_INT(tasks_start(f.ts, "qmstart", "100", &alice, "vm:100", gated_task, &g, NULL, first,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_start(f.ts, "qmstop", "100", &alice, "vm:100", ok_task, &lines, NULL, upid,
			      err, sizeof(err)),
		  CR_ELOCKED);
	CHECK(strstr(err, "vm:100") && strstr(err, "qmstart") && strstr(err, first));
	/* Another VM is not blocked. */
	CHECK_INT(tasks_start(f.ts, "qmstop", "200", &alice, "vm:200", ok_task, &lines, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.ts, first, WAIT_MS, status, sizeof(status)), 0);
	/* Released at the end of the holder. */
	CHECK_INT(tasks_start(f.ts, "qmstop", "100", &alice, "vm:100", ok_task, &lines, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "OK");
	fixture_close(&f);
}

static int must_not_run(struct task *t, void *arg)
{
	(void)t;
	*(int *)arg = 1;
	return 0;
}

static void count_free(void *arg)
{
	(*(int *)arg)++;
}

static void test_failed_start_frees_arg(void)
{
	struct fixture f;
	struct gate g = GATE_INIT;
	char first[UPID_MAX], upid[UPID_MAX], err[512], status[256];
	int freed = 0;

	fixture_open(&f, "startfail", 1);
	CHECK_INT(tasks_start(f.ts, "qmstart", "100", &alice, "vm:100", gated_task, &g, NULL, first,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_start(f.ts, "qmstop", "100", &alice, "vm:100", must_not_run, &freed,
			      count_free, upid, err, sizeof(err)),
		  CR_ELOCKED);
	CHECK_INT(freed, 1);
	CHECK_INT(tasks_start(f.ts, "bad:type", "100", &alice, NULL, must_not_run, &freed,
			      count_free, upid, err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(freed, 2);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.ts, first, WAIT_MS, status, sizeof(status)), 0);
	fixture_close(&f);
}

static void test_status_running_then_stopped(void)
{
	struct fixture f;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], err[256], status[256];
	cJSON *e = NULL;

	fixture_open(&f, "running", 1);
	CHECK_INT(tasks_start(f.ts, "qmstart", "100", &alice, "vm:100", gated_task, &g, NULL, upid,
			      err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	CHECK_INT(tasks_get(f.ts, upid, &e), 0);
	CHECK_STR(entry_str(e, "status"), "running");
	CHECK(cJSON_GetObjectItem(e, "exitstatus") == NULL);
	cJSON_Delete(e);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	fixture_close(&f);
}

static int stoppable_task(struct task *t, void *arg)
{
	gate_enter(arg);
	/* Bounded: a stop that never arrives fails the test instead of hanging it. */
	for (int i = 0; i < 20000 && !task_should_stop(t); i++)
		usleep(1000);
	if (!task_should_stop(t))
		return task_fail(t, CR_ETIMEOUT, "never asked to stop");
	return task_fail(t, -EINTR, "stopped on request");
}

static void test_stop_flag(void)
{
	struct fixture f;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], err[256], status[256];

	fixture_open(&f, "stop", 1);
	CHECK_INT(tasks_start(f.ts, "qmshutdown", "100", &alice, "vm:100", stoppable_task, &g, NULL,
			      upid, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	CHECK_INT(tasks_stop(f.ts, upid), 0);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "stopped on request");
	CHECK_INT(tasks_stop(f.ts, upid), 0); /* finished: nothing to do */
	CHECK_INT(tasks_stop(f.ts, "UPID:testnode:00000001:00000001:00000001:x::a@pve:"),
		  CR_ENOTFOUND);
	fixture_close(&f);
}

static void test_stop_while_queued(void)
{
	struct fixture f;
	struct gate g = GATE_INIT;
	char first[UPID_MAX], upid[UPID_MAX], err[256], status[256];
	int ran = 0;
	char *log;

	fixture_open(&f, "queued", 1);
	CHECK_INT(tasks_start(f.ts, "qmstart", "1", &alice, NULL, gated_task, &g, NULL, first, err,
			      sizeof(err)),
		  0);
	gate_wait_entered(&g);
	CHECK_INT(tasks_start(f.ts, "qmstart", "2", &alice, NULL, must_not_run, &ran, NULL, upid,
			      err, sizeof(err)),
		  0);
	CHECK_INT(tasks_stop(f.ts, upid), 0);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	CHECK_STR(status, "received interrupt");
	CHECK_INT(ran, 0);
	log = read_log(&f, upid);
	CHECK_STR(log, "TASK ERROR: received interrupt\n");
	free(log);
	fixture_close(&f);
}

static void test_free_stops_running(void)
{
	struct fixture f;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], err[256];
	cJSON *e = NULL;

	fixture_open(&f, "shutdown", 2);
	CHECK_INT(tasks_start(f.ts, "qmigrate", "100", &alice, "vm:100", stoppable_task, &g, NULL,
			      upid, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	tasks_free(f.ts);
	CHECK_INT(store_get1(f.app.store, DB_TASKS, upid, &e), 0);
	CHECK_STR(entry_str(e, "status"), "stopped");
	CHECK_STR(entry_str(e, "exitstatus"), "stopped on request");
	cJSON_Delete(e);
	store_close(f.app.store);
}

static void test_unique_upids(void)
{
	struct fixture f;
	char upid[3][UPID_MAX], err[256], status[256];
	int lines = 0;

	fixture_open(&f, "unique", 2);
	for (int i = 0; i < 3; i++)
		CHECK_INT(tasks_start(f.ts, "qmconfig", "100", &alice, NULL, ok_task, &lines, NULL,
				      upid[i], err, sizeof(err)),
			  0);
	CHECK(strcmp(upid[0], upid[1]) && strcmp(upid[1], upid[2]) && strcmp(upid[0], upid[2]));
	for (int i = 0; i < 3; i++)
		CHECK_INT(tasks_wait(f.ts, upid[i], WAIT_MS, status, sizeof(status)), 0);
	fixture_close(&f);
}

static void test_token_user_and_free_arg(void)
{
	static const struct identity tok = {.userid = "ci@pve", .tokenid = "deploy", .privsep = 1};
	struct fixture f;
	char upid[UPID_MAX], err[256], status[256];
	int *lines = calloc(1, sizeof(int));
	struct upid u;

	fixture_open(&f, "token", 1);
	CHECK_INT(tasks_start(f.ts, "qmcreate", "300", &tok, NULL, ok_task, lines, free, upid, err,
			      sizeof(err)),
		  0);
	CHECK_INT(upid_parse(upid, &u), 0);
	CHECK_STR(u.user, "ci@pve!deploy");
	CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	fixture_close(&f); /* ASan reports the argument if free_arg was not called */
}

static void test_restart_marks_running_failed(void)
{
	struct fixture f;
	char dir[512], err[256], path[1024], *log = NULL;
	const char *upid = "UPID:testnode:00001234:00ABCDEF:6700000A:qmstart:100:alice@pve:";
	cJSON *e = cJSON_Parse("{\"upid\":\"UPID:testnode:00001234:00ABCDEF:6700000A:qmstart:100:"
			       "alice@pve:\",\"status\":\"running\",\"type\":\"qmstart\"}");
	struct store *s;
	size_t len;

	/* A previous corrald: its index says running, its log is half written. */
	snprintf(dir, sizeof(dir), "%s/restart/db", test_tmpdir());
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	CHECK_INT(store_put1(s, DB_TASKS, upid, e), 0);
	store_close(s);
	snprintf(path, sizeof(path), "%s/restart/log/tasks/A", test_tmpdir());
	CHECK_INT(util_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/restart/log/tasks/A/%s", test_tmpdir(), upid);
	CHECK_INT(util_write_file_atomic(path, "starting VM\n", 12, 0640), 0);
	cJSON_Delete(e);
	e = NULL;

	fixture_open(&f, "restart", 1);
	CHECK_INT(tasks_get(f.ts, upid, &e), 0);
	CHECK_STR(entry_str(e, "status"), "stopped");
	CHECK_STR(entry_str(e, "exitstatus"), "unexpected status");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(e, "endtime")));
	cJSON_Delete(e);
	CHECK_INT(util_read_file(path, 1 << 20, &log, &len), 0);
	CHECK_STR(log, "starting VM\nTASK ERROR: unexpected status\n");
	free(log);
	fixture_close(&f);
}

static int count_entry(const cJSON *entry, void *ctx)
{
	(void)entry;
	(*(int *)ctx)++;
	return 0;
}

static void put_finished(struct store_txn *txn, unsigned i, char upid[UPID_MAX])
{
	struct upid u = {.pid = 1, .pstart = 1, .starttime = 1000 + i};
	cJSON *e = cJSON_CreateObject();

	strcpy(u.node, "testnode");
	strcpy(u.type, "qmstart");
	strcpy(u.id, "100");
	strcpy(u.user, "alice@pve");
	CHECK_INT(upid_format(&u, upid, UPID_MAX), 0);
	cJSON_AddStringToObject(e, "upid", upid);
	cJSON_AddStringToObject(e, "status", "stopped");
	cJSON_AddStringToObject(e, "exitstatus", "OK");
	cJSON_AddNumberToObject(e, "endtime", 2000 + i);
	CHECK_INT(store_put(txn, DB_TASKS, upid, e), 0);
	cJSON_Delete(e);
}

static void test_foreach_index(void)
{
	struct fixture f;
	char upid[UPID_MAX], err[256], status[256];
	int lines = 0, n = 0;

	fixture_open(&f, "foreach", 1);
	for (int i = 0; i < 2; i++) {
		CHECK_INT(tasks_start(f.ts, "qmstart", i ? "1" : "2", &alice, NULL, ok_task, &lines,
				      NULL, upid, err, sizeof(err)),
			  0);
		CHECK_INT(tasks_wait(f.ts, upid, WAIT_MS, status, sizeof(status)), 0);
	}
	CHECK_INT(tasks_foreach(f.ts, count_entry, &n), 0);
	CHECK_INT(n, 2);
	fixture_close(&f);
}

static void test_index_retention(void)
{
	char dir[512], err[256], upid[UPID_MAX], oldest[UPID_MAX], kept[UPID_MAX], path[1024];
	struct fixture f;
	struct store_txn *txn;
	struct store *s;
	cJSON *e = NULL;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/retention/db", test_tmpdir());
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	CHECK_INT(store_begin(s, 0, &txn), 0);
	/* Written newest first: age comes from endtime, not from key order. */
	for (unsigned i = TASKS_INDEX_KEEP + 3; i-- > 0;) {
		put_finished(txn, i, upid);
		if (i == 0)
			memcpy(oldest, upid, UPID_MAX);
		if (i == 3)
			memcpy(kept, upid, UPID_MAX);
	}
	CHECK_INT(store_commit(txn), 0);
	store_close(s);
	snprintf(path, sizeof(path), "%s/retention/log/tasks/%X", test_tmpdir(), 1000 & 0xf);
	CHECK_INT(util_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/retention/log/tasks/%X/%s", test_tmpdir(), 1000 & 0xf,
		 oldest);
	CHECK_INT(util_write_file_atomic(path, "TASK OK\n", 8, 0640), 0);

	/* Start-up drops the 3 oldest, with their logs. */
	fixture_open(&f, "retention", 1);
	CHECK_INT(tasks_foreach(f.ts, count_entry, &n), 0);
	CHECK_INT(n, TASKS_INDEX_KEEP);
	CHECK_INT(tasks_get(f.ts, oldest, &e), CR_ENOTFOUND);
	CHECK(access(path, F_OK) != 0);
	CHECK_INT(tasks_get(f.ts, kept, &e), 0);
	cJSON_Delete(e);
	fixture_close(&f);
}

static const struct test_case tests[] = {
    {"run to OK", test_run_to_ok},
    {"run to ERROR with message", test_run_to_error},
    {"warnings", test_warnings},
    {"lock conflict while one runs", test_lock_conflict},
    {"failed start frees its argument", test_failed_start_frees_arg},
    {"status running then stopped", test_status_running_then_stopped},
    {"stop flag", test_stop_flag},
    {"stop while queued", test_stop_while_queued},
    {"free stops running tasks", test_free_stops_running},
    {"unique upids within a second", test_unique_upids},
    {"token user and free_arg", test_token_user_and_free_arg},
    {"restart marks running tasks failed", test_restart_marks_running_failed},
    {"foreach over the index", test_foreach_index},
    {"index retention", test_index_retention},
};

TEST_MAIN(tests)
