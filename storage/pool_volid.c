/* Pure parser of Proxmox volume ids ("local:100/vm-100-disk-0.qcow2"): the
 * only way a user string becomes a path inside a pool, so it is strict. */
#include "storage/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Each content's name, directory under a dir pool (Proxmox keeps backups in
 * "dump") and the extensions it allows; the first of images is the default. */
static const struct {
	const char *name, *dir;
	const char *const exts[8];
} contents[POOL_CONTENT_COUNT] = {
    [POOL_CONTENT_IMAGES] = {"images", "images", {"qcow2", "raw", NULL}},
    [POOL_CONTENT_ISO] = {"iso", "iso", {"iso", "img", NULL}},
    [POOL_CONTENT_IMPORT] = {"import", "import", {"qcow2", "raw", "vmdk", "ova", "ovf", NULL}},
    [POOL_CONTENT_SNIPPETS] = {"snippets",
			       "snippets",
			       {"yaml", "yml", "json", "txt", "conf", "sh", NULL}},
    [POOL_CONTENT_BACKUP] = {"backup",
			     "dump",
			     {"vma", "zst", "gz", "lzo", "tgz", "tar", "log", NULL}},
};

const char *pool_content_name(enum pool_content c)
{
	return c < POOL_CONTENT_COUNT ? contents[c].name : "";
}

const char *pool_content_dir(enum pool_content c)
{
	return c < POOL_CONTENT_COUNT ? contents[c].dir : "";
}

int pool_content_mask_parse(const char *list, unsigned *mask, char *err, size_t errlen)
{
	char item[32];
	size_t len;
	int c;

	*mask = 0;
	for (const char *p = list; *p; p += len + (p[len] == ',')) {
		len = strcspn(p, ",");
		if (len == 0)
			continue;
		if (len >= sizeof(item) ||
		    (memcpy(item, p, len), item[len] = '\0', (c = pool_content_parse(item)) < 0)) {
			snprintf(err, errlen, "invalid content type '%.*s'", (int)len, p);
			return -EINVAL;
		}
		*mask |= 1u << c;
	}
	return 0;
}

void pool_content_mask_format(unsigned mask, char *out, size_t n)
{
	size_t used = 0;

	/* Proxmox writes content lists sorted by name. */
	static const enum pool_content order[] = {POOL_CONTENT_BACKUP, POOL_CONTENT_IMAGES,
						  POOL_CONTENT_IMPORT, POOL_CONTENT_ISO,
						  POOL_CONTENT_SNIPPETS};

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((mask & (1u << order[i])) && used < n)
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "," : "",
						 contents[order[i]].name);
}

int pool_content_parse(const char *name)
{
	for (int i = 0; i < POOL_CONTENT_COUNT; i++)
		if (strcmp(name, contents[i].name) == 0)
			return i;
	return -EINVAL;
}

/* pve-storage-id: [a-z][a-z0-9._-]*[a-z0-9], case-insensitive. */
static int storage_id_ok(const char *s, size_t len)
{
	if (len < 2 || len >= POOL_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i] | 0x20;
		int alpha = c >= 'a' && c <= 'z', digit = s[i] >= '0' && s[i] <= '9';

		if (i == 0 ? !alpha : !(alpha || digit || ((i + 1 < len) && strchr("-_.", s[i]))))
			return 0;
	}
	return 1;
}

/* A plain file name: [A-Za-z0-9_.+-], no leading dot, no "..". */
static int file_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= POOL_NAME_MAX || s[0] == '.' || strstr(s, ".."))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_.+-", c)))
			return 0;
	}
	return 1;
}

/* The extension of NAME if CONTENT allows it, copied to FORMAT. */
static int ext_ok(enum pool_content content, const char *name, char *format, size_t n)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return 0;
	for (size_t i = 0; contents[content].exts[i]; i++)
		if (strcmp(dot + 1, contents[content].exts[i]) == 0)
			return util_strlcpy(format, dot + 1, n) == 0;
	return 0;
}

/* "<vmid>/vm-<vmid>-<rest>": the directory and the name's owner agree. */
static int images_name(const char *dir, const char *name, struct pool_volid *out)
{
	int64_t vmid, owner;
	char num[16];
	const char *dash;

	if (util_parse_i64(dir, &vmid) < 0 || vmid < 100 || vmid > 999999999 || dir[0] == '0')
		return 0;
	if (strncmp(name, "vm-", 3) != 0 && strncmp(name, "base-", 5) != 0)
		return 0;
	name = strchr(name, '-') + 1;
	dash = strchr(name, '-');
	if (!dash || dash == name || (size_t)(dash - name) >= sizeof(num))
		return 0;
	memcpy(num, name, (size_t)(dash - name));
	num[dash - name] = '\0';
	if (util_parse_i64(num, &owner) < 0 || owner != vmid || dash[1] == '.' || dash[1] == '\0')
		return 0;
	out->vmid = (int)vmid;
	out->content = POOL_CONTENT_IMAGES;
	return 1;
}

/* VOLNAME after "storage:": "dir/file" with one slash. */
static int parse_volname(const char *volname, struct pool_volid *out)
{
	const char *slash = strchr(volname, '/');
	char dir[32];
	int c;

	if (!slash || slash == volname || (size_t)(slash - volname) >= sizeof(dir))
		return 0;
	memcpy(dir, volname, (size_t)(slash - volname));
	dir[slash - volname] = '\0';
	if (util_strlcpy(out->name, slash + 1, sizeof(out->name)) < 0 || !file_name_ok(out->name))
		return 0;
	c = pool_content_parse(dir);
	if (c == POOL_CONTENT_IMAGES || (c < 0 && !images_name(dir, out->name, out)))
		return 0;
	if (c >= 0)
		out->content = (enum pool_content)c;
	return ext_ok(out->content, out->name, out->format, sizeof(out->format));
}

int pool_volid_parse(const char *volid, struct pool_volid *out, char *err, size_t errlen)
{
	const char *colon = volid ? strchr(volid, ':') : NULL;

	memset(out, 0, sizeof(*out));
	if (!volid || !colon || !storage_id_ok(volid, (size_t)(colon - volid))) {
		snprintf(err, errlen, "unable to parse volume ID '%s'", volid ? volid : "");
		return -EINVAL;
	}
	memcpy(out->storage, volid, (size_t)(colon - volid));
	if (!parse_volname(colon + 1, out)) {
		snprintf(err, errlen, "unable to parse volume name '%s'", colon + 1);
		return -EINVAL;
	}
	return 0;
}
