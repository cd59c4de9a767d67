/* Tests for server/acl.c and acl_snap.c: privileges, built-in roles, paths,
 * identifiers and ACL evaluation against a real LMDB store. */
#include "common/err.h"
#include "server/acl.h"
#include "server/store.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static acl_privs bit(const char *name)
{
	int i = acl_priv_find(name);

	CHECK(i >= 0);
	return i < 0 ? 0 : (acl_privs)1 << i;
}

static int has(acl_privs m, const char *name)
{
	return (m & bit(name)) != 0;
}

static struct store *open_fresh(const char *name)
{
	char dir[512], err[256];
	struct store *s = NULL;

	snprintf(dir, sizeof(dir), "%s/%s", test_tmpdir(), name);
	CHECK_INT(store_open(dir, &s, err, sizeof(err)), 0);
	return s;
}

static void put_json(struct store *s, enum store_db db, const char *key, const char *json)
{
	cJSON *v = cJSON_Parse(json);

	CHECK(v != NULL);
	CHECK_INT(store_put1(s, db, key, v), 0);
	cJSON_Delete(v);
}

static void put_acl(struct store *s, const char *path, const char *type, const char *ugid,
		    const char *role, int propagate)
{
	char key[512], val[64];

	snprintf(key, sizeof(key), "%s\t%s\t%s\t%s", path, type, ugid, role);
	snprintf(val, sizeof(val), "{\"propagate\":%d}", propagate);
	put_json(s, DB_ACL, key, val);
}

static struct acl_snap *load(struct store *s)
{
	struct store_txn *t;
	struct acl_snap *snap = NULL;

	CHECK_INT(store_begin(s, 1, &t), 0);
	CHECK_INT(acl_snap_load(t, &snap), 0);
	store_abort(t);
	return snap;
}

static void test_builtin_roles(void)
{
	acl_privs m;

	CHECK_INT(acl_priv_count(), 42);
	CHECK_INT(acl_builtin_count(), 17);
	CHECK_INT(acl_builtin_role("Administrator", &m), 0);
	CHECK(m == acl_privs_all());
	CHECK_INT(acl_builtin_role("NoAccess", &m), 0);
	CHECK(m == 0);
	CHECK_INT(acl_builtin_role("PVEAuditor", &m), 0);
	CHECK(m == (bit("VM.Audit") | bit("Sys.Audit") | bit("Datastore.Audit") | bit("SDN.Audit") |
		    bit("Pool.Audit") | bit("Mapping.Audit")));
	CHECK_INT(acl_builtin_role("PVETemplateUser", &m), 0);
	CHECK(m == (bit("VM.Clone") | bit("VM.Audit")));
	CHECK_INT(acl_builtin_role("PVEVMUser", &m), 0);
	CHECK(m == (bit("VM.Audit") | bit("VM.Backup") | bit("VM.Config.CDROM") |
		    bit("VM.Config.Cloudinit") | bit("VM.Console") | bit("VM.PowerMgmt")));
	CHECK_INT(acl_builtin_role("PVEVMAdmin", &m), 0);
	CHECK(has(m, "VM.Allocate") && has(m, "VM.Monitor") && has(m, "VM.PowerMgmt"));
	CHECK(!has(m, "Sys.Audit") && !has(m, "Datastore.Audit"));
	CHECK_INT(acl_builtin_role("PVEAdmin", &m), 0);
	CHECK(has(m, "VM.Allocate") && has(m, "Sys.Console") && has(m, "User.Modify"));
	CHECK(!has(m, "Sys.Modify") && !has(m, "Sys.PowerMgmt") && !has(m, "Permissions.Modify"));
	CHECK(!has(m, "Realm.Allocate") && !has(m, "Mapping.Modify") && has(m, "Mapping.Use"));
	CHECK_INT(acl_builtin_role("PVESysAdmin", &m), 0);
	CHECK(m == (bit("Sys.Audit") | bit("Sys.Console") | bit("Sys.Syslog")));
	CHECK_INT(acl_builtin_role("PVEMappingAdmin", &m), 0);
	CHECK(has(m, "Mapping.Modify"));
	CHECK_INT(acl_builtin_role("PVEUserAdmin", &m), 0);
	CHECK(m == (bit("User.Modify") | bit("Group.Allocate") | bit("Realm.AllocateUser")));
	CHECK_INT(acl_builtin_role("PVESysUser", &m), CR_ENOTFOUND);
}

