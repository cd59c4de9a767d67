/* Logins (pve and pam realms, ticket renewal), API tokens, request
 * identification, the failed-login limiter and the first-start admin. */
#include "server/auth.h"

#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/app.h"
#include "server/auth_int.h"
#include "server/password.h"
#include "server/store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- logins --- */

void auth_authid(const struct identity *who, char *out, size_t n)
{
	if (who->tokenid[0])
		snprintf(out, n, "%s!%s", who->userid, who->tokenid);
	else
		snprintf(out, n, "%s", who->userid);
}

/* USERNAME plus REALM (appended unless USERNAME already names it). */
static int full_userid(const char *username, const char *realm, char *out, size_t n)
{
	size_t ulen = strlen(username), rlen = realm ? strlen(realm) : 0;
	int r;

	if (rlen && !(ulen > rlen && username[ulen - rlen - 1] == '@' &&
		      strcmp(username + ulen - rlen, realm) == 0))
		r = snprintf(out, n, "%s@%s", username, realm);
	else
		r = snprintf(out, n, "%s", username);
	if (r < 0 || (size_t)r >= n)
		return -EINVAL;
	return acl_valid_userid(out);
}

static int pve_realm_login(struct auth *a, const char *userid, const char *password)
{
	cJSON *user = NULL;
	const cJSON *hash;
	int r = store_get1(a->app->store, DB_USERS, userid, &user);

	hash = r == 0 ? cJSON_GetObjectItemCaseSensitive(user, "hash") : NULL;
	r = cJSON_IsString(hash) ? password_verify(password, hash->valuestring) : CR_EAUTH;
	cJSON_Delete(user);
	return r;
}

static int realm_login(struct auth *a, const char *userid, const char *password)
{
	const char *realm = acl_userid_realm(userid);
	char local[128];

	if (!password[0])
		return CR_EAUTH; /* pam_unix's nullok would let an empty one in */
	if (strcmp(realm, "pve") == 0)
		return pve_realm_login(a, userid, password);
	if (strcmp(realm, "pam") == 0) {
		snprintf(local, sizeof(local), "%.*s", (int)(strlen(userid) - 4), userid);
		return auth_pam_login(local, password);
	}
	return CR_EAUTH;
}

int auth_password_check(struct auth *a, const char *userid, const char *password)
{
	if (!userid || !password || acl_valid_userid(userid) < 0)
		return CR_EAUTH;
	return realm_login(a, userid, password) < 0 ? CR_EAUTH : 0;
}

static int user_active(struct auth *a, const char *userid, time_t now)
{
	struct acl_snap *s = auth_snap_get(a);
	int r = s ? acl_user_active(s, userid, now) : CR_EAUTH;

	auth_snap_put(a, s);
	return r;
}

/* Spends what a real password check of the pve realm costs, so that the
 * answer time does not tell which user names exist. */
static int refuse_slowly(const char *password)
{
	static const char dummy[] = "$scrypt$ln=" "15" ",r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
				    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

	_Static_assert(PASSWORD_LOG2N == 15 && PASSWORD_R == 8 && PASSWORD_P == 1,
		       "the dummy hash must cost what new hashes cost");
	password_verify(password ? password : "", dummy);
	return CR_EAUTH;
}

int auth_login(struct auth *a, const char *username, const char *realm, const char *password,
	       struct identity *who)
{
	char userid[sizeof(who->userid)], ticket_user[sizeof(who->userid)];
	time_t now = time(NULL);

	if (!username || !password || full_userid(username, realm, userid, sizeof(userid)) < 0)
		return refuse_slowly(password);
	if (user_active(a, userid, now) < 0)
		return refuse_slowly(password);
	/* A still-valid ticket renews itself; root@pam's may open any user's. */
	if (auth_ticket_verify(a, password, now, ticket_user, sizeof(ticket_user)) == 0 &&
	    (strcmp(ticket_user, userid) == 0 || strcmp(ticket_user, "root@pam") == 0)) {
		if (user_active(a, ticket_user, now) < 0)
			return CR_EAUTH;
	} else if (realm_login(a, userid, password) < 0) {
		return CR_EAUTH;
	}
	memset(who, 0, sizeof(*who));
	util_strlcpy(who->userid, userid, sizeof(who->userid));
	return 0;
}

int auth_token_verify(struct auth *a, const char *value, struct identity *who)
{
	char full[2 * ACL_ID_MAX + 2], user[ACL_ID_MAX], sub[ACL_ID_MAX];
	const char *eq = value ? strrchr(value, '=') : NULL;
	struct acl_snap *s;
	int privsep = 1, r;

	if (!eq || eq[1] == '\0' || (size_t)(eq - value) >= sizeof(full))
		return CR_EAUTH;
	snprintf(full, sizeof(full), "%.*s", (int)(eq - value), value);
	if (acl_split_tokenid(full, user, sub) < 0 || strlen(sub) >= sizeof(who->tokenid))
		return CR_EAUTH;
	s = auth_snap_get(a);
	r = s ? acl_token_check(s, user, sub, eq + 1, time(NULL), &privsep) : CR_EAUTH;
	auth_snap_put(a, s);
	if (r < 0)
		return CR_EAUTH;
	memset(who, 0, sizeof(*who));
	util_strlcpy(who->userid, user, sizeof(who->userid));
	util_strlcpy(who->tokenid, sub, sizeof(who->tokenid));
	who->privsep = privsep;
	return 0;
}

