/* Tests for server/api_pools.c and the pool part of the access snapshot
 * (acl_snap.c) through the router: create/list/update/delete with Proxmox's
 * refusals, members, pool ACLs granting roles on the member VMs and
 * storages (NoAccess included), VM create/destroy with pool=, and a store
 * from before DB_POOLS opening with it. */
#include "tests/unit/server/api_fixture.h"
#include "tests/unit/server/task_gate.h"

#include "common/err.h"
#include "server/api.h"

#include <lmdb.h>
#include <sys/stat.h>

#define NODE_QEMU "/nodes/" FIX_NODE "/qemu"

/* METHOD PATH with PARAMS (query for GET/DELETE, form body otherwise). */
static struct api_answer call(struct api_fixture *f, const char *method, const char *path,
			      const char *params, const char *user)
{
	int in_query = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0;

	return api_request(f, method, path, in_query ? params : NULL, in_query ? NULL : params,
			   user, NULL);
}

/* Runs a call, checks its status and, when WANT is set, that the reason
 * contains it. */
static void expect(struct api_fixture *f, int status, const char *want, const char *method,
		   const char *path, const char *params, const char *user)
{
	struct api_answer a = call(f, method, path, params, user);

	if (a.status != status || (want && !strstr(a.reason, want)))
		fprintf(stderr, "  %s %s %s -> %d %s\n", method, path, params ? params : "",
			a.status, a.reason);
	CHECK_INT(a.status, status);
	if (want)
		CHECK(strstr(a.reason, want) != NULL);
	api_answer_free(&a);
}

static void run_task(struct api_fixture *f, const char *method, const char *path,
		     const char *params, const char *user)
{
	struct api_answer a = call(f, method, path, params, user);
	char status[512] = "(no task)";
	const char *upid = cJSON_GetStringValue(api_data(&a));

	CHECK_INT(a.status, 200);
	if (upid)
		CHECK_INT(tasks_wait(f->app.tasks, upid, 20000, status, sizeof(status)), 0);
	CHECK_STR(status, "OK");
	api_answer_free(&a);
}

/* The stored member VMIDs of POOL as "100,101" ("" when none). */
static const char *stored_vms(struct api_fixture *f, const char *pool)
{
	static char out[256];
	cJSON *doc = NULL, *it;

	out[0] = '\0';
	CHECK_INT(store_get1(f->app.store, DB_POOLS, pool, &doc), 0);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "vms"))
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%d", out[0] ? "," : "",
			 it->valueint);
	cJSON_Delete(doc);
	return out;
}

/* Whether GET /access/acl lists an entry on PATH. */
static int acl_on(struct api_fixture *f, const char *path)
{
	struct api_answer a = call(f, "GET", "/access/acl", NULL, "admin@pve");
	const cJSON *e;
	int found = 0;

	cJSON_ArrayForEach(e, api_data(&a))
		found |= api_str(e, "path") && strcmp(api_str(e, "path"), path) == 0;
	api_answer_free(&a);
	return found;
}

static int count_rows(const cJSON *list)
{
	return cJSON_GetArraySize(list);
}

