/* systemd readiness notification (Type=notify) without libsystemd. */
#ifndef CORRAL_SDNOTIFY_H
#define CORRAL_SDNOTIFY_H

/* Sends STATE ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET.  Returns 0, or
 * 0 as well when not started by systemd; a negative errno on failure. */
int sdnotify(const char *state);

#endif
