/* /access/users and their API tokens (pve-access-control API2/User.pm).
 * Users live in DB_USERS, group membership in the groups' member lists,
 * tokens in DB_TOKENS as "user@realm!name" with the secret's SHA-256. */
#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/auth_int.h"
#include "server/params.h"
#include "server/password.h"
#include "server/store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTHID_MAX (2 * ACL_ID_MAX + 2)
#define P_END { NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 }
#define P_USERID { "userid", PT_STRING, 0, 0, 64, NULL, param_check_pve_userid, 0 }
#define P_TOKENID { "tokenid", PT_STRING, 0, 0, 0, NULL, param_check_token_subid, 0 }

/* The user properties a client may set and read back (besides groups). */
static const char *const user_text_props[] = { "firstname", "lastname", "email", "comment",
					       "keys" };

#define P_USER_PROPS                                                                   \
	{ "enable", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },                    \
	{ "expire", PT_INTEGER, PF_OPTIONAL, 0, INT64_MAX, NULL, NULL, 0 },            \
	{ "firstname", PT_STRING, PF_OPTIONAL, 0, 1024, NULL, param_check_safe_string, 0 }, \
	{ "lastname", PT_STRING, PF_OPTIONAL, 0, 1024, NULL, param_check_safe_string, 0 }, \
	{ "email", PT_STRING, PF_OPTIONAL, 0, 254, NULL, param_check_safe_string, 0 }, \
	{ "comment", PT_STRING, PF_OPTIONAL, 0, 2048, NULL, param_check_safe_string, 0 }, \
	{ "keys", PT_STRING, PF_OPTIONAL, 0, 4096, NULL, param_check_safe_string, 0 },  \
	{ "groups", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_groupid_list, 0 }

const struct param_spec api_access_users_params[] = {
	{ "enabled", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ "full", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	P_END,
};

const struct param_spec api_access_user_create_params[] = {
	P_USERID,
	P_USER_PROPS,
	{ "password", PT_STRING, PF_OPTIONAL | PF_SECRET, 0, 64, NULL, NULL, 0 },
	P_END,
};

const struct param_spec api_access_user_params[] = {
	P_USERID,
	P_END,
};

const struct param_spec api_access_user_update_params[] = {
	P_USERID,
	P_USER_PROPS,
	{ "append", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	P_END,
};

const struct param_spec api_access_token_params[] = {
	P_USERID,
	P_TOKENID,
	P_END,
};

const struct param_spec api_access_token_set_params[] = {
	P_USERID,
	P_TOKENID,
	{ "expire", PT_INTEGER, PF_OPTIONAL, 0, INT64_MAX, NULL, NULL, 0 },
	{ "privsep", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ "comment", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_safe_string, 0 },
	P_END,
};

/* --- helpers --- */

static int add_number(cJSON *o, const char *key, const cJSON *from, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);

	return cJSON_AddNumberToObject(o, key, cJSON_IsNumber(v) ? v->valuedouble : dflt) ? 0
											 : -ENOMEM;
}

static int copy_string(cJSON *o, const char *key, const cJSON *from)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);

	if (!cJSON_IsString(v))
		return 0;
	return cJSON_AddStringToObject(o, key, v->valuestring) ? 0 : -ENOMEM;
}

/* extract_user_data: enable, expire and the text properties. */
static cJSON *user_public(const cJSON *doc)
{
	cJSON *o = cJSON_CreateObject();
	int r = o ? 0 : -ENOMEM;

	if (r == 0)
		r = add_number(o, "enable", doc, 1);
	if (r == 0)
		r = add_number(o, "expire", doc, 0);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(user_text_props); i++)
		r = copy_string(o, user_text_props[i], doc);
	if (r < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

struct groups_of_ctx {
	const char *userid;
	cJSON *names;
};

static int group_of(const char *key, const cJSON *val, void *ctx)
{
	struct groups_of_ctx *gc = ctx;
	const cJSON *m;

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(val, "members")) {
		if (cJSON_IsString(m) && strcmp(m->valuestring, gc->userid) == 0)
			return cJSON_AddItemToArray(gc->names, cJSON_CreateString(key)) ? 0 : -ENOMEM;
	}
	return 0;
}

