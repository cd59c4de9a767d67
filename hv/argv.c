/* QEMU command-line builder (see argv.h): configuration in, argv out, no I/O. */
#include "hv/argv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"

#define BOOT_MAX 64
#define BOOTINDEX_BASE 100 /* bootindex values Proxmox also starts from */

struct argv_ctx {
	const struct hv_argv_opts *o;
	char **v;
	size_t n, cap;
	int failed; /* first error code, sticky */
	char *err;
	size_t errlen;
	char boot[BOOT_MAX][16];
	int nboot;
};

static void fail(struct argv_ctx *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct argv_ctx *a, int code, const char *fmt, ...)
{
	va_list ap;

	if (a->failed)
		return;
	a->failed = code;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(a->err, a->errlen, fmt, ap);
		va_end(ap);
	}
}

/* Takes ownership of S. */
static void push(struct argv_ctx *a, char *s)
{
	if (!s || a->failed) {
		free(s);
		fail(a, -ENOMEM, "out of memory");
		return;
	}
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			free(s);
			fail(a, -ENOMEM, "out of memory");
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void add(struct argv_ctx *a, const char *s)
{
	push(a, strdup(s));
}

static void addf(struct argv_ctx *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void addf(struct argv_ctx *a, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	if (buf_vprintf(&b, fmt, ap) < 0)
		buf_free(&b);
	va_end(ap);
	push(a, b.data ? buf_steal(&b) : NULL);
}

/* An option and its value. */
static void opt(struct argv_ctx *a, const char *name, struct buf *value)
{
	add(a, name);
	push(a, value->data ? buf_steal(value) : NULL);
	buf_free(value);
}

int hv_qemu_escape(struct buf *b, const char *s)
{
	int r = buf_append(b, "", 0); /* terminated even when S is empty */

	for (; *s && r == 0; s++)
		r = *s == ',' ? buf_puts(b, ",,") : buf_append(b, s, 1);
	return r;
}

int hv_run_path(char *out, size_t n, const char *run_dir, int vmid, const char *suffix)
{
	int len = snprintf(out, n, "%s/%d.%s", run_dir, vmid, suffix);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* "prefix" + escaped run-dir path + "suffix" as one argument. */
static void add_run_path(struct argv_ctx *a, const char *prefix, const char *what,
			 const char *suffix)
{
	char path[4096];
	struct buf b = BUF_INIT;

	if (hv_run_path(path, sizeof(path), a->o->run_dir, a->o->vmid, what) < 0) {
		fail(a, -EINVAL, "run directory path too long");
		return;
	}
	buf_puts(&b, prefix);
	hv_qemu_escape(&b, path);
	buf_puts(&b, suffix);
	push(a, b.data ? buf_steal(&b) : NULL);
	buf_free(&b);
}

/* -pidfile takes a plain path, not an option string: no escaping. */
static void add_pidfile(struct argv_ctx *a)
{
	char path[4096];

	if (hv_run_path(path, sizeof(path), a->o->run_dir, a->o->vmid, "pid") < 0)
		fail(a, -EINVAL, "run directory path too long");
	else
		add(a, path);
}

static const char *conf(const struct argv_ctx *a, const char *key)
{
	return vmconf_get(a->o->conf, key);
}

/* Value of SUB in a canonical property string whose default key is bare. */
static int sub_value(const char *ps, const char *sub, char *out, size_t n)
{
	size_t len = strlen(sub);

	for (const char *p = ps; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, sub, len) == 0 && p[len] == '=') {
			size_t vlen = strcspn(p + len + 1, ",");

			util_strlcpy(out, p + len + 1, vlen + 1 < n ? vlen + 1 : n);
			return 1;
		}
	}
	return 0;
}

/* The bare default-key value of a canonical property string. */
static void head_value(const char *ps, char *out, size_t n)
{
	size_t len = strcspn(ps, ",");

	if (memchr(ps, '=', len))
		len = 0;
	util_strlcpy(out, ps, len + 1 < n ? len + 1 : n);
}

static int bootindex(const struct argv_ctx *a, const char *key)
{
	for (int i = 0; i < a->nboot; i++)
		if (strcmp(a->boot[i], key) == 0)
			return BOOTINDEX_BASE + i;
	return -1;
}

static void add_bootindex(const struct argv_ctx *a, struct buf *b, const char *key)
{
	int idx = bootindex(a, key);

	if (idx >= 0)
		buf_printf(b, ",bootindex=%d", idx);
}

/* ---- machine, CPU, memory -------------------------------------------------------- */

static void add_base(struct argv_ctx *a)
{
	const char *name = conf(a, "name");
	struct buf b = BUF_INIT;

	add(a, a->o->qemu_binary ? a->o->qemu_binary : "qemu-system-x86_64");
	buf_puts(&b, "guest=");
	if (name)
		hv_qemu_escape(&b, name);
	else
		buf_printf(&b, "vm%d", a->o->vmid);
	buf_puts(&b, ",debug-threads=on");
	opt(a, "-name", &b);
	add(a, "-no-user-config");
	add(a, "-nodefaults");
	add(a, "-accel");
	add(a, a->o->kvm ? "kvm" : "tcg");
	/* spawn=deny and elevateprivileges=deny are possible because QEMU is
	 * not asked to -daemonize (which forks and calls setsid). */
	add(a, "-sandbox");
	add(a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	add(a, "-pidfile");
	add_pidfile(a);
	add(a, "-chardev");
	add_run_path(a, "socket,id=qmp,path=", "qmp", ",server=on,wait=off");
	add(a, "-mon");
	add(a, "chardev=qmp,mode=control");
	add(a, "-vnc");
	add_run_path(a, "unix:", "vnc", "");
	/* The listener comes later over QMP (migrate-incoming).  -S: the guest
	 * resumes only when the migration's owner says so (hv_mig_target_finish),
	 * never by itself while the source may still take it back. */
	if (a->o->incoming) {
		add(a, "-incoming");
		add(a, "defer");
		add(a, "-S");
	}
}

static const char *machine_type(struct argv_ctx *a, char *buf, size_t n)
{
	const char *m = conf(a, "machine");
	char viommu[16];

	if (!m)
		return "pc";
	if (sub_value(m, "viommu", viommu, sizeof(viommu)))
		fail(a, -EINVAL, "viommu is not supported");
	head_value(m, buf, n);
	if (!buf[0])
		sub_value(m, "type", buf, n);
	buf[strcspn(buf, "+")] = '\0'; /* Proxmox's +pveN revision is not QEMU's */
	return buf[0] ? buf : "pc";
}

static int is_q35(const char *machine)
{
	return strstr(machine, "q35") != NULL;
}

static void add_machine(struct argv_ctx *a, const char *machine)
{
	const char *os = conf(a, "ostype");

	add(a, "-machine");
	add(a, machine);
	if (os && os[0] == 'w') { /* Windows keeps its clock in local time */
		add(a, "-rtc");
		add(a, "base=localtime");
	}
}

/* Proxmox's x86-64-vN models are qemu64 plus the feature levels' flags. */
static const struct {
	const char *model;
	const char *qemu;
} cpu_map[] = {
	{ "x86-64-v2", "qemu64,+cx16,+lahf_lm,+popcnt,+pni,+sse4.1,+sse4.2,+ssse3" },
	{ "x86-64-v2-AES", "qemu64,+aes,+cx16,+lahf_lm,+popcnt,+pni,+sse4.1,+sse4.2,+ssse3" },
	{ "x86-64-v3", "qemu64,+abm,+aes,+avx,+avx2,+bmi1,+bmi2,+cx16,+f16c,+fma,+lahf_lm,"
		       "+movbe,+popcnt,+pni,+sse4.1,+sse4.2,+ssse3,+xsave" },
	{ "x86-64-v4", "qemu64,+abm,+aes,+avx,+avx2,+avx512bw,+avx512cd,+avx512dq,+avx512f,"
		       "+avx512vl,+bmi1,+bmi2,+cx16,+f16c,+fma,+lahf_lm,+movbe,+popcnt,+pni,"
		       "+sse4.1,+sse4.2,+ssse3,+xsave" },
};

static void cpu_base(const struct argv_ctx *a, const char *model, struct buf *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(cpu_map); i++) {
		if (strcmp(cpu_map[i].model, model) == 0) {
			buf_puts(b, cpu_map[i].qemu);
			return;
		}
	}
	/* "host" needs KVM; under TCG the closest is "max". */
	buf_puts(b, strcmp(model, "host") == 0 && !a->o->kvm ? "max" : model);
}

static void add_cpu(struct argv_ctx *a)
{
	const char *cpu = conf(a, "cpu");
	char model[32] = "kvm64", flags[256], hidden[4];
	struct buf b = BUF_INIT;
	int64_t sockets = vmconf_int(a->o->conf, "sockets", 1);
	int64_t cores = vmconf_int(a->o->conf, "cores", 1);

	if (cpu)
		head_value(cpu, model, sizeof(model));
	cpu_base(a, model[0] ? model : "kvm64", &b);
	if (cpu && sub_value(cpu, "flags", flags, sizeof(flags)))
		for (char *f = strtok(flags, ";"); f; f = strtok(NULL, ";"))
			buf_printf(&b, ",%s", f);
	if (cpu && sub_value(cpu, "hidden", hidden, sizeof(hidden)) && hidden[0] == '1')
		buf_puts(&b, ",kvm=off");
	opt(a, "-cpu", &b);
	add(a, "-smp");
	addf(a, "cpus=%lld,sockets=%lld,cores=%lld,maxcpus=%lld",
	     (long long)vmconf_int(a->o->conf, "vcpus", sockets * cores), (long long)sockets,
	     (long long)cores, (long long)(sockets * cores));
	add(a, "-m");
	addf(a, "%llu", (unsigned long long)vmconf_memory_mib(a->o->conf));
}

static void add_smbios(struct argv_ctx *a)
{
	const char *s = conf(a, "smbios1");
	char uuid[40];

	if (s && sub_value(s, "uuid", uuid, sizeof(uuid))) {
		add(a, "-smbios");
		addf(a, "type=1,uuid=%s", uuid);
	}
}

/* ---- display, serial, agent, balloon -------------------------------------------- */

static const struct {
	const char *type;
	const char *device;
} vga_map[] = {
	{ "std", "VGA" },		{ "cirrus", "cirrus-vga" },   { "vmware", "vmware-svga" },
	{ "qxl", "qxl-vga" },		{ "qxl2", "qxl-vga" },	      { "qxl3", "qxl-vga" },
	{ "qxl4", "qxl-vga" },		{ "virtio", "virtio-vga" },   { "virtio-gl", "virtio-vga-gl" },
};

static void add_vga(struct argv_ctx *a)
{
	const char *vga = conf(a, "vga");
	char type[16] = "std", mem[8];
	struct buf b = BUF_INIT;

	if (vga)
		head_value(vga, type, sizeof(type));
	for (size_t i = 0; i < ARRAY_SIZE(vga_map); i++) {
		if (strcmp(vga_map[i].type, type[0] ? type : "std") != 0)
			continue;
		buf_puts(&b, vga_map[i].device);
		if (vga && sub_value(vga, "memory", mem, sizeof(mem)) && strncmp(type, "virtio", 6))
			buf_printf(&b, ",vgamem_mb=%s", mem);
		buf_puts(&b, ",id=vga");
		opt(a, "-device", &b);
		return;
	} /* none and serialN: no display adapter */
}

/* serialN: a unix socket for consoles, and a log of everything the guest
 * printed (<vmid>.serialN.log) for task logs and tests. */
static void add_serials(struct argv_ctx *a)
{
	char key[16], path[4096];

	for (int i = 0; i <= 3; i++) {
		struct buf b = BUF_INIT;

		snprintf(key, sizeof(key), "serial%d", i);
		if (!conf(a, key))
			continue;
		if (hv_run_path(path, sizeof(path), a->o->run_dir, a->o->vmid, key) < 0) {
			fail(a, -EINVAL, "run directory path too long");
			return;
		}
		buf_printf(&b, "socket,id=%s,path=", key);
		hv_qemu_escape(&b, path);
		buf_puts(&b, ",server=on,wait=off,logfile=");
		hv_qemu_escape(&b, path);
		buf_puts(&b, ".log,logappend=on");
		opt(a, "-chardev", &b);
		add(a, "-device");
		addf(a, "isa-serial,chardev=%s,index=%d,id=%s", key, i, key);
	}
}

static void add_agent(struct argv_ctx *a)
{
	const char *ag = conf(a, "agent");
	char type[8] = "virtio", enabled[4] = "";

	if (!ag)
		return;
	head_value(ag, enabled, sizeof(enabled));
	if (!enabled[0])
		sub_value(ag, "enabled", enabled, sizeof(enabled));
	if (strcmp(enabled, "1") != 0)
		return;
	sub_value(ag, "type", type, sizeof(type));
	add(a, "-chardev");
	add_run_path(a, "socket,id=qga0,path=", "qga", ",server=on,wait=off");
	if (strcmp(type, "isa") == 0) {
		add(a, "-device");
		add(a, "isa-serial,chardev=qga0");
		return;
	}
	add(a, "-device");
	add(a, "virtio-serial,id=qga-serial0");
	add(a, "-device");
	add(a, "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0");
}

static void add_balloon(struct argv_ctx *a)
{
	if (vmconf_int(a->o->conf, "balloon", 1) == 0)
		return;
	add(a, "-device");
	add(a, "virtio-balloon-pci,id=balloon0");
}

/* ---- firmware ------------------------------------------------------------------ */

static const struct hv_disk_path *disk_path(const struct argv_ctx *a, const char *key)
{
	for (size_t i = 0; i < a->o->ndisks; i++)
		if (strcmp(a->o->disks[i].key, key) == 0)
			return &a->o->disks[i];
	return NULL;
}

static void add_firmware(struct argv_ctx *a)
{
	const char *bios = conf(a, "bios");
	const struct hv_disk_path *efi = disk_path(a, "efidisk0");
	struct buf b = BUF_INIT;

	if (!bios || strcmp(bios, "ovmf") != 0)
		return;
	buf_puts(&b, "if=pflash,unit=0,format=raw,readonly=on,file=");
	hv_qemu_escape(&b, a->o->ovmf_code ? a->o->ovmf_code : "/usr/share/OVMF/OVMF_CODE_4M.fd");
	opt(a, "-drive", &b);
	if (!efi) {
		fail(a, -EINVAL, "bios=ovmf needs an allocated efidisk0");
		return;
	}
	buf_printf(&b, "if=pflash,unit=1,format=%s,file=", efi->format ? efi->format : "raw");
	hv_qemu_escape(&b, efi->path);
	opt(a, "-drive", &b);
}

/* ---- disks ------------------------------------------------------------------------ */

struct cache_mode {
	const char *name;
	int direct, no_flush, write_cache;
};

static const struct cache_mode cache_modes[] = {
	{ "none", 1, 0, 1 },   { "writethrough", 0, 0, 0 }, { "writeback", 0, 0, 1 },
	{ "unsafe", 0, 1, 1 }, { "directsync", 1, 0, 0 },
};

/* Unset cache keeps QEMU's default (writeback without O_DIRECT), which also
 * works on tmpfs. */
static const struct cache_mode *cache_mode(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cache_modes); i++)
		if (strcmp(cache_modes[i].name, name) == 0)
			return &cache_modes[i];
	return NULL;
}

