/* Tests for server/rrdstat.c: the physical-NIC sums of /proc/net/dev, and
 * the sampling round, rrddata rows and files against a real store with a
 * VM record (no hv: the VM reads as stopped). */
#include "server/rrdstat.h"
#include "tests/unit/test.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/app.h"
#include "server/store.h"

static const char net_dev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
    "  eth0: 5000 50 0 0 0 0 0 0 7000 70 0 0 0 0 0 0\n"
    "enp3s0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n"
    "enp3s0.10: 99 1 0 0 0 0 0 0 99 2 0 0 0 0 0 0\n"
    "tap100i0: 300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0\n"
    "vmbr0: 300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0\n"
    "veth1: 300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0\n"
    "ethx: 300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0\n";

static void test_net_dev(void)
{
	uint64_t rx, tx;

	CHECK_INT(rrdstat_parse_net_dev(net_dev, &rx, &tx), 0);
	CHECK_INT(rx, 5100);
	CHECK_INT(tx, 7200);
	CHECK_INT(rrdstat_parse_net_dev("nothing here\n", &rx, &tx), -EINVAL);
	CHECK_INT(rrdstat_parse_net_dev("Inter-| Receive\n eth0: 12 x\n", &rx, &tx), -EINVAL);
}

static void put_vm(struct store *s, const char *vmid)
{
	struct store_txn *t;
	cJSON *doc = cJSON_Parse("{\"config\":{\"memory\":\"512\",\"cores\":\"2\"}}");

	CHECK_INT(store_begin(s, 0, &t), 0);
	CHECK_INT(store_put(t, DB_VMS, vmid, doc), 0);
	CHECK_INT(store_commit(t), 0);
	cJSON_Delete(doc);
}

static const cJSON *last_with(const cJSON *rows, const char *key)
{
	const cJSON *row, *found = NULL;

	cJSON_ArrayForEach(row, rows)
		if (cJSON_GetObjectItem(row, key))
			found = row;
	return found;
}

static void test_rounds_and_files(void)
{
	struct app app;
	struct rrdstat *rs;
	char dir[600], db[600], path[700], err[256];
	cJSON *rows;
	const cJSON *row;
	int64_t t = 1700000000 - 1700000000 % 60;
	struct stat sb;

	memset(&app, 0, sizeof(app));
	snprintf(app.cfg.node, sizeof(app.cfg.node), "n1");
	snprintf(app.cfg.data_dir, sizeof(app.cfg.data_dir), "%s", test_tmpdir());
	snprintf(db, sizeof(db), "%s/db", test_tmpdir());
	snprintf(dir, sizeof(dir), "%s/rrd", test_tmpdir());
	CHECK_INT(store_open(db, &app.store, err, sizeof(err)), 0);
	put_vm(app.store, "101");
	CHECK_INT(rrdstat_new(&app, dir, 0, &rs, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++)
		rrdstat_sample(rs, t + 5 + 10 * i);
	CHECK_INT(rrdstat_fetch(rs, 101, RRD_HOUR, RRD_AVERAGE, t + 40, &rows), 0);
	CHECK_INT(cJSON_GetArraySize(rows), RRD_ROWS);
	row = last_with(rows, "maxmem");
	CHECK(row != NULL);
	if (row) {
		CHECK_INT(cJSON_GetObjectItem(row, "time")->valuedouble, t);
		CHECK_INT(cJSON_GetObjectItem(row, "maxmem")->valuedouble, 512 << 20);
		CHECK_INT(cJSON_GetObjectItem(row, "maxcpu")->valuedouble, 2);
		CHECK_INT(cJSON_GetObjectItem(row, "cpu")->valuedouble, 0);
	}
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "maxmem") == NULL);
	cJSON_Delete(rows);
	CHECK_INT(rrdstat_fetch(rs, 0, RRD_DAY, RRD_MAX, t + 40, &rows), 0);
	row = last_with(rows, "memtotal");
	CHECK(row && cJSON_GetObjectItem(row, "memtotal")->valuedouble > 0);
	cJSON_Delete(rows);
	rrdstat_free(rs);
	/* one file per object, kept across a restart */
	snprintf(path, sizeof(path), "%s/vm-101.rrd", dir);
	CHECK_INT(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/node-n1.rrd", dir);
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(rrdstat_new(&app, dir, 0, &rs, err, sizeof(err)), 0);
	CHECK_INT(rrdstat_fetch(rs, 101, RRD_HOUR, RRD_AVERAGE, t + 40, &rows), 0);
	row = last_with(rows, "maxmem");
	CHECK(row && cJSON_GetObjectItem(row, "maxmem")->valuedouble == 512 << 20);
	cJSON_Delete(rows);
	rrdstat_free(rs);
	store_close(app.store);
}

static const struct test_case tests[] = {
	{ "net_dev", test_net_dev },
	{ "rounds_and_files", test_rounds_and_files },
};

TEST_MAIN(tests)