static void test_priv_lists(void)
{
	acl_privs m = 0;
	char bad[64], *text;
	cJSON *j;

	CHECK_INT(acl_parse_privs("VM.Audit, Sys.Audit;VM.Console  ", &m, bad, sizeof(bad)), 0);
	CHECK(m == (bit("VM.Audit") | bit("Sys.Audit") | bit("VM.Console")));
	CHECK_INT(acl_parse_privs("VM.Audit,VM.Fly", &m, bad, sizeof(bad)), -EINVAL);
	CHECK_STR(bad, "VM.Fly");
	CHECK_INT(acl_parse_privs("", &m, bad, sizeof(bad)), 0);
	CHECK(m == 0);
	text = acl_privs_text(bit("Sys.Audit") | bit("VM.Audit"));
	CHECK_STR(text, "Sys.Audit,VM.Audit");
	free(text);
	text = acl_privs_text(0);
	CHECK_STR(text, "");
	free(text);
	j = acl_privs_json(bit("VM.Audit"), NULL);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "VM.Audit")));
	CHECK_INT(cJSON_GetObjectItem(j, "VM.Audit")->valueint, 1);
	cJSON_Delete(j);
}

static void test_paths(void)
{
	char out[ACL_PATH_MAX];

	CHECK_INT(acl_normalize_path("vms//100/", out, sizeof(out)), 0);
	CHECK_STR(out, "/vms/100");
	CHECK_INT(acl_normalize_path("/", out, sizeof(out)), 0);
	CHECK_STR(out, "/");
	CHECK_INT(acl_normalize_path("///", out, sizeof(out)), 0);
	CHECK_STR(out, "/");
	CHECK_INT(acl_normalize_path("/vms/1 00", out, sizeof(out)), -EINVAL);
	CHECK_INT(acl_normalize_path("", out, sizeof(out)), -EINVAL);
	CHECK(acl_path_allowed("/"));
	CHECK(acl_path_allowed("/vms/100"));
	CHECK(!acl_path_allowed("/vms/99"));
	CHECK(!acl_path_allowed("/vms/0100"));
	CHECK(acl_path_allowed("/storage/local-lvm"));
	CHECK(acl_path_allowed("/nodes/pve1"));
	CHECK(acl_path_allowed("/access/groups/admins"));
	CHECK(acl_path_allowed("/pool/web"));
	CHECK(acl_path_allowed("/sdn/zones/z1/vnet1/100"));
	CHECK(!acl_path_allowed("/sdn/zones/z1/vnet1/10000"));
	CHECK(!acl_path_allowed("/bogus"));
	CHECK(!acl_path_allowed("/vms/100/disk"));
}

static void test_identifiers(void)
{
	char user[ACL_ID_MAX], sub[ACL_ID_MAX];

	CHECK_INT(acl_valid_userid("root@pam"), 0);
	CHECK_INT(acl_valid_userid("a.b-c@pve"), 0);
	CHECK_INT(acl_valid_userid("joe@x"), -EINVAL);   /* realm needs 2+ chars */
	CHECK_INT(acl_valid_userid("jo:e@pve"), -EINVAL);
	CHECK_INT(acl_valid_userid("jo/e@pve"), -EINVAL);
	CHECK_INT(acl_valid_userid("jo e@pve"), -EINVAL);
	CHECK_INT(acl_valid_userid("@pve"), -EINVAL);
	CHECK_INT(acl_valid_userid("root"), -EINVAL);
	CHECK_INT(acl_valid_userid("r@1pve"), -EINVAL);
	CHECK_INT(acl_valid_groupid("ops_team-1.x"), 0);
	CHECK_INT(acl_valid_groupid("ops team"), -EINVAL);
	CHECK_INT(acl_valid_roleid(""), -EINVAL);
	CHECK_INT(acl_split_tokenid("joe@pve!ci=x", user, sub), -EINVAL);
	CHECK_INT(acl_split_tokenid("joe@pve!ci", user, sub), 0);
	CHECK_STR(user, "joe@pve");
	CHECK_STR(sub, "ci");
	CHECK_INT(acl_split_tokenid("joe@pve!c", user, sub), -EINVAL);
	CHECK_INT(acl_split_tokenid("joe@pve", user, sub), -EINVAL);
	CHECK_STR(acl_userid_realm("a@b@pam"), "pam");
}

/* alice: PVEAuditor on / (propagated), PVEVMAdmin on /vms/100 (not
 * propagated); group ops (bob) has PVEVMUser on /vms; bob is denied
 * /vms/200 with NoAccess; tokens alice!sep (privsep) and alice!full. */
