/* The configuration keys Corral accepts: Proxmox qemu-server's names, ranges,
 * enumerations and property-string formats, written out as tables. */
#include "hv/vmconf_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define MAX_MEM_MIB 4194304 /* Proxmox's hotplug limit: 4 TiB */

/* ---- string formats --------------------------------------------------------- */

static int fmt_fail(char *err, size_t errlen, const char *msg, const char *v)
{
	if (v)
		snprintf(err, errlen, "invalid format - %s '%.64s'", msg, v);
	else
		snprintf(err, errlen, "invalid format - %s", msg);
	return -EINVAL;
}

/* One DNS label: [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
static const char *dns_label(const char *s)
{
	const char *start = s;

	if (!isalnum((unsigned char)*s))
		return NULL;
	while (isalnum((unsigned char)*s) || *s == '-')
		s++;
	return s[-1] == '-' || s == start ? NULL : s;
}

static int check_dns_name(const char *v, char *err, size_t errlen)
{
	const char *s = v;

	for (;;) {
		s = dns_label(s);
		if (!s)
			break;
		if (*s == '\0')
			return 0;
		if (*s++ != '.')
			break;
	}
	return fmt_fail(err, errlen, "value does not look like a valid DNS name", NULL);
}

/* Proxmox parse_id: ^[a-z][a-z0-9\-\_\.]*[a-z0-9]$ (case-insensitive). */
int vc_check_storage_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 63 || !isalpha((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

/* Relative path of components [A-Za-z0-9_+-][A-Za-z0-9._+-]*: no "..", no
 * leading '/', no hidden files, nothing QEMU or a shell would interpret. */
int vc_check_volname(const char *s)
{
	int start = 1;

	if (!*s || strlen(s) > 190)
		return 0;
	for (; *s; s++) {
		if (*s == '/') {
			if (start)
				return 0;
			start = 1;
			continue;
		}
		if (!isalnum((unsigned char)*s) && !strchr("._+-", *s))
			return 0;
		if (start && *s == '.')
			return 0;
		start = 0;
	}
	return !start;
}

/* Proxmox NEW_DISK_RE's size part: \d+(\.\d+)? GiB. */
int vc_check_new_size(const char *s)
{
	const char *dot = strchr(s, '.');
	size_t n = strlen(s);

	if (n == 0 || n > 12 || strspn(s, "0123456789.") != n || s[0] == '.' || s[n - 1] == '.')
		return 0;
	return !dot || !strchr(dot + 1, '.');
}

static int check_volume(const char *v, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');
	char store[64];

	if (strcmp(v, "none") == 0)
		return 0;
	if (colon && (size_t)(colon - v) < sizeof(store)) {
		memcpy(store, v, colon - v);
		store[colon - v] = '\0';
		if (vc_check_storage_id(store) &&
		    (vc_check_volname(colon + 1) || vc_check_new_size(colon + 1)))
			return 0;
	}
	return fmt_fail(err, errlen, "unable to parse volume ID", v);
}

static int check_import_from(const char *v, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');

	if (strcmp(v, "none") != 0 && colon && !vc_check_new_size(colon + 1) &&
	    check_volume(v, err, errlen) == 0)
		return 0;
	return fmt_fail(err, errlen, "unable to parse volume ID", v);
}

/* XX:XX:XX:XX:XX:XX with the I/G bit clear (Proxmox's mac-addr). */
int vc_check_mac(const char *s)
{
	static const char even[] = "02468aceACE";

	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return strchr(even, s[1]) != NULL;
}

static int check_macaddr(const char *v, char *err, size_t errlen)
{
	if (vc_check_mac(v))
		return 0;
	return fmt_fail(err, errlen, "value does not look like a valid unicast MAC address", NULL);
}

/* pve-bridge-id [-_.\w\d]+, capped at a Linux interface name's length. */
static int check_bridge(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n > 0 && n < 16) {
		size_t i = 0;

		while (i < n && (isalnum((unsigned char)v[i]) || strchr("-_.", v[i])))
			i++;
		if (i == n)
			return 0;
	}
	return fmt_fail(err, errlen, "invalid bridge ID", v);
}

static int all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

static int pattern_fail(char *err, size_t errlen)
{
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

/* trunks: \d+(?:-\d+)?(?:;\d+(?:-\d+)?)* */
static int check_trunks(const char *v, char *err, size_t errlen)
{
	if (all_of(v, "0123456789-;") && isdigit((unsigned char)v[0]) &&
	    isdigit((unsigned char)v[strlen(v) - 1]) && !strstr(v, ";;") && !strstr(v, "--") &&
	    !strstr(v, "-;") && !strstr(v, ";-"))
		return 0;
	return pattern_fail(err, errlen);
}

static int check_uuid(const char *v, char *err, size_t errlen)
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (strlen(v) != 36)
		return pattern_fail(err, errlen);
	for (int i = 0, d = 0; i < 36; i++) {
		if (d < 4 && i == dash[d]) {
			if (v[i] != '-')
				return pattern_fail(err, errlen);
			d++;
		} else if (!isxdigit((unsigned char)v[i])) {
			return pattern_fail(err, errlen);
		}
	}
	return 0;
}

static int check_disk_size(const char *v, char *err, size_t errlen)
{
	uint64_t bytes;

	if (all_of(v, "0123456789.KMGTkmgt") && util_parse_size(v, 1, &bytes) == 0)
		return 0;
	snprintf(err, errlen, "invalid format - value '%.64s' does not look like a valid disk size", v);
	return -EINVAL;
}

static int check_serial_id(const char *v, char *err, size_t errlen)
{
	if (all_of(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"))
		return 0;
	return fmt_fail(err, errlen, "invalid drive serial", v);
}

static int check_serial_port(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "socket") == 0)
		return 0;
	if (strncmp(v, "/dev/", 5) == 0)
		return fmt_fail(err, errlen, "host serial devices are not supported", v);
	return pattern_fail(err, errlen);
}

/* pve-hotplug-features: 0, 1, or a comma list of the features. */
static int check_hotplug(const char *v, char *err, size_t errlen)
{
	static const char *const features[] = { "network", "disk", "cpu", "memory", "usb",
						 "cloudinit" };
	const char *s = v;

	if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0)
		return 0;
	while (*s) {
		size_t n = strcspn(s, ","), i;

		for (i = 0; i < ARRAY_SIZE(features); i++)
			if (strlen(features[i]) == n && strncmp(s, features[i], n) == 0)
				break;
		if (i == ARRAY_SIZE(features))
			return fmt_fail(err, errlen,
					"value does not look like a valid hotplug feature list", v);
		s += n;
		if (*s == ',' && *++s == '\0')
			return fmt_fail(err, errlen,
					"value does not look like a valid hotplug feature list", v);
	}
	return *v ? 0 : fmt_fail(err, errlen, "empty hotplug feature list", NULL);
}

