/* Authentication: node key material, tickets, CSRF tokens, logins, API
 * tokens and request identification; privilege checks over the compiled
 * access snapshot (acl.h).  Tickets are signed with RSA-2048/SHA-256 like
 * Proxmox's: verification (every request) costs a fraction of an Ed25519
 * verify, signing happens only at login. */
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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Proxmox's window: a ticket may come from a clock up to 5 min ahead. */
#define AUTH_GRACE 300
#define CSRF_SECRET_LEN 32
#define SIG_MAX 512

/* Failed-login limiter: a token bucket per client address.  BURST failures
 * at once, then one more every REFILL seconds; beyond that a login is
 * refused before any password hashing or PAM work is done. */
#define RL_SLOTS 256
#define RL_BURST 10
#define RL_REFILL 6

struct rl_slot {
	char peer[64];
	double tokens;
	time_t last;
};

/* Verified tickets, so the RSA check (~70 us with OpenSSL 3's EVP setup)
 * runs once per ticket instead of once per request.  Direct-mapped by a
 * hash of the text; the age is still checked on every hit. */
#define TCACHE_SLOTS 32

struct tcache_slot {
	char ticket[AUTH_TICKET_MAX];
	char userid[128];
	uint32_t stamp;
};

struct auth {
	struct app *app;
	EVP_PKEY *priv, *pub;
	unsigned char csrf[CSRF_SECRET_LEN];
	pthread_mutex_t lock; /* snap, rl */
	struct acl_snap *snap;
	unsigned snap_refs;   /* holders of snap besides a->snap itself */
	struct acl_snap *retired; /* replaced while still referenced */
	struct rl_slot rl[RL_SLOTS];
	pthread_mutex_t tcache_lock;
	struct tcache_slot tcache[TCACHE_SLOTS];
};

struct store *auth_store(struct auth *a)
{
	return a->app->store;
}

/* --- key material --- */

static int join_path(char *out, size_t n, const char *dir, const char *name)
{
	int r = snprintf(out, n, "%s/%s", dir, name);

	return r > 0 && (size_t)r < n ? 0 : -ENAMETOOLONG;
}

static int write_pem(const char *path, EVP_PKEY *key, int private_part)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int r = CR_EINTERNAL;

	if (!bio)
		return -ENOMEM;
	if (private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_bio_PUBKEY(bio, key)) {
		len = BIO_get_mem_data(bio, &data);
		r = util_write_file_atomic(path, data, (size_t)len, 0600);
	}
	BIO_free(bio);
	return r;
}

static EVP_PKEY *read_pem(const char *path, int private_part)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;

	if (!f)
		return NULL;
	key = private_part ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
			   : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return key;
}

static int load_keypair(struct auth *a, const char *dir, char *err, size_t errlen)
{
	char priv[APP_PATH_MAX + 32], pub[APP_PATH_MAX + 32];
	struct stat st;
	int r;

	if (join_path(priv, sizeof(priv), dir, "authkey.key") < 0 ||
	    join_path(pub, sizeof(pub), dir, "authkey.pub") < 0)
		return -ENAMETOOLONG;
	if (stat(priv, &st) < 0) {
		a->priv = EVP_RSA_gen(2048);
		r = a->priv ? write_pem(priv, a->priv, 1) : CR_EINTERNAL;
		if (r == 0)
			r = write_pem(pub, a->priv, 0);
		if (r < 0) {
			snprintf(err, errlen, "cannot create %s: %s", priv, err_str(r));
			return r;
		}
	} else if (!(a->priv = read_pem(priv, 1))) {
		snprintf(err, errlen, "cannot read private key %s", priv);
		return CR_EINTERNAL;
	}
	a->pub = read_pem(pub, 0);
	if (!a->pub) {
		snprintf(err, errlen, "cannot read public key %s", pub);
		return CR_EINTERNAL;
	}
	return 0;
}

