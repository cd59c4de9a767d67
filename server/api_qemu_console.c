/* Consoles: POST …/vncproxy and …/termproxy hand out a one-time VNC ticket
 * and a port; GET …/vncwebsocket takes them (plus the ordinary auth cookie)
 * and switches the connection to a websocket bridged to the VM's VNC
 * socket (RFB, spoken by noVNC itself) or serial socket (Proxmox's
 * termproxy framing, for xterm.js). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "hv/argv.h"
#include "hv/vmconf.h"
#include "server/api.h"
#include "server/api_qemu_console.h"
#include "server/app.h"
#include "server/auth_int.h"
#include "server/auth_vnc.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/tls.h"
#include "server/ws_bridge.h"

#define CONSOLE_CERT_MAX (64 * 1024)
#define CONSOLE_PASSWORD_LEN 8

const struct param_spec api_qemu_vncproxy_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    QEMU_BOOL_OPT("websocket"),
    QEMU_BOOL_OPT("generate-password"),
    {.name = NULL},
};

const struct param_spec api_qemu_termproxy_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = "serial", .type = PT_ENUM, .flags = PF_OPTIONAL,
     .enum_values = "serial0|serial1|serial2|serial3"},
    {.name = NULL},
};

const struct param_spec api_qemu_vncwebsocket_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = "port", .type = PT_INTEGER, .min = CONSOLE_PORT_MIN, .max = CONSOLE_PORT_MAX},
    {.name = "vncticket", .type = PT_STRING, .max = AUTH_VNC_TICKET_MAX},
    {.name = NULL},
};

/* --- granting --- */

static void console_authid(const struct req *req, char *out, size_t n)
{
	auth_authid(req->who, out, n);
}

/* The VM exists and runs here; CONF gets its configuration (caller clears). */
static int console_vm(struct req *req, struct resp *resp, int vmid, struct qvm *vm)
{
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	if (!qemu_running(req->app, vmid)) {
		qvm_clear(vm);
		return resp_error(resp, CR_ENOTRUNNING, "VM %d not running", vmid);
	}
	return 0;
}

struct grant_log {
	char what[CONSOLE_WHAT_MAX];
	unsigned port;
	char authid[192];
};

/* The task Proxmox's clients expect beside the ticket: it records who was
 * given which console. */
static int grant_task(struct task *t, void *arg)
{
	const struct grant_log *g = arg;

	task_log(t, "%s console for %s granted on port %u (ticket valid %d s, one connection)",
		 g->what, g->authid, g->port, AUTH_VNC_TICKET_LIFETIME);
	return 0;
}

/* Makes the ticket, records the grant and starts the task; fills DATA. */
static int grant(struct req *req, struct resp *resp, int vmid, const char *what)
{
	struct grant_log *gl = calloc(1, sizeof(*gl));
	char path[32], ticket[AUTH_VNC_TICKET_MAX], upid[UPID_MAX], err[256] = "";
	int r;

	if (!gl)
		return resp_error(resp, -ENOMEM, "out of memory");
	console_authid(req, gl->authid, sizeof(gl->authid));
	util_strlcpy(gl->what, what, sizeof(gl->what));
	snprintf(path, sizeof(path), "/vms/%d", vmid);
	r = auth_vncticket_make(req->app->auth, gl->authid, path, time(NULL), ticket, sizeof(ticket));
	if (r == 0)
		r = console_grant_add(req->app->consoles, ticket, gl->authid, vmid, what, time(NULL),
				      AUTH_VNC_TICKET_LIFETIME, &gl->port);
	if (r < 0) {
		free(gl);
		return resp_error(resp, r == -EAGAIN ? CR_EINTERNAL : r, "%s",
				  r == -EAGAIN ? "too many console tickets waiting, retry later"
					       : "cannot make a VNC ticket");
	}
	resp->data = cJSON_CreateObject();
	cJSON_AddStringToObject(resp->data, "user", gl->authid);
	cJSON_AddStringToObject(resp->data, "ticket", ticket);
	cJSON_AddNumberToObject(resp->data, "port", gl->port);
	snprintf(path, sizeof(path), "%d", vmid);
	r = tasks_start(req->app->tasks, "vncproxy", path, req->who, NULL, grant_task, gl, free, upid,
			err, sizeof(err));
	if (r < 0)
		return resp_error(resp, r, "%s", err[0] ? err : err_str(r));
	cJSON_AddStringToObject(resp->data, "upid", upid);
	return 0;
}

/* The node certificate in PEM, which Proxmox returns for VNC clients. */
static void add_cert(struct app *app, cJSON *data)
{
	char path[APP_PATH_MAX + 64], *pem = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/certs/" TLS_CERT_FILE, app->cfg.data_dir);
	if (util_read_file(path, CONSOLE_CERT_MAX, &pem, &len) == 0)
		cJSON_AddStringToObject(data, "cert", pem);
	free(pem);
}

/* generate-password: a random password is returned as Proxmox does.  The
 * VM's VNC socket asks for none (security type None): the websocket in
 * front of it is what the ticket guards. */