static void test_create_list_get(void)
{
	struct api_fixture f;
	struct api_answer a;
	const cJSON *row;

	api_fixture_open_storage(&f, "crud");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev&comment=Development", "admin@pve");
	expect(&f, 500, "create pool failed: pool 'dev' already exists", "POST", "/pools",
	       "poolid=dev", "admin@pve");
	a = call(&f, "POST", "/pools", "poolid=a%2Fb", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "poolid") != NULL);
	api_answer_free(&a);
	expect(&f, 400, NULL, "POST", "/pools", "comment=x", "admin@pve");
	expect(&f, 400, NULL, "POST", "/pools", "poolid=x&bogus=1", "admin@pve");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=ops", "admin@pve");

	a = call(&f, "GET", "/pools", NULL, "admin@pve");
	CHECK_INT(count_rows(api_data(&a)), 2);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "poolid"), "dev");
	CHECK_STR(api_str(row, "comment"), "Development");
	CHECK(!api_has(row, "members"));
	CHECK(!api_has(cJSON_GetArrayItem(api_data(&a), 1), "comment"));
	api_answer_free(&a);

	/* ?poolid= (what Ansible reads): that pool, with members */
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=dev&storage=local", "admin@pve");
	a = call(&f, "GET", "/pools", "poolid=dev", "admin@pve");
	CHECK_INT(count_rows(api_data(&a)), 1);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "poolid"), "dev");
	CHECK_INT(count_rows(cJSON_GetObjectItemCaseSensitive(row, "members")), 1);
	row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(row, "members"), 0);
	CHECK_STR(api_str(row, "type"), "storage");
	CHECK_STR(api_str(row, "storage"), "local");
	CHECK_STR(api_str(row, "node"), FIX_NODE);
	api_answer_free(&a);
	a = call(&f, "GET", "/pools", "poolid=dev&type=qemu", "admin@pve");
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_INT(count_rows(cJSON_GetObjectItemCaseSensitive(row, "members")), 0);
	api_answer_free(&a);
	expect(&f, 500, "pool 'nope' does not exist", "GET", "/pools", "poolid=nope", "admin@pve");
	expect(&f, 400, NULL, "GET", "/pools", "poolid=dev&type=vm", "admin@pve");

	/* legacy GET /pools/{poolid}: {comment, members} */
	a = call(&f, "GET", "/pools/dev", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "comment"), "Development");
	CHECK(!api_has(api_data(&a), "poolid"));
	CHECK_INT(count_rows(cJSON_GetObjectItemCaseSensitive(api_data(&a), "members")), 1);
	api_answer_free(&a);
	expect(&f, 500, "pool 'nope' does not exist", "GET", "/pools/nope", NULL, "admin@pve");
	api_fixture_close_storage(&f);
}