static struct store *fixture(const char *name)
{
	struct store *s = open_fresh(name);

	put_json(s, DB_USERS, "alice@pve", "{\"enable\":1,\"expire\":0}");
	put_json(s, DB_USERS, "bob@pve", "{\"enable\":1}");
	put_json(s, DB_USERS, "carol@pve", "{\"enable\":0}");
	put_json(s, DB_GROUPS, "ops", "{\"members\":[\"bob@pve\"]}");
	put_json(s, DB_ROLES, "Custom", "{\"privs\":[\"Sys.Console\",\"VM.Audit\"]}");
	put_json(s, DB_TOKENS, "alice@pve!sep", "{\"privsep\":1,\"hash\":\"x\"}");
	put_json(s, DB_TOKENS, "alice@pve!full", "{\"privsep\":0,\"hash\":\"x\"}");
	put_acl(s, "/", "user", "alice@pve", "PVEAuditor", 1);
	put_acl(s, "/vms/100", "user", "alice@pve", "PVEVMAdmin", 0);
	put_acl(s, "/vms", "group", "ops", "PVEVMUser", 1);
	put_acl(s, "/vms/200", "user", "bob@pve", "NoAccess", 1);
	put_acl(s, "/nodes", "user", "bob@pve", "Custom", 0);
	put_acl(s, "/vms/100", "token", "alice@pve!sep", "PVEVMAdmin", 1);
	put_acl(s, "/storage", "token", "alice@pve!sep", "Administrator", 1);
	put_acl(s, "/", "user", "carol@pve", "Bogus", 1);
	return s;
}

static void test_propagation(void)
{
	struct store *st = fixture("prop");
	struct acl_snap *s = load(st);
	acl_privs m, prop;

	m = acl_permissions(s, "alice@pve", "/", &prop);
	CHECK(has(m, "VM.Audit") && has(m, "Sys.Audit") && !has(m, "VM.PowerMgmt"));
	CHECK(has(prop, "VM.Audit"));
	/* PVEAuditor reads everywhere but never powers a VM. */
	m = acl_permissions(s, "alice@pve", "/vms/101", NULL);
	CHECK(has(m, "VM.Audit") && !has(m, "VM.PowerMgmt"));
	m = acl_permissions(s, "alice@pve", "/nodes/pve1", NULL);
	CHECK(has(m, "Sys.Audit") && !has(m, "Sys.PowerMgmt"));
	/* The deeper ACL replaces the inherited one on its own path only. */
	m = acl_permissions(s, "alice@pve", "/vms/100", &prop);
	CHECK(has(m, "VM.PowerMgmt") && has(m, "VM.Allocate") && !has(m, "Sys.Audit"));
	CHECK(!has(prop, "VM.PowerMgmt"));
	m = acl_permissions(s, "alice@pve", "/vms/100/x", NULL);
	CHECK(!has(m, "VM.PowerMgmt") && has(m, "VM.Audit"));
	/* Non-propagated entry on /nodes: only /nodes itself. */
	m = acl_permissions(s, "bob@pve", "/nodes", NULL);
	CHECK(has(m, "Sys.Console"));
	CHECK(acl_permissions(s, "bob@pve", "/nodes/pve1", NULL) == 0);
	acl_snap_free(s);
	store_close(st);
}

static void test_groups_and_noaccess(void)
{
	struct store *st = fixture("groups");
	struct acl_snap *s = load(st);
	acl_privs m;

	m = acl_permissions(s, "bob@pve", "/vms/150", NULL);
	CHECK(has(m, "VM.PowerMgmt") && has(m, "VM.Console") && !has(m, "VM.Allocate"));
	CHECK(acl_permissions(s, "bob@pve", "/vms/200", NULL) == 0);
	CHECK(acl_permissions(s, "bob@pve", "/", NULL) == 0);
	CHECK(acl_group_member(s, "ops", "bob@pve"));
	CHECK(!acl_group_member(s, "ops", "alice@pve"));
	CHECK(!acl_group_member(s, "nope", "bob@pve"));
	/* An entry with an unknown role grants nothing. */
	CHECK(acl_permissions(s, "carol@pve", "/", NULL) == 0);
	/* root@pam holds everything, ACLs or not. */
	CHECK(acl_permissions(s, "root@pam", "/vms/200", NULL) == acl_privs_all());
	acl_snap_free(s);
	store_close(st);
}

