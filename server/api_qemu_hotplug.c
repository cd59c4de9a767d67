/* Live changes of a running VM after a config update, as Proxmox's
 * hotplug option allows (default network,disk,usb): pending NICs and
 * virtio/SCSI disks are plugged or unplugged through QMP and then moved into
 * the configuration; a NIC whose only change is link_down gets set_link, one
 * whose changes stay on the host (bridge, tag, trunks, rate) has its tap
 * moved and re-limited without the guest seeing a new device.
 * Cloud-init values go into the configuration at once, as Proxmox's do: they
 * reach the guest when its image is regenerated (api_qemu_cloudinit.c).
 * Every other change stays pending for the next start.  Only the i440fx
 * machine ("pc") takes PCI devices live: on q35 they wait as well. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/cloudinit.h"
#include "hv/vm.h"
#include "server/app.h"
#include "server/qemu_int.h"

/* How long the guest gets to release an unplugged device (ACPI eject). */
#define UNPLUG_TIMEOUT_MS 20000
#define HOTPLUG_DEFAULT "network,disk,usb"
#define HP_MAX 32

/* HP_APPLY: nothing to do live, the change only moves into the config. */
enum hp_action { HP_NONE, HP_PLUG, HP_UNPLUG, HP_REPLUG, HP_LINK, HP_RETUNE, HP_APPLY };

struct hp_features {
	int network, disk, pci; /* pci: the machine takes PCI hot-plug */
};

static int has_feature(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *s = list; *s; s += strcspn(s, ","), s += *s == ',')
		if (strncmp(s, name, n) == 0 && (s[n] == ',' || s[n] == '\0'))
			return 1;
	return 0;
}

static void features_of(const struct vmconf *c, struct hp_features *f)
{
	const char *v = vmconf_get(c, "hotplug"), *m = vmconf_get(c, "machine");

	if (!v || strcmp(v, "1") == 0)
		v = HOTPLUG_DEFAULT;
	f->network = has_feature(v, "network");
	f->disk = has_feature(v, "disk");
	f->pci = !(m && strstr(m, "q35"));
}

static int is_net(const char *key)
{
	return strncmp(key, "net", 3) == 0;
}

/* virtio and SCSI hard disks plug live; IDE, SATA and CD-ROMs do not. */
static int hot_disk(const char *key, const char *value)
{
	struct vmconf_drive d;
	char err[256];

	if (strncmp(key, "virtio", 6) != 0 && strncmp(key, "scsi", 4) != 0)
		return 0;
	return vmconf_drive_parse(key, value, &d, err, sizeof(err)) == 0 && !d.cdrom &&
	       d.kind == VMCONF_VOL_VOLUME;
}

/* Copies into O what HOST_SIDE allows to change without the guest seeing a
 * new device: link_down, and with HOST_SIDE the tap's bridge, VLANs, rate
 * and firewall flag (both NICs on a bridge). */
static void take_changes(struct vmconf_net *o, const struct vmconf_net *n, int host_side)
{
	o->link_down = n->link_down;
	if (!host_side || !o->bridge[0] || !n->bridge[0])
		return;
	memcpy(o->bridge, n->bridge, sizeof(o->bridge));
	memcpy(o->rate, n->rate, sizeof(o->rate));
	memcpy(o->trunks, n->trunks, sizeof(o->trunks));
	o->tag = n->tag;
	o->firewall = n->firewall;
}

/* 1 when NIC A becomes B by the changes take_changes() allows. */
static int changes_only(const char *key, const char *a, const char *b, int host_side)
{
	struct vmconf_net na, nb;
	char err[256], *ta = NULL, *tb = NULL;
	int same = 0;

	if (vmconf_net_parse(key, a, &na, err, sizeof(err)) == 0 &&
	    vmconf_net_parse(key, b, &nb, err, sizeof(err)) == 0) {
		take_changes(&na, &nb, host_side);
		ta = vmconf_net_format(&na);
		tb = vmconf_net_format(&nb);
		same = ta && tb && strcmp(ta, tb) == 0;
	}
	free(ta);
	free(tb);
	return same;
}

