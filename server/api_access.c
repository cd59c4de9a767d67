/* /access: login tickets, realms, ACLs, effective permissions, password
 * changes, and the permission helpers the other /access handlers share
 * (pve-access-control API2/AccessControl.pm, ACL.pm, RPCEnvironment.pm). */
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/auth_int.h"
#include "server/password.h"
#include "server/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTHID_MAX (2 * ACL_ID_MAX + 2)

/* --- shared helpers --- */

void access_authid(const struct req *req, char *out, size_t n)
{
	if (req->who)
		auth_authid(req->who, out, n);
	else
		util_strlcpy(out, "", n);
}

int access_require(const struct req *req, struct resp *resp, const char *path,
		   const char *privs)
{
	if (api_can(req, path, privs))
		return 0;
	return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (%s, %s)", path, privs);
}

int access_is_self(const struct req *req, const char *userid)
{
	return req->who && !req->who->tokenid[0] && strcmp(req->who->userid, userid) == 0;
}

int access_realm_user(const struct req *req, struct resp *resp, const char *userid)
{
	char path[ACL_PATH_MAX];

	snprintf(path, sizeof(path), "/access/realm/%s", acl_userid_realm(userid));
	return access_require(req, resp, path, "Realm.AllocateUser");
}

/* 1 when the caller holds PRIVS on /access/groups/<G>. */
static int can_on_group(const struct req *req, const char *group, const char *privs)
{
	char path[ACL_PATH_MAX];

	snprintf(path, sizeof(path), "/access/groups/%s", group);
	return api_can(req, path, privs);
}

struct group_param_ctx {
	const struct req *req;
	struct resp *resp;
	const char *privs;
	int count;
};

static int check_group_param(const char *group, void *ctx)
{
	struct group_param_ctx *gc = ctx;

	gc->count++;
	if (can_on_group(gc->req, group, gc->privs))
		return 0;
	return resp_error(gc->resp, CR_EPERM_CHECK, "Permission check failed (/access/groups/%s, %s)",
			  group, gc->privs);
}

/* Does one of USERID's groups grant the caller PRIVS? */
static int user_in_allowed_group(const struct req *req, struct acl_snap *s, const char *userid,
				 const char *privs)
{
	for (size_t i = 0; i < acl_group_count(s); i++)
		if (acl_group_member(s, acl_group_name(s, i), userid) &&
		    can_on_group(req, acl_group_name(s, i), privs))
			return 1;
	return 0;
}

/* Every group in the "groups" parameter must grant PRIVS, and one must be named. */
static int check_groups_param(const struct req *req, struct resp *resp, const char *privs)
{
	struct group_param_ctx gc = { req, resp, privs, 0 };
	const char *groups = req_str(req, "groups");
	int r = groups ? acl_split_list(groups, check_group_param, &gc) : 0;

	if (r < 0)
		return r;
	if (gc.count == 0)
		return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (/access/groups, %s)",
				  privs);
	return 0;
}

int access_userid_group(const struct req *req, struct resp *resp, const char *userid,
			const char *privs, enum access_groups mode)
{
	struct acl_snap *s = auth_snap_get(req->app->auth);
	int r = 0;

	if (!s)
		return access_store_error(resp, CR_ESTORE, "reading users");
	if (mode != AG_CREATE && !acl_user_exists(s, userid)) {
		r = resp_error(resp, CR_ENOTFOUND, "no such user ('%s')", userid);
	} else if (!api_can(req, "/access/groups", privs)) {
		r = mode != AG_NONE ? check_groups_param(req, resp, privs) : 0;
		if (r == 0 && mode != AG_CREATE && !user_in_allowed_group(req, s, userid, privs))
			r = resp_error(resp, CR_EPERM_CHECK, "Permission check failed");
	}
	auth_snap_put(req->app->auth, s);
	return r;
}

int access_store_error(struct resp *resp, int r, const char *what)
{
	return resp_error(resp, r, "%s failed: %s", what, err_str(r));
}

int access_set_comment(cJSON *doc, const char *comment)
{
	if (!comment)
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "comment");
	return !comment[0] || cJSON_AddStringToObject(doc, "comment", comment) ? 0 : -ENOMEM;
}

