/* Cloud-init drives: the vm-<vmid>-cloudinit volume allocated for
 * "STORAGE:cloudinit", its NoCloud image written at every start and on PUT
 * .../cloudinit, and GET .../cloudinit (values the image was made from vs.
 * the configuration now) and .../cloudinit/dump. */
#include "server/qemu_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/propstr.h"
#include "common/util.h"
#include "hv/cloudinit.h"
#include "hv/vm.h"
#include "server/api.h"
#include "server/app.h"
#include "server/params.h"
#include "server/resp.h"
#include "storage/pool.h"

#define CI_SNIPPET_MAX (1u << 20) /* Proxmox reads at most 1 MiB of a snippet */
#define CI_QMP_TIMEOUT_MS 10000

const struct param_spec api_qemu_cloudinit_dump_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "type", .type = PT_ENUM, .enum_values = "user|network|meta" },
	{ .name = NULL },
};

int qemu_cloudinit_volume(int vmid, const char *volname)
{
	char want[64];
	const char *ext;

	snprintf(want, sizeof(want), "%d/vm-%d-cloudinit.", vmid, vmid);
	if (strncmp(volname, want, strlen(want)) != 0)
		return 0;
	ext = volname + strlen(want);
	return strcmp(ext, "qcow2") == 0 || strcmp(ext, "raw") == 0;
}

int qemu_cloudinit_alloc(struct app *app, int vmid, struct vmconf_drive *d, char *err,
			 size_t errlen)
{
	struct pool *p = pool_set_get(app->pools, d->storage);
	char name[64], volid[POOL_VOLID_MAX];
	const char *fmt = d->format[0] ? d->format : "qcow2";
	int r;

	if (!p) {
		snprintf(err, errlen, "storage '%s' does not exist", d->storage);
		return CR_ENOTFOUND;
	}
	if (strcmp(fmt, "qcow2") != 0 && strcmp(fmt, "raw") != 0) {
		snprintf(err, errlen, "cloud-init drive: unsupported format '%s'", fmt);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "vm-%d-cloudinit.%s", vmid, fmt);
	r = pool_alloc_named(p, vmid, name, CLOUDINIT_DISK_SIZE, volid, sizeof(volid), err, errlen);
	if (r == CR_EEXISTS) /* left by an earlier drive: Proxmox reuses it too */
		r = 0;
	if (r < 0)
		return r;
	snprintf(d->volname, sizeof(d->volname), "%d/%s", vmid, name);
	d->cdrom = 1;
	d->format[0] = '\0';
	d->size = 0;
	d->size_text[0] = '\0';
	return 0;
}

int qemu_cloudinit_clone(struct app *app, int vmid, int newid, struct vmconf *conf, char *volid,
			 size_t n, char *err, size_t errlen)
{
	struct vmconf_drive d;
	char key[16], *text;
	int r;

	if (cloudinit_drive(conf, vmid, key, sizeof(key)) < 0)
		return 0;
	if ((r = vmconf_drive_parse(key, vmconf_get(conf, key), &d, err, errlen)) < 0)
		return r;
	/* the new drive takes the old one's format (from its extension) */
	snprintf(d.format, sizeof(d.format), "%s", strrchr(d.volname, '.') + 1);
	if ((r = qemu_cloudinit_alloc(app, newid, &d, err, errlen)) < 0)
		return r;
	if ((r = vmconf_drive_volid(&d, volid, n)) < 0 || !(text = vmconf_drive_format(&d)))
		return r < 0 ? r : -ENOMEM;
	r = vmconf_set(conf, key, text);
	free(text);
	return r < 0 ? r : 1;
}

int qemu_cloudinit_retire(struct app *app, int vmid, const char *key, const char *old,
			  const char *now)
{
	struct vmconf_drive d;
	char volid[POOL_VOLID_MAX], err[256];
	const char *colon = now ? strchr(now, ':') : NULL;

	if (!old || !strchr(old, ':') ||
	    vmconf_drive_parse(key, old, &d, err, sizeof(err)) < 0 || !d.cdrom ||
	    !qemu_cloudinit_volume(vmid, d.volname))
		return 0;
	if (colon && strncmp(colon + 1, d.volname, strlen(d.volname)) == 0 &&
	    strcspn(colon + 1, ",") == strlen(d.volname))
		return 0; /* the same drive, other options */
	if (vmconf_drive_volid(&d, volid, sizeof(volid)) < 0)
		return 0;
	pool_set_vol_free(app->pools, volid, err, sizeof(err));
	return 1;
}