/* tags: [a-z0-9_][a-z0-9_\-\+\.]* separated by ';' ',' or ' ' */
static int check_tags(const char *v, char *err, size_t errlen)
{
	const char *s = v;
	int count = 0;

	while (*s) {
		if (++count > 128) /* canon_tags' table */
			return fmt_fail(err, errlen, "too many tags", NULL);
		size_t n = strcspn(s, ";, ");

		if (n && (s[0] == '-' || s[0] == '+' || s[0] == '.' ||
			  strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+.") < n))
			return fmt_fail(err, errlen, "invalid tag", NULL);
		s += n;
		s += strspn(s, ";, ");
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Proxmox stores tags sorted, without duplicates, joined by ';'. */
static int canon_tags(const char *v, struct buf *out)
{
	char *copy = strdup(v), *tags[128], *save = NULL;
	size_t n = 0;
	const char *sep = "";
	int r = buf_append(out, "", 0);

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ";, ", &save); t && n < ARRAY_SIZE(tags);
	     t = strtok_r(NULL, ";, ", &save))
		tags[n++] = t;
	qsort(tags, n, sizeof(tags[0]), cmp_str);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (i > 0 && strcmp(tags[i], tags[i - 1]) == 0)
			continue;
		r = buf_printf(out, "%s%s", sep, tags[i]);
		sep = ";";
	}
	free(copy);
	return r;
}

/* machine type: pc, q35, pc-i440fx-X.Y[.Z], pc-X.Y, pc-q35-X.Y, each with an
 * optional +pveN (Proxmox's own revisions). */
static int version_tail(const char *s)
{
	const char *plus = strstr(s, "+pve");
	size_t n = plus ? (size_t)(plus - s) : strlen(s);

	if (plus && !all_of(plus + 4, "0123456789"))
		return 0;
	if (n < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] == '.' && s[i + 1] != '.'))
			return 0;
	return memchr(s, '.', n) != NULL;
}

