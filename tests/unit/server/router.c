/* Tests for server/router.c: matching on a table of its own, then the whole
 * pipeline (authentication, CSRF, privileges, parameters, envelope) through
 * router_handle() on a real store and auth in a temp dir. */
#include "common/err.h"
#include "server/router.h"
#include "tests/unit/server/api_fixture.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <string.h>

static int dummy(struct req *req, struct resp *resp)
{
	(void)req;
	(void)resp;
	return 0;
}

static const struct route table[] = {
	{ HTTP_GET, "/nodes", NULL, NULL, PERM_USER, 0, dummy },
	{ HTTP_GET, "/nodes/{node}", NULL, NULL, PERM_USER, 0, dummy },
	{ HTTP_GET, "/nodes/{node}/tasks/{upid}/status", NULL, NULL, PERM_USER, 0, dummy },
	{ HTTP_GET, "/nodes/{node}/qemu/{vmid}/status/{action}", NULL, NULL, PERM_USER, 0, dummy },
	{ HTTP_GET, "/nodes/{node}/qemu/{vmid}/status/current", NULL, NULL, PERM_USER, 0, dummy },
	{ HTTP_POST, "/nodes/{node}/qemu", NULL, NULL, PERM_USER, 0, dummy },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static const char *var(const cJSON *vars, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(vars, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_match_literal_and_vars(void)
{
	cJSON *vars = NULL;
	int known = 0;
	const struct route *r = router_match_in(table, NTABLE, HTTP_GET, "/nodes/pve", &vars, &known);

	CHECK(r == &table[1]);
	CHECK_STR(var(vars, "node"), "pve");
	cJSON_Delete(vars);
	r = router_match_in(table, NTABLE, HTTP_GET, "/nodes", &vars, &known);
	CHECK(r == &table[0]);
	CHECK_INT(cJSON_GetArraySize(vars), 0);
	cJSON_Delete(vars);
	/* A fixed segment wins over a variable at the same depth. */
	r = router_match_in(table, NTABLE, HTTP_GET, "/nodes/a/qemu/100/status/current", &vars,
			    &known);
	CHECK(r == &table[4]);
	cJSON_Delete(vars);
	r = router_match_in(table, NTABLE, HTTP_GET, "/nodes/a/qemu/100/status/start", &vars,
			    &known);
	CHECK(r == &table[3]);
	CHECK_STR(var(vars, "action"), "start");
	CHECK_STR(var(vars, "vmid"), "100");
	cJSON_Delete(vars);
}

static void test_match_upid_and_slashes(void)
{
	const char *upid = "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:";
	char path[256];
	cJSON *vars = NULL;
	const struct route *r;

	snprintf(path, sizeof(path), "/nodes/pve/tasks/%s/status", upid);
	r = router_match_in(table, NTABLE, HTTP_GET, path, &vars, NULL);
	CHECK(r == &table[2]);
	CHECK_STR(var(vars, "upid"), upid);
	cJSON_Delete(vars);
	r = router_match_in(table, NTABLE, HTTP_GET, "//nodes//pve/", &vars, NULL);
	CHECK(r == &table[1]);
	cJSON_Delete(vars);
}

static void test_match_misses(void)
{
	cJSON *vars = NULL;
	int known = 0;
	char deep[512] = "";

	CHECK(!router_match_in(table, NTABLE, HTTP_DELETE, "/nodes", &vars, &known));
	CHECK_INT(known, 1);
	CHECK(vars == NULL);
	CHECK(!router_match_in(table, NTABLE, HTTP_GET, "/nodes/a/b", &vars, &known));
	CHECK_INT(known, 0);
	CHECK(!router_match_in(table, NTABLE, HTTP_GET, "/", &vars, &known));
	for (int i = 0; i < 40; i++)
		strcat(deep, "/x");
	CHECK(!router_match_in(table, NTABLE, HTTP_GET, deep, &vars, &known));
}

static void test_methods(void)
{
	CHECK_INT(router_method_parse("GET"), HTTP_GET);
	CHECK_INT(router_method_parse("DELETE"), HTTP_DELETE);
	CHECK_INT(router_method_parse("HEAD"), -1);
	CHECK_INT(router_method_parse("get"), -1);
	CHECK_STR(router_method_name(HTTP_PUT), "PUT");
}

/* --- the pipeline --- */

struct call {
	const char *method, *path, *query, *cookie, *authz, *csrf;
	const char *content_type, *body;
};

static struct api_answer run(struct api_fixture *f, const struct call *c, int *delay)
{
	struct router_request rq = {
		.method = c->method, .path = c->path, .query = c->query, .cookie = c->cookie,
		.authorization = c->authz, .csrf_token = c->csrf, .content_type = c->content_type,
		.body = c->body, .body_len = c->body ? strlen(c->body) : 0, .peer = "127.0.0.1",
	};
	struct router_reply out;
	struct api_answer a = { 0 };

	router_handle(&f->app, &rq, &out);
	a.status = out.status;
	snprintf(a.reason, sizeof(a.reason), "%s", out.reason ? out.reason : "");
	a.body = out.body ? cJSON_ParseWithLength(out.body, out.body_len) : NULL;
	if (delay)
		*delay = out.delay;
	router_reply_clear(&out);
	return a;
}

static void test_unauthenticated(void)
{
	struct api_fixture f;
	struct call c = { .method = "GET", .path = "/version" };
	struct api_answer a;
	int delay = 0;

	api_fixture_open(&f, "unauth");
	a = run(&f, &c, &delay);
	CHECK_INT(a.status, 401);
	CHECK_STR(a.reason, "No ticket");
	CHECK(a.body == NULL); /* Proxmox sends an empty body */
	CHECK_INT(delay, 1);
	c.cookie = "PVE:admin@pve:4EEC61E2::forged";
	a = run(&f, &c, &delay);
	CHECK_INT(a.status, 401);
	CHECK_STR(a.reason, "Authentication failed!");
	c.cookie = NULL;
	c.authz = "PVEAPIToken=admin@pve!nope=00000000-0000-0000-0000-000000000000";
	a = run(&f, &c, NULL);
	CHECK_INT(a.status, 401);
	/* An unknown path still asks for authentication first, as Proxmox does. */
	c.authz = NULL;
	c.path = "/no/such/thing";
	a = run(&f, &c, NULL);
	CHECK_INT(a.status, 401);
	api_fixture_close(&f);
}

static void test_csrf(void)
{
	struct api_fixture f;
	char ticket[AUTH_TICKET_MAX], csrf[AUTH_CSRF_MAX], other[AUTH_CSRF_MAX];
	struct call c = { .method = "DELETE",
			  .path = "/nodes/" FIX_NODE "/tasks/UPID:x:00000001:00000001:00000001:t:i:u@pve:" };
	struct api_answer a;

	api_fixture_open(&f, "csrf");
	CHECK_INT(auth_ticket_make(f.app.auth, "admin@pve", time(NULL), ticket, sizeof(ticket)), 0);
	CHECK_INT(auth_csrf_make(f.app.auth, "admin@pve", time(NULL), csrf, sizeof(csrf)), 0);
	CHECK_INT(auth_csrf_make(f.app.auth, "bob@pve", time(NULL), other, sizeof(other)), 0);
	c.cookie = ticket;
	a = run(&f, &c, NULL);
	CHECK_INT(a.status, 401);
	CHECK_STR(a.reason, "Permission denied - invalid csrf token");
	c.csrf = other; /* another user's token */
	a = run(&f, &c, NULL);
	CHECK_INT(a.status, 401);
	c.csrf = csrf;
	a = run(&f, &c, NULL);
	CHECK(a.status != 401);
	api_answer_free(&a);
	/* GET needs no CSRF header. */
	c.method = "GET";
	c.path = "/version";
	c.csrf = NULL;
	a = run(&f, &c, NULL);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_not_implemented(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "501");
	a = api_call(&f, "GET", "/no/such/thing", NULL, "admin@pve");
	CHECK_INT(a.status, 501);
	CHECK_STR(a.reason, "Method 'GET /no/such/thing' not implemented");
	CHECK(cJSON_IsNull(api_data(&a)));
	CHECK_STR(api_str(a.body, "message"), "Method 'GET /no/such/thing' not implemented");
	api_answer_free(&a);
	a = api_call(&f, "PATCH", "/version", NULL, "admin@pve");
	CHECK_INT(a.status, 501);
	CHECK_STR(a.reason, "Method 'PATCH /version' not implemented");
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_permission_denied(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "403");
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/status", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	CHECK_STR(a.reason, "Permission check failed (/nodes/" FIX_NODE ", Sys.Audit)");
	CHECK(!api_has(a.body, "errors"));
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/status", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_parameter_errors(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "400");
	a = api_call(&f, "GET", "/version", "foo=1", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK_STR(a.reason, "Parameter verification failed.");
	CHECK_STR(api_param_error(&a, "foo"),
		  "property is not defined in schema and the schema does not allow additional "
		  "properties");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/status", "node=other", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK_STR(api_param_error(&a, "node"),
		  "duplicate parameter (already defined in URI) with conflicting values!");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/status", "node=" FIX_NODE, "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static void test_success_envelope(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open(&f, "200");
	a = api_call(&f, "GET", "/version", "_dc=1234", "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_STR(a.reason, "");
	CHECK(cJSON_IsObject(api_data(&a)));
	CHECK(!api_has(a.body, "errors"));
	CHECK(!api_has(a.body, "message"));
	api_answer_free(&a);
	api_fixture_close(&f);
}

static const struct test_case tests[] = {
	{ "match_literal_and_vars", test_match_literal_and_vars },
	{ "match_upid_and_slashes", test_match_upid_and_slashes },
	{ "match_misses", test_match_misses },
	{ "methods", test_methods },
	{ "unauthenticated", test_unauthenticated },
	{ "csrf", test_csrf },
	{ "not_implemented", test_not_implemented },
	{ "permission_denied", test_permission_denied },
	{ "parameter_errors", test_parameter_errors },
	{ "success_envelope", test_success_envelope },
};

TEST_MAIN(tests)
