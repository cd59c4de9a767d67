/* Typed views of drive and NIC keys, NIC MAC generation and the boot order:
 * each value is first checked and normalised by vmconf_check(). */
#include "hv/vmconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/buf.h"
#include "common/propstr.h"
#include "common/util.h"
#include "hv/vmconf_int.h"

/* Runs vmconf_check() and splits the canonical text. */
static int parse_canonical(const char *key, const char *value, const char *default_key,
			   struct propstr *ps, char *err, size_t errlen)
{
	char *canon;
	int r = vmconf_check(key, value, &canon, err, errlen);

	if (r < 0)
		return r;
	r = propstr_parse(canon, default_key, ps, err, errlen);
	free(canon);
	return r;
}

static int flag(const struct propstr *ps, const char *key)
{
	const char *v = propstr_get(ps, key);

	return v ? propstr_bool(v) : -1;
}

static void copy(char *dst, size_t n, const struct propstr *ps, const char *key)
{
	const char *v = propstr_get(ps, key);

	util_strlcpy(dst, v ? v : "", n);
}

static void drive_volume(struct vmconf_drive *d, const char *file)
{
	const char *colon = strchr(file, ':');

	if (!colon) {
		d->kind = VMCONF_VOL_NONE;
		return;
	}
	util_strlcpy(d->storage, file, (size_t)(colon - file) + 1 < sizeof(d->storage)
						? (size_t)(colon - file) + 1 : sizeof(d->storage));
	if (vc_check_new_size(colon + 1)) {
		d->kind = VMCONF_VOL_NEW;
		util_strlcpy(d->new_size, colon + 1, sizeof(d->new_size));
	} else {
		d->kind = VMCONF_VOL_VOLUME;
		util_strlcpy(d->volname, colon + 1, sizeof(d->volname));
	}
}

static void drive_bus(struct vmconf_drive *d, const char *key)
{
	size_t n = strcspn(key, "0123456789");

	util_strlcpy(d->bus, key, n + 1 < sizeof(d->bus) ? n + 1 : sizeof(d->bus));
	d->index = atoi(key + n);
}

int vmconf_drive_parse(const char *key, const char *value, struct vmconf_drive *d, char *err,
		       size_t errlen)
{
	struct propstr ps;
	const char *media, *size;
	int r;

	memset(d, 0, sizeof(*d));
	if (!vc_bus_of(key)) {
		snprintf(err, errlen, "'%.32s' is not a drive key", key);
		return -EINVAL;
	}
	r = parse_canonical(key, value, "file", &ps, err, errlen);
	if (r < 0)
		return r;
	drive_bus(d, key);
	drive_volume(d, propstr_get(&ps, "file"));
	media = propstr_get(&ps, "media");
	d->cdrom = media && strcmp(media, "cdrom") == 0;
	copy(d->cache, sizeof(d->cache), &ps, "cache");
	copy(d->aio, sizeof(d->aio), &ps, "aio");
	copy(d->format, sizeof(d->format), &ps, "format");
	copy(d->serial, sizeof(d->serial), &ps, "serial");
	copy(d->efitype, sizeof(d->efitype), &ps, "efitype");
	copy(d->import_from, sizeof(d->import_from), &ps, "import-from");
	size = propstr_get(&ps, "size");
	if (size)
		util_parse_size(size, 1, &d->size);
	copy(d->size_text, sizeof(d->size_text), &ps, "size");
	d->discard = propstr_get(&ps, "discard") ? strcmp(propstr_get(&ps, "discard"), "on") == 0 : -1;
	d->iothread = flag(&ps, "iothread");
	d->ssd = flag(&ps, "ssd");
	d->ro = flag(&ps, "ro");
	d->backup = flag(&ps, "backup");
	d->replicate = flag(&ps, "replicate");
	propstr_free(&ps);
	return 0;
}

int vmconf_drive_volid(const struct vmconf_drive *d, char *out, size_t n)
{
	if (d->kind != VMCONF_VOL_VOLUME)
		return -EINVAL;
	return snprintf(out, n, "%s:%s", d->storage, d->volname) < (int)n ? 0 : -ERANGE;
}