int qemu_cloudinit_retire_pending(struct app *app, int vmid, const struct qvm *vm)
{
	/* a pending cloud-init drive (moved, or the same with new options)
	 * keeps the volume */
	if (cloudinit_drive(vm->pending, vmid, NULL, 0) == 0)
		return 0;
	for (size_t i = 0; i < vmconf_count(vm->pdel); i++) {
		const char *k = vmconf_key_at(vm->pdel, i);

		if (qemu_is_drive_key(k))
			qemu_cloudinit_retire(app, vmid, k, vmconf_get(vm->conf, k), NULL);
	}
	for (size_t i = 0; i < vmconf_count(vm->pending); i++) {
		const char *k = vmconf_key_at(vm->pending, i);

		if (qemu_is_drive_key(k))
			qemu_cloudinit_retire(app, vmid, k, vmconf_get(vm->conf, k),
					      vmconf_value_at(vm->pending, i));
	}
	return 0;
}

/* ---- the files ------------------------------------------------------------------- */

static int read_snippet(struct app *app, const char *volid, char **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct pool_volid v;
	size_t len;
	int r = pool_volid_parse(volid, &v, err, errlen);

	if (r == 0 && v.content != POOL_CONTENT_SNIPPETS) {
		snprintf(err, errlen, "%s is not in the snippets directory", volid);
		return -EINVAL;
	}
	if (r < 0 || (r = pool_set_vol_path(app->pools, volid, path, sizeof(path), err, errlen)) < 0)
		return r;
	if ((r = util_read_file(path, CI_SNIPPET_MAX, out, &len)) < 0)
		snprintf(err, errlen, "cannot read %s: %s", volid, strerror(-r));
	return r;
}

/* cicustom's user=, network=, meta=, vendor= snippets into F. */
static int custom_files(struct app *app, const struct vmconf *c, struct cloudinit_files *f,
			char *err, size_t errlen)
{
	const char *names[] = { "user", "network", "meta", "vendor" };
	char **dst[] = { &f->user, &f->network, &f->meta, &f->vendor };
	const char *custom = vmconf_get(c, "cicustom");
	struct propstr ps;
	int r;

	if (!custom)
		return 0;
	if ((r = propstr_parse(custom, NULL, &ps, err, errlen)) < 0)
		return r;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(names); i++)
		if (propstr_get(&ps, names[i]))
			r = read_snippet(app, propstr_get(&ps, names[i]), dst[i], err, errlen);
	propstr_free(&ps);
	return r;
}

static void host_dns(struct cloudinit_dns *dns)
{
	char *text = NULL;
	size_t len;

	if (util_read_file("/etc/resolv.conf", 65536, &text, &len) < 0)
		memset(dns, 0, sizeof(*dns));
	else
		cloudinit_parse_resolv(text, dns);
	free(text);
}

/* The generated parts of F that cicustom did not give. */
static int generated_files(const struct vmconf *c, int vmid, struct cloudinit_files *f,
			   char *err, size_t errlen)
{
	struct cloudinit_dns dns;
	int r = 0;

	host_dns(&dns);
	f->configdrive2 = strcmp(cloudinit_format(c), "configdrive2") == 0;
	if (!f->user)
		r = cloudinit_user_data(c, vmid, &f->user);
	if (r == 0 && !f->network)
		r = f->configdrive2 ? cloudinit_configdrive2_network(c, &dns, &f->network)
				    : cloudinit_network_config(c, &dns, &f->network, err, errlen);
	if (r == 0 && !f->vendor && !(f->vendor = strdup("")))
		r = -ENOMEM;
	if (r == 0 && !f->meta)
		r = f->configdrive2 ? cloudinit_configdrive2_meta(f->user, f->network, &f->meta)
				    : cloudinit_meta_data(f->user, f->network, &f->meta);
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return r;
}

static int ci_files(struct app *app, const struct vmconf *c, int vmid, struct cloudinit_files *f,
		    char *err, size_t errlen)
{
	int r;

	memset(f, 0, sizeof(*f));
	if ((r = cloudinit_format_check(c, err, errlen)) < 0 ||
	    (r = custom_files(app, c, f, err, errlen)) < 0 ||
	    (r = generated_files(c, vmid, f, err, errlen)) < 0)
		cloudinit_files_clear(f);
	return r;
}

/* ---- writing the image -------------------------------------------------------------- */

