/* The request pipeline of /api2/json: route lookup in the const table,
 * authentication, CSRF, privilege check on the route's object path,
 * parameter validation, handler, and Proxmox's answers for each failure
 * (pve-manager PVE/HTTPServer.pm auth_handler and rest_handler). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/params.h"
#include "server/resp.h"
#include "server/router.h"
#include "server/peer.h"

#define ROUTER_MAX_SEGS 32

static const char *const method_names[HTTP_METHOD_COUNT] = {
	[HTTP_GET] = "GET", [HTTP_POST] = "POST", [HTTP_PUT] = "PUT", [HTTP_DELETE] = "DELETE",
};

int router_method_parse(const char *s)
{
	for (int i = 0; i < HTTP_METHOD_COUNT; i++)
		if (strcmp(s, method_names[i]) == 0)
			return i;
	return -1;
}

const char *router_method_name(enum http_method m)
{
	return (unsigned)m < HTTP_METHOD_COUNT ? method_names[m] : "?";
}

/* --- matching --- */

struct segs {
	const char *p[ROUTER_MAX_SEGS];
	size_t len[ROUTER_MAX_SEGS];
	int n;
};

/* Splits on '/', skipping empty segments ("//nodes/" is "/nodes"). */
static int split_path(const char *path, struct segs *s)
{
	s->n = 0;
	while (*path) {
		size_t len = strcspn(path, "/");

		if (len) {
			if (s->n == ROUTER_MAX_SEGS)
				return -1;
			s->p[s->n] = path;
			s->len[s->n++] = len;
		}
		path += len + (path[len] == '/');
	}
	return 0;
}

/* Next segment of S (empty ones skipped): start in *SEG, length returned,
 * S advanced past it; 0 at the end. */
static size_t next_seg(const char **s, const char **seg)
{
	size_t len;

	while (**s == '/')
		(*s)++;
	len = strcspn(*s, "/");
	*seg = *s;
	*s += len;
	return len;
}

static void add_var(cJSON *vars, const char *name, size_t nlen, const char *val, size_t vlen)
{
	char key[64], *v = strndup(val, vlen);

	snprintf(key, sizeof(key), "%.*s", (int)nlen, name);
	cJSON_AddStringToObject(vars, key, v ? v : "");
	free(v);
}

/* Matches PATTERN against the segments, walking both at once so most routes
 * fail on their first segment.  Returns -1, or a score where a literal
 * segment outranks a variable one at the same depth (Proxmox's find_handler
 * prefers fixed subdirectories). */
static int64_t match_pattern(const char *pattern, const struct segs *s, cJSON *vars, int tail)
{
	int64_t score = 0;
	const char *ps;
	int i = 0;
	size_t len;

	for (; (len = next_seg(&pattern, &ps)) != 0; i++) {
		int is_var = ps[0] == '{' && ps[len - 1] == '}';

		if (i >= s->n)
			return -1;
		if (is_var && tail && *pattern == '\0') {
			/* ROUTE_PATH_TAIL: this last variable is the rest of the path */
			if (vars)
				add_var(vars, ps + 1, len - 2, s->p[i],
					(size_t)(s->p[s->n - 1] + s->len[s->n - 1] - s->p[i]));
			return score;
		}
		if (!is_var) {
			if (len != s->len[i] || memcmp(ps, s->p[i], len) != 0)
				return -1;
			score |= (int64_t)1 << (ROUTER_MAX_SEGS - 1 - i);
		} else if (vars) {
			add_var(vars, ps + 1, len - 2, s->p[i], s->len[i]);
		}
	}
	return i == s->n ? score : -1;
}

const struct route *router_match_in(const struct route *table, size_t n, enum http_method method,
				    const char *path, cJSON **vars, int *path_known)
{
	const struct route *best = NULL;
	int64_t best_score = -1;
	struct segs s;

	if (path_known)
		*path_known = 0;
	if (vars)
		*vars = NULL;
	if (split_path(path, &s) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int64_t score = match_pattern(table[i].path, &s, NULL,
					      !!(table[i].flags & ROUTE_PATH_TAIL));

		if (score < 0)
			continue;
		if (table[i].method != method) {
			if (path_known)
				*path_known = 1;
			continue;
		}
		if (score > best_score) {
			best = &table[i];
			best_score = score;
		}
	}
	if (best && vars) {
		*vars = cJSON_CreateObject();
		match_pattern(best->path, &s, *vars, !!(best->flags & ROUTE_PATH_TAIL));
	}
	return best;
}