static int load_csrf_secret(struct auth *a, const char *dir, char *err, size_t errlen)
{
	char path[APP_PATH_MAX + 32], text[64];
	char *data = NULL;
	size_t len;
	int r;

	if (join_path(path, sizeof(path), dir, "csrf.key") < 0)
		return -ENAMETOOLONG;
	r = util_read_file(path, 256, &data, &len);
	if (r == -ENOENT) {
		r = auth_random(a->csrf, sizeof(a->csrf));
		if (r == 0) {
			len = (size_t)auth_b64_encode(a->csrf, sizeof(a->csrf), 1, text, sizeof(text));
			text[len++] = '\n';
			r = util_write_file_atomic(path, text, len, 0600);
		}
	} else if (r == 0) {
		data[strcspn(data, "\r\n")] = '\0';
		if (auth_b64_decode(data, a->csrf, sizeof(a->csrf)) != CSRF_SECRET_LEN)
			r = -EINVAL;
	}
	free(data);
	if (r < 0)
		snprintf(err, errlen, "CSRF secret %s: %s", path, err_str(r));
	return r;
}

int auth_new(struct app *app, const char *keydir, struct auth **out, char *err, size_t errlen)
{
	struct auth *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->app = app;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->tcache_lock, NULL);
	r = util_mkdir_p(keydir, 0700);
	if (r < 0)
		snprintf(err, errlen, "cannot create %s: %s", keydir, err_str(r));
	if (r == 0)
		r = load_keypair(a, keydir, err, errlen);
	if (r == 0)
		r = load_csrf_secret(a, keydir, err, errlen);
	if (r < 0) {
		auth_free(a);
		return r;
	}
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	acl_snap_free(a->snap);
	acl_snap_free(a->retired);
	EVP_PKEY_free(a->priv);
	EVP_PKEY_free(a->pub);
	OPENSSL_cleanse(a->csrf, sizeof(a->csrf));
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->tcache_lock);
	free(a);
}

/* --- snapshot cache --- */

/* The cached snapshot is swapped when the store's generation moves.  A
 * replaced snapshot still in use is parked in RETIRED and freed by its
 * last holder; with at most one parked at a time, a second replacement
 * while the first is still held waits for the next request. */
struct acl_snap *auth_snap_get(struct auth *a)
{
	struct store_txn *t;
	struct acl_snap *fresh = NULL, *s;
	int64_t gen;

	if (store_begin(a->app->store, 1, &t) < 0)
		return NULL;
	gen = acl_read_gen(t);
	pthread_mutex_lock(&a->lock);
	if (!a->snap || acl_snap_gen(a->snap) != gen) {
		pthread_mutex_unlock(&a->lock);
		if (acl_snap_load(t, &fresh) < 0) {
			store_abort(t);
			return NULL;
		}
		pthread_mutex_lock(&a->lock);
		if (a->snap && (a->snap_refs == 0 || !a->retired)) {
			if (a->snap_refs == 0)
				acl_snap_free(a->snap);
			else
				a->retired = a->snap;
			a->snap = NULL;
		}
		if (!a->snap) {
			a->snap = fresh;
			fresh = NULL;
		}
	}
	s = fresh ? fresh : a->snap;
	if (!fresh)
		a->snap_refs++;
	pthread_mutex_unlock(&a->lock);
	store_abort(t);
	return s;
}

void auth_snap_put(struct auth *a, struct acl_snap *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&a->lock);
	if (s != a->snap && s != a->retired) {
		/* A private copy handed out while the cache was busy. */
		pthread_mutex_unlock(&a->lock);
		acl_snap_free(s);
		return;
	}
	a->snap_refs--;
	if (a->snap_refs == 0 && a->retired) {
		acl_snap_free(a->retired);
		a->retired = NULL;
	}
	pthread_mutex_unlock(&a->lock);
}

/* --- tickets --- */

/* The user id goes into the ticket with ':' (the field separator) and '%'
 * (so the escape stays reversible) percent-encoded. */