/* The sorted ids of the groups USERID belongs to. */
static cJSON *user_groups(struct store_txn *t, const char *userid)
{
	struct groups_of_ctx gc = { userid, cJSON_CreateArray() };

	if (gc.names && store_foreach(t, DB_GROUPS, "", group_of, &gc) < 0) {
		cJSON_Delete(gc.names);
		return NULL;
	}
	return gc.names;
}

/* {expire, privsep, comment?} of a stored token. */
static cJSON *token_info(const cJSON *doc)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || add_number(o, "expire", doc, 0) < 0 || add_number(o, "privsep", doc, 1) < 0 ||
	    copy_string(o, "comment", doc) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

struct tokens_ctx {
	size_t skip; /* length of "user@realm!" */
	cJSON *out;
	int as_array; /* [{tokenid,...}] or {name:{...}} */
};

static int token_of(const char *key, const cJSON *val, void *ctx)
{
	struct tokens_ctx *tc = ctx;
	cJSON *info = token_info(val);

	if (!info)
		return -ENOMEM;
	if (tc->as_array) {
		if (!cJSON_AddStringToObject(info, "tokenid", key + tc->skip) ||
		    !cJSON_AddItemToArray(tc->out, info))
			goto fail;
	} else if (!cJSON_AddItemToObject(tc->out, key + tc->skip, info)) {
		goto fail;
	}
	return 0;
fail:
	cJSON_Delete(info);
	return -ENOMEM;
}

static cJSON *user_tokens(struct store_txn *t, const char *userid, int as_array)
{
	char prefix[ACL_ID_MAX + 2];
	struct tokens_ctx tc = { 0, as_array ? cJSON_CreateArray() : cJSON_CreateObject(),
				 as_array };

	snprintf(prefix, sizeof(prefix), "%s!", userid);
	tc.skip = strlen(prefix);
	if (tc.out && store_foreach(t, DB_TOKENS, prefix, token_of, &tc) < 0) {
		cJSON_Delete(tc.out);
		return NULL;
	}
	return tc.out;
}

/* The stored document of USERID (root@pam has an implicit one). */
static int user_doc(struct store_txn *t, const char *userid, cJSON **out)
{
	int r = store_get(t, DB_USERS, userid, out);

	if (r == CR_ENOTFOUND && strcmp(userid, "root@pam") == 0) {
		*out = cJSON_Parse("{\"enable\":1,\"expire\":0}");
		return *out ? 0 : -ENOMEM;
	}
	return r;
}

static int user_missing(struct resp *resp, int r, const char *userid)
{
	if (r == CR_ENOTFOUND)
		return resp_error(resp, r, "no such user ('%s')", userid);
	return access_store_error(resp, r, "reading the user");
}

/* --- GET /access/users --- */

struct list_ctx {
	struct req *req;
	struct store_txn *t;
	struct acl_snap *snap;
	char authid[AUTHID_MAX];
	int can_all, full, enabled; /* enabled: -1 = no filter */
	cJSON *list;
};

/* Users in a group where the caller has User.Modify or Sys.Audit. */
static int user_visible(struct list_ctx *lc, const char *userid)
{
	char path[ACL_PATH_MAX];

	if (lc->can_all || strcmp(userid, lc->authid) == 0)
		return 1;
	for (size_t i = 0; i < acl_group_count(lc->snap); i++) {
		const char *g = acl_group_name(lc->snap, i);

		snprintf(path, sizeof(path), "/access/groups/%s", g);
		if (acl_group_member(lc->snap, g, userid) &&
		    api_can(lc->req, path, "User.Modify|Sys.Audit"))
			return 1;
	}
	return 0;
}

