/* corral's HTTPS client of the Proxmox-style API (libcurl): one connection to
 * one node, the certificate pinned by SHA-256 fingerprint (trust on first
 * use), ticket+CSRF or API-token authentication. */
#ifndef CORRAL_CLI_CLIENT_H
#define CORRAL_CLI_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "cli/args.h"
#include "cli/pin.h"

struct client;

/* Asked once when the node presents a certificate no pin covers: return 1 to
 * trust FP for HOSTPORT (it is then stored in known_hosts), 0 to refuse. */
typedef int (*client_accept_fn)(const char *hostport, const char *fp, void *arg);

struct client_opts {
	const char *host;
	unsigned port;
	const char *fingerprint;  /* explicit pin ("--fingerprint"), or NULL */
	const char *known_hosts;  /* file of accepted fingerprints */
	client_accept_fn accept;  /* NULL: unknown certificates are refused */
	void *accept_arg;
	long timeout_s;           /* whole-request limit */
};

/* Failures before an HTTP answer arrived (all map to exit code 3). */
enum client_err {
	CLIENT_ECONNECT = -1,  /* DNS, refused, timeout, TLS handshake */
	CLIENT_EUNKNOWN = -2,  /* certificate not trusted (no pin, not accepted) */
	CLIENT_ECHANGED = -3,  /* certificate differs from the pinned one */
	CLIENT_ENOMEM = -4,
};

struct client_resp {
	long status;
	char reason[256];  /* reason phrase of the status line */
	cJSON *body;       /* parsed JSON body or NULL; owned, see client_resp_free */
};

int client_new(const struct client_opts *o, struct client **out, char *err, size_t errlen);
void client_free(struct client *c);
/* Authentication sent with every later call; strings are copied. */
int client_set_ticket(struct client *c, const char *ticket, const char *csrf);
int client_set_token(struct client *c, const char *token);
/* The fingerprint the node presented (valid after a call), or "". */
const char *client_fingerprint(const struct client *c);

/* METHOD ("GET","POST","PUT","DELETE") on PATH under /api2/json with P as the
 * query (GET, DELETE) or a form body (POST, PUT).  0 once an HTTP answer came
 * (whatever its status), or a client_err with detail in ERR. */
int client_call(struct client *c, const char *method, const char *path, const struct param *p,
		size_t n, struct client_resp *resp, char *err, size_t errlen);
void client_resp_free(struct client_resp *r);
/* Makes the next POST a multipart/form-data upload: its parameters as
 * fields, then the file at PATH (streamed from disk) as field FIELD named
 * NAME.  The strings are borrowed until that call returns. */
void client_set_upload(struct client *c, const char *field, const char *path, const char *name);

#endif
