/* Tests for the /access handlers (api_access*.c, auth_format.c) through the
 * router, as the HTTP layer calls it: login tickets, users, tokens, groups,
 * roles, ACLs, permissions and passwords. */
#include "tests/unit/server/api_fixture.h"

#include "common/err.h"

#include <ctype.h>
#include <stdlib.h>

/* METHOD PATH with a form BODY (the query string for GET and DELETE), as USER
 * (ticket + CSRF header), or with the Authorization header AUTHZ when USER is
 * NULL. */
static struct api_answer call(struct api_fixture *f, const char *method, const char *path,
			      const char *body, const char *user, const char *authz)
{
	int in_query = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0;

	return api_request(f, method, path, in_query ? body : NULL, in_query ? NULL : body, user,
			   authz);
}

/* Appends IN to OUT as a form value (%XX for everything but [A-Za-z0-9@.-]). */
static void form_escape(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (; *in && o + 4 < n; in++) {
		if (isalnum((unsigned char)*in) || strchr("@.-", *in))
			out[o++] = *in;
		else
			o += (size_t)snprintf(out + o, n - o, "%%%02X", (unsigned char)*in);
	}
	out[o] = '\0';
}

/* Runs a call and checks only its status. */
static void expect(struct api_fixture *f, int status, const char *method, const char *path,
		   const char *body, const char *user)
{
	struct api_answer a = call(f, method, path, body, user, NULL);

	if (a.status != status)
		fprintf(stderr, "  %s %s -> %d %s\n", method, path, a.status, a.reason);
	CHECK_INT(a.status, status);
	api_answer_free(&a);
}

static void test_ticket(void)
{
	struct api_fixture f;
	struct api_answer a;
	char body[2048];
	const cJSON *cap;

	api_fixture_open(&f, "ticket");
	a = call(&f, "POST", "/access/ticket", "username=admin%40pve&password=admin-pw-1", NULL,
		 NULL);
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "username"), "admin@pve");
	CHECK(strncmp(api_str(api_data(&a), "ticket"), "PVE:admin@pve:", 14) == 0);
	CHECK_INT(strlen(api_str(api_data(&a), "CSRFPreventionToken")), 52);
	cap = cJSON_GetObjectItem(api_data(&a), "cap");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(cap, "vms"), "VM.PowerMgmt")));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(cap, "dc"), "Sys.Audit")));
	/* The ticket renews itself as a password. */
	snprintf(body, sizeof(body), "username=admin@pve&password=");
	form_escape(api_str(api_data(&a), "ticket"), body + strlen(body),
		    sizeof(body) - strlen(body));
	api_answer_free(&a);
	a = call(&f, "POST", "/access/ticket", body, NULL, NULL);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	/* Realm as its own parameter. */
	expect(&f, 200, "POST", "/access/ticket", "username=bob&realm=pve&password=bob-pw-12",
	       NULL);
	api_fixture_close(&f);
}

static void test_ticket_failures(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "ticketfail");
	a = call(&f, "POST", "/access/ticket", "username=admin@pve&password=nope", NULL, NULL);
	CHECK_INT(a.status, 401);
	CHECK_STR(a.reason, "authentication failure");
	CHECK(a.body && cJSON_IsNull(api_data(&a)));
	api_answer_free(&a);
	expect(&f, 401, "POST", "/access/ticket", "username=ghost@pve&password=whatever", NULL);
	expect(&f, 401, "POST", "/access/ticket",
	       "username=admin@pve&password=admin-pw-1&tfa-challenge=x", NULL);
	expect(&f, 400, "POST", "/access/ticket", "username=admin@pve", NULL);
	/* Verify-only mode answers {username} or 401. */
	a = call(&f, "POST", "/access/ticket",
		 "username=admin@pve&password=admin-pw-1&path=/vms/100&privs=VM.PowerMgmt", NULL,
		 NULL);
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "username"), "admin@pve");
	CHECK(!api_has(api_data(&a), "ticket"));
	api_answer_free(&a);
	expect(&f, 401, "POST", "/access/ticket",
	       "username=bob@pve&password=bob-pw-12&path=/vms/100&privs=VM.Audit", NULL);
	/* Spent budget: even the right password is refused (10 failures so far
	 * from this address would be needed; spend the rest). */
	for (int i = 0; i < 6; i++)
		expect(&f, 401, "POST", "/access/ticket", "username=bob@pve&password=x", NULL);
	expect(&f, 401, "POST", "/access/ticket", "username=bob@pve&password=bob-pw-12", NULL);
	api_fixture_close(&f);
}

