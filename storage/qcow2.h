/* qcow2-specific operations on an open image: internal snapshots, check and
 * repair, amend, compressed writes, commit, rebase, the corrupt bit and
 * size estimates.  Get the handle with img_qcow2() (storage/image.h).
 *
 * Contract: as in image.h.  A struct qcow2 is borrowed from its img and valid
 * until img_close(); it shares the img's one-thread-at-a-time rule.
 * Operations that modify the image need an img opened with IMG_OPEN_RDWR
 * (else -EBADF). */
#ifndef CORRAL_STORAGE_QCOW2_H
#define CORRAL_STORAGE_QCOW2_H

#include <stddef.h>
#include <stdint.h>

#include "storage/image.h"

/* ---- persistent bitmaps (listed only) ---------------------------------------------- */

struct qcow2_bitmap_info {
	char *name; /* owned by the array, see qcow2_bitmap_list_free() */
	uint64_t granularity;
	int in_use, autoload;
};

/* Lists QEMU's persistent dirty bitmaps in directory order (none when the
 * autoclear bit says they are stale, as QEMU shows them).  *out is a new
 * array owned by the caller (NULL when *n == 0). */
int qcow2_bitmap_list(struct qcow2 *q, struct qcow2_bitmap_info **out, size_t *n);
void qcow2_bitmap_list_free(struct qcow2_bitmap_info *list, size_t n);

/* ---- internal snapshots -------------------------------------------------------- */

/* QEMU's limits (block/qcow2.h), enforced on open and on create. */
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024

struct qcow2_snapshot_info {
	char *id;   /* owned by the array, see qcow2_snapshot_list_free() */
	char *name;
	uint64_t vm_state_size; /* bytes of VM state stored with the snapshot */
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t disk_size;     /* virtual size when taken */
	int64_t icount;         /* -1 when not recorded */
	uint32_t extra_size;    /* bytes of extra data in the table entry (kept verbatim) */
};

/* Lists the snapshots in table order.  *out is a new array owned by the
 * caller (NULL when *n == 0), freed with qcow2_snapshot_list_free(). */
int qcow2_snapshot_list(struct qcow2 *q, struct qcow2_snapshot_info **out, size_t *n);
void qcow2_snapshot_list_free(struct qcow2_snapshot_info *list, size_t n);

/* Takes an internal disk-only snapshot named NAME (id: next free number).
 * Fails with CR_EEXISTS if a snapshot has that name or id. */
int qcow2_snapshot_create(struct qcow2 *q, const char *name, char *err, size_t errlen);
/* Reverts the active disk to the snapshot whose id or name is ID_OR_NAME (id
 * first, as qemu-img); the virtual size follows the snapshot's. */
int qcow2_snapshot_apply(struct qcow2 *q, const char *id_or_name, char *err, size_t errlen);
/* Deletes the snapshot and frees the clusters only it referenced (VM state
 * included). */
int qcow2_snapshot_delete(struct qcow2 *q, const char *id_or_name, char *err, size_t errlen);
/* On a read-only handle, reads show the snapshot whose id is ID and whose
 * name is NAME (either NULL: any) instead of the active disk, and the
 * virtual size becomes the snapshot's (qemu-img convert -l).  CR_ENOTFOUND
 * when none matches.  There is no way back: close the handle. */
int qcow2_snapshot_load_tmp(struct qcow2 *q, const char *id, const char *name, char *err, size_t errlen);

/* ---- check and repair ------------------------------------------------------------ */

#define QCOW2_REPAIR_LEAKS 0x1u  /* qemu-img check -r leaks */
#define QCOW2_REPAIR_ERRORS 0x2u /* with LEAKS: -r all (refcounts, COPIED flags, corrupt bit) */

/* Mirrors qemu-img check --output=json. */
struct qcow2_check_result {
	int64_t corruptions;       /* "corruptions" */
	int64_t leaks;             /* "leaks" */
	int64_t check_errors;      /* "check-errors" (I/O or allocation failures while checking) */
	int64_t corruptions_fixed; /* "corruptions-fixed" */
	int64_t leaks_fixed;       /* "leaks-fixed" */
	uint64_t image_end_offset; /* "image-end-offset" */
	uint64_t total_clusters;   /* "total-clusters" (guest clusters) */
	uint64_t allocated_clusters;
	uint64_t fragmented_clusters;
	uint64_t compressed_clusters;
};

/* One report line ("ERROR cluster 5 refcount=1 reference=2",
 * "Leaked cluster 9 refcount=1 reference=0", "ERROR OFLAG_COPIED ..."),
 * without newline.  LINE is valid during the call only. */
typedef void (*qcow2_report_fn)(void *opaque, const char *line);

/* Walks every L1/L2 table, snapshot and refcount block, compares the
 * references counted with the stored refcounts and fills *res (after a
 * repair: the state found before, plus the *_fixed counts, as qemu-img).
 * REPAIR needs a read-write handle (open with IMG_OPEN_CHECK to repair a
 * corrupt image).  REPORT may be NULL.  Returns 0 when the walk completed,
 * whatever it found; the caller maps results to qemu-img's exit codes. */
int qcow2_check(struct qcow2 *q, unsigned repair, struct qcow2_check_result *res,
		qcow2_report_fn report, void *opaque, char *err, size_t errlen);

/* ---- corrupt bit ----------------------------------------------------------------- */

