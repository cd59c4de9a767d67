/* Proxmox's VNC tickets: short-lived, signed with the node's ticket key and
 * bound to a user and an object path ("/vms/100").  Shape:
 *   PVEVNC:<%08X time>::<base64 RSA-SHA256 signature>
 * the signature covering "PVEVNC:<time>" plus ":<authid>:<path>". */
#ifndef CORRAL_AUTH_VNC_H
#define CORRAL_AUTH_VNC_H

#include <stddef.h>
#include <time.h>

struct auth;

/* Proxmox accepts a VNC ticket from 20 s ahead to 40 s old. */
#define AUTH_VNC_TICKET_LIFETIME 40
#define AUTH_VNC_TICKET_AHEAD 20
#define AUTH_VNC_TICKET_MAX 512

/* AUTHID is "user@realm" or "user@realm!token". */
int auth_vncticket_make(struct auth *a, const char *authid, const char *path, time_t now,
			char *out, size_t n);
/* 0 when TICKET was made for AUTHID and PATH and is still valid, CR_EAUTH else. */
int auth_vncticket_verify(struct auth *a, const char *ticket, const char *authid, const char *path,
			  time_t now);

#endif
