/* A drive's current block node names, from QEMU's query-block (see
 * blocknode.h): the parser is pure, the lookup one QMP call. */
#include "hv/blocknode.h"

#include <stdio.h>
#include <string.h>

#include "hv/vm.h"

#define QMP_TIMEOUT_MS 10000
#define MOVED_PREFIX "mig-" /* hv/migrate.c's disk move */
#define PERIPHERAL "/machine/peripheral/"

/* query-block names a device by its id ("scsi0") or, when the block
 * backend hangs off a child object, by its QOM path
 * ("/machine/peripheral/virtio0/virtio-backend"). */
static int qdev_is(const char *qdev, const char *key)
{
	size_t pl = strlen(PERIPHERAL), kl = strlen(key);

	if (strcmp(qdev, key) == 0)
		return 1;
	return strncmp(qdev, PERIPHERAL, pl) == 0 && strncmp(qdev + pl, key, kl) == 0 &&
	       (qdev[pl + kl] == '/' || qdev[pl + kl] == '\0');
}

/* Protocol node under format node FORMAT, by the pairs Corral creates. */
static void file_of(const char *format, const char *key, char *out, size_t n)
{
	if (strncmp(format, MOVED_PREFIX, strlen(MOVED_PREFIX)) == 0)
		snprintf(out, n, MOVED_PREFIX "file-%s", key);
	else
		snprintf(out, n, "file-%s", key);
}

int hv_blocknode_parse(const cJSON *ret, const char *key, struct hv_drive_nodes *n)
{
	const cJSON *dev;

	snprintf(n->format, sizeof(n->format), "drive-%s", key);
	cJSON_ArrayForEach(dev, ret)
	{
		const char *qdev =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "qdev"));
		const cJSON *ins = cJSON_GetObjectItemCaseSensitive(dev, "inserted");
		const char *node =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ins, "node-name"));

		if (qdev && node && node[0] && strlen(node) < sizeof(n->format) &&
		    qdev_is(qdev, key)) {
			snprintf(n->format, sizeof(n->format), "%s", node);
			file_of(n->format, key, n->file, sizeof(n->file));
			return 1;
		}
	}
	file_of(n->format, key, n->file, sizeof(n->file));
	return 0;
}

void hv_blocknode_next(const struct hv_drive_nodes *cur, const char *key,
		       struct hv_drive_nodes *next)
{
	int moved = strncmp(cur->format, MOVED_PREFIX, strlen(MOVED_PREFIX)) == 0;

	snprintf(next->format, sizeof(next->format), moved ? "drive-%s" : MOVED_PREFIX "%s", key);
	file_of(next->format, key, next->file, sizeof(next->file));
}

int hv_blocknode_get(struct hv *h, int vmid, const char *key, struct hv_drive_nodes *n, char *err,
		     size_t errlen)
{
	cJSON *ret = NULL;
	int r = hv_vm_qmp(h, vmid, "query-block", NULL, QMP_TIMEOUT_MS, &ret, err, errlen);

	if (r == 0)
		hv_blocknode_parse(ret, key, n);
	cJSON_Delete(ret);
	return r;
}
