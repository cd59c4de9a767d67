/* Network interface listing for /nodes/{node}/network: sysfs scan,
 * classification (pure), "auto" stanzas (pure) and getifaddrs addresses. */
#include "server/netif.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

#define NETIF_MAX 1024    /* interfaces listed at most */
#define ARPHRD_ETHER_ 1   /* linux/if_arp.h */
#define SYSFS_SMALL 4096  /* a sysfs attribute file */

struct netif_list {
	struct netif *v;
	size_t n, cap;
};

static const char *const type_names[] = {
	[NETIF_ETH] = "eth", [NETIF_BRIDGE] = "bridge", [NETIF_BOND] = "bond",
	[NETIF_VLAN] = "vlan",
};

/* The API's type enumeration (pve-manager PVE/API2/Network.pm). */
static const char *const filter_names[] = {
	"bridge", "bond", "eth", "alias", "vlan", "OVSBridge", "OVSBond", "OVSPort",
	"OVSIntPort", "vnet", "any_bridge", "any_local_bridge", "include_sdn", NULL,
};

const char *netif_type_name(enum netif_type t)
{
	return t <= NETIF_VLAN ? type_names[t] : "unknown";
}

int netif_check_type_filter(const char *v, char *err, size_t errlen)
{
	for (size_t i = 0; filter_names[i]; i++)
		if (strcmp(v, filter_names[i]) == 0)
			return 0;
	snprintf(err, errlen, "value '%s' does not have a value in the enumeration '%s'", v,
		 "bridge, bond, eth, alias, vlan, OVSBridge, OVSBond, OVSPort, OVSIntPort, vnet, "
		 "any_bridge, any_local_bridge, include_sdn");
	return -EINVAL;
}

int netif_type_matches(enum netif_type t, const char *filter)
{
	if (!filter || strcmp(filter, "include_sdn") == 0)
		return 1;
	if (strcmp(filter, "any_bridge") == 0 || strcmp(filter, "any_local_bridge") == 0)
		return t == NETIF_BRIDGE;
	return strcmp(filter, netif_type_name(t)) == 0;
}

/* Proxmox lists as eth the names matching eth\d+, en[^:.]+ and ib[^:.]+. */
static int eth_name(const char *n)
{
	if (strncmp(n, "eth", 3) == 0 && n[3])
		return strspn(n + 3, "0123456789") == strlen(n + 3);
	if (strncmp(n, "en", 2) == 0 || strncmp(n, "ib", 2) == 0)
		return n[2] && strcspn(n + 2, ":.") == strlen(n + 2);
	return 0;
}

int netif_classify(const struct netif_facts *f)
{
	if (f->has_bridge)
		return NETIF_BRIDGE;
	if (f->has_bonding)
		return NETIF_BOND;
	if (f->is_vlan)
		return NETIF_VLAN;
	if (f->arphrd == ARPHRD_ETHER_ && (f->has_device || eth_name(f->name)))
		return NETIF_ETH;
	return -1;
}

/* ---- the list ---------------------------------------------------------------------- */

void netif_list_free(struct netif_list *l)
{
	if (!l)
		return;
	free(l->v);
	free(l);
}

size_t netif_count(const struct netif_list *l)
{
	return l->n;
}

struct netif *netif_at(struct netif_list *l, size_t i)
{
	return i < l->n ? &l->v[i] : NULL;
}

struct netif *netif_find(struct netif_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

static struct netif *list_add(struct netif_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct netif *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* ---- sysfs ------------------------------------------------------------------------- */

/* The first line of DIR/NAME/FILE into OUT ("" when absent). */
static void read_attr(const char *dir, const char *name, const char *file, char *out, size_t n)
{
	char path[512];
	char *text = NULL;
	size_t len;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	if (util_read_file(path, SYSFS_SMALL, &text, &len) < 0)
		return;
	text[strcspn(text, "\n")] = '\0';
	snprintf(out, n, "%s", text);
	free(text);
}

static int exists(const char *dir, const char *name, const char *sub)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, sub);
	return stat(path, &st) == 0;
}

static int is_vlan(const char *dir, const char *name)
{
	char path[512];
	char *text = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s/uevent", dir, name);
	if (util_read_file(path, SYSFS_SMALL, &text, &len) < 0)
		return 0;
	r = strstr(text, "DEVTYPE=vlan") != NULL;
	free(text);
	return r;
}

/* Bridge ports: the entries of DIR/NAME/brif, space separated. */
static void bridge_ports(const char *dir, const char *name, char *out, size_t n)
{
	char path[512];
	struct dirent **ents;
	int k;
	size_t used = 0;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/brif", dir, name);
	k = scandir(path, &ents, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		if (ents[i]->d_name[0] != '.' && used < n)
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " " : "",
						 ents[i]->d_name);
		free(ents[i]);
	}
	if (k >= 0)
		free(ents);
}

