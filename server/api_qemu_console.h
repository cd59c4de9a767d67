/* Console grants: each vncproxy/termproxy call records its one-time VNC
 * ticket with the console it opens; vncwebsocket takes the grant, so a
 * ticket opens one connection, to that VM's console, for the user it was
 * made for, within its lifetime.  Each grant holds one of the ports
 * 5900..5999 that Proxmox's clients pass back. */
#ifndef CORRAL_API_QEMU_CONSOLE_H
#define CORRAL_API_QEMU_CONSOLE_H

#include <stddef.h>
#include <time.h>

struct console_grants;

#define CONSOLE_PORT_MIN 5900
#define CONSOLE_PORT_MAX 5999
#define CONSOLE_WHAT_MAX 16   /* "vnc", "serial0".."serial3" */

int console_grants_new(struct console_grants **out);
void console_grants_free(struct console_grants *g);

/* Records TICKET for AUTHID's console WHAT of VMID until NOW + LIFETIME;
 * fills *PORT.  -EAGAIN when all ports hold live grants. */
int console_grant_add(struct console_grants *g, const char *ticket, const char *authid, int vmid,
		      const char *what, time_t now, int lifetime, unsigned *port);
/* Removes and returns (WHAT) the grant of PORT when it matches TICKET,
 * AUTHID and VMID and has not expired; CR_EAUTH otherwise (also for a
 * ticket already used). */
int console_grant_take(struct console_grants *g, const char *ticket, const char *authid, int vmid,
		       unsigned port, time_t now, char *what, size_t n);

#endif
