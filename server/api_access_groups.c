/* /access/groups and /access/roles (pve-access-control API2/Group.pm,
 * Role.pm).  Built-in roles come from acl.c and are read-only; custom
 * roles live in DB_ROLES as {"privs":[...]}. */
#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/auth_int.h"
#include "server/params.h"
#include "server/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define P_END { NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 }
#define P_GROUPID { "groupid", PT_STRING, 0, 0, 0, NULL, param_check_pve_groupid, 0 }
#define P_ROLEID { "roleid", PT_STRING, 0, 0, 0, NULL, param_check_pve_roleid, 0 }
#define P_PRIVS { "privs", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_priv_list, 0 }

const struct param_spec api_access_group_params[] = {
	P_GROUPID,
	P_END,
};

const struct param_spec api_access_group_set_params[] = {
	P_GROUPID,
	{ "comment", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_safe_string, 0 },
	P_END,
};

const struct param_spec api_access_role_params[] = {
	P_ROLEID,
	P_END,
};

const struct param_spec api_access_role_create_params[] = {
	P_ROLEID,
	P_PRIVS,
	P_END,
};

const struct param_spec api_access_role_update_params[] = {
	P_ROLEID,
	P_PRIVS,
	{ "append", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	P_END,
};

/* --- groups --- */

static char *join_members(const cJSON *members)
{
	size_t len = 1;
	const cJSON *m;
	char *out;

	cJSON_ArrayForEach(m, members)
		len += cJSON_IsString(m) ? strlen(m->valuestring) + 1 : 0;
	out = calloc(1, len);
	cJSON_ArrayForEach(m, members) {
		if (out && cJSON_IsString(m))
			strcat(strcat(out, out[0] ? "," : ""), m->valuestring);
	}
	return out;
}

struct group_list {
	const struct req *req;
	cJSON *list;
};

static int group_row(const char *key, const cJSON *val, void *ctx)
{
	const struct req *req = ((struct group_list *)ctx)->req;
	cJSON *list = ((struct group_list *)ctx)->list, *row;
	const cJSON *comment = cJSON_GetObjectItemCaseSensitive(val, "comment");
	char path[ACL_PATH_MAX], *users;

	snprintf(path, sizeof(path), "/access/groups/%s", key);
	if (!api_can(req, path, "User.Modify|Sys.Audit|Group.Allocate"))
		return 0;
	users = join_members(cJSON_GetObjectItemCaseSensitive(val, "members"));
	row = cJSON_CreateObject();
	if (!users || !row || !cJSON_AddStringToObject(row, "groupid", key) ||
	    (cJSON_IsString(comment) && !cJSON_AddStringToObject(row, "comment",
								 comment->valuestring)) ||
	    !cJSON_AddStringToObject(row, "users", users) || !cJSON_AddItemToArray(list, row)) {
		free(users);
		cJSON_Delete(row);
		return -ENOMEM;
	}
	free(users);
	return 0;
}

int api_access_groups(struct req *req, struct resp *resp)
{
	struct store_txn *t;
	cJSON *list = cJSON_CreateArray();
	struct group_list gl = { req, list };
	int r = list ? store_begin(req->app->store, 1, &t) : -ENOMEM;

	if (r == 0) {
		r = store_foreach(t, DB_GROUPS, "", group_row, &gl);
		store_abort(t);
	}
	if (r < 0) {
		cJSON_Delete(list);
		return access_store_error(resp, r, "reading groups");
	}
	resp->data = list;
	return 0;
}

static int group_create(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "groupid");
	cJSON *doc = cJSON_Parse("{\"members\":[]}");
	int r = doc ? access_set_comment(doc, req_str(req, "comment")) : -ENOMEM;

	(void)ctx;
	if (r == 0)
		r = store_add(t, DB_GROUPS, id, doc);
	cJSON_Delete(doc);
	if (r == CR_EEXISTS)
		return resp_error(resp, r, "create group failed: group '%s' already exists", id);
	return r < 0 ? access_store_error(resp, r, "create group") : 0;
}

int api_access_group_create(struct req *req, struct resp *resp)
{
	return access_change(req, resp, group_create, NULL);
}

