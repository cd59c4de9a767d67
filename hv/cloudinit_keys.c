/* The cloud-init configuration keys (ciuser, cipassword, sshkeys, ipconfigN,
 * nameserver, searchdomain, cicustom): Proxmox's checks as pure functions,
 * used by the key table of hv/vmconf_keys.c. */
#include "hv/vmconf_int.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/util.h"
#include "hv/cloudinit.h"

/* Proxmox's check_type refuses a line break in any config value. */
int vc_check_ci_line(const char *v, char *err, size_t errlen)
{
	if (!strpbrk(v, "\r\n"))
		return 0;
	snprintf(err, errlen, "property contains a line feed");
	return -EINVAL;
}

/* Proxmox's "urlencoded" format, then every key line must be an OpenSSH
 * public key (Proxmox runs ssh-keygen -l on each). */
int vc_check_sshkeys(const char *v, char *err, size_t errlen)
{
	char *keys;
	int r;

	if (strspn(v, "%abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()") !=
	    strlen(v)) {
		snprintf(err, errlen, "invalid format - invalid urlencoded string: %.64s", v);
		return -EINVAL;
	}
	if (!(keys = cloudinit_urldecode(v)))
		return -ENOMEM;
	r = cloudinit_check_ssh_keys(keys) < 0 ? -EINVAL : 0;
	if (r < 0)
		snprintf(err, errlen, "SSH public key validation error");
	free(keys);
	return r;
}

/* ---- passwords ----------------------------------------------------------------- */

/* Already a crypt hash, as Proxmox recognises one: ^\$(?:[156]|2[ay])(\$.+){2} */
static int is_crypt_hash(const char *v)
{
	const char *s;

	if (v[0] != '$')
		return 0;
	if (strchr("156", v[1]) && v[2] == '$')
		s = v + 3;
	else if (v[1] == '2' && (v[2] == 'a' || v[2] == 'y') && v[3] == '$')
		s = v + 4;
	else
		return 0;
	s = strchr(s + 1, '$');
	return s && s[1] != '\0';
}

int vc_check_cipassword(const char *v, char *err, size_t errlen)
{
	return vc_check_ci_line(v, err, errlen);
}

/* Stored as a SHA-256 crypt ($5$) hash with a random salt, as Proxmox's
 * encrypt_pw stores it; a value that is a hash already is kept. */
int vc_canon_cipassword(const char *v, struct buf *out)
{
	static const char set[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[16];
	char salt[3 + sizeof(rnd) + 1] = "$5$";
	struct crypt_data *cd;
	const char *h;
	int r;

	if (is_crypt_hash(v))
		return buf_puts(out, v);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno;
	for (size_t i = 0; i < sizeof(rnd); i++)
		salt[3 + i] = set[rnd[i] % 64];
	salt[3 + sizeof(rnd)] = '\0';
	if (!(cd = calloc(1, sizeof(*cd))))
		return -ENOMEM;
	h = crypt_r(v, salt, cd);
	r = h && h[0] == '$' ? buf_puts(out, h) : -EINVAL;
	free(cd);
	return r;
}

/* ---- addresses ------------------------------------------------------------------- */

static int parse_cidr(int af, const char *v, int max_mask)
{
	char addr[64];
	unsigned char bin[16];
	const char *slash = strchr(v, '/');
	uint64_t mask;

	if (!slash || (size_t)(slash - v) >= sizeof(addr) || !slash[1] ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1) || strlen(slash + 1) > 3 ||
	    util_parse_u64(slash + 1, &mask) < 0 || mask > (uint64_t)max_mask)
		return 0;
	memcpy(addr, v, slash - v);
	addr[slash - v] = '\0';
	return inet_pton(af, addr, bin) == 1;
}

static int is_ip(int af, const char *v)
{
	unsigned char bin[16];

	return strlen(v) < 64 && inet_pton(af, v, bin) == 1;
}

static int ip_fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "invalid format - value does not look like a valid %s", what);
	return -EINVAL;
}

static int check_ip4_config(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "dhcp") == 0 || parse_cidr(AF_INET, v, 32))
		return 0;
	return ip_fail(err, errlen, "ipv4 network configuration");
}

static int check_ip6_config(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "dhcp") == 0 || strcmp(v, "auto") == 0 || parse_cidr(AF_INET6, v, 128))
		return 0;
	return ip_fail(err, errlen, "ipv6 network configuration");
}