static int add_full(struct list_ctx *lc, const char *userid, cJSON *row)
{
	cJSON *groups = user_groups(lc->t, userid), *tokens = user_tokens(lc->t, userid, 1);
	char *joined = NULL;
	size_t len = 0;
	const cJSON *g;
	int r = groups && tokens ? 0 : -ENOMEM;

	cJSON_ArrayForEach(g, groups)
		len += strlen(g->valuestring) + 1;
	joined = r == 0 ? calloc(1, len + 1) : NULL;
	cJSON_ArrayForEach(g, groups) {
		if (joined)
			strcat(strcat(joined, joined[0] ? "," : ""), g->valuestring);
	}
	if (r == 0 && (!joined || !cJSON_AddStringToObject(row, "groups", joined) ||
		       !cJSON_AddItemToObject(row, "tokens", tokens)))
		r = -ENOMEM;
	if (r == 0)
		tokens = NULL;
	free(joined);
	cJSON_Delete(groups);
	cJSON_Delete(tokens);
	return r;
}

static int list_user(struct list_ctx *lc, const char *userid, const cJSON *doc)
{
	cJSON *row;
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(doc, "enable");
	int enable = cJSON_IsNumber(en) ? en->valueint != 0 : 1, r = 0;

	if (!user_visible(lc, userid) || (lc->enabled >= 0 && lc->enabled != enable))
		return 0;
	row = user_public(doc);
	if (!row)
		return -ENOMEM;
	if (lc->full)
		r = add_full(lc, userid, row);
	if (r == 0 && (!cJSON_AddStringToObject(row, "userid", userid) ||
		       !cJSON_AddStringToObject(row, "realm-type", acl_userid_realm(userid)) ||
		       !cJSON_AddItemToArray(lc->list, row)))
		r = -ENOMEM;
	if (r < 0)
		cJSON_Delete(row);
	return r;
}

static int list_stored_user(const char *key, const cJSON *val, void *ctx)
{
	return list_user(ctx, key, val);
}

/* root@pam is implicit until first changed: list it in its sorted place. */
static int list_implicit_root(struct list_ctx *lc)
{
	cJSON *root = NULL, *row, *last;
	int pos = 0, r;

	if (store_get(lc->t, DB_USERS, "root@pam", &root) == 0) {
		cJSON_Delete(root);
		return 0;
	}
	r = user_doc(lc->t, "root@pam", &root);
	if (r == 0)
		r = list_user(lc, "root@pam", root);
	cJSON_Delete(root);
	last = cJSON_GetArrayItem(lc->list, cJSON_GetArraySize(lc->list) - 1);
	if (r < 0 || !last || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(last, "userid")),
				     "root@pam") != 0)
		return r;
	cJSON_ArrayForEach(row, lc->list) {
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(row, "userid")), "root@pam") > 0)
			break;
		pos++;
	}
	if (row) {
		last = cJSON_DetachItemFromArray(lc->list, cJSON_GetArraySize(lc->list) - 1);
		cJSON_InsertItemInArray(lc->list, pos, last);
	}
	return 0;
}

int api_access_users(struct req *req, struct resp *resp)
{
	struct list_ctx lc = { .req = req, .enabled = -1 };
	int r;

	access_authid(req, lc.authid, sizeof(lc.authid));
	lc.can_all = api_can(req, "/access/groups", "User.Modify|Sys.Audit");
	lc.full = req_bool(req, "full", 0);
	if (req_str(req, "enabled"))
		lc.enabled = req_bool(req, "enabled", 1);
	lc.snap = auth_snap_get(req->app->auth);
	r = lc.snap ? store_begin(req->app->store, 1, &lc.t) : CR_ESTORE;
	if (r < 0) {
		auth_snap_put(req->app->auth, lc.snap);
		return access_store_error(resp, r, "reading users");
	}
	lc.list = cJSON_CreateArray();
	r = lc.list ? store_foreach(lc.t, DB_USERS, "", list_stored_user, &lc) : -ENOMEM;
	if (r == 0)
		r = list_implicit_root(&lc);
	store_abort(lc.t);
	auth_snap_put(req->app->auth, lc.snap);
	if (r < 0) {
		cJSON_Delete(lc.list);
		return access_store_error(resp, r, "reading users");
	}
	resp->data = lc.list;
	return 0;
}

/* --- membership --- */

