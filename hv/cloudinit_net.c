/* Pure cloud-init network and meta data, as Proxmox's Cloudinit.pm writes
 * them: NoCloud network-config v1 and meta-data, configdrive2's ENI
 * network_data and meta_data.json, and the DNS settings they take. */
#include "hv/cloudinit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hv/cloudinit_int.h"

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
		if (ci_indexed(vmconf_key_at(c, i), "net", 31))
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
		if (!ci_indexed(k, "net", 31) || !vmconf_get(c, ipkey))
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

