/* One image interface over raw files and qcow2: open, create, byte-granular
 * I/O, block status and info.  qcow2-only operations live in qcow2.h.
 *
 * Contract (LMDB-style): every call returns 0 or a negative code (-errno or a
 * CR_E* code from common/err.h).  Calls that take `char *err, size_t errlen`
 * write one human line there on failure (errlen may be 0).  The I/O calls
 * keep their detail in the handle: img_last_error().
 * Threads: an img handle (and its backing chain) is used by one thread at a
 * time; distinct handles may be used concurrently from different threads.
 * The library keeps no global state and never logs. */
#ifndef CORRAL_STORAGE_IMAGE_H
#define CORRAL_STORAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct img;   /* an open image and, unless IMG_OPEN_NO_BACKING, its backing chain */
struct qcow2; /* qcow2 view of an img, see qcow2.h */

enum img_format { IMG_FMT_RAW = 0, IMG_FMT_QCOW2 = 1 };

/* ---- host file I/O layer ------------------------------------------------ */

/* Every byte the engine reads or writes on a host file goes through these
 * ops, so tests can inject faults (crash after the Nth write or flush).
 * Each returns 0 or -errno; pread past EOF fills zeros and returns 0.
 * ctx is the caller's; the ops table and ctx must outlive every img using
 * them.  Locking (OFD fcntl) is done on fd directly, not through the ops. */
struct img_io_ops {
	int (*pread)(void *ctx, int fd, void *buf, size_t len, uint64_t off);
	int (*pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off);
	int (*flush)(void *ctx, int fd);
	int (*truncate)(void *ctx, int fd, uint64_t len);
	/* Deallocate a range (hole punch); the range must read back as zeros. */
	int (*punch)(void *ctx, int fd, uint64_t off, uint64_t len);
	/* Reserve blocks (posix_fallocate semantics); may extend the file. */
	int (*falloc)(void *ctx, int fd, uint64_t off, uint64_t len);
	int (*size)(void *ctx, int fd, uint64_t *out);
};

/* The plain POSIX implementation (pread/pwrite/fdatasync/ftruncate/fallocate).
 * Static storage, never NULL. */
const struct img_io_ops *img_io_posix(void);

/* ---- open ------------------------------------------------------------------ */

#define IMG_OPEN_RDWR 0x1u       /* without it: read-only */
#define IMG_OPEN_SHARED 0x2u     /* qemu-img -U: take no lock, tolerate a writer */
#define IMG_OPEN_NO_BACKING 0x4u /* do not open the backing chain; unallocated reads as zeros */
#define IMG_OPEN_CHECK 0x8u      /* for check/repair: open a corrupt image read-write,
                                    do not repair a dirty image automatically */

#define IMG_DEFAULT_MAX_DEPTH 64 /* backing chain depth limit when max_depth == 0 */

struct img_open_opts {
	unsigned flags;     /* IMG_OPEN_* */
	const char *format; /* "raw", "qcow2" or NULL to probe */
	/* NULL-terminated list of directories a backing file must resolve into
	 * (after realpath()).  NULL means only the directory of the image being
	 * opened (of the top image for the whole chain).  Borrowed for the call. */
	const char *const *allowed_dirs;
	uint64_t l2_cache_bytes;       /* 0: enough to cover the whole disk, capped at 32 MiB */
	uint64_t refcount_cache_bytes; /* 0: 256 KiB */
	unsigned max_depth;            /* 0: IMG_DEFAULT_MAX_DEPTH */
	const struct img_io_ops *io;   /* NULL: img_io_posix() */
	void *io_ctx;
};

/* Guess the format of PATH from its first bytes (qcow2 magic, else raw).
 * Never follows backing files. */
int img_probe(const char *path, enum img_format *out, char *err, size_t errlen);

