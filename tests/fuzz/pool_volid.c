/* libFuzzer target for storage/pool_volid.c: any accepted volume id names a
 * plain file (no '/' in the name, no "..", no leading dot, no control
 * characters) under a known content, and parses to the same parts again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct pool_volid *v)
{
	char again[POOL_VOLID_MAX + 64];
	struct pool_volid w;
	char err[256];

	if (strchr(v->name, '/') || strstr(v->name, "..") || v->name[0] == '.' ||
	    v->content >= POOL_CONTENT_COUNT)
		abort();
	for (const char *p = v->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	if (v->content == POOL_CONTENT_IMAGES)
		snprintf(again, sizeof(again), "%s:%d/%s", v->storage, v->vmid, v->name);
	else
		snprintf(again, sizeof(again), "%s:%s/%s", v->storage,
			 pool_content_name(v->content), v->name);
	if (pool_volid_parse(again, &w, err, sizeof(err)) != 0 || memcmp(v, &w, sizeof(w)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool_volid v;
	char err[256], *s = strndup((const char *)data, size);

	if (!s)
		return 0;
	if (pool_volid_parse(s, &v, err, sizeof(err)) == 0)
		check_accepted(&v);
	free(s);
	return 0;
}
