/* Tests hv/blocknode.c's query-block parser: a drive's current nodes by
 * qdev id (plain id or QOM path), the names after a disk move, the argv
 * builder's names when the device is not there, and the move's next names. */
#include <string.h>

#include "hv/blocknode.h"
#include "tests/unit/test.h"

/* query-block of a VM with virtio0 moved once, scsi0 as started, a
 * virtio10 whose name shares virtio1's prefix, and an empty CD drive. */
static const char *const BLOCK =
    "[{\"device\":\"\",\"qdev\":\"/machine/peripheral/virtio0/virtio-backend\","
    "\"inserted\":{\"node-name\":\"mig-virtio0\"}},"
    "{\"device\":\"\",\"qdev\":\"scsi0\",\"inserted\":{\"node-name\":\"drive-scsi0\"}},"
    "{\"device\":\"\",\"qdev\":\"/machine/peripheral/virtio10/virtio-backend\","
    "\"inserted\":{\"node-name\":\"drive-virtio10\"}},"
    "{\"device\":\"\",\"qdev\":\"ide2\"}]";

static void test_parse_current(void)
{
	cJSON *ret = cJSON_Parse(BLOCK);
	struct hv_drive_nodes n;

	CHECK_INT(hv_blocknode_parse(ret, "virtio0", &n), 1);
	CHECK_STR(n.format, "mig-virtio0");
	CHECK_STR(n.file, "mig-file-virtio0");
	CHECK_INT(hv_blocknode_parse(ret, "scsi0", &n), 1);
	CHECK_STR(n.format, "drive-scsi0");
	CHECK_STR(n.file, "file-scsi0");
	CHECK_INT(hv_blocknode_parse(ret, "virtio10", &n), 1);
	CHECK_STR(n.format, "drive-virtio10");
	cJSON_Delete(ret);
}

static void test_parse_absent(void)
{
	cJSON *ret = cJSON_Parse(BLOCK);
	struct hv_drive_nodes n;

	/* not virtio10's device, despite the common prefix */
	CHECK_INT(hv_blocknode_parse(ret, "virtio1", &n), 0);
	CHECK_STR(n.format, "drive-virtio1");
	CHECK_STR(n.file, "file-virtio1");
	/* no medium */
	CHECK_INT(hv_blocknode_parse(ret, "ide2", &n), 0);
	CHECK_STR(n.format, "drive-ide2");
	/* no device of its own */
	CHECK_INT(hv_blocknode_parse(ret, "efidisk0", &n), 0);
	CHECK_STR(n.format, "drive-efidisk0");
	CHECK_INT(hv_blocknode_parse(NULL, "scsi0", &n), 0);
	cJSON_Delete(ret);
}

static void test_next(void)
{
	struct hv_drive_nodes cur = {"drive-virtio0", "file-virtio0"}, next, back;

	hv_blocknode_next(&cur, "virtio0", &next);
	CHECK_STR(next.format, "mig-virtio0");
	CHECK_STR(next.file, "mig-file-virtio0");
	hv_blocknode_next(&next, "virtio0", &back);
	CHECK_STR(back.format, "drive-virtio0");
	CHECK_STR(back.file, "file-virtio0");
}

static const struct test_case tests[] = {
    {"parse_current", test_parse_current},
    {"parse_absent", test_parse_absent},
    {"next", test_next},
};

TEST_MAIN(tests)
