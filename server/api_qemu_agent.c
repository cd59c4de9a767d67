/* /nodes/{node}/qemu/{vmid}/agent: the QEMU guest agent of a running VM
 * (qemu-server API2/Qemu/Agent.pm): the plain commands as GET or POST
 * /agent/{command} and POST /agent, exec and exec-status, file-read and
 * file-write, set-user-password.  Answers are Proxmox's {"result": ...}. */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/propstr.h"
#include "hv/vm.h"
#include "server/app.h"
#include "server/auth_int.h"
#include "server/params.h"
#include "server/qemu_int.h"

#define AGENT_MS 10000            /* most commands: the agent answers at once */
#define AGENT_LONG_MS (600 * 1000) /* fsfreeze-thaw, fstrim */
#define AGENT_FREEZE_MS (3600 * 1000)
#define FILE_READ_MAX (16 << 20)   /* Proxmox reads at most 16 MiB */
#define FILE_WRITE_MAX (60 << 10)  /* and writes at most 60 KiB */
#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

struct agent_cmd {
	const char *name; /* the API's name; the agent's is "guest-" NAME */
	enum http_method method;
	int timeout_ms;
};

static const struct agent_cmd agent_cmds[] = {
	{ "fsfreeze-freeze", HTTP_POST, AGENT_FREEZE_MS },
	{ "fsfreeze-status", HTTP_POST, AGENT_MS },
	{ "fsfreeze-thaw", HTTP_POST, AGENT_LONG_MS },
	{ "fstrim", HTTP_POST, AGENT_LONG_MS },
	{ "get-fsinfo", HTTP_GET, AGENT_MS },
	{ "get-host-name", HTTP_GET, AGENT_MS },
	{ "get-memory-block-info", HTTP_GET, AGENT_MS },
	{ "get-memory-blocks", HTTP_GET, AGENT_MS },
	{ "get-osinfo", HTTP_GET, AGENT_MS },
	{ "get-time", HTTP_GET, AGENT_MS },
	{ "get-timezone", HTTP_GET, AGENT_MS },
	{ "get-users", HTTP_GET, AGENT_MS },
	{ "get-vcpus", HTTP_GET, AGENT_MS },
	{ "info", HTTP_GET, AGENT_MS },
	{ "network-get-interfaces", HTTP_GET, AGENT_MS },
	{ "ping", HTTP_POST, AGENT_MS },
	{ "shutdown", HTTP_POST, AGENT_MS },
	{ "suspend-disk", HTTP_POST, AGENT_MS },
	{ "suspend-hybrid", HTTP_POST, AGENT_MS },
	{ "suspend-ram", HTTP_POST, AGENT_MS },
};
#define N_AGENT_CMDS (sizeof(agent_cmds) / sizeof(agent_cmds[0]))

#define AGENT_CMD_ENUM                                                                       \
	"fsfreeze-freeze|fsfreeze-status|fsfreeze-thaw|fstrim|get-fsinfo|get-host-name|"     \
	"get-memory-block-info|get-memory-blocks|get-osinfo|get-time|get-timezone|get-users|" \
	"get-vcpus|info|network-get-interfaces|ping|shutdown|suspend-disk|suspend-hybrid|"  \
	"suspend-ram"

const struct param_spec api_qemu_agent_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "command", .type = PT_ENUM, .enum_values = AGENT_CMD_ENUM },
	{ .name = NULL },
};

const struct param_spec api_qemu_agent_exec_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "command", .type = PT_STRING, .flags = PF_ARRAY, .max = 4096 },
	{ .name = "input-data", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 65536 },
	{ .name = NULL },
};

const struct param_spec api_qemu_agent_exec_status_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "pid", .type = PT_INTEGER, .min = 0, .max = 2147483647 },
	{ .name = NULL },
};

const struct param_spec api_qemu_agent_file_read_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "file", .type = PT_STRING, .max = 4096 },
	{ .name = NULL },
};

const struct param_spec api_qemu_agent_file_write_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "file", .type = PT_STRING, .max = 4096 },
	{ .name = "content", .type = PT_STRING, .max = FILE_WRITE_MAX },
	{ .name = "encode", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = NULL },
};