static int drive_path(struct app *app, const struct vmconf *c, const char *key, char *path,
		      size_t n, char *err, size_t errlen)
{
	struct vmconf_drive d;
	char volid[POOL_VOLID_MAX];
	int r = vmconf_drive_parse(key, vmconf_get(c, key), &d, err, errlen);

	if (r == 0 && (r = vmconf_drive_volid(&d, volid, sizeof(volid))) == 0)
		r = pool_set_vol_path(app->pools, volid, path, n, err, errlen);
	return r;
}

/* A drive whose volume is gone (a configuration moved to this node, a
 * restored one) gets it again, as Proxmox's commit_cloudinit_disk does. */
static int ensure_volume(struct app *app, int vmid, const struct vmconf *c, const char *key,
			 const char *path, char *err, size_t errlen)
{
	struct vmconf_drive d;
	char volid[POOL_VOLID_MAX];
	struct pool *p;
	int r;

	if (access(path, F_OK) == 0)
		return 0;
	if ((r = vmconf_drive_parse(key, vmconf_get(c, key), &d, err, errlen)) < 0)
		return r;
	if (!(p = pool_set_get(app->pools, d.storage))) {
		snprintf(err, errlen, "storage '%s' does not exist", d.storage);
		return CR_ENOTFOUND;
	}
	return pool_alloc_named(p, vmid, strchr(d.volname, '/') + 1, CLOUDINIT_DISK_SIZE, volid,
				sizeof(volid), err, errlen);
}

/* Writes C's image into its cloud-init drive KEY. */
static int write_image(struct app *app, int vmid, const struct vmconf *c, const char *key,
		       char *err, size_t errlen)
{
	struct cloudinit_files f;
	char path[PATH_MAX], *iso = NULL;
	size_t len = 0;
	int r = ci_files(app, c, vmid, &f, err, errlen);

	if (r < 0)
		return r;
	if ((r = drive_path(app, c, key, path, sizeof(path), err, errlen)) == 0 &&
	    (r = ensure_volume(app, vmid, c, key, path, err, errlen)) == 0 &&
	    (r = cloudinit_iso_build(&f, app->cfg.run_dir, &iso, &len, err, errlen)) == 0)
		r = cloudinit_iso_commit(path, iso, len, err, errlen);
	free(iso);
	cloudinit_files_clear(&f);
	return r;
}

int qemu_cloudinit_volid(const struct vmconf *conf, int vmid, char *volid, size_t n)
{
	struct vmconf_drive d;
	char key[16];

	if (cloudinit_drive(conf, vmid, key, sizeof(key)) < 0 ||
	    vmconf_drive_parse(key, vmconf_get(conf, key), &d, NULL, 0) < 0)
		return 0;
	return vmconf_drive_volid(&d, volid, n) < 0 ? 0 : 1;
}

int qemu_cloudinit_prepare(struct app *app, int vmid, const struct vmconf *conf, char *volid,
			   size_t n, char *err, size_t errlen)
{
	char key[16];
	int r;

	if (!qemu_cloudinit_volid(conf, vmid, volid, n) ||
	    cloudinit_drive(conf, vmid, key, sizeof(key)) < 0)
		return 0;
	r = write_image(app, vmid, conf, key, err, errlen);
	return r < 0 ? r : 1;
}

/* The values C's image is made from, kept in the record (Proxmox keeps the
 * changed ones in its [special:cloudinit] section). */
static struct vmconf *source_values(const struct vmconf *c)
{
	struct vmconf *s = vmconf_new();

	for (size_t i = 0; s && i < vmconf_count(c); i++)
		if (cloudinit_is_source_key(vmconf_key_at(c, i)) &&
		    vmconf_set(s, vmconf_key_at(c, i), vmconf_value_at(c, i)) < 0) {
			vmconf_free(s);
			return NULL;
		}
	return s;
}

static int record_values(struct qvm *vm, void *ctx)
{
	struct vmconf *s = source_values(ctx);

	if (!s)
		return -ENOMEM;
	vmconf_free(vm->cigen);
	vm->cigen = s;
	return 0;
}

