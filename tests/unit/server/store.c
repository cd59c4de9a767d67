/* Tests for server/store.c against a real LMDB environment. */
#include "common/err.h"
#include "server/store.h"
#include "tests/unit/test.h"

#include <stdio.h>

static struct store *open_fresh(const char *name)
{
	char dir[512], err[256];
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/%s", test_tmpdir(), name);
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	return s;
}

static void test_put_get_del(void)
{
	struct store *s = open_fresh("a");
	struct store_txn *t;
	cJSON *v = cJSON_Parse("{\"enable\":1,\"email\":\"a@b\"}"), *got = NULL;

	CHECK_INT(store_put1(s, DB_USERS, "alice@pve", v), 0);
	CHECK_INT(store_get1(s, DB_USERS, "alice@pve", &got), 0);
	CHECK_STR(cJSON_GetObjectItem(got, "email")->valuestring, "a@b");
	cJSON_Delete(got);
	CHECK_INT(store_begin(s, 0, &t), 0);
	CHECK_INT(store_add(t, DB_USERS, "alice@pve", v), CR_EEXISTS);
	CHECK_INT(store_del(t, DB_USERS, "alice@pve"), 0);
	CHECK_INT(store_del(t, DB_USERS, "alice@pve"), CR_ENOTFOUND);
	CHECK_INT(store_commit(t), 0);
	CHECK_INT(store_get1(s, DB_USERS, "alice@pve", &got), CR_ENOTFOUND);
	cJSON_Delete(v);
	store_close(s);
}

static void test_abort_changes_nothing(void)
{
	struct store *s = open_fresh("b");
	struct store_txn *t;
	cJSON *v = cJSON_CreateString("x"), *got = NULL;

	CHECK_INT(store_begin(s, 0, &t), 0);
	CHECK_INT(store_put(t, DB_VMS, "100", v), 0);
	store_abort(t);
	CHECK_INT(store_get1(s, DB_VMS, "100", &got), CR_ENOTFOUND);
	cJSON_Delete(v);
	store_close(s);
}

static int count_cb(const char *key, const cJSON *val, void *ctx)
{
	(void)val;
	(void)key;
	(*(int *)ctx)++;
	return 0;
}

static void test_foreach_prefix_and_digest(void)
{
	struct store *s = open_fresh("c");
	struct store_txn *t;
	cJSON *v = cJSON_CreateNumber(1);
	char d1[41], d2[41];
	int n = 0;

	store_put1(s, DB_ACL, "/vms/100\tuser\ta@pve", v);
	store_put1(s, DB_ACL, "/vms/101\tuser\ta@pve", v);
	store_put1(s, DB_ACL, "/\tuser\ta@pve", v);
	CHECK_INT(store_begin(s, 1, &t), 0);
	CHECK_INT(store_foreach(t, DB_ACL, "/vms/", count_cb, &n), 0);
	CHECK_INT(n, 2);
	n = 0;
	CHECK_INT(store_foreach(t, DB_ACL, "", count_cb, &n), 0);
	CHECK_INT(n, 3);
	CHECK_INT(store_digest(t, DB_ACL, "/\tuser\ta@pve", d1), 0);
	store_abort(t);
	cJSON_SetNumberValue(v, 2);
	store_put1(s, DB_ACL, "/\tuser\ta@pve", v);
	CHECK_INT(store_begin(s, 1, &t), 0);
	CHECK_INT(store_digest(t, DB_ACL, "/\tuser\ta@pve", d2), 0);
	store_abort(t);
	CHECK(strlen(d1) == 40 && strcmp(d1, d2) != 0);
	cJSON_Delete(v);
	store_close(s);
}

static void test_reopen_keeps_data(void)
{
	char dir[512], err[256];
	struct store *s = NULL;
	cJSON *v = cJSON_CreateString("kept"), *got = NULL;

	snprintf(dir, sizeof(dir), "%s/d", test_tmpdir());
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	store_put1(s, DB_META, "k", v);
	store_close(s);
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	CHECK_INT(store_get1(s, DB_META, "k", &got), 0);
	CHECK_STR(got->valuestring, "kept");
	cJSON_Delete(got);
	cJSON_Delete(v);
	store_close(s);
}

/* A STORE_NOSYNC environment (the task index) keeps what it committed
 * across a reopen once synced, like the synced store. */
static void test_nosync_env(void)
{
	char dir[512], err[256];
	struct store *s = NULL;
	cJSON *v = cJSON_CreateString("task"), *got = NULL;

	snprintf(dir, sizeof(dir), "%s/nosync", test_tmpdir());
	CHECK_INT(store_open_flags(dir, STORE_NOSYNC, &s, err, sizeof(err)), 0);
	CHECK_INT(store_put1(s, DB_TASKS, "UPID:x", v), 0);
	CHECK_INT(store_sync(s), 0);
	store_close(s);
	CHECK_INT(store_open_flags(dir, STORE_NOSYNC, &s, err, sizeof(err)), 0);
	CHECK_INT(store_get1(s, DB_TASKS, "UPID:x", &got), 0);
	CHECK_STR(got->valuestring, "task");
	cJSON_Delete(got);
	cJSON_Delete(v);
	store_close(s);
}

static const struct test_case tests[] = {
	{ "put get del", test_put_get_del },
	{ "abort changes nothing", test_abort_changes_nothing },
	{ "foreach prefix and digest", test_foreach_prefix_and_digest },
	{ "reopen keeps data", test_reopen_keeps_data },
	{ "nosync environment", test_nosync_env },
};

TEST_MAIN(tests)
