/* corral: command-line client of a Corral node's REST API (like pvesh).
 * Dispatches argv[1] through the verb table; each verb returns the exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "common/util.h"

/* Options every verb understands (connection and output). */
#define GLOBAL_OPTS                                                          \
	{ "host", 1 }, { "port", 1 }, { "fingerprint", 1 }, { "output-format", 1 }

static const struct opt_spec login_opts[] = {
	GLOBAL_OPTS, { "user", 1 }, { "realm", 1 }, { "password-stdin", 0 }, { NULL, 0 },
};
static const struct opt_spec plain_opts[] = { GLOBAL_OPTS, { NULL, 0 } };
static const struct opt_spec tasks_opts[] = { GLOBAL_OPTS, { "node", 1 }, { NULL, 0 } };
/* online and with-local-disks: flags of vm migrate */
static const struct opt_spec vm_opts[] = { GLOBAL_OPTS, { "node", 1 }, { "online", 0 },
					   { "with-local-disks", 0 }, { NULL, 0 } };
static const struct opt_spec task_opts[] = { GLOBAL_OPTS, { "timeout", 1 }, { NULL, 0 } };
static const struct opt_spec storage_opts[] = { GLOBAL_OPTS, { "node", 1 }, { NULL, 0 } };

struct verb {
	const char *name;
	int (*fn)(struct cli *c);
	const struct opt_spec *opts;
	int api_params;           /* free "--key value" pairs go to the API */
	enum fmt_kind default_fmt;
};

static const struct verb verbs[] = {
	{ "login", cmd_login, login_opts, 0, FMT_TEXT },
	{ "api", cmd_api, plain_opts, 1, FMT_TEXT },
	{ "version", cmd_version, plain_opts, 0, FMT_TEXT },
	{ "nodes", cmd_nodes, plain_opts, 0, FMT_TEXT },
	{ "tasks", cmd_tasks, tasks_opts, 1, FMT_TEXT },
	{ "task", cmd_task, task_opts, 0, FMT_TEXT },
	{ "vm", cmd_vm, vm_opts, 1, FMT_TEXT },
	{ "storage", cmd_storage, storage_opts, 1, FMT_TEXT },
	{ "cluster", cmd_cluster, vm_opts, 1, FMT_TEXT },
	{ "pool", cmd_pool, plain_opts, 1, FMT_TEXT },
};

static const char usage_text[] =
	"usage: corral VERB [ARGS] [OPTIONS]\n"
	"\n"
	"verbs:\n"
	"  login [--user U] [--realm R] [--password-stdin]\n"
	"                       log in (password asked on the terminal, or read from\n"
	"                       standard input / CORRAL_PASSWORD) and store the ticket\n"
	"                       in ~/.config/corral/session.json\n"
	"  api get|create|set|delete PATH [--key value ...]\n"
	"                       call /api2/json/PATH with GET|POST|PUT|DELETE, like pvesh\n"
	"  version              the node's API version\n"
	"  nodes                the cluster's nodes\n"
	"  tasks [--node N] [--key value ...]\n"
	"                       recent tasks of a node (default: the first node)\n"
	"  task log|status|wait UPID [--timeout S]\n"
	"                       a task's log, its status, or wait until it stops\n"
	"  vm list|create|config|start|stop|shutdown|status|destroy [VMID]\n"
	"     [--node N] [--key value ...]\n"
	"                       VMs like qm: create and config take configuration\n"
	"                       keys (--memory 512 --scsi0 local:4); config without\n"
	"                       keys shows it; task verbs wait and exit with the task's\n"
	"                       result (stop/shutdown take --timeout, --forceStop...)\n"
	"  vm snapshot|rollback|delsnapshot VMID NAME | listsnapshot|template VMID |\n"
	"     clone VMID NEWID | resize VMID DISK SIZE   [--key value ...]\n"
	"                       snapshots, templates, clones and disk growth like qm\n"
	"  storage list|status|content|upload|alloc|free ... [--node N]\n"
	"                       storages and volumes like pvesm: upload STORAGE FILE,\n"
	"                       alloc STORAGE VMID FILENAME SIZE, free VOLID\n"
	"  cluster create NAME | join HOST[:PORT] FINGERPRINT | status | nodes |\n"
	"          leave | delnode NODE   [--link0 ADDR] [--username U]\n"
	"                       gossip cluster like pvecm; join reads the member's\n"
	"                       password from CORRAL_JOIN_PASSWORD or standard input\n"
	"  pool list | show POOL | create POOL | set POOL | delete POOL\n"
	"     [--comment C] [--vms 100,101] [--storage S] [--delete 1] [--allow-move 1]\n"
	"                       resource pools like pveum pool: set adds the listed VMs\n"
	"                       and storages (removes them with --delete 1)\n"
	"\n"
	"options:\n"
	"  --host H             node to talk to (default: CORRAL_HOST, the session's\n"
	"                       host, 127.0.0.1)\n"
	"  --port P             HTTPS port (default 8006)\n"
	"  --fingerprint FP     trust exactly this SHA-256 certificate fingerprint\n"
	"                       (AA:BB:...); otherwise known_hosts, or ask on first use\n"
	"  --output-format F    json, json-pretty or text (default: text)\n"
	"\n"
	"environment:\n"
	"  CORRAL_API_TOKEN     'user@realm!tokenid=secret': use an API token\n"
	"  CORRAL_HOST          host or host:port\n"
	"  CORRAL_USER, CORRAL_PASSWORD\n"
	"                       log in without a stored session (scripts)\n"
	"  CORRAL_FINGERPRINT   like --fingerprint\n"
	"\n"
	"exit status:\n"
	"  0  success\n"
	"  1  the API answered with an error (status, reason and parameter errors\n"
	"     are printed), or a task failed\n"
	"  2  usage error\n"
	"  3  connection or TLS failure, untrusted or CHANGED certificate\n"
	"  4  authentication failed, not logged in, or the session expired\n";

static int usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static int prepare(const struct verb *v, int argc, char **argv, struct cli *c)
{
	char err[256];
	const char *fmt;

	if (args_parse(argc, argv, v->opts, &c->args, err, sizeof(err)) < 0)
		return cli_fail(EXIT_USAGE, "%s", err);
	if (!v->api_params && c->args.nparams > 0)
		return cli_fail(EXIT_USAGE, "unknown option --%.*s for '%s' (see corral --help)",
				(int)c->args.params[0].keylen, c->args.params[0].key, v->name);
	c->fmt = v->default_fmt;
	fmt = args_opt(&c->args, "output-format");
	if (fmt && fmt_parse_kind(fmt, &c->fmt) < 0)
		return cli_fail(EXIT_USAGE, "unknown output format '%s' (json, json-pretty, text)",
				fmt);
	return EXIT_OK;
}

static int run(int argc, char **argv)
{
	const struct verb *v;
	struct cli c;
	int r;

	if (argc < 2)
		return usage(stderr, EXIT_USAGE);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout, EXIT_OK);
	v = find_verb(argv[1]);
	if (!v)
		return cli_fail(EXIT_USAGE, "unknown verb '%s' (see corral --help)", argv[1]);
	memset(&c, 0, sizeof(c));
	r = prepare(v, argc - 2, argv + 2, &c);
	if (r == EXIT_OK)
		r = v->fn(&c);
	client_free(c.client);
	return r;
}

int main(int argc, char **argv)
{
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cli_fail(EXIT_CONN, "cannot initialise libcurl");
	r = run(argc, argv);
	curl_global_cleanup();
	return r;
}