/* Adds USERID to GROUP's members (ADD) or removes it. */
static int group_set_member(struct store_txn *t, const char *group, const char *userid, int add)
{
	cJSON *doc = NULL, *members, *m;
	int i = 0, r = store_get(t, DB_GROUPS, group, &doc);

	if (r < 0)
		return r;
	members = cJSON_GetObjectItemCaseSensitive(doc, "members");
	if (!cJSON_IsArray(members))
		members = cJSON_AddArrayToObject(doc, "members");
	cJSON_ArrayForEach(m, members) {
		if (cJSON_IsString(m) && strcmp(m->valuestring, userid) == 0)
			break;
		i++;
	}
	if (add && !m && !cJSON_AddItemToArray(members, cJSON_CreateString(userid)))
		r = -ENOMEM;
	else if (!add && m)
		cJSON_DeleteItemFromArray(members, i);
	if (r == 0)
		r = store_put(t, DB_GROUPS, group, doc);
	cJSON_Delete(doc);
	return r;
}

static int leave_all_groups(struct store_txn *t, const char *userid)
{
	cJSON *groups = user_groups(t, userid);
	const cJSON *g;
	int r = groups ? 0 : -ENOMEM;

	cJSON_ArrayForEach(g, groups) {
		if (r == 0)
			r = group_set_member(t, g->valuestring, userid, 0);
	}
	cJSON_Delete(groups);
	return r;
}

struct join_ctx {
	struct store_txn *t;
	struct resp *resp;
	const char *userid;
};

static int join_one(const char *group, void *ctx)
{
	struct join_ctx *jc = ctx;
	int r = group_set_member(jc->t, group, jc->userid, 1);

	if (r == CR_ENOTFOUND)
		return resp_error(jc->resp, r, "no such group '%s'", group);
	return r < 0 ? access_store_error(jc->resp, r, "updating groups") : 0;
}

static int join_groups(struct store_txn *t, struct resp *resp, const char *userid,
		       const char *groups)
{
	struct join_ctx jc = { t, resp, userid };

	return groups ? acl_split_list(groups, join_one, &jc) : 0;
}

/* DOC[NAME] = the integer (or 0/1 boolean) parameter NAME, when given. */
static int set_number_param(cJSON *doc, const struct req *req, const char *name)
{
	if (!req_str(req, name))
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, name);
	return cJSON_AddNumberToObject(doc, name, (double)req_int(req, name, 0)) ? 0 : -ENOMEM;
}

/* enable, expire and the text properties given in REQ; "" clears text. */
static int apply_user_props(cJSON *doc, const struct req *req)
{
	const char *v;

	if (set_number_param(doc, req, "enable") < 0 || set_number_param(doc, req, "expire") < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(user_text_props); i++) {
		if (!(v = req_str(req, user_text_props[i])))
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(doc, user_text_props[i]);
		if (v[0] && !cJSON_AddStringToObject(doc, user_text_props[i], v))
			return -ENOMEM;
	}
	return 0;
}

/* --- POST /access/users --- */

static int check_new_user(struct req *req, struct resp *resp, const char *userid,
			  const char *pw)
{
	const char *realm = acl_userid_realm(userid);
	int r;

	if (strcmp(realm, "pve") != 0 && strcmp(realm, "pam") != 0)
		return resp_error(resp, CR_ENOTFOUND, "auth domain '%s' does not exist", realm);
	if (pw && (r = access_password_param(resp, "password", pw)) < 0)
		return r;
	if (pw && strcmp(realm, "pve") != 0)
		return resp_error(resp, CR_EUNSUPPORTED, "can't set password on auth type '%s'",
				  realm);
	r = access_realm_user(req, resp, userid);
	return r < 0 ? r : access_userid_group(req, resp, userid, "User.Modify", AG_CREATE);
}

