/* A simulated network for tests and the simulator: a discrete-event queue
 * with a virtual clock that delivers datagrams and stream exchanges between
 * struct swim instances in one process, with seeded loss, delay, partitions,
 * cut links and stalled (SIGSTOP-like) nodes. */
#ifndef CORRAL_TRANSPORT_IN_MEMORY_H
#define CORRAL_TRANSPORT_IN_MEMORY_H

#include "cluster/swim.h"

#include <stdbool.h>
#include <stdint.h>

struct swim_net;

/* Clock starts at 1000 ms.  NULL when memory runs out. */
struct swim_net *swim_net_new(uint64_t seed);
/* Frees the network and its pending events (not the bound swims). */
void swim_net_free(struct swim_net *net);
/* Adds a node reachable at ADDR; returns its index or -ENOMEM/-EEXIST. */
int swim_net_add(struct swim_net *net, const struct swim_addr *addr);
/* The transport of node I, for swim_new(). */
struct swim_transport swim_net_transport(struct swim_net *net, int i);
/* Attaches the swim that receives node I's traffic; NULL crashes the node
 * (everything sent to it is lost, it runs no timers). */
void swim_net_bind(struct swim_net *net, int i, struct swim *s);

/* Each datagram is lost with probability P (streams are reliable). */
void swim_net_set_loss(struct swim_net *net, double p);
/* One-way delay, uniform in [MIN, MAX] ms. */
void swim_net_set_delay(struct swim_net *net, uint32_t min_ms, uint32_t max_ms);
/* Nodes in different groups cannot reach each other at all (group 0 default). */
void swim_net_set_group(struct swim_net *net, int i, int group);
/* Cuts (or restores) the datagram link between A and B, both ways. */
void swim_net_cut_udp(struct swim_net *net, int a, int b, bool cut);
/* Drops every datagram to or from node I; streams still work. */
void swim_net_block_udp(struct swim_net *net, int i, bool block);
/* Node I processes nothing until UNTIL_MS; what arrives meanwhile waits,
 * then its overdue timers run first and the backlog after. */
void swim_net_stall(struct swim_net *net, int i, uint64_t until_ms);
/* Until UNTIL_MS, everything node I receives is handled DELAY_MS late
 * while its timers keep time: a node starved on its receive path. */
void swim_net_slow(struct swim_net *net, int i, uint64_t until_ms, uint32_t delay_ms);
/* A stream to an unreachable peer fails after this long (default 2000 ms). */
void swim_net_set_stream_timeout(struct swim_net *net, uint32_t ms);
/* Shows FN every datagram as it is sent (before loss, cuts and delay), as
 * the sender's packet: from and to are node indexes (to -1 if unknown). */
typedef void (*swim_net_tap_fn)(void *arg, int from, int to, const uint8_t *buf, size_t len);
void swim_net_set_tap(struct swim_net *net, swim_net_tap_fn fn, void *arg);

uint64_t swim_net_now(const struct swim_net *net);
/* Processes events in time order until the clock reaches UNTIL_MS. */
void swim_net_run(struct swim_net *net, uint64_t until_ms);
/* Total datagrams dropped by loss, partitions and cuts. */
uint64_t swim_net_dropped(const struct swim_net *net);

#endif