static int put_flag(struct buf *b, const char *key, int v)
{
	return v < 0 ? 0 : buf_printf(b, ",%s=%d", key, v);
}

static int put_str(struct buf *b, const char *key, const char *v)
{
	return *v ? buf_printf(b, ",%s=%s", key, v) : 0;
}

static int put_drive_file(struct buf *b, const struct vmconf_drive *d)
{
	if (d->kind == VMCONF_VOL_NONE)
		return buf_puts(b, "none");
	if (d->kind == VMCONF_VOL_NEW)
		return buf_printf(b, "%s:%s", d->storage, d->new_size);
	return buf_printf(b, "%s:%s", d->storage, d->volname);
}

/* Same key order as the checker's canonical form (alphabetical). */
char *vmconf_drive_format(const struct vmconf_drive *d)
{
	struct buf b = BUF_INIT;
	int r = put_drive_file(&b, d);

	r = r ? r : put_str(&b, "aio", d->aio);
	r = r ? r : put_flag(&b, "backup", d->backup);
	r = r ? r : put_str(&b, "cache", d->cache);
	r = r ? r : (d->discard < 0 ? 0 : buf_printf(&b, ",discard=%s", d->discard ? "on" : "ignore"));
	r = r ? r : put_str(&b, "efitype", d->efitype);
	r = r ? r : put_str(&b, "format", d->format);
	r = r ? r : put_str(&b, "import-from", d->import_from);
	r = r ? r : put_flag(&b, "iothread", d->iothread);
	r = r ? r : (d->cdrom ? buf_puts(&b, ",media=cdrom") : 0);
	r = r ? r : put_flag(&b, "replicate", d->replicate);
	r = r ? r : put_flag(&b, "ro", d->ro);
	r = r ? r : put_str(&b, "serial", d->serial);
	r = r ? r : put_str(&b, "size", d->size_text);
	r = r ? r : put_flag(&b, "ssd", d->ssd);
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ---- NICs -------------------------------------------------------------------- */

static void parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)strtoul(s + 3 * i, NULL, 16);
}

int vmconf_net_parse(const char *key, const char *value, struct vmconf_net *n, char *err,
		     size_t errlen)
{
	struct propstr ps;
	const char *mac, *v;
	int r;

	memset(n, 0, sizeof(*n));
	if (strncmp(key, "net", 3) != 0 || !vmconf_key_known(key)) {
		snprintf(err, errlen, "'%.32s' is not a network key", key);
		return -EINVAL;
	}
	r = parse_canonical(key, value, "model", &ps, err, errlen);
	if (r < 0)
		return r;
	n->index = atoi(key + 3);
	mac = propstr_get(&ps, "macaddr");
	if (!mac && ps.n && strchr(ps.items[0].value, ':'))
		mac = ps.items[0].value; /* canonical "model=MAC" comes first */
	copy(n->model, sizeof(n->model), &ps, "model");
	if (!n->model[0] && ps.n)
		util_strlcpy(n->model, ps.items[0].key, sizeof(n->model));
	n->has_mac = mac != NULL;
	if (mac)
		parse_mac(mac, n->mac);
	copy(n->bridge, sizeof(n->bridge), &ps, "bridge");
	copy(n->rate, sizeof(n->rate), &ps, "rate");
	copy(n->trunks, sizeof(n->trunks), &ps, "trunks");
	n->firewall = flag(&ps, "firewall") == 1;
	n->link_down = flag(&ps, "link_down") == 1;
	n->tag = (v = propstr_get(&ps, "tag")) ? atoi(v) : 0;
	n->queues = (v = propstr_get(&ps, "queues")) ? atoi(v) : 0;
	n->mtu = (v = propstr_get(&ps, "mtu")) ? atoi(v) : 0;
	propstr_free(&ps);
	return 0;
}