/* CTX: the password hash, or NULL. */
static int create_user(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *userid = req_str(req, "userid"), *hash = ctx;
	cJSON *doc = cJSON_Parse("{\"enable\":1,\"expire\":0}");
	int r = doc ? apply_user_props(doc, req) : -ENOMEM;

	if (r == 0 && hash && !cJSON_AddStringToObject(doc, "hash", hash))
		r = -ENOMEM;
	if (r == 0)
		r = strcmp(userid, "root@pam") == 0 ? CR_EEXISTS : store_add(t, DB_USERS, userid, doc);
	cJSON_Delete(doc);
	if (r == CR_EEXISTS)
		return resp_error(resp, r, "create user failed: user '%s' already exists", userid);
	if (r < 0)
		return access_store_error(resp, r, "create user");
	return join_groups(t, resp, userid, req_str(req, "groups"));
}

int api_access_user_create(struct req *req, struct resp *resp)
{
	const char *userid = req_str(req, "userid"), *pw = req_str(req, "password");
	char hash[PASSWORD_HASH_MAX];
	int r = check_new_user(req, resp, userid, pw);

	/* Hash before the write transaction: scrypt takes a while. */
	if (r == 0 && pw && (r = password_hash(pw, hash, sizeof(hash))) < 0)
		return access_store_error(resp, r, "hashing the password");
	return r < 0 ? r : access_change(req, resp, create_user, pw ? hash : NULL);
}

/* --- GET/PUT/DELETE /access/users/{userid} --- */

static cJSON *user_view(struct store_txn *t, const char *userid, const cJSON *doc)
{
	cJSON *o = user_public(doc), *groups = user_groups(t, userid),
	      *tokens = user_tokens(t, userid, 0);

	if (o && groups && tokens && cJSON_AddItemToObject(o, "groups", groups)) {
		groups = NULL;
		if (cJSON_AddItemToObject(o, "tokens", tokens))
			return o;
	}
	cJSON_Delete(o);
	cJSON_Delete(groups);
	cJSON_Delete(tokens);
	return NULL;
}

int api_access_user_get(struct req *req, struct resp *resp)
{
	const char *userid = req_str(req, "userid");
	struct store_txn *t;
	cJSON *doc = NULL;
	int r = access_userid_group(req, resp, userid, "User.Modify|Sys.Audit", AG_NONE);

	if (r < 0)
		return r;
	r = store_begin(req->app->store, 1, &t);
	if (r < 0)
		return access_store_error(resp, r, "reading the user");
	r = user_doc(t, userid, &doc);
	if (r == 0)
		resp->data = user_view(t, userid, doc);
	store_abort(t);
	cJSON_Delete(doc);
	if (r < 0)
		return user_missing(resp, r, userid);
	return resp->data ? 0 : -ENOMEM;
}

static int update_user(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *userid = req_str(req, "userid");
	cJSON *doc = NULL;
	const char *groups = req_str(req, "groups");
	int r = user_doc(t, userid, &doc);

	(void)ctx;
	if (r < 0)
		return user_missing(resp, r, userid);
	r = apply_user_props(doc, req);
	if (r == 0)
		r = store_put(t, DB_USERS, userid, doc);
	cJSON_Delete(doc);
	if (r == 0 && groups && !req_bool(req, "append", 0))
		r = leave_all_groups(t, userid);
	if (r < 0)
		return access_store_error(resp, r, "update user");
	return join_groups(t, resp, userid, groups);
}

int api_access_user_update(struct req *req, struct resp *resp)
{
	int r = access_userid_group(req, resp, req_str(req, "userid"), "User.Modify", AG_UPDATE);

	return r < 0 ? r : access_change(req, resp, update_user, NULL);
}

struct token_keys {
	char **keys;
	size_t n;
};

static int collect_token(const char *key, const cJSON *val, void *ctx)
{
	struct token_keys *tk = ctx;
	char **keys = realloc(tk->keys, (tk->n + 1) * sizeof(char *));

	(void)val;
	if (!keys)
		return -ENOMEM;
	tk->keys = keys;
	tk->keys[tk->n] = strdup(key);
	return tk->keys[tk->n++] ? 0 : -ENOMEM;
}

