/* `corral task log|status|wait UPID`: a task's log, status, or waiting for it
 * to stop (exit 0 for "OK" and "WARNINGS: n", 1 for an error). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

#define LOG_PAGE "500"
#define LOG_PAGE_LINES 500

int cli_upid_node(const char *upid, char *node, size_t n)
{
	const char *start, *end;
	size_t fields = 0;

	if (strncmp(upid, "UPID:", 5) != 0)
		return -EINVAL;
	for (const char *p = upid; *p; p++)
		fields += *p == ':';
	start = upid + 5;
	end = strchr(start, ':');
	/* Nine fields: "UPID" and eight more, the last one empty. */
	if (fields != 8 || upid[strlen(upid) - 1] != ':' || end == start ||
	    (size_t)(end - start) >= n)
		return -EINVAL;
	memcpy(node, start, (size_t)(end - start));
	node[end - start] = '\0';
	return 0;
}

static int task_path(const char *upid, const char *what, char *path, size_t n)
{
	char node[128];

	if (cli_upid_node(upid, node, sizeof(node)) < 0)
		return cli_fail(EXIT_USAGE, "'%s' is not a UPID", upid);
	snprintf(path, n, "/nodes/%s/tasks/%s/%s", node, upid, what);
	return EXIT_OK;
}

/* Appends one page of log lines to ALL; *GOT is how many came. */
static int log_page(struct cli *c, const char *path, size_t start, cJSON *all, size_t *got,
		    long *total)
{
	char from[32];
	struct param p[2] = { { "start", 5, from }, { "limit", 5, LOG_PAGE } };
	cJSON *body, *data, *line, *t;
	int r;

	snprintf(from, sizeof(from), "%zu", start);
	r = cli_call(c, "GET", path, p, 2, &body);
	if (r != EXIT_OK)
		return r;
	data = cJSON_GetObjectItemCaseSensitive(body, "data");
	t = cJSON_GetObjectItemCaseSensitive(body, "total");
	*total = cJSON_IsNumber(t) ? (long)t->valuedouble : -1;
	*got = 0;
	while (cJSON_IsArray(data) && (line = cJSON_DetachItemFromArray(data, 0))) {
		cJSON_AddItemToArray(all, line);
		(*got)++;
	}
	cJSON_Delete(body);
	return EXIT_OK;
}

static int print_log(struct cli *c, cJSON *all)
{
	const cJSON *line;
	cJSON *wrap;
	int r;

	if (c->fmt != FMT_TEXT) {
		wrap = cJSON_CreateObject();
		cJSON_AddItemReferenceToObject(wrap, "data", all);
		r = cli_print(c, wrap);
		cJSON_Delete(wrap);
		return r;
	}
	cJSON_ArrayForEach(line, all) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(line, "t");

		printf("%s\n", cJSON_IsString(t) ? t->valuestring : "");
	}
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_API;
}

static int task_log(struct cli *c, const char *upid)
{
	char path[512];
	cJSON *all = cJSON_CreateArray();
	size_t start = 0, got = LOG_PAGE_LINES;
	long total = -1;
	int r = all ? task_path(upid, "log", path, sizeof(path)) : EXIT_API;

	/* A short page is the last one. */
	while (r == EXIT_OK && got == LOG_PAGE_LINES && (total < 0 || (long)start < total)) {
		r = log_page(c, path, start, all, &got, &total);
		start += got;
	}
	if (r == EXIT_OK)
		r = print_log(c, all);
	cJSON_Delete(all);
	return r;
}

static int get_status(struct cli *c, const char *path, cJSON **body)
{
	return cli_call(c, "GET", path, NULL, 0, body);
}

static int task_status(struct cli *c, const char *upid)
{
	char path[512];
	cJSON *body = NULL;
	int r = task_path(upid, "status", path, sizeof(path));

	if (r == EXIT_OK)
		r = get_status(c, path, &body);
	if (r == EXIT_OK)
		r = cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

static const char *status_field(const cJSON *body, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(body, "data"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "OK" and "WARNINGS: n" are success, as Proxmox clients read them. */
static int finished(struct cli *c, const cJSON *body)
{
	const char *exit = status_field(body, "exitstatus");

	if (c->fmt != FMT_TEXT)
		cli_print(c, body);
	else
		printf("%s\n", exit ? exit : "");
	fflush(stdout);
	if (exit && (strcmp(exit, "OK") == 0 || strncmp(exit, "WARNINGS", 8) == 0))
		return EXIT_OK;
	return cli_fail(EXIT_API, "task failed: %s", exit ? exit : "(no exit status)");
}

static int parse_timeout(struct cli *c, uint64_t *ms)
{
	const char *t = args_opt(&c->args, "timeout");
	uint64_t s = 0;

	if (t && util_parse_u64(t, &s) < 0)
		return cli_fail(EXIT_USAGE, "invalid --timeout '%s' (seconds)", t);
	*ms = s * 1000;
	return EXIT_OK;
}

static int task_wait(struct cli *c, const char *upid)
{
	char path[512];
	const struct timespec pause = { 0, 250 * 1000 * 1000 };
	uint64_t limit = 0, start = util_now_ms();
	cJSON *body = NULL;
	const char *status;
	int r = parse_timeout(c, &limit);

	if (r == EXIT_OK)
		r = task_path(upid, "status", path, sizeof(path));
	while (r == EXIT_OK) {
		r = get_status(c, path, &body);
		status = r == EXIT_OK ? status_field(body, "status") : NULL;
		if (status && strcmp(status, "running") != 0)
			break;
		if (r == EXIT_OK && !status)
			r = cli_fail(EXIT_API, "the task status carries no 'status'");
		cJSON_Delete(body);
		body = NULL;
		if (r == EXIT_OK && limit && util_now_ms() - start >= limit)
			r = cli_fail(EXIT_API, "task still running after %s s",
				     args_opt(&c->args, "timeout"));
		if (r == EXIT_OK)
			nanosleep(&pause, NULL);
	}
	if (r == EXIT_OK)
		r = finished(c, body);
	cJSON_Delete(body);
	return r;
}

int cli_task_wait(struct cli *c, const char *upid)
{
	return task_wait(c, upid);
}

int cli_task_answer(struct cli *c, const cJSON *body)
{
	const char *upid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "data"));

	if (!upid)
		return cli_fail(EXIT_API, "the answer carries no task id");
	if (c->fmt == FMT_TEXT)
		fprintf(stderr, "%s\n", upid);
	return cli_task_wait(c, upid);
}

struct task_verb {
	const char *name;
	int (*fn)(struct cli *c, const char *upid);
};

static const struct task_verb task_verbs[] = {
	{ "log", task_log },
	{ "status", task_status },
	{ "wait", task_wait },
};

int cmd_task(struct cli *c)
{
	char node[128];
	int r;

	if (c->args.npos != 2)
		return cli_fail(EXIT_USAGE, "usage: corral task log|status|wait UPID");
	if (cli_upid_node(c->args.pos[1], node, sizeof(node)) < 0)
		return cli_fail(EXIT_USAGE, "'%s' is not a UPID", c->args.pos[1]);
	for (size_t i = 0; i < ARRAY_SIZE(task_verbs); i++) {
		if (strcmp(c->args.pos[0], task_verbs[i].name) != 0)
			continue;
		r = cli_connect(c, 1);
		return r == EXIT_OK ? task_verbs[i].fn(c, c->args.pos[1]) : r;
	}
	return cli_fail(EXIT_USAGE, "unknown task verb '%s' (log, status, wait)", c->args.pos[0]);
}