static int check_machine_type(const char *v, char *err, size_t errlen)
{
	static const char *const prefixes[] = { "pc-i440fx-", "pc-q35-", "pc-" };

	if (strcmp(v, "pc") == 0 || strcmp(v, "q35") == 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(v, prefixes[i], n) == 0 && version_tail(v + n) && strlen(v) <= 40)
			return 0;
	}
	return pattern_fail(err, errlen);
}

static const char *const cpu_models[] = {
	"486", "athlon", "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX",
	"Broadwell-noTSX-IBRS", "Cascadelake-Server", "Cascadelake-Server-noTSX",
	"Conroe", "Cooperlake", "core2duo", "coreduo", "EPYC", "EPYC-IBPB", "EPYC-Milan",
	"EPYC-Rome", "Haswell", "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "host",
	"Icelake-Client", "Icelake-Server", "IvyBridge", "IvyBridge-IBRS", "KnightsMill",
	"kvm32", "kvm64", "max", "Nehalem", "Nehalem-IBRS", "Opteron_G1", "Opteron_G2",
	"Opteron_G3", "Opteron_G4", "Opteron_G5", "Penryn", "pentium", "pentium2", "pentium3",
	"phenom", "qemu32", "qemu64", "SandyBridge", "SandyBridge-IBRS", "SapphireRapids",
	"Skylake-Client", "Skylake-Client-IBRS", "Skylake-Server", "Skylake-Server-IBRS",
	"Westmere", "Westmere-IBRS", "x86-64-v2", "x86-64-v2-AES", "x86-64-v3", "x86-64-v4",
	NULL,
};

static int check_cputype(const char *v, char *err, size_t errlen)
{
	for (const char *const *m = cpu_models; *m; m++)
		if (strcmp(*m, v) == 0)
			return 0;
	if (strncmp(v, "custom-", 7) == 0)
		snprintf(err, errlen, "Custom cputype '%.64s' not found", v + 7);
	else
		snprintf(err, errlen, "Built-in cputype '%.64s' is not defined (missing 'custom-' prefix?)", v);
	return -EINVAL;
}

/* flags: [+-]flag(;[+-]flag)* from Proxmox's list of safe CPU flags. */
static int check_cpu_flags(const char *v, char *err, size_t errlen)
{
	static const char *const ok[] = { "pcid", "spec-ctrl", "ibpb", "ssbd", "virt-ssbd",
					  "amd-ssbd", "amd-no-ssb", "pdpe1gb", "md-clear",
					  "hv-tlbflush", "hv-evmcs", "aes" };
	const char *s = v;

	while (*s) {
		size_t n = strcspn(s, ";"), i;

		if (n < 2 || (s[0] != '+' && s[0] != '-'))
			return pattern_fail(err, errlen);
		for (i = 0; i < ARRAY_SIZE(ok); i++)
			if (strlen(ok[i]) == n - 1 && strncmp(ok[i], s + 1, n - 1) == 0)
				break;
		if (i == ARRAY_SIZE(ok))
			return pattern_fail(err, errlen);
		s += n;
		if (*s == ';' && *++s == '\0')
			return pattern_fail(err, errlen);
	}
	return 0;
}