int access_change(struct req *req, struct resp *resp, access_change_fn fn, void *ctx)
{
	struct store_txn *t;
	int r = store_begin(req->app->store, 0, &t);

	if (r < 0)
		return access_store_error(resp, r, "opening the configuration");
	r = fn(req, resp, t, ctx);
	if (r == 0 && (r = acl_touch(t)) < 0)
		access_store_error(resp, r, "updating the configuration");
	if (r < 0) {
		store_abort(t);
		return r;
	}
	r = store_commit(t);
	return r < 0 ? access_store_error(resp, r, "committing the configuration") : 0;
}

struct purge_ctx {
	const char *type, *ugid, *role;
	struct buf_list {
		char **keys;
		size_t n, cap;
	} found;
};

static int purge_match(const char *key, const cJSON *val, void *ctx)
{
	struct purge_ctx *pc = ctx;
	char path[ACL_PATH_MAX], type[16], ugid[ACL_ID_MAX], role[ACL_ID_MAX];
	char **keys;

	(void)val;
	if (sscanf(key, "%255[^\t]\t%15[^\t]\t%127[^\t]\t%127[^\t]", path, type, ugid, role) != 4)
		return 0;
	if (pc->type ? strcmp(type, pc->type) || strcmp(ugid, pc->ugid) : strcmp(role, pc->role))
		return 0;
	if (pc->found.n == pc->found.cap) {
		pc->found.cap = pc->found.cap ? 2 * pc->found.cap : 8;
		keys = realloc(pc->found.keys, pc->found.cap * sizeof(char *));
		if (!keys)
			return -ENOMEM;
		pc->found.keys = keys;
	}
	pc->found.keys[pc->found.n] = strdup(key);
	return pc->found.keys[pc->found.n++] ? 0 : -ENOMEM;
}

int access_acl_purge(struct store_txn *t, const char *type, const char *ugid, const char *role)
{
	struct purge_ctx pc = { type, ugid, role, { NULL, 0, 0 } };
	int r = store_foreach(t, DB_ACL, "", purge_match, &pc);

	/* Deleting while the cursor walks would skip entries: collect first. */
	for (size_t i = 0; i < pc.found.n; i++) {
		if (r == 0)
			r = store_del(t, DB_ACL, pc.found.keys[i]);
		free(pc.found.keys[i]);
	}
	free(pc.found.keys);
	return r;
}

int access_password_param(struct resp *resp, const char *name, const char *pw)
{
	if (strlen(pw) >= 8)
		return 0;
	return resp_param_error(resp, name, "value must have at least 8 characters");
}

/* --- schemas --- */

const struct param_spec api_access_no_params[] = {
	{ NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 },
};

const struct param_spec api_access_ticket_params[] = {
	{ "username", PT_STRING, 0, 0, 64, NULL, NULL, 0 },
	{ "password", PT_STRING, PF_SECRET, 0, 0, NULL, NULL, 0 },
	{ "realm", PT_STRING, PF_OPTIONAL, 0, 32, NULL, param_check_pve_realm, 0 },
	{ "otp", PT_STRING, PF_OPTIONAL | PF_SECRET, 0, 0, NULL, NULL, 0 },
	{ "tfa-challenge", PT_STRING, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ "path", PT_STRING, PF_OPTIONAL, 0, 64, NULL, NULL, 0 },
	{ "privs", PT_STRING, PF_OPTIONAL, 0, 64, NULL, param_check_pve_priv_list, 0 },
	{ "new-format", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 },
};

const struct param_spec api_access_acl_put_params[] = {
	{ "path", PT_STRING, 0, 0, 0, NULL, NULL, 0 },
	{ "roles", PT_STRING, 0, 0, 0, NULL, param_check_pve_roleid_list, 0 },
	{ "users", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_userid_list, 0 },
	{ "groups", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_groupid_list, 0 },
	{ "tokens", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_tokenid_list, 0 },
	{ "propagate", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ "delete", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 },
};

const struct param_spec api_access_permissions_params[] = {
	{ "userid", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_userid_or_token, 0 },
	{ "path", PT_STRING, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 },
};

