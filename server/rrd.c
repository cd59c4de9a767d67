/* Round-robin archives: samples are spread over one-minute primary data
 * points (time-weighted), which each archive consolidates into rows of
 * 1, 30, 180, 720 or 10080 points (AVERAGE and MAX) kept in a ring. */
#include "server/rrd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

/* The image, one block in host byte order:
 *
 *   offset  size         field
 *   0       8            magic "CRLRRD1\0"
 *   8       8            schema name, NUL-padded
 *   16      4 x 4        nds, step, rows, number of archives
 *   32      8            last update (s), 0 before the first
 *   40      8            index of the primary data point being filled
 *   48      8 x nds x 3  last counter value, PDP sum (value x s), PDP known s
 *   then per archive:
 *           8            row being consolidated, -1 before the first
 *           8 x rows     row number held by each slot (-1: none)
 *           8 x nds x 3  row sum, row known PDPs, row max
 *           8 x rows x nds x 2   AVERAGE rows, then MAX rows
 */
#define RRD_MAGIC "CRLRRD1"
#define RRD_NRRA RRD_TIMEFRAMES
/* Times past this (year 36812) mark a damaged file; below it no sum of
 * times and steps here can overflow. */
#define RRD_TIME_MAX ((int64_t)1 << 40)

/* A row (and a PDP) is known when at least half of it is (rrdtool's xff). */
#define RRD_XFF 0.5

/* Primary data points per row of each archive: Proxmox's resolutions. */
static const unsigned rra_pdps[RRD_NRRA] = { 1, 30, 180, 720, 10080 };
static const char *const timeframe_names[RRD_NRRA] = { "hour", "day", "week", "month", "year" };

struct rrd_header {
	char magic[8];
	char schema[8];
	uint32_t nds, step, rows, nrra;
	int64_t last_update;
	int64_t pdp_index;
};

struct rra_view {
	unsigned pdps;
	int64_t *cur_row;
	int64_t *slot_row; /* [rows] */
	double *sum, *known, *max; /* [nds] each */
	double *avg_rows, *max_rows; /* [rows * nds] each */
};

struct rrd {
	const struct rrd_schema *s;
	unsigned char *img;
	size_t len;
	struct rrd_header *h;
	double *last_raw, *pdp_sum, *pdp_known;
	struct rra_view rra[RRD_NRRA];
};

static const char *const node_names[] = {
	"loadavg", "maxcpu", "cpu", "iowait", "memtotal", "memused",
	"swaptotal", "swapused", "roottotal", "rootused", "netin", "netout",
};
static const enum rrd_ds_type node_types[] = {
	RRD_GAUGE, RRD_GAUGE, RRD_GAUGE, RRD_GAUGE, RRD_GAUGE,  RRD_GAUGE,
	RRD_GAUGE, RRD_GAUGE, RRD_GAUGE, RRD_GAUGE, RRD_DERIVE, RRD_DERIVE,
};
static const char *const vm_names[] = {
	"maxcpu", "cpu", "maxmem", "mem", "maxdisk", "disk",
	"netin", "netout", "diskread", "diskwrite",
};
static const enum rrd_ds_type vm_types[] = {
	RRD_GAUGE,  RRD_GAUGE,	RRD_GAUGE,  RRD_GAUGE,	RRD_GAUGE,
	RRD_GAUGE,  RRD_DERIVE, RRD_DERIVE, RRD_DERIVE, RRD_DERIVE,
};

const struct rrd_schema rrd_schema_node = { "node", 12, node_names, node_types };
const struct rrd_schema rrd_schema_vm = { "vm", 10, vm_names, vm_types };

/* ---- layout ---- */

static size_t rra_size(size_t nds)
{
	return 8 + 8 * RRD_ROWS + 8 * nds * 3 + 8 * RRD_ROWS * nds * 2;
}

static size_t image_size(size_t nds)
{
	return sizeof(struct rrd_header) + 8 * nds * 3 + RRD_NRRA * rra_size(nds);
}

