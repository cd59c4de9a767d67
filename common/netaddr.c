/* CIDR parsing and matching, and the host's address inside a network. */
#include "common/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int netaddr_cidr_parse(const char *text, struct netaddr_cidr *out)
{
	char addr[NETADDR_TEXT_MAX];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : 0;
	char *end;
	unsigned long prefix;

	if (!slash || alen == 0 || alen >= sizeof(addr) || !slash[1] || slash[1] == '+' ||
	    slash[1] == '-')
		return -EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	out->af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(out->af, addr, out->net) != 1)
		return -EINVAL;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno || *end || prefix > (out->af == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->prefix = (unsigned)prefix;
	return 0;
}

int netaddr_cidr_contains(const struct netaddr_cidr *c, int af, const void *addr)
{
	const unsigned char *a = addr;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (af != c->af)
		return 0;
	if (memcmp(a, c->net, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ c->net[full]) & (0xff00 >> rest) & 0xff) == 0;
}

static const void *addr_bytes(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	return &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
}

int netaddr_local_in(const char *cidr, char out[NETADDR_TEXT_MAX], char *err, size_t errlen)
{
	struct netaddr_cidr c;
	struct ifaddrs *ifs, *i;
	char text[NETADDR_TEXT_MAX];
	int found = 0;

	if (netaddr_cidr_parse(cidr, &c) < 0) {
		snprintf(err, errlen, "invalid network '%s'", cidr);
		return -EINVAL;
	}
	if (getifaddrs(&ifs) < 0)
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != c.af ||
		    !netaddr_cidr_contains(&c, c.af, addr_bytes(i->ifa_addr)))
			continue;
		inet_ntop(c.af, addr_bytes(i->ifa_addr), text, sizeof(text));
		if (found && strcmp(text, out) != 0) {
			found = -1;
			break;
		}
		snprintf(out, NETADDR_TEXT_MAX, "%s", text);
		found = 1;
	}
	freeifaddrs(ifs);
	if (found == 1)
		return 0;
	snprintf(err, errlen, found ? "multiple, different, IP address configured for network '%s'"
				    : "no IP address configured on local node for network '%s'",
		 cidr);
	return found ? -EEXIST : -ENOENT;
}