int qemu_cloudinit_start(struct task *t, int vmid, const struct vmconf *conf)
{
	struct app *app = task_app(t);
	char key[16], err[1024] = "";
	int r;

	if (cloudinit_drive(conf, vmid, key, sizeof(key)) < 0 || vmconf_get(conf, "vmstate"))
		return 0;
	task_log(t, "generating cloud-init ISO");
	if ((r = write_image(app, vmid, conf, key, err, sizeof(err))) < 0)
		return task_fail(t, r, "cloud-init: %s", err[0] ? err : err_str(r));
	if ((r = qvm_edit(app, vmid, record_values, (void *)conf)) < 0)
		return task_fail(t, r, "cloud-init: cannot record the image's values: %s",
				 err_str(r));
	return 0;
}

/* ---- PUT .../cloudinit ---------------------------------------------------------------- */

/* One QMP command whose arguments are string pairs (NULL-ended), plus
 * "force"/"read-only" booleans when named in BOOL_KEY. */
static int qmp_strs(struct app *app, int vmid, const char *cmd, const char *bool_key,
		    const char *const *kv, char *err, size_t errlen)
{
	cJSON *args = cJSON_CreateObject(), *ret = NULL;
	int r;

	for (size_t i = 0; args && kv[i]; i += 2)
		cJSON_AddStringToObject(args, kv[i], kv[i + 1]);
	if (args && bool_key)
		cJSON_AddBoolToObject(args, bool_key, 1);
	r = args ? hv_vm_qmp(app->hv, vmid, cmd, args, CI_QMP_TIMEOUT_MS, &ret, err, errlen)
		 : -ENOMEM;
	cJSON_Delete(ret);
	cJSON_Delete(args);
	return r;
}

/* Takes the medium out of running drive KEY and closes its nodes
 * (drive-KEY over file-KEY, as the argv builder names them), so that
 * QEMU lets go of the image. */
static int medium_out(struct app *app, int vmid, const char *key, char *err, size_t errlen)
{
	char fmt[32], file[32];
	const char *id[] = { "id", key, NULL };
	const char *del_fmt[] = { "node-name", fmt, NULL }, *del_file[] = { "node-name", file, NULL };
	int r;

	snprintf(fmt, sizeof(fmt), "drive-%s", key);
	snprintf(file, sizeof(file), "file-%s", key);
	if ((r = qmp_strs(app, vmid, "blockdev-open-tray", "force", id, err, errlen)) == 0 &&
	    (r = qmp_strs(app, vmid, "blockdev-remove-medium", NULL, id, err, errlen)) == 0 &&
	    (r = qmp_strs(app, vmid, "blockdev-del", NULL, del_fmt, err, errlen)) == 0)
		r = qmp_strs(app, vmid, "blockdev-del", NULL, del_file, err, errlen);
	return r;
}

/* The image at PATH goes back into drive KEY on the same node names. */
static int medium_in(struct app *app, int vmid, const char *key, const char *path, char *err,
		     size_t errlen)
{
	char fmt[32], file[32];
	const char *format = strstr(path, ".qcow2") ? "qcow2" : "raw";
	const char *add_file[] = { "driver", "file", "node-name", file, "filename", path, NULL };
	const char *add_fmt[] = { "driver", format, "node-name", fmt, "file", file, NULL };
	const char *insert[] = { "id", key, "node-name", fmt, NULL }, *id[] = { "id", key, NULL };
	int r;

	snprintf(fmt, sizeof(fmt), "drive-%s", key);
	snprintf(file, sizeof(file), "file-%s", key);
	if ((r = qmp_strs(app, vmid, "blockdev-add", "read-only", add_file, err, errlen)) == 0 &&
	    (r = qmp_strs(app, vmid, "blockdev-add", "read-only", add_fmt, err, errlen)) == 0 &&
	    (r = qmp_strs(app, vmid, "blockdev-insert-medium", NULL, insert, err, errlen)) == 0)
		r = qmp_strs(app, vmid, "blockdev-close-tray", NULL, id, err, errlen);
	return r;
}

/* A running VM's CD is taken out while its image is rewritten (QEMU holds
 * it), then put back: the guest sees a media change, as with Proxmox. */
static int regenerate_running(struct app *app, int vmid, const struct vmconf *c,
			      const char *key, char *err, size_t errlen)
{
	char path[PATH_MAX], again[256] = "";
	int r = drive_path(app, c, key, path, sizeof(path), err, errlen);

	if (r < 0 || (r = medium_out(app, vmid, key, err, errlen)) < 0)
		return r;
	r = write_image(app, vmid, c, key, err, errlen);
	if (medium_in(app, vmid, key, path, again, sizeof(again)) < 0 && r == 0) {
		snprintf(err, errlen, "cannot put the cloud-init image back: %s", again);
		r = CR_EQMP;
	}
	return r;
}