/* Points the views of DB into its image. */
static void map_views(struct rrd *db)
{
	size_t nds = db->s->nds;
	unsigned char *p = db->img + sizeof(struct rrd_header);

	db->h = (struct rrd_header *)db->img;
	db->last_raw = (double *)p;
	db->pdp_sum = db->last_raw + nds;
	db->pdp_known = db->pdp_sum + nds;
	p += 8 * nds * 3;
	for (size_t i = 0; i < RRD_NRRA; i++, p += rra_size(nds)) {
		struct rra_view *v = &db->rra[i];

		v->pdps = rra_pdps[i];
		v->cur_row = (int64_t *)p;
		v->slot_row = v->cur_row + 1;
		v->sum = (double *)(v->slot_row + RRD_ROWS);
		v->known = v->sum + nds;
		v->max = v->known + nds;
		v->avg_rows = v->max + nds;
		v->max_rows = v->avg_rows + RRD_ROWS * nds;
	}
}

static int alloc_db(const struct rrd_schema *s, struct rrd **out)
{
	struct rrd *db;

	if (s->nds == 0 || s->nds > RRD_MAX_DS || strlen(s->name) >= 8)
		return -EINVAL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->s = s;
	db->len = image_size(s->nds);
	db->img = calloc(1, db->len);
	if (!db->img) {
		free(db);
		return -ENOMEM;
	}
	map_views(db);
	*out = db;
	return 0;
}

static void rra_reset_acc(struct rra_view *v, size_t nds)
{
	for (size_t j = 0; j < nds; j++) {
		v->sum[j] = 0;
		v->known[j] = 0;
		v->max[j] = NAN;
	}
}

int rrd_new(const struct rrd_schema *s, struct rrd **out)
{
	struct rrd *db;
	int r = alloc_db(s, &db);

	if (r < 0)
		return r;
	memcpy(db->h->magic, RRD_MAGIC, sizeof(RRD_MAGIC));
	memcpy(db->h->schema, s->name, strlen(s->name));
	db->h->nds = (uint32_t)s->nds;
	db->h->step = RRD_STEP;
	db->h->rows = RRD_ROWS;
	db->h->nrra = RRD_NRRA;
	for (size_t j = 0; j < s->nds; j++)
		db->last_raw[j] = NAN;
	for (size_t i = 0; i < RRD_NRRA; i++) {
		*db->rra[i].cur_row = -1;
		for (size_t k = 0; k < RRD_ROWS; k++)
			db->rra[i].slot_row[k] = -1;
		rra_reset_acc(&db->rra[i], s->nds);
	}
	*out = db;
	return 0;
}

void rrd_free(struct rrd *db)
{
	if (!db)
		return;
	free(db->img);
	free(db);
}

const struct rrd_schema *rrd_schema_of(const struct rrd *db)
{
	return db->s;
}

int64_t rrd_last_update(const struct rrd *db)
{
	return db->h->last_update;
}

/* ---- consolidation ---- */

/* Stores the row being consolidated into its slot. */
static void rra_close_row(struct rra_view *v, size_t nds)
{
	int64_t row = *v->cur_row;
	size_t slot;
	int enough;

	if (row < 0)
		return;
	slot = (size_t)(row % RRD_ROWS);
	v->slot_row[slot] = row;
	for (size_t j = 0; j < nds; j++) {
		enough = v->known[j] > 0 && v->known[j] >= v->pdps * RRD_XFF;
		v->avg_rows[slot * nds + j] = enough ? v->sum[j] / v->known[j] : NAN;
		v->max_rows[slot * nds + j] = enough ? v->max[j] : NAN;
	}
}

/* Moves the archive to ROW, closing the row it was filling. */
static void rra_goto_row(struct rra_view *v, size_t nds, int64_t row)
{
	if (row == *v->cur_row)
		return;
	rra_close_row(v, nds);
	*v->cur_row = row;
	rra_reset_acc(v, nds);
}

static void rra_feed(struct rra_view *v, size_t nds, int64_t pdp, const double *val)
{
	rra_goto_row(v, nds, pdp / v->pdps);
	for (size_t j = 0; j < nds; j++) {
		if (isnan(val[j]))
			continue;
		v->sum[j] += val[j];
		v->known[j] += 1;
		if (isnan(v->max[j]) || val[j] > v->max[j])
			v->max[j] = val[j];
	}
}

/* Ends the PDP being filled and hands it to every archive. */
static void close_pdp(struct rrd *db)
{
	size_t nds = db->s->nds;
	double val[RRD_MAX_DS];

	for (size_t j = 0; j < nds; j++) {
		val[j] = db->pdp_known[j] >= RRD_STEP * RRD_XFF
				 ? db->pdp_sum[j] / db->pdp_known[j] : NAN;
		db->pdp_sum[j] = 0;
		db->pdp_known[j] = 0;
	}
	for (size_t i = 0; i < RRD_NRRA; i++)
		rra_feed(&db->rra[i], nds, db->h->pdp_index, val);
	db->h->pdp_index++;
}

