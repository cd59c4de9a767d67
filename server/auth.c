/* Authentication core: node key material, the access snapshot cache,
 * tickets and CSRF tokens (logins: auth_login.c; checks: auth_check.c).
 * Tickets are signed with RSA-2048/SHA-256 like Proxmox's: verifying
 * (every request, before the cache) costs less than an Ed25519 verify;
 * signing happens only at login. */
#include "server/auth.h"

#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/app.h"
#include "server/auth_int.h"
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
#define SIG_MAX 512

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

static int create_keypair(struct auth *a, const char *priv)
{
	a->priv = EVP_RSA_gen(2048);
	return a->priv ? write_pem(priv, a->priv, 1) : CR_EINTERNAL;
}

/* authkey.key (made on first start) signs; authkey.pub verifies, so a
 * cluster can hand the pair to every node as files. */
static int load_keypair(struct auth *a, const char *dir, char *err, size_t errlen)
{
	char priv[APP_PATH_MAX + 32], pub[APP_PATH_MAX + 32];
	struct stat st;
	int r = 0;

	if (join_path(priv, sizeof(priv), dir, "authkey.key") < 0 ||
	    join_path(pub, sizeof(pub), dir, "authkey.pub") < 0)
		return -ENAMETOOLONG;
	if (stat(priv, &st) < 0 && errno == ENOENT)
		r = create_keypair(a, priv);
	else if (!(a->priv = read_pem(priv, 1)))
		r = CR_EINTERNAL;
	/* A lost public half is derived again from the private one. */
	if (r == 0 && stat(pub, &st) < 0 && errno == ENOENT)
		r = write_pem(pub, a->priv, 0);
	if (r == 0 && !(a->pub = read_pem(pub, 0)))
		r = CR_EINTERNAL;
	if (r < 0)
		snprintf(err, errlen, "ticket keys in %s: %s", dir, err_str(r));
	return r;
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

/* A cluster join replaced the key files: requests in flight may still use
 * the old keys, so they are kept until the next reload or auth_free. */
int auth_reload_keys(struct auth *a, const char *keydir, char *err, size_t errlen)
{
	struct auth tmp = { 0 };
	int r = load_keypair(&tmp, keydir, err, errlen);

	if (r == 0)
		r = load_csrf_secret(&tmp, keydir, err, errlen);
	if (r < 0) {
		EVP_PKEY_free(tmp.priv);
		EVP_PKEY_free(tmp.pub);
		return r;
	}
	pthread_mutex_lock(&a->lock);
	EVP_PKEY_free(a->old_priv);
	EVP_PKEY_free(a->old_pub);
	a->old_priv = a->priv;
	a->old_pub = a->pub;
	__atomic_store_n(&a->priv, tmp.priv, __ATOMIC_RELEASE);
	__atomic_store_n(&a->pub, tmp.pub, __ATOMIC_RELEASE);
	memcpy(a->csrf, tmp.csrf, sizeof(a->csrf));
	pthread_mutex_unlock(&a->lock);
	OPENSSL_cleanse(tmp.csrf, sizeof(tmp.csrf));
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
	EVP_PKEY_free(a->old_priv);
	EVP_PKEY_free(a->old_pub);
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

int auth_rsa_sign(EVP_PKEY *key, const char *msg, unsigned char *sig, size_t *siglen)
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

int auth_rsa_verify(EVP_PKEY *key, const char *msg, size_t msglen, const unsigned char *sig,
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
	r = auth_rsa_sign(a->priv, plain, sig, &siglen);
	if (r < 0)
		return r;
	if ((size_t)len + 2 >= n)
		return -ERANGE;
	memcpy(out, plain, (size_t)len);
	memcpy(out + len, "::", 2);
	r = auth_b64_encode(sig, siglen, 1, out + len + 2, n - (size_t)len - 2);
	return r < 0 ? r : 0;
}

int auth_parse_hex8(const char *s, uint32_t *out)
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
	    auth_parse_hex8(ticket + plainlen - 8, &stamp) < 0 || strpbrk(sep + 2, ": \t") ||
	    !age_ok(stamp, now))
		return CR_EAUTH;
	siglen = auth_b64_decode(sep + 2, sig, sizeof(sig));
	if (siglen <= 0 || auth_rsa_verify(a->pub, ticket, plainlen, sig, (size_t)siglen) < 0)
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
	    auth_parse_hex8(token, &stamp) < 0)
		return CR_ECSRF;
	if (csrf_digest(a, token, userid, digest) < 0 || !auth_str_equal(token + 9, digest))
		return CR_ECSRF;
	return age_ok(stamp, now) ? 0 : CR_ECSRF;
}
