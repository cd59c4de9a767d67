/* Authorization over the compiled access snapshot: the router's privilege
 * check and the capability map of the login answer. */
#include "server/auth.h"

#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/app.h"
#include "server/auth_int.h"
#include "server/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- authorization --- */

static int parse_any_privs(const char *privs, acl_privs *mask)
{
	char one[64];

	*mask = 0;
	while (*privs) {
		size_t len = strcspn(privs, "|");
		int i;

		if (len == 0 || len >= sizeof(one))
			return -EINVAL;
		memcpy(one, privs, len);
		one[len] = '\0';
		i = acl_priv_find(one);
		if (i < 0)
			return -EINVAL;
		*mask |= (acl_privs)1 << i;
		privs += len + (privs[len] == '|');
	}
	return *mask ? 0 : -EINVAL;
}

/* Does AUTHID hold any of PRIVS on PATH in snapshot S (may be NULL)? */
static int snap_allows(const struct acl_snap *s, const char *authid, const char *path,
		       const char *privs)
{
	char norm[ACL_PATH_MAX];
	acl_privs want;

	if (!s || parse_any_privs(privs, &want) < 0 ||
	    acl_normalize_path(path, norm, sizeof(norm)) < 0)
		return 0;
	return (acl_permissions(s, authid, norm, NULL) & want) != 0;
}

int auth_check(struct auth *a, const struct identity *who, const char *path, const char *privs)
{
	char authid[2 * ACL_ID_MAX + 2];
	struct acl_snap *s;
	int ok;

	if (strcmp(privs, PERM_WORLD) == 0)
		return 0;
	if (!who || !who->userid[0])
		return CR_EPERM_CHECK;
	if (strcmp(privs, PERM_USER) == 0)
		return 0;
	auth_authid(who, authid, sizeof(authid));
	s = auth_snap_get(a);
	ok = snap_allows(s, authid, path, privs);
	auth_snap_put(a, s);
	return ok ? 0 : CR_EPERM_CHECK;
}

struct auth_checker {
	struct auth *a;
	struct acl_snap *s;		    /* NULL without a user */
	char authid[2 * ACL_ID_MAX + 2]; /* "" without a user */
};

struct auth_checker *auth_checker_new(struct auth *a, const struct identity *who)
{
	struct auth_checker *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->a = a;
	if (who && who->userid[0]) {
		auth_authid(who, c->authid, sizeof(c->authid));
		c->s = auth_snap_get(a);
	}
	return c;
}

int auth_checker_can(const struct auth_checker *c, const char *path, const char *privs)
{
	if (strcmp(privs, PERM_WORLD) == 0)
		return 1;
	if (!c->authid[0])
		return 0;
	if (strcmp(privs, PERM_USER) == 0)
		return 1;
	return snap_allows(c->s, c->authid, path, privs);
}

void auth_checker_free(struct auth_checker *c)
{
	if (!c)
		return;
	auth_snap_put(c->a, c->s);
	free(c);
}

/* compute_api_permission: the UI's capability map.  Each top-level path
 * keeps the privileges whose names start with one of its prefixes. */
struct cap_area {
	const char *name;
	const char *prefixes; /* '|'-separated */
};

static const struct cap_area cap_areas[] = {
	{ "vms", "VM.|Permissions.Modify" },
	{ "access", "User.|Group.|Permissions.Modify" },
	{ "storage", "Datastore.|Permissions.Modify" },
	{ "nodes", "Sys.|Permissions.Modify" },
	{ "sdn", "SDN.|Permissions.Modify" },
	{ "dc", "Sys.Audit|Sys.Modify|SDN." },
	{ "mapping", "Mapping.|Permissions.Modify" },
};

static const char *const cap_paths[] = { "/", "/nodes", "/access/groups", "/vms",
					 "/storage", "/sdn", "/mapping" };

static acl_privs prefix_mask(const char *prefixes)
{
	acl_privs m = 0;

	for (size_t i = 0; i < acl_priv_count(); i++) {
		const char *name = acl_priv_name(i), *p = prefixes;

		while (*p) {
			size_t len = strcspn(p, "|");

			if (strncmp(name, p, len) == 0)
				m |= (acl_privs)1 << i;
			p += len + (p[len] == '|');
		}
	}
	return m;
}

static void cap_area_of(const char *path, char *top, size_t n)
{
	size_t len = strcspn(path + 1, "/");

	if (len == 0)
		snprintf(top, n, "dc");
	else
		snprintf(top, n, "%.*s", (int)len, path + 1);
}

/* Adds the privileges HAVE on PATH to the areas of CAPS (masks per area). */
static void cap_collect(const char *path, acl_privs have, acl_privs caps[])
{
	char top[64];

	cap_area_of(path, top, sizeof(top));
	if (strcmp(top, "pool") == 0) {
		caps[0] |= have & prefix_mask("VM.|Permissions.Modify");
		caps[2] |= have & prefix_mask("Datastore.|Permissions.Modify");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cap_areas); i++)
		if (strcmp(top, cap_areas[i].name) == 0)
			caps[i] |= have & prefix_mask(cap_areas[i].prefixes);
}

static cJSON *caps_json(const acl_privs caps[])
{
	cJSON *res = cJSON_CreateObject();

	for (size_t i = 0; res && i < ARRAY_SIZE(cap_areas); i++) {
		cJSON *o = acl_privs_json(caps[i], NULL);

		if (!o || !cJSON_AddItemToObject(res, cap_areas[i].name, o)) {
			cJSON_Delete(o);
			cJSON_Delete(res);
			return NULL;
		}
	}
	return res;
}

cJSON *auth_caps(struct auth *a, const struct identity *who)
{
	acl_privs caps[ARRAY_SIZE(cap_areas)] = { 0 };
	char authid[2 * ACL_ID_MAX + 2];
	struct acl_snap *s = auth_snap_get(a);

	auth_authid(who, authid, sizeof(authid));
	for (size_t i = 0; s && i < ARRAY_SIZE(cap_paths); i++)
		cap_collect(cap_paths[i], acl_permissions(s, authid, cap_paths[i], NULL), caps);
	for (size_t i = 0; s && i < acl_path_count(s); i++)
		cap_collect(acl_path_at(s, i), acl_permissions(s, authid, acl_path_at(s, i), NULL),
			    caps);
	auth_snap_put(a, s);
	return caps_json(caps);
}