static void test_update_delete(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open_storage(&f, "update");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev", "admin@pve");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=ops", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/pools/dev", "comment=legacy+path&vms=100,101",
	       "admin@pve");
	CHECK_STR(stored_vms(&f, "dev"), "100,101");
	a = call(&f, "GET", "/pools/dev", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "comment"), "legacy path");
	api_answer_free(&a);
	expect(&f, 500, "VM 100 is already a pool member", "PUT", "/pools", "poolid=dev&vms=100",
	       "admin@pve");
	expect(&f, 500, "VM 100 belongs already to pool 'dev' and allow-move is not set", "PUT",
	       "/pools", "poolid=ops&vms=102,100", "admin@pve");
	/* a refused update changes nothing (102 was listed first) */
	CHECK_STR(stored_vms(&f, "ops"), "");
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=ops&vms=100&allow-move=1", "admin@pve");
	CHECK_STR(stored_vms(&f, "ops"), "100");
	CHECK_STR(stored_vms(&f, "dev"), "101");
	expect(&f, 500, "VM 100 is not a pool member", "PUT", "/pools", "poolid=dev&vms=100&delete=1",
	       "admin@pve");
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=ops&vms=100&delete=1", "admin@pve");
	CHECK_STR(stored_vms(&f, "ops"), "");
	expect(&f, 400, NULL, "PUT", "/pools", "poolid=dev&vms=99", "admin@pve");
	expect(&f, 400, NULL, "PUT", "/pools", "poolid=dev&storage=-bad", "admin@pve");
	expect(&f, 500, "update pools failed: pool 'nope' does not exist", "PUT", "/pools",
	       "poolid=nope&comment=x", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=dev&storage=local", "admin@pve");
	expect(&f, 500, "Storage 'local' is already a pool member", "PUT", "/pools",
	       "poolid=dev&storage=local", "admin@pve");

	/* delete: a storage that exists keeps it; a VM that does not exist does not */
	expect(&f, 500, "pool 'dev' is not empty (contains storage 'local')", "DELETE", "/pools",
	       "poolid=dev", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=dev&storage=local&delete=1", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/pool/dev&users=bob@pve&roles=PVEVMUser",
	       "admin@pve");
	CHECK(acl_on(&f, "/pool/dev"));
	expect(&f, 200, NULL, "DELETE", "/pools", "poolid=dev", "admin@pve");
	CHECK(!acl_on(&f, "/pool/dev"));
	expect(&f, 500, "delete pool failed: pool 'dev' does not exist", "DELETE", "/pools/dev",
	       NULL, "admin@pve");
	expect(&f, 200, NULL, "DELETE", "/pools/ops", NULL, "admin@pve");
	a = call(&f, "GET", "/pools", NULL, "admin@pve");
	CHECK_INT(count_rows(api_data(&a)), 0);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

/* A VM in a pool lets a user with a role on /pool/<id> act on it. */
static void test_pool_permissions(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open_storage(&f, "perms");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev", "admin@pve");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=ops", "admin@pve");
	expect(&f, 403, "Permission check failed (/pool/x, Pool.Allocate)", "POST", "/pools",
	       "poolid=x", "bob@pve");
	expect(&f, 403, NULL, "PUT", "/pools", "poolid=dev&comment=x", "bob@pve");
	expect(&f, 403, NULL, "DELETE", "/pools", "poolid=dev", "bob@pve");
	expect(&f, 403, NULL, "GET", "/pools/dev", NULL, "bob@pve");
	a = call(&f, "GET", "/pools", NULL, "bob@pve");
	CHECK_INT(count_rows(api_data(&a)), 0);
	api_answer_free(&a);

	run_task(&f, "POST", NODE_QEMU, "vmid=100&pool=dev", "admin@pve");
	run_task(&f, "POST", NODE_QEMU, "vmid=101", "admin@pve");
	CHECK_STR(stored_vms(&f, "dev"), "100");
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/pool/dev&users=bob@pve&roles=PVEVMUser",
	       "admin@pve");
	expect(&f, 200, NULL, "GET", NODE_QEMU "/100/status/current", NULL, "bob@pve");
	expect(&f, 403, NULL, "GET", NODE_QEMU "/101/status/current", NULL, "bob@pve");
	/* the effective permissions list the member VM, the roles not propagated */
	a = call(&f, "GET", "/access/permissions", NULL, "bob@pve");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(api_data(&a), "/vms/100"), "VM.Audit")));
	CHECK_INT(cJSON_GetObjectItemCaseSensitive(
		      cJSON_GetObjectItemCaseSensitive(api_data(&a), "/vms/100"), "VM.Audit")
		      ->valueint,
		  0);
	CHECK(!api_has(api_data(&a), "/vms/101"));
	api_answer_free(&a);
	/* PVEVMUser has no Pool.Audit: the pool itself stays hidden */
	a = call(&f, "GET", "/pools", NULL, "bob@pve");
	CHECK_INT(count_rows(api_data(&a)), 0);
	api_answer_free(&a);
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/pool/dev&users=bob@pve&roles=PVEPoolUser",
	       "admin@pve");
	a = call(&f, "GET", "/pools", NULL, "bob@pve");
	CHECK_INT(count_rows(api_data(&a)), 1);
	api_answer_free(&a);

	/* create with pool=: VM.Allocate on /pool/dev is enough, not without it */
	expect(&f, 403, NULL, "POST", NODE_QEMU, "vmid=102&pool=dev", "bob@pve");
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/pool/dev&users=bob@pve&roles=PVEVMAdmin",
	       "admin@pve");
	run_task(&f, "POST", NODE_QEMU, "vmid=102&pool=dev", "bob@pve");
	CHECK_STR(stored_vms(&f, "dev"), "100,102");
	expect(&f, 403, NULL, "POST", NODE_QEMU, "vmid=103", "bob@pve");
	expect(&f, 403, "pool 'nope' does not exist", "POST", NODE_QEMU, "vmid=103&pool=nope",
	       "bob@pve");
	expect(&f, 400, NULL, "POST", NODE_QEMU, "vmid=103&pool=a%20b", "admin@pve");
	/* adding or moving needs VM.Allocate on the VM (or Permissions.Modify) */
	expect(&f, 200, NULL, "PUT", "/access/acl",
	       "path=/pool/dev&users=bob@pve&roles=PVEPoolAdmin", "admin@pve");
	expect(&f, 403, "(/vms/101, Permissions.Modify|VM.Allocate)", "PUT", "/pools",
	       "poolid=dev&vms=101", "bob@pve");

	/* NoAccess on a pool trumps what the VM's own path grants */
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/&users=bob@pve&roles=PVEAuditor",
	       "admin@pve");
	expect(&f, 200, NULL, "GET", NODE_QEMU "/101/status/current", NULL, "bob@pve");
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=ops&vms=101", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/pool/ops&users=bob@pve&roles=NoAccess",
	       "admin@pve");
	expect(&f, 403, NULL, "GET", NODE_QEMU "/101/status/current", NULL, "bob@pve");
	api_fixture_close_storage(&f);
}

