/* Private to server/api_qemu*.c: a VM's stored record (configuration,
 * pending changes, lock) in DB_VMS, and what the handlers share. */
#ifndef CORRAL_SERVER_QEMU_INT_H
#define CORRAL_SERVER_QEMU_INT_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/argv.h"
#include "hv/vmconf.h"
#include "server/router.h"
#include "server/tasks.h"

struct app;
struct store_txn;

#define QEMU_VMID_MIN 100
#define QEMU_VMID_MAX 999999999
#define QEMU_MAX_DISKS 64
/* How long a start waits for QEMU's QMP socket (TCG on a loaded host). */
#define QEMU_START_TIMEOUT_MS 30000

/* Parameter schema entries every qemu route shares. */
#define QEMU_NODE_PARAM                                                                            \
	{                                                                                          \
		.name = "node", .type = PT_STRING, .check = param_check_pve_node                   \
	}
#define QEMU_VMID_PARAM                                                                            \
	{                                                                                          \
		.name = "vmid", .type = PT_INTEGER, .min = QEMU_VMID_MIN, .max = QEMU_VMID_MAX,    \
		.check = param_check_pve_vmid                                                      \
	}
#define QEMU_BOOL_OPT(n)                                                                           \
	{                                                                                          \
		.name = n, .type = PT_BOOLEAN, .flags = PF_OPTIONAL                                \
	}

/* DB_VMS[vmid] = {"config":{k:v}, "pending":{k:v}, "delete":"k1,k2", "lock":"x"};
 * the digest is store_digest() of those stored bytes, pending part included,
 * as Proxmox's digest covers the whole file. */
struct qvm {
	struct vmconf *conf;	/* current configuration */
	struct vmconf *pending; /* changes waiting for the next start */
	struct vmconf *pdel;	/* keys to delete at the next start (values unused) */
	char lock[32];		/* "" or Proxmox's config lock (create, destroy...) */
	char digest[41];
	/* The record's "snapshots" object ({"parent", "list"}: see
	 * api_qemu_snapshot_tree.c), kept as stored; NULL when none. */
	cJSON *snaps;
	/* The cloud-init values its drive's image was last written from
	 * (api_qemu_cloudinit.c); NULL before the first image. */
	struct vmconf *cigen;
};

int qvm_init(struct qvm *vm);
void qvm_clear(struct qvm *vm);
/* A record as stored (DB_VMS value); the digest is left empty. */
int qvm_from_json(const cJSON *doc, struct qvm *vm);
/* CR_ENOTFOUND when VMID has no record. */
int qvm_load(struct store_txn *t, int vmid, struct qvm *vm);
int qvm_save(struct store_txn *t, int vmid, const struct qvm *vm);
/* qvm_load in its own read transaction. */
int qvm_read(struct app *app, int vmid, struct qvm *vm);
/* Loads VMID in a write transaction, lets FN change it (0 to store, else
 * its code is returned), stores and commits. */
int qvm_edit(struct app *app, int vmid, int (*fn)(struct qvm *vm, void *ctx), void *ctx);
/* Loads VMID, lets FN change it with CTX, saves it: one write transaction. */
int qvm_update(struct app *app, int vmid, void (*fn)(struct qvm *vm, const void *ctx),
	       const void *ctx);
/* Takes VMID for a new VM: an empty record locked LOCK (create, clone), so
 * a second reserve fails at once with CR_EEXISTS. */
int qvm_reserve(struct app *app, int vmid, const char *lock);
/* Stores CONF as the configuration of a reserved record and drops its lock. */
int qvm_finish_new(struct app *app, int vmid, const struct vmconf *conf);
/* Removes VMID's record (destroy; a failed create or clone). */
int qvm_drop(struct app *app, int vmid);
/* Replaces the configuration, pending changes and deletions of VM (freeing
 * the old ones) with CONF, PENDING and PDEL, which it takes. */
void qvm_replace(struct qvm *vm, struct vmconf *conf, struct vmconf *pending, struct vmconf *pdel);
/* The configuration with the pending changes applied (caller frees). */
struct vmconf *qvm_effective(const struct qvm *vm);
/* Moves the pending changes into the configuration. */
int qvm_apply_pending(struct qvm *vm);

/* The {vmid} parameter. */
int qemu_vmid(const struct req *req);
/* Proxmox's 500 for a missing VM: "Configuration file '...' does not exist". */
int qemu_no_such_vm(struct req *req, struct resp *resp, int vmid);
/* 500 "VM <id> is locked (<lock>)" unless skiplock is set or the VM has none. */
int qemu_check_lock(struct req *req, struct resp *resp, int vmid, const struct qvm *vm);
/* The checks before any change: {node} is this node, the VM exists
 * (Proxmox's 500 otherwise), it is not locked (unless skiplock). */
