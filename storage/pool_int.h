/* Private to storage/pool*.c: the pool handle and the ops each pool type
 * fills in (dir today; more types later share this interface). */
#ifndef CORRAL_STORAGE_POOL_INT_H
#define CORRAL_STORAGE_POOL_INT_H

#include "storage/pool.h"

struct pool_ops {
	const char *type;
	const char *content; /* what the type can hold, Proxmox's list form */
	int (*path)(struct pool *p, const struct pool_volid *v, char *out, size_t n, char *err,
		    size_t errlen);
	/* NAME: the file name to take, or NULL for the next free vm-<vmid>-disk-<n> */
	int (*alloc)(struct pool *p, int vmid, const char *name, const char *format, uint64_t size,
		     char *volid, size_t n, char *err, size_t errlen);
	int (*vol_free)(struct pool *p, const struct pool_volid *v, char *err, size_t errlen);
	int (*list)(struct pool *p, int content, int vmid, pool_volume_fn fn, void *ctx);
	int (*status)(struct pool *p, struct pool_status *st, char *err, size_t errlen);
	int (*active)(struct pool *p, char *err, size_t errlen);
	int (*info)(struct pool *p, const struct pool_volid *v, struct pool_volume *out, char *err,
		    size_t errlen);
	int (*tmp_create)(struct pool *p, enum pool_content c, char *path, size_t n, int *fd,
			  char *err, size_t errlen);
	int (*tmp_commit)(struct pool *p, const char *tmp, const struct pool_volid *v, char *err,
			  size_t errlen);
	const char *(*root)(const struct pool *p);
	void (*destroy)(struct pool *p);
};

struct pool {
	const struct pool_ops *ops;
	char id[POOL_ID_MAX];
	unsigned content; /* mask of 1 << enum pool_content */
	int shared;
	char content_list[96];
	void *priv; /* the type's state, freed by ops->destroy */
};

#endif
