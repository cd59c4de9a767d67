/* An upload for another cluster member, relayed as it arrives: the body
 * goes through a pipe (fed by an upload_writer, so the HTTP thread never
 * waits on the member) to a thread that streams it on with
 * peer_forward_stream; the member's answer becomes the client's. */
#ifndef CORRAL_SERVER_UPLOAD_FWD_H
#define CORRAL_SERVER_UPLOAD_FWD_H

#include <stddef.h>

struct app;
struct router_request;
struct router_reply;
struct upload_fwd;

/* Starts relaying RQ (authorized here, checked again by the member) to
 * member NODE.  RQ's strings must stay valid until upload_fwd_free.
 * Returns 0 with *OUT set, or a negative errno. */
int upload_fwd_new(struct app *app, const char *node, const struct router_request *rq,
		   struct upload_fwd **out);
/* More body bytes; once the member stopped reading they are dropped. */
void upload_fwd_feed(struct upload_fwd *f, const char *data, size_t len);
/* The body is complete: waits for the member's answer and moves it into
 * REPLY. */
void upload_fwd_finish(struct upload_fwd *f, struct router_reply *reply);
/* Frees F; a relay still running is aborted (the member drops the partial
 * upload).  NULL is ignored. */
void upload_fwd_free(struct upload_fwd *f);

#endif