/* A boot device: ideN, sataN, scsiN, virtioN or netN within its range. */
int vc_is_device_key(const char *key)
{
	int idx;
	const struct vc_prop *p = vc_find_key(key, &idx);

	return p && idx >= 0 &&
	       (vc_bus_of(key) & VC_DISKS || strncmp(key, "net", 3) == 0);
}

static int check_boot_order(const char *v, char *err, size_t errlen)
{
	char dev[32];
	const char *s = v;

	while (*s) {
		size_t n = strcspn(s, ";");

		if (n == 0 || n >= sizeof(dev))
			return fmt_fail(err, errlen, "invalid boot device", v);
		memcpy(dev, s, n);
		dev[n] = '\0';
		if (!vc_is_device_key(dev))
			return fmt_fail(err, errlen, "invalid boot device", dev);
		s += n + (s[n] == ';');
	}
	return 0;
}

static int check_boot_legacy(const char *v, char *err, size_t errlen)
{
	if (strlen(v) <= 4 && all_of(v, "acdn"))
		return 0;
	return pattern_fail(err, errlen);
}

/* ---- property-string formats ----------------------------------------------- */

#define P_BOOL(n, b) { .name = n, .type = VC_BOOL, .buses = b }
#define P_ENUM(n, e, b) { .name = n, .type = VC_ENUM, .enumv = e, .buses = b }
#define P_INT(n, lo, hi, b) { .name = n, .type = VC_INT, .min = lo, .max = hi, .buses = b }
#define P_STR(n, fn, len, b) { .name = n, .type = VC_STR, .check = fn, .max_len = len, .buses = b }

static const char *const e_aio[] = { "io_uring", "native", "threads", NULL };
static const char *const e_cache[] = { "none", "writethrough", "writeback", "unsafe",
				       "directsync", NULL };
static const char *const e_discard[] = { "ignore", "on", NULL };
static const char *const e_efitype[] = { "2m", "4m", NULL };
static const char *const e_dformat[] = { "raw", "cow", "qcow", "qed", "qcow2", "vmdk",
					 "cloop", NULL };
static const char *const e_media[] = { "cdrom", "disk", NULL };

static const struct vc_prop drive_props[] = {
	P_ENUM("aio", e_aio, VC_DISKS),
	P_BOOL("backup", VC_DISKS),
	P_ENUM("cache", e_cache, VC_DISKS),
	P_BOOL("detect_zeroes", VC_DISKS),
	P_ENUM("discard", e_discard, VC_DISKS),
	P_ENUM("efitype", e_efitype, VC_EFI),
	P_STR("file", check_volume, 0, VC_DISKS | VC_EFI | VC_UNUSED),
	P_ENUM("format", e_dformat, VC_DISKS | VC_EFI),
	P_STR("import-from", check_import_from, 0, VC_DISKS | VC_EFI),
	P_BOOL("iothread", VC_SCSI | VC_VIRTIO),
	P_ENUM("media", e_media, VC_DISKS),
	P_BOOL("pre-enrolled-keys", VC_EFI),
	P_BOOL("replicate", VC_DISKS),
	P_BOOL("ro", VC_SCSI | VC_VIRTIO | VC_SATA),
	P_STR("serial", check_serial_id, 20, VC_DISKS),
	P_STR("size", check_disk_size, 0, VC_DISKS | VC_EFI),
	P_BOOL("snapshot", VC_DISKS),
	P_BOOL("ssd", VC_IDE | VC_SATA | VC_SCSI),
};

