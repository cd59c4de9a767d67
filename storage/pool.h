/* Storage pools and their volumes, named as Proxmox names them
 * ("local:100/vm-100-disk-0.qcow2", "local:iso/x.iso", "local:import/x.qcow2").
 * A pool is an opaque handle over a type's ops table; "dir" (a directory
 * holding images/<vmid>/, iso/, import/, snippets/ and dump/) is the only
 * type so far.  A pool_set holds the open pools of a node by id.
 * Library rules: no logging, 0 or a negative code, detail in ERR. */
#ifndef CORRAL_STORAGE_POOL_H
#define CORRAL_STORAGE_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct pool;

#define POOL_ID_MAX 64
#define POOL_NAME_MAX 192
#define POOL_VOLID_MAX (POOL_ID_MAX + POOL_NAME_MAX + 16)

enum pool_content {
	POOL_CONTENT_IMAGES,   /* "<vmid>/vm-<vmid>-<name>.<qcow2|raw>" */
	POOL_CONTENT_ISO,      /* "iso/<name>.<iso|img>" */
	POOL_CONTENT_IMPORT,   /* "import/<name>.<qcow2|raw|vmdk|ova|ovf>" */
	POOL_CONTENT_SNIPPETS, /* "snippets/<name>.<yaml|json|txt...>" */
	POOL_CONTENT_BACKUP,   /* "backup/<name>.<vma|zst|...>", in the directory dump/ */
	POOL_CONTENT_COUNT
};

#define POOL_CONTENT_ALL ((1u << POOL_CONTENT_COUNT) - 1)
#define POOL_CONTENT_DEFAULT                                                                       \
	((1u << POOL_CONTENT_IMAGES) | (1u << POOL_CONTENT_ISO) | (1u << POOL_CONTENT_IMPORT))

/* A volume id taken apart.  Pure: no file system access. */
struct pool_volid {
	char storage[POOL_ID_MAX];
	enum pool_content content;
	int vmid;		  /* owner (images), else 0 */
	char name[POOL_NAME_MAX]; /* file name without directory */
	char format[8];		  /* from the extension: qcow2, raw, iso, vmdk... */
};

/* Parses "STORAGE:VOLNAME" strictly: a pve-storage-id, then one of the
 * content layouts above with a plain file name (letters, digits, "_.+-", no
 * leading dot, no "..").  Absolute paths, "..", NUL and control characters,
 * unknown directories and extensions are -EINVAL with a message in ERR. */
int pool_volid_parse(const char *volid, struct pool_volid *out, char *err, size_t errlen);
/* "images", "iso", "import" (Proxmox's content names). */
const char *pool_content_name(enum pool_content c);
/* The content named NAME, or -EINVAL. */
int pool_content_parse(const char *name);
/* Its directory in a dir pool ("images", "iso", "dump"...). */
const char *pool_content_dir(enum pool_content c);
/* "images,iso" <-> a mask of 1 << content.  Empty items are skipped; an
 * unknown one is -EINVAL with ERR.  Format writes them sorted by name, as
 * Proxmox does. */
int pool_content_mask_parse(const char *list, unsigned *mask, char *err, size_t errlen);
void pool_content_mask_format(unsigned mask, char *out, size_t n);

/* Opens the directory pool ID rooted at ROOT (created if missing, with its
 * content directories) holding images, iso and import.  *OUT is owned by
 * the caller: pool_free(). */
int pool_dir_new(const char *id, const char *root, struct pool **out, char *err, size_t errlen);

struct pool_dir_opts {
	const char *id, *root;
	unsigned content; /* mask of 1 << enum pool_content */
	int shared;	  /* the directory is on storage shared by the nodes */
	int mkdir;	  /* create ROOT and the content directories now */
};
/* Opens a dir pool.  Without MKDIR a missing root is no error here: every
 * later call then fails with "unable to activate storage" (a mount point
 * that went away must not be filled on the root file system). */
int pool_dir_open(const struct pool_dir_opts *o, struct pool **out, char *err, size_t errlen);
void pool_free(struct pool *p);
const char *pool_id(const struct pool *p);
const char *pool_type(const struct pool *p);	     /* "dir" */
const char *pool_content_list(const struct pool *p); /* "images,iso,import" */
unsigned pool_content_mask(const struct pool *p);
int pool_shared(const struct pool *p);
/* The root directory as configured. */
const char *pool_root(const struct pool *p);
/* 0 when the pool can be used now (its directory exists), else -ENOENT with
 * "unable to activate storage 'x' - directory '/p' does not exist". */
int pool_active(struct pool *p, char *err, size_t errlen);

/* The file of VOLID.  The volume must belong to this pool, and the path,
 * after resolving symlinks (of the file if it exists, else of its
 * directory), must stay inside the pool root: -EACCES otherwise.
 * CR_ENOTFOUND with "storage 'x' does not exist" for another storage. */
int pool_path(struct pool *p, const char *volid, char *out, size_t n, char *err, size_t errlen);

/* Allocates a new disk image of SIZE bytes for VMID in FORMAT ("qcow2",
 * "raw"; NULL: qcow2) under the next free name vm-<vmid>-disk-<n>; copies
 * its volume id to VOLID. */
int pool_alloc(struct pool *p, int vmid, const char *format, uint64_t size, char *volid, size_t n,
	       char *err, size_t errlen);
/* The same with the file name NAME ("vm-<vmid>-<x>.<qcow2|raw>", the format
 * from its extension); CR_EEXISTS when it is taken. */
int pool_alloc_named(struct pool *p, int vmid, const char *name, uint64_t size, char *volid,
		     size_t n, char *err, size_t errlen);