/* Decodes %XX escapes (a browser may URI-encode the cookie). */
static void uri_unescape(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (; *in && o + 1 < n; in++) {
		unsigned v;

		if (in[0] == '%' && in[1] && in[2] && sscanf(in + 1, "%2x", &v) == 1) {
			out[o++] = (char)v;
			in += 2;
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static int identify_ticket(struct auth *a, const char *ticket, struct identity *who)
{
	char buf[AUTH_TICKET_MAX];
	time_t now = time(NULL);

	if (strncmp(ticket, "PVE%3A", 6) == 0) {
		uri_unescape(ticket, buf, sizeof(buf));
		ticket = buf;
	}
	memset(who, 0, sizeof(*who));
	if (auth_ticket_verify(a, ticket, now, who->userid, sizeof(who->userid)) < 0)
		return CR_EAUTH;
	return user_active(a, who->userid, now);
}

/* "KEY=value" or "KEY value" at the start of an Authorization header. */
static const char *authz_value(const char *authz, const char *key)
{
	size_t len = strlen(key);

	while (*authz == ' ')
		authz++;
	if (strncmp(authz, key, len) != 0 || (authz[len] != '=' && authz[len] != ' '))
		return NULL;
	return authz + len + 1;
}

int auth_identify(struct auth *a, const char *cookie_ticket, const char *authz,
		  struct identity *who, int *is_ticket)
{
	const char *v;

	*is_ticket = 0;
	memset(who, 0, sizeof(*who));
	if (cookie_ticket && *cookie_ticket) {
		*is_ticket = 1;
		return identify_ticket(a, cookie_ticket, who);
	}
	if (!authz || !*authz)
		return CR_ENOTICKET;
	if ((v = authz_value(authz, "PVEAuthCookie"))) {
		*is_ticket = 1;
		return identify_ticket(a, v, who);
	}
	if ((v = authz_value(authz, "PVEAPIToken")))
		return auth_token_verify(a, v, who);
	return CR_ENOTICKET;
}

/* --- failed-login limiter --- */

static struct rl_slot *rl_find(struct auth *a, const char *peer, int create, time_t now)
{
	struct rl_slot *victim = &a->rl[0];

	for (size_t i = 0; i < RL_SLOTS; i++) {
		if (strcmp(a->rl[i].peer, peer) == 0)
			return &a->rl[i];
		if (a->rl[i].last < victim->last)
			victim = &a->rl[i];
	}
	if (!create)
		return NULL;
	util_strlcpy(victim->peer, peer, sizeof(victim->peer));
	victim->tokens = RL_BURST;
	victim->last = now;
	return victim;
}

static void rl_refill(struct rl_slot *s, time_t now)
{
	if (now > s->last)
		s->tokens += (double)(now - s->last) / RL_REFILL;
	if (s->tokens > RL_BURST)
		s->tokens = RL_BURST;
	s->last = now;
}

int auth_login_allowed(struct auth *a, const char *peer, time_t now)
{
	struct rl_slot *s;
	int r = 0;

	pthread_mutex_lock(&a->lock);
	s = rl_find(a, peer ? peer : "", 0, now);
	if (s) {
		rl_refill(s, now);
		r = s->tokens >= 1 ? 0 : CR_EAUTH;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

void auth_login_failed(struct auth *a, const char *peer, time_t now)
{
	struct rl_slot *s;

	pthread_mutex_lock(&a->lock);
	s = rl_find(a, peer ? peer : "", 1, now);
	rl_refill(s, now);
	s->tokens = s->tokens >= 1 ? s->tokens - 1 : 0;
	pthread_mutex_unlock(&a->lock);
}

/* --- first start --- */

static int count_one(const char *key, const cJSON *val, void *ctx)
{
	(void)key;
	(void)val;
	*(int *)ctx = 1;
	return 1;
}

static int add_admin(struct store_txn *t, const char *hash)
{
	cJSON *user = cJSON_CreateObject(), *acl = cJSON_CreateObject();
	int r = -ENOMEM;

	if (user && acl && cJSON_AddNumberToObject(user, "enable", 1) &&
	    cJSON_AddNumberToObject(user, "expire", 0) &&
	    cJSON_AddStringToObject(user, "comment", "Corral administrator") &&
	    cJSON_AddStringToObject(user, "hash", hash) &&
	    cJSON_AddNumberToObject(acl, "propagate", 1)) {
		r = store_add(t, DB_USERS, "admin@pve", user);
		if (r == 0)
			r = store_put(t, DB_ACL, "/\tuser\tadmin@pve\tAdministrator", acl);
		if (r == 0)
			r = acl_touch(t);
	}
	cJSON_Delete(user);
	cJSON_Delete(acl);
	return r;
}

/* 18 random bytes as 24 characters of URL-safe base64. */
static int random_password(char *out, size_t n)
{
	unsigned char raw[18];
	int r = auth_random(raw, sizeof(raw));

	if (r == 0)
		r = auth_b64_encode(raw, sizeof(raw), 0, out, n) < 0 ? -ERANGE : 0;
	for (char *p = out; r == 0 && *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return r;
}

int auth_bootstrap_admin(struct auth *a, const char *password, char *generated, size_t n)
{
	char hash[PASSWORD_HASH_MAX], pw[64];
	struct store_txn *t;
	int any = 0, r;

	if (n)
		generated[0] = '\0';
	r = store_begin(a->app->store, 0, &t);
	if (r < 0)
		return r;
	r = store_foreach(t, DB_USERS, "", count_one, &any);
	if (r < 0 || any) {
		store_abort(t);
		return r < 0 ? r : 0;
	}
	r = password ? util_strlcpy(pw, password, sizeof(pw)) : random_password(pw, sizeof(pw));
	if (r == 0)
		r = password_hash(pw, hash, sizeof(hash));
	if (r == 0)
		r = add_admin(t, hash);
	if (r < 0) {
		store_abort(t);
		return r;
	}
	r = store_commit(t);
	if (r == 0 && !password)
		util_strlcpy(generated, pw, n);
	OPENSSL_cleanse(pw, sizeof(pw));
	return r;
}