/* vals[] follows drive_props' order. */
enum { D_FILE = 6, D_IMPORT = 8, D_MEDIA = 10 };

static int drive_validate(const char *const *vals, unsigned bus, char *err, size_t errlen)
{
	const char *file = vals[D_FILE];
	int cdrom = vals[D_MEDIA] && strcmp(vals[D_MEDIA], "cdrom") == 0;
	const char *colon = file ? strchr(file, ':') : NULL;
	int is_new = colon && vc_check_new_size(colon + 1);

	(void)bus;
	if (!file) {
		snprintf(err, errlen, "invalid format - format error\nfile: property is missing and it is not optional");
		return -EINVAL;
	}
	if (strcmp(file, "none") == 0 && !cdrom) {
		snprintf(err, errlen, "invalid format - 'none' is only allowed for CD-ROM drives (media=cdrom)");
		return -EINVAL;
	}
	if (vals[D_IMPORT] && (!is_new || strtod(colon + 1, NULL) != 0)) {
		snprintf(err, errlen, "invalid format - 'import-from' requires special volume ID - use <storage ID>:0,import-from=<source>");
		return -EINVAL;
	}
	if (cdrom && is_new) {
		snprintf(err, errlen, "invalid format - cannot allocate a new volume for a CD-ROM drive");
		return -EINVAL;
	}
	return 0;
}

const struct vc_format vc_drive_format = {
	drive_props, ARRAY_SIZE(drive_props), "file", drive_validate,
};

static const char *const e_nic_model[] = {
	"e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551",
	"i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio",
	"vmxnet3", NULL,
};

static const struct vc_prop net_props[] = {
	P_STR("bridge", check_bridge, 0, 0),
	P_BOOL("firewall", 0),
	P_BOOL("link_down", 0),
	P_STR("macaddr", check_macaddr, 0, 0),
	P_ENUM("model", e_nic_model, 0),
	P_INT("mtu", 1, 65520, 0),
	P_INT("queues", 0, 64, 0),
	{ .name = "rate", .type = VC_NUM, .min = 0 },
	P_INT("tag", 1, 4094, 0),
	P_STR("trunks", check_trunks, 0, 0),
};

static int net_validate(const char *const *vals, unsigned bus, char *err, size_t errlen)
{
	(void)bus;
	if (!vals[4]) {
		snprintf(err, errlen, "invalid format - format error\nmodel: property is missing and it is not optional");
		return -EINVAL;
	}
	return 0;
}

const struct vc_format vc_net_format = { net_props, ARRAY_SIZE(net_props), "model", net_validate };

static const struct vc_prop boot_props[] = {
	P_STR("legacy", check_boot_legacy, 0, 0),
	P_STR("order", check_boot_order, 0, 0),
};
const struct vc_format vc_boot_format = { boot_props, ARRAY_SIZE(boot_props), "legacy", NULL };

static const struct vc_prop memory_props[] = {
	P_INT("current", 16, MAX_MEM_MIB, 0),
};
static const struct vc_format memory_format = { memory_props, 1, "current", NULL };

static const struct vc_prop cpu_props[] = {
	P_STR("cputype", check_cputype, 0, 0),
	P_STR("flags", check_cpu_flags, 0, 0),
	P_BOOL("hidden", 0),
};
static const struct vc_format cpu_format = { cpu_props, ARRAY_SIZE(cpu_props), "cputype", NULL };

static const char *const e_viommu[] = { "intel", "virtio", NULL };
static const struct vc_prop machine_props[] = {
	P_STR("type", check_machine_type, 40, 0),
	P_ENUM("viommu", e_viommu, 0),
};
static const struct vc_format machine_format = { machine_props, 2, "type", NULL };

static const char *const e_vga[] = { "cirrus", "none", "qxl", "qxl2", "qxl3", "qxl4",
				     "serial0", "serial1", "serial2", "serial3", "std",
				     "virtio", "virtio-gl", "vmware", NULL };