static void test_token_privsep(void)
{
	struct store *st = fixture("tokens");
	struct acl_snap *s = load(st);
	acl_privs m;

	/* privsep: token ACLs intersected with alice's own privileges. */
	m = acl_permissions(s, "alice@pve!sep", "/vms/100", NULL);
	CHECK(has(m, "VM.PowerMgmt") && has(m, "VM.Allocate"));
	m = acl_permissions(s, "alice@pve!sep", "/storage/local", NULL);
	CHECK(has(m, "Datastore.Audit") && !has(m, "Datastore.Allocate"));
	CHECK(acl_permissions(s, "alice@pve!sep", "/nodes", NULL) == 0);
	/* Without privsep the token is its user. */
	m = acl_permissions(s, "alice@pve!full", "/nodes", NULL);
	CHECK(m == acl_permissions(s, "alice@pve", "/nodes", NULL));
	CHECK(acl_permissions(s, "alice@pve!nope", "/", NULL) == 0);
	CHECK(acl_token_exists(s, "alice@pve!sep"));
	acl_snap_free(s);
	store_close(st);
}

static void test_users_and_tokens(void)
{
	struct store *st = fixture("users");
	struct acl_snap *s;
	char hash[ACL_TOKEN_HASH_MAX];
	cJSON *tok;
	int privsep = -1;

	acl_token_hash("0f1e2d3c-aaaa-4bbb-8ccc-123456789abc", hash);
	tok = cJSON_CreateObject();
	cJSON_AddStringToObject(tok, "hash", hash);
	cJSON_AddNumberToObject(tok, "privsep", 0);
	cJSON_AddNumberToObject(tok, "expire", 0);
	CHECK_INT(store_put1(st, DB_TOKENS, "bob@pve!ci", tok), 0);
	cJSON_SetNumberValue(cJSON_GetObjectItem(tok, "expire"), 1000);
	CHECK_INT(store_put1(st, DB_TOKENS, "bob@pve!old", tok), 0);
	CHECK_INT(store_put1(st, DB_TOKENS, "carol@pve!ci", tok), 0);
	cJSON_Delete(tok);
	put_json(st, DB_USERS, "dave@pve", "{\"enable\":1,\"expire\":1000}");
	s = load(st);
	CHECK_INT(acl_user_active(s, "alice@pve", 5000), 0);
	CHECK_INT(acl_user_active(s, "carol@pve", 5000), CR_EAUTH);
	CHECK_INT(acl_user_active(s, "dave@pve", 999), 0);
	CHECK_INT(acl_user_active(s, "dave@pve", 1001), CR_EAUTH);
	CHECK_INT(acl_user_active(s, "root@pam", 5000), 0);
	CHECK_INT(acl_user_active(s, "zed@pve", 5000), CR_EAUTH);
	CHECK_INT(acl_token_check(s, "bob@pve", "ci", "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc",
				  5000, &privsep), 0);
	CHECK_INT(privsep, 0);
	CHECK_INT(acl_token_check(s, "bob@pve", "ci", "0f1e2d3c-aaaa-4bbb-8ccc-123456789abd",
				  5000, &privsep), CR_EAUTH);
	CHECK_INT(acl_token_check(s, "bob@pve", "old", "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc",
				  5000, &privsep), CR_EAUTH);
	/* A disabled owner disables the token. */
	CHECK_INT(acl_token_check(s, "carol@pve", "ci", "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc",
				  5000, &privsep), CR_EAUTH);
	acl_snap_free(s);
	store_close(st);
}

static void test_generation(void)
{
	struct store *st = open_fresh("gen");
	struct store_txn *t;

	CHECK_INT(store_begin(st, 0, &t), 0);
	CHECK_INT(acl_read_gen(t), 0);
	CHECK_INT(acl_touch(t), 0);
	CHECK_INT(acl_touch(t), 0);
	CHECK_INT(acl_read_gen(t), 2);
	CHECK_INT(store_commit(t), 0);
	store_close(st);
}

static const struct test_case tests[] = {
	{ "built-in roles", test_builtin_roles },
	{ "privilege lists", test_priv_lists },
	{ "paths", test_paths },
	{ "identifiers", test_identifiers },
	{ "propagation", test_propagation },
	{ "group roles and NoAccess", test_groups_and_noaccess },
	{ "token privsep intersection", test_token_privsep },
	{ "users and token secrets", test_users_and_tokens },
	{ "generation", test_generation },
};

TEST_MAIN(tests)
