/* corral vm list|create|config|start|stop|shutdown|status|destroy|migrate|
 * move-disk, snapshot|listsnapshot|rollback|delsnapshot|template|clone|resize and
 * cloudinit-dump|cloudinit-pending|cloudinit-update: friendly
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
	const char *suffix; /* after /nodes/{node}/qemu/{vmid}; "%s": the first word */
	/* Parameters given as words after VMID, as qm takes them (a "%s" in
	 * SUFFIX takes the first one instead). */
	const char *words[2];
};

static const struct vm_verb vm_verbs[] = {
    {"list", VM_LIST, "GET", "", {NULL}},
    {"create", VM_CREATE, "POST", "", {NULL}},
    {"config", VM_CONFIG, "GET", "/config", {NULL}},
    {"start", VM_TASK, "POST", "/status/start", {NULL}},
    {"stop", VM_TASK, "POST", "/status/stop", {NULL}},
    {"shutdown", VM_TASK, "POST", "/status/shutdown", {NULL}},
    {"status", VM_SHOW, "GET", "/status/current", {NULL}},
    {"destroy", VM_TASK, "DELETE", "", {NULL}},
    {"migrate", VM_MIGRATE, "POST", "/migrate", {NULL}},
    /* snapshots, templates, clones, resize */
    {"snapshot", VM_TASK, "POST", "/snapshot", {"snapname"}},
    {"listsnapshot", VM_SHOW, "GET", "/snapshot", {NULL}},
    {"rollback", VM_TASK, "POST", "/snapshot/%s/rollback", {"snapname"}},
    {"delsnapshot", VM_TASK, "DELETE", "/snapshot/%s", {"snapname"}},
    {"template", VM_TASK, "POST", "/template", {NULL}},
    {"clone", VM_TASK, "POST", "/clone", {"newid"}},
    {"resize", VM_TASK, "PUT", "/resize", {"disk", "size"}},
    /* a disk to another storage of the node (qm disk move) */
    {"move-disk", VM_TASK, "POST", "/move_disk", {"disk", "storage"}},
    /* cloud-init, as qm cloudinit dump|pending|update */
    {"cloudinit-dump", VM_SHOW, "GET", "/cloudinit/dump", {"type"}},
    {"cloudinit-pending", VM_SHOW, "GET", "/cloudinit", {NULL}},
    {"cloudinit-update", VM_SHOW, "PUT", "/cloudinit", {NULL}},
};

static size_t nwords(const struct vm_verb *v)
{
	size_t n = 0;

	while (n < ARRAY_SIZE(v->words) && v->words[n])
		n++;
	return n;
}

/* P gets the options, then the words after VMID as named parameters (but
 * the one the path takes); returns how many, or -1 when too many. */
static int word_params(const struct cli *c, const struct vm_verb *v, struct param *p)
{
	size_t n = c->args.nparams, first = strstr(v->suffix, "%s") ? 1 : 0;

	if (n + nwords(v) > ARGS_MAX_PARAMS)
		return -1;
	memcpy(p, c->args.params, n * sizeof(p[0]));
	for (size_t i = first; i < nwords(v); i++)
		p[n++] = (struct param){v->words[i], strlen(v->words[i]), c->args.pos[2 + i]};
	return (int)n;
}

/* The word that goes into the path: a snapshot name's characters only. */
static int path_word_ok(const char *w)
{
	return w[0] && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789_-") == strlen(w);
}

static const char *const list_columns[] = {
    "vmid", "name", "status", "cpus", "maxmem", "maxdisk", "pid", "uptime", NULL,
};

static int create(struct cli *c, const char *base, const char *vmid)
{
	struct param p[CLI_PARAMS_MAX], extra = { "vmid", 4, vmid };
	cJSON *body = NULL;
	size_t n = 0;
	int r = cli_with_params(c, p, &extra, 1, &n);

	if (r == EXIT_OK)
		r = cli_call(c, "POST", base, p, n, &body);
	if (r == EXIT_OK)
		r = cli_task_answer(c, body);
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
		r = cli_task_answer(c, body);
	cJSON_Delete(body);
	return r;
}

static int run_verb(struct cli *c, const struct vm_verb *v, const char *base, const char *vmid)
{
	const char *method = v->method, *in_path = strstr(v->suffix, "%s") ? c->args.pos[2] : "";
	struct param p[ARGS_MAX_PARAMS];
	char path[512], suffix[256];
	cJSON *body = NULL;
	int r, np = word_params(c, v, p);

	if (v->kind == VM_CREATE)
		return create(c, base, vmid);
	if (np < 0)
		return cli_fail(EXIT_USAGE, "too many parameters");
	if (in_path[0] == '\0' && strstr(v->suffix, "%s"))
		return cli_fail(EXIT_USAGE, "a snapshot name is needed");
	if (in_path[0] && !path_word_ok(in_path))
		return cli_fail(EXIT_USAGE, "'%s' is not a snapshot name", in_path);
	snprintf(suffix, sizeof(suffix), v->suffix, in_path);
	if (v->kind == VM_LIST)
		snprintf(path, sizeof(path), "%s", base);
	else
		snprintf(path, sizeof(path), "%s/%s%s", base, vmid, suffix);
	if (v->kind == VM_CONFIG && c->args.nparams > 0)
		method = "PUT";
	c->columns = v->kind == VM_LIST ? list_columns : NULL;
	r = cli_call(c, method, path, p, (size_t)np, &body);
	if (r == EXIT_OK && v->kind == VM_TASK)
		r = cli_task_answer(c, body);
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
	size_t want = v && v->kind == VM_LIST	   ? 1
		      : v && v->kind == VM_MIGRATE ? 3
						   : 2 + (v ? nwords(v) : 0);
	char node[128], base[256];
	int64_t id;
	int r;

	if (!v)
		return cli_fail(EXIT_USAGE, "usage: corral vm list|create|config|start|stop|"
					    "shutdown|status|destroy|migrate|snapshot|listsnapshot|"
					    "rollback|delsnapshot|template|clone|resize|move-disk|"
					    "cloudinit-dump|cloudinit-pending|cloudinit-update [VMID] "
					    "[WORDS] [--key value ...]");
	if (v->kind != VM_MIGRATE && nwords(v) && c->args.npos != want)
		return cli_fail(EXIT_USAGE, "usage: corral vm %s VMID %s%s%s [--key value ...]",
				v->name, v->words[0], nwords(v) > 1 ? " " : "",
				nwords(v) > 1 ? v->words[1] : "");
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
	return run_verb(c, v, base, want >= 2 ? c->args.pos[1] : NULL);
}