static const char *const e_clipboard[] = { "vnc", NULL };
static const struct vc_prop vga_props[] = {
	P_ENUM("clipboard", e_clipboard, 0),
	P_INT("memory", 4, 512, 0),
	P_ENUM("type", e_vga, 0),
};
static const struct vc_format vga_format = { vga_props, 3, "type", NULL };

static const char *const e_agent_type[] = { "virtio", "isa", NULL };
static const struct vc_prop agent_props[] = {
	P_BOOL("enabled", 0),
	P_BOOL("freeze-fs-on-backup", 0),
	P_BOOL("fstrim_cloned_disks", 0),
	P_ENUM("type", e_agent_type, 0),
};
static const struct vc_format agent_format = { agent_props, 4, "enabled", NULL };

static const struct vc_prop smbios_props[] = {
	P_STR("uuid", check_uuid, 0, 0),
};
static const struct vc_format smbios_format = { smbios_props, 1, NULL, NULL };

/* ---- top-level keys ----------------------------------------------------------- */

static const char *const e_bios[] = { "seabios", "ovmf", NULL };
static const char *const e_ostype[] = { "other", "wxp", "w2k", "w2k3", "w2k8", "wvista",
					"win7", "win8", "win10", "win11", "l24", "l26",
					"solaris", NULL };
static const char *const e_scsihw[] = { "lsi", "lsi53c810", "virtio-scsi-pci",
					"virtio-scsi-single", "megasas", "pvscsi", NULL };
static const char *const e_lock[] = { "backup", "clone", "create", "migrate", "rollback",
				      "snapshot", "snapshot-delete", "suspending", "suspended",
				      NULL };

#define K_FMT(n, f, d) { .name = n, .type = VC_FMT, .fmt = f, .desc = d }
#define K_DISK(n, max, bus, d)                                                       \
	{ .name = n, .type = VC_FMT, .fmt = &vc_drive_format, .indexed = 1,           \
	  .max_index = max, .buses = bus, .desc = d }

