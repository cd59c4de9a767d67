/* Tests hv/migrate.c against a scripted QEMU (the QMP runner of struct
 * hv_mig_qemu): the target and source command sequences, the switchover,
 * rollback after a failure or a stop, the status parsers; and
 * hv/migrate_tls.c's certificates with OpenSSL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "hv/migrate.h"
#include "tests/unit/test.h"

static char err[512];

/* query-block answers: virtio0 as started, and after a disk move */
#define ORIG_NODES                                                                    \
	"[{\"qdev\":\"/machine/peripheral/virtio0/virtio-backend\","                   \
	"\"inserted\":{\"node-name\":\"drive-virtio0\"}}]"
#define MOVED_NODES                                                                   \
	"[{\"qdev\":\"/machine/peripheral/virtio0/virtio-backend\","                   \
	"\"inserted\":{\"node-name\":\"mig-virtio0\"}}]"

/* ---- a scripted QEMU ---------------------------------------------------------------- */

struct fake {
	struct buf log;           /* "cmd args;" per command */
	const char *fail_cmd;     /* this command answers with an error */
	int jobs;                 /* mirror jobs started */
	int cancelled;            /* block-job-cancel calls */
	int polls;                /* query-migrate calls */
	int paused;               /* query-status says paused */
	int continued;            /* migrate-continue seen */
	int mig_cancelled;        /* migrate_cancel seen */
	int completed;            /* job-complete calls */
	int stuck;                /* the migration stays active, no byte moves */
	const char *nodes;        /* query-block answer (JSON) */
};

static cJSON *jobs_json(const struct fake *f)
{
	cJSON *a = cJSON_CreateArray();
	static const char *const ids[] = { "mig-virtio0", "mig-virtio1" };

	for (int i = 0; i < f->jobs; i++) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "device", ids[i]);
		cJSON_AddNumberToObject(j, "offset", 100);
		cJSON_AddNumberToObject(j, "len", 100);
		cJSON_AddBoolToObject(j, "ready", 1);
		cJSON_AddStringToObject(j, "status",
					f->cancelled > i || f->completed > i ? "concluded" : "ready");
		cJSON_AddItemToArray(a, j);
	}
	return a;
}

static cJSON *migrate_json(struct fake *f)
{
	const char *st = f->mig_cancelled ? "cancelled"
			 : f->stuck	  ? "active"
			 : f->continued	  ? "completed"
			 : ++f->polls < 3 ? "active"
					  : "pre-switchover";
	char text[256];

	if (strcmp(st, "pre-switchover") == 0)
		f->paused = 1;
	snprintf(text, sizeof(text),
		 "{\"status\":\"%s\",\"downtime\":42,\"total-time\":900,\"setup-time\":3,"
		 "\"ram\":{\"transferred\":1000,\"remaining\":10,\"total\":2000,\"mbps\":80.5,"
		 "\"dirty-pages-rate\":7,\"dirty-sync-count\":2}}",
		 st);
	return cJSON_Parse(text);
}

static int fake_qmp(void *ctx, const char *cmd, const cJSON *args, int timeout_ms, cJSON **ret,
		    char *e, size_t elen)
{
	struct fake *f = ctx;
	char *a = args ? cJSON_PrintUnformatted(args) : NULL;

	(void)timeout_ms;
	buf_printf(&f->log, "%s %s;", cmd, a ? a : "-");
	free(a);
	if (f->fail_cmd && strcmp(cmd, f->fail_cmd) == 0) {
		snprintf(e, elen, "GenericError: scripted failure");
		return CR_EQMP;
	}
	if (strcmp(cmd, "blockdev-mirror") == 0)
		f->jobs++;
	if (strcmp(cmd, "block-job-cancel") == 0)
		f->cancelled++;
	if (strcmp(cmd, "migrate-continue") == 0)
		f->continued = 1;
	if (strcmp(cmd, "migrate_cancel") == 0)
		f->mig_cancelled = 1;
	if (strcmp(cmd, "cont") == 0)
		f->paused = 0;
	if (strcmp(cmd, "job-complete") == 0)
		f->completed++;
	if (ret && strcmp(cmd, "query-status") == 0)
		*ret = cJSON_Parse(f->paused ? "{\"status\":\"paused\"}" : "{\"status\":\"running\"}");
	else if (ret && strcmp(cmd, "query-block-jobs") == 0)
		*ret = jobs_json(f);
	else if (ret && strcmp(cmd, "query-migrate") == 0)
		*ret = migrate_json(f);
	else if (ret && strcmp(cmd, "query-block") == 0)
		*ret = cJSON_Parse(f->nodes ? f->nodes : "[]");
	else if (ret)
		*ret = cJSON_CreateObject();
	return 0;
}