const struct param_spec api_qemu_agent_password_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "username", .type = PT_STRING, .max = 256 },
	{ .name = "password", .type = PT_STRING, .flags = PF_SECRET, .min = 5, .max = 1024 },
	{ .name = "crypted", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = NULL },
};

static const struct agent_cmd *agent_cmd_find(const char *name)
{
	for (size_t i = 0; name && i < N_AGENT_CMDS; i++)
		if (strcmp(agent_cmds[i].name, name) == 0)
			return &agent_cmds[i];
	return NULL;
}

int qemu_agent_enabled(const struct vmconf *conf)
{
	const char *v = vmconf_get(conf, "agent");
	struct propstr p;
	char err[128];
	int on = 0;

	if (v && propstr_parse(v, "enabled", &p, err, sizeof(err)) == 0) {
		on = propstr_bool(propstr_get(&p, "enabled")) == 1;
		propstr_free(&p);
	}
	return on;
}

/* The VM exists, has the agent enabled and runs here (Proxmox's words). */
static int agent_vm(struct req *req, struct resp *resp, int vmid)
{
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm), on;

	if (r < 0)
		return r;
	on = qemu_agent_enabled(vm.conf);
	qvm_clear(&vm);
	if (!on)
		return resp_error(resp, CR_EINTERNAL, "No QEMU guest agent configured");
	if (!qemu_running(req->app, vmid))
		return resp_error(resp, CR_ENOTRUNNING, "VM %d is not running", vmid);
	return 0;
}

/* Runs guest-CMD; the agent's answer into *RET (may stay NULL). */
static int agent_run(struct req *req, struct resp *resp, const char *cmd, cJSON *args,
		     int timeout_ms, cJSON **ret)
{
	int vmid = qemu_vmid(req), r = agent_vm(req, resp, vmid);
	char name[64], err[1024] = "";

	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "guest-%s", cmd);
	r = hv_vm_agent(req->app->hv, vmid, name, args, timeout_ms, ret, err, sizeof(err));
	if (r == CR_EQMP)
		return resp_error(resp, CR_EINTERNAL, "Agent error: %s", err);
	if (r == -ETIMEDOUT && strstr(err, "not running"))
		return resp_error(resp, CR_EINTERNAL, "QEMU guest agent is not running");
	if (r == -ETIMEDOUT)
		return resp_error(resp, CR_EINTERNAL, "VM %d qmp command 'guest-%s' failed - got timeout",
				  vmid, cmd);
	if (r < 0)
		return resp_error(resp, r == CR_ENOTRUNNING ? r : CR_EINTERNAL, "%s", err);
	return 0;
}

/* {"result": RET} (an empty object for commands that answer nothing). */
static int result_reply(struct resp *resp, cJSON *ret)
{
	resp->data = cJSON_CreateObject();
	if (!resp->data || !cJSON_AddItemToObject(resp->data, "result",
						  ret ? ret : cJSON_CreateObject())) {
		cJSON_Delete(ret);
		return resp_error(resp, -ENOMEM, "out of memory");
	}
	return 0;
}

static int run_command(struct req *req, struct resp *resp, const struct agent_cmd *c)
{
	cJSON *ret = NULL;
	int r = agent_run(req, resp, c->name, NULL, c->timeout_ms, &ret);

	return r < 0 ? r : result_reply(resp, ret);
}

int api_qemu_agent_index(struct req *req, struct resp *resp)
{
	static const char *const special[] = { "exec", "exec-status", "file-read", "file-write",
					       "set-user-password" };
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm);

	if (r < 0)
		return r;
	qvm_clear(&vm);
	resp->data = cJSON_CreateArray();
	for (size_t i = 0; resp->data && i < N_AGENT_CMDS + 5; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name",
					i < N_AGENT_CMDS ? agent_cmds[i].name : special[i - N_AGENT_CMDS]);
		cJSON_AddItemToArray(resp->data, o);
	}
	return 0;
}

/* POST /agent command=X: any plain command, as Proxmox's older call. */
int api_qemu_agent(struct req *req, struct resp *resp)
{
	return run_command(req, resp, agent_cmd_find(req_str(req, "command")));
}

/* GET or POST /agent/{command}: each command under its own method only. */
int api_qemu_agent_named(struct req *req, struct resp *resp)
{
	const struct agent_cmd *c = agent_cmd_find(req_str(req, "command"));

	if (c->method != req->method)
		return resp_error(resp, CR_ENOROUTE, "Method '%s %s' not implemented",
				  req->method == HTTP_GET ? "GET" : "POST", req->path);
	return run_command(req, resp, c);
}