struct regen {
	struct app *app;
	int vmid;
	char err[1024];
};

static int regenerate(struct qvm *vm, void *ctx)
{
	struct regen *g = ctx;
	char key[16];
	int r;

	if (cloudinit_drive(vm->conf, g->vmid, key, sizeof(key)) < 0)
		return 0; /* no drive: nothing to do, as Proxmox */
	if (qemu_running(g->app, g->vmid))
		r = regenerate_running(g->app, g->vmid, vm->conf, key, g->err, sizeof(g->err));
	else
		r = write_image(g->app, g->vmid, vm->conf, key, g->err, sizeof(g->err));
	return r < 0 ? r : record_values(vm, vm->conf);
}

int api_qemu_cloudinit_put(struct req *req, struct resp *resp)
{
	struct regen g = { .app = req->app, .vmid = qemu_vmid(req) };
	int r = qemu_check_vm(req, resp, g.vmid);

	if (r < 0)
		return r;
	r = qvm_edit(req->app, g.vmid, regenerate, &g);
	if (r < 0)
		return resp_error(resp, r, "%s", g.err[0] ? g.err : err_str(r));
	resp->data = cJSON_CreateNull();
	return 0;
}

/* ---- GET .../cloudinit and .../cloudinit/dump ------------------------------------------- */

static const char *shown(const char *key, const char *v)
{
	return strcmp(key, "cipassword") == 0 ? "**********" : v;
}

static void ci_row(cJSON *rows, const char *key, const char *old, const char *now, int known)
{
	cJSON *row = cJSON_CreateObject();

	cJSON_AddStringToObject(row, "key", key);
	if (!now) {
		cJSON_AddNumberToObject(row, "delete", 1);
	} else if (known && !old) {
		cJSON_AddStringToObject(row, "pending", shown(key, now));
	} else {
		cJSON_AddStringToObject(row, "value", shown(key, old ? old : now));
		if (old && strcmp(old, now) != 0)
			cJSON_AddStringToObject(row, "pending", shown(key, now));
	}
	cJSON_AddItemToArray(rows, row);
}

/* Until an image is made every value counts as current, as Proxmox shows
 * a VM without a [special:cloudinit] section. */
static cJSON *ci_rows(const struct qvm *vm)
{
	cJSON *rows = cJSON_CreateArray();
	const struct vmconf *c = vm->conf, *gen = vm->cigen;

	for (size_t i = 0; i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i);

		if (cloudinit_is_listed_key(k))
			ci_row(rows, k, gen ? vmconf_get(gen, k) : NULL, vmconf_value_at(c, i),
			       gen != NULL);
	}
	for (size_t i = 0; gen && i < vmconf_count(gen); i++) {
		const char *k = vmconf_key_at(gen, i);

		if (cloudinit_is_listed_key(k) && !vmconf_get(c, k))
			ci_row(rows, k, vmconf_value_at(gen, i), NULL, 1);
	}
	return rows;
}

int api_qemu_cloudinit_get(struct req *req, struct resp *resp)
{
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm);

	if (r < 0)
		return r;
	resp->data = ci_rows(&vm);
	qvm_clear(&vm);
	return 0;
}

/* What Proxmox's dump_cloudinit_config gives for TYPE: the generated
 * files of C's format (cicustom not applied). */
static int dump_text(const struct vmconf *c, int vmid, const char *type, char **out, char *err,
		     size_t errlen)
{
	struct cloudinit_files f = { 0 };
	char **pick = strcmp(type, "user") == 0	     ? &f.user
		      : strcmp(type, "network") == 0 ? &f.network
						     : &f.meta;
	int r = cloudinit_format_check(c, err, errlen);

	if (r == 0 && (r = generated_files(c, vmid, &f, err, errlen)) == 0) {
		*out = *pick;
		*pick = NULL;
	}
	cloudinit_files_clear(&f);
	return r;
}

int api_qemu_cloudinit_dump(struct req *req, struct resp *resp)
{
	char err[512] = "", *text = NULL;
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm);

	if (r < 0)
		return r;
	r = dump_text(vm.conf, qemu_vmid(req), req_str(req, "type"), &text, err, sizeof(err));
	qvm_clear(&vm);
	if (r < 0)
		return resp_error(resp, CR_EINTERNAL, "%s", err[0] ? err : err_str(r));
	resp->data = cJSON_CreateString(text);
	free(text);
	return 0;
}
