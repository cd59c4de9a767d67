/* Round-robin statistics: fixed-size archives of a few data sources at
 * Proxmox's resolutions (one minute for an hour ... one week for a year),
 * consolidated as AVERAGE and MAX.  The archive logic is pure (time is an
 * argument); rrd_load/rrd_save move the fixed-size file image. */
#ifndef CORRAL_SERVER_RRD_H
#define CORRAL_SERVER_RRD_H

#include <stddef.h>
#include <stdint.h>

#define RRD_STEP 60       /* seconds per primary data point (Proxmox's step) */
#define RRD_ROWS 70       /* rows per archive, as Proxmox's pve2 archives */
#define RRD_HEARTBEAT 120 /* a longer gap between updates is unknown data */
#define RRD_MAX_DS 16     /* data sources per database at most */

enum rrd_ds_type {
	RRD_GAUGE,  /* stored as given */
	RRD_DERIVE, /* a counter: stored as its rate per second */
};

enum rrd_timeframe { RRD_HOUR, RRD_DAY, RRD_WEEK, RRD_MONTH, RRD_YEAR, RRD_TIMEFRAMES };
enum rrd_cf { RRD_AVERAGE, RRD_MAX };

/* Which data sources a database holds; the name is stored in the file. */
struct rrd_schema {
	const char *name; /* at most 7 characters */
	size_t nds;
	const char *const *ds_names;
	const enum rrd_ds_type *ds_types;
};
/* Proxmox's node and VM data sources (pve-cluster's pve2-node, pve2-vm). */
extern const struct rrd_schema rrd_schema_node;
extern const struct rrd_schema rrd_schema_vm;

struct rrd;

int rrd_new(const struct rrd_schema *s, struct rrd **out);
void rrd_free(struct rrd *db);
const struct rrd_schema *rrd_schema_of(const struct rrd *db);

/* Adds a sample taken at T (seconds since the epoch) of every data source:
 * VALUES[nds], NAN for unknown.  The first sample only seeds the counters.
 * -EINVAL when T is not after the last update (a clock going back). */
int rrd_update(struct rrd *db, int64_t t, const double *values);
int64_t rrd_last_update(const struct rrd *db);

/* Seconds per row of TF ("hour": 60 ... "year": 604800). */
unsigned rrd_resolution(enum rrd_timeframe tf);
/* "hour".."year" and "AVERAGE"/"MAX" (NULL: AVERAGE); -1 for other text. */
int rrd_timeframe_parse(const char *name);
int rrd_cf_parse(const char *name);

/* The RRD_ROWS rows of TF up to the row that holds NOW: TIMES[i] is the
 * row's start, VALUES[i * nds + j] its value of source j or NAN.  The row
 * being filled shows what it holds so far (rows are otherwise final). */
void rrd_fetch(const struct rrd *db, enum rrd_timeframe tf, enum rrd_cf cf, int64_t now,
	       int64_t *times, double *values);

/* The file image: the database is one fixed-size block (host byte order,
 * the files are node-local).  Valid until the next update. */
const void *rrd_image(const struct rrd *db, size_t *len);
/* A database from an image of schema S; -EINVAL for another layout. */
int rrd_from_image(const struct rrd_schema *s, const void *data, size_t len, struct rrd **out);

/* I/O.  rrd_load: -ENOENT without a file, -EINVAL for a damaged one.
 * rrd_save replaces PATH whole (temporary file + rename). */
int rrd_load(const struct rrd_schema *s, const char *path, struct rrd **out);
int rrd_save(const struct rrd *db, const char *path);

#endif