static int escape_userid(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (; *in; in++) {
		const char *rep = *in == ':' ? "%3A" : *in == '%' ? "%25" : NULL;
		size_t len = rep ? 3 : 1;

		if (o + len >= n)
			return -ERANGE;
		memcpy(out + o, rep ? rep : in, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

static int unescape_userid(const char *in, size_t len, char *out, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			if (len - i < 3)
				return -EINVAL;
			if (strncmp(in + i, "%3A", 3) == 0)
				c = ':';
			else if (strncmp(in + i, "%25", 3) == 0)
				c = '%';
			else
				return -EINVAL;
			i += 2;
		}
		if (o + 1 >= n)
			return -ERANGE;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int rsa_sign(EVP_PKEY *key, const char *msg, unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestSign(ctx, sig, siglen, (const unsigned char *)msg, strlen(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : CR_EINTERNAL;
}

static int rsa_verify(EVP_PKEY *key, const char *msg, size_t msglen, const unsigned char *sig,
		      size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, msglen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : CR_EAUTH;
}

int auth_ticket_make(struct auth *a, const char *userid, time_t now, char *out, size_t n)
{
	char esc[3 * 128], plain[AUTH_TICKET_MAX];
	unsigned char sig[SIG_MAX];
	size_t siglen = sizeof(sig);
	int len, r;

	if (escape_userid(userid, esc, sizeof(esc)) < 0)
		return -ERANGE;
	len = snprintf(plain, sizeof(plain), "PVE:%s:%08X", esc, (unsigned)now);
	if (len < 0 || (size_t)len >= sizeof(plain))
		return -ERANGE;
	r = rsa_sign(a->priv, plain, sig, &siglen);
	if (r < 0)
		return r;
	if ((size_t)len + 2 >= n)
		return -ERANGE;
	memcpy(out, plain, (size_t)len);
	memcpy(out + len, "::", 2);
	r = auth_b64_encode(sig, siglen, 1, out + len + 2, n - (size_t)len - 2);
	return r < 0 ? r : 0;
}

/* Strict %08X: eight upper-case hex digits. */
static int parse_hex8(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			v = v << 4 | (uint32_t)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int age_ok(uint32_t stamp, time_t now)
{
	int64_t age = (int64_t)now - (int64_t)stamp;

	return age > -AUTH_GRACE && age < AUTH_TICKET_LIFETIME;
}

static struct tcache_slot *tcache_slot(struct auth *a, const char *ticket, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)ticket[i]) * 16777619u;
	return &a->tcache[h % TCACHE_SLOTS];
}

/* 1 and the cached user when TICKET was verified before.  The compare is
 * constant-time: timing must not reveal a cached ticket byte by byte. */
static int tcache_get(struct auth *a, const char *ticket, size_t len, char *userid, size_t n,
		      uint32_t *stamp)
{
	struct tcache_slot *slot = tcache_slot(a, ticket, len);
	int hit;

	pthread_mutex_lock(&a->tcache_lock);
	hit = slot->ticket[len] == '\0' && CRYPTO_memcmp(slot->ticket, ticket, len) == 0;
	if (hit) {
		*stamp = slot->stamp;
		hit = util_strlcpy(userid, slot->userid, n) == 0;
	}
	pthread_mutex_unlock(&a->tcache_lock);
	return hit;
}

static void tcache_put(struct auth *a, const char *ticket, size_t len, const char *userid,
		       uint32_t stamp)
{
	struct tcache_slot *slot = tcache_slot(a, ticket, len);

	pthread_mutex_lock(&a->tcache_lock);
	memcpy(slot->ticket, ticket, len + 1);
	util_strlcpy(slot->userid, userid, sizeof(slot->userid));
	slot->stamp = stamp;
	pthread_mutex_unlock(&a->tcache_lock);
}

/* "PVE:<escaped user>:<HEX8>::<base64 signature>" */
static int ticket_check(struct auth *a, const char *ticket, time_t now, char *userid, size_t n)
{
	const char *sep = strstr(ticket, "::");
	unsigned char sig[SIG_MAX];
	size_t plainlen;
	uint32_t stamp;
	int siglen;

	if (!sep || strncmp(ticket, "PVE:", 4) != 0)
		return CR_EAUTH;
	plainlen = (size_t)(sep - ticket);
	if (plainlen < 4 + 1 + 9 || ticket[plainlen - 9] != ':' ||
	    parse_hex8(ticket + plainlen - 8, &stamp) < 0 || strpbrk(sep + 2, ": \t") ||
	    !age_ok(stamp, now))
		return CR_EAUTH;
	siglen = auth_b64_decode(sep + 2, sig, sizeof(sig));
	if (siglen <= 0 || rsa_verify(a->pub, ticket, plainlen, sig, (size_t)siglen) < 0)
		return CR_EAUTH;
	if (unescape_userid(ticket + 4, plainlen - 13, userid, n) < 0 ||
	    acl_valid_userid(userid) < 0)
		return CR_EAUTH;
	tcache_put(a, ticket, strlen(ticket), userid, stamp);
	return 0;
}

int auth_ticket_verify(struct auth *a, const char *ticket, time_t now, char *userid, size_t n)
{
	size_t len = ticket ? strlen(ticket) : AUTH_TICKET_MAX;
	uint32_t stamp;

	if (len >= AUTH_TICKET_MAX)
		return CR_EAUTH;
	if (tcache_get(a, ticket, len, userid, n, &stamp))
		return age_ok(stamp, now) ? 0 : CR_EAUTH;
	return ticket_check(a, ticket, now, userid, n);
}

/* --- CSRF prevention tokens: "HEX8:" + base64(HMAC-SHA256("HEX8:user")) --- */

static int csrf_digest(struct auth *a, const char *stamp8, const char *userid, char out[48])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char msg[256];
	int len = snprintf(msg, sizeof(msg), "%.8s:%s", stamp8, userid);

	if (len < 0 || (size_t)len >= sizeof(msg))
		return -ERANGE;
	if (!HMAC(EVP_sha256(), a->csrf, sizeof(a->csrf), (unsigned char *)msg, (size_t)len, md,
		  &mdlen))
		return CR_EINTERNAL;
	return auth_b64_encode(md, mdlen, 0, out, 48) < 0 ? -ERANGE : 0;
}

int auth_csrf_make(struct auth *a, const char *userid, time_t now, char *out, size_t n)
{
	char stamp[16], digest[48];
	int r;

	snprintf(stamp, sizeof(stamp), "%08X", (unsigned)now);
	r = csrf_digest(a, stamp, userid, digest);
	if (r < 0)
		return r;
	r = snprintf(out, n, "%s:%s", stamp, digest);
	return r > 0 && (size_t)r < n ? 0 : -ERANGE;
}

int auth_csrf_verify(struct auth *a, const char *userid, const char *token, time_t now)
{
	char digest[48];
	uint32_t stamp;

	if (!token || !userid || strlen(token) < 10 || token[8] != ':' ||
	    parse_hex8(token, &stamp) < 0)
		return CR_ECSRF;
	if (csrf_digest(a, token, userid, digest) < 0 || !auth_str_equal(token + 9, digest))
		return CR_ECSRF;
	return age_ok(stamp, now) ? 0 : CR_ECSRF;
}

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

int auth_login(struct auth *a, const char *username, const char *realm, const char *password,
	       struct identity *who)
{
	char userid[sizeof(who->userid)], ticket_user[sizeof(who->userid)];
	time_t now = time(NULL);

	if (!username || !password || full_userid(username, realm, userid, sizeof(userid)) < 0)
		return CR_EAUTH;
	if (user_active(a, userid, now) < 0)
		return CR_EAUTH;
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

/* --- authorization --- */

static int parse_any_privs(const char *privs, acl_privs *mask)
{
	char one[64];

	*mask = 0;
	while (*privs) {
		size_t len = strcspn(privs, "|");
		int i;

		if (len == 0 || len >= sizeof(one))
			return -EINVAL;
		memcpy(one, privs, len);
		one[len] = '\0';
		i = acl_priv_find(one);
		if (i < 0)
			return -EINVAL;
		*mask |= (acl_privs)1 << i;
		privs += len + (privs[len] == '|');
	}
	return *mask ? 0 : -EINVAL;
}

int auth_check(struct auth *a, const struct identity *who, const char *path, const char *privs)
{
	char authid[2 * ACL_ID_MAX + 2], norm[ACL_PATH_MAX];
	struct acl_snap *s;
	acl_privs want, have;

	if (strcmp(privs, PERM_WORLD) == 0)
		return 0;
	if (!who || !who->userid[0])
		return CR_EPERM_CHECK;
	if (strcmp(privs, PERM_USER) == 0)
		return 0;
	if (parse_any_privs(privs, &want) < 0 || acl_normalize_path(path, norm, sizeof(norm)) < 0)
		return CR_EPERM_CHECK;
	auth_authid(who, authid, sizeof(authid));
	s = auth_snap_get(a);
	have = s ? acl_permissions(s, authid, norm, NULL) : 0;
	auth_snap_put(a, s);
	return (have & want) ? 0 : CR_EPERM_CHECK;
}

/* compute_api_permission: the UI's capability map.  Each top-level path
 * keeps the privileges whose names start with one of its prefixes. */
struct cap_area {
	const char *name;
	const char *prefixes; /* '|'-separated */
};

static const struct cap_area cap_areas[] = {
	{ "vms", "VM.|Permissions.Modify" },
	{ "access", "User.|Group.|Permissions.Modify" },
	{ "storage", "Datastore.|Permissions.Modify" },
	{ "nodes", "Sys.|Permissions.Modify" },
	{ "sdn", "SDN.|Permissions.Modify" },
	{ "dc", "Sys.Audit|Sys.Modify|SDN." },
	{ "mapping", "Mapping.|Permissions.Modify" },
};

static const char *const cap_paths[] = { "/", "/nodes", "/access/groups", "/vms",
					 "/storage", "/sdn", "/mapping" };

static acl_privs prefix_mask(const char *prefixes)
{
	acl_privs m = 0;

	for (size_t i = 0; i < acl_priv_count(); i++) {
		const char *name = acl_priv_name(i), *p = prefixes;

		while (*p) {
			size_t len = strcspn(p, "|");

			if (strncmp(name, p, len) == 0)
				m |= (acl_privs)1 << i;
			p += len + (p[len] == '|');
		}
	}
	return m;
}

static void cap_area_of(const char *path, char *top, size_t n)
{
	size_t len = strcspn(path + 1, "/");

	if (len == 0)
		snprintf(top, n, "dc");
	else
		snprintf(top, n, "%.*s", (int)len, path + 1);
}

/* Adds the privileges HAVE on PATH to the areas of CAPS (masks per area). */
static void cap_collect(const char *path, acl_privs have, acl_privs caps[])
{
	char top[64];

	cap_area_of(path, top, sizeof(top));
	if (strcmp(top, "pool") == 0) {
		caps[0] |= have & prefix_mask("VM.|Permissions.Modify");
		caps[2] |= have & prefix_mask("Datastore.|Permissions.Modify");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cap_areas); i++)
		if (strcmp(top, cap_areas[i].name) == 0)
			caps[i] |= have & prefix_mask(cap_areas[i].prefixes);
}

static cJSON *caps_json(const acl_privs caps[])
{
	cJSON *res = cJSON_CreateObject();

	for (size_t i = 0; res && i < ARRAY_SIZE(cap_areas); i++) {
		cJSON *o = acl_privs_json(caps[i], NULL);

		if (!o || !cJSON_AddItemToObject(res, cap_areas[i].name, o)) {
			cJSON_Delete(o);
			cJSON_Delete(res);
			return NULL;
		}
	}
	return res;
}

cJSON *auth_caps(struct auth *a, const struct identity *who)
{
	acl_privs caps[ARRAY_SIZE(cap_areas)] = { 0 };
	char authid[2 * ACL_ID_MAX + 2];
	struct acl_snap *s = auth_snap_get(a);

	auth_authid(who, authid, sizeof(authid));
	for (size_t i = 0; s && i < ARRAY_SIZE(cap_paths); i++)
		cap_collect(cap_paths[i], acl_permissions(s, authid, cap_paths[i], NULL), caps);
	for (size_t i = 0; s && i < acl_path_count(s); i++)
		cap_collect(acl_path_at(s, i), acl_permissions(s, authid, acl_path_at(s, i), NULL),
			    caps);
	auth_snap_put(a, s);
	return caps_json(caps);
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