char *vmconf_net_format(const struct vmconf_net *n)
{
	struct buf b = BUF_INIT;
	const uint8_t *m = n->mac;
	int r;

	if (n->has_mac)
		r = buf_printf(&b, "%s=%02X:%02X:%02X:%02X:%02X:%02X", n->model, m[0], m[1], m[2],
			       m[3], m[4], m[5]);
	else
		r = buf_puts(&b, n->model);
	r = r ? r : put_str(&b, "bridge", n->bridge);
	r = r ? r : (n->firewall ? buf_puts(&b, ",firewall=1") : 0);
	r = r ? r : (n->link_down ? buf_puts(&b, ",link_down=1") : 0);
	r = r ? r : (n->mtu ? buf_printf(&b, ",mtu=%d", n->mtu) : 0);
	r = r ? r : (n->queues ? buf_printf(&b, ",queues=%d", n->queues) : 0);
	r = r ? r : put_str(&b, "rate", n->rate);
	r = r ? r : (n->tag ? buf_printf(&b, ",tag=%d", n->tag) : 0);
	r = r ? r : put_str(&b, "trunks", n->trunks);
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

void vmconf_net_set_mac(struct vmconf_net *n, const uint8_t rnd[3])
{
	static const uint8_t oui[3] = { 0xBC, 0x24, 0x11 }; /* Proxmox Server Solutions */

	memcpy(n->mac, oui, 3);
	memcpy(n->mac + 3, rnd, 3);
	n->has_mac = 1;
}

static int assign_mac(struct vmconf *c, const char *key)
{
	struct vmconf_net n;
	uint8_t rnd[3];
	char err[256], *text;
	int r;

	if (vmconf_net_parse(key, vmconf_get(c, key), &n, err, sizeof(err)) < 0 || n.has_mac)
		return 0; /* invalid values are reported by the validation */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	vmconf_net_set_mac(&n, rnd);
	text = vmconf_net_format(&n);
	if (!text)
		return -ENOMEM;
	r = vmconf_set(c, key, text);
	free(text);
	return r;
}

int vmconf_assign_macs(struct vmconf *c)
{
	for (size_t i = 0; i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i);
		int r = strncmp(k, "net", 3) == 0 ? assign_mac(c, k) : 0;

		if (r < 0)
			return r;
	}
	return 0;
}

int vmconf_assign_smbios_uuid(struct vmconf *c)
{
	const char *cur = vmconf_get(c, "smbios1");
	uint8_t u[16];
	char text[64];

	if (cur && strstr(cur, "uuid="))
		return 0;
	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		return -EIO;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(text, sizeof(text),
		 "uuid=%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
	return vmconf_set(c, "smbios1", text);
}

/* ---- boot order -------------------------------------------------------------- */

static int default_order(const struct vmconf *c, char keys[][16], int max)
{
	static const char *const classes[] = { "disk", "cdrom", "net" };
	int n = 0;

	for (size_t cl = 0; cl < ARRAY_SIZE(classes); cl++) {
		for (size_t i = 0; i < vmconf_count(c) && n < max; i++) {
			const char *k = vmconf_key_at(c, i), *v = vmconf_value_at(c, i);
			int is_net = strncmp(k, "net", 3) == 0 && vc_is_device_key(k);
			int is_disk = vc_bus_of(k) & VC_DISKS;
			int cdrom = is_disk && strstr(v, "media=cdrom") != NULL;
			const char *what = is_net ? "net" : cdrom ? "cdrom" : is_disk ? "disk" : "";

			if (strcmp(what, classes[cl]) == 0)
				util_strlcpy(keys[n++], k, 16);
		}
	}
	return n;
}

int vmconf_boot_order(const struct vmconf *c, char keys[][16], int max)
{
	const char *boot = vmconf_get(c, "boot");
	const char *order = boot ? strstr(boot, "order=") : NULL;
	int n = 0;

	if (!order)
		return default_order(c, keys, max);
	for (order += 6; *order && n < max;) {
		size_t len = strcspn(order, ";,");

		if (len == 0 || len >= 16)
			return -EINVAL;
		memcpy(keys[n], order, len);
		keys[n++][len] = '\0';
		if (order[len] != ';')
			break;
		order += len + 1;
	}
	return n;
}
