/* IP networks in CIDR notation ("10.1.0.0/16", "fd00::/64") and the
 * host's own address inside one (a migration network). */
#ifndef CORRAL_COMMON_NETADDR_H
#define CORRAL_COMMON_NETADDR_H

#include <stddef.h>

#define NETADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

struct netaddr_cidr {
	int af;                  /* AF_INET or AF_INET6 */
	unsigned char net[16];   /* the address bits, host part as given */
	unsigned prefix;
};

/* Parses "ADDR/PREFIX" strictly (a prefix is required; 0-32 or 0-128).
 * 0 or -EINVAL. */
int netaddr_cidr_parse(const char *text, struct netaddr_cidr *out);
/* 1 if the address ADDR (AF bytes) lies inside C. */
int netaddr_cidr_contains(const struct netaddr_cidr *c, int af, const void *addr);
/* The one address of this host inside CIDR, as text.  0; -EINVAL for a bad
 * CIDR; -ENOENT when no interface has one; -EEXIST when several different
 * ones do (Proxmox's two refusals).  ERR says which. */
int netaddr_local_in(const char *cidr, char out[NETADDR_TEXT_MAX], char *err, size_t errlen);

#endif