/* TEXT as padded base64 in a new string, or NULL on -ENOMEM. */
static char *b64_dup(const char *text)
{
	size_t n = strlen(text), cap = 4 * (n / 3 + 1) + 1;
	char *b64 = malloc(cap);

	if (b64 && auth_b64_encode((const unsigned char *)text, n, 1, b64, cap) < 0) {
		free(b64);
		b64 = NULL;
	}
	return b64;
}

/* command: the program and its arguments, one parameter value each. */
static cJSON *exec_args(struct req *req)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req->params, "command");
	const char *input = req_str(req, "input-data");
	cJSON *args = cJSON_CreateObject(), *argv = NULL;
	const cJSON *it;
	int first = 1;

	if (!args)
		return NULL;
	cJSON_AddBoolToObject(args, "capture-output", 1);
	cJSON_ArrayForEach(it, cmd) {
		if (first)
			cJSON_AddStringToObject(args, "path", it->valuestring);
		else if (argv || (argv = cJSON_AddArrayToObject(args, "arg")))
			cJSON_AddItemToArray(argv, cJSON_CreateString(it->valuestring));
		first = 0;
	}
	if (input && input[0]) {
		char *b64 = b64_dup(input);

		if (b64)
			cJSON_AddStringToObject(args, "input-data", b64);
		free(b64);
	}
	return args;
}

int api_qemu_agent_exec(struct req *req, struct resp *resp)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req->params, "command");
	cJSON *args, *ret = NULL;
	int r;

	if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) < 1 ||
	    !cJSON_GetArrayItem(cmd, 0)->valuestring[0])
		return resp_param_error(resp, "command", "no command specified");
	if (!(args = exec_args(req)))
		return resp_error(resp, -ENOMEM, "out of memory");
	r = agent_run(req, resp, "exec", args, AGENT_MS, &ret);
	cJSON_Delete(args);
	if (r < 0)
		return r;
	resp->data = ret; /* {"pid": N} */
	return 0;
}

/* Replaces base64 member NAME of O by its text, as Proxmox shows it. */
static void decode_member(cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	unsigned char *text;
	size_t cap;
	int n;

	if (!cJSON_IsString(v))
		return;
	cap = strlen(v->valuestring) / 4 * 3 + 4;
	if (!(text = malloc(cap)))
		return;
	n = auth_b64_decode(v->valuestring, text, cap - 1);
	if (n >= 0) {
		text[n] = '\0';
		cJSON_ReplaceItemInObjectCaseSensitive(o, name, cJSON_CreateString((char *)text));
	}
	free(text);
}

int api_qemu_agent_exec_status(struct req *req, struct resp *resp)
{
	cJSON *args = cJSON_CreateObject(), *ret = NULL;
	int r;

	if (!args || !cJSON_AddNumberToObject(args, "pid", (double)req_int(req, "pid", 0))) {
		cJSON_Delete(args);
		return resp_error(resp, -ENOMEM, "out of memory");
	}
	r = agent_run(req, resp, "exec-status", args, AGENT_MS, &ret);
	cJSON_Delete(args);
	if (r < 0)
		return r;
	decode_member(ret, "out-data");
	decode_member(ret, "err-data");
	resp->data = ret;
	return 0;
}

/* guest-file-open with MODE; the handle or a negative code (RESP set). */
static int file_open(struct req *req, struct resp *resp, const char *mode, int64_t *handle)
{
	cJSON *args = cJSON_CreateObject(), *ret = NULL;
	int r;

	cJSON_AddStringToObject(args, "path", req_str(req, "file"));
	cJSON_AddStringToObject(args, "mode", mode);
	r = agent_run(req, resp, "file-open", args, AGENT_MS, &ret);
	cJSON_Delete(args);
	if (r == 0 && !cJSON_IsNumber(ret))
		r = resp_error(resp, CR_EINTERNAL, "Agent error: no file handle");
	if (r == 0)
		*handle = (int64_t)ret->valuedouble;
	cJSON_Delete(ret);
	return r;
}

