/* Authorization data the Proxmox way: privilege names, the built-in roles
 * (derived from privilege tiers like pve-access-control's create_roles), ACL
 * paths, and a compiled snapshot of users, groups, roles, ACLs and tokens
 * that answers "which privileges does this user/token hold on this path". */
#ifndef CORRAL_ACL_H
#define CORRAL_ACL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store_txn;

/* One bit per privilege, in acl_priv_name() order. */
typedef uint64_t acl_privs;

#define ACL_PATH_MAX 256
#define ACL_ID_MAX 128 /* user@realm!token, group and role ids */

/* --- privileges and roles (pure) --- */

size_t acl_priv_count(void);
const char *acl_priv_name(size_t i);
/* Index of NAME, or -1 when it is not a privilege. */
int acl_priv_find(const char *name);
acl_privs acl_privs_all(void);
/* Parses a Proxmox list ("A,B;C D").  Returns 0, or -EINVAL with the first
 * unknown name copied to BAD. */
int acl_parse_privs(const char *list, acl_privs *out, char *bad, size_t badlen);
/* {"Priv":VALUE,...} for every privilege in HAVE, VALUE = 1, or the
 * privilege's bit in PROP (0/1) when PROP is not NULL. */
cJSON *acl_privs_json(acl_privs have, const acl_privs *prop);
/* "A,B,C" sorted by name (as Proxmox lists them); caller frees. */
char *acl_privs_text(acl_privs privs);

/* Built-in ("special") roles: 0 and their privileges, or CR_ENOTFOUND. */
int acl_builtin_role(const char *name, acl_privs *out);
size_t acl_builtin_count(void);
const char *acl_builtin_name(size_t i);

/* Calls FN for every item of a Proxmox list (separators ',', ';' and
 * blanks).  Items longer than ACL_PATH_MAX give -EINVAL.  A non-zero return
 * from FN stops the walk and is returned. */
typedef int (*acl_item_fn)(const char *item, void *ctx);
int acl_split_list(const char *list, acl_item_fn fn, void *ctx);

/* Proxmox normalize_path: collapses slashes, drops a trailing one, adds a
 * leading one; -EINVAL for characters outside [A-Za-z0-9._-/]. */
int acl_normalize_path(const char *in, char *out, size_t n);
/* 1 when PATH (normalized) is one an ACL may be set on (check_path). */
int acl_path_allowed(const char *path);

/* Identifier formats (Proxmox's pve-userid, pve-groupid, pve-roleid,
 * pve-tokenid, token-subid): 0 or -EINVAL. */
int acl_valid_userid(const char *s);
int acl_valid_groupid(const char *s);
int acl_valid_roleid(const char *s);
int acl_valid_token_subid(const char *s);
/* Proxmox pve-poolid ([A-Za-z0-9.-_]+); nested pools ("a/b") are refused. */
int acl_valid_poolid(const char *s);
/* Splits "user@realm!sub" at the last '!' into USER and SUB (each
 * ACL_ID_MAX bytes); -EINVAL when either part is invalid. */
int acl_split_tokenid(const char *full, char *user, char *sub);
/* Realm part of a valid user id (points into USERID). */
const char *acl_userid_realm(const char *userid);

/* --- store layout and generation --- */

/* DB_ACL keys are "path\ttype\tugid\troleid" -> {"propagate":0|1}, so one
 * user may hold several roles on a path.  Every change to users, groups,
 * roles, ACLs or tokens must call acl_touch() in the same transaction:
 * snapshots are reloaded when the generation in DB_META moves. */
#define ACL_GEN_KEY "access-gen"
int acl_touch(struct store_txn *t);
int64_t acl_read_gen(struct store_txn *t);

/* --- compiled snapshot --- */

struct acl_snap;

/* Reads everything from T.  Returns 0 or a store code. */
int acl_snap_load(struct store_txn *t, struct acl_snap **out);
void acl_snap_free(struct acl_snap *s);
int64_t acl_snap_gen(const struct acl_snap *s);

/* 0 when USERID exists (root@pam always does), is enabled and has not
 * expired at NOW; CR_EAUTH otherwise. */
int acl_user_active(const struct acl_snap *s, const char *userid, time_t now);
int acl_user_exists(const struct acl_snap *s, const char *userid);
/* API token USER!SUB with SECRET: 0 and *PRIVSEP, or CR_EAUTH (unknown,
 * expired, wrong secret, or the owner inactive). */
int acl_token_check(const struct acl_snap *s, const char *user, const char *sub,
		    const char *secret, time_t now, int *privsep);
/* 1 when the token USER!SUB exists. */
int acl_token_exists(const struct acl_snap *s, const char *fullid);
/* Privileges of AUTHID ("user@realm" or "user@realm!token") on PATH:
 * root@pam holds all; ACLs on deeper paths replace those above them (only
 * propagated ones are inherited), user ACLs win over group ACLs on one
 * path, NoAccess clears, privilege-separated tokens get the intersection
 * with their owner.  *PROP gets the propagate flag per privilege (may be
 * NULL). */
acl_privs acl_permissions(const struct acl_snap *s, const char *authid, const char *path,
			  acl_privs *prop);
int acl_group_exists(const struct acl_snap *s, const char *group);
int acl_group_member(const struct acl_snap *s, const char *group, const char *userid);
size_t acl_group_count(const struct acl_snap *s);
const char *acl_group_name(const struct acl_snap *s, size_t i);
/* Distinct paths that carry ACL entries, in order. */
size_t acl_path_count(const struct acl_snap *s);
const char *acl_path_at(const struct acl_snap *s, size_t i);
/* Resource pools (DB_POOLS, changed under acl_touch like users): the pool
 * VMID belongs to, or NULL (a VM is in at most one pool); pools in id order.
 * Strings point into S.  acl_permissions() adds the roles held on
 * /pool/<id> to /vms/<vmid> and /storage/<id> of the pool's members, as
 * Proxmox's compile_acl_path does. */
const char *acl_vm_pool(const struct acl_snap *s, int vmid);
size_t acl_pool_count(const struct acl_snap *s);
const char *acl_pool_name(const struct acl_snap *s, size_t i);
/* Calls FN with "/pool/<id>" of every pool, then "/vms/<vmid>" and
 * "/storage/<id>" of every member (the paths pool roles reach); a non-zero
 * return stops the walk and is returned. */
int acl_pool_paths(const struct acl_snap *s, acl_item_fn fn, void *ctx);
/* Privileges of role ID (built-in or custom); CR_ENOTFOUND when unknown. */
int acl_role_privs(const struct acl_snap *s, const char *id, acl_privs *out);

/* SHA-256 of an API token secret as stored: "sha256:<hex>" (72 bytes). */
#define ACL_TOKEN_HASH_MAX 80
void acl_token_hash(const char *secret, char out[ACL_TOKEN_HASH_MAX]);

#endif
