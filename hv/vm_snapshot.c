/* Snapshots and growth of a running VM through QMP: per-drive internal
 * snapshots in one transaction, snapshot-save/-load jobs waited for by
 * polling query-jobs, block_resize. */
#include "hv/vm_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/blocknode.h"
#include "hv/vm.h"

#define QMP_TIMEOUT_MS 30000
#define JOB_ID "corral-snapshot"
#define JOB_POLL_US 50000
#define JOB_CANCEL_WAIT_MS 10000

/* The format node drive KEY uses now (a live disk move renames it). */
static int node_name(struct hv *h, int vmid, const char *key, char *out, size_t n, char *err,
		     size_t errlen)
{
	struct hv_drive_nodes dn;
	int r = hv_blocknode_get(h, vmid, key, &dn, err, errlen);

	if (r == 0)
		snprintf(out, n, "%s", dn.format);
	return r;
}

/* The format nodes of the N drives KEYS as a JSON array in *OUT. */
static int node_list(struct hv *h, int vmid, const char *const *keys, size_t n, cJSON **out,
		     char *err, size_t errlen)
{
	cJSON *a = cJSON_CreateArray();
	char node[HV_NODE_MAX];
	int r = a ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = node_name(h, vmid, keys[i], node, sizeof(node), err, errlen)) == 0)
			cJSON_AddItemToArray(a, cJSON_CreateString(node));
	if (r < 0)
		cJSON_Delete(a);
	*out = r == 0 ? a : NULL;
	return r;
}

/* One {"type": TYPE, "data": {"device": NODE, "name": NAME}} action. */
static cJSON *internal_action(const char *type, const char *node, const char *name)
{
	cJSON *act = cJSON_CreateObject(), *data = cJSON_CreateObject();

	cJSON_AddStringToObject(data, "device", node);
	cJSON_AddStringToObject(data, "name", name);
	cJSON_AddStringToObject(act, "type", type);
	cJSON_AddItemToObject(act, "data", data);
	return act;
}

int hv_vm_snap_create(struct hv *h, int vmid, const char *const *keys, size_t n,
		      const char *name, char *err, size_t errlen)
{
	cJSON *args = cJSON_CreateObject(), *acts = cJSON_AddArrayToObject(args, "actions");
	char node[HV_NODE_MAX];
	int r = acts ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = node_name(h, vmid, keys[i], node, sizeof(node), err, errlen)) == 0)
			cJSON_AddItemToArray(acts, internal_action("blockdev-snapshot-internal-sync",
								   node, name));
	if (r == 0)
		r = hv_vm_qmp(h, vmid, "transaction", args, QMP_TIMEOUT_MS, NULL, err, errlen);
	cJSON_Delete(args);
	return r;
}

int hv_vm_snap_delete(struct hv *h, int vmid, const char *const *keys, size_t n,
		      const char *name, char *err, size_t errlen)
{
	char node[HV_NODE_MAX];
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		cJSON *act;

		if ((r = node_name(h, vmid, keys[i], node, sizeof(node), err, errlen)) < 0)
			break;
		act = internal_action("", node, name);
		r = hv_vm_qmp(h, vmid, "blockdev-snapshot-delete-internal-sync",
			      cJSON_GetObjectItem(act, "data"), QMP_TIMEOUT_MS, NULL, err, errlen);
		cJSON_Delete(act);
	}
	return r;
}

/* JOB_ID's entry of query-jobs: 1 concluded (ERR filled when it failed,
 * R set), 0 still going, or a negative code. */
static int job_state(struct hv *h, int vmid, int *r, char *err, size_t errlen)
{
	cJSON *jobs = NULL, *j;
	int done = -ENOENT;

	if ((done = hv_vm_qmp(h, vmid, "query-jobs", NULL, QMP_TIMEOUT_MS, &jobs, err, errlen)) < 0)
		return done;
	done = -ENOENT;
	cJSON_ArrayForEach(j, jobs)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "status"));
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(j, "error"));

		if (!id || strcmp(id, JOB_ID) != 0 || !st)
			continue;
		done = strcmp(st, "concluded") == 0;
		*r = 0;
		if (done && e) {
			snprintf(err, errlen, "%s", e);
			*r = CR_EQMP;
		}
	}
	cJSON_Delete(jobs);
	if (done == -ENOENT)
		snprintf(err, errlen, "QEMU lost job %s", JOB_ID);
	return done;
}

static int wait_job(struct hv *h, int vmid, const char *cmd, int timeout_ms, char *err,
		    size_t errlen);
static void job_call(struct hv *h, int vmid, const char *cmd);

/* Runs CMD (snapshot-save or -load) as job JOB_ID and waits for its end. */
static int run_job(struct hv *h, int vmid, const char *cmd, const char *const *keys, size_t n,
		   const char *state_key, const char *name, int timeout_ms, char *err,
		   size_t errlen)
{
	cJSON *args = cJSON_CreateObject(), *devices = NULL;
	char node[HV_NODE_MAX];
	int r;

	job_call(h, vmid, "job-dismiss"); /* one left concluded by an earlier corrald */
	r = node_name(h, vmid, state_key, node, sizeof(node), err, errlen);
	if (r == 0)
		r = node_list(h, vmid, keys, n, &devices, err, errlen);
	cJSON_AddStringToObject(args, "job-id", JOB_ID);
	cJSON_AddStringToObject(args, "tag", name);
	cJSON_AddStringToObject(args, "vmstate", node);
	cJSON_AddItemToObject(args, "devices", devices);
	if (r == 0)
		r = hv_vm_qmp(h, vmid, cmd, args, QMP_TIMEOUT_MS, NULL, err, errlen);
	cJSON_Delete(args);
	return r < 0 ? r : wait_job(h, vmid, cmd, timeout_ms, err, errlen);
}