static void file_close(struct req *req, int64_t handle)
{
	struct resp ignored = { 0 };
	cJSON *args = cJSON_CreateObject();

	cJSON_AddNumberToObject(args, "handle", (double)handle);
	agent_run(req, &ignored, "file-close", args, AGENT_MS, NULL);
	cJSON_Delete(args);
	resp_clear(&ignored);
}

/* Reads chunks of the open file into OUT (decoded) up to FILE_READ_MAX;
 * *TRUNCATED when more was left. */
static int file_read_all(struct req *req, struct resp *resp, int64_t handle, cJSON *out)
{
	cJSON *args = cJSON_CreateObject(), *ret = NULL;
	size_t total = 0;
	int r = 0, eof = 0;
	char *text = NULL;

	cJSON_AddNumberToObject(args, "handle", (double)handle);
	cJSON_AddNumberToObject(args, "count", 1 << 20);
	while (r == 0 && !eof && total < FILE_READ_MAX) {
		const cJSON *buf;
		unsigned char *chunk;
		char *grown;
		int n;

		if ((r = agent_run(req, resp, "file-read", args, AGENT_MS, &ret)) < 0)
			break;
		eof = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ret, "eof"));
		buf = cJSON_GetObjectItemCaseSensitive(ret, "buf-b64");
		chunk = cJSON_IsString(buf) ? malloc(strlen(buf->valuestring) / 4 * 3 + 4) : NULL;
		n = chunk ? auth_b64_decode(buf->valuestring, chunk, strlen(buf->valuestring) / 4 * 3 + 3)
			  : -EPROTO;
		grown = n >= 0 ? realloc(text, total + (size_t)n + 1) : NULL;
		if (!grown)
			r = resp_error(resp, CR_EINTERNAL, "Agent error: bad file-read answer");
		else {
			memcpy(grown + total, chunk, (size_t)n);
			text = grown;
			total += (size_t)n;
			text[total] = '\0';
		}
		free(chunk);
		cJSON_Delete(ret);
		ret = NULL;
	}
	cJSON_Delete(args);
	if (r == 0) {
		cJSON_AddStringToObject(out, "content", text ? text : "");
		if (!eof)
			cJSON_AddNumberToObject(out, "truncated", 1);
	}
	free(text);
	return r;
}

int api_qemu_agent_file_read(struct req *req, struct resp *resp)
{
	int64_t handle;
	int r = file_open(req, resp, "r", &handle);

	if (r < 0)
		return r;
	resp->data = cJSON_CreateObject();
	r = file_read_all(req, resp, handle, resp->data);
	file_close(req, handle);
	return r;
}

int api_qemu_agent_file_write(struct req *req, struct resp *resp)
{
	const char *content = req_str(req, "content");
	cJSON *args = NULL;
	char *b64 = NULL;
	int64_t handle;
	int r;

	if (!req_bool(req, "encode", 1)) { /* already base64 */
		if (strspn(content, B64_CHARS) != strlen(content))
			return resp_param_error(resp, "content", "not valid base64 data");
	} else if (!(b64 = b64_dup(content))) {
		return resp_error(resp, -ENOMEM, "out of memory");
	}
	r = file_open(req, resp, "w", &handle);
	if (r == 0) {
		args = cJSON_CreateObject();
		cJSON_AddNumberToObject(args, "handle", (double)handle);
		cJSON_AddStringToObject(args, "buf-b64", b64 ? b64 : content);
		r = agent_run(req, resp, "file-write", args, AGENT_MS, NULL);
		file_close(req, handle);
	}
	cJSON_Delete(args);
	free(b64);
	return r;
}

int api_qemu_agent_set_password(struct req *req, struct resp *resp)
{
	const char *pw = req_str(req, "password");
	char *b64 = b64_dup(pw);
	cJSON *args = cJSON_CreateObject(), *ret = NULL;
	int r = -ENOMEM;

	if (b64 && args &&
	    cJSON_AddStringToObject(args, "username", req_str(req, "username")) &&
	    cJSON_AddStringToObject(args, "password", b64) &&
	    cJSON_AddBoolToObject(args, "crypted", req_bool(req, "crypted", 0)))
		r = agent_run(req, resp, "set-user-password", args, AGENT_MS, &ret);
	else
		resp_error(resp, r, "out of memory");
	free(b64);
	cJSON_Delete(args);
	return r < 0 ? r : result_reply(resp, ret);
}
