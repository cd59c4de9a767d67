/* corral vm list|create|config|start|stop|shutdown|status|destroy|migrate: friendly
 * verbs over /nodes/{node}/qemu, like Proxmox's qm.  Task verbs wait for
 * their task and exit with its result. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

enum vm_kind {
	VM_LIST,   /* GET .../qemu, a table */
	VM_CREATE, /* POST .../qemu with vmid, then wait */
	VM_CONFIG, /* GET .../config without parameters, PUT with them */
	VM_TASK,   /* POST or DELETE returning a UPID, then wait */
	VM_SHOW,   /* GET, printed as is */
	VM_MIGRATE, /* POST .../migrate with target and flags, then wait */
};

struct vm_verb {
	const char *name;
	enum vm_kind kind;
	const char *method;
	const char *suffix; /* after /nodes/{node}/qemu/{vmid} */
};

static const struct vm_verb vm_verbs[] = {
    {"list", VM_LIST, "GET", ""},
    {"create", VM_CREATE, "POST", ""},
    {"config", VM_CONFIG, "GET", "/config"},
    {"start", VM_TASK, "POST", "/status/start"},
    {"stop", VM_TASK, "POST", "/status/stop"},
    {"shutdown", VM_TASK, "POST", "/status/shutdown"},
    {"status", VM_SHOW, "GET", "/status/current"},
    {"destroy", VM_TASK, "DELETE", ""},
    {"migrate", VM_MIGRATE, "POST", "/migrate"},
};

static const char *const list_columns[] = {
    "vmid", "name", "status", "cpus", "maxmem", "maxdisk", "pid", "uptime", NULL,
};

/* Prints the UPID answered in BODY's data, then waits for that task. */
static int wait_answer(struct cli *c, const cJSON *body)
{
	const char *upid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "data"));

	if (!upid)
		return cli_fail(EXIT_API, "the answer carries no task id");
	if (c->fmt == FMT_TEXT)
		fprintf(stderr, "%s\n", upid);
	return cli_task_wait(c, upid);
}

static int create(struct cli *c, const char *base, const char *vmid)
{
	struct param p[ARGS_MAX_PARAMS + 1];
	cJSON *body = NULL;
	int r;

	if (c->args.nparams >= ARGS_MAX_PARAMS)
		return cli_fail(EXIT_USAGE, "too many parameters");
	memcpy(p, c->args.params, c->args.nparams * sizeof(p[0]));
	p[c->args.nparams] = (struct param){"vmid", 4, vmid};
	r = cli_call(c, "POST", base, p, c->args.nparams + 1, &body);
	if (r == EXIT_OK)
		r = wait_answer(c, body);
	cJSON_Delete(body);
	return r;
}

/* vm migrate VMID TARGET [--online] [--with-local-disks] [--key value ...] */
static int migrate(struct cli *c, const char *base, const char *vmid, const char *target)
{
	static const char *const flags[] = { "online", "with-local-disks" };
	struct param p[ARGS_MAX_PARAMS + 3];
	size_t n = c->args.nparams;
	char path[512];
	cJSON *body = NULL;
	int r;

	memcpy(p, c->args.params, n * sizeof(p[0]));
	p[n++] = (struct param){"target", 6, target};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (args_opt(&c->args, flags[i]))
			p[n++] = (struct param){flags[i], strlen(flags[i]), "1"};
	snprintf(path, sizeof(path), "%s/%s/migrate", base, vmid);
	r = cli_call(c, "POST", path, p, n, &body);
	if (r == EXIT_OK)
		r = wait_answer(c, body);
	cJSON_Delete(body);
	return r;
}

static int run_verb(struct cli *c, const struct vm_verb *v, const char *base, const char *vmid)
{
	const char *method = v->method;
	char path[512];
	cJSON *body = NULL;
	int r;

	if (v->kind == VM_CREATE)
		return create(c, base, vmid);
	if (v->kind == VM_LIST)
		snprintf(path, sizeof(path), "%s", base);
	else
		snprintf(path, sizeof(path), "%s/%s%s", base, vmid, v->suffix);
	if (v->kind == VM_CONFIG && c->args.nparams > 0)
		method = "PUT";
	c->columns = v->kind == VM_LIST ? list_columns : NULL;
	r = cli_call(c, method, path, c->args.params, c->args.nparams, &body);
	if (r == EXIT_OK && v->kind == VM_TASK)
		r = wait_answer(c, body);
	else if (r == EXIT_OK && strcmp(method, "PUT") != 0)
		r = cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

static const struct vm_verb *find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_verbs); i++)
		if (strcmp(vm_verbs[i].name, name) == 0)
			return &vm_verbs[i];
	return NULL;
}

int cmd_vm(struct cli *c)
{
	const struct vm_verb *v = c->args.npos ? find(c->args.pos[0]) : NULL;
	size_t want = v && v->kind == VM_LIST ? 1 : v && v->kind == VM_MIGRATE ? 3 : 2;
	char node[128], base[256];
	int64_t id;
	int r;

	if (!v)
		return cli_fail(EXIT_USAGE, "usage: corral vm list|create|config|start|stop|"
					    "shutdown|status|destroy|migrate [VMID] [TARGET] "
					    "[--key value ...]");
	if (c->args.npos != want)
		return cli_fail(EXIT_USAGE,
				want == 1   ? "usage: corral vm list [--node N]"
				: want == 3 ? "usage: corral vm %s VMID TARGET [--online] "
					      "[--with-local-disks] [--key value ...]"
					    : "usage: corral vm %s VMID [--key value ...]",
				v->name);
	if (want >= 2 && (util_parse_i64(c->args.pos[1], &id) < 0 || id < 100))
		return cli_fail(EXIT_USAGE, "'%s' is not a VM id", c->args.pos[1]);
	if (v->kind == VM_LIST && c->args.nparams > 0)
		return cli_fail(EXIT_USAGE, "vm list takes no parameters");
	r = cli_connect(c, 1);
	if (r == EXIT_OK)
		r = cli_pick_node(c, node, sizeof(node));
	if (r != EXIT_OK)
		return r;
	snprintf(base, sizeof(base), "/nodes/%s/qemu", node);
	if (v->kind == VM_MIGRATE)
		return migrate(c, base, c->args.pos[1], c->args.pos[2]);
	return run_verb(c, v, base, want == 2 ? c->args.pos[1] : NULL);
}