static const char *const block_formats[] = { "raw", "qcow2", "qed", "vmdk", "qcow", "cloop" };

static const char *drive_format(struct argv_ctx *a, const char *key,
				const struct vmconf_drive *d, const struct hv_disk_path *dp)
{
	const char *f = dp->format ? dp->format : d->format[0] ? d->format : NULL;
	size_t n = strlen(dp->path);

	if (!f)
		f = n > 6 && strcmp(dp->path + n - 6, ".qcow2") == 0 ? "qcow2" : "raw";
	for (size_t i = 0; i < ARRAY_SIZE(block_formats); i++)
		if (strcmp(block_formats[i], f) == 0)
			return block_formats[i];
	fail(a, -EINVAL, "%s: unsupported image format '%.16s'", key, f);
	return "raw";
}

static void blockdev_common(struct buf *b, const struct vmconf_drive *d)
{
	const struct cache_mode *cm = cache_mode(d->cache);

	if (cm)
		buf_printf(b, ",cache.direct=%s,cache.no-flush=%s", cm->direct ? "on" : "off",
			   cm->no_flush ? "on" : "off");
	if (d->cdrom || d->ro == 1)
		buf_puts(b, ",read-only=on");
	if (d->discard == 1)
		buf_puts(b, ",discard=unmap");
}