const struct param_spec api_access_password_params[] = {
	{ "userid", PT_STRING, 0, 0, 64, NULL, param_check_pve_userid, 0 },
	{ "password", PT_STRING, PF_SECRET, 0, 64, NULL, NULL, 0 },
	{ "confirmation-password", PT_STRING, PF_OPTIONAL | PF_SECRET, 0, 64, NULL, NULL, 0 },
	{ NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 },
};

/* --- GET /access, GET/POST /access/ticket, GET /access/domains --- */

int api_access_index(struct req *req, struct resp *resp)
{
	static const char *const subdirs[] = { "users", "groups", "roles", "acl",
					       "domains", "ticket", "password", "permissions" };
	cJSON *list = cJSON_CreateArray();

	(void)req;
	for (size_t i = 0; list && i < ARRAY_SIZE(subdirs); i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddStringToObject(o, "subdir", subdirs[i]) ||
		    !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			cJSON_Delete(list);
			return -ENOMEM;
		}
	}
	resp->data = list;
	return list ? 0 : -ENOMEM;
}

/* Proxmox's dummy for login-page formatters. */
int api_access_ticket_get(struct req *req, struct resp *resp)
{
	(void)req;
	(void)resp;
	return 0;
}

int api_access_domains(struct req *req, struct resp *resp)
{
	(void)req;
	resp->data = cJSON_Parse("[{\"realm\":\"pam\",\"type\":\"pam\","
				 "\"comment\":\"Linux PAM standard authentication\"},"
				 "{\"realm\":\"pve\",\"type\":\"pve\","
				 "\"comment\":\"Corral authentication server\"}]");
	return resp->data ? 0 : -ENOMEM;
}

/* Verify-only mode: credentials plus PRIVS on PATH; answers {username}. */
static int ticket_verify_only(struct req *req, struct resp *resp, const struct identity *who)
{
	char norm[ACL_PATH_MAX], bad[64];
	acl_privs want, have;
	struct acl_snap *s;

	if (acl_normalize_path(req_str(req, "path"), norm, sizeof(norm)) < 0 ||
	    acl_parse_privs(req_str(req, "privs"), &want, bad, sizeof(bad)) < 0 || !want)
		return CR_EAUTH;
	s = auth_snap_get(req->app->auth);
	have = s ? acl_permissions(s, who->userid, norm, NULL) : 0;
	auth_snap_put(req->app->auth, s);
	if ((have & want) != want)
		return CR_EAUTH;
	resp->data = cJSON_CreateObject();
	return resp->data && cJSON_AddStringToObject(resp->data, "username", who->userid) ? 0
											     : -ENOMEM;
}

static int ticket_answer(struct req *req, struct resp *resp, const struct identity *who)
{
	char ticket[AUTH_TICKET_MAX], csrf[AUTH_CSRF_MAX];
	time_t now = time(NULL);
	cJSON *data = cJSON_CreateObject(), *caps = auth_caps(req->app->auth, who);
	int r = auth_ticket_make(req->app->auth, who->userid, now, ticket, sizeof(ticket));

	if (r == 0)
		r = auth_csrf_make(req->app->auth, who->userid, now, csrf, sizeof(csrf));
	if (r == 0 && (!data || !caps || !cJSON_AddStringToObject(data, "username", who->userid) ||
		       !cJSON_AddStringToObject(data, "ticket", ticket) ||
		       !cJSON_AddStringToObject(data, "CSRFPreventionToken", csrf) ||
		       !cJSON_AddItemToObject(data, "cap", caps)))
		r = -ENOMEM;
	else if (r == 0)
		caps = NULL;
	cJSON_Delete(caps);
	if (r < 0) {
		cJSON_Delete(data);
		return resp_error(resp, r, "cannot create a ticket: %s", err_str(r));
	}
	resp->data = data;
	return 0;
}

/* POST /access/ticket.  Any failure is a bare "authentication failure"
 * (401, data null): nothing tells a prober which part was wrong. */
