/* Websocket bridges of the consoles: a handler that accepts an upgrade
 * request makes a session around a connected unix socket (a VM's VNC or
 * serial socket); http.c answers 101 with ws_session_response(), and once
 * libmicrohttpd hands over the connection a thread per session relays
 * between the websocket and the socket.  The hub bounds the number of
 * sessions and closes them all at shutdown. */
#ifndef CORRAL_WS_BRIDGE_H
#define CORRAL_WS_BRIDGE_H

#include <stddef.h>

struct ws_hub;
struct ws_session;
struct MHD_Response;

/* Console connections a node serves at once (each holds a thread and two
 * sockets); more are refused until one closes. */
#define WS_HUB_DEFAULT_MAX 64

enum ws_bridge_mode {
	WS_BRIDGE_RAW,  /* websocket binary messages <-> the socket's bytes (VNC's RFB) */
	WS_BRIDGE_TERM, /* termproxy framing from the client, raw output to it */
};

int ws_hub_new(unsigned max, struct ws_hub **out);
/* Closes every bridge and waits for their threads; no new one starts after. */
void ws_hub_shutdown(struct ws_hub *h);
/* Shuts down, then frees.  NULL is accepted. */
void ws_hub_free(struct ws_hub *h);
/* Sessions alive: waiting for the upgrade or bridging. */
unsigned ws_hub_count(struct ws_hub *h);

/* 0 when CONN (a struct MHD_Connection) carries a valid websocket upgrade
 * request, -EINVAL with the reason in ERR. */
int ws_request_check(void *conn, char *err, size_t errlen);

struct ws_session_opts {
	enum ws_bridge_mode mode;
	const char *auth_user;   /* TERM: the "USER:TICKET" line the client must send */
	const char *auth_ticket;
	const char *label;       /* for the log: "VM 100 vnc" */
};

/* A session for CONN's upgrade bridged to FD, which it owns from now on
 * (closed also on failure).  CR_EBUSY-like -EAGAIN when the hub is full. */
int ws_session_new(struct ws_hub *h, void *conn, int fd, const struct ws_session_opts *o,
		   struct ws_session **out);
/* Releases the request's hold on S (its bridge keeps its own). */
void ws_session_put(struct ws_session *s);
/* The 101 Switching Protocols response for S; NULL when out of memory. */
struct MHD_Response *ws_session_response(struct ws_session *s);

#endif