static int check_ip4(const char *v, char *err, size_t errlen)
{
	return is_ip(AF_INET, v) ? 0 : ip_fail(err, errlen, "IPv4 address");
}

static int check_ip6(const char *v, char *err, size_t errlen)
{
	return is_ip(AF_INET6, v) ? 0 : ip_fail(err, errlen, "IPv6 address");
}

/* Proxmox's address-list: addresses split on blanks, commas and semicolons. */
int vc_check_nameserver(const char *v, char *err, size_t errlen)
{
	char one[64];
	const char *s = v + strspn(v, " \t,;");

	if (!*s)
		return ip_fail(err, errlen, "address list");
	while (*s) {
		size_t n = strcspn(s, " \t,;");

		if (n >= sizeof(one))
			return ip_fail(err, errlen, "address list");
		memcpy(one, s, n);
		one[n] = '\0';
		if (!is_ip(AF_INET, one) && !is_ip(AF_INET6, one))
			return ip_fail(err, errlen, "address list");
		s += n;
		s += strspn(s, " \t,;");
	}
	return 0;
}

#define P_STR(n, fn) { .name = n, .type = VC_STR, .check = fn }

static const struct vc_prop ipconfig_props[] = {
	P_STR("gw", check_ip4),
	P_STR("gw6", check_ip6),
	P_STR("ip", check_ip4_config),
	P_STR("ip6", check_ip6_config),
};

enum { IPC_GW, IPC_GW6, IPC_IP, IPC_IP6 };

/* The rules parse_ipconfig enforces (Proxmox ignores such a config; Corral
 * refuses it up front). */
static int ipconfig_validate(const char *const *vals, unsigned bus, char *err, size_t errlen)
{
	(void)bus;
	if ((vals[IPC_GW] && !vals[IPC_IP]) || (vals[IPC_GW6] && !vals[IPC_IP6])) {
		snprintf(err, errlen, "gateway specified without specifying an IP address");
		return -EINVAL;
	}
	if ((vals[IPC_GW] && strcmp(vals[IPC_IP], "dhcp") == 0) ||
	    (vals[IPC_GW6] && (!strcmp(vals[IPC_IP6], "dhcp") || !strcmp(vals[IPC_IP6], "auto")))) {
		snprintf(err, errlen, "gateway specified together with DHCP");
		return -EINVAL;
	}
	return 0;
}

const struct vc_format vc_ipconfig_format = {
	ipconfig_props, ARRAY_SIZE(ipconfig_props), NULL, ipconfig_validate,
};

/* ---- cicustom -------------------------------------------------------------------- */

/* A snippet volume, "STORAGE:snippets/NAME" (pool_volid_parse checks it
 * again against the pool when the file is read). */
static int check_snippet(const char *v, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');
	char store[64];

	if (!colon || (size_t)(colon - v) >= sizeof(store) || !vc_check_volname(colon + 1)) {
		snprintf(err, errlen, "invalid format - unable to parse volume ID '%.64s'", v);
		return -EINVAL;
	}
	memcpy(store, v, colon - v);
	store[colon - v] = '\0';
	if (!vc_check_storage_id(store)) {
		snprintf(err, errlen, "invalid format - unable to parse volume ID '%.64s'", v);
		return -EINVAL;
	}
	if (strncmp(colon + 1, "snippets/", 9) != 0 || strchr(colon + 10, '/')) {
		snprintf(err, errlen, "%.128s is not in the snippets directory", v);
		return -EINVAL;
	}
	return 0;
}

static const struct vc_prop cicustom_props[] = {
	P_STR("meta", check_snippet),
	P_STR("network", check_snippet),
	P_STR("user", check_snippet),
	P_STR("vendor", check_snippet),
};

const struct vc_format vc_cicustom_format = {
	cicustom_props, ARRAY_SIZE(cicustom_props), NULL, NULL,
};

/* Proxmox's enumeration; Corral writes NoCloud and configdrive2 images, so
 * opennebula is refused here rather than at the VM's next start. */
int vc_check_citype(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "nocloud") == 0 || strcmp(v, "configdrive2") == 0)
		return 0;
	if (strcmp(v, "opennebula") == 0)
		snprintf(err, errlen, "cloud-init format 'opennebula' is not supported: Corral writes nocloud and configdrive2 images");
	else
		snprintf(err, errlen, "value '%.64s' does not have a value in the enumeration 'configdrive2, nocloud, opennebula'", v);
	return -EINVAL;
}