/* Clone with pool=: the clone joins; a missing pool is refused first. */
static void test_clone_into_pool(void)
{
	struct api_fixture f;

	api_fixture_open_storage(&f, "clone");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev", "admin@pve");
	run_task(&f, "POST", NODE_QEMU, "vmid=110&memory=64", "admin@pve");
	expect(&f, 403, "pool 'nope' does not exist", "POST", NODE_QEMU "/110/clone",
	       "newid=111&pool=nope", "admin@pve");
	expect(&f, 400, NULL, "POST", NODE_QEMU "/110/clone", "newid=111&pool=a%2Fb",
	       "admin@pve");
	run_task(&f, "POST", NODE_QEMU "/110/clone", "newid=111&pool=dev", "admin@pve");
	CHECK_STR(stored_vms(&f, "dev"), "111");
	api_fixture_close_storage(&f);
}

/* A privilege-separated token gets the pool's roles through its own ACL on
 * the pool, intersected with its owner's; NoAccess on the VM itself beats
 * the pool. */
static void test_token_and_noaccess(void)
{
	struct api_fixture f;
	struct api_answer a;
	char authz[256];

	api_fixture_open_storage(&f, "token");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev", "admin@pve");
	run_task(&f, "POST", NODE_QEMU, "vmid=120&pool=dev", "admin@pve");
	a = call(&f, "POST", "/access/users/bob@pve/token/ci", NULL, "bob@pve");
	CHECK_INT(a.status, 200);
	snprintf(authz, sizeof(authz), "PVEAPIToken=bob@pve!ci=%s",
		 api_str(api_data(&a), "value") ? api_str(api_data(&a), "value") : "");
	api_answer_free(&a);
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/pool/dev&users=bob@pve&roles=PVEVMUser",
	       "admin@pve");
	a = api_request(&f, "GET", NODE_QEMU "/120/status/current", NULL, NULL, NULL, authz);
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	expect(&f, 200, NULL, "PUT", "/access/acl",
	       "path=/pool/dev&tokens=bob@pve!ci&roles=PVEVMUser", "admin@pve");
	a = api_request(&f, "GET", NODE_QEMU "/120/status/current", NULL, NULL, NULL, authz);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/vms/120&users=bob@pve&roles=NoAccess",
	       "admin@pve");
	expect(&f, 403, NULL, "GET", NODE_QEMU "/120/status/current", NULL, "bob@pve");
	a = api_request(&f, "GET", NODE_QEMU "/120/status/current", NULL, NULL, NULL, authz);
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

/* Storage members take the pool's roles on /storage/<id>. */
static void test_storage_member(void)
{
	struct api_fixture f;

	api_fixture_open_storage(&f, "storage");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/access/acl",
	       "path=/pool/dev&users=bob@pve&roles=PVEDatastoreUser", "admin@pve");
	expect(&f, 403, NULL, "GET", "/nodes/" FIX_NODE "/storage/local/status", NULL, "bob@pve");
	expect(&f, 200, NULL, "PUT", "/pools", "poolid=dev&storage=local", "admin@pve");
	expect(&f, 200, NULL, "GET", "/nodes/" FIX_NODE "/storage/local/status", NULL, "bob@pve");
	api_fixture_close_storage(&f);
}

