/* Tests for server/rrd.c: consolidation (AVERAGE, MAX, counters, unknown
 * data), ring wraparound, long gaps, and the file image across save/load. */
#include "server/rrd.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A minute-aligned start well after the epoch (and aligned to a week). */
#define T0 ((int64_t)604800 * 2900)

static int64_t times[RRD_ROWS];
static double vals[RRD_ROWS * 16];

/* Node schema: index of "cpu" and of the counter "netin". */
#define CPU 2
#define NETIN 10
#define NDS 12

static void sample(struct rrd *db, int64_t t, double cpu, double netin)
{
	double v[NDS];

	for (size_t j = 0; j < NDS; j++)
		v[j] = NAN;
	v[CPU] = cpu;
	v[NETIN] = netin;
	CHECK_INT(rrd_update(db, t, v), 0);
}

/* Value of source J in the fetched row that starts at T; NAN if no such row. */
static double at(int64_t t, size_t j)
{
	for (size_t i = 0; i < RRD_ROWS; i++)
		if (times[i] == t)
			return vals[i * NDS + j];
	return NAN;
}

static int near(double a, double b)
{
	return fabs(a - b) < 1e-9 * (fabs(b) + 1);
}

static void test_gauge_average(void)
{
	struct rrd *db;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int64_t t = T0; t <= T0 + 600; t += 10)
		sample(db, t, 0.25, NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 600, times, vals);
	CHECK_INT(times[RRD_ROWS - 1], T0 + 600);
	CHECK_INT(times[0], T0 + 600 - 69 * 60);
	CHECK(near(at(T0, CPU), 0.25));
	CHECK(near(at(T0 + 540, CPU), 0.25));
	CHECK(isnan(at(T0 - 60, CPU)));	  /* before the first sample */
	CHECK(isnan(at(T0 + 300, 0)));	  /* loadavg never given */
	CHECK(isnan(at(T0 + 600, CPU)));  /* the row being filled holds nothing yet */
	rrd_free(db);
}

static void test_average_and_max(void)
{
	struct rrd *db;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	/* minute m holds the value m % 4: 0,1,2,3,0,1,... over one hour */
	for (int64_t t = T0 + 10; t <= T0 + 3600; t += 10)
		sample(db, t, (double)(((t - 1 - T0) / 60) % 4), NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 3600, times, vals);
	CHECK(near(at(T0 + 60, CPU), 1));
	CHECK(near(at(T0 + 180, CPU), 3));
	/* 30-minute rows: average of 30 minutes of 0..3 is 1.45 (7x6 + 3x0..1 ... ) */
	rrd_fetch(db, RRD_DAY, RRD_AVERAGE, T0 + 3600, times, vals);
	CHECK(near(at(T0, CPU), (7 * 6.0 + 0 + 1) / 30));
	rrd_fetch(db, RRD_DAY, RRD_MAX, T0 + 3600, times, vals);
	CHECK(near(at(T0, CPU), 3));
	CHECK(near(at(T0 + 1800, CPU), 3));
	rrd_free(db);
}

static void test_counter_rate(void)
{
	struct rrd *db;
	double c = 5e9;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int64_t t = T0; t <= T0 + 300; t += 10, c += 1000)
		sample(db, t, NAN, c);
	/* a reset (the counter went down) is one unknown interval, not a spike */
	sample(db, T0 + 310, NAN, 0);
	for (int64_t t = T0 + 320; t <= T0 + 600; t += 10)
		sample(db, t, NAN, (double)(t - T0 - 310) * 50);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 600, times, vals);
	CHECK(near(at(T0 + 60, NETIN), 100));
	CHECK(near(at(T0 + 240, NETIN), 100));
	CHECK(near(at(T0 + 300, NETIN), 50)); /* 10 s unknown, 50 s at 50/s */
	CHECK(near(at(T0 + 360, NETIN), 50));
	/* the 30-minute row being filled: five minutes at 100, five at 50 */
	rrd_fetch(db, RRD_DAY, RRD_AVERAGE, T0 + 600, times, vals);
	CHECK(near(at(T0, NETIN), 75));
	rrd_fetch(db, RRD_DAY, RRD_MAX, T0 + 600, times, vals);
	CHECK(near(at(T0, NETIN), 100));
	rrd_free(db);
}

static void test_gap_unknown(void)
{
	struct rrd *db;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int64_t t = T0; t <= T0 + 120; t += 10)
		sample(db, t, 1, NAN);
	/* nothing for five minutes: longer than the heartbeat */
	for (int64_t t = T0 + 420; t <= T0 + 720; t += 10)
		sample(db, t, 2, NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 720, times, vals);
	CHECK(near(at(T0 + 60, CPU), 1));
	CHECK(isnan(at(T0 + 180, CPU)));
	CHECK(isnan(at(T0 + 300, CPU)));
	CHECK(near(at(T0 + 480, CPU), 2));
	/* a clock going back is refused */
	{
		double v[NDS] = { 0 };

		CHECK_INT(rrd_update(db, T0 + 700, v), -EINVAL);
		CHECK_INT(rrd_update(db, T0 + 720, v), -EINVAL);
	}
	rrd_free(db);
}

/* 100 minutes of data: the hour archive keeps the last 70 rows, each slot
 * reused once, and shows the right minute in each. */
static void test_wraparound(void)
{
	struct rrd *db;
	int64_t end = T0 + 100 * 60;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int64_t t = T0 + 10; t <= end; t += 10)
		sample(db, t, (double)((t - 1 - T0) / 60), NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, end, times, vals);
	for (size_t i = 0; i < RRD_ROWS - 1; i++)
		CHECK(near(vals[i * NDS + CPU], (double)((times[i] - T0) / 60)));
	CHECK_INT(times[0], T0 + 31 * 60);
	rrd_free(db);
}

