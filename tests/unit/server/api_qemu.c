/* Tests for server/api_qemu*.c and api_storage.c through the router: create
 * with disk allocation and MACs, the validation of hostile input (each a 400
 * with errors, nothing stored, no file made), config get/set/digest/delete/
 * revert/pending, status of a stopped VM, power checks, the per-VM task
 * lock, destroy, /cluster/resources and the storage listing.  No QEMU here:
 * app.hv stays NULL (tests/integration/test_vm_lifecycle.py runs VMs). */
#include "tests/unit/server/api_fixture.h"
#include "tests/unit/server/task_gate.h"

#include <dirent.h>
#include <sys/stat.h>

#include "common/err.h"
#include "server/qemu_int.h"
#include "server/api.h"
#include "storage/pool.h"

#define NODE_QEMU "/nodes/" FIX_NODE "/qemu"

/* Waits for the task whose UPID A answered; returns its exit status. */
static const char *wait_task(struct api_fixture *f, struct api_answer *a)
{
	static char status[512];
	const char *upid = cJSON_GetStringValue(api_data(a));

	snprintf(status, sizeof(status), "(no task)");
	if (upid)
		CHECK_INT(tasks_wait(f->app.tasks, upid, 20000, status, sizeof(status)), 0);
	api_answer_free(a);
	return status;
}

static void create_vm(struct api_fixture *f, const char *query)
{
	struct api_answer a = api_call(f, "POST", NODE_QEMU, query, "admin@pve");

	CHECK_INT(a.status, 200);
	CHECK_STR(wait_task(f, &a), "OK");
}

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int vm_stored(struct api_fixture *f, const char *vmid)
{
	cJSON *v = NULL;
	int r = store_get1(f->app.store, DB_VMS, vmid, &v);

	cJSON_Delete(v);
	return r == 0;
}