/* Destroy: the VM leaves its pool and its ACL entries go (remove_vm_access). */
static void test_destroy_and_members(void)
{
	struct api_fixture f;
	struct api_answer a;
	const cJSON *m;

	api_fixture_open_storage(&f, "destroy");
	expect(&f, 200, NULL, "POST", "/pools", "poolid=dev", "admin@pve");
	run_task(&f, "POST", NODE_QEMU, "vmid=104&pool=dev&name=web", "admin@pve");
	a = call(&f, "GET", "/pools/dev", NULL, "admin@pve");
	m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(api_data(&a), "members"), 0);
	CHECK_STR(api_str(m, "id"), "qemu/104");
	CHECK_STR(api_str(m, "type"), "qemu");
	CHECK_STR(api_str(m, "name"), "web");
	CHECK_STR(api_str(m, "node"), FIX_NODE);
	CHECK_INT(cJSON_GetObjectItemCaseSensitive(m, "vmid")->valueint, 104);
	api_answer_free(&a);
	/* /cluster/resources: the pool row, and the member VM naming its pool */
	run_task(&f, "POST", NODE_QEMU, "vmid=105", "admin@pve");
	a = call(&f, "GET", "/cluster/resources", NULL, "admin@pve");
	cJSON_ArrayForEach(m, api_data(&a)) {
		const char *id = api_str(m, "id");

		if (strcmp(id, "qemu/104") == 0)
			CHECK_STR(api_str(m, "pool"), "dev");
		if (strcmp(id, "qemu/105") == 0)
			CHECK(!api_has(m, "pool"));
		if (strcmp(api_str(m, "type"), "pool") == 0) {
			CHECK_STR(id, "/pool/dev");
			CHECK_STR(api_str(m, "pool"), "dev");
		}
	}
	CHECK_INT(count_rows(api_data(&a)), 1 + 1 + 2 + 1); /* node, storage, VMs, pool */
	api_answer_free(&a);
	a = call(&f, "GET", "/cluster/resources", "type=vm", "bob@pve");
	CHECK_INT(count_rows(api_data(&a)), 0);
	api_answer_free(&a);
	expect(&f, 500, "pool 'dev' is not empty (contains VM 104)", "DELETE", "/pools",
	       "poolid=dev", "admin@pve");
	expect(&f, 200, NULL, "PUT", "/access/acl", "path=/vms/104&users=bob@pve&roles=PVEVMUser",
	       "admin@pve");
	CHECK(acl_on(&f, "/vms/104"));
	run_task(&f, "DELETE", NODE_QEMU "/104", NULL, "admin@pve");
	CHECK_STR(stored_vms(&f, "dev"), "");
	CHECK(!acl_on(&f, "/vms/104"));
	expect(&f, 200, NULL, "DELETE", "/pools", "poolid=dev", "admin@pve");
	api_fixture_close_storage(&f);
}

/* A data dir written before DB_POOLS existed opens, keeps its data and
 * gains the pools database. */
static void test_store_upgrade(void)
{
	static const char *const old_dbs[] = { "meta", "users", "groups", "roles", "acl",
						"tokens", "tasks", "vms",   "storage" };
	char dir[APP_PATH_MAX], err[256];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 7, "bob@pve" }, v = { 12, "{\"enable\":1}" };
	struct store *s;
	cJSON *doc = NULL, *empty = cJSON_CreateObject();

	snprintf(dir, sizeof(dir), "%s/old-store", test_tmpdir());
	CHECK_INT(mkdir(dir, 0700), 0);
	CHECK_INT(mdb_env_create(&env), 0);
	CHECK_INT(mdb_env_set_maxdbs(env, 9), 0);
	CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (size_t i = 0; i < sizeof(old_dbs) / sizeof(old_dbs[0]); i++)
		CHECK_INT(mdb_dbi_open(txn, old_dbs[i], MDB_CREATE, &dbi), 0);
	CHECK_INT(mdb_put(txn, dbi, &k, &v, 0), 0); /* into "storage": any old data */
	CHECK_INT(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	CHECK_INT(store_get1(s, DB_STORAGE, "bob@pve", &doc), 0);
	cJSON_Delete(doc);
	CHECK_INT(store_get1(s, DB_POOLS, "dev", &doc), CR_ENOTFOUND);
	CHECK_INT(store_put1(s, DB_POOLS, "dev", empty), 0);
	store_close(s);
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	CHECK_INT(store_get1(s, DB_POOLS, "dev", &doc), 0);
	cJSON_Delete(doc);
	store_close(s);
	cJSON_Delete(empty);
}

static const struct test_case tests[] = {
	{ "create, list, get", test_create_list_get },
	{ "update and delete", test_update_delete },
	{ "pool permissions", test_pool_permissions },
	{ "storage member", test_storage_member },
	{ "clone into a pool", test_clone_into_pool },
	{ "token and NoAccess", test_token_and_noaccess },
	{ "destroy and members", test_destroy_and_members },
	{ "store upgrade", test_store_upgrade },
};

TEST_MAIN(tests)
