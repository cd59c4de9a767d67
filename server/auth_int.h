/* Private interface shared by the auth module's files (auth*.c, acl*.c,
 * password.c, pam.c, api_access*.c).  Nothing outside server/ includes it. */
#ifndef CORRAL_AUTH_INT_H
#define CORRAL_AUTH_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/auth.h"

struct acl_snap;
struct identity;

#define CSRF_SECRET_LEN 32

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
	EVP_PKEY *old_priv, *old_pub; /* replaced by auth_reload_keys, freed at the end */
	unsigned char csrf[CSRF_SECRET_LEN];
	pthread_mutex_t lock; /* snap, rl */
	struct acl_snap *snap;
	unsigned snap_refs;   /* holders of snap besides a->snap itself */
	struct acl_snap *retired; /* replaced while still referenced */
	struct rl_slot rl[RL_SLOTS];
	pthread_mutex_t tcache_lock;
	struct tcache_slot tcache[TCACHE_SLOTS];
};

/* Standard base64 of LEN bytes into OUT; PAD adds the '=' padding.  Returns
 * the text length, or -ERANGE when OUT is too small. */
int auth_b64_encode(const unsigned char *in, size_t len, int pad, char *out, size_t n);
/* Decodes standard base64 with or without padding; returns the byte count or
 * -EINVAL / -ERANGE. */
int auth_b64_decode(const char *in, unsigned char *out, size_t n);
/* 1 when the two strings are equal, compared in time independent of where
 * they differ (the length still shows). */
int auth_str_equal(const char *a, const char *b);
/* N random bytes from OpenSSL's CSPRNG; 0 or CR_EINTERNAL. */
int auth_random(unsigned char *out, size_t n);
/* RSA-SHA256 over the NUL-terminated MSG with KEY (tickets, VNC tickets):
 * 0 or a code; verify gives CR_EAUTH for a bad signature. */
int auth_rsa_sign(EVP_PKEY *key, const char *msg, unsigned char *sig, size_t *siglen);
int auth_rsa_verify(EVP_PKEY *key, const char *msg, size_t msglen, const unsigned char *sig,
		    size_t siglen);
/* Strict %08X (eight upper-case hex digits, as tickets stamp time): 0 or -EINVAL. */
int auth_parse_hex8(const char *s, uint32_t *out);

/* A reference to the current compiled access configuration (reloaded when
 * the store's access generation changes).  NULL when the store fails.
 * Release with auth_snap_put(). */
struct acl_snap *auth_snap_get(struct auth *a);
void auth_snap_put(struct auth *a, struct acl_snap *s);

/* "user@realm" or "user@realm!token" for WHO. */
void auth_authid(const struct identity *who, char *out, size_t n);

/* PAM realm: 0 when USER/PASSWORD pass libpam's auth and account stacks of
 * service "corral" (when /etc/pam.d/corral exists) or else "login";
 * CR_EAUTH otherwise.  Calls are serialized: pam modules are not all
 * thread-safe. */
int auth_pam_login(const char *user, const char *password);
/* Sets USER's system password with chpasswd(8): 0, -EINVAL (a ':' or a
 * newline where chpasswd cannot take one), or a failure code. */
int auth_pam_set_password(const char *user, const char *password);
/* The service name auth_pam_login uses on this machine. */
const char *auth_pam_service(void);

/* --- shared by the /access handlers (api_access*.c) --- */

struct req;
struct resp;
struct store_txn;

/* The caller's id: "user@realm" or "user@realm!token". */
void access_authid(const struct req *req, char *out, size_t n);
/* 0, or a 403 "Permission check failed (PATH, PRIVS)" in RESP. */
int access_require(const struct req *req, struct resp *resp, const char *path,
		   const char *privs);
/* 1 when the caller is USERID itself (a ticket of that user). */
int access_is_self(const struct req *req, const char *userid);

/* Proxmox's 'userid-group' check: PRIVS on /access/groups, or on a group
 * USERID belongs to; with GROUPS_PARAM (create/update) also on every group
 * named in the "groups" parameter.  CHECK_USER: USERID must exist. */
enum access_groups { AG_NONE, AG_CREATE, AG_UPDATE };
int access_userid_group(const struct req *req, struct resp *resp, const char *userid,
			const char *privs, enum access_groups mode);
/* Realm.AllocateUser on /access/realm/<realm of USERID>. */
int access_realm_user(const struct req *req, struct resp *resp, const char *userid);

/* Runs FN in one write transaction; commits (bumping the access generation)
 * when it returns 0, aborts otherwise.  Store failures are answered in RESP. */
typedef int (*access_change_fn)(struct req *req, struct resp *resp, struct store_txn *t,
				void *ctx);
int access_change(struct req *req, struct resp *resp, access_change_fn fn, void *ctx);
/* Sets or (COMMENT "") drops DOC's "comment"; NULL leaves it.  0 or -ENOMEM. */
int access_set_comment(cJSON *doc, const char *comment);
/* resp_error for a store failure while doing WHAT. */
int access_store_error(struct resp *resp, int r, const char *what);
/* Deletes the ACL entries of TYPE/UGID, or (TYPE NULL) those naming ROLE. */
int access_acl_purge(struct store_txn *t, const char *type, const char *ugid, const char *role);
/* "value must have at least 8 characters" for passwords shorter than 8. */
int access_password_param(struct resp *resp, const char *name, const char *pw);

#endif
