/* Pure cloud-init generators: user-data, network-config (v1) and meta-data
 * from a VM configuration, as Proxmox's Cloudinit.pm writes them, but with
 * every user-supplied string YAML-quoted; plus the key helpers they need. */
#include "hv/cloudinit.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

char *cloudinit_urldecode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* ---- SSH public keys ------------------------------------------------------------ */

static const char *const ssh_types[] = {
	"ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
};

static int ssh_type_known(const char *t, size_t n)
{
	static const char cert[] = "-cert-v01@openssh.com";
	size_t c = sizeof(cert) - 1;

	for (size_t i = 0; i < ARRAY_SIZE(ssh_types); i++) {
		size_t k = strlen(ssh_types[i]);
		const char *at = strchr(ssh_types[i], '@');
		size_t base = at ? (size_t)(at - ssh_types[i]) : k;

		if (n == k && memcmp(t, ssh_types[i], n) == 0)
			return 1;
		if (!at && n == base + c && memcmp(t, ssh_types[i], base) == 0 &&
		    memcmp(t + base, cert, c) == 0)
			return 1;
	}
	return 0;
}

/* The base64 blob B (N chars) starts with the string TYPE and holds more. */
static int ssh_blob_ok(const char *b, size_t n, const char *type, size_t tn)
{
	unsigned char *raw;
	int len, ok = 0;
	uint32_t l;

	if (n < 8 || n % 4 || n > 65536 || strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") < n)
		return 0;
	if (!(raw = malloc(n)))
		return 0;
	len = EVP_DecodeBlock(raw, (const unsigned char *)b, (int)n);
	len -= (b[n - 1] == '=') + (b[n - 2] == '=');
	if (len > 4) {
		l = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
		ok = l == tn && (size_t)len > 4 + tn && memcmp(raw + 4, type, tn) == 0;
	}
	free(raw);
	return ok;
}

/* "type base64 [comment]" at S (LEN bytes, one line). */
static int ssh_key_at(const char *s, size_t len)
{
	size_t tn = strcspn(s, " \t"), bn;
	const char *b;

	if (tn >= len || !ssh_type_known(s, tn))
		return 0;
	b = s + tn + strspn(s + tn, " \t");
	if (b >= s + len)
		return 0;
	bn = strcspn(b, " \t\r\n");
	if (b + bn > s + len)
		bn = (size_t)(s + len - b);
	return ssh_blob_ok(b, bn, s, tn);
}

/* Skips an authorized_keys options field (commas, "quoted strings"). */
static const char *skip_options(const char *s, const char *end)
{
	int quoted = 0;

	for (; s < end; s++) {
		if (*s == '"' && s[-1] != '\\')
			quoted = !quoted;
		else if (!quoted && (*s == ' ' || *s == '\t'))
			break;
	}
	return s + strspn(s, " \t");
}

static int ssh_line_ok(const char *s, size_t len)
{
	const char *end = s + len;

	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	s += strspn(s, " \t");
	if (s >= end || ssh_key_at(s, (size_t)(end - s)))
		return 1;
	s = skip_options(s + 1, end);
	return s < end && ssh_key_at(s, (size_t)(end - s));
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

int cloudinit_check_ssh_keys(const char *keys)
{
	for (const char *s = keys; *s;) {
		size_t n = strcspn(s, "\n");

		if (!blank(s, n) && s[strspn(s, " \t")] != '#' && !ssh_line_ok(s, n))
			return -EINVAL;
		s += n + (s[n] == '\n');
	}
	return 0;
}

/* ---- YAML ------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at S (1..4), its code point in *CP;
 * 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };

	if (s[0] >= 0xf8 || n == 0)
		return 0;
	*cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < min[n] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

static int yaml_ascii(struct buf *out, unsigned char ch)
{
	switch (ch) {
	case '"':
		return buf_puts(out, "\\\"");
	case '\\':
		return buf_puts(out, "\\\\");
	case '\n':
		return buf_puts(out, "\\n");
	case '\r':
		return buf_puts(out, "\\r");
	case '\t':
		return buf_puts(out, "\\t");
	}
	if (ch < 0x20 || ch == 0x7f)
		return buf_printf(out, "\\x%02x", ch);
	return buf_append(out, &ch, 1);
}

int cloudinit_yaml_quote(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = buf_puts(out, "\"");

	while (r == 0 && *p) {
		uint32_t cp;
		size_t n;

		if (*p < 0x80) {
			r = yaml_ascii(out, *p++);
			continue;
		}
		n = utf8_seq(p, &cp);
		if (n == 0) /* not UTF-8: YAML streams must be */
			r = buf_puts(out, "\\uFFFD"), p++;
		else if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
			r = buf_printf(out, "\\u%04X", (unsigned)cp), p += n; /* breaks, BOM */
		else
			r = buf_append(out, p, n), p += n;
	}
	return r ? r : buf_puts(out, "\"");
}