/* Two nodes per drive: the protocol node file-<key> and the format node
 * drive-<key> that the device uses. */
static void add_blockdev(struct argv_ctx *a, const char *key, const struct vmconf_drive *d,
			 const struct hv_disk_path *dp)
{
	const char *fmt = drive_format(a, key, d, dp);
	struct buf b = BUF_INIT;

	buf_printf(&b, "driver=%s,node-name=file-%s,filename=",
		   strncmp(dp->path, "/dev/", 5) == 0 ? "host_device" : "file", key);
	hv_qemu_escape(&b, dp->path);
	if (d->aio[0])
		buf_printf(&b, ",aio=%s", d->aio);
	blockdev_common(&b, d);
	opt(a, "-blockdev", &b);
	buf_printf(&b, "driver=%s,node-name=drive-%s,file=file-%s", fmt, key, key);
	blockdev_common(&b, d);
	opt(a, "-blockdev", &b);
}

static const struct {
	const char *hw;
	const char *device;
	int maxdev; /* targets per controller */
} scsi_hw[] = {
	{ "lsi", "lsi53c895a", 7 },		{ "lsi53c810", "lsi53c810", 7 },
	{ "virtio-scsi-pci", "virtio-scsi-pci", 256 }, { "virtio-scsi-single", "virtio-scsi-pci", 1 },
	{ "megasas", "megasas", 256 },		{ "pvscsi", "pvscsi", 64 },
};

