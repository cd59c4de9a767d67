/* Real SWIM transport: one UDP socket and one TCP listener on the same
 * ADDR:PORT (IPv4 or IPv6), non-blocking, driven by poll().  Stream
 * exchanges are one length-prefixed request and one reply per connection. */
#ifndef CORRAL_TRANSPORT_UDP_H
#define CORRAL_TRANSPORT_UDP_H

#include "cluster/swim.h"

#include <pthread.h>

struct swim_udp;

/* memberlist's LAN TCPTimeout. */
#define SWIM_UDP_STREAM_TIMEOUT_MS 10000
/* memberlist caps concurrent push/pulls at 128. */
#define SWIM_UDP_MAX_CONNS 128

/* Binds "ADDR:PORT" or "[ADDR]:PORT"; port 0 picks one free for both
 * protocols.  NULL with ERR filled on failure. */
struct swim_udp *swim_udp_new(const char *listen, char *err, size_t errlen);
/* Closes every socket; pending exchanges are dropped without replies. */
void swim_udp_free(struct swim_udp *u);
struct swim_transport swim_udp_transport(struct swim_udp *u);
/* The swim that receives this transport's input. */
void swim_udp_bind(struct swim_udp *u, struct swim *s);
/* The bound address (with the port chosen for port 0). */
void swim_udp_local_addr(const struct swim_udp *u, struct swim_addr *out);
/* Waits up to TIMEOUT_MS for input on the sockets or on EXTRA_FD (-1: none;
 * it is only watched, never read), then handles what arrived with LOCK held
 * (NULL: no lock).  Returns 0 or a negative errno from poll(). */
int swim_udp_poll(struct swim_udp *u, int timeout_ms, int extra_fd, pthread_mutex_t *lock);

#endif