/* "key: <quoted value>\n" */
static int yaml_kv(struct buf *out, const char *indent, const char *key, const char *v)
{
	int r = buf_printf(out, "%s%s: ", indent, key);

	if (r == 0)
		r = cloudinit_yaml_quote(out, v);
	return r ? r : buf_puts(out, "\n");
}

/* ---- DNS ---------------------------------------------------------------------------- */

static void copy_word(char *dst, size_t n, const char *s)
{
	size_t len = strcspn(s, " \t\r\n#;");

	snprintf(dst, n, "%.*s", (int)(len < n ? len : n - 1), s);
}

/* An address goes into network-config single-quoted: only real ones. */
static int copy_address(char *dst, size_t n, const char *s)
{
	unsigned char bin[16];

	copy_word(dst, n, s);
	if (inet_pton(AF_INET, dst, bin) == 1 || inet_pton(AF_INET6, dst, bin) == 1)
		return 1;
	dst[0] = '\0';
	return 0;
}

void cloudinit_parse_resolv(const char *text, struct cloudinit_dns *dns)
{
	int ns = 0;

	memset(dns, 0, sizeof(*dns));
	for (const char *s = text; *s;) {
		size_t n = strcspn(s, "\n");

		if (strncmp(s, "search", 6) == 0 && (s[6] == ' ' || s[6] == '\t'))
			snprintf(dns->search, sizeof(dns->search), "%.*s",
				 (int)(n - 7 < sizeof(dns->search) ? n - 7 : sizeof(dns->search) - 1),
				 s + 7 + strspn(s + 7, " \t"));
		else if (strncmp(s, "nameserver", 10) == 0 && (s[10] == ' ' || s[10] == '\t') && ns < 3)
			ns += copy_address(dns->nameserver[ns], sizeof(dns->nameserver[0]),
					   s + 11 + strspn(s + 11, " \t"));
		s += n + (s[n] == '\n');
	}
	dns->search[strcspn(dns->search, "\r\n#")] = '\0';
}

/* ---- format and keys ---------------------------------------------------------------- */

const char *cloudinit_format(const struct vmconf *c)
{
	const char *ostype = vmconf_get(c, "ostype");

	if (vmconf_get(c, "citype"))
		return vmconf_get(c, "citype");
	if (ostype && ostype[0] == 'w')
		return "configdrive2";
	return "nocloud";
}

int cloudinit_format_check(const struct vmconf *c, char *err, size_t errlen)
{
	const char *f = cloudinit_format(c), *ostype = vmconf_get(c, "ostype");
	int windows = ostype && ostype[0] == 'w';

	if (strcmp(f, "nocloud") == 0 || (strcmp(f, "configdrive2") == 0 && !windows))
		return 0;
	snprintf(err, errlen,
		 "cloud-init format '%s'%s is not supported: Corral writes NoCloud images, and "
		 "configdrive2 ones for Linux guests (set citype=nocloud)",
		 f, vmconf_get(c, "citype") ? (windows ? " for Windows guests" : "")
					    : " (the default for Windows guests)");
	return -ENOTSUP;
}

