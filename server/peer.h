/* Talking to other cluster members over HTTPS: look a member up by node name
 * and make an authenticated API request to it with libcurl, the member's
 * certificate pinned by its SHA-256 fingerprint.
 *
 * Node-to-node authentication: every member holds the cluster's ticket
 * signing key and CSRF secret (handed over at join), so a ticket minted on
 * one node is valid on all of them.  peer_request() mints a fresh ticket
 * (and CSRF token) for the user it is told to act as — the forwarded
 * caller, or "root@pam" for the cluster's own internal calls — and sends it
 * as the PVEAuthCookie cookie; the target checks privileges against its own
 * (cluster-wide) ACLs exactly as for any client.  peer_forward() instead
 * passes the caller's own credentials (ticket cookie, CSRF header or API
 * token) through unchanged.
 *
 * Every function is thread-safe and blocking; call them from handlers or
 * task workers, never from the gossip loop.
 *
 * Example (a migration task asking the target to prepare, as the caller):
 *
 *	struct peer_reply rp;
 *	cJSON *q = cJSON_CreateObject();
 *	char err[256];
 *
 *	cJSON_AddStringToObject(q, "vmid", "100");
 *	if (peer_request(app, "n2", "POST", "/nodes/n2/qemu/100/mtunnel", q,
 *			 who->userid, &rp, err, sizeof(err)) < 0)
 *		... unreachable: err says why (answer 595) ...
 *	else if (rp.status != 200)
 *		... refused: rp.status, rp.reason ...
 *	... use rp.data ...
 *	peer_reply_free(&rp);
 *	cJSON_Delete(q);
 *
 * For an API-token caller pass the token's user (who->userid): the ticket
 * carries the user, not the token's privilege separation. */
#ifndef CORRAL_PEER_H
#define CORRAL_PEER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cluster_rec.h"

struct app;
struct router_request;
struct router_reply;

/* A member as the local node sees it right now. */
struct peer_info {
	char node[CLUSTER_NODE_MAX];
	char host[CLUSTER_HOSTPORT_MAX]; /* API host (IP address or name, no brackets) */
	uint16_t port;                   /* API port */
	char api[CLUSTER_HOSTPORT_MAX];  /* "host:port" / "[v6]:port" as gossiped */
	char fp[CLUSTER_FP_LEN];         /* its certificate's SHA-256, "AA:BB:..." */
	int online;                      /* 1 when gossip sees it alive or suspect */
	int local;                       /* 1 for this node itself */
};

/* Looks NODE up among the cluster members (this node included).
 * 0; CR_ENOTFOUND when no member has that name (Proxmox answers
 * "hostname lookup 'NODE' failed"). */
int peer_lookup(struct app *app, const char *node, struct peer_info *out);

/* An answer from a member.  BODY is the raw JSON text; JSON its parse (NULL
 * when the body is not JSON); DATA points into JSON at "data" (may be NULL).
 * Release with peer_reply_free(). */
struct peer_reply {
	int status;         /* HTTP status; 595 never comes back here (see below) */
	char reason[256];   /* reason phrase (Proxmox puts the error text there) */
	char *body;
	size_t body_len;
	cJSON *json;
	cJSON *data;
};
void peer_reply_free(struct peer_reply *r);

/* Sends METHOD ("GET", "POST", "PUT", "DELETE") PATH (under /api2/json, e.g.
 * "/nodes/n2/qemu/100/status/start") to member NODE, acting as AS_USER
 * ("root@pam" for cluster-internal calls).  PARAMS, may be NULL, is an
 * object of string/number values: sent as the query for GET/DELETE, as an
 * application/x-www-form-urlencoded body otherwise.
 * Returns 0 when an HTTP answer came back, whatever its status (check
 * OUT->status); CR_ENOTFOUND for an unknown node; CR_EPEER with ERR (e.g.
 * "Connection refused", "certificate fingerprint mismatch") when the member
 * could not be reached — handlers answer that as Proxmox's 595.
 * OUT is filled on 0 only. */
int peer_request(struct app *app, const char *node, const char *method, const char *path,
		 const cJSON *params, const char *as_user, struct peer_reply *out, char *err,
		 size_t errlen);

/* The same to an explicit address: HOST:PORT with certificate fingerprint FP
 * (join uses it before the member is known).  HEADERS: NULL-terminated
 * "Name: value" lines added as they are; BODY/CONTENT_TYPE may be NULL.
 * URL_PATH already includes "/api2/json" and any query. */
struct peer_target {
	const char *host;
	uint16_t port;
	const char *fp;
};
int peer_https(const struct peer_target *t, const char *method, const char *url_path,
	       const char *const *headers, const char *content_type, const char *body,
	       size_t body_len, struct peer_reply *out, char *err, size_t errlen);

/* A TLS connection to T, its certificate pinned, for raw bytes
 * (curl_easy_send/recv on the CURL handle returned; curl_easy_cleanup it).
 * NULL with ERR when the member cannot be reached. */
void *peer_tls_connect(const struct peer_target *t, char *err, size_t errlen);

/* server/peer_ws.c: a console websocket upgrade RQ for another member,
 * sent to T as URL_PATH (under /api2/json, query included) with the
 * caller's cookie or Authorization.  When the member answers 101, OUT gets
 * the upgrade (ws_bridge.h) and a relay thread carries the bytes both ways;
 * another answer is copied into OUT.  0, or CR_EPEER with ERR. */
int peer_ws_forward(struct app *app, const struct peer_target *t, const char *url_path,
		    const struct router_request *rq, struct router_reply *out, char *err,
		    size_t errlen);

/* Request forwarding (called by the router before dispatch): when RQ's path
 * is /nodes/{node}/... for a NODE that is not this one, forwards the
 * request unchanged (method, path, query, body, the caller's cookie,
 * Authorization and CSRF headers) to that member and copies its answer into
 * OUT.  Returns 1 when the request was handled here (forwarded, or answered
 * with an error: "hostname lookup 'x' failed" 500 for an unknown node, 595
 * for an offline or unreachable one), 0 when it is local and dispatch
 * should go on. */
int peer_forward(struct app *app, const struct router_request *rq, struct router_reply *out);

/* A request body pulled as it arrives (libcurl's read-callback contract:
 * up to SIZE * N bytes copied into BUF, 0 at the end, CURL_READFUNC_ABORT
 * to give up). */
struct peer_body_src {
	size_t (*read)(char *buf, size_t size, size_t n, void *arg);
	void *arg;
	long long len; /* bytes to come, or -1 when unknown (sent chunked) */
};
/* peer_forward to member NODE, with the body from SRC when it is not NULL
 * (a streamed upload: RQ's body fields are then ignored).  With SRC the
 * transfer has no overall deadline but fails when idle for 30 s.  OUT is
 * answered as by peer_forward.  Blocking: with SRC, run it in a thread of
 * its own. */
void peer_forward_stream(struct app *app, const char *node, const struct router_request *rq,
			 const struct peer_body_src *src, struct router_reply *out);

/* The node name in "/nodes/NAME/..." (or "/nodes/NAME"), copied to OUT;
 * 0, or -ENOENT when PATH is not under /nodes/.  Pure. */
int peer_path_node(const char *path, char *out, size_t n);

#endif
