/* Rendering a handler's struct resp into the reply the HTTP layer sends
 * (router.c uses it; handlers use the resp_* helpers of router.h). */
#ifndef CORRAL_RESP_H
#define CORRAL_RESP_H

#include "server/router.h"

/* Renders R after its handler returned RC: {"data":...,"total"?} on
 * success; {"data":null,"message","errors"?} with the code's status and the
 * first line of the message as reason otherwise.  Clears R. */
void resp_render(struct resp *r, int rc, struct router_reply *out);
/* An error with an empty body (authentication failures, as Proxmox sends them). */
void resp_render_bare(int status, const char *msg, struct router_reply *out);

#endif
