/* Tests for server/api_qemu_cloudinit.c through the router: the cloud-init
 * volume allocated at create, GET cloudinit (values the image was made
 * from, pending, deleted, added), cloudinit/dump and its type check, PUT
 * cloudinit writing the image (real genisoimage) and recording its values,
 * privileges.  No QEMU: app.hv stays NULL. */
#include "tests/unit/server/api_fixture.h"

#include <sys/stat.h>

#include "common/err.h"
#include "server/api.h"
#include "server/qemu_int.h"

#define NODE_QEMU "/nodes/" FIX_NODE "/qemu"
#define CREATE_QUERY                                                                        \
	"vmid=120&name=ci1&net0=virtio%3DBC%3A24%3A11%3A00%3A00%3A01&ide2=local%3Acloudinit" \
	"&ciuser=alice&ipconfig0=ip%3D192.0.2.5%2F24%2Cgw%3D192.0.2.1&nameserver=192.0.2.53" \
	"&searchdomain=example.com&cipassword=pw"

static void create_vm(struct api_fixture *f)
{
	struct api_answer a = api_call(f, "POST", NODE_QEMU, CREATE_QUERY, "admin@pve");
	char status[512] = "";

	CHECK_INT(a.status, 200);
	CHECK_INT(tasks_wait(f->app.tasks, cJSON_GetStringValue(api_data(&a)), 20000, status,
			     sizeof(status)), 0);
	CHECK_STR(status, "OK");
	api_answer_free(&a);
}

/* The row of KEY in GET cloudinit (a detached copy), or NULL. */
static cJSON *ci_row(struct api_fixture *f, const char *key)
{
	struct api_answer a = api_call(f, "GET", NODE_QEMU "/120/cloudinit", NULL, "admin@pve");
	cJSON *row, *found = NULL;

	CHECK_INT(a.status, 200);
	cJSON_ArrayForEach(row, api_data(&a)) if (strcmp(api_str(row, "key"), key) == 0) found =
	    cJSON_Duplicate(row, 1);
	api_answer_free(&a);
	return found;
}

static void test_create_and_rows(void)
{
	struct api_fixture f;
	struct api_answer a;
	struct stat st;
	char path[600];
	cJSON *row;

	api_fixture_open_storage(&f, "rows");
	create_vm(&f);
	a = api_call(&f, "GET", NODE_QEMU "/120/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "ide2"), "local:120/vm-120-cloudinit.qcow2,media=cdrom");
	CHECK_STR(api_str(api_data(&a), "cipassword"), "**********");
	api_answer_free(&a);
	snprintf(path, sizeof(path), "%s/images/images/120/vm-120-cloudinit.qcow2",
		 f.app.cfg.data_dir);
	CHECK_INT(stat(path, &st), 0);
	row = ci_row(&f, "ipconfig0");
	CHECK_STR(api_str(row, "value"), "gw=192.0.2.1,ip=192.0.2.5/24");
	CHECK(!api_has(row, "pending"));
	cJSON_Delete(row);
	row = ci_row(&f, "cipassword");
	CHECK_STR(api_str(row, "value"), "**********");
	cJSON_Delete(row);
	CHECK(ci_row(&f, "name") == NULL); /* a source of the image, not listed */
	api_fixture_close_storage(&f);
}

/* An image made from other values: changed, deleted and added keys. */
static void test_pending_rows(void)
{
	struct api_fixture f;
	struct store_txn *t;
	struct qvm vm;
	cJSON *row;

	api_fixture_open_storage(&f, "pending");
	create_vm(&f);
	CHECK_INT(store_begin(f.app.store, 0, &t), 0);
	CHECK_INT(qvm_load(t, 120, &vm), 0);
	vm.cigen = vmconf_new();
	CHECK_INT(vmconf_set(vm.cigen, "ipconfig0", "ip=dhcp"), 0);
	CHECK_INT(vmconf_set(vm.cigen, "ciuser", "alice"), 0);
	CHECK_INT(vmconf_set(vm.cigen, "sshkeys", "x"), 0);
	CHECK_INT(qvm_save(t, 120, &vm), 0);
	CHECK_INT(store_commit(t), 0);
	qvm_clear(&vm);
	row = ci_row(&f, "ipconfig0");
	CHECK_STR(api_str(row, "value"), "ip=dhcp");
	CHECK_STR(api_str(row, "pending"), "gw=192.0.2.1,ip=192.0.2.5/24");
	cJSON_Delete(row);
	row = ci_row(&f, "ciuser");
	CHECK_STR(api_str(row, "value"), "alice");
	CHECK(!api_has(row, "pending"));
	cJSON_Delete(row);
	row = ci_row(&f, "sshkeys");
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(row, "delete")), 1);
	cJSON_Delete(row);
	row = ci_row(&f, "nameserver");
	CHECK(!api_has(row, "value"));
	CHECK_STR(api_str(row, "pending"), "192.0.2.53");
	cJSON_Delete(row);
	api_fixture_close_storage(&f);
}