static int scsi_hw_index(const struct argv_ctx *a)
{
	const char *hw = conf(a, "scsihw");

	for (size_t i = 0; hw && i < ARRAY_SIZE(scsi_hw); i++)
		if (strcmp(scsi_hw[i].hw, hw) == 0)
			return (int)i;
	return 0; /* Proxmox's schema default: lsi */
}

/* virtio-scsi-single gives every disk its own controller (and iothread). */
static void scsi_controller_name(const struct argv_ctx *a, int index, char *out, size_t n)
{
	int hw = scsi_hw_index(a);

	if (scsi_hw[hw].maxdev == 1)
		snprintf(out, n, "virtioscsi%d", index);
	else
		snprintf(out, n, "scsihw%d", index / scsi_hw[hw].maxdev);
}

static void add_scsi_controller(struct argv_ctx *a, const struct vmconf_drive *d,
				unsigned *done)
{
	int hw = scsi_hw_index(a);
	int ctrl = scsi_hw[hw].maxdev == 1 ? d->index : d->index / scsi_hw[hw].maxdev;
	char name[32];
	struct buf b = BUF_INIT;

	if (*done & (1u << ctrl))
		return;
	*done |= 1u << ctrl;
	scsi_controller_name(a, d->index, name, sizeof(name));
	buf_printf(&b, "%s,id=%s", scsi_hw[hw].device, name);
	if (scsi_hw[hw].maxdev == 1 && d->iothread == 1) {
		add(a, "-object");
		addf(a, "iothread,id=iothread-%s", name);
		buf_printf(&b, ",iothread=iothread-%s", name);
	}
	opt(a, "-device", &b);
}

