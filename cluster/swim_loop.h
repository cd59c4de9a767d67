/* A thread that runs one struct swim over the real UDP/TCP transport: the
 * piece corrald embeds.  Other threads reach the swim under the loop's lock;
 * event callbacks run on the loop thread with the lock held. */
#ifndef CORRAL_SWIM_LOOP_H
#define CORRAL_SWIM_LOOP_H

#include "cluster/swim.h"

struct swim_loop;

/* Binds LISTEN ("ADDR:PORT"), creates the swim from CFG and starts the
 * thread.  CFG->addr (the address others reach us at) may be left zero
 * unless LISTEN is a wildcard such as 0.0.0.0; it is then the bound address.
 * NULL with ERR filled on failure. */
struct swim_loop *swim_loop_start(const struct swim_config *cfg, const char *listen,
				  char *err, size_t errlen);
/* Stops the thread, frees the swim and closes the sockets. */
void swim_loop_stop(struct swim_loop *l);
/* Takes the lock and returns the swim; every call into it needs the lock. */
struct swim *swim_loop_lock(struct swim_loop *l);
/* Releases the lock and wakes the loop so new timers take effect. */
void swim_loop_unlock(struct swim_loop *l);
/* The bound address (its port, when LISTEN asked for port 0). */
void swim_loop_local_addr(const struct swim_loop *l, struct swim_addr *out);

#endif