static void test_dump_and_put(void)
{
	struct api_fixture f;
	struct api_answer a;
	char want[64];
	cJSON *row;

	api_fixture_open_storage(&f, "dump");
	create_vm(&f);
	a = api_call(&f, "GET", NODE_QEMU "/120/cloudinit/dump", "type=user", "admin@pve");
	CHECK(strstr(cJSON_GetStringValue(api_data(&a)), "user: \"alice\"\n") != NULL);
	CHECK(strstr(cJSON_GetStringValue(api_data(&a)), "fqdn: \"ci1.example.com\"\n") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/120/cloudinit/dump", "type=network", "admin@pve");
	CHECK(strstr(cJSON_GetStringValue(api_data(&a)), "mac_address: 'bc:24:11:00:00:01'") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/120/cloudinit/dump", "type=meta", "admin@pve");
	snprintf(want, sizeof(want), "%.13s", cJSON_GetStringValue(api_data(&a)));
	CHECK_STR(want, "instance-id: ");
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/120/cloudinit/dump", "type=vendor", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "type") != NULL);
	api_answer_free(&a);
	/* the image is written (no QEMU: a stopped VM) and its values recorded */
	a = api_call(&f, "PUT", NODE_QEMU "/120/config", "ipconfig0=ip%3Ddhcp", "admin@pve");
	CHECK_INT(a.status, 200);
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/120/cloudinit", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsNull(api_data(&a)));
	api_answer_free(&a);
	row = ci_row(&f, "ipconfig0");
	CHECK_STR(api_str(row, "value"), "ip=dhcp");
	CHECK(!api_has(row, "pending"));
	cJSON_Delete(row);
	api_fixture_close_storage(&f);
}

static void test_privileges(void)
{
	struct api_fixture f;
	struct api_answer a;

	api_fixture_open_storage(&f, "privs");
	create_vm(&f);
	a = api_call(&f, "GET", NODE_QEMU "/120/cloudinit", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	a = api_call(&f, "PUT", NODE_QEMU "/120/cloudinit", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/120/cloudinit/dump", "type=user", "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/999/cloudinit", NULL, "admin@pve");
	CHECK_INT(a.status, 500);
	CHECK(strstr(a.reason, "does not exist") != NULL);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

/* The forms clients send: file= and media=cdrom given (bpg), raw format;
 * virtio cannot carry it. */
static void test_drive_forms(void)
{
	struct api_fixture f;
	struct api_answer a;
	char status[512] = "";

	api_fixture_open_storage(&f, "forms");
	a = api_call(&f, "POST", NODE_QEMU,
		     "vmid=121&scsi1=file%3Dlocal%3Acloudinit%2Cmedia%3Dcdrom&"
		     "sata0=local%3Acloudinit%2Cformat%3Draw", "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK_INT(tasks_wait(f.app.tasks, cJSON_GetStringValue(api_data(&a)), 20000, status,
			     sizeof(status)), 0);
	CHECK_STR(status, "OK");
	api_answer_free(&a);
	a = api_call(&f, "GET", NODE_QEMU "/121/config", NULL, "admin@pve");
	CHECK_STR(api_str(api_data(&a), "scsi1"), "local:121/vm-121-cloudinit.qcow2,media=cdrom");
	CHECK_STR(api_str(api_data(&a), "sata0"), "local:121/vm-121-cloudinit.raw,media=cdrom");
	api_answer_free(&a);
	a = api_call(&f, "POST", NODE_QEMU, "vmid=122&virtio0=local%3Acloudinit", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "virtio0") != NULL);
	api_answer_free(&a);
	api_fixture_close_storage(&f);
}

static const struct test_case cases[] = {
	{ "drive forms clients send", test_drive_forms },
	{ "create allocates the drive; rows before any image", test_create_and_rows },
	{ "rows against the values of the last image", test_pending_rows },
	{ "dump types; PUT cloudinit writes the image", test_dump_and_put },
	{ "privileges and a missing VM", test_privileges },
};

TEST_MAIN(cases)
