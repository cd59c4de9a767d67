/* Privilege names, built-in roles, ACL paths, identifier formats and lists
 * (see acl.h).  Everything here is pure; the snapshot lives in acl_snap.c. */
#include "server/acl.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Tiers as in pve-access-control's $privgroups: ROOT privileges belong to
 * no generated role but Administrator; ADMIN ones to PVE<cat>Admin and
 * PVEAdmin; USER ones also to PVE<cat>User; AUDIT ones also to PVEAuditor. */
enum { T_ROOT = 1, T_ADMIN = 2, T_USER = 4, T_AUDIT = 8 };

struct priv_def {
	const char *name;
	const char *cat;
	unsigned tiers;
};

/* Proxmox VE 8.4's privileges.  Order defines the bits; never reorder
 * (nothing persists bits, but tests and the caps output follow it). */
static const struct priv_def privs[] = {
	{ "VM.Allocate", "VM", T_ADMIN },
	{ "VM.Audit", "VM", T_AUDIT },
	{ "VM.Backup", "VM", T_USER },
	{ "VM.Clone", "VM", T_ADMIN },
	{ "VM.Config.CDROM", "VM", T_USER },
	{ "VM.Config.CPU", "VM", T_ADMIN },
	{ "VM.Config.Cloudinit", "VM", T_USER },
	{ "VM.Config.Disk", "VM", T_ADMIN },
	{ "VM.Config.HWType", "VM", T_ADMIN },
	{ "VM.Config.Memory", "VM", T_ADMIN },
	{ "VM.Config.Network", "VM", T_ADMIN },
	{ "VM.Config.Options", "VM", T_ADMIN },
	{ "VM.Console", "VM", T_USER },
	{ "VM.Migrate", "VM", T_ADMIN },
	{ "VM.Monitor", "VM", T_ADMIN },
	{ "VM.PowerMgmt", "VM", T_USER },
	{ "VM.Snapshot", "VM", T_ADMIN },
	{ "VM.Snapshot.Rollback", "VM", T_ADMIN },
	{ "Sys.AccessNetwork", "Sys", T_ROOT },
	{ "Sys.Audit", "Sys", T_AUDIT },
	{ "Sys.Console", "Sys", T_ADMIN },
	{ "Sys.Incoming", "Sys", T_ROOT },
	{ "Sys.Modify", "Sys", T_ROOT },
	{ "Sys.PowerMgmt", "Sys", T_ROOT },
	{ "Sys.Syslog", "Sys", T_ADMIN },
	{ "Datastore.Allocate", "Datastore", T_ADMIN },
	{ "Datastore.AllocateSpace", "Datastore", T_USER },
	{ "Datastore.AllocateTemplate", "Datastore", T_ADMIN },
	{ "Datastore.Audit", "Datastore", T_AUDIT },
	{ "SDN.Allocate", "SDN", T_ADMIN },
	{ "SDN.Audit", "SDN", T_ADMIN | T_AUDIT },
	{ "SDN.Use", "SDN", T_USER },
	{ "Group.Allocate", "User", T_ADMIN },
	{ "Realm.Allocate", "User", T_ROOT },
	{ "Realm.AllocateUser", "User", T_ADMIN },
	{ "User.Modify", "User", T_ADMIN },
	{ "Pool.Allocate", "Pool", T_ADMIN },
	{ "Pool.Audit", "Pool", T_USER | T_AUDIT },
	{ "Mapping.Audit", "Mapping", T_AUDIT },
	{ "Mapping.Modify", "Mapping", T_ADMIN },
	{ "Mapping.Use", "Mapping", T_USER },
	{ "Permissions.Modify", "", 0 },
};
_Static_assert(sizeof(privs) / sizeof(privs[0]) <= 64, "privileges must fit acl_privs");

enum role_kind { RK_ALL, RK_NONE, RK_CAT_ADMIN, RK_CAT_USER, RK_ADMIN, RK_AUDITOR, RK_TEMPLATE };

struct role_def {
	const char *name;
	enum role_kind kind;
	const char *cat;
};

static const struct role_def roles[] = {
	{ "Administrator", RK_ALL, NULL },
	{ "NoAccess", RK_NONE, NULL },
	{ "PVEAdmin", RK_ADMIN, NULL },
	{ "PVEAuditor", RK_AUDITOR, NULL },
	{ "PVEDatastoreAdmin", RK_CAT_ADMIN, "Datastore" },
	{ "PVEDatastoreUser", RK_CAT_USER, "Datastore" },
	{ "PVEMappingAdmin", RK_CAT_ADMIN, "Mapping" },
	{ "PVEMappingUser", RK_CAT_USER, "Mapping" },
	{ "PVEPoolAdmin", RK_CAT_ADMIN, "Pool" },
	{ "PVEPoolUser", RK_CAT_USER, "Pool" },
	{ "PVESDNAdmin", RK_CAT_ADMIN, "SDN" },
	{ "PVESDNUser", RK_CAT_USER, "SDN" },
	{ "PVESysAdmin", RK_CAT_ADMIN, "Sys" },
	{ "PVETemplateUser", RK_TEMPLATE, NULL },
	{ "PVEUserAdmin", RK_CAT_ADMIN, "User" },
	{ "PVEVMAdmin", RK_CAT_ADMIN, "VM" },
	{ "PVEVMUser", RK_CAT_USER, "VM" },
};

