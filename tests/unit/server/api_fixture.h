/* A node in one process for handler tests: real store, auth and tasks in a
 * temp dir, requests through router_handle() exactly as the HTTP layer
 * sends them, with tickets for admin@pve (Administrator on /) and for
 * bob@pve (no ACL at all). */
#ifndef CORRAL_TEST_API_FIXTURE_H
#define CORRAL_TEST_API_FIXTURE_H

#include "server/acl.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/password.h"
#include "server/router.h"
#include "server/store.h"
#include "server/tasks.h"
#include "tests/unit/test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FIX_NODE "testnode"

struct api_fixture {
	struct app app;
};

struct api_answer {
	int status;
	char reason[256];
	cJSON *body; /* parsed JSON; NULL for an empty body */
};

static inline void api_fixture_open(struct api_fixture *f, const char *name)
{
	char dir[APP_PATH_MAX + 16], err[256], gen[64], hash[PASSWORD_HASH_MAX], json[512];
	struct store_txn *t;
	cJSON *v;

	memset(f, 0, sizeof(*f));
	snprintf(f->app.cfg.node, sizeof(f->app.cfg.node), FIX_NODE);
	snprintf(f->app.cfg.data_dir, sizeof(f->app.cfg.data_dir), "%s/%s", test_tmpdir(), name);
	snprintf(f->app.cfg.listen_addr, sizeof(f->app.cfg.listen_addr), "127.0.0.1");
	snprintf(dir, sizeof(dir), "%s/db", f->app.cfg.data_dir);
	CHECK_INT(store_open(dir, &f->app.store, err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/certs", f->app.cfg.data_dir);
	CHECK_INT(auth_new(&f->app, dir, &f->app.auth, err, sizeof(err)), 0);
	CHECK_INT(auth_bootstrap_admin(f->app.auth, "admin-pw-1", gen, sizeof(gen)), 0);
	CHECK_INT(password_hash_cost("bob-pw-12", 4, 1, 1, hash, sizeof(hash)), 0);
	snprintf(json, sizeof(json), "{\"enable\":1,\"expire\":0,\"hash\":\"%s\"}", hash);
	v = cJSON_Parse(json);
	CHECK_INT(store_begin(f->app.store, 0, &t), 0);
	CHECK_INT(store_put(t, DB_USERS, "bob@pve", v), 0);
	CHECK_INT(acl_touch(t), 0);
	CHECK_INT(store_commit(t), 0);
	cJSON_Delete(v);
	CHECK_INT(tasks_new(&f->app, f->app.cfg.data_dir, 2, &f->app.tasks), 0);
}

static inline void api_fixture_close(struct api_fixture *f)
{
	tasks_free(f->app.tasks);
	auth_free(f->app.auth);
	store_close(f->app.store);
}

/* The same with the storage definitions started ("local" in DATA/images). */
static inline void api_fixture_open_storage(struct api_fixture *f, const char *name)
{
	char err[256] = "";

	api_fixture_open(f, name);
	CHECK_INT(api_storage_start(&f->app, err, sizeof(err)), 0);
	CHECK_STR(err, "");
}

static inline void api_fixture_close_storage(struct api_fixture *f)
{
	api_fixture_close(f);
	api_storage_stop(&f->app);
}

/* METHOD PATH through the router as the HTTP layer calls it: QUERY as the
 * query string, BODY (may be NULL) as a form body, as USER (ticket cookie plus
 * the CSRF header) or, when USER is NULL, with the Authorization header AUTHZ
 * (may be NULL too: no credentials). */
static inline struct api_answer api_request(struct api_fixture *f, const char *method,
					    const char *path, const char *query,
					    const char *body, const char *user,
					    const char *authz)
{
	char ticket[AUTH_TICKET_MAX], csrf[AUTH_CSRF_MAX];
	struct router_request rq = {
	    .method = method, .path = path, .query = query, .peer = "127.0.0.1"};
	struct router_reply out;
	struct api_answer a = {0};

	if (body) {
		rq.body = body;
		rq.body_len = strlen(body);
		rq.content_type = "application/x-www-form-urlencoded";
	}
	if (user) {
		CHECK_INT(auth_ticket_make(f->app.auth, user, time(NULL), ticket, sizeof(ticket)), 0);
		CHECK_INT(auth_csrf_make(f->app.auth, user, time(NULL), csrf, sizeof(csrf)), 0);
		rq.cookie = ticket;
		rq.csrf_token = csrf;
	}
	rq.authorization = authz;
	router_handle(&f->app, &rq, &out);
	a.status = out.status;
	snprintf(a.reason, sizeof(a.reason), "%s", out.reason ? out.reason : "");
	a.body = out.body ? cJSON_ParseWithLength(out.body, out.body_len) : NULL;
	router_reply_clear(&out);
	return a;
}

/* METHOD PATH?QUERY as USER (ticket cookie, plus the CSRF header). */
static inline struct api_answer api_call(struct api_fixture *f, const char *method,
					 const char *path, const char *query, const char *user)
{
	return api_request(f, method, path, query, NULL, user, NULL);
}

static inline cJSON *api_data(const struct api_answer *a)
{
	return cJSON_GetObjectItemCaseSensitive(a->body, "data");
}

/* errors[PARAM] of a 400 answer, or NULL. */
static inline const char *api_param_error(const struct api_answer *a, const char *param)
{
	cJSON *e = cJSON_GetObjectItemCaseSensitive(a->body, "errors");
	cJSON *v = cJSON_GetObjectItemCaseSensitive(e, param);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline const char *api_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline int api_has(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key) != NULL;
}

static inline void api_answer_free(struct api_answer *a)
{
	cJSON_Delete(a->body);
	a->body = NULL;
}

#endif
