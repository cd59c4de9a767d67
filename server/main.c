/* corrald, the node daemon.  Start-up: settings, directories, store, TLS
 * identity, authentication, tasks, HTTPS; SIGTERM/SIGINT stop it in the
 * reverse order, letting requests in flight finish. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "hv/vm.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/config.h"
#include "server/api_qemu_console.h"
#include "server/http.h"
#include "server/nodeinfo.h"
#include "server/rescache.h"
#include "server/rrdstat.h"
#include "server/sdnotify.h"
#include "server/store.h"
#include "server/tasks.h"
#include "server/ws_bridge.h"
#include "server/tls.h"
#include "server/api.h"
#include "storage/pool.h"

#define ADMIN_PASSWORD_ENV "CORRAL_ADMIN_PASSWORD"
#define ADMIN_PASSWORD_FILE "initial-admin-password"

/* DATA/<name> into OUT. */
static void data_path(const struct app *app, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%.*s/%s", (int)(n / 2), app->cfg.data_dir, name);
}

static int make_dirs(const struct app *app)
{
	const char *dirs[] = { app->cfg.data_dir, app->cfg.run_dir, app->cfg.log_dir };
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if ((rc = util_mkdir_p(dirs[i], 0700)) < 0) {
			log_error("cannot create %s: %s", dirs[i], err_str(rc));
			return rc;
		}
	}
	/* An existing data dir made by hand keeps no group/world access either. */
	chmod(app->cfg.data_dir, 0700);
	return 0;
}

/* "https://host:8006/": the listen address, or the host name for a wildcard. */
static void node_url(const struct app *app, char *out, size_t n)
{
	const char *a = app->cfg.listen_addr;
	int any = strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0;
	int v6 = !any && strchr(a, ':') != NULL;

	snprintf(out, n, "https://%s%s%s:%u/", v6 ? "[" : "", any ? app->cfg.node : a, v6 ? "]" : "",
		 app->cfg.listen_port);
}

/* First start without CORRAL_ADMIN_PASSWORD: show the generated password once. */
static int announce_admin(const struct app *app, const char *password)
{
	char path[APP_PATH_MAX + 64], url[256];
	int rc;

	data_path(app, ADMIN_PASSWORD_FILE, path, sizeof(path));
	rc = util_write_file_atomic(path, password, strlen(password), 0600);
	if (rc < 0)
		log_error("cannot write %s: %s", path, err_str(rc));
	node_url(app, url, sizeof(url));
	printf("corrald: first start of node %s\n"
	       "  URL:                 %s\n"
	       "  user:                admin@pve\n"
	       "  password:            %s   (also in %s)\n"
	       "  certificate SHA-256: %s\n",
	       app->cfg.node, url, password, path, app->cert_fingerprint);
	fflush(stdout);
	return rc;
}

static int start_auth(struct app *app)
{
	char dir[APP_PATH_MAX + 64], err[256] = "", generated[64];
	int rc;

	data_path(app, "auth", dir, sizeof(dir));
	if ((rc = auth_new(app, dir, &app->auth, err, sizeof(err))) < 0) {
		log_error("authentication keys: %s", err);
		return rc;
	}
	rc = auth_bootstrap_admin(app->auth, getenv(ADMIN_PASSWORD_ENV), generated,
				  sizeof(generated));
	if (rc < 0) {
		log_error("cannot create admin@pve: %s", err_str(rc));
		return rc;
	}
	return generated[0] ? announce_admin(app, generated) : 0;
}

/* The task index in DATA/db-tasks, committed without syncing at task start
 * (store.h): one an OS crash damaged starts afresh, losing task history
 * only; VM configurations stay in the synced store. */
static int open_task_store(struct app *app)
{
	char dir[APP_PATH_MAX + 64], file[APP_PATH_MAX + 96], err[256] = "";
	int rc;

	data_path(app, "db-tasks", dir, sizeof(dir));
	rc = store_open_flags(dir, STORE_NOSYNC, &app->task_store, err, sizeof(err));
	if (rc < 0) {
		log_warn("task index %s: %s; starting a new one", dir, err);
		snprintf(file, sizeof(file), "%s/data.mdb", dir);
		unlink(file);
		rc = store_open_flags(dir, STORE_NOSYNC, &app->task_store, err, sizeof(err));
	}
	if (rc < 0)
		log_error("task index %s: %s", dir, err);
	return rc;
}