size_t acl_priv_count(void)
{
	return ARRAY_SIZE(privs);
}

const char *acl_priv_name(size_t i)
{
	return i < ARRAY_SIZE(privs) ? privs[i].name : NULL;
}

int acl_priv_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(privs); i++)
		if (strcmp(privs[i].name, name) == 0)
			return (int)i;
	return -1;
}

acl_privs acl_privs_all(void)
{
	return ARRAY_SIZE(privs) == 64 ? ~(acl_privs)0 : ((acl_privs)1 << ARRAY_SIZE(privs)) - 1;
}

/* Privileges whose tiers meet TIERS, within category CAT (NULL = all). */
static acl_privs tier_mask(const char *cat, unsigned tiers)
{
	acl_privs m = 0;

	for (size_t i = 0; i < ARRAY_SIZE(privs); i++)
		if ((privs[i].tiers & tiers) && (!cat || strcmp(cat, privs[i].cat) == 0))
			m |= (acl_privs)1 << i;
	return m;
}

static acl_privs priv_bit(const char *name)
{
	int i = acl_priv_find(name);

	return i < 0 ? 0 : (acl_privs)1 << i;
}

static acl_privs role_mask(const struct role_def *r)
{
	switch (r->kind) {
	case RK_ALL:
		return acl_privs_all();
	case RK_NONE:
		return 0;
	case RK_CAT_ADMIN:
		return tier_mask(r->cat, T_ADMIN | T_USER | T_AUDIT);
	case RK_CAT_USER:
		return tier_mask(r->cat, T_USER | T_AUDIT);
	case RK_ADMIN:
		/* Proxmox keeps Mapping.Modify to Administrator and PVEMappingAdmin. */
		return tier_mask(NULL, T_ADMIN | T_USER | T_AUDIT) & ~priv_bit("Mapping.Modify");
	case RK_AUDITOR:
		return tier_mask(NULL, T_AUDIT);
	case RK_TEMPLATE:
		return priv_bit("VM.Clone") | priv_bit("VM.Audit");
	}
	return 0;
}

int acl_builtin_role(const char *name, acl_privs *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
		if (strcmp(roles[i].name, name) == 0) {
			*out = role_mask(&roles[i]);
			return 0;
		}
	}
	return CR_ENOTFOUND;
}

size_t acl_builtin_count(void)
{
	return ARRAY_SIZE(roles);
}

const char *acl_builtin_name(size_t i)
{
	return i < ARRAY_SIZE(roles) ? roles[i].name : NULL;
}

static int is_list_sep(char c)
{
	return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int acl_split_list(const char *list, acl_item_fn fn, void *ctx)
{
	char item[ACL_PATH_MAX + 1];

	while (list && *list) {
		size_t len = 0;
		int r;

		while (is_list_sep(*list))
			list++;
		while (list[len] && !is_list_sep(list[len]))
			len++;
		if (len == 0)
			break;
		if (len > ACL_PATH_MAX)
			return -EINVAL;
		memcpy(item, list, len);
		item[len] = '\0';
		r = fn(item, ctx);
		if (r)
			return r;
		list += len;
	}
	return 0;
}

struct parse_ctx {
	acl_privs mask;
	char *bad;
	size_t badlen;
};

static int parse_one_priv(const char *item, void *ctx)
{
	struct parse_ctx *pc = ctx;
	int i = acl_priv_find(item);

	if (i < 0) {
		util_strlcpy(pc->bad, item, pc->badlen);
		return -EINVAL;
	}
	pc->mask |= (acl_privs)1 << i;
	return 0;
}

int acl_parse_privs(const char *list, acl_privs *out, char *bad, size_t badlen)
{
	struct parse_ctx pc = { 0, bad, badlen };
	int r;

	if (badlen)
		bad[0] = '\0';
	r = acl_split_list(list, parse_one_priv, &pc);
	if (r < 0)
		return -EINVAL;
	*out = pc.mask;
	return 0;
}

cJSON *acl_privs_json(acl_privs have, const acl_privs *prop)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < ARRAY_SIZE(privs); i++) {
		acl_privs bit = (acl_privs)1 << i;

		if ((have & bit) && !cJSON_AddNumberToObject(o, privs[i].name,
							      prop ? !!(*prop & bit) : 1)) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *acl_privs_text(acl_privs mask)
{
	const char *names[ARRAY_SIZE(privs)];
	struct buf b = BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(privs); i++)
		if (mask & ((acl_privs)1 << i))
			names[n++] = privs[i].name;
	qsort(names, n, sizeof(names[0]), name_cmp);
	if (buf_puts(&b, "") < 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (buf_printf(&b, "%s%s", i ? "," : "", names[i]) < 0) {
			buf_free(&b);
			return NULL;
		}
	}
	return buf_steal(&b);
}