int api_access_ticket(struct req *req, struct resp *resp)
{
	const char *user = req_str(req, "username"), *peer = req->peer ? req->peer : "";
	struct identity who;
	time_t now = time(NULL);
	int r = auth_login_allowed(req->app->auth, peer, now);

	/* No second factor exists here, so a TFA response can never be right. */
	if (r == 0 && req_str(req, "tfa-challenge"))
		r = CR_EAUTH;
	if (r == 0)
		r = auth_login(req->app->auth, user, req_str(req, "realm"), req_str(req, "password"),
			       &who);
	if (r == 0 && req_str(req, "path") && req_str(req, "privs"))
		r = ticket_verify_only(req, resp, &who);
	else if (r == 0)
		return ticket_answer(req, resp, &who);
	if (r == CR_EAUTH) {
		auth_login_failed(req->app->auth, peer, now);
		log_warn("authentication failure; rhost=%s user=%s", peer, user ? user : "");
		cJSON_Delete(resp->data);
		resp->data = NULL;
		return resp_error(resp, CR_EAUTH, "authentication failure");
	}
	return r < 0 ? resp_error(resp, r, "%s", err_str(r)) : 0;
}

/* --- GET/PUT /access/acl --- */

/* check_perm_modify: Permissions.Modify, or the allocate privilege of the
 * object kind the path names. */
static const char *perm_modify_privs(const char *path)
{
	if (strncmp(path, "/storage/", 9) == 0)
		return "Permissions.Modify|Datastore.Allocate";
	if (strncmp(path, "/vms/", 5) == 0)
		return "Permissions.Modify|VM.Allocate";
	if (strncmp(path, "/pool/", 6) == 0)
		return "Permissions.Modify|Pool.Allocate";
	return "Permissions.Modify";
}

struct acl_list_ctx {
	const struct req *req;
	int audit, path_ok;
	char path[ACL_PATH_MAX];
	cJSON *list;
};

static int acl_row(const char *key, const cJSON *val, void *ctx)
{
	struct acl_list_ctx *lc = ctx;
	char path[ACL_PATH_MAX], type[16], ugid[ACL_ID_MAX], role[ACL_ID_MAX];
	const cJSON *prop = cJSON_GetObjectItemCaseSensitive(val, "propagate");
	cJSON *row;

	if (sscanf(key, "%255[^\t]\t%15[^\t]\t%127[^\t]\t%127[^\t]", path, type, ugid, role) != 4)
		return 0;
	if (strcmp(path, lc->path) != 0) {
		util_strlcpy(lc->path, path, sizeof(lc->path));
		lc->path_ok = lc->audit || api_can(lc->req, path, perm_modify_privs(path));
	}
	if (!lc->path_ok)
		return 0;
	row = cJSON_CreateObject();
	if (!row || !cJSON_AddStringToObject(row, "path", path) ||
	    !cJSON_AddStringToObject(row, "type", type) ||
	    !cJSON_AddStringToObject(row, "ugid", ugid) ||
	    !cJSON_AddStringToObject(row, "roleid", role) ||
	    !cJSON_AddNumberToObject(row, "propagate", cJSON_IsNumber(prop) ? !!prop->valueint : 1) ||
	    !cJSON_AddItemToArray(lc->list, row)) {
		cJSON_Delete(row);
		return -ENOMEM;
	}
	return 0;
}

int api_access_acl_get(struct req *req, struct resp *resp)
{
	struct acl_list_ctx lc = { req, api_can(req, "/access", "Sys.Audit"), 0, "", NULL };
	struct store_txn *t;
	int r = store_begin(req->app->store, 1, &t);

	if (r < 0)
		return access_store_error(resp, r, "reading the ACL");
	lc.list = cJSON_CreateArray();
	r = lc.list ? store_foreach(t, DB_ACL, "", acl_row, &lc) : -ENOMEM;
	store_abort(t);
	if (r < 0) {
		cJSON_Delete(lc.list);
		return access_store_error(resp, r, "reading the ACL");
	}
	resp->data = lc.list;
	return 0;
}

static int push_item(const char *item, void *ctx)
{
	return cJSON_AddItemToArray(ctx, cJSON_CreateString(item)) ? 0 : -ENOMEM;
}