/* Removes USERID's tokens and their ACL entries. */
static int drop_tokens(struct store_txn *t, const char *userid)
{
	struct token_keys tk = { NULL, 0 };
	char prefix[ACL_ID_MAX + 2];
	int r;

	snprintf(prefix, sizeof(prefix), "%s!", userid);
	r = store_foreach(t, DB_TOKENS, prefix, collect_token, &tk);
	for (size_t i = 0; i < tk.n; i++) {
		if (r == 0)
			r = store_del(t, DB_TOKENS, tk.keys[i]);
		if (r == 0)
			r = access_acl_purge(t, "token", tk.keys[i], NULL);
		free(tk.keys[i]);
	}
	free(tk.keys);
	return r;
}

static int delete_user(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *userid = req_str(req, "userid");
	int r = store_del(t, DB_USERS, userid);

	(void)ctx;
	if (r < 0)
		return user_missing(resp, r, userid);
	r = leave_all_groups(t, userid);
	if (r == 0)
		r = access_acl_purge(t, "user", userid, NULL);
	if (r == 0)
		r = drop_tokens(t, userid);
	return r < 0 ? access_store_error(resp, r, "delete user") : 0;
}

int api_access_user_delete(struct req *req, struct resp *resp)
{
	const char *userid = req_str(req, "userid");
	int r = access_realm_user(req, resp, userid);

	if (r == 0)
		r = access_userid_group(req, resp, userid, "User.Modify", AG_NONE);
	if (r == 0 && strcmp(userid, "root@pam") == 0)
		r = resp_error(resp, CR_EBADREQ, "user 'root@pam' cannot be deleted");
	return r < 0 ? r : access_change(req, resp, delete_user, NULL);
}

/* --- /access/users/{userid}/token[/{tokenid}] --- */

/* 'userid-param self' or 'userid-group User.Modify'. */
static int token_allowed(struct req *req, struct resp *resp, const char *userid)
{
	if (access_is_self(req, userid))
		return 0;
	return access_userid_group(req, resp, userid, "User.Modify", AG_NONE);
}

int api_access_tokens(struct req *req, struct resp *resp)
{
	const char *userid = req_str(req, "userid");
	struct store_txn *t;
	cJSON *doc = NULL;
	int r = token_allowed(req, resp, userid);

	if (r < 0)
		return r;
	r = store_begin(req->app->store, 1, &t);
	if (r < 0)
		return access_store_error(resp, r, "reading tokens");
	r = user_doc(t, userid, &doc);
	if (r == 0)
		resp->data = user_tokens(t, userid, 1);
	store_abort(t);
	cJSON_Delete(doc);
	if (r < 0)
		return user_missing(resp, r, userid);
	return resp->data ? 0 : -ENOMEM;
}

static void full_tokenid(const struct req *req, char *out, size_t n)
{
	snprintf(out, n, "%s!%s", req_str(req, "userid"), req_str(req, "tokenid"));
}

static int token_missing(const struct req *req, struct resp *resp, int r)
{
	if (r == CR_ENOTFOUND)
		return resp_error(resp, r, "no such token '%s' for user '%s'",
				  req_str(req, "tokenid"), req_str(req, "userid"));
	return access_store_error(resp, r, "reading the token");
}

int api_access_token_get(struct req *req, struct resp *resp)
{
	char full[AUTHID_MAX];
	cJSON *doc = NULL;
	int r = token_allowed(req, resp, req_str(req, "userid"));

	if (r < 0)
		return r;
	full_tokenid(req, full, sizeof(full));
	r = store_get1(req->app->store, DB_TOKENS, full, &doc);
	if (r < 0)
		return token_missing(req, resp, r);
	resp->data = token_info(doc);
	cJSON_Delete(doc);
	return resp->data ? 0 : -ENOMEM;
}

/* Applies the expire, privsep and comment parameters to a token document. */
static int apply_token_props(cJSON *doc, const struct req *req)
{
	const char *comment = req_str(req, "comment");

	if (set_number_param(doc, req, "privsep") < 0 || set_number_param(doc, req, "expire") < 0)
		return -ENOMEM;
	if (comment && comment[0]) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "comment");
		if (!cJSON_AddStringToObject(doc, "comment", comment))
			return -ENOMEM;
	}
	return 0;
}