/* N whole unknown PDPs at once (a long gap: the daemon was down). */
static void skip_pdps(struct rrd *db, int64_t n)
{
	int64_t last = db->h->pdp_index + n - 1;

	for (size_t i = 0; i < RRD_NRRA; i++)
		rra_goto_row(&db->rra[i], db->s->nds, last / db->rra[i].pdps);
	db->h->pdp_index += n;
}

static void add_piece(struct rrd *db, const double *v, int64_t secs)
{
	for (size_t j = 0; j < db->s->nds; j++) {
		if (isnan(v[j]))
			continue;
		db->pdp_sum[j] += v[j] * (double)secs;
		db->pdp_known[j] += (double)secs;
	}
}

static int all_unknown(const double *v, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (!isnan(v[j]))
			return 0;
	return 1;
}

/* V held from FROM to TO: spread over the PDPs it covers. */
static void spread(struct rrd *db, int64_t from, int64_t to, const double *v)
{
	int unknown = all_unknown(v, db->s->nds);

	while (from < to) {
		int64_t end = (db->h->pdp_index + 1) * RRD_STEP;
		int64_t b = to < end ? to : end;

		add_piece(db, v, b - from);
		from = b;
		if (b < end)
			break;
		close_pdp(db);
		if (unknown && to - from >= RRD_STEP) {
			int64_t n = (to - from) / RRD_STEP;

			skip_pdps(db, n);
			from += n * RRD_STEP;
		}
	}
}

/* The value each source held since the last update: gauges as given,
 * counters as their rate (unknown after a reset or before a first value). */
static void rates(struct rrd *db, int64_t t, const double *in, double *out)
{
	double dt = (double)(t - db->h->last_update);

	for (size_t j = 0; j < db->s->nds; j++) {
		out[j] = in[j];
		if (db->s->ds_types[j] != RRD_DERIVE)
			continue;
		out[j] = NAN;
		if (!isnan(in[j]) && !isnan(db->last_raw[j]) && in[j] >= db->last_raw[j] &&
		    db->h->last_update)
			out[j] = (in[j] - db->last_raw[j]) / dt;
		db->last_raw[j] = in[j];
	}
}

int rrd_update(struct rrd *db, int64_t t, const double *values)
{
	double v[RRD_MAX_DS];

	if (t <= db->h->last_update || t >= RRD_TIME_MAX)
		return -EINVAL;
	rates(db, t, values, v);
	if (db->h->last_update == 0) {
		db->h->pdp_index = t / RRD_STEP;
	} else {
		if (t - db->h->last_update > RRD_HEARTBEAT)
			for (size_t j = 0; j < db->s->nds; j++)
				v[j] = NAN;
		spread(db, db->h->last_update, t, v);
	}
	db->h->last_update = t;
	return 0;
}

/* ---- fetch ---- */

unsigned rrd_resolution(enum rrd_timeframe tf)
{
	return rra_pdps[tf] * RRD_STEP;
}

int rrd_timeframe_parse(const char *name)
{
	for (int i = 0; i < RRD_NRRA; i++)
		if (name && strcmp(name, timeframe_names[i]) == 0)
			return i;
	return -1;
}

int rrd_cf_parse(const char *name)
{
	if (!name || strcmp(name, "AVERAGE") == 0)
		return RRD_AVERAGE;
	return strcmp(name, "MAX") == 0 ? RRD_MAX : -1;
}

/* Source J of ROW while it is still being filled: the archive's partial
 * row plus the PDP in progress when that falls in ROW.  A PDP or a row
 * whose time is over (no update has closed it yet) is shown as closing
 * would keep it, so a value once shown for a past minute does not turn
 * unknown later (xff). */
static double partial(const struct rrd *db, const struct rra_view *v, int64_t row, size_t j,
		      enum rrd_cf cf, int64_t now)
{
	double sum = 0, n = 0, max = NAN;
	int64_t pdp_end = (db->h->pdp_index + 1) * RRD_STEP;
	int pdp_over = now >= pdp_end;
	int row_over = now >= (row + 1) * (int64_t)v->pdps * RRD_STEP;