static enum hp_action set_action(const struct qvm *vm, const char *key,
				 const struct hp_features *f)
{
	const char *cur = vmconf_get(vm->conf, key), *val = vmconf_get(vm->pending, key);

	if (cloudinit_is_listed_key(key))
		return HP_APPLY;
	if (is_net(key) && f->network) {
		if (cur && changes_only(key, cur, val, 0))
			return HP_LINK;
		if (cur && changes_only(key, cur, val, 1))
			return HP_RETUNE;
		if (f->pci)
			return cur ? HP_REPLUG : HP_PLUG;
	}
	if (!cur && f->disk && f->pci && hot_disk(key, val))
		return HP_PLUG;
	return HP_NONE;
}

static enum hp_action delete_action(const struct qvm *vm, const char *key,
				    const struct hp_features *f)
{
	const char *cur = vmconf_get(vm->conf, key);

	if (cur && cloudinit_is_listed_key(key))
		return HP_APPLY;
	if (!cur || !f->pci)
		return HP_NONE;
	if ((is_net(key) && f->network) || (f->disk && hot_disk(key, cur)))
		return HP_UNPLUG;
	return HP_NONE;
}

/* ---- doing it ---- */

static int plug(struct app *app, int vmid, const struct qvm *vm, const char *key, char *err,
		size_t errlen)
{
	struct vmconf *c = vmconf_dup(vm->conf);
	struct qemu_disks *disks = calloc(1, sizeof(*disks));
	int r = c && disks ? vmconf_set(c, key, vmconf_get(vm->pending, key)) : -ENOMEM;

	if (r == 0 && !is_net(key))
		r = qemu_resolve_disks(app, c, disks, err, errlen);
	if (r == 0)
		r = hv_vm_plug(app->hv, vmid, c, key, disks->d, disks->n, err, errlen);
	free(disks);
	vmconf_free(c);
	return r;
}

/* After scsi<N> left: its controller goes too when no other disk of CONF
 * sits on it, as a cold start would not make it (and a resume from a saved
 * state needs the devices a cold start makes). */
static int drop_scsi_controller(struct app *app, int vmid, const struct vmconf *conf,
				const char *key, char *err, size_t errlen)
{
	char ctrl[32], other[32];

	if (strncmp(key, "scsi", 4) != 0)
		return 0;
	hv_argv_scsi_controller(conf, atoi(key + 4), ctrl, sizeof(ctrl));
	for (size_t i = 0; i < vmconf_count(conf); i++) {
		const char *k = vmconf_key_at(conf, i);

		if (strncmp(k, "scsi", 4) != 0 || strcmp(k, key) == 0 || strcmp(k, "scsihw") == 0)
			continue;
		hv_argv_scsi_controller(conf, atoi(k + 4), other, sizeof(other));
		if (strcmp(ctrl, other) == 0)
			return 0;
	}
	return hv_vm_unplug(app->hv, vmid, ctrl, UNPLUG_TIMEOUT_MS, err, errlen);
}

static int run_action(struct app *app, int vmid, const struct qvm *vm, const char *key,
		      enum hp_action a, char *err, size_t errlen)
{
	struct vmconf_net n;
	int r;

	switch (a) {
	case HP_LINK:
		r = vmconf_net_parse(key, vmconf_get(vm->pending, key), &n, err, errlen);
		return r < 0 ? r : hv_vm_set_link(app->hv, vmid, key, !n.link_down, err, errlen);
	case HP_RETUNE:
		return hv_vm_nic_update(app->hv, vmid, key, vmconf_get(vm->conf, key),
					vmconf_get(vm->pending, key), err, errlen);
	case HP_UNPLUG:
		r = hv_vm_unplug(app->hv, vmid, key, UNPLUG_TIMEOUT_MS, err, errlen);
		return r < 0 ? r : drop_scsi_controller(app, vmid, vm->conf, key, err, errlen);
	case HP_REPLUG:
		r = hv_vm_unplug(app->hv, vmid, key, UNPLUG_TIMEOUT_MS, err, errlen);
		return r < 0 ? r : plug(app, vmid, vm, key, err, errlen);
	case HP_PLUG:
		return plug(app, vmid, vm, key, err, errlen);
	default:
		return 0;
	}
}

