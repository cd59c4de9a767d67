/* Private header of the storage engine: the qcow2 on-disk format drawn as
 * byte tables, the in-memory image state shared by image.c, raw.c and the
 * qcow2*.c files, and their internal functions.  Nothing outside storage/
 * includes it.
 *
 * qcow2 file (all integers big-endian, "cluster" = 1 << cluster_bits bytes)
 *
 *   Header (cluster 0)
 *   +--------+------+----------------------------------------------------+
 *   | offset | size | field                                              |
 *   +--------+------+----------------------------------------------------+
 *   |      0 |    4 | magic "QFI\xfb"                                     |
 *   |      4 |    4 | version (2 or 3)                                   |
 *   |      8 |    8 | backing_file_offset (0 = none)                     |
 *   |     16 |    4 | backing_file_size (<= 1023)                        |
 *   |     20 |    4 | cluster_bits (9..21)                               |
 *   |     24 |    8 | size (virtual, bytes)                              |
 *   |     32 |    4 | crypt_method (we refuse != 0)                      |
 *   |     36 |    4 | l1_size (entries)                                  |
 *   |     40 |    8 | l1_table_offset                                    |
 *   |     48 |    8 | refcount_table_offset                              |
 *   |     56 |    4 | refcount_table_clusters                            |
 *   |     60 |    4 | nb_snapshots                                       |
 *   |     64 |    8 | snapshots_offset                                   |
 *   |     72 |    8 | incompatible_features   (v3 from here on)          |
 *   |     80 |    8 | compatible_features                                |
 *   |     88 |    8 | autoclear_features                                 |
 *   |     96 |    4 | refcount_order (refcount_bits = 1 << order)        |
 *   |    100 |    4 | header_length                                      |
 *   |    104 |    1 | compression_type (0 zlib, 1 zstd)                  |
 *   |    105 |    7 | padding; unknown fields up to header_length kept   |
 *   +--------+------+----------------------------------------------------+
 *   then extensions {u32 type, u32 len, data padded to 8}, type 0 ends;
 *   then the backing file name (inside cluster 0).
 *
 *   L1 entry (8 bytes)              L2 entry (8 bytes, or 16 with extended L2)
 *   +-------+--------------------+  +-------+--------------------------------+
 *   | 63    | COPIED (refcnt==1) |  | 63    | COPIED                         |
 *   | 56-62 | reserved (0)       |  | 62    | compressed                     |
 *   | 9-55  | L2 table offset    |  | 9-55  | host cluster offset (standard) |
 *   | 0-8   | reserved (0)       |  | 0     | reads as zeros (v3, std L2)    |
 *   +-------+--------------------+  +-------+--------------------------------+
 *   compressed: x = 62 - (cluster_bits - 8); bits 0..x-1 host byte offset,
 *   bits x..61 number of additional 512-byte sectors.
 *   extended L2 second word: bits 0-31 subcluster allocated, 32-63 reads zero.
 *
 *   Refcount table entry: bits 9-63 refcount block offset (0 = none).
 *   Refcount block: cluster_size * 8 / refcount_bits entries, big-endian
 *   for widths >= 8; for 1,2,4 bits bit 0 of a byte is the lowest entry.
 *
 *   Snapshot table entry (padded to 8)
 *   +--------+------+-------------------------------------------+
 *   |      0 |    8 | l1_table_offset                           |
 *   |      8 |    4 | l1_size                                   |
 *   |     12 |    2 | id_str_size                               |
 *   |     14 |    2 | name_size                                 |
 *   |     16 |    4 | date_sec                                  |
 *   |     20 |    4 | date_nsec                                 |
 *   |     24 |    8 | vm_clock_nsec                             |
 *   |     32 |    4 | vm_state_size (32-bit)                    |
 *   |     36 |    4 | extra_data_size                           |
 *   |     40 |    n | extra: vm_state_size_large(8) disk_size(8) icount(8) ... |
 *   |        |      | id_str, name (no NUL)                     |
 *   +--------+------+-------------------------------------------+
 */
#ifndef CORRAL_STORAGE_QCOW2_INT_H
#define CORRAL_STORAGE_QCOW2_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/image.h"
#include "storage/qcow2.h"

/* ---- on-disk constants ----------------------------------------------------- */

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MIN_EXTL2_CLUSTER_BITS 14 /* 32 subclusters of at least 512 bytes */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_MIN 104
#define QCOW2_HEADER_LEN 112 /* what QEMU (and we) write */
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_REFCOUNT_ORDER 6