static void fill(const char *dir, const char *name, struct netif *e)
{
	char flags[32];

	snprintf(e->name, sizeof(e->name), "%s", name);
	read_attr(dir, name, "flags", flags, sizeof(flags));
	e->active = (strtoul(flags, NULL, 16) & IFF_UP) != 0;
	if (e->type == NETIF_BRIDGE)
		bridge_ports(dir, name, e->ports, sizeof(e->ports));
	else if (e->type == NETIF_BOND)
		read_attr(dir, name, "bonding/slaves", e->ports, sizeof(e->ports));
}

static int facts_of(const char *dir, const char *name)
{
	char type[32];
	struct netif_facts f = { .name = name };

	read_attr(dir, name, "type", type, sizeof(type));
	f.arphrd = atoi(type);
	f.has_bridge = exists(dir, name, "bridge");
	f.has_bonding = exists(dir, name, "bonding");
	f.is_vlan = is_vlan(dir, name);
	f.has_device = exists(dir, name, "device");
	return netif_classify(&f);
}

static int scan_into(const char *sysnet, struct netif_list *l, char *err, size_t errlen)
{
	struct dirent **ents;
	int k = scandir(sysnet, &ents, NULL, alphasort);
	int r = 0;

	if (k < 0) {
		snprintf(err, errlen, "cannot list %s: %s", sysnet, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < k; i++) {
		const char *name = ents[i]->d_name;
		int t = name[0] == '.' || strlen(name) >= NETIF_NAME_MAX ? -1 : facts_of(sysnet, name);
		struct netif *e;

		if (t >= 0 && r == 0 && l->n < NETIF_MAX) {
			if (!(e = list_add(l))) {
				r = -ENOMEM;
			} else {
				e->type = (enum netif_type)t;
				fill(sysnet, name, e);
			}
		}
		free(ents[i]);
	}
	free(ents);
	if (r < 0)
		snprintf(err, errlen, "out of memory");
	return r;
}

int netif_scan(const char *sysnet, struct netif_list **out, char *err, size_t errlen)
{
	struct netif_list *l = calloc(1, sizeof(*l));
	int r;

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = scan_into(sysnet, l, err, errlen);
	if (r < 0) {
		netif_list_free(l);
		return r;
	}
	*out = l;
	return 0;
}

/* ---- /etc/network/interfaces "auto" lines ------------------------------------------ */

static void auto_line(struct netif_list *l, char *line)
{
	char *save = NULL;
	char *w = strtok_r(line, " \t", &save);

	if (!w || strcmp(w, "auto") != 0)
		return;
	while ((w = strtok_r(NULL, " \t", &save))) {
		struct netif *e = netif_find(l, w);

		if (e)
			e->autostart = 1;
	}
}

void netif_apply_autostart(struct netif_list *l, const char *text)
{
	const char *p = text;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char line[1024];

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			auto_line(l, line);
		}
		p += n + (p[n] == '\n');
	}
}

/* ---- addresses --------------------------------------------------------------------- */

static int prefix_len(const struct sockaddr *mask)
{
	const unsigned char *b;
	size_t n;
	int bits = 0;

	if (!mask)
		return 0;
	if (mask->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr;
		n = 4;
	} else {
		b = ((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr.s6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		bits += __builtin_popcount(b[i]);
	return bits;
}

static void add_address(struct netif *e, const struct ifaddrs *a)
{
	const void *in;

	if (a->ifa_addr->sa_family == AF_INET && !e->address[0]) {
		in = &((const struct sockaddr_in *)(const void *)a->ifa_addr)->sin_addr;
		inet_ntop(AF_INET, in, e->address, sizeof(e->address));
		e->prefix = prefix_len(a->ifa_netmask);
	} else if (a->ifa_addr->sa_family == AF_INET6 && !e->address6[0]) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)a->ifa_addr)->sin6_addr;

		if (IN6_IS_ADDR_LINKLOCAL(a6))
			return;
		inet_ntop(AF_INET6, a6, e->address6, sizeof(e->address6));
		e->prefix6 = prefix_len(a->ifa_netmask);
	}
}

int netif_apply_addresses(struct netif_list *l)
{
	struct ifaddrs *all;

	if (getifaddrs(&all) < 0)
		return -errno;
	for (const struct ifaddrs *a = all; a; a = a->ifa_next) {
		struct netif *e = a->ifa_addr ? netif_find(l, a->ifa_name) : NULL;

		if (e)
			add_address(e, a);
	}
	freeifaddrs(all);
	return 0;
}
