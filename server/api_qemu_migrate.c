/* /nodes/{node}/qemu/{vmid}/migrate: preconditions and the qmigrate task
 * (online, with local disks: hv/migrate.h), and the target side as the
 * internal routes .../migrate_in (prepare, finish, abort) that the source
 * node calls over the cluster's HTTPS channel as root@pam.
 *
 * Ownership: the target writes the configuration only once its QEMU runs
 * the guest (offline: once its own task has pulled the disks); the source
 * then stops its QEMU and deletes its disks and its configuration.  On any
 * failure before that the target's QEMU, disks and credentials go, and the
 * source keeps (and runs) the VM.  See docs/migration.md. */
#include "server/api.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/util.h"
#include "hv/migrate.h"
#include "hv/vm.h"
#include "server/app.h"
#include "server/cluster.h"
#include "server/params.h"
#include "server/peer.h"
#include "server/qemu_int.h"
#include "server/store.h"
#include "server/tasks.h"
#include "storage/pool.h"

#define MIG_USER "root@pam"         /* the cluster's own calls */
#define MIG_FINISH_TIMEOUT_MS 30000 /* the incoming side completes right after the source */
#define PEM_MAX 8192
#define WATCH_POLL_US 500000        /* the target's look at its incoming migration */
#define MIG_OUTCOME_WAIT_MS 60000   /* asking the target after a lost finish answer */
#define PULL_POLL_US 500000         /* offline: the source's look at the target's copy */
#define PULL_LOG_MS 10000           /* offline: a line in the source's log this often */
#define PULL_SILENCE_MS 60000       /* offline: no task state from the target this long */
#define OWNED_BY "is owned by node" /* the target's answer to abort once it owns the VM */

static int check_migration_type(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "secure") == 0)
		return 0;
	snprintf(err, errlen, "value '%s' does not have a value in the enumeration 'secure'", v);
	return -EINVAL;
}

static int check_cidr(const char *v, char *err, size_t errlen)
{
	struct netaddr_cidr c;

	if (netaddr_cidr_parse(v, &c) == 0)
		return 0;
	snprintf(err, errlen, "value does not look like a valid CIDR network");
	return -EINVAL;
}

/* This node's one address in the migration network CIDR, or a negative
 * code with Proxmox's "could not get migration ip: ..." in ERR. */
static int migration_ip(const char *cidr, char out[NETADDR_TEXT_MAX], char *err, size_t errlen)
{
	char why[256];
	int r = netaddr_local_in(cidr, out, why, sizeof(why));

	if (r < 0)
		snprintf(err, errlen, "could not get migration ip: %s", why);
	return r;
}

const struct param_spec api_qemu_migrate_get_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "target", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_node },
	{ .name = NULL },
};

const struct param_spec api_qemu_migrate_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "target", .type = PT_STRING, .check = param_check_pve_node },
	QEMU_BOOL_OPT("online"),
	QEMU_BOOL_OPT("force"),
	QEMU_BOOL_OPT("with-local-disks"),
	{ .name = "targetstorage", .type = PT_STRING, .flags = PF_OPTIONAL,
	  .check = param_check_pve_storage_id },
	{ .name = "bwlimit", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0,
	  .max = 4294967295LL },
	{ .name = "migration_type", .type = PT_STRING, .flags = PF_OPTIONAL,
	  .check = check_migration_type },
	{ .name = "migration_network", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64,
	  .check = check_cidr },
	{ .name = NULL },
};

/* ---- shared ---------------------------------------------------------------------------- */

/* A disk of the VM as the migration moves it. */
struct mdisk {
	char key[16];
	char volid[POOL_VOLID_MAX];
	char format[8];
	uint64_t size;
};

struct mdisks {
	struct mdisk d[HV_MIG_MAX_DISKS];
	size_t n;
};

/* The VM's disks with their sizes (CD-ROMs and ISO images stay). */
static int local_disks(struct app *app, const struct vmconf *conf, struct mdisks *out, char *err,
		       size_t errlen)
{
	struct qemu_disks qd;
	int r = qemu_resolve_disks(app, conf, &qd, err, errlen);

	out->n = 0;
	for (size_t i = 0; r == 0 && i < qd.n; i++) {
		struct vmconf_drive d;
		struct mdisk *m = &out->d[out->n];

		if (vmconf_drive_parse(qd.key[i], vmconf_get(conf, qd.key[i]), &d, err, errlen) < 0 ||
		    d.cdrom)
			continue;
		if (out->n == HV_MIG_MAX_DISKS) {
			snprintf(err, errlen, "too many disks");
			return -E2BIG;
		}
		snprintf(m->key, sizeof(m->key), "%s", qd.key[i]);
		snprintf(m->format, sizeof(m->format), "%s", qd.format[i]);
		vmconf_drive_volid(&d, m->volid, sizeof(m->volid));
		r = pool_image_size(qd.path[i], &m->size, err, errlen);
		out->n += r == 0;
	}
	return r;
}

static void disks_keys(const struct mdisks *m, struct hv_mig_disks *out)
{
	out->n = m->n;
	for (size_t i = 0; i < m->n; i++)
		out->key[i] = m->d[i].key;
}

/* ---- GET migrate ------------------------------------------------------------------------ */

static cJSON *allowed_nodes(struct app *app)
{
	struct cluster_member *m = calloc(256, sizeof(*m));
	size_t n = m && app->cluster ? cluster_members(app->cluster, m, 256) : 0;
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < n; i++)
		if (!m[i].local && m[i].online)
			cJSON_AddItemToArray(a, cJSON_CreateString(m[i].name));
	free(m);
	return a;
}

static cJSON *disks_json(const struct mdisks *m)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < m->n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "volid", m->d[i].volid);
		cJSON_AddNumberToObject(o, "size", (double)m->d[i].size);
		cJSON_AddStringToObject(o, "drivename", m->d[i].key);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int api_qemu_migrate_get(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req);
	struct mdisks md;
	struct qvm vm;
	char err[512];
	int r = qvm_read(req->app, vmid, &vm);

	if (r < 0)
		return qemu_no_such_vm(req, resp, vmid);
	r = local_disks(req->app, vm.conf, &md, err, sizeof(err));
	qvm_clear(&vm);
	if (r < 0)
		return resp_error(resp, r, "%s", err);
	resp->data = cJSON_CreateObject();
	cJSON_AddBoolToObject(resp->data, "running", qemu_running(req->app, vmid));
	cJSON_AddItemToObject(resp->data, "allowed_nodes", allowed_nodes(req->app));
	cJSON_AddItemToObject(resp->data, "not_allowed_nodes", cJSON_CreateObject());
	cJSON_AddItemToObject(resp->data, "local_disks", disks_json(&md));
	cJSON_AddItemToObject(resp->data, "local_resources", cJSON_CreateArray());
	return 0;
}

/* ---- records ----------------------------------------------------------------------------- */

