/* Tap devices for bridged NICs: Corral creates tap<vmid>i<n> persistent,
 * enslaves it to the bridge and brings it up before QEMU starts, so QEMU
 * (sandboxed, no helper scripts) only has to open it by name. */
#include "hv/vm_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

/* QEMU opens with IFF_MULTI_QUEUE when queues > 1; the kernel insists the
 * persistent device was made with the same setting. */
static int tun_ctl(const char *name, int multiqueue, int persist)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (multiqueue)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	util_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, persist) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int link_setup(const char *tap, const char *bridge, int mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;
	struct ifreq ifr = { 0 };

	if (s < 0)
		return -errno;
	util_strlcpy(ifr.ifr_name, tap, IFNAMSIZ);
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			r = -errno;
	}
	if (r == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	util_strlcpy(ifr.ifr_name, bridge, IFNAMSIZ);
	ifr.ifr_ifindex = (int)if_nametoindex(tap);
	if (r == 0 && ioctl(s, SIOCBRADDIF, &ifr) < 0 && errno != EBUSY)
		r = -errno;
	close(s);
	return r;
}

static int bridge_leave(const char *tap, const char *bridge)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;
	struct ifreq ifr = { 0 };

	if (s < 0)
		return -errno;
	util_strlcpy(ifr.ifr_name, bridge, IFNAMSIZ);
	ifr.ifr_ifindex = (int)if_nametoindex(tap);
	if (ioctl(s, SIOCBRDELIF, &ifr) < 0)
		r = -errno;
	close(s);
	return r;
}

static int is_bridge(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", name);
	return stat(path, &st) == 0;
}

int hv_tap_setup_nic(int vmid, const struct vmconf_net *n, char *err, size_t errlen)
{
	char tap[IFNAMSIZ];
	int r;

	snprintf(tap, sizeof(tap), "tap%di%d", vmid, n->index);
	if (!is_bridge(n->bridge)) {
		snprintf(err, errlen, "bridge '%s' does not exist", n->bridge);
		return -ENODEV;
	}
	r = tun_ctl(tap, n->queues > 1, 1);
	if (r == 0)
		r = link_setup(tap, n->bridge, n->mtu);
	if (r < 0) {
		snprintf(err, errlen, "tap device %s on %s: %s", tap, n->bridge, strerror(-r));
		return r;
	}
	r = hv_tap_vlan(tap, n, err, errlen);
	if (r == 0)
		r = hv_tap_rate(tap, n->rate, err, errlen);
	if (r < 0)
		hv_tap_delete(vmid, n->index);
	return r;
}

int hv_tap_retune(int vmid, const struct vmconf_net *old, const struct vmconf_net *n, char *err,
		  size_t errlen)
{
	char tap[IFNAMSIZ];
	int r = 0;

	snprintf(tap, sizeof(tap), "tap%di%d", vmid, n->index);
	if (!if_nametoindex(tap) || !is_bridge(n->bridge)) {
		snprintf(err, errlen, if_nametoindex(tap) ? "bridge '%s' does not exist"
							   : "%s has no tap device", n->bridge);
		return -ENODEV;
	}
	hv_tap_rate_clear(tap);
	hv_tap_vlan_clear(tap, old);
	if (strcmp(old->bridge, n->bridge) != 0) {
		bridge_leave(tap, old->bridge);
		r = link_setup(tap, n->bridge, 0);
	}
	if (r < 0)
		snprintf(err, errlen, "moving %s to %s: %s", tap, n->bridge, strerror(-r));
	if (r == 0)
		r = hv_tap_vlan(tap, n, err, errlen);
	if (r == 0)
		r = hv_tap_rate(tap, n->rate, err, errlen);
	return r;
}

int hv_tap_setup(struct hv *h, int vmid, const struct vmconf *conf, char *err, size_t errlen)
{
	(void)h;
	for (size_t i = 0; i < vmconf_count(conf); i++) {
		struct vmconf_net n;
		const char *k = vmconf_key_at(conf, i);
		int r;

		if (strncmp(k, "net", 3) != 0 ||
		    vmconf_net_parse(k, vmconf_value_at(conf, i), &n, err, errlen) < 0 ||
		    !n.bridge[0])
			continue;
		r = hv_tap_setup_nic(vmid, &n, err, errlen);
		if (r < 0) {
			hv_tap_teardown(vmid);
			return r;
		}
	}
	return 0;
}

/* Multi-queue or not is unknown here: try both ways of attaching. */
static void tap_delete(const char *name)
{
	if (tun_ctl(name, 0, 0) < 0)
		tun_ctl(name, 1, 0);
}

void hv_tap_delete(int vmid, int index)
{
	char tap[IFNAMSIZ];

	snprintf(tap, sizeof(tap), "tap%di%d", vmid, index);
	if (if_nametoindex(tap))
		tap_delete(tap);
}

void hv_tap_teardown(int vmid)
{
	char prefix[32];
	DIR *d = opendir("/sys/class/net");
	struct dirent *e;

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), "tap%di", vmid);
	while ((e = readdir(d))) {
		const char *rest = e->d_name + strlen(prefix);

		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || !*rest ||
		    strspn(rest, "0123456789") != strlen(rest))
			continue;
		tap_delete(e->d_name);
	}
	closedir(d);
}