static int start_store_and_tls(struct app *app, char **key, char **cert)
{
	char dir[APP_PATH_MAX + 64], err[256] = "";
	int rc;

	data_path(app, "db", dir, sizeof(dir));
	if ((rc = store_open(dir, &app->store, err, sizeof(err))) < 0) {
		log_error("store %s: %s", dir, err);
		return rc;
	}
	if ((rc = open_task_store(app)) < 0)
		return rc;
	data_path(app, "certs", dir, sizeof(dir));
	rc = tls_load_or_create(dir, app->cfg.node, key, cert, app->cert_fingerprint, err,
				sizeof(err));
	if (rc < 0)
		log_error("TLS: %s", err);
	return rc;
}

static int start_http(struct app *app, const char *key, const char *cert)
{
	struct http_options opt = {
		.listen_addr = app->cfg.listen_addr,
		.port = app->cfg.listen_port,
		.threads = app->cfg.http_threads,
		.idle_timeout = app->cfg.http_idle_timeout,
		.key_pem = key,
		.cert_pem = cert,
		.webui_dir = app->cfg.webui_dir,
	};
	char err[256] = "", url[256];
	int rc = http_start(app, &opt, &app->http, err, sizeof(err));
	int v6 = strchr(app->cfg.listen_addr, ':') != NULL;

	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	node_url(app, url, sizeof(url));
	log_info("corrald %s listening on %s%s%s:%u (%s), node %s, certificate %s", CORRAL_VERSION,
		 v6 ? "[" : "", app->cfg.listen_addr, v6 ? "]" : "", app->cfg.listen_port, url,
		 app->cfg.node, app->cert_fingerprint);
	return 0;
}

/* --- VMs: the pool "local" and the hypervisor (QEMU outlives corrald) --- */

/* Most running VMs re-attached at start-up that are named in the log. */
#define ATTACH_LOG_MAX 1024

/* hv events arrive on the supervisor thread: log them, nothing more. */
static void on_vm_event(void *opaque, const struct hv_event *ev)
{
	(void)opaque;
	if (ev->type == HV_EV_EXITED)
		log_info("VM %d: QEMU exited (wait status %d); VM is stopped", ev->vmid,
			 ev->wait_status);
	else
		log_info("VM %d: QMP event %s%s%s%s", ev->vmid, ev->name,
			 ev->guest ? " (guest)" : "", ev->reason && ev->reason[0] ? ", " : "",
			 ev->reason ? ev->reason : "");
}

static int start_vms(struct app *app)
{
	struct hv_config hc = { .run_dir = app->cfg.run_dir, .on_event = on_vm_event };
	char err[512] = "";
	int vmids[ATTACH_LOG_MAX], n, rc;

	if ((rc = api_storage_start(app, err, sizeof(err))) < 0) {
		log_error("storage definitions: %s", err);
		return rc;
	}
	if (err[0])
		log_warn("%s", err);
	if ((rc = hv_new(&hc, &app->hv, err, sizeof(err))) < 0) {
		log_error("hypervisor: %s", err);
		return rc;
	}
	n = hv_attach_all(app->hv, vmids, ATTACH_LOG_MAX, err, sizeof(err));
	if (n < 0)
		log_error("re-attaching running VMs: %s", err);
	for (int i = 0; i < n; i++)
		log_info("VM %d: running, re-attached", vmids[i]);
	api_qemu_migrate_recover(app);
	log_info("VMs run with -accel %s", hv_accel(app->hv));
	return 0;
}

