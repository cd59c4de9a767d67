/* The host's network interfaces as Proxmox's /nodes/{node}/network lists
 * them: classified from a sysfs class/net directory, with the autostart
 * flags of an /etc/network/interfaces text and the addresses merged in. */
#ifndef CORRAL_SERVER_NETIF_H
#define CORRAL_SERVER_NETIF_H

#include <stddef.h>

#define NETIF_NAME_MAX 16
#define NETIF_PORTS_MAX 512
#define NETIF_ADDR_MAX 48

enum netif_type { NETIF_ETH, NETIF_BRIDGE, NETIF_BOND, NETIF_VLAN };

struct netif {
	char name[NETIF_NAME_MAX];
	enum netif_type type;
	int active;                   /* IFF_UP */
	int autostart;                /* an "auto" stanza names it */
	char ports[NETIF_PORTS_MAX];  /* bridge ports or bond slaves, space separated */
	char address[NETIF_ADDR_MAX]; /* first IPv4 address, "" when none */
	int prefix;                   /* its prefix length */
	char address6[NETIF_ADDR_MAX]; /* first global IPv6 address */
	int prefix6;
};

struct netif_list;

/* The interfaces under SYSNET (normally /sys/class/net), sorted by name;
 * loopback and other virtual devices (taps, veths, tunnels) are left out. */
int netif_scan(const char *sysnet, struct netif_list **out, char *err, size_t errlen);
void netif_list_free(struct netif_list *l);
size_t netif_count(const struct netif_list *l);
struct netif *netif_at(struct netif_list *l, size_t i);
struct netif *netif_find(struct netif_list *l, const char *name);

/* Sets autostart on the interfaces that an "auto" line of TEXT names. */
void netif_apply_autostart(struct netif_list *l, const char *text);
/* Fills in the addresses from getifaddrs(3). */
int netif_apply_addresses(struct netif_list *l);

const char *netif_type_name(enum netif_type t);
/* 1 when FILTER (a value of the API's type parameter; NULL for all) admits T. */
int netif_type_matches(enum netif_type t, const char *filter);
/* 0 when V is a value of the API's type enumeration, else -EINVAL with ERR. */
int netif_check_type_filter(const char *v, char *err, size_t errlen);

/* The type of an interface from its sysfs facts, or -1 to leave it out. */
struct netif_facts {
	const char *name;
	int arphrd;      /* the "type" file */
	int has_bridge;  /* a bridge/ directory */
	int has_bonding; /* a bonding/ directory */
	int is_vlan;     /* DEVTYPE=vlan in uevent */
	int has_device;  /* a device link (real hardware) */
};
int netif_classify(const struct netif_facts *f);

#endif