static void device_bus(struct argv_ctx *a, const struct vmconf_drive *d, int q35, struct buf *b)
{
	const char *kind = d->cdrom ? "cd" : "hd";
	char ctrl[32];

	if (strcmp(d->bus, "virtio") == 0) {
		buf_printf(b, "virtio-blk-pci,id=virtio%d", d->index);
		if (d->iothread == 1)
			buf_printf(b, ",iothread=iothread-virtio%d", d->index);
	} else if (strcmp(d->bus, "scsi") == 0) {
		int hw = scsi_hw_index(a);

		scsi_controller_name(a, d->index, ctrl, sizeof(ctrl));
		buf_printf(b, "scsi-%s,id=scsi%d,bus=%s.0,channel=0,scsi-id=%d,lun=0", kind,
			   d->index, ctrl, scsi_hw[hw].maxdev == 1 ? 0 : d->index % scsi_hw[hw].maxdev);
	} else if (strcmp(d->bus, "sata") == 0) {
		buf_printf(b, "ide-%s,id=sata%d,bus=ahci0.%d", kind, d->index, d->index);
	} else if (q35) { /* q35's built-in AHCI ports are named ide.0 .. ide.5 */
		buf_printf(b, "ide-%s,id=ide%d,bus=ide.%d", kind, d->index, d->index);
	} else {
		buf_printf(b, "ide-%s,id=ide%d,bus=ide.%d,unit=%d", kind, d->index, d->index / 2,
			   d->index % 2);
	}
}