/* Sets (LOCK "migrate") or clears ("") the configuration lock of VMID. */
static int set_lock(struct app *app, int vmid, const char *lock)
{
	struct store_txn *txn;
	struct qvm vm;
	int r = store_begin(app->store, 0, &txn);

	if (r < 0)
		return r;
	if ((r = qvm_load(txn, vmid, &vm)) == 0) {
		snprintf(vm.lock, sizeof(vm.lock), "%s", lock);
		r = qvm_save(txn, vmid, &vm);
		qvm_clear(&vm);
	}
	if (r < 0) {
		store_abort(txn);
		return r;
	}
	return store_commit(txn);
}

/* Writes CONF as VMID's new record (no lock, no pending changes). */
static int record_put(struct app *app, int vmid, const struct vmconf *conf)
{
	struct store_txn *txn;
	struct qvm vm;
	int r = qvm_init(&vm);

	if (r < 0)
		return r;
	vmconf_free(vm.conf);
	vm.conf = vmconf_dup(conf);
	r = vm.conf ? store_begin(app->store, 0, &txn) : -ENOMEM;
	if (r == 0 && (r = qvm_save(txn, vmid, &vm)) < 0)
		store_abort(txn);
	else if (r == 0)
		r = store_commit(txn);
	qvm_clear(&vm);
	return r;
}

static int record_del(struct app *app, int vmid)
{
	struct store_txn *txn;
	char key[16];
	int r = store_begin(app->store, 0, &txn);

	snprintf(key, sizeof(key), "%d", vmid);
	if (r == 0 && (r = store_del(txn, DB_VMS, key)) < 0)
		store_abort(txn);
	else if (r == 0)
		r = store_commit(txn);
	return r;
}

static void tls_dir(struct app *app, int vmid, char *out, size_t n)
{
	snprintf(out, n, "%s/%d.migtls", app->cfg.run_dir, vmid);
}

/* The target's credentials directory also lists the volumes it allocated
 * ("volumes"), so a corrald that died mid-migration can clean up, and holds
 * "claimed" once finish or abort decided the outcome (see incoming_claim). */
static void migtls_remove(struct app *app, int vmid)
{
	char dir[600], path[700];

	tls_dir(app, vmid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/volumes", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/claimed", dir);
	rmdir(path);
	hv_mig_tls_remove(dir);
}

/* The one decision on incoming VMID: resume it here (finish) or drop it
 * (the watch gave up on the source).  mkdir is atomic, so exactly one of
 * them wins; 1 for the winner, 0 if the other came first or it is over. */
static int incoming_claim(struct app *app, int vmid)
{
	char dir[600], path[700];

	tls_dir(app, vmid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/claimed", dir);
	return mkdir(path, 0700) == 0;
}

static int incoming_pending(struct app *app, int vmid)
{
	char dir[600];

	tls_dir(app, vmid, dir, sizeof(dir));
	return access(dir, F_OK) == 0;
}

static void free_volumes(struct app *app, int vmid, const char *vols);

/* An unfinished incoming migration: its QEMU, volumes and credentials go. */
static void incoming_drop(struct app *app, int vmid)
{
	char dir[600], path[700], *vols = NULL, err[256];
	size_t len;

	tls_dir(app, vmid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/volumes", dir);
	if (app->hv)
		hv_vm_stop(app->hv, vmid, 5000, err, sizeof(err));
	if (util_read_file(path, 1 << 16, &vols, &len) == 0)
		free_volumes(app, vmid, vols);
	free(vols);
	migtls_remove(app, vmid);
}

/* An incoming migration this node never finished: its QEMU and volumes go. */
static void recover_one(struct app *app, int vmid)
{
	struct qvm vm;

	if (qvm_read(app, vmid, &vm) == 0) { /* finished: the VM is ours */
		qvm_clear(&vm);
		migtls_remove(app, vmid);
		return;
	}
	incoming_drop(app, vmid);
	log_warn("VM %d: removed an unfinished incoming migration", vmid);
}

void api_qemu_migrate_recover(struct app *app)
{
	DIR *d = opendir(app->cfg.run_dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		int64_t vmid;
		char num[32];
		size_t n = strcspn(e->d_name, ".");

		if (n >= sizeof(num) || strcmp(e->d_name + n, ".migtls") != 0)
			continue;
		memcpy(num, e->d_name, n);
		num[n] = '\0';
		if (util_parse_i64(num, &vmid) == 0 && vmid >= QEMU_VMID_MIN && vmid <= QEMU_VMID_MAX)
			recover_one(app, (int)vmid);
	}
	if (d)
		closedir(d);
}

/* ---- target side: POST/DELETE .../migrate_in ------------------------------------------- */

const struct param_spec api_qemu_migrate_in_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "conf", .type = PT_STRING, .max = 65536 },
	{ .name = "disks", .type = PT_STRING, .max = 16384 },
	{ .name = "targetstorage", .type = PT_STRING, .check = param_check_pve_storage_id },
	{ .name = "host", .type = PT_STRING, .max = 64 },
	{ .name = "tls_ca", .type = PT_STRING, .max = PEM_MAX },
	{ .name = "tls_cert", .type = PT_STRING, .max = PEM_MAX },
	{ .name = "tls_key", .type = PT_STRING, .max = PEM_MAX },
	QEMU_BOOL_OPT("offline"),
	{ .name = "ports", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 4096 },
	{ .name = "source", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_node },
	{ .name = "bwlimit", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0,
	  .max = (1LL << 40) }, /* offline: KiB/s of the copy */
	{ .name = "migration_network", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64,
	  .check = check_cidr },
	{ .name = NULL },
};

const struct param_spec api_qemu_migrate_in_finish_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "conf", .type = PT_STRING, .max = 65536 },
	{ .name = NULL },
};

const struct param_spec api_qemu_migrate_in_abort_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "volumes", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 16384 },
	{ .name = NULL },
};

/* Only the cluster's own calls (root@pam tickets minted by a member). */
static int internal_only(struct req *req, struct resp *resp)
{
	if (req->who && strcmp(req->who->userid, MIG_USER) == 0 && !req->who->tokenid[0])
		return 0;
	return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (migration is internal)");
}

/* Frees every volume in the comma list VOLS that belongs to VMID. */
static void free_volumes(struct app *app, int vmid, const char *vols)
{
	char *copy = strdup(vols ? vols : ""), *save = NULL, err[256];
	struct pool_volid v;

	for (char *s = copy ? strtok_r(copy, ",", &save) : NULL; s; s = strtok_r(NULL, ",", &save))
		if (pool_volid_parse(s, &v, err, sizeof(err)) == 0 && v.vmid == vmid &&
		    v.content == POOL_CONTENT_IMAGES)
			pool_set_vol_free(app->pools, s, err, sizeof(err));
	free(copy);
}

/* Allocates one disk of the incoming VM like its source and points KEY of
 * CONF at it; the volume id is appended to VOLS. */