/* Opens PATH (and its backing chain) and stores a new handle in *out, owned by
 * the caller, released with img_close().  OPTS may be NULL (read-only, probe).
 * A read-write open takes QEMU's OFD locks (bytes 100+perm, 200+perm) and
 * fails with CR_ELOCKED while another process (QEMU) holds a conflicting one;
 * a read-only open without IMG_OPEN_SHARED takes the shared read lock.
 * A dirty qcow2 (lazy refcounts, unclean shutdown) opened read-write is
 * repaired before img_open returns; a corrupt one can only be opened
 * read-only (or with IMG_OPEN_CHECK). */
int img_open(struct img **out, const char *path, const struct img_open_opts *opts,
	     char *err, size_t errlen);

/* Flushes, clears the dirty bit where lazy refcounts allow, drops locks and
 * frees the handle and its chain.  Returns the first error met while flushing
 * (the handle is freed regardless).  NULL is a no-op returning 0. */
int img_close(struct img *img);

/* ---- create ----------------------------------------------------------------- */

enum img_prealloc {
	IMG_PREALLOC_OFF = 0,
	IMG_PREALLOC_METADATA, /* qcow2 only: L2 tables and refcounts for every cluster */
	IMG_PREALLOC_FALLOC,   /* metadata + posix_fallocate of the data */
	IMG_PREALLOC_FULL,     /* metadata + data written as zeros */
};

enum img_compression { IMG_COMPRESS_ZLIB = 0, IMG_COMPRESS_ZSTD = 1 };

struct img_create_opts {
	enum img_format format;
	uint64_t size;           /* virtual size; 0 with a backing file: take the backing size */
	uint32_t cluster_size;   /* 0: 65536; a power of two 512..2 MiB (16K.. with extended_l2) */
	enum img_prealloc prealloc;
	int lazy_refcounts;      /* needs compat 1.1 */
	int extended_l2;         /* needs compat 1.1 */
	int compat;              /* 2 ("0.10") or 3 ("1.1"); 0: 3 */
	unsigned refcount_bits;  /* 0: 16; 1,2,4,...,64 (only 16 with compat 0.10) */
	enum img_compression compression_type;
	const char *backing_file;   /* stored verbatim; relative names resolve against the image dir */
	const char *backing_format; /* "raw"/"qcow2" or NULL (probed to find the size, not stored) */
	int no_backing_open;        /* qemu-img create -u: do not open the backing file (size required) */
	const char *const *allowed_dirs; /* for opening the backing file; NULL: no restriction,
	                                    the caller named it */
	const struct img_io_ops *io;    /* NULL: img_io_posix() */
	void *io_ctx;
};

/* Creates (or truncates) PATH as a new image.  OPTS is borrowed. */
int img_create(const char *path, const struct img_create_opts *opts, char *err, size_t errlen);

/* ---- I/O -------------------------------------------------------------------- */

/* Byte-granular; any offset/length inside the virtual size (CR_EINVAL_PARAM
 * past it).  Buffers aligned to 4 KiB (posix_memalign) copy several times
 * faster than malloc()ed ones: use them for bulk I/O.  Writes need a read-write handle.  A write into a cluster shared
 * with a snapshot or with the backing file copies it first. */
int img_pread(struct img *img, void *buf, size_t len, uint64_t off);
int img_pwrite(struct img *img, const void *buf, size_t len, uint64_t off);

#define IMG_ZERO_MAY_UNMAP 0x1u /* the clusters may be deallocated (qcow2 v3: zero flag, no host cluster) */
/* The range reads as zeros afterwards; whole clusters become zero clusters
 * (v3) without touching data, whole subclusters (extended L2) get their zero
 * bits, the rest is written with zeros. */
int img_pwrite_zeroes(struct img *img, uint64_t off, uint64_t len, unsigned flags);
/* Drops whole clusters inside the range (partial clusters are left alone):
 * qcow2 v3 makes them read as zeros, v2 or no backing leaves them
 * unallocated; host space is released with a hole punch. */