static const struct vc_prop keys[] = {
	K_FMT("agent", &agent_format, "QEMU guest agent"),
	{ .name = "balloon", .type = VC_INT, .min = 0, .max = MAX_MEM_MIB,
	  .desc = "Target RAM in MiB for the balloon device (0 disables it)" },
	{ .name = "bios", .type = VC_ENUM, .enumv = e_bios, .desc = "BIOS implementation" },
	K_FMT("boot", &vc_boot_format, "Boot order"),
	{ .name = "cores", .type = VC_INT, .min = 1, .max = 1024, .desc = "Cores per socket" },
	K_FMT("cicustom", &vc_cicustom_format, "cloud-init: custom snippet files"),
	{ .name = "cipassword", .type = VC_STR, .check = vc_check_cipassword,
	  .canon = vc_canon_cipassword, .desc = "cloud-init: password (stored hashed)" },
	{ .name = "citype", .type = VC_STR, .check = vc_check_citype,
	  .desc = "cloud-init: configuration format" },
	{ .name = "ciupgrade", .type = VC_BOOL, .desc = "cloud-init: upgrade packages at first boot" },
	{ .name = "ciuser", .type = VC_STR, .check = vc_check_ci_line,
	  .desc = "cloud-init: user name" },
	K_FMT("cpu", &cpu_format, "Emulated CPU type"),
	{ .name = "description", .type = VC_STR, .max_len = 8192, .desc = "Notes" },
	{ .name = "efidisk", .type = VC_FMT, .fmt = &vc_drive_format, .indexed = 1,
	  .max_index = 0, .buses = VC_EFI, .desc = "Disk for OVMF EFI variables" },
	{ .name = "hotplug", .type = VC_STR, .check = check_hotplug,
	  .desc = "Hot-plug features (network, disk...; 0 for none)" },
	K_DISK("ide", 3, VC_IDE, "IDE hard disk or CD-ROM"),
	{ .name = "ipconfig", .type = VC_FMT, .fmt = &vc_ipconfig_format, .indexed = 1,
	  .max_index = 31, .desc = "cloud-init: IP addresses and gateways of netN" },
	{ .name = "lock", .type = VC_ENUM, .enumv = e_lock, .desc = "Lock held by a task" },
	K_FMT("machine", &machine_format, "QEMU machine type"),
	K_FMT("memory", &memory_format, "Memory in MiB"),
	{ .name = "name", .type = VC_STR, .check = check_dns_name, .desc = "VM name" },
	{ .name = "nameserver", .type = VC_STR, .check = vc_check_nameserver,
	  .desc = "cloud-init: DNS servers" },
	{ .name = "net", .type = VC_FMT, .fmt = &vc_net_format, .indexed = 1, .max_index = 31,
	  .desc = "Network device" },
	{ .name = "onboot", .type = VC_BOOL, .desc = "Start at boot" },
	{ .name = "ostype", .type = VC_ENUM, .enumv = e_ostype, .desc = "Guest OS type" },
	K_DISK("sata", 5, VC_SATA, "SATA hard disk or CD-ROM"),
	K_DISK("scsi", 30, VC_SCSI, "SCSI hard disk or CD-ROM"),
	{ .name = "scsihw", .type = VC_ENUM, .enumv = e_scsihw, .desc = "SCSI controller" },
	{ .name = "serial", .type = VC_STR, .check = check_serial_port, .indexed = 1,
	  .max_index = 3, .desc = "Serial port on a unix socket" },
	{ .name = "searchdomain", .type = VC_STR, .check = vc_check_ci_line,
	  .desc = "cloud-init: DNS search domains" },
	K_FMT("smbios1", &smbios_format, "SMBIOS type 1 fields"),
	{ .name = "sockets", .type = VC_INT, .min = 1, .max = 16, .desc = "CPU sockets" },
	{ .name = "sshkeys", .type = VC_STR, .check = vc_check_sshkeys,
	  .desc = "cloud-init: SSH public keys (URL-encoded)" },
	{ .name = "tags", .type = VC_STR, .check = check_tags, .canon = canon_tags, .desc = "Tags" },
	{ .name = "template", .type = VC_BOOL, .desc = "VM is a template" },
	K_DISK("unused", 255, VC_UNUSED, "Detached volume"),
	{ .name = "vcpus", .type = VC_INT, .min = 1, .max = 4096, .desc = "Hotplugged vCPUs" },
	{ .name = "vmstate", .type = VC_STR, .check = check_volume,
	  .desc = "Saved state of a VM suspended to disk" },
	K_FMT("vga", &vga_format, "Display adapter"),
	K_DISK("virtio", 15, VC_VIRTIO, "VirtIO block disk"),
};

/* "name" or "name<digits>" without leading zeros, within max_index. */
static int match_key(const struct vc_prop *p, const char *key, int *index)
{
	size_t n = strlen(p->name);
	uint64_t i;

	if (strncmp(key, p->name, n) != 0)
		return 0;
	if (!p->indexed)
		return key[n] == '\0';
	if (!isdigit((unsigned char)key[n]) || (key[n] == '0' && key[n + 1]))
		return 0;
	if (util_parse_u64(key + n, &i) < 0 || i > (uint64_t)p->max_index)
		return 0;
	*index = (int)i;
	return 1;
}

const struct vc_prop *vc_find_key(const char *key, int *index)
{
	*index = -1;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (match_key(&keys[i], key, index))
			return &keys[i];
	return NULL;
}

unsigned vc_bus_of(const char *key)
{
	int idx;
	const struct vc_prop *p = vc_find_key(key, &idx);

	return p && p->fmt == &vc_drive_format ? p->buses : 0;
}