static int group_missing(struct resp *resp, int r, const char *id)
{
	if (r == CR_ENOTFOUND)
		return resp_error(resp, r, "group '%s' does not exist", id);
	return access_store_error(resp, r, "reading the group");
}

int api_access_group_get(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "groupid");
	cJSON *doc = NULL, *out, *members, *comment;
	int r = store_get1(req->app->store, DB_GROUPS, id, &doc);

	if (r < 0)
		return group_missing(resp, r, id);
	members = cJSON_DetachItemFromObjectCaseSensitive(doc, "members");
	comment = cJSON_DetachItemFromObjectCaseSensitive(doc, "comment");
	cJSON_Delete(doc);
	if (!members)
		members = cJSON_CreateArray();
	out = cJSON_CreateObject();
	if (out && members && cJSON_AddItemToObject(out, "members", members)) {
		members = NULL;
		if (!comment || cJSON_AddItemToObject(out, "comment", comment)) {
			comment = NULL;
			resp->data = out;
			out = NULL;
		}
	}
	cJSON_Delete(out);
	cJSON_Delete(members);
	cJSON_Delete(comment);
	return resp->data ? 0 : -ENOMEM;
}

static int group_update(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "groupid");
	cJSON *doc = NULL;
	int r = store_get(t, DB_GROUPS, id, &doc);

	(void)ctx;
	if (r < 0)
		return group_missing(resp, r, id);
	r = access_set_comment(doc, req_str(req, "comment"));
	if (r == 0)
		r = store_put(t, DB_GROUPS, id, doc);
	cJSON_Delete(doc);
	return r < 0 ? access_store_error(resp, r, "update group") : 0;
}

int api_access_group_update(struct req *req, struct resp *resp)
{
	return access_change(req, resp, group_update, NULL);
}

static int group_delete(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "groupid");
	int r = store_del(t, DB_GROUPS, id);

	(void)ctx;
	if (r < 0)
		return group_missing(resp, r, id);
	r = access_acl_purge(t, "group", id, NULL);
	return r < 0 ? access_store_error(resp, r, "delete group") : 0;
}

int api_access_group_delete(struct req *req, struct resp *resp)
{
	return access_change(req, resp, group_delete, NULL);
}

/* --- roles --- */

static int role_row(cJSON *list, const char *id, acl_privs privs, int special)
{
	cJSON *row = cJSON_CreateObject();
	char *text = acl_privs_text(privs);

	if (!row || !text || !cJSON_AddStringToObject(row, "roleid", id) ||
	    !cJSON_AddStringToObject(row, "privs", text) ||
	    !cJSON_AddNumberToObject(row, "special", special) || !cJSON_AddItemToArray(list, row)) {
		free(text);
		cJSON_Delete(row);
		return -ENOMEM;
	}
	free(text);
	return 0;
}

static int stored_privs(const cJSON *doc, acl_privs *out)
{
	const cJSON *p;

	*out = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "privs")) {
		int i = cJSON_IsString(p) ? acl_priv_find(p->valuestring) : -1;

		if (i >= 0)
			*out |= (acl_privs)1 << i;
	}
	return 0;
}

static int custom_role_row(const char *key, const cJSON *val, void *ctx)
{
	acl_privs privs;

	stored_privs(val, &privs);
	return role_row(ctx, key, privs, 0);
}

int api_access_roles(struct req *req, struct resp *resp)
{
	cJSON *list = cJSON_CreateArray();
	struct store_txn *t;
	acl_privs privs;
	int r = list ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < acl_builtin_count(); i++) {
		acl_builtin_role(acl_builtin_name(i), &privs);
		r = role_row(list, acl_builtin_name(i), privs, 1);
	}
	if (r == 0 && (r = store_begin(req->app->store, 1, &t)) == 0) {
		r = store_foreach(t, DB_ROLES, "", custom_role_row, list);
		store_abort(t);
	}
	if (r < 0) {
		cJSON_Delete(list);
		return access_store_error(resp, r, "reading roles");
	}
	resp->data = list;
	return 0;
}

