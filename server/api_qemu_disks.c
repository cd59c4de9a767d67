/* The volumes of a VM's configuration: checked against the pool before
 * anything is written, allocated for "STORAGE:SIZE", resolved to paths for
 * QEMU, walked for destroy. */
#include "server/qemu_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "server/api.h"
#include "server/app.h"
#include "storage/image.h"
#include "storage/pool.h"

/* The one check every volume of a drive passes: its volume id parses, it
 * belongs to a pool here, it stays inside it and holds the right content. */
static int volume_path(struct app *app, int vmid, const struct vmconf_drive *d, char *path,
		       size_t n, char *err, size_t errlen)
{
	char volid[POOL_VOLID_MAX];
	struct pool_volid v;
	int r;

	if ((r = vmconf_drive_volid(d, volid, sizeof(volid))) < 0 ||
	    (r = pool_volid_parse(volid, &v, err, errlen)) < 0 ||
	    (r = pool_set_vol_path(app->pools, volid, path, n, err, errlen)) < 0)
		return r;
	if (d->cdrom && qemu_cloudinit_volume(vmid, d->volname) && v.vmid == vmid)
		return 0;
	if (d->cdrom ? v.content != POOL_CONTENT_ISO : v.content != POOL_CONTENT_IMAGES) {
		snprintf(err, errlen, "volume '%s' is not %s", volid,
			 d->cdrom ? "an ISO image" : "a disk image");
		return -EINVAL;
	}
	if (!d->cdrom && v.vmid != vmid) {
		snprintf(err, errlen, "volume '%s' belongs to VM %d", volid, v.vmid);
		return -EACCES;
	}
	return 0;
}

static int check_drive(const struct req *req, int vmid, const char *key, const char *value,
		       char *err, size_t errlen)
{
	struct app *app = req->app;
	struct vmconf_drive d;
	char path[PATH_MAX];
	struct stat st;
	int r = vmconf_drive_parse(key, value, &d, err, errlen);

	if (r < 0 || d.kind == VMCONF_VOL_NONE)
		return r;
	if (d.import_from[0])
		return api_storage_check_import(req, d.storage, d.import_from, err, errlen);
	if (d.kind == VMCONF_VOL_VOLUME && strcmp(d.volname, "cloudinit") == 0 &&
	    (strcmp(d.bus, "virtio") == 0 || strcmp(d.bus, "unused") == 0)) {
		snprintf(err, errlen, "a cloud-init drive must be on ide, sata or scsi");
		return -EINVAL;
	}
	if (d.kind == VMCONF_VOL_NEW || strcmp(d.volname, "cloudinit") == 0) {
		if (pool_set_get(app->pools, d.storage))
			return 0;
		snprintf(err, errlen, "storage '%s' does not exist", d.storage);
		return CR_ENOTFOUND;
	}
	if ((r = volume_path(app, vmid, &d, path, sizeof(path), err, errlen)) < 0)
		return r;
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "volume '%s:%s' does not exist", d.storage, d.volname);
		return CR_ENOTFOUND;
	}
	return 0;
}

int qemu_check_volumes(const struct req *req, int vmid, const char *const *keys,
		       const char *const *values, size_t n, struct vmconf_errors *errs)
{
	char err[384];

	for (size_t i = 0; i < n; i++)
		if (qemu_is_drive_key(keys[i]) &&
		    check_drive(req, vmid, keys[i], values[i], err, sizeof(err)) < 0)
			vmconf_errors_add(errs, keys[i], "%s", err);
	return errs->n ? -EINVAL : 0;
}

void qemu_size_text(uint64_t bytes, char *out, size_t n)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, n, "%llu", (unsigned long long)bytes);
	else
		snprintf(out, n, "%llu%c", (unsigned long long)bytes, units[u]);
}

/* Stores D as KEY's value with its size set to BYTES. */
static int set_sized(struct vmconf *conf, const char *key, struct vmconf_drive *d, uint64_t bytes)
{
	char *text;
	int r;

	d->size = bytes;
	qemu_size_text(bytes, d->size_text, sizeof(d->size_text));
	if (!(text = vmconf_drive_format(d)))
		return -ENOMEM;
	r = vmconf_set(conf, key, text);
	free(text);
	return r;
}

/* An existing disk named without size= gets its image's virtual size, as
 * Proxmox records it at create time. */
static int add_size(struct app *app, int vmid, struct vmconf *conf, const char *key,
		    struct vmconf_drive *d, char *err, size_t errlen)
{
	struct img_open_opts o = {.flags = IMG_OPEN_SHARED | IMG_OPEN_NO_BACKING};
	char path[PATH_MAX];
	struct img *img;
	uint64_t bytes;
	int r = volume_path(app, vmid, d, path, sizeof(path), err, errlen);

