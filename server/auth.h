/* Authentication and authorization: tickets, CSRF tokens, API tokens, realms
 * (pve, pam), users/groups/roles/ACLs and the privilege check the router
 * makes on every route. */
#ifndef CORRAL_AUTH_H
#define CORRAL_AUTH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <time.h>

#include "server/router.h"

struct app;
struct auth;

#define AUTH_TICKET_LIFETIME (2 * 3600)
#define AUTH_TICKET_MAX 1024
#define AUTH_CSRF_MAX 64

/* Loads (creating on first start) the node's ticket-signing key and CSRF
 * secret under KEYDIR.  Returns 0 or a code with detail in ERR. */
int auth_new(struct app *app, const char *keydir, struct auth **out, char *err, size_t errlen);
void auth_free(struct auth *a);
/* Loads the ticket key pair and CSRF secret from KEYDIR again (a cluster
 * join installed the cluster's).  0 or a code with ERR. */
int auth_reload_keys(struct auth *a, const char *keydir, char *err, size_t errlen);

/* First start: creates admin@pve with the Administrator role on "/" when no
 * user exists.  PASSWORD may be NULL: a random one is generated and copied to
 * GENERATED (which must hold 64 bytes); GENERATED[0] stays '\0' otherwise. */
int auth_bootstrap_admin(struct auth *a, const char *password, char *generated, size_t n);

/* "PVE:user@realm:HEXTIME::SIG".  Valid for AUTH_TICKET_LIFETIME. */
int auth_ticket_make(struct auth *a, const char *userid, time_t now, char *out, size_t n);
/* Verifies signature and age; copies the user id.  CR_EAUTH when invalid. */
int auth_ticket_verify(struct auth *a, const char *ticket, time_t now, char *userid, size_t n);
int auth_csrf_make(struct auth *a, const char *userid, time_t now, char *out, size_t n);
int auth_csrf_verify(struct auth *a, const char *userid, const char *token, time_t now);

/* Checks credentials for USERNAME (user@realm, or user plus REALM); PASSWORD may
 * also be a still-valid ticket for that user.  Fills WHO on success. */
int auth_login(struct auth *a, const char *username, const char *realm, const char *password,
	       struct identity *who);
/* The realm's own password check for USERID (no tickets): 0 or CR_EAUTH.
 * For re-authentication before sensitive changes. */
int auth_password_check(struct auth *a, const char *userid, const char *password);
/* Parses and verifies "USER@REALM!TOKENID=SECRET" (the value after
 * "PVEAPIToken=").  Fills WHO on success; CR_EAUTH otherwise. */
int auth_token_verify(struct auth *a, const char *value, struct identity *who);
/* Extracts the identity from a request's headers: COOKIE_TICKET (the
 * PVEAuthCookie value, may be NULL) or AUTHZ (the Authorization header, may be
 * NULL).  *IS_TICKET is set so the caller knows whether CSRF applies. */
int auth_identify(struct auth *a, const char *cookie_ticket, const char *authz,
		  struct identity *who, int *is_ticket);

/* 0 when WHO holds any of PRIVS ("A|B") on PATH (ACLs with propagation,
 * groups, token privsep intersected with the user's); CR_EPERM_CHECK else. */
int auth_check(struct auth *a, const struct identity *who, const char *path, const char *privs);

/* auth_check for many paths of one request over one access snapshot (one
 * store read instead of one per check).  auth_checker_new() gives NULL only
 * when out of memory; auth_checker_can() answers 1 when allowed, else 0. */
struct auth_checker;
struct auth_checker *auth_checker_new(struct auth *a, const struct identity *who);
int auth_checker_can(const struct auth_checker *c, const char *path, const char *privs);
void auth_checker_free(struct auth_checker *c);
/* {"vms":{"VM.Audit":1,...},"storage":{},...} for the ticket response. */
cJSON *auth_caps(struct auth *a, const struct identity *who);

/* Failed-login budget per client address (a token bucket: 10 at once, then
 * one every 6 s).  auth_login_allowed: 0, or CR_EAUTH when PEER has spent
 * it (answer 401 without checking the password); auth_login_failed
 * records one failure. */
int auth_login_allowed(struct auth *a, const char *peer, time_t now);
void auth_login_failed(struct auth *a, const char *peer, time_t now);

#endif