static void add_drive_device(struct argv_ctx *a, const char *key, const struct vmconf_drive *d,
			     int has_medium, int q35)
{
	const struct cache_mode *cm = cache_mode(d->cache);
	struct buf b = BUF_INIT;

	if (strcmp(d->bus, "virtio") == 0 && d->iothread == 1) {
		add(a, "-object");
		addf(a, "iothread,id=iothread-%s", key);
	}
	device_bus(a, d, q35, &b);
	if (has_medium)
		buf_printf(&b, ",drive=drive-%s", key);
	if (cm && !d->cdrom)
		buf_printf(&b, ",write-cache=%s", cm->write_cache ? "on" : "off");
	if (d->ssd == 1 && !d->cdrom)
		buf_puts(&b, ",rotation_rate=1");
	if (d->serial[0])
		buf_printf(&b, ",serial=%s", d->serial);
	add_bootindex(a, &b, key);
	opt(a, "-device", &b);
}

static int drive_of(struct argv_ctx *a, const char *key, const char *value,
		    struct vmconf_drive *d)
{
	char err[384];

	if (!(vmconf_key_known(key) && vmconf_drive_parse(key, value, d, err, sizeof(err)) == 0))
		return 0;
	if (strcmp(d->bus, "unused") == 0 || strcmp(d->bus, "efidisk") == 0)
		return 0;
	if (d->kind == VMCONF_VOL_NEW || d->import_from[0]) {
		fail(a, -EINVAL, "volume for %s is not allocated yet", key);
		return 0;
	}
	return 1;
}

static void add_disk(struct argv_ctx *a, const char *key, const struct vmconf_drive *d, int q35)
{
	const struct hv_disk_path *dp = disk_path(a, key);

	if (d->kind == VMCONF_VOL_VOLUME && !dp) {
		fail(a, -EINVAL, "no path resolved for %s", key);
		return;
	}
	if (dp && d->kind == VMCONF_VOL_VOLUME)
		add_blockdev(a, key, d, dp);
	add_drive_device(a, key, d, d->kind == VMCONF_VOL_VOLUME, q35);
}

/* Controllers first: QEMU needs a bus to exist before a device names it. */
static void add_disks(struct argv_ctx *a, int q35)
{
	const struct vmconf *c = a->o->conf;
	struct vmconf_drive d;
	unsigned scsi_done = 0;
	int ahci = 0;

	for (size_t i = 0; i < vmconf_count(c); i++) {
		if (!drive_of(a, vmconf_key_at(c, i), vmconf_value_at(c, i), &d))
			continue;
		if (strcmp(d.bus, "scsi") == 0)
			add_scsi_controller(a, &d, &scsi_done);
		if (strcmp(d.bus, "sata") == 0 && !ahci++) {
			add(a, "-device");
			add(a, "ahci,id=ahci0");
		}
	}
	for (size_t i = 0; i < vmconf_count(c); i++)
		if (drive_of(a, vmconf_key_at(c, i), vmconf_value_at(c, i), &d))
			add_disk(a, vmconf_key_at(c, i), &d, q35);
}

/* ---- NICs -------------------------------------------------------------------------- */

static void add_netdev(struct argv_ctx *a, const struct vmconf_net *n)
{
	struct buf b = BUF_INIT;

	if (!n->bridge[0]) { /* no bridge: user-mode networking, works anywhere */
		buf_printf(&b, "user,id=net%d", n->index);
		opt(a, "-netdev", &b);
		return;
	}
	/* hv/spawn.c creates the persistent tap and enslaves it to the bridge;
	 * QEMU only opens it, so it needs no helper script. */
	buf_printf(&b, "tap,id=net%d,ifname=tap%di%d,script=no,downscript=no", n->index,
		   a->o->vmid, n->index);
	if (a->o->kvm)
		buf_puts(&b, ",vhost=on");
	if (n->queues > 1)
		buf_printf(&b, ",queues=%d", n->queues);
	opt(a, "-netdev", &b);
}