static void test_domains_and_index(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "domains");
	a = call(&f, "GET", "/access/domains", NULL, NULL, NULL);
	CHECK_INT(a.status, 200);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "realm"), "pam");
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 1), "comment"),
		  "Corral authentication server");
	api_answer_free(&a);
	a = call(&f, "GET", "/access/ticket", NULL, NULL, NULL);
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsNull(api_data(&a)));
	api_answer_free(&a);
	expect(&f, 200, "GET", "/access", NULL, "bob@pve");
	expect(&f, 401, "GET", "/access", NULL, NULL);
	api_fixture_close(&f);
}

static void test_users(void)
{
	struct api_fixture f;
	struct api_answer a;
	const cJSON *row;

	api_fixture_open(&f, "users");
	expect(&f, 200, "POST", "/access/groups", "groupid=ops&comment=operators", "admin@pve");
	expect(&f, 200, "POST", "/access/users",
	       "userid=carol@pve&password=carol-pw-1&firstname=Carol&groups=ops", "admin@pve");
	a = call(&f, "POST", "/access/users", "userid=carol@pve", "admin@pve", NULL);
	CHECK_INT(a.status, 500);
	CHECK(strstr(a.reason, "already exists") != NULL);
	api_answer_free(&a);
	a = call(&f, "POST", "/access/users", "userid=bad:name@pve", "admin@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "userid") != NULL);
	api_answer_free(&a);
	a = call(&f, "POST", "/access/users", "userid=dan@pve&password=short", "admin@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "password"), "value must have at least 8 characters");
	api_answer_free(&a);
	expect(&f, 200, "POST", "/access/ticket", "username=carol@pve&password=carol-pw-1", NULL);
	a = call(&f, "GET", "/access/users/carol@pve", NULL, "admin@pve", NULL);
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "firstname"), "Carol");
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(api_data(&a), "groups"), 0)->valuestring,
		  "ops");
	CHECK(!api_has(api_data(&a), "hash"));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(api_data(&a), "enable")));
	api_answer_free(&a);
	/* Listing: admin sees all (root@pam implicit); bob only himself. */
	a = call(&f, "GET", "/access/users", "full=1", "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 4);
	row = cJSON_GetArrayItem(api_data(&a), 3);
	CHECK_STR(api_str(row, "userid"), "root@pam");
	CHECK_STR(api_str(row, "realm-type"), "pam");
	row = cJSON_GetArrayItem(api_data(&a), 2);
	CHECK_STR(api_str(row, "userid"), "carol@pve");
	CHECK_STR(api_str(row, "groups"), "ops");
	api_answer_free(&a);
	a = call(&f, "GET", "/access/users", NULL, "bob@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "userid"), "bob@pve");
	CHECK(!api_has(cJSON_GetArrayItem(api_data(&a), 0), "groups"));
	api_answer_free(&a);
	expect(&f, 403, "GET", "/access/users/carol@pve", NULL, "bob@pve");
	/* Disabling takes effect on the next request of that user. */
	expect(&f, 200, "PUT", "/access/users/carol@pve", "enable=0&comment=gone", "admin@pve");
	expect(&f, 401, "GET", "/access/users", NULL, "carol@pve");
	expect(&f, 403, "DELETE", "/access/users/carol@pve", NULL, "bob@pve");
	expect(&f, 200, "DELETE", "/access/users/carol@pve", NULL, "admin@pve");
	expect(&f, 404, "GET", "/access/users/carol@pve", NULL, "admin@pve");
	a = call(&f, "GET", "/access/groups/ops", NULL, "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(api_data(&a), "members")), 0);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_group_scoped_admin(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "scoped");
	expect(&f, 200, "POST", "/access/groups", "groupid=team", "admin@pve");
	expect(&f, 200, "POST", "/access/users", "userid=eve@pve&groups=team", "admin@pve");
	expect(&f, 200, "POST", "/access/users", "userid=mal@pve", "admin@pve");
	expect(&f, 200, "PUT", "/access/acl",
	       "path=/access/groups/team&users=bob@pve&roles=PVEUserAdmin", "admin@pve");
	/* bob manages the members of team and no one else. */
	expect(&f, 200, "GET", "/access/users/eve@pve", NULL, "bob@pve");
	expect(&f, 403, "GET", "/access/users/mal@pve", NULL, "bob@pve");
	expect(&f, 200, "PUT", "/access/users/eve@pve", "groups=team&email=e@x.org", "bob@pve");
	expect(&f, 403, "PUT", "/access/users/eve@pve", "email=e@x.org", "bob@pve");
	a = call(&f, "GET", "/access/users", NULL, "bob@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	api_answer_free(&a);
	a = call(&f, "GET", "/access/groups", NULL, "bob@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "users"), "eve@pve");
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_tokens(void)
{
	struct api_fixture f;
	struct api_answer a;
	char authz[256], secret[64];

	api_fixture_open(&f, "tokens");
	a = call(&f, "POST", "/access/users/bob@pve/token/ci", "comment=robot", "bob@pve", NULL);
	CHECK_INT(a.status, 200);
	CHECK_STR(api_str(api_data(&a), "full-tokenid"), "bob@pve!ci");
	CHECK_INT(strlen(api_str(api_data(&a), "value")), 36);
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(api_data(&a), "info"), "privsep")->valueint,
		  1);
	snprintf(secret, sizeof(secret), "%s", api_str(api_data(&a), "value"));
	snprintf(authz, sizeof(authz), "PVEAPIToken=bob@pve!ci=%s", secret);
	api_answer_free(&a);
	a = call(&f, "POST", "/access/users/bob@pve/token/ci", NULL, "bob@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "tokenid"), "Token already exists.");
	api_answer_free(&a);
	expect(&f, 403, "POST", "/access/users/admin@pve/token/xx", NULL, "bob@pve");
	/* The token works; the secret is stored hashed. */
	a = call(&f, "GET", "/access/permissions", NULL, NULL, authz);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	{
		cJSON *doc = NULL;
		char *text;

		CHECK_INT(store_get1(f.app.store, DB_TOKENS, "bob@pve!ci", &doc), 0);
		CHECK(strncmp(api_str(doc, "hash"), "sha256:", 7) == 0);
		text = cJSON_PrintUnformatted(doc);
		CHECK(text && !strstr(text, secret));
		free(text);
		cJSON_Delete(doc);
	}
	/* privsep: an ACL for bob alone does not reach the token... */
	expect(&f, 200, "PUT", "/access/acl", "path=/&users=bob@pve&roles=PVEAuditor", "admin@pve");
	a = call(&f, "GET", "/nodes/" FIX_NODE "/status", NULL, NULL, authz);
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	/* ...until the token gets its own. */
	expect(&f, 200, "PUT", "/access/acl", "path=/nodes&tokens=bob@pve!ci&roles=PVEAuditor",
	       "admin@pve");
	a = call(&f, "GET", "/nodes/" FIX_NODE "/status", NULL, NULL, authz);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	/* Tokens may not log in, nor change passwords. */
	a = call(&f, "POST", "/access/ticket", "username=bob@pve&password=bob-pw-12", NULL, authz);
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	a = call(&f, "GET", "/access/users/bob@pve/token", NULL, "bob@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "tokenid"), "ci");
	api_answer_free(&a);
	a = call(&f, "PUT", "/access/users/bob@pve/token/ci", "privsep=0&expire=4102444800",
		 "bob@pve", NULL);
	CHECK_INT(cJSON_GetObjectItem(api_data(&a), "privsep")->valueint, 0);
	api_answer_free(&a);
	expect(&f, 200, "GET", "/access/users/bob@pve/token/ci", NULL, "bob@pve");
	expect(&f, 200, "DELETE", "/access/users/bob@pve/token/ci", NULL, "bob@pve");
	expect(&f, 404, "GET", "/access/users/bob@pve/token/ci", NULL, "bob@pve");
	a = call(&f, "GET", "/access/permissions", NULL, NULL, authz);
	CHECK_INT(a.status, 401);
	api_answer_free(&a);
	a = call(&f, "GET", "/access/acl", NULL, "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2); /* the token's entry went with it */
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_roles_and_groups(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "roles");
	a = call(&f, "GET", "/access/roles", NULL, "bob@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 17);
	api_answer_free(&a);
	a = call(&f, "GET", "/access/roles/PVEAuditor", NULL, "bob@pve", NULL);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(api_data(&a), "Sys.Audit")));
	CHECK(!api_has(api_data(&a), "VM.PowerMgmt"));
	api_answer_free(&a);
	expect(&f, 403, "POST", "/access/roles", "roleid=Ops&privs=VM.Audit", "bob@pve");
	expect(&f, 200, "POST", "/access/roles", "roleid=Ops&privs=VM.Audit,VM.Console", "admin@pve");
	a = call(&f, "POST", "/access/roles", "roleid=pvefoo", "admin@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "roleid") != NULL);
	api_answer_free(&a);
	a = call(&f, "POST", "/access/roles", "roleid=X&privs=VM.Fly", "admin@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "privs"), "invalid format - invalid privilege 'VM.Fly'");
	api_answer_free(&a);
	expect(&f, 500, "POST", "/access/roles", "roleid=Ops", "admin@pve");
	expect(&f, 200, "PUT", "/access/roles/Ops", "privs=VM.PowerMgmt&append=1", "admin@pve");
	a = call(&f, "GET", "/access/roles", NULL, "bob@pve", NULL);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 17), "privs"),
		  "VM.Audit,VM.Console,VM.PowerMgmt");
	CHECK_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(api_data(&a), 17), "special")->valueint,
		  0);
	api_answer_free(&a);
	expect(&f, 400, "PUT", "/access/roles/PVEAdmin", "privs=VM.Audit", "admin@pve");
	expect(&f, 400, "DELETE", "/access/roles/NoAccess", NULL, "admin@pve");
	expect(&f, 200, "PUT", "/access/acl", "path=/vms/100&users=bob@pve&roles=Ops", "admin@pve");
	expect(&f, 200, "DELETE", "/access/roles/Ops", NULL, "admin@pve");
	a = call(&f, "GET", "/access/acl", NULL, "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);
	/* Groups. */
	expect(&f, 200, "POST", "/access/groups", "groupid=g1", "admin@pve");
	expect(&f, 500, "POST", "/access/groups", "groupid=g1", "admin@pve");
	expect(&f, 400, "POST", "/access/groups", "groupid=no%20spaces", "admin@pve");
	expect(&f, 403, "POST", "/access/groups", "groupid=g2", "bob@pve");
	expect(&f, 200, "PUT", "/access/groups/g1", "comment=first", "admin@pve");
	a = call(&f, "GET", "/access/groups/g1", NULL, "admin@pve", NULL);
	CHECK_STR(api_str(api_data(&a), "comment"), "first");
	api_answer_free(&a);
	expect(&f, 200, "PUT", "/access/acl", "path=/&groups=g1&roles=PVEAuditor", "admin@pve");
	expect(&f, 200, "DELETE", "/access/groups/g1", NULL, "admin@pve");
	expect(&f, 404, "GET", "/access/groups/g1", NULL, "admin@pve");
	a = call(&f, "GET", "/access/acl", NULL, "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_acl(void)
{
	struct api_fixture f;
	struct api_answer a;
	const cJSON *row;

	api_fixture_open(&f, "acl");
	a = call(&f, "PUT", "/access/acl", "path=/&roles=PVEAuditor", "admin@pve", NULL);
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "users"), "either 'users', 'groups' or 'tokens' is required.");
	api_answer_free(&a);
	a = call(&f, "PUT", "/access/acl", "path=/bogus&users=bob@pve&roles=PVEAuditor",
		 "admin@pve", NULL);
	CHECK_STR(api_param_error(&a, "path"), "invalid ACL path '/bogus'");
	api_answer_free(&a);
	expect(&f, 404, "PUT", "/access/acl", "path=/&users=ghost@pve&roles=PVEAuditor",
	       "admin@pve");
	expect(&f, 404, "PUT", "/access/acl", "path=/&users=bob@pve&roles=Nope", "admin@pve");
	expect(&f, 403, "PUT", "/access/acl", "path=/&users=bob@pve&roles=Administrator",
	       "bob@pve");
	expect(&f, 200, "PUT", "/access/acl",
	       "path=/vms/100&users=bob@pve&roles=PVEVMAdmin&propagate=0", "admin@pve");
	a = call(&f, "GET", "/access/acl", NULL, "admin@pve", NULL);
	row = cJSON_GetArrayItem(api_data(&a), 1);
	CHECK_STR(api_str(row, "path"), "/vms/100");
	CHECK_STR(api_str(row, "type"), "user");
	CHECK_STR(api_str(row, "ugid"), "bob@pve");
	CHECK_STR(api_str(row, "roleid"), "PVEVMAdmin");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(row, "propagate")));
	CHECK_INT(cJSON_GetObjectItem(row, "propagate")->valueint, 0);
	api_answer_free(&a);
	/* bob may manage /vms/100's ACL (VM.Allocate) but not hand out more
	 * than he holds there, and sees only that path. */
	expect(&f, 200, "PUT", "/access/acl", "path=/vms/100&users=bob@pve&roles=PVEVMUser",
	       "bob@pve");
	expect(&f, 400, "PUT", "/access/acl", "path=/vms/100&users=bob@pve&roles=Administrator",
	       "bob@pve");
	expect(&f, 403, "PUT", "/access/acl", "path=/vms/101&users=bob@pve&roles=PVEVMUser",
	       "bob@pve");
	a = call(&f, "GET", "/access/acl", NULL, "bob@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 2);
	api_answer_free(&a);
	expect(&f, 200, "PUT", "/access/acl",
	       "path=/vms/100&users=bob@pve&roles=PVEVMAdmin,PVEVMUser&delete=1", "admin@pve");
	a = call(&f, "GET", "/access/acl", NULL, "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_permissions(void)
{
	struct api_fixture f;
	struct api_answer a;
	const cJSON *root;

	api_fixture_open(&f, "perms");
	/* Another user's permissions need Sys.Audit on /access. */
	expect(&f, 403, "GET", "/access/permissions", "userid=admin@pve", "bob@pve");
	expect(&f, 200, "PUT", "/access/acl", "path=/&users=bob@pve&roles=PVEAuditor", "admin@pve");
	a = call(&f, "GET", "/access/permissions", "path=/", "bob@pve", NULL);
	root = cJSON_GetObjectItem(api_data(&a), "/");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(root, "Sys.Audit")));
	CHECK_INT(cJSON_GetObjectItem(root, "Sys.Audit")->valueint, 1);
	CHECK(!api_has(root, "VM.PowerMgmt"));
	api_answer_free(&a);
	/* The whole tree: top-level paths with something granted. */
	a = call(&f, "GET", "/access/permissions", NULL, "bob@pve", NULL);
	CHECK(api_has(api_data(&a), "/vms") && api_has(api_data(&a), "/storage"));
	api_answer_free(&a);
	a = call(&f, "GET", "/access/permissions", "userid=admin@pve&path=/", "admin@pve", NULL);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(api_data(&a), "/")), 42);
	api_answer_free(&a);
	expect(&f, 200, "GET", "/access/permissions", "userid=admin@pve", "bob@pve");
	expect(&f, 400, "GET", "/access/permissions", "userid=not-a-user", "admin@pve");
	/* PVEAuditor through the router: audit yes, power no. */
	expect(&f, 200, "GET", "/nodes/" FIX_NODE "/status", NULL, "bob@pve");
	expect(&f, 403, "POST", "/access/roles", "roleid=R1", "bob@pve");
	api_fixture_close(&f);
}

