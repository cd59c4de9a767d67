/* Storage pools and their volumes, named as Proxmox names them
 * ("local:100/vm-100-disk-0.qcow2", "local:iso/x.iso", "local:import/x.qcow2").
 * A pool is an opaque handle over a type's ops table; "dir" (a directory
 * holding images/<vmid>/, iso/ and import/) is the only type so far.
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
	POOL_CONTENT_IMAGES, /* "<vmid>/vm-<vmid>-<name>.<qcow2|raw>" */
	POOL_CONTENT_ISO,    /* "iso/<name>.<iso|img>" */
	POOL_CONTENT_IMPORT, /* "import/<name>.<qcow2|raw|vmdk|ova|ovf>" */
	POOL_CONTENT_COUNT
};

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

/* Opens the directory pool ID rooted at ROOT (created if missing, with its
 * content directories).  *OUT is owned by the caller: pool_free(). */
int pool_dir_new(const char *id, const char *root, struct pool **out, char *err, size_t errlen);
void pool_free(struct pool *p);
const char *pool_id(const struct pool *p);
const char *pool_type(const struct pool *p);	     /* "dir" */
const char *pool_content_list(const struct pool *p); /* "images,iso,import" */

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
/* Deletes the volume's file (and the VM's directory once it is empty). */
int pool_vol_free(struct pool *p, const char *volid, char *err, size_t errlen);

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

#endif
