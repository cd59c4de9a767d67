/* Parameter formats of the access objects with Proxmox's wording
 * (pve-access-control Auth/Plugin.pm, AccessControl.pm; lists as
 * PVE::JSONSchema's "-list" formats).  The router prefixes the messages
 * with "invalid format - ". */
#include "common/util.h"
#include "server/acl.h"
#include "server/api.h"
#include "server/params.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int param_check_pve_userid(const char *v, char *err, size_t errlen)
{
	size_t len = strlen(v);

	if (len < 3)
		snprintf(err, errlen, "user name '%s' is too short", v);
	else if (len > 64)
		snprintf(err, errlen, "user name '%s' is too long (%zu > 64)", v, len);
	else if (acl_valid_userid(v) < 0)
		snprintf(err, errlen, "value '%s' does not look like a valid user name", v);
	else
		return 0;
	return -EINVAL;
}

int param_check_userid_or_token(const char *v, char *err, size_t errlen)
{
	char user[ACL_ID_MAX], sub[ACL_ID_MAX];

	if (acl_valid_userid(v) == 0 || acl_split_tokenid(v, user, sub) == 0)
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

int param_check_pve_groupid(const char *v, char *err, size_t errlen)
{
	if (acl_valid_groupid(v) == 0)
		return 0;
	snprintf(err, errlen, "group name '%s' contains invalid characters", v);
	return -EINVAL;
}

int param_check_pve_roleid(const char *v, char *err, size_t errlen)
{
	if (acl_valid_roleid(v) == 0)
		return 0;
	snprintf(err, errlen, "role name '%s' contains invalid characters", v);
	return -EINVAL;
}

int param_check_pve_tokenid(const char *v, char *err, size_t errlen)
{
	char user[ACL_ID_MAX], sub[ACL_ID_MAX];

	if (acl_split_tokenid(v, user, sub) == 0)
		return 0;
	snprintf(err, errlen, "value '%s' does not look like a valid token ID", v);
	return -EINVAL;
}

int param_check_token_subid(const char *v, char *err, size_t errlen)
{
	if (acl_valid_token_subid(v) == 0)
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

int param_check_pve_realm(const char *v, char *err, size_t errlen)
{
	char probe[ACL_ID_MAX + 8];

	snprintf(probe, sizeof(probe), "xx@%s", v);
	if (strlen(v) <= 32 && acl_valid_userid(probe) == 0)
		return 0;
	snprintf(err, errlen, "value does not look like a valid realm");
	return -EINVAL;
}

struct list_ctx {
	param_check_fn check;
	char *err;
	size_t errlen;
};

static int check_item(const char *item, void *ctx)
{
	struct list_ctx *lc = ctx;
	char one[256];

	if (lc->check(item, one, sizeof(one)) == 0)
		return 0;
	snprintf(lc->err, lc->errlen, "%s", one);
	return -EINVAL;
}

/* Every item of a Proxmox list must pass CHECK. */
static int check_list(const char *v, param_check_fn check, char *err, size_t errlen)
{
	struct list_ctx lc = { check, err, errlen };
	int r = acl_split_list(v, check_item, &lc);

	if (r == -EINVAL && !err[0])
		snprintf(err, errlen, "list item too long");
	return r < 0 ? -EINVAL : 0;
}

int param_check_pve_userid_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, param_check_pve_userid, err, errlen);
}

int param_check_pve_groupid_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, param_check_pve_groupid, err, errlen);
}

int param_check_pve_roleid_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, param_check_pve_roleid, err, errlen);
}

int param_check_pve_tokenid_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, param_check_pve_tokenid, err, errlen);
}

int param_check_pve_poolid(const char *v, char *err, size_t errlen)
{
	if (acl_valid_poolid(v) == 0)
		return 0;
	snprintf(err, errlen, "pool name '%.100s' contains invalid characters", v);
	return -EINVAL;
}

/* The member lists of PUT /pools (pve-vmid-list, pve-storage-id-list). */
int param_check_pve_vmid_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, param_check_pve_vmid, err, errlen);
}

int param_check_pve_storage_id_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, param_check_pve_storage_id, err, errlen);
}

static int check_priv(const char *v, char *err, size_t errlen)
{
	if (acl_priv_find(v) >= 0)
		return 0;
	snprintf(err, errlen, "invalid privilege '%s'", v);
	return -EINVAL;
}

int param_check_pve_priv_list(const char *v, char *err, size_t errlen)
{
	err[0] = '\0';
	return check_list(v, check_priv, err, errlen);
}