/* Deletes the volume's file (and the VM's directory once it is empty). */
int pool_vol_free(struct pool *p, const char *volid, char *err, size_t errlen);

/* Like pool_path, and the pool must hold VOLID's content: -EINVAL with
 * "storage 'x' does not support content-type 'iso'" otherwise. */
int pool_vol_path(struct pool *p, const char *volid, char *out, size_t n, char *err, size_t errlen);

/* Uploads: a hidden temporary file in the pool's directory of CONTENT (same
 * file system as the final name).  *FD is open for writing; PATH gets its
 * name.  The caller unlinks it on failure. */
int pool_tmp_create(struct pool *p, enum pool_content content, char *path, size_t n, int *fd,
		    char *err, size_t errlen);
/* Gives the finished temporary file TMP its volume name VOLID atomically;
 * CR_EEXISTS when the volume exists (TMP stays for the caller). */
int pool_tmp_commit(struct pool *p, const char *tmp, const char *volid, char *err, size_t errlen);

/* Refuses a qcow2 at PATH whose header names a backing file or an external
 * data file (a way to read host files through an image): CR_EFORMAT with
 * the reason.  Raw files and clean qcow2 images pass. */
int pool_image_check_standalone(const char *path, char *err, size_t errlen);
/* The same check on the first LEN bytes of a file (pure; 104 bytes cover a
 * v3 header).  0 for anything that is not qcow2. */
int pool_qcow2_header_check(const unsigned char *h, size_t len, char *err, size_t errlen);

/* Copies the image SRC_VOLID of SRC (qcow2 or raw; a backing chain is
 * followed only inside SRC's directory and flattened) into a new disk of
 * DST for VMID in FORMAT ("qcow2", "raw"; NULL: qcow2) with the same
 * virtual size.  NEW_VOLID gets the new volume id; on failure nothing new
 * is left behind.  PROGRESS (may be NULL) is called after each chunk;
 * a non-zero return cancels with -ECANCELED. */
struct pool_copy_opts {
	int vmid;
	const char *format;
	int (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *opaque;
};
int pool_vol_copy(struct pool *src, const char *src_volid, struct pool *dst,
		  const struct pool_copy_opts *o, char *new_volid, size_t n, char *err,
		  size_t errlen);
/* The same copy between two files: SRC (format probed; backing files only
 * inside SRC_DIRS, a NULL-ended list, or SRC's directory when NULL) into the
 * existing, zero-reading image DST of at least SRC's virtual size. */
int pool_image_copy(const char *src, const char *const *src_dirs, const char *dst,
		    const struct pool_copy_opts *o, char *err, size_t errlen);
/* Copies a file volume (iso, import, snippets, backup) of SRC byte for byte
 * to the same name on DST (which must hold that content); NEW_VOLID gets
 * its id.  CR_EEXISTS when DST has it already; nothing is left on failure. */
int pool_file_copy(struct pool *src, const char *src_volid, struct pool *dst,
		   const struct pool_copy_opts *o, char *new_volid, size_t n, char *err,
		   size_t errlen);
/* Virtual size of the image at PATH (format probed, backing not opened). */
int pool_image_size(const char *path, uint64_t *size, char *err, size_t errlen);

struct pool_volume {
	char volid[POOL_VOLID_MAX];
	enum pool_content content;
	char format[8];
	uint64_t size; /* virtual size for images, file size else */
	uint64_t used; /* host bytes allocated */
	int vmid;      /* 0 when not an image */
	time_t ctime;
};
typedef int (*pool_volume_fn)(const struct pool_volume *v, void *ctx);
/* Calls FN for each volume (CONTENT < 0: every content; VMID 0: all VMs)
 * in name order within a content.  A non-zero return from FN stops the walk
 * and is returned. */
int pool_list(struct pool *p, int content, int vmid, pool_volume_fn fn, void *ctx);

struct pool_status {
	uint64_t total, used, avail; /* bytes of the file system holding the pool */
};
int pool_status(struct pool *p, struct pool_status *st, char *err, size_t errlen);

/* Details of one volume (what a listing shows); CR_ENOTFOUND when absent. */
int pool_vol_info(struct pool *p, const char *volid, struct pool_volume *out, char *err,
		  size_t errlen);

/* ---- the pools of a node ---- */

struct pool_set;
int pool_set_new(struct pool_set **out);
/* Frees the set and every pool it ever held. */
void pool_set_free(struct pool_set *s);
/* Adds or replaces the pool with P's id; the set owns P.  A replaced pool
 * stays allocated until pool_set_free, so a handle a request still uses
 * stays valid. */
int pool_set_put(struct pool_set *s, struct pool *p);
/* Takes the pool ID out of the set (kept allocated as above); CR_ENOTFOUND. */
int pool_set_remove(struct pool_set *s, const char *id);
/* The pool ID (borrowed, valid until pool_set_free), or NULL. */
struct pool *pool_set_get(struct pool_set *s, const char *id);
/* Calls FN for each pool in id order; non-zero from FN stops and is returned. */
int pool_set_foreach(struct pool_set *s, int (*fn)(struct pool *p, void *ctx), void *ctx);
/* pool_vol_path / pool_vol_free on the pool VOLID names; CR_ENOTFOUND with
 * "storage 'x' does not exist" when the set has no such pool. */
/* The pool VOLID's storage names into *OUT (borrowed as pool_set_get), or
 * CR_ENOTFOUND with "storage 'x' does not exist". */
int pool_set_of(struct pool_set *s, const char *volid, struct pool **out, char *err,
		size_t errlen);
int pool_set_vol_path(struct pool_set *s, const char *volid, char *out, size_t n, char *err,
		      size_t errlen);
int pool_set_vol_free(struct pool_set *s, const char *volid, char *err, size_t errlen);

#endif
