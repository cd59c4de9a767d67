/* The type-independent side of pools: checks a volume id belongs to the pool,
 * then dispatches through the type's ops. */
#include "storage/pool_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void pool_free(struct pool *p)
{
	if (!p)
		return;
	p->ops->destroy(p);
	free(p);
}

const char *pool_id(const struct pool *p)
{
	return p->id;
}

const char *pool_type(const struct pool *p)
{
	return p->ops->type;
}

const char *pool_content_list(const struct pool *p)
{
	return p->content_list;
}

unsigned pool_content_mask(const struct pool *p)
{
	return p->content;
}

int pool_shared(const struct pool *p)
{
	return p->shared;
}

const char *pool_root(const struct pool *p)
{
	return p->ops->root(p);
}

int pool_active(struct pool *p, char *err, size_t errlen)
{
	return p->ops->active(p, err, errlen);
}

/* Parses VOLID and checks it names this pool. */
static int own_volid(const struct pool *p, const char *volid, struct pool_volid *v, char *err,
		     size_t errlen)
{
	int r = pool_volid_parse(volid, v, err, errlen);

	if (r < 0)
		return r;
	if (strcmp(v->storage, p->id) != 0) {
		snprintf(err, errlen, "storage '%s' does not exist", v->storage);
		return CR_ENOTFOUND;
	}
	return 0;
}

/* Parses VOLID, checks it names this pool, that the pool holds its content
 * and that the pool is online. */
static int usable_volid(struct pool *p, const char *volid, struct pool_volid *v, char *err,
			size_t errlen)
{
	int r = own_volid(p, volid, v, err, errlen);

	if (r < 0)
		return r;
	if (!(p->content & (1u << v->content))) {
		snprintf(err, errlen, "storage '%s' does not support content-type '%s'", p->id,
			 pool_content_name(v->content));
		return -EINVAL;
	}
	return p->ops->active(p, err, errlen);
}

int pool_path(struct pool *p, const char *volid, char *out, size_t n, char *err, size_t errlen)
{
	struct pool_volid v;
	int r = own_volid(p, volid, &v, err, errlen);

	return r < 0 ? r : p->ops->path(p, &v, out, n, err, errlen);
}

int pool_vol_path(struct pool *p, const char *volid, char *out, size_t n, char *err, size_t errlen)
{
	struct pool_volid v;
	int r = usable_volid(p, volid, &v, err, errlen);

	return r < 0 ? r : p->ops->path(p, &v, out, n, err, errlen);
}

int pool_vol_info(struct pool *p, const char *volid, struct pool_volume *out, char *err,
		  size_t errlen)
{
	struct pool_volid v;
	int r = usable_volid(p, volid, &v, err, errlen);

	return r < 0 ? r : p->ops->info(p, &v, out, err, errlen);
}

int pool_tmp_create(struct pool *p, enum pool_content content, char *path, size_t n, int *fd,
		    char *err, size_t errlen)
{
	int r;

	if (content >= POOL_CONTENT_COUNT || !(p->content & (1u << content))) {
		snprintf(err, errlen, "storage '%s' does not support content-type '%s'", p->id,
			 pool_content_name(content));
		return -EINVAL;
	}
	if ((r = p->ops->active(p, err, errlen)) < 0)
		return r;
	return p->ops->tmp_create(p, content, path, n, fd, err, errlen);
}

int pool_tmp_commit(struct pool *p, const char *tmp, const char *volid, char *err, size_t errlen)
{
	struct pool_volid v;
	int r = usable_volid(p, volid, &v, err, errlen);

	return r < 0 ? r : p->ops->tmp_commit(p, tmp, &v, err, errlen);
}

/* What every allocation checks before the type's code runs. */
static int alloc_check(struct pool *p, int vmid, const char *format, uint64_t size, char *err,
		       size_t errlen)
{
	if (strcmp(format, "qcow2") != 0 && strcmp(format, "raw") != 0) {
		snprintf(err, errlen, "unsupported format '%s'", format);
		return -EINVAL;
	}
	if (vmid < 100 || vmid > 999999999 || size == 0) {
		snprintf(err, errlen, "invalid VM id %d or size %llu", vmid,
			 (unsigned long long)size);
		return -EINVAL;
	}
	if (!(p->content & (1u << POOL_CONTENT_IMAGES))) {
		snprintf(err, errlen, "storage '%s' does not support content-type 'images'", p->id);
		return -EINVAL;
	}
	return p->ops->active(p, err, errlen);
}

int pool_alloc(struct pool *p, int vmid, const char *format, uint64_t size, char *volid, size_t n,
	       char *err, size_t errlen)
{
	int r;

	if (!format)
		format = "qcow2";
	if ((r = alloc_check(p, vmid, format, size, err, errlen)) < 0)
		return r;
	return p->ops->alloc(p, vmid, NULL, format, size, volid, n, err, errlen);
}

int pool_alloc_named(struct pool *p, int vmid, const char *name, uint64_t size, char *volid,
		     size_t n, char *err, size_t errlen)
{
	char want[POOL_VOLID_MAX];
	struct pool_volid v;
	int r;

	snprintf(want, sizeof(want), "%s:%d/%s", p->id, vmid, name);
	if ((r = pool_volid_parse(want, &v, err, errlen)) < 0)
		return r;
	if ((r = alloc_check(p, vmid, v.format, size, err, errlen)) < 0)
		return r;
	return p->ops->alloc(p, vmid, v.name, v.format, size, volid, n, err, errlen);
}

int pool_vol_free(struct pool *p, const char *volid, char *err, size_t errlen)
{
	struct pool_volid v;
	int r = own_volid(p, volid, &v, err, errlen);

	return r < 0 ? r : p->ops->vol_free(p, &v, err, errlen);
}

int pool_list(struct pool *p, int content, int vmid, pool_volume_fn fn, void *ctx)
{
	char err[256];
	int r = p->ops->active(p, err, sizeof(err));

	return r < 0 ? r : p->ops->list(p, content, vmid, fn, ctx);
}

int pool_status(struct pool *p, struct pool_status *st, char *err, size_t errlen)
{
	int r = p->ops->active(p, err, errlen);

	return r < 0 ? r : p->ops->status(p, st, err, errlen);
}