static int alloc_disk(int vmid, struct pool *pool, const cJSON *disk,
		      struct vmconf *conf, struct buf *vols, char *err, size_t errlen)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(disk, "key");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(disk, "format");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(disk, "size");
	char volid[POOL_VOLID_MAX], *text;
	struct vmconf_drive d;
	int r;

	if (!cJSON_IsString(key) || !cJSON_IsString(fmt) || !cJSON_IsNumber(size) ||
	    !vmconf_get(conf, key->valuestring) || size->valuedouble <= 0 ||
	    (strcmp(fmt->valuestring, "raw") && strcmp(fmt->valuestring, "qcow2"))) {
		snprintf(err, errlen, "invalid disk list");
		return -EINVAL;
	}
	r = vmconf_drive_parse(key->valuestring, vmconf_get(conf, key->valuestring), &d, err, errlen);
	if (r == 0)
		r = pool_alloc(pool, vmid, fmt->valuestring, (uint64_t)size->valuedouble, volid,
			       sizeof(volid), err, errlen);
	if (r < 0)
		return r;
	buf_printf(vols, "%s%s", vols->len ? "," : "", volid);
	snprintf(d.storage, sizeof(d.storage), "%s", pool_id(pool));
	snprintf(d.volname, sizeof(d.volname), "%s", strchr(volid, ':') + 1);
	text = vmconf_drive_format(&d);
	r = text ? vmconf_set(conf, key->valuestring, text) : -ENOMEM;
	free(text);
	return r;
}

static int alloc_disks(struct req *req, int vmid, struct vmconf *conf, struct buf *vols,
		       char *err, size_t errlen)
{
	struct pool *pool = pool_set_get(req->app->pools, req_str(req, "targetstorage"));
	cJSON *disks = cJSON_Parse(req_str(req, "disks")), *disk;
	int r = 0;

	if (!pool) {
		snprintf(err, errlen, "storage '%s' does not exist", req_str(req, "targetstorage"));
		r = CR_ENOTFOUND;
	} else if (!cJSON_IsArray(disks) || cJSON_GetArraySize(disks) > HV_MIG_MAX_DISKS) {
		snprintf(err, errlen, "invalid disk list");
		r = -EINVAL;
	}
	cJSON_ArrayForEach(disk, disks) {
		if (r == 0)
			r = alloc_disk(vmid, pool, disk, conf, vols, err, errlen);
	}
	cJSON_Delete(disks);
	return r;
}

/* The cloud-init CD is not copied: the target writes its own image from
 * the same configuration (so the same instance-id) and owns the volume. */
static int cloudinit_here(struct app *app, int vmid, const struct vmconf *conf, struct buf *vols,
			  char *err, size_t errlen)
{
	char volid[POOL_VOLID_MAX];
	int r = qemu_cloudinit_prepare(app, vmid, conf, volid, sizeof(volid), err, errlen);

	if (r == 1)
		buf_printf(vols, "%s%s", vols->len ? "," : "", volid);
	return r < 0 ? r : 0;
}

static int write_server_tls(struct req *req, int vmid, char *err, size_t errlen)
{
	struct hv_mig_tls t = { .ca_cert = (char *)req_str(req, "tls_ca"),
				.server_cert = (char *)req_str(req, "tls_cert"),
				.server_key = (char *)req_str(req, "tls_key") };
	char dir[600];

	tls_dir(req->app, vmid, dir, sizeof(dir));
	return hv_mig_tls_write(&t, dir, 1, err, errlen);
}

/* Starts the incoming QEMU of CONF and opens its NBD and migration
 * listeners on HOST; fills the ports into DATA. */
static int start_incoming(struct req *req, int vmid, const struct vmconf *conf, cJSON *data,
			  char *err, size_t errlen)
{
	struct hv_mig_qemu q = { .h = req->app->hv, .vmid = vmid };
	struct hv_mig_target_opts o = { .listen_host = req_str(req, "host") };
	struct qemu_disks qd;
	char dir[600], ip[NETADDR_TEXT_MAX];
	int r = 0;

	if (req_str(req, "migration_network") &&
	    (r = migration_ip(req_str(req, "migration_network"), ip, err, errlen)) == 0)
		o.listen_host = ip;
	if (r == 0)
		r = qemu_resolve_disks(req->app, conf, &qd, err, errlen);
	if (r < 0)
		return r;
	cJSON_AddStringToObject(data, "host", o.listen_host);

	tls_dir(req->app, vmid, dir, sizeof(dir));
	o.tls_dir = dir;
	if (r == 0)
		r = hv_vm_start_incoming(req->app->hv, vmid, conf, qd.d, qd.n, QEMU_START_TIMEOUT_MS,
					 err, errlen);
	for (size_t i = 0; i < qd.n && o.disks.n < HV_MIG_MAX_DISKS; i++)
		if (strstr(req_str(req, "disks"), qd.key[i]))
			o.disks.key[o.disks.n++] = qd.key[i];
	o.nbd_port = hv_mig_free_port(o.listen_host);
	o.mig_port = hv_mig_free_port(o.listen_host);
	if (r == 0 && (o.nbd_port < 0 || o.mig_port < 0)) {
		snprintf(err, errlen, "no free port on %s", o.listen_host);
		r = -EADDRNOTAVAIL;
	}
	if (r == 0)
		r = hv_mig_target_prepare(&q, &o, err, errlen);
	cJSON_AddNumberToObject(data, "nbd_port", o.nbd_port);
	cJSON_AddNumberToObject(data, "mig_port", o.mig_port);
	return r;
}

static int is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int incoming_checks(struct req *req, struct resp *resp, int vmid)
{
	struct qvm vm;
	int r = internal_only(req, resp);

	if (r < 0)
		return r;
	if (!req->app->hv || !req->app->pools)
		return resp_error(resp, CR_EINTERNAL, "this node cannot run VMs");
	if (!is_ip(req_str(req, "host"))) {
		resp->errors = cJSON_CreateObject();
		cJSON_AddStringToObject(resp->errors, "host", "value is not an IP address");
		return CR_EINVAL_PARAM;
	}
	if (qvm_read(req->app, vmid, &vm) == 0) {
		qvm_clear(&vm);
		return resp_error(resp, CR_EEXISTS, "VM %d already exists on node '%s'", vmid,
				  req->app->cfg.node);
	}
	if (hv_vm_running(req->app->hv, vmid))
		return resp_error(resp, CR_EEXISTS, "VM %d is already running here", vmid);
	return 0;
}

/* The target's own watch over an online incoming migration, a task of
 * this node: the source may vanish (node down, link cut) and never call
 * finish or abort, which would leave a paused QEMU and its disks here for
 * good.  Once gossip declares the source dead, or the task is stopped, the
 * watch claims the outcome and drops the incoming VM. */
struct watch_arg {
	int vmid;
	char source[64]; /* "" if the source did not say: no gossip watch */
};

/* NULL while the migration goes on, else why the watch ends; *GIVE_UP
 * set when this node has to drop the VM. */
static const char *watch_check(struct task *t, const struct watch_arg *w, int *give_up)
{
	struct app *app = task_app(t);
	struct peer_info pi;

	*give_up = 0;
	if (!incoming_pending(app, w->vmid))
		return "over";
	*give_up = 1;
	if (task_should_stop(t))
		return "stopped";
	if (w->source[0] && (peer_lookup(app, w->source, &pi) < 0 || !pi.online))
		return "source node offline";
	*give_up = 0;
	return NULL;
}

