/* What the SWIM state machine needs from the outside world: datagrams, one
 * request/reply exchange over a stream, a clock and randomness.  Swapping
 * this struct gives tests a deterministic network (transport_in_memory.c)
 * and corrald real sockets (transport_udp.c). */
#ifndef CORRAL_SWIM_TRANSPORT_H
#define CORRAL_SWIM_TRANSPORT_H

#include "cluster/swim_proto.h"

#include <stddef.h>
#include <stdint.h>

struct swim_transport_ops {
	/* Sends one datagram; best effort.  0 or a negative errno. */
	int (*send_udp)(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len);
	/* Starts one stream exchange: BUF goes to TO as a request frame, and the
	 * reply (or a failure: NULL, 0) comes back later, exactly once, through
	 * swim_on_stream_reply(TOKEN, ...).  A negative return means it failed
	 * at once and no reply will follow. */
	int (*stream_request)(void *ctx, const struct swim_addr *to, const uint8_t *buf,
			      size_t len, uint64_t token);
	/* Monotonic milliseconds. */
	uint64_t (*now_ms)(void *ctx);
	/* 64 random bits (deterministic in tests). */
	uint64_t (*random)(void *ctx);
};

struct swim_transport {
	const struct swim_transport_ops *ops;
	void *ctx;
};

/* SplitMix64: a small seeded generator for transports' random op. */
uint64_t swim_splitmix64(uint64_t *state);

#endif