/* QEMU's limits (block/qcow2.h): hostile images must not make us allocate
 * more than QEMU would. */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_RT_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOT_TABLE (64u << 20)

#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | \
			      QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_EXT_END 0u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u

#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO 1ull
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L1E_RESERVED 0x7f000000000001ffull
#define QCOW2_RTE_RESERVED 0x1ffull
#define QCOW2_SUBCLUSTERS 32
#define QCOW2_COMPRESSED_SECTOR 512

/* Fixed part of the header, exactly as on disk (big-endian). */
struct qcow2_disk_header {
	uint32_t magic;
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible_features;
	uint64_t compatible_features;
	uint64_t autoclear_features;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;
	uint8_t padding[7];
} __attribute__((packed));

_Static_assert(sizeof(struct qcow2_disk_header) == QCOW2_HEADER_LEN, "qcow2 header is 112 bytes");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, l1_size) == 36, "l1_size at 36");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, refcount_table_offset) == 48, "rt at 48");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, snapshots_offset) == 64, "snap at 64");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, incompatible_features) == 72, "v3 at 72");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, refcount_order) == 96, "order at 96");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, header_length) == 100, "hlen at 100");
_Static_assert(__builtin_offsetof(struct qcow2_disk_header, compression_type) == 104, "ctype at 104");

struct qcow2_disk_snapshot {
	uint64_t l1_table_offset;
	uint32_t l1_size;
	uint16_t id_str_size;
	uint16_t name_size;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
	uint32_t vm_state_size;
	uint32_t extra_data_size;
} __attribute__((packed));
_Static_assert(sizeof(struct qcow2_disk_snapshot) == 40, "snapshot entry head is 40 bytes");

/* ---- big-endian helpers ---------------------------------------------------- */

static inline uint64_t be64_get(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}
static inline void be64_put(void *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	__builtin_memcpy(p, &v, 8);
}
static inline uint32_t be32_get(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}
static inline void be32_put(void *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	__builtin_memcpy(p, &v, 4);
}
static inline uint16_t be16_get(const void *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, 2);
	return __builtin_bswap16(v);
}
static inline void be16_put(void *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	__builtin_memcpy(p, &v, 2);
}

/* ---- generic image --------------------------------------------------------- */

/* One format implementation (raw.c, qcow2.c).  All calls act on one layer;
 * image.c walks the backing chain. */
struct img_driver {
	const char *name;
	int (*open)(struct img *img, const struct img_open_opts *o, char *err, size_t errlen);
	int (*close)(struct img *img);
	int (*pread)(struct img *img, void *buf, size_t len, uint64_t off);
	int (*pwrite)(struct img *img, const void *buf, size_t len, uint64_t off);
	int (*zero)(struct img *img, uint64_t off, uint64_t len, unsigned flags);
	int (*discard)(struct img *img, uint64_t off, uint64_t len);
	int (*flush)(struct img *img);
	/* Status in this layer only (never IMG_BS_PRESENT/depth). */
	int (*block_status)(struct img *img, uint64_t off, uint64_t len, struct img_extent *ext);
	int (*info)(struct img *img, struct img_info *info);
	int (*resize)(struct img *img, uint64_t size, unsigned flags, enum img_prealloc p,
		      char *err, size_t errlen);
	int (*create)(const char *path, int fd, const struct img_create_opts *o,
		      uint64_t size, char *err, size_t errlen);
};

extern const struct img_driver img_raw_driver;
extern const struct img_driver img_qcow2_driver;

struct img {
	const struct img_driver *drv;
	const struct img_io_ops *io;
	void *io_ctx;
	int fd;
	bool rw;
	unsigned flags;      /* IMG_OPEN_* */
	uint64_t size;       /* virtual size */
	char *path;          /* as opened (owned) */
	char *real_dir;      /* realpath of the directory holding it (owned) */
	struct img *backing; /* owned */
	struct img *parent;  /* the image this one backs (borrowed), NULL for the top */
	char **allowed;      /* NULL-terminated copy of allowed dirs (owned) */
	unsigned depth;      /* 0 for the top */
	unsigned max_depth;
	uint64_t l2_cache_bytes, refcount_cache_bytes;
	/* Every byte of the file at or past it reads as zeros: the file's end
	 * at open, raised by each write (UINT64_MAX when unknown). */
	uint64_t zero_from;
	struct qcow2 *q;     /* owned, qcow2 only */
	char errmsg[256];
};

