/* Requests, responses and the route table.  A route is data: method, Proxmox
 * path pattern (under /api2/json), parameter schema, the privilege the router
 * checks on the object path, and a handler.  Handlers never pick an HTTP
 * status by hand: they return a code from common/err.h (see resp_error). */
#ifndef CORRAL_ROUTER_H
#define CORRAL_ROUTER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct ws_session;

enum http_method { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_METHOD_COUNT };

enum param_type {
	PT_STRING,
	PT_INTEGER, /* min/max apply */
	PT_NUMBER,  /* floating point; min/max apply */
	PT_BOOLEAN, /* 0/1 in forms (true/false accepted too); answered as 0/1 numbers */
	PT_ENUM,    /* one of enum_values "a|b|c" */
};

enum param_flags {
	PF_OPTIONAL = 1 << 0,
	PF_INDEXED = 1 << 1, /* name "net[n]" stands for net0..net<max_index> */
	PF_SECRET = 1 << 2,  /* never logged (passwords) */
	PF_ARRAY = 1 << 3,   /* may repeat (form) or be a JSON array; the value in
	                      * req->params is then an array of strings */
};

/* Extra format check ("pve-vmid", "pve-userid", a property string...):
 * returns 0 or -EINVAL with the Proxmox wording in ERR. */
typedef int (*param_check_fn)(const char *value, char *err, size_t errlen);

struct param_spec {
	const char *name; /* NULL ends a list */
	enum param_type type;
	unsigned flags;
	int64_t min, max;        /* integer/number range; for strings max length (0 = 4096) */
	const char *enum_values; /* PT_ENUM */
	param_check_fn check;
	int max_index;           /* PF_INDEXED */
};

/* Special privilege values (every route states one; a unit test walks the table). */
#define PERM_WORLD "@world" /* no authentication at all (login, version of the realm list) */
#define PERM_USER "@user"   /* any authenticated user; the handler filters what it shows */

enum route_flags {
	ROUTE_EXTRA_PARAMS = 1 << 0, /* schema allows additional properties (VM config keys...) */
	ROUTE_NO_TOKEN = 1 << 1,     /* API tokens may not call it (/access/ticket) */
	ROUTE_NO_CSRF = 1 << 2,      /* multipart upload: exempt from the CSRF header */
	ROUTE_UPLOAD = 1 << 3,       /* body is streamed to the handler, not parsed */
	ROUTE_PATH_TAIL = 1 << 4,    /* the last path variable takes the rest of the path,
	                              * slashes included ("local:iso/x.iso") */
};

struct identity {
	char userid[128];  /* user@realm */
	char tokenid[64];  /* "" for a ticket; the token name for API tokens */
	int privsep;       /* token with privilege separation */
};

struct req {
	struct app *app;
	enum http_method method;
	const char *path;   /* under /api2/json, percent-decoded */
	cJSON *params;      /* object of validated parameters (path variables included),
	                     * every value a string; owned by the router */
	const struct identity *who; /* NULL only on PERM_WORLD routes without auth */
	const char *peer;   /* client address text */
	void *conn;         /* the HTTP layer's connection, for uploads/websockets */
};

struct resp {
	cJSON *data;     /* owned; NULL answers {"data":null} */
	cJSON *errors;   /* owned; parameter errors, name -> message */
	char *message;   /* owned; error text, first line becomes the reason phrase */
	int status;      /* 0 = derive: 200, or from the returned code */
	int64_t total;   /* -1 = none; list calls like the task log set it */
	char *set_cookie;/* owned; optional Set-Cookie value */
	struct ws_session *upgrade; /* owned; a websocket to switch to on success (ws_bridge.h) */
};

typedef int (*api_handler)(struct req *req, struct resp *resp);

struct route {
	enum http_method method;
	const char *path;      /* "/nodes/{node}/qemu/{vmid}/status/start" */
	const struct param_spec *params; /* path variables are listed here too */
	const char *perm_path; /* object path for the check: "/vms/{vmid}"; NULL with PERM_* */
	const char *privs;     /* "VM.PowerMgmt", "A|B" = any of them, or PERM_WORLD/PERM_USER */
	unsigned flags;        /* enum route_flags */
	api_handler handler;
};

/* The route table (server/routes.c). */
extern const struct route routes[];
extern const size_t routes_count;

/* Sets the error text (printf-style) and the status that CODE maps to;
 * returns CODE so a handler can `return resp_error(...)`. */
int resp_error(struct resp *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds errors[PARAM] = message and makes it a 400 "Parameter verification failed."
 * Returns CR_EINVAL_PARAM. */
int resp_param_error(struct resp *r, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Frees what the response owns and resets it. */
void resp_clear(struct resp *r);

/* Typed access to validated parameters.  req_str: NULL when absent. */
const char *req_str(const struct req *r, const char *name);
int64_t req_int(const struct req *r, const char *name, int64_t dflt);
int req_bool(const struct req *r, const char *name, int dflt);

/* Matches METHOD+PATH against the table; fills VARS (an object it creates,
 * caller deletes) with the path variables.  Returns the route, or NULL with
 * *path_known set when the path exists under another method. */
const struct route *router_match(enum http_method method, const char *path, cJSON **vars,
				 int *path_known);

/* --- The HTTP layer's entry point (server/http.c calls it) --- */

/* One request under /api2/json (or /api2/extjs) as the HTTP layer saw it. */
struct router_request {
	const char *method;       /* as received: "GET", "POST", "HEAD"... */
	const char *path;         /* under /api2/json, percent-decoded */
	const char *query;        /* raw query string without '?', or NULL */
	const char *content_type; /* Content-Type header, or NULL */
	const char *body;         /* request body (POST/PUT), may be NULL */
	size_t body_len;
	const char *cookie;       /* PVEAuthCookie cookie value as sent, or NULL */
	const char *authorization;/* Authorization header, or NULL */
	const char *csrf_token;   /* CSRFPreventionToken header, or NULL */
	const char *peer;         /* client address text */
	void *conn;               /* the HTTP layer's connection */
};

/* The rendered answer.  Everything is owned by the reply (router_reply_clear). */
struct router_reply {
	int status;
	char *body;       /* JSON text, or NULL for an empty body */
	size_t body_len;
	char *reason;     /* first line of the error message, or NULL on success */
	char *set_cookie; /* Set-Cookie value, or NULL */
	int delay;        /* non-zero: a failed authentication, answer after the delay */
	struct ws_session *upgrade; /* answer 101 and bridge (ws_session_response) */
};

/* Authenticates, checks CSRF and privileges, validates the parameters, runs
 * the handler and renders the answer as Proxmox does.  Never fails: errors
 * become error replies. */
void router_handle(struct app *app, const struct router_request *rq, struct router_reply *out);
void router_reply_clear(struct router_reply *r);

/* For a streamed body (ROUTE_UPLOAD), before it is read: matches the
 * route, authenticates (CSRF included), checks its privilege and validates
 * the path variables.  Returns the route with WHO and *VARS (caller deletes)
 * filled, or NULL with the error rendered into OUT. */
const struct route *router_authorize(struct app *app, const struct router_request *rq,
				     struct identity *who, cJSON **vars, struct router_reply *out);

/* router_match over any table (tests and the fuzzer use their own). */
const struct route *router_match_in(const struct route *table, size_t n, enum http_method method,
				    const char *path, cJSON **vars, int *path_known);
/* "GET" -> HTTP_GET; -1 for methods the API does not serve. */
int router_method_parse(const char *s);
const char *router_method_name(enum http_method m);

#endif