int img_discard(struct img *img, uint64_t off, uint64_t len);
/* Writes back all cached metadata, then fsyncs the host file. */
int img_flush(struct img *img);

/* ---- queries ---------------------------------------------------------------- */

uint64_t img_virtual_size(const struct img *img);
enum img_format img_get_format(const struct img *img);
/* Detail of the last failed call on IMG; valid until the next call on it. */
const char *img_last_error(const struct img *img);
/* The backing image, borrowed (valid until img_close of IMG), or NULL. */
struct img *img_backing(struct img *img);
/* The qcow2 view of IMG, borrowed, or NULL for raw. */
struct qcow2 *img_qcow2(struct img *img);

#define IMG_BS_ALLOCATED 0x1u  /* described by this layer (data, zero flag) */
#define IMG_BS_ZERO 0x2u       /* reads as zeros */
#define IMG_BS_DATA 0x4u       /* host data backs it (may still be zeros) */
#define IMG_BS_COMPRESSED 0x8u /* qcow2 compressed cluster */
#define IMG_BS_PRESENT 0x10u   /* allocated somewhere in the chain (map "present") */

#define IMG_BS_NO_OFFSET UINT64_MAX

struct img_extent {
	uint64_t start;  /* guest offset */
	uint64_t length; /* bytes with the same status */
	unsigned flags;  /* IMG_BS_* */
	unsigned depth;  /* layer that answered: 0 top, 1 its backing...; for a range
	                    unallocated everywhere, the depth of the bottom layer */
	uint64_t offset; /* host offset in that layer's file, or IMG_BS_NO_OFFSET
	                    (compressed, zero without data, unallocated) */
};

#define IMG_BS_FOLLOW_BACKING 0x1u /* answer from the layer that owns the data (map);
                                      without it, unallocated ranges are reported as such */
/* Status of the range starting at OFF: fills *ext with the longest run (at
 * most LEN bytes) of one status.  LEN 0 or OFF at the end: CR_EINVAL_PARAM. */
int img_block_status(struct img *img, uint64_t off, uint64_t len, unsigned flags,
		     struct img_extent *ext);

struct img_info {
	enum img_format format;
	uint64_t virtual_size;
	uint64_t actual_size;   /* host bytes allocated (st_blocks * 512) */
	uint64_t file_length;   /* host file length */
	uint32_t cluster_size;  /* 0 for raw */
	int dirty;              /* qcow2 dirty bit */
	/* qcow2 format-specific */
	int version;            /* 2 (compat "0.10") or 3 ("1.1") */
	int lazy_refcounts, corrupt, extended_l2;
	unsigned refcount_bits;
	enum img_compression compression_type;
	uint32_t nb_snapshots;  /* list them with qcow2_snapshot_list() */
	/* backing: empty strings when none */
	char backing_file[1024];       /* as stored in the header */
	char full_backing_file[4096];  /* resolved path (what was or would be opened) */
	char backing_format[32];       /* from the backing-format extension */
};

/* Fills *info (no allocation). */
int img_get_info(struct img *img, struct img_info *info);

/* ---- resize ---------------------------------------------------------------- */

#define IMG_RESIZE_SHRINK 0x1u /* allow a smaller size (qemu-img --shrink) */
/* Changes the virtual size.  Growing a qcow2 adds L1 entries (moving the L1
 * table if needed) and, with PREALLOC, preallocates the new area.  Shrinking
 * needs IMG_RESIZE_SHRINK and, for qcow2, no snapshots; the clusters past the
 * new end are freed. */
int img_resize(struct img *img, uint64_t new_size, unsigned flags, enum img_prealloc prealloc,
	       char *err, size_t errlen);

/* Progress callback for long operations: return non-zero to cancel (the
 * operation stops with -ECANCELED, leaving a consistent image). */
typedef int (*img_progress_fn)(void *opaque, uint64_t done, uint64_t total);

#endif