/* A random (version 4) UUID: the token secret, as Proxmox makes them. */
static int make_uuid(char out[37])
{
	unsigned char b[16];
	int r = auth_random(b, sizeof(b));

	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return r;
}

struct new_token {
	char secret[37];
	cJSON *info;
};

static int store_new_token(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	struct new_token *nt = ctx;
	char full[AUTHID_MAX], hash[ACL_TOKEN_HASH_MAX];
	cJSON *doc = cJSON_Parse("{\"privsep\":1}"), *user = NULL;
	int r = user_doc(t, req_str(req, "userid"), &user);

	cJSON_Delete(user);
	if (r < 0) {
		cJSON_Delete(doc);
		return user_missing(resp, r, req_str(req, "userid"));
	}
	full_tokenid(req, full, sizeof(full));
	acl_token_hash(nt->secret, hash);
	r = doc && cJSON_AddStringToObject(doc, "hash", hash) ? apply_token_props(doc, req) : -ENOMEM;
	if (r == 0)
		r = store_add(t, DB_TOKENS, full, doc);
	if (r == 0 && !(nt->info = token_info(doc)))
		r = -ENOMEM;
	cJSON_Delete(doc);
	if (r == CR_EEXISTS)
		return resp_param_error(resp, "tokenid", "Token already exists.");
	return r < 0 ? access_store_error(resp, r, "generating token") : 0;
}

/* {full-tokenid, info, value}: the only time the secret is shown. */
static cJSON *token_answer(const struct req *req, cJSON *info, const char *secret)
{
	cJSON *o = cJSON_CreateObject();
	char full[AUTHID_MAX];

	full_tokenid(req, full, sizeof(full));
	if (o && cJSON_AddStringToObject(o, "full-tokenid", full) &&
	    cJSON_AddItemToObject(o, "info", info)) {
		if (cJSON_AddStringToObject(o, "value", secret))
			return o;
		info = NULL;
	}
	cJSON_Delete(o);
	cJSON_Delete(info);
	return NULL;
}

int api_access_token_create(struct req *req, struct resp *resp)
{
	struct new_token nt = { "", NULL };
	int r = token_allowed(req, resp, req_str(req, "userid"));

	if (r == 0 && make_uuid(nt.secret) < 0)
		r = access_store_error(resp, CR_EINTERNAL, "generating token");
	if (r == 0)
		r = access_change(req, resp, store_new_token, &nt);
	if (r < 0) {
		cJSON_Delete(nt.info);
		return r;
	}
	resp->data = token_answer(req, nt.info, nt.secret);
	OPENSSL_cleanse(nt.secret, sizeof(nt.secret));
	return resp->data ? 0 : -ENOMEM;
}

static int update_token(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	char full[AUTHID_MAX];
	cJSON *doc = NULL;
	int r;

	(void)ctx;
	full_tokenid(req, full, sizeof(full));
	r = store_get(t, DB_TOKENS, full, &doc);
	if (r < 0)
		return token_missing(req, resp, r);
	r = apply_token_props(doc, req);
	if (r == 0)
		r = store_put(t, DB_TOKENS, full, doc);
	if (r == 0 && !(resp->data = token_info(doc)))
		r = -ENOMEM;
	cJSON_Delete(doc);
	return r < 0 ? access_store_error(resp, r, "updating token info") : 0;
}

int api_access_token_update(struct req *req, struct resp *resp)
{
	int r = token_allowed(req, resp, req_str(req, "userid"));

	return r < 0 ? r : access_change(req, resp, update_token, NULL);
}

static int delete_token(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	char full[AUTHID_MAX];
	int r;

	(void)ctx;
	full_tokenid(req, full, sizeof(full));
	r = store_del(t, DB_TOKENS, full);
	if (r < 0)
		return token_missing(req, resp, r);
	r = access_acl_purge(t, "token", full, NULL);
	return r < 0 ? access_store_error(resp, r, "deleting token") : 0;
}

int api_access_token_delete(struct req *req, struct resp *resp)
{
	int r = token_allowed(req, resp, req_str(req, "userid"));

	return r < 0 ? r : access_change(req, resp, delete_token, NULL);
}