const struct route *router_match(enum http_method method, const char *path, cJSON **vars,
				 int *path_known)
{
	return router_match_in(routes, routes_count, method, path, vars, path_known);
}

/* --- the pipeline --- */

/* One request on its way through the pipeline. */
struct pipeline {
	struct app *app;
	const struct router_request *rq;
	enum http_method method;
	const struct route *route;
	cJSON *vars;
	cJSON *params;
	struct identity who;
	int have_who;
	struct resp resp;
};

static int is_world(const struct route *r)
{
	return r && strcmp(r->privs, PERM_WORLD) == 0;
}

/* Cookie values arrive URI-escaped ("PVE%3Aroot%40pam%3A..."). */
static char *uri_unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	for (; out && *s; s++) {
		unsigned hi, lo;

		if (s[0] == '%' && sscanf(s + 1, "%1x%1x", &hi, &lo) == 2 && (hi << 4 | lo)) {
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	if (out)
		*o = '\0';
	return out;
}

/* Returns 0, or a code with an empty-bodied 401 rendered into OUT. */
static int authenticate(struct pipeline *p, struct router_reply *out)
{
	const struct router_request *rq = p->rq;
	char *cookie = rq->cookie ? uri_unescape(rq->cookie) : NULL;
	int is_ticket = 0, rc;

	rc = auth_identify(p->app->auth, cookie && *cookie ? cookie : NULL, rq->authorization,
			   &p->who, &is_ticket);
	free(cookie);
	if (rc < 0) {
		resp_render_bare(401, rc == CR_ENOTICKET ? "No ticket" : "Authentication failed!", out);
		return rc;
	}
	p->have_who = 1;
	if (is_ticket && p->method != HTTP_GET && !(p->route && (p->route->flags & ROUTE_NO_CSRF)) &&
	    auth_csrf_verify(p->app->auth, p->who.userid, rq->csrf_token ? rq->csrf_token : "",
			     time(NULL)) != 0) {
		resp_render_bare(401, err_str(CR_ECSRF), out);
		return CR_ECSRF;
	}
	return 0;
}

static int not_implemented(struct pipeline *p)
{
	return resp_error(&p->resp, CR_ENOROUTE, "Method '%s %s' not implemented", p->rq->method,
			  p->rq->path);
}

static int gather_params(struct pipeline *p)
{
	const struct router_request *rq = p->rq;
	struct params_source src = {
		.method = p->method,
		.query = rq->query,
		.query_len = rq->query ? strlen(rq->query) : 0,
		.content_type = rq->content_type,
		.body = rq->body,
		.body_len = rq->body_len,
	};
	char err[256] = "";
	int rc = params_collect(&src, &p->params, err, sizeof(err));

	if (rc < 0)
		return resp_error(&p->resp, rc, "%s", err);
	p->resp.errors = cJSON_CreateObject();
	rc = params_merge_path(p->params, p->vars, p->resp.errors);
	if (rc < 0)
		return resp_error(&p->resp, rc, "%s", err_str(rc));
	return 0;
}

/* "/vms/{vmid}" with the request's values. */
static int perm_path(const struct pipeline *p, char *out, size_t n)
{
	const char *s = p->route->perm_path ? p->route->perm_path : "/";
	size_t o = 0;

	while (*s && o + 1 < n) {
		const char *end = *s == '{' ? strchr(s, '}') : NULL;
		const cJSON *v;
		char name[64];

		if (!end) {
			out[o++] = *s++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(end - s - 1), s + 1);
		v = cJSON_GetObjectItemCaseSensitive(p->params, name);
		if (!cJSON_IsString(v))
			return -EINVAL;
		o += (size_t)snprintf(out + o, n - o, "%s", v->valuestring);
		s = end + 1;
	}
	if (o >= n)
		return -ERANGE;
	out[o] = '\0';
	return 0;
}

static int is_token_request(const struct pipeline *p)
{
	const char *a = p->rq->authorization;

	if (p->have_who)
		return p->who.tokenid[0] != '\0';
	return a && strncmp(a, "PVEAPIToken", 11) == 0 && !p->rq->cookie;
}

static int check_access(struct pipeline *p)
{
	const struct route *r = p->route;
	char path[512];

	if ((r->flags & ROUTE_NO_TOKEN) && is_token_request(p))
		return resp_error(&p->resp, CR_EPERM_CHECK,
				  "Permission check failed (URI '%s' not available with API "
				  "token, need proper ticket.)", p->rq->path);
	if (is_world(r) || strcmp(r->privs, PERM_USER) == 0)
		return 0;
	if (perm_path(p, path, sizeof(path)) < 0)
		return resp_error(&p->resp, CR_EINTERNAL, "invalid permission path for '%s'",
				  r->path);
	if (auth_check(p->app->auth, &p->who, path, r->privs) != 0)
		return resp_error(&p->resp, CR_EPERM_CHECK, "Permission check failed (%s, %s)", path,
				  r->privs);
	return 0;
}

static int validate(struct pipeline *p)
{
	int rc = params_validate(p->route->params, !!(p->route->flags & ROUTE_EXTRA_PARAMS),
				 p->params, p->resp.errors);

	return rc < 0 ? resp_error(&p->resp, rc, "%s", err_str(rc)) : 0;
}

static int run_handler(struct pipeline *p)
{
	struct req req = {
		.app = p->app,
		.method = p->method,
		.path = p->rq->path,
		.params = p->params,
		.who = p->have_who ? &p->who : NULL,
		.peer = p->rq->peer,
		.conn = p->rq->conn,
	};

	cJSON_Delete(p->resp.errors);
	p->resp.errors = NULL;
	return p->route->handler(&req, &p->resp);
}

static int dispatch(struct pipeline *p)
{
	int rc;

	if (!p->route)
		return not_implemented(p);
	if ((rc = gather_params(p)) < 0 || (rc = check_access(p)) < 0 || (rc = validate(p)) < 0)
		return rc;
	return run_handler(p);
}

const struct route *router_authorize(struct app *app, const struct router_request *rq,
				     struct identity *who, cJSON **vars, struct router_reply *out)
{
	struct pipeline p = { .app = app, .rq = rq, .resp = { .total = -1 } };
	int method = router_method_parse(rq->method), known = 0, rc = CR_ENOROUTE;

	memset(out, 0, sizeof(*out));
	p.method = method < 0 ? HTTP_GET : (enum http_method)method;
	if (method >= 0)
		p.route = router_match(p.method, rq->path, &p.vars, &known);
	if (!p.route || is_world(p.route))
		rc = not_implemented(&p);
	else if (authenticate(&p, out) < 0)
		goto fail;
	else if ((p.params = cJSON_Duplicate(p.vars, 1)) && (rc = check_access(&p)) == 0 &&
		 (p.resp.errors = cJSON_CreateObject()))
		rc = params_validate(p.route->params, 1, p.params, p.resp.errors);
	if (rc == 0 && p.params) {
		*who = p.who;
		*vars = p.vars;
		resp_clear(&p.resp);
		cJSON_Delete(p.params);
		return p.route;
	}
	if (rc == CR_EINVAL_PARAM)
		resp_error(&p.resp, rc, "%s", err_str(rc));
	resp_render(&p.resp, rc < 0 ? rc : -ENOMEM, out);
fail:
	resp_clear(&p.resp);
	cJSON_Delete(p.params);
	cJSON_Delete(p.vars);
	return NULL;
}

void router_handle(struct app *app, const struct router_request *rq, struct router_reply *out)
{
	struct pipeline p = { .app = app, .rq = rq, .resp = { .total = -1 } };
	int method = router_method_parse(rq->method), known = 0, rc;

	memset(out, 0, sizeof(*out));
	p.method = method < 0 ? HTTP_GET : (enum http_method)method;
	if (method >= 0)
		p.route = router_match(p.method, rq->path, &p.vars, &known);
	if (!is_world(p.route) && authenticate(&p, out) < 0)
		goto done;
	/* /nodes/{other}/...: the member that owns it answers (server/peer.h). */
	if (method >= 0 && peer_forward(app, rq, out))
		goto done;
	rc = method < 0 ? not_implemented(&p) : dispatch(&p);
	resp_render(&p.resp, rc, out);
	log_debug("%s %s %s %s -> %d", rq->peer ? rq->peer : "-",
		  p.have_who ? p.who.userid : "-", rq->method, rq->path, out->status);
done:
	resp_clear(&p.resp);
	cJSON_Delete(p.params);
	cJSON_Delete(p.vars);
}
