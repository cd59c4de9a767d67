/* The node's statistics history: a thread samples the node (/proc) and
 * every VM (hv's cached status) every few seconds into round-robin
 * databases (server/rrd.h), one file per object under DATA/rrd/, and
 * answers Proxmox's rrddata queries from them. */
#ifndef CORRAL_SERVER_RRDSTAT_H
#define CORRAL_SERVER_RRDSTAT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "server/rrd.h"

struct app;
struct rrdstat;

/* Proxmox's pvestatd samples every 10 s. */
#define RRDSTAT_INTERVAL_S 10

/* Loads nothing yet (files are read when first needed); starts the sampling
 * thread when INTERVAL_S > 0 (0: only rrdstat_sample() samples).  DIR is
 * created. */
int rrdstat_new(struct app *app, const char *dir, unsigned interval_s, struct rrdstat **out,
		char *err, size_t errlen);
/* Stops the thread and saves every database. */
void rrdstat_free(struct rrdstat *rs);

/* One round at wall-clock time NOW: the node and every VM of the store. */
void rrdstat_sample(struct rrdstat *rs, int64_t now);
/* Saves every database changed since it was last saved.  0 or the first
 * error. */
int rrdstat_save(struct rrdstat *rs);

/* Proxmox's rrddata rows for the node (VMID 0) or VM VMID, up to NOW:
 * [{time, field: value...}], unknown values left out.  *OUT is the
 * caller's. */
int rrdstat_fetch(struct rrdstat *rs, int vmid, enum rrd_timeframe tf, enum rrd_cf cf,
		  int64_t now, cJSON **out);

/* Pure: receive/transmit bytes of the physical NICs (Proxmox's eth*, en*,
 * ib*) in the text of /proc/net/dev.  0 or -EINVAL. */
int rrdstat_parse_net_dev(const char *text, uint64_t *rx, uint64_t *tx);

#endif