int qemu_check_vm(struct req *req, struct resp *resp, int vmid);
/* For read-only handlers: {node} is this node, then the {vmid} record
 * into VM (the caller clears it), or Proxmox's 500 for a missing VM. */
int qemu_read_or_fail(struct req *req, struct resp *resp, struct qvm *vm);
/* qemu_check_vm, then VMID's record into VM (the caller clears it). */
int qemu_load_checked(struct req *req, struct resp *resp, int vmid, struct qvm *vm);
/* Starts task TYPE on VMID holding the lock "vm:<vmid>" (so a second task
 * on the VM fails with CR_ELOCKED naming the holder) and answers with the
 * UPID, or as api_task_reply does for DELAY_S > 0.  ARG is always freed
 * with FREE_ARG. */
int qemu_task(struct req *req, struct resp *resp, const char *type, int vmid, task_fn fn, void *arg,
	      void (*free_arg)(void *), int delay_s);
/* 1 for the keys that name a volume (ideN, sataN, scsiN, virtioN, efidiskN,
 * tpmstateN, unusedN). */
int qemu_is_drive_key(const char *key);
/* 1 if the VM runs under this corrald. */
int qemu_running(struct app *app, int vmid);
/* 1 when CONF enables the QEMU guest agent ("1", "enabled=1,type=virtio"...). */
int qemu_agent_enabled(const struct vmconf *conf);

/* Where the volumes of CONF live on this node, for hv_vm_start. */
struct qemu_disks {
	struct hv_disk_path d[QEMU_MAX_DISKS];
	char key[QEMU_MAX_DISKS][16];
	char path[QEMU_MAX_DISKS][PATH_MAX];
	char format[QEMU_MAX_DISKS][8];
	size_t n;
};
int qemu_resolve_disks(struct app *app, const struct vmconf *conf, struct qemu_disks *out,
		       char *err, size_t errlen);
/* Volume ids of every volume CONF references (not CD-ROMs or ISO images),
 * passed to FN. */
int qemu_foreach_volume(const struct vmconf *conf, int (*fn)(const char *volid, void *ctx),
			void *ctx);

/* Checks the drives of the N keys/values against the pool: volumes must
 * exist inside it, new disks must name a known storage.  Errors per key. */
int qemu_check_volumes(const struct req *req, int vmid, const char *const *keys,
		       const char *const *values, size_t n, struct vmconf_errors *errs);
/* Allocates every new disk ("local:4") of CONF and rewrites its value to
 * the volume id plus size=.  Logs through LOG (may be NULL). */
int qemu_alloc_disks(struct app *app, int vmid, struct vmconf *conf, char *err, size_t errlen);
/* The volume id of a drive VALUE of KEY (not CD-ROMs); -EINVAL for none. */
int qemu_drive_volid(const char *key, const char *value, char *volid, size_t n);
/* KEY's disk in CONF is kept as the next free unusedN when NEW_VALUE (NULL:
 * the key goes away) no longer names the same volume, as Proxmox keeps a
 * detached disk. */
int qemu_keep_unused(struct vmconf *conf, const char *key, const char *new_value);
/* 1 with Proxmox-style detail in ERR when CONF is a template one of whose
 * bases still backs a linked clone (deleting it would break the clone),
 * else 0 (api_qemu_clone.c). */
int qemu_template_in_use(struct app *app, const struct vmconf *conf, char *err, size_t errlen);
/* "32G" as Proxmox writes sizes: the largest unit that divides BYTES. */
void qemu_size_text(uint64_t bytes, char *out, size_t n);
/* Fills errors in RESP from ERRS (a 400). */
int qemu_errors_reply(struct resp *resp, const struct vmconf_errors *errs);

/* The body of qmstart (also run by qmcreate with start=1): applies pending
 * changes, resolves the disks and starts QEMU, logging the accelerator and,
 * on failure, QEMU's own message. */
int qemu_task_start(struct task *t, int vmid, int timeout_s);
/* Splits the extra (configuration) parameters of REQ from those of SPEC:
 * fills KEYS/VALUES (borrowed from REQ) and adds an error per unknown key. */
size_t qemu_config_params(const struct req *req, const struct param_spec *spec, const char **keys,
			  const char **values, size_t max, struct vmconf_errors *errs);

/* After a config update of a running VM: applies the pending changes that
 * can change live (NICs and virtio/SCSI disks plugged or unplugged,
 * link_down) and moves them into the configuration; the rest stays
 * pending.  Logs each to T (may be NULL).  0, or the first failure with
 * "hotplug problem - <key>: <why>" in ERR (that change stays pending). */
int qemu_hotplug_pending(struct app *app, int vmid, struct task *t, char *err, size_t errlen);

/* Suspend to disk (api_qemu_suspend.c): the qmsuspend task for VMID
 * (statestorage, default "local"); and qmstart's resume from the state
 * volume named by CONF's vmstate, which it then frees. */