	if (r < 0 || (r = img_open(&img, path, &o, err, errlen)) < 0)
		return r;
	bytes = img_virtual_size(img);
	img_close(img);
	return set_sized(conf, key, d, bytes);
}

/* Debian's OVMF variable store template for 4 MiB firmware (Proxmox's
 * efitype=4m, the firmware hv/argv.c boots). */
#define OVMF_VARS_4M "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* TPL into the new volume VOLID of P. */
static int fill_volume(struct pool *p, const char *volid, const char *tpl, size_t len, char *err,
		       size_t errlen)
{
	char path[PATH_MAX];
	int fd, r = pool_vol_path(p, volid, path, sizeof(path), err, errlen);

	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	r = fd < 0 ? -errno : util_write_all(fd, tpl, len);
	if (fd >= 0 && fsync(fd) < 0 && r == 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
	return r;
}

/* An EFI disk is raw, exactly as big as OVMF's variable store (pflash
 * takes no other size), and starts as a copy of its template, as Proxmox
 * makes it; the size asked for is ignored as Proxmox ignores it. */
static int new_efidisk(struct pool *p, int vmid, char *volid, size_t n, uint64_t *bytes,
		       char *err, size_t errlen)
{
	char *tpl = NULL;
	size_t len;
	int r = util_read_file(OVMF_VARS_4M, 16 << 20, &tpl, &len);

	if (r < 0) {
		snprintf(err, errlen, "efidisk0: cannot read %s: %s", OVMF_VARS_4M, strerror(-r));
		return r;
	}
	*bytes = len;
	r = pool_alloc(p, vmid, "raw", len, volid, n, err, errlen);
	if (r == 0 && (r = fill_volume(p, volid, tpl, len, err, errlen)) < 0)
		pool_vol_free(p, volid, err + strlen(err), errlen - strlen(err));
	free(tpl);
	return r;
}

/* The volume of new disk D: imported (import-from) or allocated empty. */
static int new_volume(struct app *app, int vmid, const char *key, struct vmconf_drive *d,
		      char *volid, size_t n, uint64_t *bytes, char *err, size_t errlen)
{
	struct pool *p = pool_set_get(app->pools, d->storage);
	char gib[32];
	int r;

	if (d->import_from[0]) {
		r = api_storage_import(app, vmid, d->storage, d->import_from,
				       d->format[0] ? d->format : NULL, volid, n, bytes, err, errlen);
		d->import_from[0] = '\0';
		return r;
	}
	snprintf(gib, sizeof(gib), "%sG", d->new_size);
	if ((r = util_parse_size(gib, 1, bytes)) < 0 || *bytes == 0) {
		snprintf(err, errlen, "%s: invalid size '%s'", key, d->new_size);
		return -EINVAL;
	}
	*bytes = (*bytes + 511) & ~(uint64_t)511;
	if (!p) {
		snprintf(err, errlen, "storage '%s' does not exist", d->storage);
		return CR_ENOTFOUND;
	}
	if (strcmp(key, "efidisk0") == 0)
		return new_efidisk(p, vmid, volid, n, bytes, err, errlen);
	return pool_alloc(p, vmid, d->format[0] ? d->format : NULL, *bytes, volid, n, err, errlen);
}

static int alloc_one(struct app *app, int vmid, struct vmconf *conf, const char *key, char *err,
		     size_t errlen)
{
	struct vmconf_drive d;
	char volid[POOL_VOLID_MAX];
	uint64_t bytes;
	int r = vmconf_drive_parse(key, vmconf_get(conf, key), &d, err, errlen);

	if (r == 0 && d.kind == VMCONF_VOL_VOLUME && strcmp(d.volname, "cloudinit") == 0) {
		char *text;

		if ((r = qemu_cloudinit_alloc(app, vmid, &d, err, errlen)) < 0)
			return r;
		if (!(text = vmconf_drive_format(&d)))
			return -ENOMEM;
		r = vmconf_set(conf, key, text);
		free(text);
		return r;
	}
	if (r == 0 && d.kind == VMCONF_VOL_VOLUME && !d.cdrom && d.size == 0 &&
	    strncmp(key, "unused", 6) != 0)
		return add_size(app, vmid, conf, key, &d, err, errlen);
	if (r < 0 || d.kind != VMCONF_VOL_NEW)
		return r;
	if ((r = new_volume(app, vmid, key, &d, volid, sizeof(volid), &bytes, err, errlen)) < 0)
		return r;
	d.kind = VMCONF_VOL_VOLUME;
	snprintf(d.volname, sizeof(d.volname), "%s", strchr(volid, ':') + 1);
	d.format[0] = '\0';
	return set_sized(conf, key, &d, bytes);
}

int qemu_alloc_disks(struct app *app, int vmid, struct vmconf *conf, char *err, size_t errlen)
{
	char keys[QEMU_MAX_DISKS][32];
	size_t n = 0;
	int r = 0;

	/* Collected first: vmconf_set may move the entries being walked. */
	for (size_t i = 0; i < vmconf_count(conf) && n < QEMU_MAX_DISKS; i++)
		if (qemu_is_drive_key(vmconf_key_at(conf, i)))
			snprintf(keys[n++], sizeof(keys[0]), "%s", vmconf_key_at(conf, i));
	for (size_t i = 0; r == 0 && i < n; i++)
		r = alloc_one(app, vmid, conf, keys[i], err, errlen);
	return r;
}

int qemu_resolve_disks(struct app *app, const struct vmconf *conf, struct qemu_disks *out,
		       char *err, size_t errlen)
{
	out->n = 0;
	for (size_t i = 0; i < vmconf_count(conf); i++) {
		const char *key = vmconf_key_at(conf, i);
		struct vmconf_drive d;
		size_t k = out->n;
		int r;

		if (!qemu_is_drive_key(key) || strncmp(key, "unused", 6) == 0)
			continue;
		if ((r = vmconf_drive_parse(key, vmconf_value_at(conf, i), &d, err, errlen)) < 0)
			return r;
		if (d.kind == VMCONF_VOL_NONE)
			continue;
		if (d.kind == VMCONF_VOL_NEW || k == QEMU_MAX_DISKS) {
			snprintf(err, errlen, "%s: disk not allocated", key);
			return -EINVAL;
		}
		r = volume_path(app, atoi(d.volname), &d, out->path[k], sizeof(out->path[k]), err,
				errlen);
		if (r < 0)
			return r;
		snprintf(out->key[k], sizeof(out->key[k]), "%s", key);
		snprintf(out->format[k], sizeof(out->format[k]), "%s",
			 strrchr(d.volname, '.') && !strcmp(strrchr(d.volname, '.'), ".raw") ? "raw"
			 : d.cdrom && !qemu_cloudinit_volume(atoi(d.volname), d.volname) ? "raw"
											  : "qcow2");
		out->d[k] = (struct hv_disk_path){out->key[k], out->path[k], out->format[k]};
		out->n++;
	}
	return 0;
}

int qemu_foreach_volume(const struct vmconf *conf, int (*fn)(const char *volid, void *ctx),
			void *ctx)
{
	char err[256], volid[POOL_VOLID_MAX];
	int r = 0;

	for (size_t i = 0; r == 0 && i < vmconf_count(conf); i++) {
		struct vmconf_drive d;

		if (!qemu_is_drive_key(vmconf_key_at(conf, i)) ||
		    vmconf_drive_parse(vmconf_key_at(conf, i), vmconf_value_at(conf, i), &d, err,
				       sizeof(err)) < 0 ||
		    d.kind != VMCONF_VOL_VOLUME ||
		    (d.cdrom && !qemu_cloudinit_volume(atoi(d.volname), d.volname)) ||
		    vmconf_drive_volid(&d, volid, sizeof(volid)) < 0)
			continue;
		r = fn(volid, ctx);
	}
	if (r == 0 && vmconf_get(conf, "vmstate")) /* a suspended VM's saved state */
		r = fn(vmconf_get(conf, "vmstate"), ctx);
	return r;
}

int qemu_drive_volid(const char *key, const char *value, char *volid, size_t n)
{
	struct vmconf_drive d;
	char err[256];

	if (!value || !qemu_is_drive_key(key) ||
	    vmconf_drive_parse(key, value, &d, err, sizeof(err)) < 0 ||
	    d.kind != VMCONF_VOL_VOLUME || d.cdrom)
		return -EINVAL;
	return vmconf_drive_volid(&d, volid, n);
}

int qemu_keep_unused(struct vmconf *conf, const char *key, const char *new_value)
{
	char old[POOL_VOLID_MAX], now[POOL_VOLID_MAX], unused[16];

	if (strncmp(key, "unused", 6) == 0 ||
	    qemu_drive_volid(key, vmconf_get(conf, key), old, sizeof(old)) < 0)
		return 0;
	if (new_value && qemu_drive_volid(key, new_value, now, sizeof(now)) == 0 &&
	    strcmp(old, now) == 0)
		return 0;
	for (int i = 0; i < 256; i++) {
		snprintf(unused, sizeof(unused), "unused%d", i);
		if (!vmconf_get(conf, unused))
			return vmconf_set(conf, unused, old);
	}
	return 0;
}