static cJSON *role_doc(acl_privs privs)
{
	cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, "privs");

	for (size_t i = 0; list && i < acl_priv_count(); i++) {
		if ((privs & ((acl_privs)1 << i)) &&
		    !cJSON_AddItemToArray(list, cJSON_CreateString(acl_priv_name(i)))) {
			cJSON_Delete(doc);
			return NULL;
		}
	}
	if (!list) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

static int put_role(struct resp *resp, struct store_txn *t, const char *id, acl_privs privs,
		    int create)
{
	cJSON *doc = role_doc(privs);
	int r = !doc ? -ENOMEM : create ? store_add(t, DB_ROLES, id, doc)
					: store_put(t, DB_ROLES, id, doc);

	cJSON_Delete(doc);
	if (r == CR_EEXISTS)
		return resp_error(resp, r, "create role failed: role '%s' already exists", id);
	return r < 0 ? access_store_error(resp, r, "store role") : 0;
}

static int role_create(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "roleid");
	acl_privs privs = 0;
	char bad[64];

	(void)ctx;
	if (strncasecmp(id, "PVE", 3) == 0)
		return resp_param_error(resp, "roleid",
					"cannot use role ID starting with the (case-insensitive) "
					"'PVE' namespace");
	if (acl_builtin_role(id, &privs) == 0)
		return resp_error(resp, CR_EEXISTS, "create role failed: role '%s' already exists",
				  id);
	if (req_str(req, "privs"))
		acl_parse_privs(req_str(req, "privs"), &privs, bad, sizeof(bad));
	return put_role(resp, t, id, privs, 1);
}

int api_access_role_create(struct req *req, struct resp *resp)
{
	return access_change(req, resp, role_create, NULL);
}

int api_access_role_get(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "roleid");
	cJSON *doc = NULL;
	acl_privs privs;
	int r = 0;

	if (acl_builtin_role(id, &privs) < 0) {
		r = store_get1(req->app->store, DB_ROLES, id, &doc);
		if (r == 0)
			stored_privs(doc, &privs);
		cJSON_Delete(doc);
	}
	if (r == CR_ENOTFOUND)
		return resp_error(resp, r, "role '%s' does not exist", id);
	if (r < 0)
		return access_store_error(resp, r, "reading the role");
	resp->data = acl_privs_json(privs, NULL);
	return resp->data ? 0 : -ENOMEM;
}

static int builtin_refused(struct resp *resp, const char *id, const char *what)
{
	acl_privs privs;

	if (acl_builtin_role(id, &privs) < 0)
		return 0;
	return resp_error(resp, CR_EBADREQ, "auto-generated role '%s' cannot be %s", id, what);
}

static int role_update(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "roleid");
	acl_privs privs = 0, more = 0;
	cJSON *doc = NULL;
	char bad[64];
	int r = builtin_refused(resp, id, "modified");

	(void)ctx;
	if (r < 0)
		return r;
	r = store_get(t, DB_ROLES, id, &doc);
	if (r < 0)
		return r == CR_ENOTFOUND ? resp_error(resp, r, "role '%s' does not exist", id)
					 : access_store_error(resp, r, "reading the role");
	if (req_bool(req, "append", 0))
		stored_privs(doc, &privs);
	cJSON_Delete(doc);
	if (req_str(req, "privs"))
		acl_parse_privs(req_str(req, "privs"), &more, bad, sizeof(bad));
	return put_role(resp, t, id, privs | more, 0);
}

int api_access_role_update(struct req *req, struct resp *resp)
{
	return access_change(req, resp, role_update, NULL);
}

static int role_delete(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "roleid");
	int r = builtin_refused(resp, id, "deleted");

	(void)ctx;
	if (r < 0)
		return r;
	r = store_del(t, DB_ROLES, id);
	if (r == CR_ENOTFOUND)
		return resp_error(resp, r, "role '%s' does not exist", id);
	/* Entries naming a deleted role must not come back with a new one. */
	if (r == 0)
		r = access_acl_purge(t, NULL, NULL, id);
	return r < 0 ? access_store_error(resp, r, "delete role") : 0;
}

int api_access_role_delete(struct req *req, struct resp *resp)
{
	return access_change(req, resp, role_delete, NULL);
}
