/* The snapshot sections of a VM record as a tree (pure: no store, no I/O):
 * add, remove with re-parenting, the list Proxmox answers, and the size
 * argument of resize. */
#include "server/api_qemu_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/qemu_int.h"

int qsnap_name_reserved(const char *name, char *err, size_t errlen)
{
	if (strcmp(name, "current") == 0 || strcasecmp(name, "pending") == 0) {
		snprintf(err, errlen, "unable to use snapshot name '%s' (reserved name)", name);
		return -EINVAL;
	}
	return 0;
}

static cJSON *list_of(const cJSON *snaps)
{
	return cJSON_GetObjectItemCaseSensitive(snaps, "list");
}

const cJSON *qsnap_get(const cJSON *snaps, const char *name)
{
	return snaps ? cJSON_GetObjectItemCaseSensitive(list_of(snaps), name) : NULL;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return s ? s : "";
}

const char *qsnap_parent(const cJSON *snaps)
{
	return str_of(snaps, "parent");
}

static void set_str(cJSON *o, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	if (value && value[0])
		cJSON_AddStringToObject(o, key, value);
}

static cJSON *conf_json(const struct vmconf *c)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < vmconf_count(c); i++)
		cJSON_AddStringToObject(o, vmconf_key_at(c, i), vmconf_value_at(c, i));
	return o;
}

int qsnap_add(cJSON **snaps, const char *name, const struct vmconf *conf, time_t snaptime,
	      const char *description, const char *statedrive)
{
	cJSON *s, *list;

	if (!*snaps && !(*snaps = cJSON_CreateObject()))
		return -ENOMEM;
	if (!(list = list_of(*snaps)) && !(list = cJSON_AddObjectToObject(*snaps, "list")))
		return -ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(list, name))
		return CR_EEXISTS;
	if (!(s = cJSON_AddObjectToObject(list, name)))
		return -ENOMEM;
	cJSON_AddItemToObject(s, "config", conf_json(conf));
	cJSON_AddNumberToObject(s, "snaptime", (double)snaptime);
	cJSON_AddStringToObject(s, "description", description ? description : "");
	cJSON_AddNumberToObject(s, "vmstate", statedrive ? 1 : 0);
	set_str(s, "statedrive", statedrive);
	set_str(s, "parent", qsnap_parent(*snaps));
	set_str(*snaps, "parent", name);
	return 0;
}

int qsnap_remove(cJSON *snaps, const char *name)
{
	const cJSON *gone = qsnap_get(snaps, name);
	char up[QSNAP_NAME_MAX + 1];
	cJSON *it;

	if (!gone)
		return CR_ENOTFOUND;
	snprintf(up, sizeof(up), "%s", str_of(gone, "parent"));
	cJSON_ArrayForEach(it, list_of(snaps)) if (strcmp(str_of(it, "parent"), name) == 0)
	    set_str(it, "parent", up);
	if (strcmp(qsnap_parent(snaps), name) == 0)
		set_str(snaps, "parent", up);
	cJSON_DeleteItemFromObjectCaseSensitive(list_of(snaps), name);
	return 0;
}

struct vmconf *qsnap_config(const cJSON *snaps, const char *name)
{
	const cJSON *conf = cJSON_GetObjectItemCaseSensitive(qsnap_get(snaps, name), "config");
	struct vmconf *c = conf ? vmconf_new() : NULL;
	const cJSON *it;

	cJSON_ArrayForEach(it, conf)
	{
		if (c && cJSON_IsString(it) && vmconf_set(c, it->string, it->valuestring) < 0) {
			vmconf_free(c);
			return NULL;
		}
	}
	return c;
}

int qsnap_set_current(cJSON *snaps, const char *name)
{
	if (!qsnap_get(snaps, name))
		return CR_ENOTFOUND;
	set_str(snaps, "parent", name);
	return 0;
}

static double num_of(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

static cJSON *list_row(const cJSON *s)
{
	cJSON *row = cJSON_CreateObject();

	cJSON_AddStringToObject(row, "name", s->string);
	cJSON_AddNumberToObject(row, "snaptime", num_of(s, "snaptime"));
	cJSON_AddStringToObject(row, "description", str_of(s, "description"));
	cJSON_AddNumberToObject(row, "vmstate", num_of(s, "vmstate"));
	set_str(row, "parent", str_of(s, "parent"));
	return row;
}

cJSON *qsnap_list(const cJSON *snaps, const char *digest, int running)
{
	cJSON *out = cJSON_CreateArray(), *cur = cJSON_CreateObject();
	const cJSON *it;

	if (!out || !cur) {
		cJSON_Delete(out);
		cJSON_Delete(cur);
		return NULL;
	}
	/* The list object keeps insertion order: the order they were taken in. */
	cJSON_ArrayForEach(it, list_of(snaps)) cJSON_AddItemToArray(out, list_row(it));
	cJSON_AddStringToObject(cur, "name", "current");
	cJSON_AddStringToObject(cur, "description", "You are here!");
	cJSON_AddStringToObject(cur, "digest", digest ? digest : "");
	cJSON_AddNumberToObject(cur, "running", running ? 1 : 0);
	set_str(cur, "parent", qsnap_parent(snaps));
	cJSON_AddItemToArray(out, cur);
	return out;
}

/* "N[.N][KMGT]" in bytes; 0 or -EINVAL. */
static int parse_amount(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	double v;
	int shift = 0;

	if (!(*s >= '0' && *s <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || end[-1] == '.' || strspn(s, "0123456789.") != (size_t)(end - s))
		return -EINVAL;
	if (*end) {
		const char *u = strchr(units, *end);

		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
	}
	v *= (double)(1ULL << shift);
	if (!(v < 18446744073709549568.0))
		return -EINVAL;
	*out = (uint64_t)v;
	if ((double)*out < v) /* a fraction of a byte rounds up */
		(*out)++;
	return 0;
}

int qsnap_parse_size(const char *arg, uint64_t cur, uint64_t *out, char *err, size_t errlen)
{
	int grow = arg[0] == '+';
	uint64_t v;

	if (parse_amount(arg + grow, &v) < 0 || (grow && v > UINT64_MAX - cur - 512)) {
		snprintf(err, errlen, "invalid size '%s'", arg);
		return -EINVAL;
	}
	v = grow ? cur + v : v;
	if (v > UINT64_MAX - 511) {
		snprintf(err, errlen, "invalid size '%s'", arg);
		return -EINVAL;
	}
	v = (v + 511) & ~(uint64_t)511;
	if (v < cur) {
		snprintf(err, errlen, "shrinking disks is not supported");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

size_t qsnap_drives(const struct vmconf *conf, char keys[][16], char volids[][272], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < vmconf_count(conf) && n < max; i++) {
		const char *k = vmconf_key_at(conf, i);

		if (strncmp(k, "unused", 6) == 0 ||
		    qemu_drive_volid(k, vmconf_value_at(conf, i), volids[n], 272) < 0)
			continue;
		snprintf(keys[n++], 16, "%s", k);
	}
	return n;
}