static const char *logged(const struct fake *f)
{
	return f->log.data ? f->log.data : "";
}

/* 1 if the commands NAMES appear in that order in F's log. */
static int in_order(const struct fake *f, const char *const *names, size_t n)
{
	const char *p = logged(f);

	for (size_t i = 0; i < n; i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "%s ", names[i]);
		p = strstr(p, needle);
		if (!p) {
			fprintf(stderr, "  %s missing in: %s\n", names[i], logged(f));
			return 0;
		}
		p += strlen(needle);
	}
	return 1;
}

/* ---- target ---------------------------------------------------------------------------- */

static void test_target_sequence(void)
{
	struct fake f = { .log = BUF_INIT };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };
	struct hv_mig_target_opts o = { .tls_dir = "/run/x/100.migtls", .listen_host = "10.0.0.2",
					 .nbd_port = 60001, .mig_port = 60002,
					 .disks = { { "virtio0", "scsi1" }, 2 } };
	static const char *const seq[] = { "object-add", "nbd-server-start", "block-export-add",
					   "block-export-add", "migrate-set-parameters",
					   "migrate-incoming" };

	CHECK_INT(hv_mig_target_prepare(&q, &o, err, sizeof(err)), 0);
	CHECK(in_order(&f, seq, 6));
	CHECK(strstr(logged(&f), "\"endpoint\":\"server\",\"verify-peer\":true") != NULL);
	CHECK(strstr(logged(&f), "\"node-name\":\"drive-scsi1\",\"name\":\"scsi1\",\"writable\":true"));
	CHECK(strstr(logged(&f), "\"host\":\"10.0.0.2\",\"port\":\"60001\"") != NULL);
	CHECK(strstr(logged(&f), "{\"uri\":\"tcp:10.0.0.2:60002\"}") != NULL);
	buf_free(&f.log);

	/* IPv6 listener: the URI brackets the address */
	f = (struct fake){ .log = BUF_INIT };
	o.listen_host = "fd00::2";
	CHECK_INT(hv_mig_target_prepare(&q, &o, err, sizeof(err)), 0);
	CHECK(strstr(logged(&f), "tcp:[fd00::2]:60002") != NULL);
	buf_free(&f.log);
}

static void test_target_finish(void)
{
	struct fake f = { .log = BUF_INIT, .continued = 1, .paused = 1 };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };
	static const char *const seq[] = { "query-migrate", "nbd-server-stop", "query-status",
					   "cont", "migrate-set-parameters", "object-del" };

	CHECK_INT(hv_mig_target_finish(&q, 1000, err, sizeof(err)), 0);
	CHECK(in_order(&f, seq, 6));
	CHECK(strstr(logged(&f), "{\"tls-creds\":\"\"}") != NULL);
	buf_free(&f.log);
}

/* ---- source ---------------------------------------------------------------------------- */

static int progress_calls, stop_in_ram;

static int on_progress(void *opaque, const struct hv_mig_progress *p)
{
	(void)opaque;
	progress_calls++;
	return stop_in_ram && p->phase == HV_MIG_RAM;
}

static const struct hv_mig_source_opts source_opts = {
	.tls_dir = "/run/x/100.migtls-out", .host = "10.0.0.2", .nbd_port = 60001,
	.mig_port = 60002, .disks = { { "virtio0", "virtio1" }, 2 }, .bwlimit_kib = 1024,
	.progress = on_progress,
};

static void test_source_success(void)
{
	struct fake f = { .log = BUF_INIT };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };
	struct hv_mig_progress last;
	static const char *const seq[] = {
		"object-add", "blockdev-add", "blockdev-mirror", "blockdev-add", "blockdev-mirror",
		"query-block-jobs", "migrate-set-capabilities", "migrate-set-parameters", "migrate",
		"query-migrate", "block-job-cancel", "job-dismiss", "blockdev-del",
		"block-job-cancel", "job-dismiss", "blockdev-del", "migrate-continue",
	};

	progress_calls = stop_in_ram = 0;
	CHECK_INT(hv_mig_source_run(&q, &source_opts, &last, err, sizeof(err)), 0);
	CHECK(in_order(&f, seq, ARRAY_SIZE(seq)));
	CHECK(strstr(logged(&f), "\"tls-creds\":\"mig-tls\",\"tls-hostname\":\"corral-migration\""));
	CHECK(strstr(logged(&f), "\"sync\":\"full\"") != NULL);
	CHECK(strstr(logged(&f), "\"speed\":1048576") != NULL);
	CHECK(strstr(logged(&f), "\"max-bandwidth\":1048576,\"downtime-limit\":300") != NULL);
	CHECK(strstr(logged(&f), "\"capability\":\"pause-before-switchover\",\"state\":true"));
	CHECK(strstr(logged(&f), "{\"uri\":\"tcp:10.0.0.2:60002\"}") != NULL);
	/* a ready mirror is ended without force (it finishes its copy) */
	CHECK(strstr(logged(&f), "{\"device\":\"mig-virtio0\",\"force\":false}") != NULL);
	CHECK(strstr(logged(&f), "migrate_cancel") == NULL);
	CHECK_STR(last.status, "completed");
	CHECK_INT(last.phase, HV_MIG_DONE);
	CHECK_INT(last.downtime_ms, 42);
	CHECK_INT(last.total_ms, 900);
	CHECK(progress_calls >= 2);
	buf_free(&f.log);
}