static void test_password(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "password");
	/* Everyone but root@pam confirms with their current password. */
	a = call(&f, "PUT", "/access/password", "userid=bob@pve&password=bob-new-pw-1", "bob@pve",
		 NULL);
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "confirmation-password"),
		  "password is required to modify user");
	api_answer_free(&a);
	expect(&f, 403, "PUT", "/access/password",
	       "userid=bob@pve&password=bob-new-pw-1&confirmation-password=wrong-pw-1", "bob@pve");
	expect(&f, 200, "PUT", "/access/password",
	       "userid=bob@pve&password=bob-new-pw-1&confirmation-password=bob-pw-12", "bob@pve");
	expect(&f, 401, "POST", "/access/ticket", "username=bob@pve&password=bob-pw-12", NULL);
	expect(&f, 200, "POST", "/access/ticket", "username=bob@pve&password=bob-new-pw-1", NULL);
	expect(&f, 403, "PUT", "/access/password",
	       "userid=admin@pve&password=hijacked-1&confirmation-password=bob-new-pw-1", "bob@pve");
	expect(&f, 400, "PUT", "/access/password", "userid=bob@pve&password=short", "bob@pve");
	expect(&f, 200, "PUT", "/access/password",
	       "userid=bob@pve&password=reset-by-admin&confirmation-password=admin-pw-1",
	       "admin@pve");
	expect(&f, 200, "POST", "/access/ticket", "username=bob@pve&password=reset-by-admin", NULL);
	/* root@pam needs no confirmation; other users never set system passwords. */
	expect(&f, 200, "PUT", "/access/password", "userid=bob@pve&password=set-by-root", "root@pam");
	expect(&f, 403, "PUT", "/access/password",
	       "userid=root@pam&password=whatever-1&confirmation-password=admin-pw-1", "admin@pve");
	expect(&f, 400, "PUT", "/access/password", "userid=root@pam&password=two%0Alines-1",
	       "root@pam");
	api_fixture_close(&f);
}

static const struct test_case tests[] = {
	{ "ticket: login, cap numbers, renewal", test_ticket },
	{ "ticket: failures, verify-only, limiter", test_ticket_failures },
	{ "domains and index", test_domains_and_index },
	{ "users CRUD and listing", test_users },
	{ "group-scoped user admin", test_group_scoped_admin },
	{ "API tokens and privsep", test_tokens },
	{ "roles and groups", test_roles_and_groups },
	{ "ACL updates and grant limits", test_acl },
	{ "effective permissions", test_permissions },
	{ "password changes", test_password },
};

TEST_MAIN(tests)