int qemu_suspend_todisk(struct req *req, struct resp *resp, int vmid);
int qemu_start_from_state(struct task *t, int vmid, const struct vmconf *conf,
			  const struct qemu_disks *disks, int timeout_s);

/* vmstatus: one row of GET /nodes/{node}/qemu and of status/current.
 * HOST_CPUS caps "cpus" (qemu_host_cpus(), read once per request: it costs
 * a sysfs read).  CACHED takes the running figures from hv's snapshot
 * (hv_vm_status_cached: no QMP, for list views), else asks QEMU. */
cJSON *qemu_vmstatus(struct app *app, int vmid, const struct qvm *vm, unsigned host_cpus,
		     int cached);
unsigned qemu_host_cpus(void);
/* The same row for list views, already rendered (a cJSON raw item: the
 * list answers hundreds of rows and cJSON's number printing dominated):
 * vmstatus for GET /nodes/{node}/qemu when NODE is NULL, else the
 * /cluster/resources row of a VM on NODE.  Running figures come from hv's
 * snapshot.  NULL when out of memory. */
cJSON *qemu_list_row(struct app *app, int vmid, const struct qvm *vm, unsigned host_cpus,
		     const char *node);

/* What a VM's list row takes from its configuration alone, so a cache can
 * keep it per stored configuration (server/rescache.c).  TAGS and LOCK point
 * into the qvm it was read from; NULL when absent. */
struct qemu_rowconf {
	char name[256];
	int64_t cpus; /* sockets x cores, or vcpus; not yet capped at the host's */
	uint64_t maxmem, maxdisk;
	int is_template, agent, serial;
	const char *tags, *lock;
};
void qemu_rowconf(int vmid, const struct qvm *vm, struct qemu_rowconf *rc);
/* The running figures of a list row: hv's snapshot (all zero when stopped
 * or without hv), so that the same figures give the same bytes. */
struct hv_vm_status;
void qemu_row_status(struct app *app, int vmid, struct hv_vm_status *st);
/* Appends the list row of VMID from RC and ST to B, as qemu_list_row
 * renders it: vmstatus when NODE is NULL, else the /cluster/resources row
 * of a VM on NODE. */
struct buf;
void qemu_row_text(int vmid, const struct qemu_rowconf *rc, unsigned host_cpus, const char *node,
		   const struct hv_vm_status *st, struct buf *b);

/* Cloud-init drives (api_qemu_cloudinit.c). */
struct task;
/* 1 when VOLNAME is VMID's cloud-init volume ("100/vm-100-cloudinit.qcow2"). */
int qemu_cloudinit_volume(int vmid, const char *volname);
/* Allocates the cloud-init volume for the drive D ("STORAGE:cloudinit"),
 * 4 MiB in D's format (qcow2 by default), and makes D that CD-ROM. */
int qemu_cloudinit_alloc(struct app *app, int vmid, struct vmconf_drive *d, char *err,
			 size_t errlen);
/* OLD, the value of drive KEY being replaced by NOW (NULL: deleted):
 * when it is VMID's cloud-init drive and NOW does not keep that volume,
 * the volume is freed (Proxmox does not keep it as unusedN).  1 then, else 0. */
int qemu_cloudinit_retire(struct app *app, int vmid, const char *key, const char *old,
			  const char *now);
/* The same for the drives VM's pending changes replace or delete, as they
 * are applied at a start.  0. */
int qemu_cloudinit_retire_pending(struct app *app, int vmid, const struct qvm *vm);
/* Clone: CONF (VMID's configuration, being made NEWID's) gets a cloud-init
 * drive of its own, as Proxmox allocates one for the clone (its image is
 * written at the clone's start).  1 with the new volume id in VOLID, 0
 * when CONF has no such drive, or a negative code with ERR. */
int qemu_cloudinit_clone(struct app *app, int vmid, int newid, struct vmconf *conf, char *volid,
			 size_t n, char *err, size_t errlen);
/* 1 with the volume id of CONF's cloud-init drive in VOLID, or 0 without
 * one. */
int qemu_cloudinit_volid(const struct vmconf *conf, int vmid, char *volid, size_t n);
/* A migration target: writes the image of CONF's cloud-init drive (the
 * source does not copy CD-ROMs), allocating its volume.  1 with the
 * volume id in VOLID, 0 without such a drive, or a negative code. */
int qemu_cloudinit_prepare(struct app *app, int vmid, const struct vmconf *conf, char *volid,
			   size_t n, char *err, size_t errlen);
/* At start: writes the image of CONF's cloud-init drive (if any) and
 * records the values it was made from.  0, or the task's failure. */
int qemu_cloudinit_start(struct task *t, int vmid, const struct vmconf *conf);

#endif