static void test_source_rollback_after_failure(void)
{
	struct fake f = { .log = BUF_INIT, .fail_cmd = "migrate-continue" };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };
	static const char *const seq[] = { "migrate_cancel", "migrate-set-capabilities",
					   "object-del", "query-status", "cont" };

	stop_in_ram = 0;
	CHECK_INT(hv_mig_source_run(&q, &source_opts, NULL, err, sizeof(err)), CR_EQMP);
	CHECK(strstr(err, "scripted failure") != NULL);
	/* paused at pre-switchover when it failed: resumed by the rollback */
	CHECK(in_order(&f, seq, ARRAY_SIZE(seq)));
	CHECK(strstr(logged(&f), "\"capability\":\"pause-before-switchover\",\"state\":false"));
	CHECK_INT(f.paused, 0);
	buf_free(&f.log);
}

static void test_source_stopped_in_ram(void)
{
	struct fake f = { .log = BUF_INIT };
	const char *p;
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };

	stop_in_ram = 1;
	CHECK_INT(hv_mig_source_run(&q, &source_opts, NULL, err, sizeof(err)), -ECANCELED);
	CHECK(strstr(logged(&f), "migrate_cancel") != NULL);
	/* the sockets shut down first, so a dead link cannot hold the drain */
	CHECK(in_order(&f, (const char *const[]){ "yank", "yank", "yank", "migrate_cancel" }, 4));
	/* NBD before migration: the migration's cleanup drains the NBD nodes */
	p = strstr(logged(&f), "yank {\"instances\":[{\"type\":\"block-node\","
				"\"node-name\":\"mig-nbd-virtio1\"}]}");
	CHECK(p != NULL);
	CHECK(p && strstr(p, "yank {\"instances\":[{\"type\":\"migration\"}]}") != NULL);
	/* both mirror jobs abandoned and their NBD nodes removed */
	CHECK(strstr(logged(&f), "{\"device\":\"mig-virtio1\",\"force\":true}") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"mig-nbd-virtio1\"}") != NULL);
	CHECK(strstr(logged(&f), "cont -") == NULL); /* it never stopped running */
	stop_in_ram = 0;
	buf_free(&f.log);
}

/* No byte moves (a link that drops packets): failed after the stall limit,
 * rolled back. */
static void test_source_stalled(void)
{
	struct fake f = { .log = BUF_INIT, .stuck = 1 };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };
	struct hv_mig_source_opts o = source_opts;

	o.stall_ms = 300;
	o.bwlimit_kib = 0; /* a limit would lengthen the wait (a mirror chunk's time) */
	CHECK_INT(hv_mig_source_run(&q, &o, NULL, err, sizeof(err)), CR_ETIMEOUT);
	CHECK(strstr(err, "link lost") != NULL);
	CHECK(strstr(logged(&f), "migrate_cancel") != NULL);
	buf_free(&f.log);
}

/* A VM whose virtio0 moved (node mig-virtio0) mirrors that node into an
 * NBD node of another name. */
static void test_source_moved_drive(void)
{
	struct fake f = { .log = BUF_INIT, .nodes = MOVED_NODES };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };

	CHECK_INT(hv_mig_source_run(&q, &source_opts, NULL, err, sizeof(err)), 0);
	CHECK(strstr(logged(&f), "\"node-name\":\"mig-nbd-virtio0\"") != NULL);
	CHECK(strstr(logged(&f), "\"device\":\"mig-virtio0\",\"target\":\"mig-nbd-virtio0\""));
	CHECK(strstr(logged(&f), "\"device\":\"drive-virtio1\",\"target\":\"mig-nbd-virtio1\""));
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"mig-virtio0\"}") == NULL);
	buf_free(&f.log);
}