static int watch_task(struct task *t, void *opaque)
{
	const struct watch_arg *w = opaque;
	struct app *app = task_app(t);
	const char *why;
	struct qvm vm;
	int give_up;

	task_log(t, "incoming migration of VM %d from node '%s'", w->vmid,
		 w->source[0] ? w->source : "?");
	while (!(why = watch_check(t, w, &give_up)))
		usleep(WATCH_POLL_US);
	if (give_up && incoming_claim(app, w->vmid)) {
		incoming_drop(app, w->vmid);
		return task_fail(t, CR_EINTERNAL, "incoming migration aborted (%s): VM %d removed",
				 why, w->vmid);
	}
	if (give_up) /* finish claimed it first */
		while (incoming_pending(app, w->vmid))
			usleep(WATCH_POLL_US);
	if (qvm_read(app, w->vmid, &vm) < 0)
		return task_fail(t, CR_EINTERNAL, "incoming migration of VM %d aborted by the source",
				 w->vmid);
	qvm_clear(&vm);
	task_log(t, "VM %d runs on this node now", w->vmid);
	return 0;
}

static int watch_start(struct req *req, int vmid, char *err, size_t errlen)
{
	struct watch_arg *w = calloc(1, sizeof(*w));
	char upid[UPID_MAX], id[16];

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->vmid = vmid;
	snprintf(w->source, sizeof(w->source), "%s",
		 req_str(req, "source") ? req_str(req, "source") : "");
	snprintf(id, sizeof(id), "%d", vmid);
	return tasks_start(req->app->tasks, "qmigrate", id, req->who, NULL, watch_task, w, free,
			   upid, err, errlen);
}

/* Offline, on the target: a task of this node (qmigrate) pulls every disk
 * of the stopped VM from the source's TLS NBD servers and then owns the VM.
 * The source waits for this task to end, so a copy may take as long as the
 * disks need; it stops when the task is stopped, the source aborts (it
 * claims the incoming VM) or gossip declares the source dead. */
struct pull_arg {
	int vmid;
	char source[64];
	char host[64];
	char *ports; /* {"key": port} of the source's NBD servers */
	char *conf;  /* the VM's configuration with this node's volumes */
	uint64_t rate; /* bytes/s of the copy, 0: no limit */
	struct task *t;
};

static void pull_arg_free(void *opaque)
{
	struct pull_arg *a = opaque;

	free(a->ports);
	free(a->conf);
	free(a);
}