static int indexed(const char *key, const char *prefix, int max)
{
	size_t n = strlen(prefix);
	uint64_t i;

	if (strncmp(key, prefix, n) != 0 || !isdigit((unsigned char)key[n]) ||
	    (key[n] == '0' && key[n + 1]) || util_parse_u64(key + n, &i) < 0)
		return 0;
	return i <= (uint64_t)max;
}

int cloudinit_is_listed_key(const char *key)
{
	static const char *const keys[] = { "cicustom",	  "cipassword", "citype",  "ciupgrade",
					    "ciuser",	  "nameserver", "searchdomain", "sshkeys" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return indexed(key, "ipconfig", 31);
}

int cloudinit_is_source_key(const char *key)
{
	return cloudinit_is_listed_key(key) || strcmp(key, "name") == 0 || indexed(key, "net", 31);
}

int cloudinit_drive(const struct vmconf *c, int vmid, char *key, size_t n)
{
	char want[64];

	snprintf(want, sizeof(want), "%d/vm-%d-cloudinit.", vmid, vmid);
	for (size_t i = 0; i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i), *v = vmconf_value_at(c, i);
		const char *colon = strchr(v, ':');

		if (!indexed(k, "ide", 3) && !indexed(k, "sata", 5) && !indexed(k, "scsi", 30))
			continue;
		if (colon && strncmp(colon + 1, want, strlen(want)) == 0) {
			snprintf(key, n, "%s", k);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- user-data -------------------------------------------------------------------- */

static int user_identity(struct buf *b, const struct vmconf *c, int vmid)
{
	const char *name = vmconf_get(c, "name"), *search = vmconf_get(c, "searchdomain");
	char host[256], fqdn[512];
	int r;

	if (name)
		snprintf(host, sizeof(host), "%.*s", (int)strcspn(name, "."), name);
	else
		snprintf(host, sizeof(host), "VM%d", vmid);
	if (name && strchr(name, '.'))
		snprintf(fqdn, sizeof(fqdn), "%s", name);
	else if (search && search[strspn(search, " \t")]) /* its first domain */
		snprintf(fqdn, sizeof(fqdn), "%s.%.*s", host,
			 (int)strcspn(search + strspn(search, " \t"), " \t"),
			 search + strspn(search, " \t"));
	else
		snprintf(fqdn, sizeof(fqdn), "%s", host);
	r = buf_printf(b, "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\n", host);
	return r ? r : yaml_kv(b, "", "fqdn", fqdn);
}

static int user_keys(struct buf *b, const char *enc)
{
	char *keys = cloudinit_urldecode(enc);
	int r = keys ? buf_puts(b, "ssh_authorized_keys:\n") : -ENOMEM;

	for (const char *s = keys; r == 0 && *s;) {
		size_t n = strcspn(s, "\n");
		char *line = strndup(s, n);

		if (!line) {
			r = -ENOMEM;
			break;
		}
		line[strcspn(line, "\r")] = '\0';
		if (!blank(line, strlen(line)))
			r = buf_puts(b, "  - ") || cloudinit_yaml_quote(b, line) || buf_puts(b, "\n");
		free(line);
		s += n + (s[n] == '\n');
	}
	free(keys);
	return r ? -ENOMEM : 0;
}

int cloudinit_user_data(const struct vmconf *c, int vmid, char **out)
{
	const char *user = vmconf_get(c, "ciuser"), *pw = vmconf_get(c, "cipassword");
	const char *keys = vmconf_get(c, "sshkeys"), *up = vmconf_get(c, "ciupgrade");
	int root = user && strcmp(user, "root") == 0;
	struct buf b = BUF_INIT;
	int r = user_identity(&b, c, vmid);

	if (r == 0 && user)
		r = yaml_kv(&b, "", "user", user);
	if (r == 0 && root)
		r = buf_puts(&b, "disable_root: False\n");
	if (r == 0 && pw)
		r = yaml_kv(&b, "", "password", pw);
	if (r == 0 && keys)
		r = user_keys(&b, keys);
	if (r == 0)
		r = buf_puts(&b, "chpasswd:\n  expire: False\n");
	if (r == 0 && !root)
		r = buf_puts(&b, "users:\n  - default\n");
	if (r == 0 && (!up || strcmp(up, "0") != 0))
		r = buf_puts(&b, "package_upgrade: true\n");
	*out = r == 0 ? buf_steal(&b) : NULL;
	buf_free(&b);
	return r == 0 && !*out ? -ENOMEM : r;
}

/* ---- network-config v1 ------------------------------------------------------------ */

struct ipconf {
	char ip[64], gw[64], ip6[64], gw6[64];
};

static void ipconf_parse(const char *v, struct ipconf *ic)
{
	memset(ic, 0, sizeof(*ic));
	for (const char *s = v; *s;) {
		size_t n = strcspn(s, ",");
		const char *eq = memchr(s, '=', n);
		char *dst = NULL;

		if (eq && eq - s == 2 && !strncmp(s, "ip", 2))
			dst = ic->ip;
		else if (eq && eq - s == 3 && !strncmp(s, "ip6", 3))
			dst = ic->ip6;
		else if (eq && eq - s == 2 && !strncmp(s, "gw", 2))
			dst = ic->gw;
		else if (eq && eq - s == 3 && !strncmp(s, "gw6", 3))
			dst = ic->gw6;
		if (dst)
			snprintf(dst, 64, "%.*s", (int)(n - (eq + 1 - s)), eq + 1);
		s += n + (s[n] == ',');
	}
}

/* CIDR's address length and its mask as a dotted quad into MASK. */
static size_t split_ip4(const char *cidr, char mask[16])
{
	size_t alen = strcspn(cidr, "/");
	/* checked values have a mask of 0..32; anything else counts as /32 */
	unsigned bits = cidr[alen] ? (unsigned)strtoul(cidr + alen + 1, NULL, 10) : 32;
	uint32_t m = bits == 0 ? 0 : bits >= 32 ? 0xffffffffu : 0xffffffffu << (32 - bits);

	snprintf(mask, 16, "%u.%u.%u.%u", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
	return alen;
}

static int net_v4(struct buf *b, const struct ipconf *ic)
{
	char mask[16];
	size_t alen = split_ip4(ic->ip, mask);
	int r;

	if (!ic->ip[0])
		return 0;
	if (strcmp(ic->ip, "dhcp") == 0)
		return buf_puts(b, "      - type: dhcp4\n");
	r = buf_printf(b, "      - type: static\n        address: '%.*s'\n"
			  "        netmask: '%s'\n", (int)alen, ic->ip, mask);
	if (r == 0 && ic->gw[0])
		r = buf_printf(b, "        gateway: '%s'\n", ic->gw);
	return r;
}

static int net_v6(struct buf *b, const struct ipconf *ic)
{
	int r;

	if (!ic->ip6[0])
		return 0;
	if (strcmp(ic->ip6, "dhcp") == 0)
		return buf_puts(b, "      - type: dhcp6\n");
	if (strcmp(ic->ip6, "auto") == 0) /* SLAAC: cloud-init >= 19.4 */
		return buf_puts(b, "      - type: ipv6_slaac\n");
	r = buf_printf(b, "      - type: static6\n        address: '%s'\n", ic->ip6);
	if (r == 0 && ic->gw6[0])
		r = buf_printf(b, "        gateway: '%s'\n", ic->gw6);
	return r;
}

static int net_iface(struct buf *b, const struct vmconf *c, int id, char *err, size_t errlen)
{
	char key[24], ipkey[24];
	struct vmconf_net net;
	struct ipconf ic;
	int r;

	snprintf(key, sizeof(key), "net%d", id);
	snprintf(ipkey, sizeof(ipkey), "ipconfig%d", id);
	if (!vmconf_get(c, key) || !vmconf_get(c, ipkey))
		return 0;
	if (vmconf_net_parse(key, vmconf_get(c, key), &net, err, errlen) < 0 || !net.has_mac) {
		snprintf(err, errlen, "network interface '%s' has no mac address", key);
		return -EINVAL;
	}
	ipconf_parse(vmconf_get(c, ipkey), &ic);
	r = buf_printf(b, "    - type: physical\n      name: eth%d\n"
			  "      mac_address: '%02x:%02x:%02x:%02x:%02x:%02x'\n      subnets:\n",
		       id, net.mac[0], net.mac[1], net.mac[2], net.mac[3], net.mac[4], net.mac[5]);
	if (r == 0)
		r = net_v4(b, &ic);
	return r ? r : net_v6(b, &ic);
}

/* The nameserver entry: the VM's nameserver/searchdomain, else the host's. */
/* The nameservers (into LIST) and search domains (returned) of C, else
 * the host's when C sets neither (Proxmox's get_dns_conf). */
static const char *dns_of(const struct vmconf *c, const struct cloudinit_dns *host,
			  char list[512])
{
	const char *ns = vmconf_get(c, "nameserver"), *search = vmconf_get(c, "searchdomain");

	list[0] = '\0';
	if (!ns && !search && host) {
		snprintf(list, 512, "%s %s %s", host->nameserver[0], host->nameserver[1],
			 host->nameserver[2]);
		return host->search;
	}
	if (ns)
		snprintf(list, 512, "%s", ns);
	return search ? search : "";
}

static int net_dns(struct buf *b, const struct vmconf *c, const struct cloudinit_dns *host)
{
	char list[512];
	const char *search = dns_of(c, host, list);
	int r = buf_puts(b, "    - type: nameserver\n");

	if (r == 0 && list[strspn(list, " \t,;")])
		r = buf_puts(b, "      address:\n");
	for (const char *s = list + strspn(list, " \t,;"); r == 0 && *s; s += strspn(s, " \t,;")) {
		size_t n = strcspn(s, " \t,;");

		r = buf_printf(b, "      - '%.*s'\n", (int)n, s);
		s += n;
	}
	if (r == 0 && search[strspn(search, " \t")])
		r = buf_puts(b, "      search:\n");
	for (const char *s = search + strspn(search, " \t"); r == 0 && *s;
	     s += strspn(s, " \t")) {
		char *one = strndup(s, strcspn(s, " \t"));

		r = one ? buf_puts(b, "      - ") || cloudinit_yaml_quote(b, one) || buf_puts(b, "\n")
			: -ENOMEM;
		s += strlen(one ? one : s);
		free(one);
	}
	return r ? -ENOMEM : 0;
}

int cloudinit_network_config(const struct vmconf *c, const struct cloudinit_dns *host,
			     char **out, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	int r = buf_puts(&b, "version: 1\nconfig:\n");

	/* in key order (net0, net1, net10, ..., net2), as Proxmox sorts them */
	for (size_t i = 0; r == 0 && i < vmconf_count(c); i++)
		if (indexed(vmconf_key_at(c, i), "net", 31))
			r = net_iface(&b, c, atoi(vmconf_key_at(c, i) + 3), err, errlen);
	if (r == 0)
		r = net_dns(&b, c, host);
	*out = r == 0 ? buf_steal(&b) : NULL;
	buf_free(&b);
	return r == 0 && !*out ? -ENOMEM : r;
}

/* ---- configdrive2 (OpenStack config drive), Linux guests ---------------------- */

/* Proxmox's ENI stanzas of ethID. */
static int eni_iface(struct buf *b, int id, const struct ipconf *ic)
{
	char mask[16];
	size_t alen = split_ip4(ic->ip, mask), a6 = strcspn(ic->ip6, "/");
	int r = buf_printf(b, "auto eth%d\n", id);

	if (r == 0 && strcmp(ic->ip, "dhcp") == 0)
		r = buf_printf(b, "iface eth%d inet dhcp\n", id);
	else if (r == 0 && ic->ip[0])
		r = buf_printf(b, "iface eth%d inet static\n        address %.*s\n"
				  "        netmask %s\n", id, (int)alen, ic->ip, mask);
	if (r == 0 && ic->ip[0] && strcmp(ic->ip, "dhcp") && ic->gw[0])
		r = buf_printf(b, "        gateway %s\n", ic->gw);
	if (r == 0 && (!strcmp(ic->ip6, "auto") || !strcmp(ic->ip6, "dhcp")))
		r = buf_printf(b, "iface eth%d inet6 %s\n", id, ic->ip6);
	else if (r == 0 && ic->ip6[0])
		r = buf_printf(b, "iface eth%d inet6 static\n        address %.*s\n"
				  "        netmask %s\n", id, (int)a6, ic->ip6,
			       ic->ip6[a6] ? ic->ip6 + a6 + 1 : "");
	if (r == 0 && ic->ip6[0] && strcmp(ic->ip6, "auto") && strcmp(ic->ip6, "dhcp") &&
	    ic->gw6[0])
		r = buf_printf(b, "        gateway %s\n", ic->gw6);
	return r;
}

/* "LABEL a b c\n" from the words of LIST, nothing when it has none. */
static int eni_words(struct buf *b, const char *label, const char *list)
{
	const char *sep = "";
	int r = 0;

	if (!list[strspn(list, " \t,;")])
		return 0;
	r = buf_printf(b, "        %s ", label);
	for (const char *s = list + strspn(list, " \t,;"); r == 0 && *s; s += strspn(s, " \t,;")) {
		size_t n = strcspn(s, " \t,;");

		r = buf_printf(b, "%s%.*s", sep, (int)n, s);
		sep = " ";
		s += n;
	}
	return r ? r : buf_puts(b, "\n");
}

int cloudinit_configdrive2_network(const struct vmconf *c, const struct cloudinit_dns *host,
				   char **out)
{
	struct buf b = BUF_INIT;
	char list[512];
	const char *search = dns_of(c, host, list);
	int r = buf_puts(&b, "auto lo\niface lo inet loopback\n\n");

	if (r == 0)
		r = eni_words(&b, "dns_nameservers", list);
	if (r == 0)
		r = eni_words(&b, "dns_search", search);
	for (size_t i = 0; r == 0 && i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i);
		char ipkey[24];
		struct ipconf ic;

		snprintf(ipkey, sizeof(ipkey), "ipconfig%s", k + 3);
		if (!indexed(k, "net", 31) || !vmconf_get(c, ipkey))
			continue;
		ipconf_parse(vmconf_get(c, ipkey), &ic);
		r = eni_iface(&b, atoi(k + 3), &ic);
	}
	*out = r == 0 ? buf_steal(&b) : NULL;
	buf_free(&b);
	return r == 0 && !*out ? -ENOMEM : r;
}

static int sha1_hex(const char *a, const char *b, char hex[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
		 EVP_DigestUpdate(ctx, a, strlen(a)) && EVP_DigestUpdate(ctx, b, strlen(b)) &&
		 EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 20;

	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; ok && i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -ENOMEM;
}

int cloudinit_configdrive2_meta(const char *user, const char *network, char **out)
{
	char hex[41];

	*out = NULL;
	if (sha1_hex(user, network, hex) < 0 ||
	    asprintf(out, "{\n     \"uuid\": \"%s\",\n     \"network_config\": "
			  "{ \"content_path\": \"/content/0000\" }\n}\n", hex) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int cloudinit_meta_data(const char *user, const char *network, char **out)
{
	char hex[41];

	*out = NULL;
	if (sha1_hex(user, network, hex) < 0 || asprintf(out, "instance-id: %s\n", hex) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

void cloudinit_files_clear(struct cloudinit_files *f)
{
	free(f->user);
	free(f->network);
	free(f->meta);
	free(f->vendor);
	memset(f, 0, sizeof(*f));
}