static void test_source_mirror_failure(void)
{
	struct fake f = { .log = BUF_INIT, .fail_cmd = "blockdev-add" };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };

	CHECK_INT(hv_mig_source_run(&q, &source_opts, NULL, err, sizeof(err)), CR_EQMP);
	CHECK(strstr(logged(&f), "blockdev-mirror") == NULL);
	CHECK(strstr(logged(&f), "migrate {") == NULL);
	CHECK(strstr(logged(&f), "object-del {\"id\":\"mig-tls\"}") != NULL);
	buf_free(&f.log);
}

/* ---- local disk move ------------------------------------------------------------------- */

static void test_local_move(void)
{
	struct fake f = { .log = BUF_INIT, .nodes = ORIG_NODES };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };
	static const char *const seq[] = { "query-block", "blockdev-add",
					   "blockdev-mirror", "query-block-jobs", "job-complete",
					   "job-dismiss", "blockdev-del", "blockdev-del" };

	progress_calls = stop_in_ram = 0;
	CHECK_INT(hv_mig_local_move(&q, "virtio0", "/p/vm-100-disk-1.raw", "raw", 2048,
				    on_progress, NULL, err, sizeof(err)), 0);
	CHECK(in_order(&f, seq, ARRAY_SIZE(seq)));
	CHECK(strstr(logged(&f), "blockdev-add {\"driver\":\"raw\",\"file\":{\"driver\":\"file\","
				 "\"node-name\":\"mig-file-virtio0\",\"filename\":"
				 "\"/p/vm-100-disk-1.raw\"},\"node-name\":\"mig-virtio0\"}"));
	CHECK(strstr(logged(&f), "\"device\":\"drive-virtio0\",\"target\":\"mig-virtio0\""));
	CHECK(strstr(logged(&f), "\"speed\":2097152") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"drive-virtio0\"}") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"file-virtio0\"}") != NULL);
	CHECK(strstr(logged(&f), "block-job-cancel") == NULL);
	CHECK(progress_calls >= 1);
	buf_free(&f.log);
}

/* After one move the drive's node is mig-KEY: the next move goes back to the
 * original names. */
static void test_local_move_again(void)
{
	struct fake f = { .log = BUF_INIT, .nodes = MOVED_NODES };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };

	CHECK_INT(hv_mig_local_move(&q, "virtio0", "/p/x.qcow2", "qcow2", 0, NULL, NULL, err,
				    sizeof(err)), 0);
	CHECK(strstr(logged(&f), "\"device\":\"mig-virtio0\",\"target\":\"drive-virtio0\""));
	CHECK(strstr(logged(&f), "\"node-name\":\"file-virtio0\",\"filename\":\"/p/x.qcow2\""));
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"mig-virtio0\"}") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"mig-file-virtio0\"}") != NULL);
	CHECK(strstr(logged(&f), "\"speed\"") == NULL);
	buf_free(&f.log);
}

/* A failed switch leaves the VM on its disk: the job abandoned, the new
 * nodes removed, the old ones kept. */
static void test_local_move_failure(void)
{
	struct fake f = { .log = BUF_INIT, .nodes = ORIG_NODES, .fail_cmd = "job-complete" };
	struct hv_mig_qemu q = { .fn = fake_qmp, .ctx = &f };

	CHECK_INT(hv_mig_local_move(&q, "virtio0", "/p/y.qcow2", "qcow2", 0, NULL, NULL, err,
				    sizeof(err)), CR_EQMP);
	CHECK(strstr(err, "scripted failure") != NULL);
	CHECK(strstr(logged(&f), "{\"device\":\"mig-virtio0\",\"force\":true}") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"mig-virtio0\"}") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"mig-file-virtio0\"}") != NULL);
	CHECK(strstr(logged(&f), "blockdev-del {\"node-name\":\"drive-virtio0\"}") == NULL);
	buf_free(&f.log);
}

/* ---- parsers ---------------------------------------------------------------------------- */