/* Two days away: every archive moves on without walking each minute;
 * what was before stays where the archive still reaches. */
static void test_long_gap(void)
{
	struct rrd *db;
	int64_t back = T0 + 2 * 86400;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int64_t t = T0; t <= T0 + 7200; t += 10)
		sample(db, t, 3, NAN);
	for (int64_t t = back; t <= back + 600; t += 10)
		sample(db, t, 4, NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, back + 600, times, vals);
	CHECK(near(at(back + 120, CPU), 4));
	CHECK(isnan(at(back - 600, CPU)));
	/* 3-hour rows: the first had two known hours of three (enough), the
	 * gap's rows none */
	rrd_fetch(db, RRD_WEEK, RRD_AVERAGE, back + 600, times, vals);
	CHECK(near(at(T0, CPU), 3));
	CHECK(isnan(at(T0 + 10800, CPU)));
	CHECK(isnan(at(T0 + 86400, CPU)));
	/* 12-hour rows: two hours of twelve is not enough */
	rrd_fetch(db, RRD_MONTH, RRD_AVERAGE, back + 600, times, vals);
	CHECK(isnan(at(T0, CPU)));
	CHECK(near(at(back, CPU), 4)); /* the row being filled */
	rrd_free(db);
}

static void test_partial_row(void)
{
	struct rrd *db;

	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	sample(db, T0 + 5, 0.5, NAN);
	sample(db, T0 + 15, 0.5, NAN);
	sample(db, T0 + 25, 0.7, NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 30, times, vals);
	CHECK(near(at(T0, CPU), 0.6));
	rrd_fetch(db, RRD_YEAR, RRD_MAX, T0 + 30, times, vals);
	CHECK(near(at(T0, CPU), 0.6));
	CHECK_INT(rrd_resolution(RRD_YEAR), 604800);
	/* the minute is over but no update has closed it: twenty seconds of
	 * sixty is too little (xff), as closing will decide */
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 61, times, vals);
	CHECK(isnan(at(T0, CPU)));
	rrd_free(db);

	/* forty seconds is enough: shown after the minute ends, the value
	 * stays the same once a late update (after a gap) closes it */
	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int t = 5; t <= 45; t += 10)
		sample(db, T0 + t, 0.4, NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 70, times, vals);
	CHECK(near(at(T0, CPU), 0.4));
	sample(db, T0 + 600, 0.9, NAN);
	rrd_fetch(db, RRD_HOUR, RRD_AVERAGE, T0 + 610, times, vals);
	CHECK(near(at(T0, CPU), 0.4));
	rrd_free(db);
}

static void test_parse(void)
{
	CHECK_INT(rrd_timeframe_parse("hour"), RRD_HOUR);
	CHECK_INT(rrd_timeframe_parse("year"), RRD_YEAR);
	CHECK_INT(rrd_timeframe_parse("decade"), -1);
	CHECK_INT(rrd_timeframe_parse(NULL), -1);
	CHECK_INT(rrd_cf_parse(NULL), RRD_AVERAGE);
	CHECK_INT(rrd_cf_parse("MAX"), RRD_MAX);
	CHECK_INT(rrd_cf_parse("max"), -1);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_INT(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void test_persistence(void)
{
	struct rrd *db, *back, *bad;
	char path[512];
	const void *img, *img2;
	size_t len, len2;

	snprintf(path, sizeof(path), "%s/100.rrd", test_tmpdir());
	CHECK_INT(rrd_load(&rrd_schema_vm, path, &back), -ENOENT);
	CHECK_INT(rrd_new(&rrd_schema_node, &db), 0);
	for (int64_t t = T0; t <= T0 + 900; t += 10)
		sample(db, t, 0.125, (double)t * 10);
	CHECK_INT(rrd_save(db, path), 0);
	CHECK_INT(rrd_load(&rrd_schema_vm, path, &back), -EINVAL);
	CHECK_INT(rrd_load(&rrd_schema_node, path, &back), 0);
	img = rrd_image(db, &len);
	img2 = rrd_image(back, &len2);
	CHECK_INT(len, len2);
	CHECK(memcmp(img, img2, len) == 0);
	CHECK_INT(rrd_last_update(back), T0 + 900);
	/* the loaded database carries on where the saved one stopped */
	sample(back, T0 + 960, 0.125, (double)(T0 + 960) * 10);
	rrd_fetch(back, RRD_HOUR, RRD_AVERAGE, T0 + 960, times, vals);
	CHECK(near(at(T0 + 900, CPU), 0.125));
	CHECK(near(at(T0 + 900, NETIN), 10));
	/* a file cut short or with a foreign header is refused */
	write_bytes(path, img, len - 8);
	CHECK_INT(rrd_load(&rrd_schema_node, path, &bad), -EINVAL);
	write_bytes(path, "garbage", 7);
	CHECK_INT(rrd_load(&rrd_schema_node, path, &bad), -EINVAL);
	CHECK_INT(rrd_from_image(&rrd_schema_vm, img, len, &bad), -EINVAL);
	CHECK_INT(rrd_from_image(&rrd_schema_node, img, len, &bad), 0);
	CHECK(rrd_schema_of(bad) == &rrd_schema_node);
	rrd_free(bad);
	rrd_free(back);
	rrd_free(db);
}

static const struct test_case tests[] = {
	{ "gauge_average", test_gauge_average },
	{ "average_and_max", test_average_and_max },
	{ "counter_rate", test_counter_rate },
	{ "gap_unknown", test_gap_unknown },
	{ "wraparound", test_wraparound },
	{ "long_gap", test_long_gap },
	{ "partial_row", test_partial_row },
	{ "parse", test_parse },
	{ "persistence", test_persistence },
};

TEST_MAIN(tests)
