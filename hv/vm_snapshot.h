/* Snapshots and growth of a running VM's disks through QMP (hv/vm_snapshot.c):
 * internal qcow2 snapshots per drive, QEMU's snapshot-save/-load jobs with
 * the VM state, block_resize.  Drives are named by their keys; the format
 * node each uses now is asked from QEMU (hv/blocknode.h), since a live disk
 * move renames it.  Library rules as hv/vm.h. */
#ifndef CORRAL_HV_VM_SNAPSHOT_H
#define CORRAL_HV_VM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct hv;

/* Takes internal snapshot NAME of the N drives KEYS ("scsi0", ...) in one
 * QMP transaction (all or none), without the VM state. */
int hv_vm_snap_create(struct hv *h, int vmid, const char *const *keys, size_t n,
		      const char *name, char *err, size_t errlen);
/* Deletes internal snapshot NAME from each of the N drives (VM state too). */
int hv_vm_snap_delete(struct hv *h, int vmid, const char *const *keys, size_t n,
		      const char *name, char *err, size_t errlen);
/* snapshot-save: the N drives and the VM state (into drive STATE_KEY, one of
 * KEYS) under tag NAME; waits up to TIMEOUT_MS for the job.  The VM runs on
 * afterwards as it ran before. */
int hv_vm_snap_save(struct hv *h, int vmid, const char *const *keys, size_t n,
		    const char *state_key, const char *name, int timeout_ms, char *err,
		    size_t errlen);
/* snapshot-load: the drives and the VM state saved by hv_vm_snap_save; the
 * VM runs afterwards if it ran before. */
int hv_vm_snap_load(struct hv *h, int vmid, const char *const *keys, size_t n,
		    const char *state_key, const char *name, int timeout_ms, char *err,
		    size_t errlen);
/* Copies drive KEY of the running VM into the existing image TARGET
 * (FORMAT "qcow2" or "raw", at least as large) with QEMU's blockdev-backup
 * (sync=full: the disk as it was when the job started); waits up to
 * TIMEOUT_MS. */
int hv_vm_drive_backup(struct hv *h, int vmid, const char *key, const char *target,
		       const char *format, int timeout_ms, char *err, size_t errlen);
/* block_resize of drive KEY to SIZE bytes. */
int hv_vm_block_resize(struct hv *h, int vmid, const char *key, uint64_t size, char *err,
		       size_t errlen);

#endif