/* Gossip runs only when DATA/cluster/cluster.json says this node is in a cluster. */
static int start_cluster(struct app *app)
{
	char err[512] = "";
	int rc = cluster_new(app, &app->cluster, err, sizeof(err));

	if (rc < 0)
		log_error("cluster: %s", err);
	else if (cluster_is_member(app->cluster, err, sizeof(err)))
		log_info("cluster %s: gossip on %s", err, app->cfg.gossip_listen);
	return rc;
}

/* Statistics history in DATA/rrd, sampled by its own thread. */
static int start_rrd(struct app *app)
{
	char dir[APP_PATH_MAX + 64], err[512] = "";
	int rc;

	data_path(app, "rrd", dir, sizeof(dir));
	if ((rc = rrdstat_new(app, dir, RRDSTAT_INTERVAL_S, &app->rrd, err, sizeof(err))) < 0)
		log_error("%s", err);
	return rc;
}

static int start(struct app *app)
{
	char *key = NULL, *cert = NULL;
	int rc = make_dirs(app);

	if (rc == 0)
		rc = start_store_and_tls(app, &key, &cert);
	if (rc == 0)
		rc = start_auth(app);
	if (rc == 0 && (rc = nodeinfo_new(&app->nodeinfo)) < 0)
		log_error("node figures: %s", err_str(rc));
	if (rc == 0 && (rc = rescache_new(&app->rescache)) < 0)
		log_error("resource rows: %s", err_str(rc));
	if (rc == 0)
		rc = start_vms(app);
	if (rc == 0)
		rc = start_rrd(app);
	if (rc == 0 && (rc = tasks_new(app, app->cfg.log_dir, app->cfg.task_workers, &app->tasks)) < 0)
		log_error("tasks in %s: %s", app->cfg.log_dir, err_str(rc));
	if (rc == 0 && ((rc = ws_hub_new(app->cfg.console_max, &app->ws)) < 0 ||
			(rc = console_grants_new(&app->consoles)) < 0))
		log_error("consoles: %s", err_str(rc));
	if (rc == 0)
		rc = start_http(app, key, cert);
	if (rc == 0)
		rc = start_cluster(app);
	free(key);
	free(cert);
	return rc;
}

/* Reverse order of start(); each part may be absent. */
static void stop(struct app *app)
{
	cluster_free(app->cluster); /* leaves gossip; peers see this node go */
	app->cluster = NULL;
	ws_hub_shutdown(app->ws); /* console bridges end before the HTTP server */
	http_stop(app->http);
	app->http = NULL;
	ws_hub_free(app->ws);
	console_grants_free(app->consoles);
	if (app->tasks)
		tasks_free(app->tasks);
	rrdstat_free(app->rrd); /* saves the statistics; samples the hv */
	if (app->hv)
		hv_free(app->hv); /* stops supervising; the VMs keep running */
	api_storage_stop(app);
	nodeinfo_free(app->nodeinfo);
	rescache_free(app->rescache);
	auth_free(app->auth);
	if (app->task_store)
		store_close(app->task_store);
	if (app->store)
		store_close(app->store);
}

static int wait_for_signal(const sigset_t *set)
{
	int sig = 0;

	while (sigwait(set, &sig) != 0)
		;
	return sig;
}

int main(int argc, char **argv)
{
	struct app app = { 0 };
	char err[512] = "";
	sigset_t set;
	int rc = config_load(&app.cfg, argc, argv, err, sizeof(err));

	if (rc == CONFIG_HELP) {
		config_usage(stdout, "corrald");
		return 0;
	}
	if (rc == CONFIG_VERSION) {
		printf("corrald %s\n", CORRAL_VERSION);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "corrald: %s\n", err);
		return 2;
	}
	log_set_level((enum log_level)app.cfg.log_level);
	/* Blocked before any thread starts, so only sigwait() below sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	app.started = time(NULL);
	rc = start(&app);
	if (rc == 0) {
		int sig;

		sdnotify("READY=1");
		sig = wait_for_signal(&set);
		app.stopping = 1;
		sdnotify("STOPPING=1");
		log_info("signal %d: stopping", sig);
	}
	stop(&app);
	if (rc == 0)
		log_info("corrald stopped");
	return rc < 0 ? 1 : 0;
}