int qcow2_is_corrupt(const struct qcow2 *q);
/* Sets the corrupt bit on disk (as QEMU does on an overlap); later
 * writes through this handle fail with CR_ECORRUPT.  REASON goes to
 * img_last_error(). */
int qcow2_mark_corrupt(struct qcow2 *q, const char *reason);

/* ---- amend ------------------------------------------------------------------------ */

#define QCOW2_AMEND_LAZY_REFCOUNTS 0x1u
#define QCOW2_AMEND_COMPAT 0x2u        /* 2 <-> 3 (downgrade only without v3-only features) */
#define QCOW2_AMEND_REFCOUNT_BITS 0x4u /* rewrites the refcount structures */
#define QCOW2_AMEND_BACKING 0x8u       /* same as qcow2_rebase(..., QCOW2_REBASE_UNSAFE) */
#define QCOW2_AMEND_SIZE 0x10u         /* same as img_resize() (grow only) */

struct qcow2_amend_opts {
	unsigned mask; /* which of the fields below to apply: QCOW2_AMEND_* */
	int lazy_refcounts;
	int compat;
	unsigned refcount_bits;
	const char *backing_file;
	const char *backing_format;
	uint64_t size;
};

int qcow2_amend(struct qcow2 *q, const struct qcow2_amend_opts *opts, char *err, size_t errlen);

/* ---- compressed write (convert -c) ----------------------------------------------- */

/* Writes one cluster compressed with the image's compression type (deflate,
 * or zstd when the header says so).  OFF is cluster-aligned; LEN is the
 * cluster size, or less for the last cluster of the disk.  The cluster must
 * be unallocated in this image (as qemu-img convert -c writes a fresh
 * target).  When compression does not shrink it, writes it uncompressed. */
int qcow2_write_compressed(struct qcow2 *q, uint64_t off, const void *buf, size_t len);

/* For convert -c on several threads: compress clusters anywhere (pure,
 * thread-safe), then link them on the image's thread.
 * qcow2_compress_cluster() compresses LEN bytes (zero-padded to CLUSTER_SIZE)
 * with TYPE (the target's qcow2_compression())
 * into DST (CLUSTER_SIZE bytes) and returns the compressed size, 0 when it
 * does not shrink (write the cluster with img_pwrite instead), or a negative
 * code.  qcow2_write_precompressed() stores such a result at cluster-aligned
 * OFF, under the same rules as qcow2_write_compressed(). */
long qcow2_compress_cluster(enum img_compression type, uint32_t cluster_size, const void *src, size_t len,
			   void *dst);
/* The same with a compressor that keeps its state between clusters (one
 * per thread; owned by the caller, freed with qcow2_zctx_free()).
 * qcow2_zctx_new() returns NULL for an unknown TYPE or without memory. */
struct qcow2_zctx;
struct qcow2_zctx *qcow2_zctx_new(enum img_compression type);
long qcow2_zctx_compress(struct qcow2_zctx *c, uint32_t cluster_size, const void *src, size_t len, void *dst);
void qcow2_zctx_free(struct qcow2_zctx *c);
/* The compression type compressed writes to Q use. */
enum img_compression qcow2_compression(const struct qcow2 *q);
int qcow2_write_precompressed(struct qcow2 *q, uint64_t off, const void *comp, size_t clen);

/* ---- commit and rebase ------------------------------------------------------------ */

#define QCOW2_COMMIT_KEEP 0x1u /* qemu-img commit -d: leave the top image as is
                                  (default: empty it afterwards) */
/* Copies every range allocated in the top image (and in the layers between
 * it and BASE) into BASE, a layer of Q's backing chain (img_backing() of
 * some layer; NULL: the direct backing file), which is reopened read-write
 * (and locked) for the duration.  The top image is emptied afterwards
 * unless QCOW2_COMMIT_KEEP (emptying makes sense only when BASE is the
 * direct backing file: qemu-img's -b implies -d).  PROGRESS may be NULL. */
int qcow2_commit(struct qcow2 *q, struct img *base, unsigned flags, img_progress_fn progress, void *opaque,
		 char *err, size_t errlen);

#define QCOW2_REBASE_UNSAFE 0x1u /* -u: only rewrite the header */
/* Makes NEW_BACKING (format NEW_FORMAT, NULL to probe; NULL or "" for
 * none) the backing file.  Safe mode first copies into the top image every
 * unallocated range whose content differs between the old and the new
 * chain, so the guest sees the same disk.  The new backing file is opened
 * read-only within ALLOWED_DIRS (NULL: the image's directory).
 * PROGRESS may be NULL. */
int qcow2_rebase(struct qcow2 *q, const char *new_backing, const char *new_format,
		 unsigned flags, const char *const *allowed_dirs,
		 img_progress_fn progress, void *opaque, char *err, size_t errlen);

/* ---- measure ----------------------------------------------------------------------- */

struct qcow2_measure {
	uint64_t required;        /* metadata + data that a convert would allocate */
	uint64_t fully_allocated; /* everything allocated (preallocation=full) */
};

/* Pure: the file sizes for a qcow2 of VIRTUAL_SIZE with the layout in OPTS
 * (cluster_size, refcount_bits, extended_l2; prealloc ignored) holding
 * DATA_BYTES of allocated guest data (round up to clusters beforehand).
 * Matches qemu-img measure. */
int qcow2_measure_size(const struct img_create_opts *opts, uint64_t virtual_size,
		       uint64_t data_bytes, struct qcow2_measure *out);

#endif