/* The applied change of KEY moves from pending into the configuration. */
static void move_key(struct qvm *vm, const char *key, enum hp_action a)
{
	char *val;

	if (a == HP_UNPLUG || (a == HP_APPLY && !vmconf_get(vm->pending, key))) {
		vmconf_delete(vm->pdel, key);
		if (!is_net(key))
			qemu_keep_unused(vm->conf, key, NULL);
		vmconf_delete(vm->conf, key);
		return;
	}
	if (!(val = strdup(vmconf_get(vm->pending, key) ? vmconf_get(vm->pending, key) : "")))
		return;
	if (*val) {
		if (!is_net(key))
			qemu_keep_unused(vm->conf, key, val);
		vmconf_set(vm->conf, key, val);
	}
	vmconf_delete(vm->pending, key);
	free(val);
}

struct hp_done {
	const char *key;
	enum hp_action a;
};

static void take_key(struct qvm *vm, const void *ctx)
{
	const struct hp_done *d = ctx;

	move_key(vm, d->key, d->a);
}

static int commit_key(struct app *app, int vmid, const char *key, enum hp_action a)
{
	struct hp_done d = { key, a };

	return qvm_update(app, vmid, take_key, &d);
}

struct hp_plan {
	char key[HP_MAX][16];
	enum hp_action a[HP_MAX];
	size_t n;
};

static void plan_add(struct hp_plan *p, const char *key, enum hp_action a)
{
	if (a != HP_NONE && p->n < HP_MAX) {
		util_strlcpy(p->key[p->n], key, sizeof(p->key[0]));
		p->a[p->n++] = a;
	}
}

static void make_plan(const struct qvm *vm, struct hp_plan *p)
{
	struct hp_features f;

	features_of(vm->conf, &f);
	p->n = 0;
	for (size_t i = 0; i < vmconf_count(vm->pdel); i++)
		plan_add(p, vmconf_key_at(vm->pdel, i), delete_action(vm, vmconf_key_at(vm->pdel, i), &f));
	for (size_t i = 0; i < vmconf_count(vm->pending); i++)
		plan_add(p, vmconf_key_at(vm->pending, i),
			 set_action(vm, vmconf_key_at(vm->pending, i), &f));
}

/* A new hotplug option applies at once (Proxmox takes it live too), so
 * the changes made with it follow it. */
static int take_hotplug_option(struct app *app, int vmid, struct qvm *vm)
{
	int r;

	if (!vmconf_get(vm->pending, "hotplug"))
		return 0;
	qvm_clear(vm);
	if ((r = commit_key(app, vmid, "hotplug", HP_PLUG)) < 0)
		return r;
	return qvm_read(app, vmid, vm);
}

int qemu_hotplug_pending(struct app *app, int vmid, struct task *t, char *err, size_t errlen)
{
	struct hp_plan plan;
	struct qvm vm;
	int first = 0, r;

	if (!app->hv || !qemu_running(app, vmid) || qvm_read(app, vmid, &vm) < 0)
		return 0;
	if ((r = take_hotplug_option(app, vmid, &vm)) < 0) {
		snprintf(err, errlen, "hotplug problem - hotplug: %s", err_str(r));
		return r;
	}
	make_plan(&vm, &plan);
	for (size_t i = 0; i < plan.n; i++) {
		char e[512] = "";

		r = run_action(app, vmid, &vm, plan.key[i], plan.a[i], e, sizeof(e));
		if (r == 0)
			r = commit_key(app, vmid, plan.key[i], plan.a[i]);
		if (r == 0 && t)
			task_log(t, "%s: applied to the running VM", plan.key[i]);
		if (r < 0 && first == 0) {
			first = r;
			snprintf(err, errlen, "hotplug problem - %s: %s", plan.key[i],
				 e[0] ? e : err_str(r));
		}
	}
	qvm_clear(&vm);
	return first;
}