static void add_password(cJSON *data)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[CONSOLE_PASSWORD_LEN];
	char pw[CONSOLE_PASSWORD_LEN + 1];

	if (auth_random(rnd, sizeof(rnd)) < 0)
		return;
	for (size_t i = 0; i < sizeof(rnd); i++)
		pw[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	pw[CONSOLE_PASSWORD_LEN] = '\0';
	cJSON_AddStringToObject(data, "password", pw);
}

int api_qemu_vncproxy(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r;
	struct qvm vm;

	if ((r = console_vm(req, resp, vmid, &vm)) < 0)
		return r;
	qvm_clear(&vm);
	if ((r = grant(req, resp, vmid, "vnc")) < 0)
		return r;
	add_cert(req->app, resp->data);
	if (req_bool(req, "generate-password", 0))
		add_password(resp->data);
	return 0;
}

/* Proxmox's termproxy without "serial" opens the monitor; Corral serves
 * serial consoles only, so it takes the first one the VM has. */
static const char *pick_serial(const struct req *req, const struct vmconf *conf)
{
	static const char *const serials[] = { "serial0", "serial1", "serial2", "serial3" };
	const char *want = req_str(req, "serial");

	for (size_t i = 0; i < ARRAY_SIZE(serials); i++)
		if ((!want || strcmp(want, serials[i]) == 0) && vmconf_get(conf, serials[i]))
			return serials[i];
	return NULL;
}

int api_qemu_termproxy(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r;
	const char *serial;
	struct qvm vm;

	if ((r = console_vm(req, resp, vmid, &vm)) < 0)
		return r;
	serial = pick_serial(req, vm.conf);
	qvm_clear(&vm);
	if (!serial)
		return resp_error(resp, CR_EINTERNAL, "VM %d has no serial port %s", vmid,
				  req_str(req, "serial") ? req_str(req, "serial") : "(serial0-3)");
	return grant(req, resp, vmid, serial);
}

/* --- the websocket --- */

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) < 0)
		return -ENAMETOOLONG;
	/* Non-blocking: a serial socket whose one client slot and backlog are
	 * taken answers EAGAIN at once instead of holding an HTTP thread. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* The VM's socket for WHAT ("vnc", "serialN"), connected. */
static int console_socket(struct req *req, struct resp *resp, int vmid, const char *what)
{
	char path[APP_PATH_MAX + 64];
	int fd;

	if (hv_run_path(path, sizeof(path), req->app->cfg.run_dir, vmid, what) < 0)
		return resp_error(resp, CR_EINTERNAL, "run directory path too long");
	fd = connect_unix(path);
	if (fd == -EAGAIN)
		return resp_error(resp, CR_EINTERNAL, "VM %d: its %s console is busy", vmid, what);
	if (fd < 0)
		return resp_error(resp, CR_ENOTRUNNING, "VM %d: cannot connect to its %s console: %s",
				  vmid, what, strerror(-fd));
	return fd;
}

static int open_bridge(struct req *req, struct resp *resp, int vmid, const char *what,
		       const char *authid)
{
	char label[256];
	struct ws_session_opts o = {
		.mode = strcmp(what, "vnc") == 0 ? WS_BRIDGE_RAW : WS_BRIDGE_TERM,
		.auth_user = authid,
		.auth_ticket = req_str(req, "vncticket"),
		.label = label,
	};
	int fd = console_socket(req, resp, vmid, what), r;

	if (fd < 0)
		return fd;
	snprintf(label, sizeof(label), "VM %d %s (%s)", vmid, what, authid);
	r = ws_session_new(req->app->ws, req->conn, fd, &o, &resp->upgrade);
	if (r == -EAGAIN)
		return resp_error(resp, CR_EINTERNAL, "too many console connections");
	return r < 0 ? resp_error(resp, CR_EBADREQ, "invalid websocket request") : 0;
}

int api_qemu_vncwebsocket(struct req *req, struct resp *resp)
{
	char authid[192], path[32], what[CONSOLE_WHAT_MAX], err[128];
	const char *ticket = req_str(req, "vncticket");
	int vmid = qemu_vmid(req), r = api_node_check(req, resp);
	time_t now = time(NULL);

	if (r < 0)
		return r;
	if (!req->conn || ws_request_check(req->conn, err, sizeof(err)) < 0)
		return resp_error(resp, CR_EBADREQ, "websocket upgrade expected: %s",
				  req->conn ? err : "no connection");
	console_authid(req, authid, sizeof(authid));
	snprintf(path, sizeof(path), "/vms/%d", vmid);
	if (auth_vncticket_verify(req->app->auth, ticket, authid, path, now) < 0 ||
	    console_grant_take(req->app->consoles, ticket, authid, vmid,
			       (unsigned)req_int(req, "port", 0), now, what, sizeof(what)) < 0)
		return resp_error(resp, CR_EPERM_CHECK, "Permission denied - invalid vnc ticket");
	return open_bridge(req, resp, vmid, what, authid);
}