static void job_call(struct hv *h, int vmid, const char *cmd)
{
	cJSON *id = cJSON_CreateObject();

	cJSON_AddStringToObject(id, "id", JOB_ID);
	hv_vm_qmp(h, vmid, cmd, id, QMP_TIMEOUT_MS, NULL, NULL, 0);
	cJSON_Delete(id);
}

/* Waits for job JOB_ID (started by CMD) to conclude, then dismisses it.
 * Past TIMEOUT_MS the job is cancelled (and waited for a little longer, so
 * its id is free for the next job). */
static int wait_job(struct hv *h, int vmid, const char *cmd, int timeout_ms, char *err,
		    size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	int done = 0, jr = 0, cancelled = 0;

	while ((done = job_state(h, vmid, &jr, err, errlen)) == 0) {
		if (util_now_ms() > deadline) {
			if (cancelled)
				break;
			job_call(h, vmid, "job-cancel");
			cancelled = 1;
			deadline = util_now_ms() + JOB_CANCEL_WAIT_MS;
		}
		usleep(JOB_POLL_US);
	}
	if (done < 0)
		return done;
	if (done)
		job_call(h, vmid, "job-dismiss");
	if (cancelled) {
		snprintf(err, errlen, "%s did not finish within %d s (cancelled)", cmd,
			 timeout_ms / 1000);
		return CR_ETIMEOUT;
	}
	return jr;
}

int hv_vm_snap_save(struct hv *h, int vmid, const char *const *keys, size_t n,
		    const char *state_key, const char *name, int timeout_ms, char *err,
		    size_t errlen)
{
	return run_job(h, vmid, "snapshot-save", keys, n, state_key, name, timeout_ms, err,
		       errlen);
}

int hv_vm_snap_load(struct hv *h, int vmid, const char *const *keys, size_t n,
		    const char *state_key, const char *name, int timeout_ms, char *err,
		    size_t errlen)
{
	return run_job(h, vmid, "snapshot-load", keys, n, state_key, name, timeout_ms, err,
		       errlen);
}

int hv_vm_block_resize(struct hv *h, int vmid, const char *key, uint64_t size, char *err,
		       size_t errlen)
{
	cJSON *args = cJSON_CreateObject();
	char node[HV_NODE_MAX];
	int r = node_name(h, vmid, key, node, sizeof(node), err, errlen);

	cJSON_AddStringToObject(args, "node-name", node);
	cJSON_AddNumberToObject(args, "size", (double)size);
	if (r == 0)
		r = hv_vm_qmp(h, vmid, "block_resize", args, QMP_TIMEOUT_MS, NULL, err, errlen);
	cJSON_Delete(args);
	return r;
}

/* blockdev-add of the target file TARGET as node "clone-<key>". */
static int add_target(struct hv *h, int vmid, const char *node, const char *target,
		      const char *format, char *err, size_t errlen)
{
	cJSON *args = cJSON_CreateObject(), *file = cJSON_CreateObject();
	int r;

	cJSON_AddStringToObject(file, "driver", "file");
	cJSON_AddStringToObject(file, "filename", target);
	cJSON_AddStringToObject(args, "driver", format);
	cJSON_AddStringToObject(args, "node-name", node);
	cJSON_AddItemToObject(args, "file", file);
	r = hv_vm_qmp(h, vmid, "blockdev-add", args, QMP_TIMEOUT_MS, NULL, err, errlen);
	cJSON_Delete(args);
	return r;
}

int hv_vm_drive_backup(struct hv *h, int vmid, const char *key, const char *target,
		       const char *format, int timeout_ms, char *err, size_t errlen)
{
	cJSON *args;
	char node[HV_NODE_MAX], tnode[48];
	int r = node_name(h, vmid, key, node, sizeof(node), err, errlen);

	snprintf(tnode, sizeof(tnode), "clone-%s", key);
	if (r < 0 || (r = add_target(h, vmid, tnode, target, format, err, errlen)) < 0)
		return r;
	job_call(h, vmid, "job-dismiss");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "job-id", JOB_ID);
	cJSON_AddStringToObject(args, "device", node);
	cJSON_AddStringToObject(args, "target", tnode);
	cJSON_AddStringToObject(args, "sync", "full");
	cJSON_AddBoolToObject(args, "auto-dismiss", 0);
	r = hv_vm_qmp(h, vmid, "blockdev-backup", args, QMP_TIMEOUT_MS, NULL, err, errlen);
	cJSON_Delete(args);
	if (r == 0)
		r = wait_job(h, vmid, "blockdev-backup", timeout_ms, err, errlen);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "node-name", tnode);
	hv_vm_qmp(h, vmid, "blockdev-del", args, QMP_TIMEOUT_MS, NULL, NULL, 0);
	cJSON_Delete(args);
	return r;
}