static int incoming_claimed(struct app *app, int vmid)
{
	char dir[600], path[700];

	tls_dir(app, vmid, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/claimed", dir);
	return access(path, F_OK) == 0 || !incoming_pending(app, vmid);
}

static const char *pull_stop(void *opaque)
{
	struct pull_arg *a = opaque;
	struct app *app = task_app(a->t);
	struct peer_info pi;

	if (task_should_stop(a->t))
		return "stopped";
	if (incoming_claimed(app, a->vmid))
		return "aborted by the source";
	if (a->source[0] && (peer_lookup(app, a->source, &pi) < 0 || !pi.online))
		return "source node offline";
	return NULL;
}

static int pull_disks(struct pull_arg *a, const struct vmconf *conf, char *err, size_t errlen)
{
	struct app *app = task_app(a->t);
	cJSON *ports = cJSON_Parse(a->ports);
	struct qemu_disks qd;
	char dir[600];
	int r = qemu_resolve_disks(app, conf, &qd, err, errlen);

	tls_dir(app, a->vmid, dir, sizeof(dir));
	for (size_t i = 0; r == 0 && i < qd.n; i++) {
		const cJSON *port = cJSON_GetObjectItemCaseSensitive(ports, qd.key[i]);

		if (!cJSON_IsNumber(port))
			continue;
		task_log(a->t, "copying disk %s from node '%s'", qd.key[i], a->source);
		r = hv_mig_nbd_pull(a->host, port->valueint, qd.key[i], dir, qd.path[i],
				    qd.format[i], a->rate, pull_stop, a, err, errlen);
	}
	cJSON_Delete(ports);
	return r;
}

static int pull_task(struct task *t, void *opaque)
{
	struct pull_arg *a = opaque;
	struct app *app = task_app(t);
	struct vmconf *conf = NULL;
	char err[1024];
	int r;

	a->t = t;
	task_log(t, "offline migration of VM %d from node '%s'", a->vmid, a->source);
	r = vmconf_from_text(a->conf, &conf, err, sizeof(err));
	if (r == 0)
		r = pull_disks(a, conf, err, sizeof(err));
	if (!incoming_claim(app, a->vmid)) { /* the source aborted: it cleans up */
		vmconf_free(conf);
		return task_fail(t, CR_EINTERNAL, "incoming migration of VM %d aborted by the source",
				 a->vmid);
	}
	if (r == 0 && (r = record_put(app, a->vmid, conf)) < 0)
		snprintf(err, sizeof(err), "cannot store the configuration: %s", err_str(r));
	vmconf_free(conf);
	if (r < 0) {
		incoming_drop(app, a->vmid);
		return task_fail(t, r, "incoming migration of VM %d failed (%s): its disks removed",
				 a->vmid, err);
	}
	migtls_remove(app, a->vmid);
	task_log(t, "VM %d is on this node now", a->vmid);
	return 0;
}

/* Writes the client credentials and the volume list of the incoming VM,
 * then starts its pull task; its UPID goes into DATA. */
static int pull_start(struct req *req, int vmid, const struct vmconf *conf, const char *vols,
		      cJSON *data, char *err, size_t errlen)
{
	struct hv_mig_tls t = { .ca_cert = (char *)req_str(req, "tls_ca"),
				.client_cert = (char *)req_str(req, "tls_cert"),
				.client_key = (char *)req_str(req, "tls_key") };
	struct pull_arg *a = calloc(1, sizeof(*a));
	char dir[600], path[700], upid[UPID_MAX], id[16];
	int r = a ? 0 : -ENOMEM;

	tls_dir(req->app, vmid, dir, sizeof(dir));
	if (r == 0)
		r = hv_mig_tls_write(&t, dir, 0, err, errlen);
	snprintf(path, sizeof(path), "%s/volumes", dir);
	if (r == 0 && (r = util_write_file_atomic(path, vols ? vols : "", vols ? strlen(vols) : 0,
						  0600)) < 0)
		snprintf(err, errlen, "cannot write %s: %s", path, err_str(r));
	if (r == 0) {
		a->vmid = vmid;
		snprintf(a->source, sizeof(a->source), "%s",
			 req_str(req, "source") ? req_str(req, "source") : "");
		snprintf(a->host, sizeof(a->host), "%s", req_str(req, "host"));
		a->rate = (uint64_t)req_int(req, "bwlimit", 0) * 1024;
		a->ports = strdup(req_str(req, "ports") ? req_str(req, "ports") : "{}");
		a->conf = vmconf_to_text(conf);
		r = a->ports && a->conf ? 0 : -ENOMEM;
	}
	snprintf(id, sizeof(id), "%d", vmid);
	if (r == 0) {
		r = tasks_start(req->app->tasks, "qmigrate", id, req->who, NULL, pull_task, a,
				pull_arg_free, upid, err, errlen);
		a = NULL; /* the task owns it, or tasks_start freed it */
	}
	if (r == 0 && !cJSON_AddStringToObject(data, "upid", upid))
		r = -ENOMEM;
	if (a)
		pull_arg_free(a);
	return r;
}

int api_qemu_migrate_in(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = incoming_checks(req, resp, vmid);
	struct vmconf *conf = NULL;
	struct buf vols = BUF_INIT;
	char err[1024], *text = NULL, dir[600], ignored[256];

	if (r < 0)
		return r;
	r = vmconf_from_text(req_str(req, "conf"), &conf, err, sizeof(err));
	if (r == 0)
		r = alloc_disks(req, vmid, conf, &vols, err, sizeof(err));
	if (r == 0)
		r = cloudinit_here(req->app, vmid, conf, &vols, err, sizeof(err));
	resp->data = cJSON_CreateObject();
	if (r == 0 && req_bool(req, "offline", 0)) {
		r = pull_start(req, vmid, conf, vols.data, resp->data, err, sizeof(err));
	} else if (r == 0 && (r = write_server_tls(req, vmid, err, sizeof(err))) == 0) {
		char path[700];

		tls_dir(req->app, vmid, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/volumes", dir);
		r = util_write_file_atomic(path, vols.data ? vols.data : "", vols.len, 0600);
		if (r == 0)
			r = start_incoming(req, vmid, conf, resp->data, err, sizeof(err));
		if (r == 0)
			r = watch_start(req, vmid, err, sizeof(err));
	}
	if (r == 0 && !(text = vmconf_to_text(conf)))
		r = -ENOMEM;
	if (r == 0) {
		cJSON_AddStringToObject(resp->data, "conf", text);
		cJSON_AddStringToObject(resp->data, "volumes", vols.data ? vols.data : "");
	} else {
		hv_vm_stop(req->app->hv, vmid, 5000, ignored, sizeof(ignored));
		free_volumes(req->app, vmid, vols.data);
		migtls_remove(req->app, vmid);
		r = resp_error(resp, r, "migration target: %s", err);
	}
	free(text);
	buf_free(&vols);
	vmconf_free(conf);
	return r;
}

int api_qemu_migrate_in_finish(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = internal_only(req, resp);
	struct hv_mig_qemu q = { .h = req->app->hv, .vmid = vmid };
	struct vmconf *conf = NULL;
	char err[1024];

	if (r < 0)
		return r;
	if (!incoming_claim(req->app, vmid))
		return resp_error(resp, CR_EINTERNAL,
				  "migration target: the incoming VM %d was given up", vmid);
	r = vmconf_from_text(req_str(req, "conf"), &conf, err, sizeof(err));
	if (r == 0)
		r = req->app->hv ? hv_mig_target_finish(&q, MIG_FINISH_TIMEOUT_MS, err, sizeof(err))
				 : CR_ENOTRUNNING;
	/* the guest runs here now: this node owns the VM */
	if (r == 0 && (r = record_put(req->app, vmid, conf)) < 0)
		snprintf(err, sizeof(err), "cannot store the configuration: %s", err_str(r));
	/* failed: the source resumes its guest, so this copy must not run */
	if (r < 0)
		incoming_drop(req->app, vmid);
	else
		migtls_remove(req->app, vmid);
	vmconf_free(conf);
	return r < 0 ? resp_error(resp, r, "migration target: %s", err) : 0;
}

int api_qemu_migrate_in_abort(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = internal_only(req, resp);
	char ignored[256];
	struct qvm vm;

	if (r < 0)
		return r;
	if (qvm_read(req->app, vmid, &vm) == 0) { /* finished: the VM is ours, keep it */
		qvm_clear(&vm);
		return resp_error(resp, CR_EEXISTS, "VM %d " OWNED_BY " '%s'", vmid,
				  req->app->cfg.node);
	}
	/* finish (or the watch) decides right now: the source asks again */
	if (incoming_pending(req->app, vmid) && !incoming_claim(req->app, vmid))
		return resp_error(resp, CR_ELOCKED, "VM %d: the incoming migration is being decided",
				  vmid);
	if (req->app->hv)
		hv_vm_stop(req->app->hv, vmid, 5000, ignored, sizeof(ignored));
	free_volumes(req->app, vmid, req_str(req, "volumes"));
	migtls_remove(req->app, vmid);
	return 0;
}

/* ---- source side: the qmigrate task ------------------------------------------------------ */

struct mig_arg {
	int vmid;
	int online;
	char target[64];
	char storage[64];
	char network[64]; /* migration_network, "" for the cluster addresses */
	uint64_t bwlimit_kib;
	struct peer_info peer;
};

struct mig_run {
	struct task *t;
	struct app *app;
	const struct mig_arg *a;
	struct mdisks md;
	struct hv_mig_tls tls;
	char path[160];       /* /nodes/<target>/qemu/<vmid>/migrate_in */
	char tls_dir[600];
	int nbd_port, mig_port;
	char *target_conf;    /* from the target: volids of its disks */
	char *target_vols;
	char ports[1024];     /* offline: {"key": port} of the local NBD servers */
	char self_host[CLUSTER_HOSTPORT_MAX]; /* offline: this node's address */
	char target_host[CLUSTER_HOSTPORT_MAX]; /* online: where the target listens */
	pid_t nbd[HV_MIG_MAX_DISKS];
	char why[160]; /* why on_progress stopped the migration */
	char ci_volid[POOL_VOLID_MAX]; /* the cloud-init CD, remade on the target */
	char pull_upid[UPID_MAX];      /* offline: the target's task copying the disks */
	int answered;  /* the last target_call got an HTTP answer */
	int keep_lock; /* the outcome is unknown: the VM stays locked here */
};

static double mib(uint64_t b)
{
	return (double)b / (1 << 20);
}

/* 1 once gossip says the target is gone (its QEMU may live on: stop). */
static int target_gone(struct mig_run *m)
{
	struct peer_info pi;

	if (peer_lookup(m->app, m->a->target, &pi) == 0 && pi.online)
		return 0;
	task_log(m->t, "target node '%s' is offline", m->a->target);
	return 1;
}

static int on_progress(void *opaque, const struct hv_mig_progress *p)
{
	struct mig_run *m = opaque;

	if (p->phase != HV_MIG_DONE && target_gone(m)) {
		snprintf(m->why, sizeof(m->why),
			 "target node '%s' went offline (node down or link cut)", m->a->target);
		return 1;
	}
	if (p->phase == HV_MIG_MIRROR)
		task_log(m->t, "mirror: transferred %.1f MiB of %.1f MiB (%d of %zu disks in sync)",
			 mib(p->disk_done), mib(p->disk_total), p->disks_ready, m->md.n);
	else if (p->phase == HV_MIG_RAM)
		task_log(m->t,
			 "migration %s, transferred %.1f MiB of %.1f MiB VM-state, %.1f MiB/s, "
			 "dirty rate %llu pages/s, remaining %.1f MiB",
			 p->status, mib(p->transferred), mib(p->total), p->mbps / 8,
			 (unsigned long long)p->dirty_rate, mib(p->remaining));
	return task_should_stop(m->t);
}

/* Reply data of a POST to the target, or an error in ERR. */
static int target_call(struct mig_run *m, const char *method, const char *suffix,
		       const cJSON *params, cJSON **data, char *err, size_t errlen)
{
	struct peer_reply rep;
	char path[200];
	int r;

	snprintf(path, sizeof(path), "%s%s", m->path, suffix);
	m->answered = 0;
	r = peer_request(m->app, m->a->target, method, path, params, MIG_USER, &rep, err, errlen);
	if (r < 0)
		return r;
	m->answered = 1;
	if (rep.status != 200) {
		snprintf(err, errlen, "%s", rep.reason);
		r = CR_EINTERNAL;
	} else if (data) {
		*data = rep.data ? cJSON_DetachItemViaPointer(rep.json, rep.data) : NULL;
	}
	peer_reply_free(&rep);
	return r;
}

static cJSON *disks_param(const struct mdisks *md)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < md->n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "key", md->d[i].key);
		cJSON_AddStringToObject(o, "format", md->d[i].format);
		cJSON_AddNumberToObject(o, "size", (double)md->d[i].size);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static int take_string(cJSON *data, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	*out = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
	return *out ? 0 : -EPROTO;
}

/* Online: the address the target listens on (in the migration network),
 * else its cluster address DFLT. */
static void take_host(const cJSON *data, const char *dflt, char out[CLUSTER_HOSTPORT_MAX])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "host");
	unsigned char a[16];

	if (cJSON_IsString(v) && (inet_pton(AF_INET, v->valuestring, a) == 1 ||
				  inet_pton(AF_INET6, v->valuestring, a) == 1))
		dflt = v->valuestring;
	snprintf(out, CLUSTER_HOSTPORT_MAX, "%s", dflt);
}