	if (*v->cur_row == row && v->known[j] > 0) {
		sum = v->sum[j];
		n = v->known[j];
		max = v->max[j];
	}
	if (db->h->last_update && db->h->pdp_index / v->pdps == row && db->pdp_known[j] > 0 &&
	    (!pdp_over || db->pdp_known[j] >= RRD_STEP * RRD_XFF)) {
		double p = db->pdp_sum[j] / db->pdp_known[j];

		sum += p;
		n += 1;
		if (isnan(max) || p > max)
			max = p;
	}
	if (n == 0 || (row_over && n < v->pdps * RRD_XFF))
		return NAN;
	return cf == RRD_MAX ? max : sum / n;
}

static double row_value(const struct rrd *db, const struct rra_view *v, int64_t row, size_t j,
			enum rrd_cf cf, int64_t now)
{
	size_t nds = db->s->nds, slot;

	if (row < 0)
		return NAN;
	slot = (size_t)(row % RRD_ROWS);
	if (row >= *v->cur_row)
		return partial(db, v, row, j, cf, now);
	if (v->slot_row[slot] != row)
		return NAN;
	return cf == RRD_MAX ? v->max_rows[slot * nds + j] : v->avg_rows[slot * nds + j];
}

void rrd_fetch(const struct rrd *db, enum rrd_timeframe tf, enum rrd_cf cf, int64_t now,
	       int64_t *times, double *values)
{
	const struct rra_view *v = &db->rra[tf];
	int64_t res = (int64_t)rrd_resolution(tf), last = now / res;
	size_t nds = db->s->nds;

	for (size_t i = 0; i < RRD_ROWS; i++) {
		int64_t row = last - (RRD_ROWS - 1) + (int64_t)i;

		times[i] = row * res;
		for (size_t j = 0; j < nds; j++)
			values[i * nds + j] = row_value(db, v, row, j, cf, now);
	}
}

/* ---- image and files ---- */

const void *rrd_image(const struct rrd *db, size_t *len)
{
	*len = db->len;
	return db->img;
}

static int header_ok(const struct rrd_schema *s, const struct rrd_header *h)
{
	char name[8] = { 0 };

	memcpy(name, s->name, strlen(s->name));
	return memcmp(h->magic, RRD_MAGIC, sizeof(RRD_MAGIC)) == 0 &&
	       memcmp(h->schema, name, sizeof(name)) == 0 && h->nds == s->nds &&
	       h->step == RRD_STEP && h->rows == RRD_ROWS && h->nrra == RRD_NRRA &&
	       h->last_update >= 0 && h->last_update < RRD_TIME_MAX && h->pdp_index >= 0 &&
	       h->pdp_index <= h->last_update / RRD_STEP + 1;
}

/* Rows and slots within what the header's time allows. */
static int rras_ok(const struct rrd *db)
{
	for (size_t i = 0; i < RRD_NRRA; i++) {
		const struct rra_view *v = &db->rra[i];

		if (*v->cur_row < -1 || *v->cur_row > db->h->pdp_index / v->pdps + 1)
			return 0;
		for (size_t k = 0; k < RRD_ROWS; k++)
			if (v->slot_row[k] < -1 || v->slot_row[k] > *v->cur_row)
				return 0;
	}
	return 1;
}

int rrd_from_image(const struct rrd_schema *s, const void *data, size_t len, struct rrd **out)
{
	struct rrd *db;
	int r = alloc_db(s, &db);

	if (r < 0)
		return r;
	if (len != db->len) {
		rrd_free(db);
		return -EINVAL;
	}
	memcpy(db->img, data, len);
	if (!header_ok(s, db->h) || !rras_ok(db)) {
		rrd_free(db);
		return -EINVAL;
	}
	*out = db;
	return 0;
}

int rrd_load(const struct rrd_schema *s, const char *path, struct rrd **out)
{
	char *data;
	size_t len;
	int r = util_read_file(path, image_size(s->nds) + 1, &data, &len);

	if (r == -EFBIG)
		return -EINVAL;
	if (r < 0)
		return r;
	r = rrd_from_image(s, data, len, out);
	free(data);
	return r;
}

/* Statistics are not worth an fsync per file and minute: a file cut short
 * by a crash fails rrd_load's size check and starts afresh. */
int rrd_save(const struct rrd *db, const char *path)
{
	char tmp[PATH_MAX];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = util_write_all(fd, db->img, db->len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}
