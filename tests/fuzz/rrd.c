/* libFuzzer target for the round-robin statistics (server/rrd.c) and the
 * QMP argument converter (hv/hotplug.c).  Byte 0 picks: even, the rest is a
 * database file image (VM schema), fed a few samples and fetched when it is
 * accepted; odd, the rest is QEMU option text for hv_keyval_json (byte 0's
 * second bit: typed). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vm.h"
#include "server/rrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void image(const uint8_t *data, size_t size)
{
	static int64_t times[RRD_ROWS];
	static double vals[RRD_ROWS * RRD_MAX_DS];
	double v[RRD_MAX_DS];
	struct rrd *db;
	int64_t t;

	if (rrd_from_image(&rrd_schema_vm, data, size, &db) < 0)
		return;
	t = rrd_last_update(db);
	for (size_t j = 0; j < RRD_MAX_DS; j++)
		v[j] = (double)j;
	for (int i = 1; i <= 3; i++)
		rrd_update(db, t + 50 * i, v);
	for (int tf = 0; tf < RRD_TIMEFRAMES; tf++)
		rrd_fetch(db, (enum rrd_timeframe)tf, RRD_MAX, t + 200, times, vals);
	rrd_free(db);
}

static void keyval(const uint8_t *data, size_t size, int typed)
{
	char *s = malloc(size + 1);
	cJSON *o = NULL;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (hv_keyval_json(s, "driver", typed, &o) == 0)
		cJSON_Delete(o);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		keyval(data + 1, size - 1, (data[0] >> 1) & 1);
	else
		image(data + 1, size - 1);
	return 0;
}