static void test_create(void)
{
	struct api_fixture f;
	struct api_answer a;
	char path[APP_PATH_MAX + 64];
	const char *net, *digest;
	cJSON *d;
	struct stat st;

	api_fixture_open_storage(&f, "create");
	create_vm(&f, "vmid=100&name=web1&memory=1024&cores=2&sockets=1&scsi0=local:1"
		      "&net0=virtio&serial0=socket&ostype=l26");
	a = api_call(&f, "GET", NODE_QEMU "/100/config", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	d = api_data(&a);
	CHECK_STR(api_str(d, "name"), "web1");
	CHECK_STR(api_str(d, "memory"), "1024"); /* a string since PVE 8.1 */
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(d, "cores")));
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "cores")), 2);
	CHECK_STR(api_str(d, "scsi0"), "local:100/vm-100-disk-0.qcow2,size=1G");
	net = api_str(d, "net0");
	CHECK(net && strncmp(net, "virtio=BC:24:11:", 16) == 0);
	CHECK(api_str(d, "smbios1") && strncmp(api_str(d, "smbios1"), "uuid=", 5) == 0);
	digest = api_str(d, "digest");
	CHECK(digest && strlen(digest) == 40);
	CHECK(!api_has(d, "lock"));
	api_answer_free(&a);
	snprintf(path, sizeof(path), "%s/images/images/100/vm-100-disk-0.qcow2",
		 f.app.cfg.data_dir);
	CHECK_INT(stat(path, &st), 0);
	a = api_call(&f, "POST", NODE_QEMU, "vmid=100&name=again", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK_STR(a.reason, "Parameter verification failed.");
	CHECK_STR(api_param_error(&a, "vmid"), "VM 100 already exists");
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU, NULL, "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	CHECK_STR(api_str(cJSON_GetArrayItem(api_data(&a), 0), "name"), "web1");
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU, NULL, "bob@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 0); /* no VM.Audit */
	api_answer_free(&a);
	a = api_call(&f, "POST", NODE_QEMU, "vmid=300", "bob@pve");
	CHECK_INT(a.status, 403);
	CHECK_STR(a.reason, "Permission check failed (/vms/300, VM.Allocate)");
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

/* Every hostile value: a 400 naming the key, no record, no file. */
static const struct {
	const char *query, *key;
} bad_input[] = {
    {"vmid=200&name=a%2Cb", "name"},
    {"vmid=200&name=a%22b", "name"},
    {"vmid=200&name=a%27b", "name"},
    {"vmid=200&name=a%0Ab", "name"},
    {"vmid=200&name=%24(reboot)", "name"},
    {"vmid=200&name=a%3Brm%20-rf%20%2F", "name"},
    {"vmid=200&name=%60id%60", "name"},
    {"vmid=200&scsi0=%2Fetc%2Fshadow", "scsi0"},
    {"vmid=200&scsi0=local%3A..%2F..%2Fx", "scsi0"},
    {"vmid=200&virtio0=local%3A200%2F..%2F..%2Fetc%2Fpasswd", "virtio0"},
    {"vmid=200&scsi0=local%3A100%2Fvm-100-disk-0.qcow2", "scsi0"},
    {"vmid=200&scsi0=local%3A200%2Fvm-200-disk-7.qcow2", "scsi0"},
    {"vmid=200&scsi0=nosuch%3A4", "scsi0"},
    {"vmid=200&ide2=local%3Aiso%2Fmissing.iso%2Cmedia%3Dcdrom", "ide2"},
    {"vmid=200&scsi0=local%3A4&scsi1=%2Fdev%2Fsda", "scsi1"},
    {"vmid=200&memory=1", "memory"},
    {"vmid=200&memory=99999999999", "memory"},
    {"vmid=200&cores=0", "cores"},
    {"vmid=200&cores=100000", "cores"},
    {"vmid=200&sockets=-1", "sockets"},
    {"vmid=99", "vmid"},
    {"vmid=1000000000", "vmid"},
    {"vmid=abc", "vmid"},
    {"name=novmid", "vmid"},
    {"vmid=200&foo=1", "foo"},
    {"vmid=200&args=-hda%20%2Fetc%2Fshadow", "args"},
    {"vmid=200&net0=virtio%2Cbridge%3Dvmbr0%3Bx", "net0"},
};

static void test_bad_input(void)
{
	struct api_fixture f;
	char images[APP_PATH_MAX + 32];

	api_fixture_open_storage(&f, "bad");
	snprintf(images, sizeof(images), "%s/images/images", f.app.cfg.data_dir);
	for (size_t i = 0; i < sizeof(bad_input) / sizeof(bad_input[0]); i++) {
		struct api_answer a =
		    api_call(&f, "POST", NODE_QEMU, bad_input[i].query, "admin@pve");

		if (a.status != 400 || !api_param_error(&a, bad_input[i].key))
			test_fail(__FILE__, __LINE__, "%s: status %d, no errors.%s",
				  bad_input[i].query, a.status, bad_input[i].key);
		api_answer_free(&a);
		CHECK(!vm_stored(&f, "200"));
		CHECK_INT(files_in(images), 0);
	}
	api_fixture_close_storage(&f);
}

static void test_config_update(void)
{
	struct api_fixture f;
	struct api_answer a;
	char query[256], digest[48];

	api_fixture_open_storage(&f, "config");
	create_vm(&f, "vmid=101&name=a1&memory=512&scsi0=local:1&scsi1=local:1");
	a = api_call(&f, "GET", NODE_QEMU "/101/config", NULL, "admin@pve");
	snprintf(digest, sizeof(digest), "%s", api_str(api_data(&a), "digest"));
	api_answer_free(&a);
	snprintf(query, sizeof(query), "name=b2&cores=4&delete=scsi1&digest=%s", digest);
	a = api_call(&f, "PUT", NODE_QEMU "/101/config", query, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsNull(api_data(&a)));
	api_answer_free(&a);
	/* The old digest is stale now. */
	a = api_call(&f, "PUT", NODE_QEMU "/101/config", query, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK_STR(a.reason, "detected modified configuration - file changed by other user? "
			    "Try again.");
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/101/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "name"), "b2");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(api_data(&a), "cores")), 4);
	CHECK(!api_has(api_data(&a), "scsi1"));
	CHECK_STR(api_str(api_data(&a), "unused0"), "local:101/vm-101-disk-1.qcow2");
	api_answer_free(&a);
	a = api_call(&f, "POST", NODE_QEMU "/101/config", "memory=768&background_delay=5",
		     "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsNull(api_data(&a)));
	api_answer_free(&a);
	a = api_call(&f, "POST", NODE_QEMU "/101/config", "delete=unused0", "admin@pve");
	CHECK_STR(wait_task(&f, &a), "OK");
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/storage/local/content", NULL, "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1); /* the unused disk is gone */
	api_answer_free(&a);
	/* A replaced disk is kept as unusedN; a changed option of the same one is not. */
	a = api_call(&f, "PUT", NODE_QEMU "/101/config", "scsi0=local:2", "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/101/config",
		     "scsi0=local:101/vm-101-disk-1.qcow2,size=2G,cache=writeback", "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/101/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "scsi0"),
		  "local:101/vm-101-disk-1.qcow2,cache=writeback,size=2G");
	CHECK_STR(api_str(api_data(&a), "unused0"), "local:101/vm-101-disk-0.qcow2");
	CHECK(!api_has(api_data(&a), "unused1"));
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/101/config", "name=bad%2Cname&cores=0", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "name") != NULL);
	CHECK(api_param_error(&a, "cores") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/101/config", "bogus=1", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "bogus") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/101/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "memory"), "768");
	CHECK_STR(api_str(api_data(&a), "name"), "b2");
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/999/config", "name=x", "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK(strstr(a.reason, "does not exist") != NULL);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

/* Pending changes as a running VM gets them (written as the handler would). */
static void test_pending(void)
{
	struct api_fixture f;
	struct api_answer a;
	struct store_txn *t;
	struct qvm vm;
	cJSON *rows, *row;
	int found = 0;

	api_fixture_open_storage(&f, "pending");
	create_vm(&f, "vmid=102&name=p1&memory=512&cores=1&description=x");
	CHECK_INT(store_begin(f.app.store, 0, &t), 0);
	CHECK_INT(qvm_load(t, 102, &vm), 0);
	CHECK_INT(vmconf_set(vm.pending, "memory", "1024"), 0);
	CHECK_INT(vmconf_set(vm.pending, "sockets", "2"), 0);
	CHECK_INT(vmconf_set(vm.pdel, "description", "1"), 0);
	CHECK_INT(qvm_save(t, 102, &vm), 0);
	CHECK_INT(store_commit(t), 0);
	qvm_clear(&vm);
	a = api_call(&f, "GET", NODE_QEMU "/102/pending", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	rows = api_data(&a);
	cJSON_ArrayForEach(row, rows)
	{
		const char *key = api_str(row, "key");

		if (strcmp(key, "memory") == 0) {
			CHECK_STR(api_str(row, "value"), "512");
			CHECK_STR(api_str(row, "pending"), "1024");
			found++;
		} else if (strcmp(key, "sockets") == 0) {
			CHECK(!api_has(row, "value"));
			CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "pending")), 2);
			found++;
		} else if (strcmp(key, "description") == 0) {
			CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "delete")), 1);
			found++;
		}
	}
	CHECK_INT(found, 3);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/102/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "memory"), "1024"); /* pending values by default */
	CHECK(!api_has(api_data(&a), "description"));
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/102/config", "current=1", "admin@pve");
	CHECK_STR(api_str(api_data(&a), "memory"), "512");
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/102/config", "revert=memory,description", "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/102/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "memory"), "512");
	CHECK_STR(api_str(api_data(&a), "description"), "x");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(api_data(&a), "sockets")), 2);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