/* --- paths --- */

static int path_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' || c == '/';
}

int acl_normalize_path(const char *in, char *out, size_t n)
{
	size_t o = 0;

	if (!in || !*in || n < 2)
		return -EINVAL;
	out[o++] = '/';
	for (const char *p = in; *p; p++) {
		if (!path_char_ok(*p))
			return -EINVAL;
		if (*p == '/' && out[o - 1] == '/')
			continue;
		if (o + 1 >= n)
			return -EINVAL;
		out[o++] = *p;
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
	return 0;
}

/* Segment classes of the ACL path table: "*" a name, "#v" a VM id
 * ([1-9][0-9]{2,}), "#t" a VLAN tag ([1-9][0-9]{0,3}); others literal. */
static const char *const acl_paths[] = {
	"/",
	"/access",
	"/access/groups",
	"/access/groups/*",
	"/access/realm",
	"/access/realm/*",
	"/mapping",
	"/mapping/*",
	"/mapping/*/*",
	"/nodes",
	"/nodes/*",
	"/pool",
	"/pool/*",
	"/pool/*/*",
	"/pool/*/*/*",
	"/sdn",
	"/sdn/controllers",
	"/sdn/controllers/*",
	"/sdn/dns",
	"/sdn/dns/*",
	"/sdn/ipams",
	"/sdn/ipams/*",
	"/sdn/zones",
	"/sdn/zones/*",
	"/sdn/zones/*/*",
	"/sdn/zones/*/*/#t",
	"/storage",
	"/storage/*",
	"/vms",
	"/vms/#v",
};

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return len > 0;
}

static int segment_matches(const char *pat, size_t plen, const char *seg, size_t slen)
{
	if (plen == 1 && pat[0] == '*')
		return slen > 0;
	if (plen == 2 && pat[0] == '#')
		return all_digits(seg, slen) && seg[0] != '0' &&
		       (pat[1] == 'v' ? slen >= 3 : slen <= 4);
	return plen == slen && memcmp(pat, seg, slen) == 0;
}

static int pattern_matches(const char *pat, const char *path)
{
	while (*pat && *path) {
		size_t plen = strcspn(pat + 1, "/"), slen = strcspn(path + 1, "/");

		if (*pat != '/' || *path != '/' || !segment_matches(pat + 1, plen, path + 1, slen))
			return 0;
		pat += 1 + plen;
		path += 1 + slen;
	}
	return *pat == '\0' && *path == '\0';
}

int acl_path_allowed(const char *path)
{
	if (strcmp(path, "/") == 0)
		return 1;
	for (size_t i = 1; i < ARRAY_SIZE(acl_paths); i++)
		if (pattern_matches(acl_paths[i], path))
			return 1;
	return 0;
}

/* --- identifiers --- */

/* Proxmox realm_regex: [A-Za-z][A-Za-z0-9.-_]+ (also the token sub-id). */
static int valid_realm(const char *s, size_t len)
{
	if (len < 2 || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_", s[i]))
			return 0;
	return 1;
}

const char *acl_userid_realm(const char *userid)
{
	const char *at = strrchr(userid, '@');

	return at ? at + 1 : "";
}

int acl_valid_userid(const char *s)
{
	size_t len = strlen(s);
	const char *at = strrchr(s, '@');

	if (len < 3 || len > 64 || !at || at == s)
		return -EINVAL;
	/* user_regex [^\s:/]+ */
	for (const char *p = s; p < at; p++)
		if (isspace((unsigned char)*p) || *p == ':' || *p == '/')
			return -EINVAL;
	return valid_realm(at + 1, strlen(at + 1)) ? 0 : -EINVAL;
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= ACL_ID_MAX)
		return -EINVAL;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-_", *s))
			return -EINVAL;
	return 0;
}

int acl_valid_groupid(const char *s)
{
	return valid_name(s);
}

int acl_valid_roleid(const char *s)
{
	return valid_name(s);
}

int acl_valid_poolid(const char *s)
{
	return valid_name(s);
}

int acl_valid_token_subid(const char *s)
{
	size_t len = strlen(s);

	return len < 64 && valid_realm(s, len) ? 0 : -EINVAL;
}

int acl_split_tokenid(const char *full, char *user, char *sub)
{
	const char *bang = strrchr(full, '!');
	size_t ulen;

	if (!bang)
		return -EINVAL;
	ulen = (size_t)(bang - full);
	if (ulen >= ACL_ID_MAX || strlen(bang + 1) >= ACL_ID_MAX)
		return -EINVAL;
	memcpy(user, full, ulen);
	user[ulen] = '\0';
	strcpy(sub, bang + 1);
	if (acl_valid_userid(user) < 0 || acl_valid_token_subid(sub) < 0)
		return -EINVAL;
	return 0;
}