/* Offline: the UPID of the target's pull task. */
static int take_upid(const cJSON *data, char out[UPID_MAX])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "upid");
	struct upid u;

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= UPID_MAX ||
	    upid_parse(v->valuestring, &u) < 0)
		return -EPROTO;
	snprintf(out, UPID_MAX, "%s", v->valuestring);
	return 0;
}

static int target_prepare(struct mig_run *m, const struct vmconf *conf, char *err, size_t errlen)
{
	cJSON *p = cJSON_CreateObject(), *data = NULL;
	char *text = vmconf_to_text(conf), *disks = cJSON_PrintUnformatted(disks_param(&m->md));
	int r = -ENOMEM;

	int off = !m->a->online;

	/* online: the target listens on its address with the server half;
	 * offline: it pulls from this node's NBD servers with the client half */
	if (p && text && disks && cJSON_AddStringToObject(p, "conf", text) &&
	    cJSON_AddStringToObject(p, "disks", disks) &&
	    cJSON_AddStringToObject(p, "targetstorage", m->a->storage) &&
	    cJSON_AddStringToObject(p, "source", m->app->cfg.node) &&
	    cJSON_AddStringToObject(p, "host", off ? m->self_host : m->a->peer.host) &&
	    cJSON_AddStringToObject(p, "tls_ca", m->tls.ca_cert) &&
	    cJSON_AddStringToObject(p, "tls_cert", off ? m->tls.client_cert : m->tls.server_cert) &&
	    cJSON_AddStringToObject(p, "tls_key", off ? m->tls.client_key : m->tls.server_key) &&
	    (!off || (cJSON_AddStringToObject(p, "offline", "1") &&
		      cJSON_AddStringToObject(p, "ports", m->ports) &&
		      cJSON_AddNumberToObject(p, "bwlimit", (double)m->a->bwlimit_kib))) &&
	    (!m->a->network[0] ||
	     cJSON_AddStringToObject(p, "migration_network", m->a->network)))
		r = target_call(m, "POST", "", p, &data, err, errlen);
	if (r == 0) {
		m->nbd_port = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(data, "nbd_port"));
		m->mig_port = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(data, "mig_port"));
		take_host(data, m->a->peer.host, m->target_host);
		if (take_string(data, "conf", &m->target_conf) < 0 ||
		    take_string(data, "volumes", &m->target_vols) < 0 ||
		    (off && take_upid(data, m->pull_upid) < 0))
			r = -EPROTO;
	}
	cJSON_Delete(data);
	cJSON_Delete(p);
	free(text);
	free(disks);
	return r;
}

static void target_abort(struct mig_run *m)
{
	cJSON *p = cJSON_CreateObject();
	char err[512];

	cJSON_AddStringToObject(p, "volumes", m->target_vols ? m->target_vols : "");
	if (target_call(m, "DELETE", "", p, NULL, err, sizeof(err)) < 0)
		task_warn(m->t, "cleanup on %s: %s", m->a->target, err);
	cJSON_Delete(p);
}

static int migrate_ram_and_disks(struct mig_run *m, char *err, size_t errlen)
{
	struct hv_mig_qemu q = { .h = m->app->hv, .vmid = m->a->vmid };
	struct hv_mig_source_opts o = { .tls_dir = m->tls_dir, .host = m->target_host,
					.nbd_port = m->nbd_port, .mig_port = m->mig_port,
					.bwlimit_kib = m->a->bwlimit_kib, .progress = on_progress,
					.opaque = m };
	struct hv_mig_progress last;
	int r;

	disks_keys(&m->md, &o.disks);
	r = hv_mig_tls_write(&m->tls, m->tls_dir, 0, err, errlen);
	if (r == 0)
		r = hv_mig_source_run(&q, &o, &last, err, errlen);
	hv_mig_tls_remove(m->tls_dir);
	if (r < 0 && m->why[0])
		snprintf(err, errlen, "%s", m->why);
	if (r < 0)
		return r;
	task_log(m->t, "migration status: completed");
	task_log(m->t, "migration downtime %lld ms, total time %lld ms, transferred %.1f MiB",
		 (long long)last.downtime_ms, (long long)last.total_ms, mib(last.transferred));
	return 0;
}

/* The target runs the guest and owns the VM: remove the source's copy. */
static void source_drop(struct mig_run *m)
{
	char err[512];
	int r;

	hv_vm_stop(m->app->hv, m->a->vmid, 10000, err, sizeof(err));
	for (size_t i = 0; i < m->md.n; i++)
		if (pool_set_vol_free(m->app->pools, m->md.d[i].volid, err, sizeof(err)) < 0)
			task_warn(m->t, "cannot remove %s: %s", m->md.d[i].volid, err);
	if (m->ci_volid[0] && pool_set_vol_free(m->app->pools, m->ci_volid, err, sizeof(err)) < 0)
		task_warn(m->t, "cannot remove %s: %s", m->ci_volid, err);
	if ((r = record_del(m->app, m->a->vmid)) < 0)
		task_warn(m->t, "cannot remove the configuration: %s", err_str(r));
}

static int load_source(struct mig_run *m, struct qvm *vm, char *err, size_t errlen)
{
	int r = qvm_read(m->app, m->a->vmid, vm);

	if (r < 0) {
		snprintf(err, errlen, "VM %d does not exist", m->a->vmid);
		return r;
	}
	if (qemu_running(m->app, m->a->vmid) != m->a->online) {
		snprintf(err, errlen, "VM %d %s", m->a->vmid,
			 m->a->online ? "is not running" : "started meanwhile");
		return CR_EINTERNAL;
	}
	r = local_disks(m->app, vm->conf, &m->md, err, errlen);
	if (!qemu_cloudinit_volid(vm->conf, m->a->vmid, m->ci_volid, sizeof(m->ci_volid)))
		m->ci_volid[0] = '\0';
	if (r == 0)
		r = hv_mig_tls_new(&m->tls, err, errlen);
	return r;
}