/* A Proxmox list parameter as a JSON array of strings (empty when absent). */
static cJSON *param_list(const struct req *req, const char *name)
{
	cJSON *a = cJSON_CreateArray();
	const char *v = req_str(req, name);

	if (a && v && acl_split_list(v, push_item, a) < 0) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

struct acl_change {
	const char *path;
	int propagate, del;
	cJSON *roles, *lists[3]; /* users, groups, tokens */
};

static const char *const ug_params[3] = { "users", "groups", "tokens" };
static const char *const ug_types[3] = { "user", "group", "token" };

/* "role 'x' does not exist" and friends, checked inside the transaction. */
static int ugid_exists(struct store_txn *t, struct resp *resp, int kind, const char *id)
{
	static const enum store_db dbs[3] = { DB_USERS, DB_GROUPS, DB_TOKENS };
	const char *data;
	size_t len;

	if ((kind == 0 && strcmp(id, "root@pam") == 0) ||
	    store_get_raw(t, dbs[kind], id, &data, &len) == 0)
		return 0;
	if (kind == 2)
		return resp_error(resp, CR_ENOTFOUND, "no such token '%s'", id);
	return resp_error(resp, CR_ENOTFOUND, "%s '%s' does not exist", ug_types[kind], id);
}

static int role_exists(struct store_txn *t, struct resp *resp, const char *role)
{
	acl_privs m;
	const char *data;
	size_t len;

	if (acl_builtin_role(role, &m) == 0 || store_get_raw(t, DB_ROLES, role, &data, &len) == 0)
		return 0;
	return resp_error(resp, CR_ENOTFOUND, "role '%s' does not exist", role);
}

static int acl_apply_one(struct store_txn *t, const struct acl_change *c, int kind,
			 const char *id, const char *role)
{
	char key[ACL_PATH_MAX + 3 * ACL_ID_MAX + 8];
	cJSON *val;
	int r;

	snprintf(key, sizeof(key), "%s\t%s\t%s\t%s", c->path, ug_types[kind], id, role);
	if (c->del) {
		r = store_del(t, DB_ACL, key);
		return r == CR_ENOTFOUND ? 0 : r;
	}
	val = cJSON_CreateObject();
	r = val && cJSON_AddNumberToObject(val, "propagate", c->propagate)
		    ? store_put(t, DB_ACL, key, val)
		    : -ENOMEM;
	cJSON_Delete(val);
	return r;
}

static int acl_apply(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const struct acl_change *c = ctx;
	const cJSON *role, *id;
	int r = 0;

	cJSON_ArrayForEach(role, c->roles) {
		r = role_exists(t, resp, role->valuestring);
		for (int kind = 0; r == 0 && kind < 3; kind++) {
			cJSON_ArrayForEach(id, c->lists[kind]) {
				r = ugid_exists(t, resp, kind, id->valuestring);
				if (r == 0)
					r = acl_apply_one(t, c, kind, id->valuestring,
							  role->valuestring);
				if (r < 0)
					break;
			}
		}
		if (r < 0)
			break;
	}
	(void)req;
	if (r < 0 && !resp->message)
		access_store_error(resp, r, "ACL update");
	return r;
}

/* Without Permissions.Modify the caller may hand out only privileges they
 * hold on the path themselves. */
static int check_grantable(const struct req *req, struct resp *resp, const struct acl_change *c)
{
	char authid[AUTHID_MAX];
	struct acl_snap *s = auth_snap_get(req->app->auth);
	acl_privs mine, want;
	const cJSON *role;
	int r = 0;

	if (!s)
		return access_store_error(resp, CR_ESTORE, "reading roles");
	access_authid(req, authid, sizeof(authid));
	mine = acl_permissions(s, authid, c->path, NULL);
	cJSON_ArrayForEach(role, c->roles) {
		if ((mine & ((acl_privs)1 << acl_priv_find("Permissions.Modify"))) ||
		    acl_role_privs(s, role->valuestring, &want) < 0 || !(want & ~mine))
			continue;
		r = resp_param_error(resp, "roles", "cannot assign role '%s' - missing privileges on '%s'",
				     role->valuestring, c->path);
		break;
	}
	auth_snap_put(req->app->auth, s);
	return r;
}

static int acl_change_prepare(struct req *req, struct resp *resp, struct acl_change *c,
			      char *norm, size_t n)
{
	const char *path = req_str(req, "path");

	if (!req_str(req, "users") && !req_str(req, "groups") && !req_str(req, "tokens")) {
		for (int i = 0; i < 3; i++)
			resp_param_error(resp, ug_params[i],
					 "either 'users', 'groups' or 'tokens' is required.");
		return CR_EINVAL_PARAM;
	}
	c->del = req_bool(req, "delete", 0);
	if (acl_normalize_path(path, norm, n) < 0 || (!c->del && !acl_path_allowed(norm)))
		return resp_param_error(resp, "path", "invalid ACL path '%s'", path);
	c->path = norm;
	c->propagate = req_bool(req, "propagate", 1);
	c->roles = param_list(req, "roles");
	for (int i = 0; i < 3; i++)
		c->lists[i] = param_list(req, ug_params[i]);
	if (!c->roles || !c->lists[0] || !c->lists[1] || !c->lists[2])
		return -ENOMEM;
	return 0;
}

int api_access_acl_put(struct req *req, struct resp *resp)
{
	struct acl_change c = { NULL, 1, 0, NULL, { NULL, NULL, NULL } };
	char norm[ACL_PATH_MAX];
	int r = acl_change_prepare(req, resp, &c, norm, sizeof(norm));

	if (r == 0)
		r = access_require(req, resp, c.path, perm_modify_privs(c.path));
	if (r == 0 && !c.del)
		r = check_grantable(req, resp, &c);
	if (r == 0)
		r = access_change(req, resp, acl_apply, &c);
	cJSON_Delete(c.roles);
	for (int i = 0; i < 3; i++)
		cJSON_Delete(c.lists[i]);
	return r;
}

/* --- GET /access/permissions --- */

static int add_path_perms(cJSON *res, struct acl_snap *s, const char *authid, const char *path,
			  int keep_empty)
{
	char norm[ACL_PATH_MAX];
	acl_privs have = 0, prop = 0;
	cJSON *o;

	if (cJSON_GetObjectItemCaseSensitive(res, path))
		return 0;
	if (acl_normalize_path(path, norm, sizeof(norm)) == 0)
		have = acl_permissions(s, authid, norm, &prop);
	if (!have && !keep_empty)
		return 0;
	o = acl_privs_json(have, &prop);
	if (!o || !cJSON_AddItemToObject(res, path, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	return 0;
}

struct perms_walk {
	cJSON *res;
	struct acl_snap *s;
	const char *authid;
};

static int add_walked_path(const char *path, void *ctx)
{
	struct perms_walk *w = ctx;

	return add_path_perms(w->res, w->s, w->authid, path, 0);
}

/* get_effective_permissions: the top-level paths, every ACL path and the
 * pools with their members. */
static int effective_perms(cJSON *res, struct acl_snap *s, const char *authid)
{
	static const char *const top[] = { "/",	"/access", "/access/groups", "/nodes",
					   "/pool", "/sdn",    "/storage",	     "/vms" };
	struct perms_walk w = { res, s, authid };
	int r = 0;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(top); i++)
		r = add_path_perms(res, s, authid, top[i], 0);
	for (size_t i = 0; r == 0 && i < acl_path_count(s); i++)
		r = add_path_perms(res, s, authid, acl_path_at(s, i), 0);
	return r == 0 ? acl_pool_paths(s, add_walked_path, &w) : r;
}

/* Anyone may read their own permissions and their tokens'; others' need
 * Sys.Audit on /access. */
static int may_read_permissions(const struct req *req, struct resp *resp, const char *target,
				const char *authid)
{
	char user[ACL_ID_MAX], sub[ACL_ID_MAX];

	if (strcmp(target, authid) == 0 ||
	    (acl_split_tokenid(target, user, sub) == 0 && strcmp(user, authid) == 0))
		return 0;
	return access_require(req, resp, "/access", "Sys.Audit");
}

int api_access_permissions(struct req *req, struct resp *resp)
{
	char authid[AUTHID_MAX];
	const char *target = req_str(req, "userid"), *path = req_str(req, "path");
	struct acl_snap *s;
	int r;

	access_authid(req, authid, sizeof(authid));
	if (!target)
		target = authid;
	r = may_read_permissions(req, resp, target, authid);
	if (r < 0)
		return r;
	s = auth_snap_get(req->app->auth);
	if (!s)
		return access_store_error(resp, CR_ESTORE, "reading permissions");
	resp->data = cJSON_CreateObject();
	r = !resp->data ? -ENOMEM
	    : path	? add_path_perms(resp->data, s, target, path, 1)
			: effective_perms(resp->data, s, target);
	auth_snap_put(req->app->auth, s);
	return r;
}

/* --- PUT /access/password --- */

static int user_is_active(struct req *req, struct resp *resp, const char *userid)
{
	struct acl_snap *s = auth_snap_get(req->app->auth);
	int r = s ? acl_user_active(s, userid, time(NULL)) : CR_ESTORE;

	auth_snap_put(req->app->auth, s);
	return r < 0 ? resp_error(resp, CR_EPERM_CHECK, "user '%s' is disabled", userid) : 0;
}

static int password_allowed(struct req *req, struct resp *resp, const char *userid)
{
	int r;

	if (access_is_self(req, userid))
		return user_is_active(req, resp, userid);
	r = access_realm_user(req, resp, userid);
	if (r == 0)
		r = access_userid_group(req, resp, userid, "User.Modify", AG_NONE);
	if (r < 0 || strcmp(req->who->userid, "root@pam") == 0)
		return r;
	/* Only root changes root's password; system passwords stay the system's. */
	if (strcmp(userid, "root@pam") == 0 || strcmp(acl_userid_realm(userid), "pam") == 0)
		return resp_error(resp, CR_EPERM_CHECK, "Permission check failed");
	return 0;
}

/* Proxmox's reauth_user_for_user_modification: anyone but root@pam
 * confirms with their own current password, so a stolen ticket cannot
 * take over an account. */
static int reauth(struct req *req, struct resp *resp)
{
	const char *pw = req_str(req, "confirmation-password");
	time_t now = time(NULL);

	if (strcmp(req->who->userid, "root@pam") == 0)
		return 0;
	if (!pw)
		return resp_param_error(resp, "confirmation-password",
					"password is required to modify user");
	if (auth_login_allowed(req->app->auth, req->peer, now) == 0 &&
	    auth_password_check(req->app->auth, req->who->userid, pw) == 0)
		return 0;
	auth_login_failed(req->app->auth, req->peer, now);
	return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (invalid credentials)");
}

/* CTX: the new password's hash. */
static int set_password(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *userid = req_str(req, "userid");
	cJSON *user = NULL;
	int r = store_get(t, DB_USERS, userid, &user);

	if (r < 0)
		return r == CR_ENOTFOUND ? resp_error(resp, r, "no such user ('%s')", userid)
					 : access_store_error(resp, r, "reading the user");
	cJSON_DeleteItemFromObjectCaseSensitive(user, "hash");
	r = cJSON_AddStringToObject(user, "hash", ctx) ? store_put(t, DB_USERS, userid, user)
						      : -ENOMEM;
	cJSON_Delete(user);
	return r < 0 ? access_store_error(resp, r, "setting the password") : 0;
}

/* The pam realm's password is the system's: changed on this node only. */
static int set_system_password(struct resp *resp, const char *userid, const char *pw)
{
	char user[ACL_ID_MAX];
	int r;

	snprintf(user, sizeof(user), "%.*s", (int)(strlen(userid) - strlen("@pam")), userid);
	r = auth_pam_set_password(user, pw);
	if (r == -EINVAL)
		return resp_param_error(resp, "password", "value must be a single line");
	return r < 0 ? resp_error(resp, r, "change password failed: %s", err_str(r)) : 0;
}

int api_access_password(struct req *req, struct resp *resp)
{
	const char *userid = req_str(req, "userid"), *realm = acl_userid_realm(userid);
	char hash[PASSWORD_HASH_MAX];
	int r = access_password_param(resp, "password", req_str(req, "password"));

	if (r == 0)
		r = password_allowed(req, resp, userid);
	if (r == 0)
		r = reauth(req, resp);
	if (r == 0 && strcmp(realm, "pam") == 0)
		return set_system_password(resp, userid, req_str(req, "password"));
	if (r == 0 && strcmp(realm, "pve") != 0)
		r = resp_error(resp, CR_EUNSUPPORTED, "can't set password on auth type '%s'", realm);
	/* Hashed before the write transaction: scrypt takes a while. */
	if (r == 0 && (r = password_hash(req_str(req, "password"), hash, sizeof(hash))) < 0)
		return access_store_error(resp, r, "hashing the password");
	return r < 0 ? r : access_change(req, resp, set_password, hash);
}