static void add_nic(struct argv_ctx *a, const char *key, const char *value)
{
	struct vmconf_net n;
	struct buf b = BUF_INIT;
	const uint8_t *m = n.mac;
	char err[256];

	if (vmconf_net_parse(key, value, &n, err, sizeof(err)) < 0) {
		fail(a, -EINVAL, "%s: %s", key, err);
		return;
	}
	if (!n.has_mac) {
		fail(a, -EINVAL, "%s has no MAC address", key);
		return;
	}
	add_netdev(a, &n);
	buf_printf(&b, "%s,netdev=%s,id=%s,mac=%02X:%02X:%02X:%02X:%02X:%02X",
		   strcmp(n.model, "virtio") == 0 ? "virtio-net-pci" : n.model, key, key, m[0],
		   m[1], m[2], m[3], m[4], m[5]);
	if (n.queues > 1 && n.bridge[0] && strcmp(n.model, "virtio") == 0)
		buf_printf(&b, ",mq=on,vectors=%d", 2 * n.queues + 2);
	if (n.mtu && strcmp(n.model, "virtio") == 0)
		buf_printf(&b, ",host_mtu=%d", n.mtu);
	add_bootindex(a, &b, key);
	opt(a, "-device", &b);
}

static void add_nics(struct argv_ctx *a)
{
	const struct vmconf *c = a->o->conf;

	for (size_t i = 0; i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i);

		if (strncmp(k, "net", 3) == 0)
			add_nic(a, k, vmconf_value_at(c, i));
	}
}

/* The caller validated the configuration; checking again here keeps any
 * unvalidated string off the command line whatever the caller did. */
static void check_startable(struct argv_ctx *a)
{
	const char *t = conf(a, "template");
	struct vmconf_errors errs = { .n = 0 };

	if (vmconf_validate(a->o->conf, &errs) < 0)
		fail(a, -EINVAL, "invalid configuration: %s: %s", errs.e[0].key, errs.e[0].msg);

	if (t && strcmp(t, "1") == 0)
		fail(a, -EINVAL, "you can't start a vm if it's a template");
	if (a->o->vmid < 100)
		fail(a, -EINVAL, "invalid VM ID %d", a->o->vmid);
	a->nboot = vmconf_boot_order(a->o->conf, a->boot, BOOT_MAX);
	if (a->nboot < 0)
		fail(a, -EINVAL, "invalid boot order");
}

int hv_argv_build(const struct hv_argv_opts *o, char ***out, char *err, size_t errlen)
{
	struct argv_ctx a = { .o = o, .err = err, .errlen = errlen };
	char mbuf[48];
	const char *machine;

	*out = NULL;
	check_startable(&a);
	machine = machine_type(&a, mbuf, sizeof(mbuf));
	add_base(&a);
	add_machine(&a, machine);
	add_cpu(&a);
	add_smbios(&a);
	add_firmware(&a);
	add_vga(&a);
	add_serials(&a);
	add_agent(&a);
	add_balloon(&a);
	add_disks(&a, is_q35(machine));
	add_nics(&a);
	if (a.failed) {
		hv_argv_free(a.v);
		return a.failed;
	}
	*out = a.v;
	return 0;
}

void hv_argv_scsi_controller(const struct vmconf *conf, int index, char *out, size_t n)
{
	struct hv_argv_opts o = { .conf = conf };
	struct argv_ctx a = { .o = &o };

	scsi_controller_name(&a, index, out, n);
}

int hv_argv_device(const struct hv_argv_opts *o, const char *key, char ***out, char *err,
		   size_t errlen)
{
	struct argv_ctx a = { .o = o, .err = err, .errlen = errlen };
	const char *v = conf(&a, key);
	struct vmconf_drive d;
	unsigned scsi_done = 0;
	char mbuf[48];
	int q35 = is_q35(machine_type(&a, mbuf, sizeof(mbuf)));

	*out = NULL;
	a.nboot = vmconf_boot_order(o->conf, a.boot, BOOT_MAX);
	a.nboot = a.nboot < 0 ? 0 : a.nboot;
	if (!v) {
		fail(&a, -EINVAL, "%s is not in the configuration", key);
	} else if (strncmp(key, "net", 3) == 0) {
		add_nic(&a, key, v);
	} else if (drive_of(&a, key, v, &d)) {
		if (strcmp(d.bus, "scsi") == 0)
			add_scsi_controller(&a, &d, &scsi_done);
		add_disk(&a, key, &d, q35);
	} else {
		fail(&a, -EINVAL, "%s is not a disk or a NIC", key);
	}
	if (a.failed) {
		hv_argv_free(a.v);
		return a.failed;
	}
	*out = a.v;
	return 0;
}

void hv_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}