static void nbd_stop_all(struct mig_run *m)
{
	char log[700];

	for (size_t i = 0; i < m->md.n; i++) {
		hv_mig_nbd_stop(m->nbd[i]);
		snprintf(log, sizeof(log), "%s/%d.nbd-%s.log", m->app->cfg.run_dir, m->a->vmid,
			 m->md.d[i].key);
		unlink(log);
	}
	hv_mig_tls_remove(m->tls_dir);
}

/* Offline: serves every disk read-only over TLS NBD for the target to pull
 * during its migrate_in call. */
static int nbd_serve_all(struct mig_run *m, const struct vmconf *conf, char *err, size_t errlen)
{
	struct peer_info self;
	struct qemu_disks qd;
	struct buf ports = BUF_INIT;
	char pidfile[700];
	int r = peer_lookup(m->app, m->app->cfg.node, &self);

	if (r < 0) {
		snprintf(err, errlen, "this node has no cluster address");
		return r;
	}
	snprintf(m->self_host, sizeof(m->self_host), "%s", self.host);
	if (m->a->network[0] && (r = migration_ip(m->a->network, m->self_host, err, errlen)) < 0)
		return r;
	task_log(m->t, "serving the disks on %s", m->self_host);
	r = qemu_resolve_disks(m->app, conf, &qd, err, errlen);
	if (r == 0)
		r = hv_mig_tls_write(&m->tls, m->tls_dir, 1, err, errlen);
	buf_puts(&ports, "{");
	for (size_t i = 0, k = 0; r == 0 && i < qd.n && k < m->md.n; i++) {
		int port = hv_mig_free_port(m->self_host);

		if (strcmp(qd.key[i], m->md.d[k].key) != 0)
			continue;
		snprintf(pidfile, sizeof(pidfile), "%s/%d.nbd-%s.log", m->app->cfg.run_dir,
			 m->a->vmid, qd.key[i]);
		r = port < 0 ? port
			     : hv_mig_nbd_serve(qd.path[i], qd.format[i], m->self_host, port, qd.key[i],
						m->tls_dir, pidfile, &m->nbd[k], err, errlen);
		buf_printf(&ports, "%s\"%s\":%d", k ? "," : "", qd.key[i], port);
		k++;
	}
	buf_puts(&ports, "}");
	snprintf(m->ports, sizeof(m->ports), "%s", ports.data ? ports.data : "{}");
	buf_free(&ports);
	return r;
}

/* After the switch-over only the target knows whether it runs the guest:
 * asks it (abort) until it answers.  0: it holds nothing (dropped), 1: it
 * owns the VM, or a negative code when it did not answer in time. */
static int target_outcome(struct mig_run *m)
{
	uint64_t deadline = util_now_ms() + MIG_OUTCOME_WAIT_MS;
	cJSON *p = cJSON_CreateObject();
	char err[512];
	int r;

	cJSON_AddStringToObject(p, "volumes", m->target_vols ? m->target_vols : "");
	for (;;) {
		r = target_call(m, "DELETE", "", p, NULL, err, sizeof(err));
		if (r < 0 && m->answered && strstr(err, OWNED_BY))
			r = 1;
		if (r >= 0 || util_now_ms() >= deadline || task_should_stop(m->t))
			break;
		sleep(1);
	}
	cJSON_Delete(p);
	return r;
}

/* The source is paused after a complete migration but finish failed (ERR):
 * exactly one node must keep the VM, and the source resumes only when the
 * target says it holds nothing.  Without an answer the VM stays paused and
 * locked here for an operator, who finds out which node runs it. */
static int finish_failed(struct mig_run *m, int r, char *err, size_t errlen)
{
	char ignored[256];
	int o = target_outcome(m);

	if (o == 1) {
		task_warn(m->t, "finish on node '%s' failed (%s), yet the VM runs there", m->a->target,
			  err);
		source_drop(m);
		return 0;
	}
	if (o == 0) {
		hv_vm_resume(m->app->hv, m->a->vmid, ignored, sizeof(ignored));
		snprintf(err + strlen(err), errlen - strlen(err),
			 " (finishing on node '%s'); it keeps no copy, VM %d runs on here",
			 m->a->target, m->a->vmid);
		return r;
	}
	m->keep_lock = 1;
	snprintf(err + strlen(err), errlen - strlen(err),
		 "; node '%s' did not answer after the switch-over: VM %d stays paused and locked "
		 "on this node until an operator checks which node runs it",
		 m->a->target, m->a->vmid);
	return r;
}

/* Offline: the state of the target's pull task: 1 when it ended (its exit
 * status in EXIT), 0 while it runs, negative when the target did not answer. */
static int pull_state(struct mig_run *m, char *exit, size_t exitlen, char *err, size_t errlen)
{
	struct peer_reply rep;
	char path[400];
	const cJSON *st, *ex;
	int r;

	snprintf(path, sizeof(path), "/nodes/%s/tasks/%s/status", m->a->target, m->pull_upid);
	r = peer_request(m->app, m->a->target, "GET", path, NULL, MIG_USER, &rep, err, errlen);
	if (r < 0)
		return r;
	st = cJSON_GetObjectItemCaseSensitive(rep.data, "status");
	ex = cJSON_GetObjectItemCaseSensitive(rep.data, "exitstatus");
	if (rep.status != 200 || !cJSON_IsString(st)) {
		snprintf(err, errlen, "%s", rep.status != 200 ? rep.reason : "no task status");
		r = CR_EINTERNAL;
	} else if (strcmp(st->valuestring, "stopped") == 0) {
		snprintf(exit, exitlen, "%s", cJSON_IsString(ex) ? ex->valuestring : "unknown");
		r = 1;
	}
	peer_reply_free(&rep);
	return r;
}

/* Offline: the copy did not end as planned (ERR says why): the target
 * decides, as after a lost finish answer.  0 when it has the VM after all. */
static int pull_outcome(struct mig_run *m, char *err, size_t errlen)
{
	int o = target_outcome(m);

	if (o == 1) {
		task_warn(m->t, "%s, yet node '%s' has VM %d now", err, m->a->target, m->a->vmid);
		return 0;
	}
	if (o == 0)
		snprintf(err + strlen(err), errlen - strlen(err), "; node '%s' keeps no copy",
			 m->a->target);
	else {
		m->keep_lock = 1;
		snprintf(err + strlen(err), errlen - strlen(err),
			 "; node '%s' did not say whether it has VM %d: it stays locked on this "
			 "node until an operator checks", m->a->target, m->a->vmid);
	}
	return CR_EINTERNAL;
}

/* Offline: waits, however long the copy takes, for the target's pull task
 * to end.  Stopped here, or the target gone, the target decides. */
