/* Volume-level snapshots, growth, template bases and linked clones on a
 * pool (storage/pool_snap*.c), over the native qcow2 engine.  Library
 * rules as pool.h: no logging, 0 or a negative code, detail in ERR.
 * Every call opens the image itself: it fails with CR_ELOCKED while QEMU
 * holds the image (a running VM goes through QMP instead). */
#ifndef CORRAL_STORAGE_POOL_SNAP_H
#define CORRAL_STORAGE_POOL_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/pool.h"

/* ---- volume snapshots (storage/pool_snap.c) ---- */

enum pool_snap_op { POOL_SNAP_CREATE, POOL_SNAP_ROLLBACK, POOL_SNAP_DELETE };
/* Internal snapshot NAME of the qcow2 volume VOLID: create (CR_EEXISTS when
 * taken), roll back or delete (CR_ENOTFOUND when absent).  Raw volumes are
 * CR_EUNSUPPORTED. */
int pool_vol_snapshot(struct pool *p, const char *volid, enum pool_snap_op op, const char *name,
		      char *err, size_t errlen);
/* 1 if VOLID holds snapshot NAME, 0 if not, or a negative code. */
int pool_vol_snapshot_has(struct pool *p, const char *volid, const char *name, char *err,
			  size_t errlen);
/* 1 if VOLID can hold internal snapshots (qcow2), 0 if not (raw). */
int pool_vol_can_snapshot(const char *volid);
/* Grows VOLID to SIZE bytes (-EINVAL when SIZE is below the current size);
 * *OLD gets the size before (may be NULL). */
int pool_vol_grow(struct pool *p, const char *volid, uint64_t size, uint64_t *old, char *err,
		  size_t errlen);

/* Copies VOLID of P as it was at its internal snapshot SNAPNAME into a new
 * disk of DST for O->vmid in O->format (NULL: qcow2), as qemu-img convert -l does: the
 * source is opened shared, so a running VM may keep writing it (a
 * snapshot's clusters never change).  NEW_VOLID gets the new volume id;
 * nothing is left behind on failure.  (storage/pool_snap_read.c) */
int pool_vol_copy_snapshot(struct pool *p, const char *volid, const char *snapname,
			   struct pool *dst, const struct pool_copy_opts *o, char *new_volid,
			   size_t n, char *err, size_t errlen);

/* ---- template bases and linked clones (storage/pool_snap_clone.c) ---- */

/* Renames VM disk VOLID (".../vm-<vmid>-disk-N.fmt") to its base name
 * (".../base-<vmid>-disk-N.fmt") and makes the file read-only, as Proxmox's
 * create_base does; NEW_VOLID gets the new id.  A base stays as it is. */
int pool_vol_make_base(struct pool *p, const char *volid, char *new_volid, size_t n, char *err,
		       size_t errlen);
/* A linked clone of the base BASE_VOLID for VMID: a new qcow2
 * vm-<vmid>-disk-N whose backing file is the base (stored relative,
 * "../<base vmid>/base-...").  No data is copied. */
int pool_vol_link_clone(struct pool *p, const char *base_volid, int vmid, char *new_volid,
			size_t n, char *err, size_t errlen);
/* Calls FN for every image volume of P whose backing file is VOLID; a
 * non-zero return from FN stops the walk and is returned. */
int pool_vol_children(struct pool *p, const char *volid, pool_volume_fn fn, void *ctx);
/* The base volume id a linked clone VOLID is backed by, or "" when it has
 * none inside P. */
int pool_vol_base(struct pool *p, const char *volid, char *base_volid, size_t n, char *err,
		  size_t errlen);

#endif