/* Sets img->errmsg; returns CODE. */
int img_seterr(struct img *img, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Formats into a caller buffer (tolerates NULL/0); returns CODE. */
int img_fmterr(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Host file helpers through img->io. */
int img_file_read(struct img *img, void *buf, size_t len, uint64_t off);
int img_file_write(struct img *img, const void *buf, size_t len, uint64_t off);
int img_file_sync(struct img *img);
int img_file_size(struct img *img, uint64_t *out);

/* Reads LEN bytes at OFF of the backing chain below IMG as the guest sees
 * them (zeros past a backing file's end or without backing). */
int img_read_backing(struct img *img, void *buf, size_t len, uint64_t off);
/* Opens the backing file NAME (format FMT or probe) of IMG, checking the
 * allowed directories, depth and loops; stores it in img->backing. */
int img_open_backing(struct img *img, const char *name, const char *fmt, char *err, size_t errlen);
/* Resolves the backing file NAME of IMG to a real path (REAL, at least
 * PATH_MAX bytes) inside ALLOWED (NULL: img->allowed) and not already in the
 * chain above. */
int img_backing_path(struct img *img, const char *name, char *const *allowed, char *real, size_t len,
		     char *err, size_t errlen);
/* Resolves NAME relative to the directory of IMG into OUT. */
int img_resolve_backing(const struct img *img, const char *name, char *out, size_t outlen);

/* ---- qcow2 state ------------------------------------------------------------ */

struct qcow2_cache_entry {
	uint64_t offset; /* host offset of the table, 0 = unused slot */
	uint64_t lru;
	int ref;         /* pins while a caller holds the table */
	bool dirty;
	uint8_t *data;   /* one cluster, big-endian as on disk */
};

struct qcow2_cache {
	struct qcow2 *q;
	size_t n;
	uint64_t lru_clock;
	struct qcow2_cache_entry *e;
	size_t last;                 /* index of the entry used last */
	struct qcow2_cache *depends; /* flush that one before writing ours */
	bool depends_on_flush;       /* fsync the file before writing ours */
	int kind;                    /* QCOW2_OL_* of what it holds */
};

struct qcow2_ext {
	uint32_t type, len;
	uint8_t *data;
};

struct qcow2_snapshot {
	uint64_t l1_offset;
	uint32_t l1_size;
	char *id, *name;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t vm_state_size;
	uint64_t disk_size;
	int64_t icount;
	uint32_t extra_size;
	uint8_t *extra; /* whole extra data as read (owned); unknown tail kept */
};

struct qcow2 {
	struct img *img;
	/* header */
	uint32_t version;
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t snapshots_size;  /* bytes of the snapshot table */
	uint64_t incompat, compat, autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;
	uint8_t *hdr_tail;        /* bytes 112..header_length, kept verbatim */
	struct qcow2_ext *exts;   /* unknown extensions, kept verbatim */
	size_t n_exts;
	char *backing_name;       /* NULL = none */
	char *backing_format;     /* NULL = no extension */
	/* derived */
	bool ext_l2;
	uint32_t l2_entry_size;   /* 8 or 16 */
	uint32_t l2_bits;         /* log2 entries per L2 table */
	uint64_t l2_entries;
	uint32_t rb_bits;         /* log2 entries per refcount block */
	uint64_t refcount_max;
	uint64_t sc_size;         /* subcluster size */
	uint32_t csize_shift;     /* compressed descriptor: size field position */
	uint64_t csize_mask, coffset_mask;
	/* tables */
	uint64_t *l1;             /* host-endian copy */
	uint64_t *rt;             /* host-endian copy, rt_entries */
	uint64_t rt_entries;
	uint64_t rt_used;         /* entries past this one are all 0 */
	bool rt_dirty;            /* entries rt_dirty_min..max not yet on disk */
	uint64_t rt_dirty_min, rt_dirty_max;
	struct qcow2_cache *l2c, *rbc;
	struct qcow2_snapshot *snaps;
	/* allocation */
	uint64_t free_hint;       /* first cluster index that may be free */
	uint64_t run_hint;        /* end of the last multi-cluster allocation (next fit) */
	uint64_t freed_min;       /* lowest cluster freed since the last flush */
	uint64_t freed_max;       /* highest one */
	bool freed_pending;
	/* Host ranges freed since the last flush: punched only once the L2
	 * updates that stopped using them are on disk. */
	struct qcow2_range { uint64_t off, len; } *punch;
	size_t n_punch, cap_punch;
	uint64_t free_byte_offset; /* compressed data packing position, 0 = none */
	const uint32_t *reserved; /* during repair: reference counts, clusters > 0 are taken */
	uint64_t reserved_n;
	unsigned rb_allocated;    /* refcount blocks created (repair reruns when > 0) */
	bool dirty_set;           /* we set the dirty bit (lazy refcounts) */
	bool corrupt;
	bool lazy;
	uint8_t *cbuf;            /* compression scratch, 2 clusters */
};

/* qcow2.c */
int qcow2_write_header(struct qcow2 *q);
/* Recomputes the fields that follow from the header (widths, masks, flags). */
void qcow2_derive(struct qcow2 *q);
/* The snapshot table and each snapshot's L1 lie inside the file. */
int qcow2_check_snapshot_bounds(struct qcow2 *q, char *err, size_t errlen);
int qcow2_update_incompat(struct qcow2 *q, uint64_t incompat);
int qcow2_write_l1_entry(struct qcow2 *q, uint32_t idx);
/* Writes N host-endian entries big-endian at OFF after the overlap check
 * (metadata kinds in IGNORE excepted). */
int qcow2_write_table(struct qcow2 *q, unsigned ignore, uint64_t off, const uint64_t *v, uint64_t n);
int qcow2_set_dirty(struct qcow2 *q);
/* Brackets an update whose intermediate states are inconsistent. */
int qcow2_journal_begin(struct qcow2 *q);
int qcow2_journal_end(struct qcow2 *q);
int qcow2_flush_all(struct qcow2 *q);
/* Corruption found while running: marks the image, returns CR_ECORRUPT. */
int qcow2_signal_corrupt(struct qcow2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int qcow2_grow_l1(struct qcow2 *q, uint64_t min_size);
void qcow2_state_free(struct qcow2 *q);

/* qcow2_cache.c */
struct qcow2_cache *qcow2_cache_new(struct qcow2 *q, size_t n, int kind);
void qcow2_cache_free(struct qcow2_cache *c);
/* Pins the table at OFF (reads it unless FRESH: then zero-filled) and
 * returns its data in *out; release with qcow2_cache_put(). */
int qcow2_cache_get(struct qcow2_cache *c, uint64_t off, bool fresh, uint8_t **out);
void qcow2_cache_put(struct qcow2_cache *c, uint8_t *data);
void qcow2_cache_mark_dirty(struct qcow2_cache *c, uint8_t *data);
int qcow2_cache_flush(struct qcow2_cache *c);
int qcow2_cache_set_dependency(struct qcow2_cache *c, struct qcow2_cache *dep);
void qcow2_cache_depends_on_flush(struct qcow2_cache *c);
/* Forget the table at OFF without writing it (it was freed). */
void qcow2_cache_discard(struct qcow2_cache *c, uint64_t off);
void qcow2_cache_drop_all(struct qcow2_cache *c);

/* qcow2_refcount.c */
#define QCOW2_OL_HEADER 0x1u
#define QCOW2_OL_L1 0x2u
#define QCOW2_OL_L2 0x4u
#define QCOW2_OL_RT 0x8u
#define QCOW2_OL_RB 0x10u
#define QCOW2_OL_SNAP_TABLE 0x20u
#define QCOW2_OL_SNAP_L1 0x40u
#define QCOW2_OL_ALL 0x7fu
int qcow2_load_refcount_table(struct qcow2 *q);
int qcow2_validate_refcount_table(struct qcow2 *q, char *err, size_t errlen);
int qcow2_get_refcount(struct qcow2 *q, uint64_t cluster, uint64_t *out);
/* Adds DELTA to the refcount of clusters covering [off, off+len). */
int qcow2_update_refcount(struct qcow2 *q, uint64_t off, uint64_t len, int64_t delta);
int qcow2_set_refcount(struct qcow2 *q, uint64_t cluster, uint64_t value);
/* Allocates N contiguous clusters; returns the host offset or a negative code. */
int64_t qcow2_alloc_clusters(struct qcow2 *q, uint64_t n);
/* Allocates LEN bytes for compressed data (packed); returns host offset. */
int64_t qcow2_alloc_bytes(struct qcow2 *q, uint64_t len);
/* Drops one reference; a cluster reaching 0 is punched and reusable after
 * the next flush. */
int qcow2_free_clusters(struct qcow2 *q, uint64_t off, uint64_t len);
/* Sets entry I of the refcount block RB (on-disk format, any width). */
void qcow2_rb_set(const struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v);
/* Makes RT (ENTRIES host-endian entries, owned by Q afterwards) the refcount
 * table, written at OFF: the blocks it names must be on disk already.  The
 * header switches to it after a sync; the old table and blocks are left as
 * they are (leaks for a repair to free). */
int qcow2_install_refcount_table(struct qcow2 *q, uint64_t *rt, uint64_t entries, uint64_t off);
/* Writes refcount table entries of new blocks (after the blocks). */
int qcow2_flush_rt(struct qcow2 *q);
/* Punches the holes queued by frees (after a flush made them safe). */
void qcow2_process_punches(struct qcow2 *q);
/* Frees what an L2 entry references (data or compressed bytes). */
int qcow2_free_l2_entry(struct qcow2 *q, uint64_t entry);
/* Fails (and marks corrupt) if [off, off+len) overlaps metadata of a kind in CHECK. */
int qcow2_overlap_check(struct qcow2 *q, unsigned check, uint64_t off, uint64_t len);
/* Adds DELTA to every L2 table and data cluster reachable from the L1 table
 * L1 (snapshots).  ACTIVE: L1 is q->l1, whose COPIED flags (and those of its
 * L2 tables) are recomputed and written; DELTA 0 only does that. */
int qcow2_update_l1_refcounts(struct qcow2 *q, uint64_t *l1, uint32_t l1_size, int delta, bool active);
/* Reads an L1 table into a new host-endian array owned by the caller. */
int qcow2_read_l1(struct qcow2 *q, uint64_t off, uint32_t n, uint64_t **out);
int qcow2_rebuild_after_dirty(struct qcow2 *q, char *err, size_t errlen);

/* qcow2_cluster.c */
int qcow2_pread(struct img *img, void *buf, size_t len, uint64_t off);
int qcow2_pwrite(struct img *img, const void *buf, size_t len, uint64_t off);
int qcow2_zero(struct img *img, uint64_t off, uint64_t len, unsigned flags);
int qcow2_discard(struct img *img, uint64_t off, uint64_t len);
int qcow2_block_status(struct img *img, uint64_t off, uint64_t len, struct img_extent *ext);
#define QCOW2_ZERO_UNALLOCATE 0x100u /* zero_cluster: leave the entry unallocated */
/* Deallocates every cluster (commit without -d): reads fall to the backing file. */
int qcow2_make_empty(struct qcow2 *q);
int qcow2_preallocate(struct qcow2 *q, uint64_t from, uint64_t to, enum img_prealloc p);
/* Ensures an L2 table exists for guest cluster GC and is writable (COPIED);
 * returns the pinned table and the index of GC's entry in it. */
int qcow2_get_l2_for_write(struct qcow2 *q, uint64_t gc, uint8_t **l2, uint64_t *idx);
int qcow2_get_l2_for_read(struct qcow2 *q, uint64_t gc, uint8_t **l2, uint64_t *idx);
int qcow2_read_compressed(struct qcow2 *q, uint64_t entry, uint8_t *out);
uint64_t qcow2_l2_get(const struct qcow2 *q, const uint8_t *l2, uint64_t idx);
uint64_t qcow2_l2_bitmap(const struct qcow2 *q, const uint8_t *l2, uint64_t idx);
void qcow2_l2_set(const struct qcow2 *q, uint8_t *l2, uint64_t idx, uint64_t entry, uint64_t bitmap);

/* qcow2_compress.c */
/* Compresses SRC into DST (DSTLEN); returns compressed size, or 0 when it
 * does not fit, or a negative code. */
long qcow2_deflate(const void *src, size_t len, void *dst, size_t dstlen);
int qcow2_decompress(int type, const void *src, size_t len, void *dst, size_t dstlen);

/* qcow2_snapshot.c */
int qcow2_read_snapshots(struct qcow2 *q, char *err, size_t errlen);
int qcow2_write_snapshots(struct qcow2 *q);
void qcow2_free_snapshots(struct qcow2_snapshot *s, uint32_t n);

/* I/O buffers aligned to 4 KiB: the kernel copies them several times
 * faster than malloc's 16-byte alignment.  Free with free(). */
void *qcow2_io_alloc(size_t len, bool zero);

/* Guest cluster index and host helpers. */
static inline uint64_t qcow2_cl(const struct qcow2 *q, uint64_t off) { return off >> q->cluster_bits; }
static inline uint64_t qcow2_align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

#endif