static int pull_wait(struct mig_run *m, char *err, size_t errlen)
{
	uint64_t start = util_now_ms(), next_log = start + PULL_LOG_MS, heard = start;
	char exit[512], why[600] = "";
	int r = 0;

	while (!task_should_stop(m->t) && !target_gone(m)) {
		r = pull_state(m, exit, sizeof(exit), err, errlen);
		if (r == 1 && strcmp(exit, "OK") == 0)
			return 0;
		if (r == 1) {
			snprintf(err, errlen, "node '%s': %s", m->a->target, exit);
			return CR_EINTERNAL;
		}
		if (r == 0)
			heard = util_now_ms();
		else if (util_now_ms() - heard > PULL_SILENCE_MS) {
			snprintf(why, sizeof(why), "no state of the copy from node '%s' for %d s (%s)",
				 m->a->target, PULL_SILENCE_MS / 1000, err);
			break;
		}
		if (util_now_ms() >= next_log) {
			task_log(m->t, "node '%s' copies the disks (%llu s)", m->a->target,
				 (unsigned long long)((util_now_ms() - start) / 1000));
			next_log += PULL_LOG_MS;
		}
		usleep(PULL_POLL_US);
	}
	snprintf(err, errlen, "%s", why[0] ? why : task_should_stop(m->t) ? "migration stopped"
			   : "target node went offline (node down or link cut)");
	return pull_outcome(m, err, errlen);
}

static int offline_run(struct mig_run *m, const struct vmconf *conf, char *err, size_t errlen)
{
	int r = nbd_serve_all(m, conf, err, errlen);

	for (size_t i = 0; r == 0 && i < m->md.n; i++)
		task_log(m->t, "copying disk %s (%.1f MiB) to node '%s' over TLS NBD",
			 m->md.d[i].volid, mib(m->md.d[i].size), m->a->target);
	if (r == 0)
		r = target_prepare(m, conf, err, errlen);
	if (r == 0)
		r = pull_wait(m, err, errlen);
	nbd_stop_all(m);
	if (r < 0)
		return r;
	source_drop(m);
	return 0;
}

static int migrate_run(struct mig_run *m, char *err, size_t errlen)
{
	struct qvm vm;
	cJSON *p;
	int r = load_source(m, &vm, err, errlen);

	if (r < 0)
		return r;
	task_log(m->t, "starting %s migration of VM %d to node '%s' (%s)",
		 m->a->online ? "online" : "offline", m->a->vmid, m->a->target, m->a->peer.host);
	if (!m->a->online) {
		r = offline_run(m, vm.conf, err, errlen);
		qvm_clear(&vm);
		return r;
	}
	r = target_prepare(m, vm.conf, err, errlen);
	qvm_clear(&vm);
	if (r < 0) {
		target_abort(m);
		return r;
	}
	task_log(m->t, "target QEMU waiting on %s; %zu local disk(s) to mirror over TLS",
		 m->target_host, m->md.n);
	r = migrate_ram_and_disks(m, err, errlen);
	if (r == 0) {
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "conf", m->target_conf);
		r = target_call(m, "POST", "/finish", p, NULL, err, errlen);
		cJSON_Delete(p);
		if (r < 0)
			return finish_failed(m, r, err, errlen);
	}
	if (r < 0) {
		target_abort(m);
		if (hv_vm_running(m->app->hv, m->a->vmid)) /* resumes a source left paused */
			hv_vm_resume(m->app->hv, m->a->vmid, err + strlen(err), 1);
		return r;
	}
	source_drop(m);
	return 0;
}

static int migrate_task(struct task *t, void *opaque)
{
	const struct mig_arg *a = opaque;
	struct mig_run m = { .t = t, .app = task_app(t), .a = a };
	char err[1024] = "";
	uint64_t t0 = util_now_ms();
	int r;

	snprintf(m.path, sizeof(m.path), "/nodes/%s/qemu/%d/migrate_in", a->target, a->vmid);
	snprintf(m.tls_dir, sizeof(m.tls_dir), "%s/%d.migtls-out", m.app->cfg.run_dir, a->vmid);
	r = set_lock(m.app, a->vmid, "migrate");
	if (r == 0) {
		r = migrate_run(&m, err, sizeof(err));
		if (r < 0 && !m.keep_lock)
			set_lock(m.app, a->vmid, "");
	}
	hv_mig_tls_free(&m.tls);
	free(m.target_conf);
	free(m.target_vols);
	if (r < 0)
		return task_fail(t, r, "migration aborted: %s", err[0] ? err : err_str(r));
	task_log(t, "migration finished successfully (duration %.1f s)",
		 (double)(util_now_ms() - t0) / 1000);
	return 0;
}

/* ---- POST migrate -------------------------------------------------------------------- */

static int param_error(struct resp *resp, const char *name, const char *msg)
{
	resp->errors = cJSON_CreateObject();
	cJSON_AddStringToObject(resp->errors, name, msg);
	return CR_EINVAL_PARAM;
}

static int vm_checks(struct req *req, struct resp *resp, int vmid)
{
	const char *t;
	struct qvm vm;
	int r = qemu_check_vm(req, resp, vmid), running = qemu_running(req->app, vmid);

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, &vm)) < 0)
		return qemu_no_such_vm(req, resp, vmid);
	t = vmconf_get(vm.conf, "template");
	r = t && strcmp(t, "1") == 0;
	qvm_clear(&vm);
	if (r)
		return resp_error(resp, CR_EINTERNAL, "VM %d is a template: migrating templates is not supported", vmid);
	if (running && !req_bool(req, "online", 0))
		return resp_error(resp, CR_EINTERNAL, "can't migrate running VM without --online");
	if (running && !req_bool(req, "with-local-disks", 0))
		return resp_error(resp, CR_EINTERNAL, "can't migrate VM which uses local storage without --with-local-disks");
	return 0;
}

static int target_checks(struct req *req, struct resp *resp, struct peer_info *peer)
{
	const char *target = req_str(req, "target");

	if (strcmp(target, req->app->cfg.node) == 0)
		return param_error(resp, "target", "target is local node.");
	if (peer_lookup(req->app, target, peer) < 0)
		return resp_error(resp, CR_EINTERNAL, "no such cluster node '%s'", target);
	if (!peer->online)
		return resp_error(resp, CR_EINTERNAL, "target node '%s' is not online", target);
	return 0;
}

int api_qemu_migrate(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req);
	struct mig_arg *a = calloc(1, sizeof(*a));
	const char *st = req_str(req, "targetstorage");
	int r = a ? target_checks(req, resp, &a->peer) : -ENOMEM;

	if (r == 0)
		r = vm_checks(req, resp, vmid);
	if (r < 0) {
		free(a);
		return r == -ENOMEM ? resp_error(resp, r, "out of memory") : r;
	}
	a->vmid = vmid;
	a->online = qemu_running(req->app, vmid); /* a stopped VM moves offline, as in Proxmox */
	snprintf(a->target, sizeof(a->target), "%s", req_str(req, "target"));
	snprintf(a->storage, sizeof(a->storage), "%s", st ? st : "local");
	a->bwlimit_kib = (uint64_t)req_int(req, "bwlimit", 0);
	snprintf(a->network, sizeof(a->network), "%s",
		 req_str(req, "migration_network") ? req_str(req, "migration_network") : "");
	return qemu_task(req, resp, "qmigrate", vmid, migrate_task, a, free, 0);
}
