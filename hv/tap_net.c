/* A tap's place on its bridge, as Proxmox sets it: the VLAN (tag=N, an
 * untagged PVID on a VLAN-aware bridge, with trunks= as tagged VLANs) over
 * rtnetlink, and the rate limit (rate=MB/s) with a token bucket for what
 * the VM receives and tc's ingress policer for what it sends. */
#include "hv/vm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define VLAN_MAX 4094
/* Proxmox's burst for the policer: 1 MiB. */
#define RATE_BURST (1024 * 1024)
#define TC_PATHS "/usr/sbin/tc", "/sbin/tc"

extern char **environ;

/* ---- VLANs over rtnetlink ---- */

struct vlan_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	struct rtattr spec; /* IFLA_AF_SPEC */
	struct rtattr info; /* IFLA_BRIDGE_VLAN_INFO */
	struct bridge_vlan_info vlan;
};

/* The kernel's answer to one request: 0 or -errno. */
static int nl_ack(int fd)
{
	char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

	if (n < 0)
		return -errno;
	if (n < (ssize_t)sizeof(*h) || h->nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	return ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
}

/* Adds (or with DEL removes) VLAN VID with FLAGS on the bridge port IFINDEX. */
static int port_vlan(int fd, int ifindex, int vid, int flags, int del)
{
	struct vlan_req r;

	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = sizeof(r);
	r.nh.nlmsg_type = del ? RTM_DELLINK : RTM_SETLINK;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r.ifi.ifi_family = AF_BRIDGE;
	r.ifi.ifi_index = ifindex;
	r.spec.rta_type = IFLA_AF_SPEC;
	r.spec.rta_len = sizeof(r.spec) + sizeof(r.info) + sizeof(r.vlan);
	r.info.rta_type = IFLA_BRIDGE_VLAN_INFO;
	r.info.rta_len = sizeof(r.info) + sizeof(r.vlan);
	r.vlan.flags = (unsigned short)flags;
	r.vlan.vid = (unsigned short)vid;
	if (send(fd, &r, sizeof(r), 0) < 0)
		return -errno;
	return nl_ack(fd);
}

static int vlan_aware(const char *bridge)
{
	char path[128], *v = NULL;
	size_t len;
	int on;

	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge/vlan_filtering", bridge);
	if (util_read_file(path, 64, &v, &len) < 0)
		return 0;
	on = v[0] == '1';
	free(v);
	return on;
}

/* trunks "10;20-30": every VLAN tagged on the port (DEL: taken off it). */
static int trunk_vlans(int fd, int ifindex, const char *trunks, int del)
{
	int r = 0;

	for (const char *s = trunks; *s && r == 0;) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (lo < 1 || hi > VLAN_MAX || lo > hi || (*end && *end != ';'))
			return -EINVAL;
		for (long v = lo; v <= hi && r == 0; v++)
			r = port_vlan(fd, ifindex, (int)v, 0, del);
		s = end + (*end == ';');
	}
	return r;
}

static int port_vlans(int ifindex, int tag, const char *trunks)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), r;

	if (fd < 0)
		return -errno;
	/* the port joined with the bridge's default PVID (1): replace it */
	r = port_vlan(fd, ifindex, 1, 0, 1);
	if (r == -ENOENT || r == -EINVAL)
		r = 0;
	if (r == 0 && tag)
		r = port_vlan(fd, ifindex, tag, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 0);
	if (r == 0 && trunks[0])
		r = trunk_vlans(fd, ifindex, trunks, 0);
	close(fd);
	return r;
}

int hv_tap_vlan(const char *tap, const struct vmconf_net *n, char *err, size_t errlen)
{
	int ifindex = (int)if_nametoindex(tap), r;

	if (!n->tag && !n->trunks[0])
		return 0;
	if (!vlan_aware(n->bridge)) {
		snprintf(err, errlen,
			 "net%d: tag/trunks need a VLAN-aware bridge; '%s' has vlan_filtering off",
			 n->index, n->bridge);
		return -EINVAL;
	}
	r = ifindex ? port_vlans(ifindex, n->tag, n->trunks) : -ENODEV;
	if (r < 0)
		snprintf(err, errlen, "net%d: VLAN setup of %s: %s", n->index, tap, strerror(-r));
	return r;
}

/* Back to the bridge's default (untagged PVID 1) after OLD's VLANs. */
void hv_tap_vlan_clear(const char *tap, const struct vmconf_net *old)
{
	int ifindex = (int)if_nametoindex(tap);
	int fd;

	if (!ifindex || (!old->tag && !old->trunks[0]) || !vlan_aware(old->bridge))
		return;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return;
	if (old->tag)
		port_vlan(fd, ifindex, old->tag, 0, 1);
	trunk_vlans(fd, ifindex, old->trunks, 1);
	port_vlan(fd, ifindex, 1, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 0);
	close(fd);
}

/* ---- rate limit with tc ---- */

static const char *tc_path(void)
{
	static const char *const paths[] = { TC_PATHS };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Runs tc with ARGV (no shell), its output to /dev/null.  0 or -EIO. */
static int run_tc(char *const *argv)
{
	posix_spawn_file_actions_t fa;
	const char *tc = tc_path();
	pid_t pid;
	int status, r;

	if (!tc)
		return -ENOENT;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, tc, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

void hv_tap_rate_clear(const char *tap)
{
	char dev[IFNAMSIZ];
	char *root[] = { "tc", "qdisc", "del", "dev", dev, "root", NULL };
	char *ingress[] = { "tc", "qdisc", "del", "dev", dev, "ingress", NULL };

	util_strlcpy(dev, tap, sizeof(dev));
	run_tc(root);
	run_tc(ingress);
}

int hv_tap_rate(const char *tap, const char *rate, char *err, size_t errlen)
{
	char bps[32], burst[32], dev[IFNAMSIZ];
	double mbs = rate[0] ? strtod(rate, NULL) : 0;
	int r;

	if (mbs <= 0)
		return 0;
	util_strlcpy(dev, tap, sizeof(dev));
	snprintf(bps, sizeof(bps), "%.0fbps", mbs * 1024 * 1024);
	snprintf(burst, sizeof(burst), "%db", RATE_BURST);
	{
		char *ingress[] = { "tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress",
				    NULL };
		char *police[] = { "tc", "filter", "add", "dev", dev, "parent", "ffff:", "prio",
				   "50", "basic", "police", "rate", bps, "burst", burst, "mtu",
				   "64kb", "drop", NULL };
		char *tbf[] = { "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", bps,
				"burst", burst, "latency", "25ms", NULL };

		r = run_tc(tbf);
		if (r < 0) {
			snprintf(err, errlen, "rate limit of %s (%s MB/s): tc tbf failed", tap, rate);
			return r;
		}
		r = run_tc(ingress);
		r = r ? r : run_tc(police);
	}
	if (r < 0)
		hv_tap_rate_clear(tap); /* no half limit left behind */
	if (r < 0)
		snprintf(err, errlen,
			 "rate limit of %s (%s MB/s): tc cannot police what the VM sends "
			 "(the kernel needs sch_ingress, cls_basic and act_police)", tap, rate);
	return r;
}