/* Disks detached or replaced while the VM ran are kept when the pending
 * changes are applied (at the next start). */
static void test_pending_disks(void)
{
	struct api_fixture f;
	struct store_txn *t;
	struct qvm vm;

	api_fixture_open_storage(&f, "pendingdisks");
	create_vm(&f, "vmid=109&scsi0=local:1&scsi1=local:1");
	CHECK_INT(store_begin(f.app.store, 0, &t), 0);
	CHECK_INT(qvm_load(t, 109, &vm), 0);
	CHECK_INT(vmconf_set(vm.pdel, "scsi1", "1"), 0);
	CHECK_INT(vmconf_set(vm.pending, "scsi0", "local:109/vm-109-disk-2.qcow2,size=1G"), 0);
	store_abort(t);
	CHECK_INT(qvm_apply_pending(&vm), 0);
	CHECK(!vmconf_get(vm.conf, "scsi1"));
	CHECK_STR(vmconf_get(vm.conf, "scsi0"), "local:109/vm-109-disk-2.qcow2,size=1G");
	CHECK_STR(vmconf_get(vm.conf, "unused0"), "local:109/vm-109-disk-1.qcow2");
	CHECK_STR(vmconf_get(vm.conf, "unused1"), "local:109/vm-109-disk-0.qcow2");
	CHECK_INT(vmconf_count(vm.pending), 0);
	CHECK_INT(vmconf_count(vm.pdel), 0);
	qvm_clear(&vm);
	api_fixture_close_storage(&f);
}