static void test_parse(void)
{
	struct hv_mig_progress p;
	cJSON *j = cJSON_Parse("{\"status\":\"active\",\"expected-downtime\":120,"
			       "\"ram\":{\"transferred\":5,\"remaining\":6,\"total\":11,\"mbps\":8,"
			       "\"dirty-pages-rate\":9}}");

	memset(&p, 0, sizeof(p));
	CHECK_INT(hv_mig_parse_migrate(j, &p), 0);
	CHECK_STR(p.status, "active");
	CHECK_INT(p.transferred, 5);
	CHECK_INT(p.remaining, 6);
	CHECK_INT(p.total, 11);
	CHECK_INT(p.dirty_rate, 9);
	CHECK_INT(p.expected_downtime_ms, 120);
	CHECK_INT(p.downtime_ms, -1);
	cJSON_Delete(j);
	CHECK_INT(hv_mig_parse_migrate(NULL, &p), -EINVAL);
	j = cJSON_Parse("{}");
	CHECK_INT(hv_mig_parse_migrate(j, &p), -EINVAL);
	cJSON_Delete(j);

	j = cJSON_Parse("[{\"device\":\"mig-a\",\"offset\":3,\"len\":10,\"ready\":true},"
			"{\"device\":\"backup-x\",\"offset\":99,\"len\":99},"
			"{\"device\":\"mig-b\",\"offset\":4,\"len\":10,\"ready\":false}]");
	CHECK_INT(hv_mig_parse_jobs(j, &p), 2);
	CHECK_INT(p.disk_done, 7);
	CHECK_INT(p.disk_total, 20);
	CHECK_INT(p.disks_ready, 1);
	cJSON_Delete(j);
}

/* ---- TLS -------------------------------------------------------------------------------- */

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return c;
}

static void test_tls(void)
{
	struct hv_mig_tls t;
	X509 *ca, *srv, *cli;

	CHECK_INT(hv_mig_tls_new(&t, err, sizeof(err)), 0);
	ca = pem_cert(t.ca_cert);
	srv = pem_cert(t.server_cert);
	cli = pem_cert(t.client_cert);
	CHECK(ca && srv && cli);
	if (ca && srv && cli) {
		CHECK_INT(X509_verify(srv, X509_get0_pubkey(ca)), 1);
		CHECK_INT(X509_verify(cli, X509_get0_pubkey(ca)), 1);
		CHECK_INT(X509_check_ca(ca), 1);
		CHECK_INT(X509_check_ca(srv), 0);
		CHECK_INT(X509_check_host(srv, HV_MIG_TLS_HOSTNAME, 0, 0, NULL), 1);
		CHECK_INT(X509_check_purpose(srv, X509_PURPOSE_SSL_SERVER, 0), 1);
		CHECK_INT(X509_check_purpose(cli, X509_PURPOSE_SSL_CLIENT, 0), 1);
		CHECK_INT(X509_check_purpose(srv, X509_PURPOSE_SSL_CLIENT, 0), 0);
	}
	CHECK(strstr(t.server_key, "PRIVATE KEY") != NULL);
	X509_free(ca);
	X509_free(srv);
	X509_free(cli);
	hv_mig_tls_free(&t);
	CHECK(t.ca_cert == NULL);
}

static void test_tls_files(void)
{
	struct hv_mig_tls t;
	char dir[512], path[600];
	char *text = NULL;
	size_t len;

	CHECK_INT(hv_mig_tls_new(&t, err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/tls", test_tmpdir());
	CHECK_INT(hv_mig_tls_write(&t, dir, 1, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/server-key.pem", dir);
	CHECK_INT(util_read_file(path, 1 << 16, &text, &len), 0);
	CHECK(text && strcmp(text, t.server_key) == 0);
	free(text);
	snprintf(path, sizeof(path), "%s/client-key.pem", dir);
	CHECK(access(path, F_OK) != 0); /* the target never gets the client key */
	/* the server's DH group is written, so QEMU does not generate one */
	snprintf(path, sizeof(path), "%s/dh-params.pem", dir);
	CHECK_INT(util_read_file(path, 1 << 16, &text, &len), 0);
	CHECK(text && strncmp(text, "-----BEGIN DH PARAMETERS-----", 29) == 0);
	free(text);
	hv_mig_tls_remove(dir);
	CHECK(access(dir, F_OK) != 0);
	hv_mig_tls_free(&t);
}

static const struct test_case tests[] = {
	{ "target_sequence", test_target_sequence },
	{ "target_finish", test_target_finish },
	{ "source_success", test_source_success },
	{ "source_rollback_after_failure", test_source_rollback_after_failure },
	{ "source_stopped_in_ram", test_source_stopped_in_ram },
	{ "source_stalled", test_source_stalled },
	{ "source_moved_drive", test_source_moved_drive },
	{ "source_mirror_failure", test_source_mirror_failure },
	{ "local_move", test_local_move },
	{ "local_move_again", test_local_move_again },
	{ "local_move_failure", test_local_move_failure },
	{ "parse", test_parse },
	{ "tls", test_tls },
	{ "tls_files", test_tls_files },
};

TEST_MAIN(tests)