static void test_status_stopped(void)
{
	static const char *const numbers[] = {
	    "vmid",   "cpus",  "cpu",	 "maxmem",   "mem",	  "maxdisk", "disk",
	    "uptime", "netin", "netout", "diskread", "diskwrite", "template"};
	struct api_fixture f;
	struct api_answer a;
	cJSON *d;

	api_fixture_open_storage(&f, "status");
	create_vm(&f, "vmid=103&memory=256&cores=2&virtio0=local:2");
	a = api_call(&f, "GET", NODE_QEMU "/103/status/current", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	d = api_data(&a);
	CHECK_STR(api_str(d, "status"), "stopped");
	CHECK_STR(api_str(d, "qmpstatus"), "stopped");
	CHECK_STR(api_str(d, "name"), "VM 103");
	CHECK(!api_has(d, "pid"));
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (!cJSON_IsNumber(cJSON_GetObjectItem(d, numbers[i])))
			test_fail(__FILE__, __LINE__, "%s is not a number", numbers[i]);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "maxmem")), 256 << 20);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "maxdisk")), 2LL << 30);
	CHECK_INT(
	    cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "ha"), "managed")), 0);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/104/status/current", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK_STR(a.reason, "Configuration file 'nodes/" FIX_NODE "/qemu-server/104.conf' does "
			    "not exist");
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/103/status", NULL, "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 8);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/103", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_GetArraySize(api_data(&a)) >= 3);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static void test_power_checks(void)
{
	static const char *const need_running[] = {"reset", "reboot", "suspend", "resume"};
	struct api_fixture f;
	struct api_answer a;
	char path[128];

	api_fixture_open_storage(&f, "power");
	create_vm(&f, "vmid=105&memory=256");
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), NODE_QEMU "/105/status/%s", need_running[i]);
		a = api_call(&f, "POST", path, NULL, "admin@pve");
		CHECK_INT(a.status, 500);
		CHECK_STR(a.reason, "VM 105 not running");
		api_answer_free(&a);
	}
	a = api_call(&f, "POST", NODE_QEMU "/105/status/stop", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(strstr(cJSON_GetStringValue(api_data(&a)), ":qmstop:105:admin@pve:") != NULL);
	CHECK_STR(wait_task(&f, &a), "OK");
	a = api_call(&f, "POST", NODE_QEMU "/105/status/start", NULL, "admin@pve");
	CHECK_INT(a.status, 500); /* this node has no hypervisor */
	api_answer_free(&a);
	a = api_call(&f, "POST", NODE_QEMU "/105/status/stop", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	a = api_call(&f, "POST", NODE_QEMU "/105/status/shutdown", "timeout=abc", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "timeout") != NULL);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static void test_task_lock(void)
{
	struct identity admin = {.userid = "admin@pve"};
	struct api_fixture f;
	struct api_answer a;
	struct gate g = GATE_INIT;
	char upid[UPID_MAX], err[256], status[64];

	api_fixture_open_storage(&f, "lock");
	create_vm(&f, "vmid=106&memory=256");
	CHECK_INT(tasks_start(f.app.tasks, "qmshutdown", "106", &admin, "vm:106", gated_task, &g,
			      NULL, upid, err, sizeof(err)),
		  0);
	gate_wait_entered(&g);
	a = api_call(&f, "POST", NODE_QEMU "/106/status/stop", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK(strstr(a.reason, "can't lock 'vm:106'") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "DELETE", NODE_QEMU "/106", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK(strstr(a.reason, "can't lock") != NULL);
	api_answer_free(&a);
	gate_open(&g);
	CHECK_INT(tasks_wait(f.app.tasks, upid, 20000, status, sizeof(status)), 0);
	api_fixture_close_storage(&f);
}

static void test_destroy(void)
{
	struct api_fixture f;
	struct api_answer a;
	char images[APP_PATH_MAX + 32], err[256], volid[POOL_VOLID_MAX], body[PATH_MAX + 64];
	char s2[PATH_MAX];

	api_fixture_open_storage(&f, "destroy");
	create_vm(&f, "vmid=107&scsi0=local:1&virtio1=local:1,format=raw");
	/* A disk of the VM that its configuration does not name. */
	CHECK_INT(
	    pool_alloc(f.app.pool, 107, "qcow2", 1 << 20, volid, sizeof(volid), err, sizeof(err)),
	    0);
	snprintf(images, sizeof(images), "%s/images/images/107", f.app.cfg.data_dir);
	CHECK_INT(files_in(images), 3);
	/* ... and one left on a second storage (every storage is scanned) */
	snprintf(body, sizeof(body), "storage=s2&type=dir&path=%s/s2&content=images",
		 test_tmpdir());
	a = api_request(&f, "POST", "/storage", NULL, body, "admin@pve", NULL);
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	CHECK(api_storage_pool(&f.app, "s2") != NULL);
	if (api_storage_pool(&f.app, "s2"))
		CHECK_INT(pool_alloc(api_storage_pool(&f.app, "s2"), 107, "raw", 1 << 20, volid,
				     sizeof(volid), err, sizeof(err)),
			  0);
	snprintf(s2, sizeof(s2), "%s/s2/images/107", test_tmpdir());
	CHECK_INT(files_in(s2), 1);
	a = api_call(&f, "DELETE", NODE_QEMU "/107", "purge=1&destroy-unreferenced-disks=1",
		     "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_STR(wait_task(&f, &a), "OK");
	CHECK(!vm_stored(&f, "107"));
	CHECK_INT(files_in(images), 0);
	CHECK_INT(files_in(s2), 0);
	a = api_call(&f, "DELETE", NODE_QEMU "/107", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK(strstr(a.reason, "does not exist") != NULL);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static void test_resources_and_storage(void)
{
	struct api_fixture f;
	struct api_answer a;
	cJSON *row;
	int qemu = 0, storage = 0;

	api_fixture_open_storage(&f, "resources");
	create_vm(&f, "vmid=108&name=r1&memory=512&tags=a%3Bb");
	a = api_call(&f, "GET", "/cluster/resources", NULL, "admin@pve");
	cJSON_ArrayForEach(row, api_data(&a))
	{
		if (strcmp(api_str(row, "type"), "qemu") == 0) {
			qemu++;
			CHECK_STR(api_str(row, "id"), "qemu/108");
			CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "vmid")), 108);
			CHECK_STR(api_str(row, "node"), FIX_NODE);
			CHECK_STR(api_str(row, "status"), "stopped");
			CHECK_STR(api_str(row, "tags"), "a;b");
			CHECK(cJSON_IsNumber(cJSON_GetObjectItem(row, "maxcpu")));
		} else if (strcmp(api_str(row, "type"), "storage") == 0) {
			storage++;
			CHECK_STR(api_str(row, "id"), "storage/" FIX_NODE "/local");
			CHECK_STR(api_str(row, "plugintype"), "dir");
			CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "maxdisk")) > 0);
		}
	}
	CHECK_INT(qemu, 1);
	CHECK_INT(storage, 1);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/cluster/resources", "type=vm", "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/storage", NULL, "admin@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 1);
	row = cJSON_GetArrayItem(api_data(&a), 0);
	CHECK_STR(api_str(row, "storage"), "local");
	CHECK_STR(api_str(row, "type"), "dir");
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "total")) > 0);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(row, "avail")));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(row, "used")));
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/storage", NULL, "bob@pve");
	CHECK_INT(cJSON_GetArraySize(api_data(&a)), 0);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/storage/nosuch/content", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK_STR(a.reason, "storage 'nosuch' does not exist");
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static const struct test_case tests[] = {
    {"create allocates disks and MACs", test_create},
    {"hostile input is a 400 and writes nothing", test_bad_input},
    {"config update, digest, delete, unused", test_config_update},
    {"pending changes and revert", test_pending},
    {"pending disk changes keep the old disks", test_pending_disks},
    {"status of a stopped VM", test_status_stopped},
    {"power operations check their VM", test_power_checks},
    {"one task per VM", test_task_lock},
    {"destroy removes the disks", test_destroy},
    {"cluster resources and storage", test_resources_and_storage},
};

TEST_MAIN(tests)
