/* /nodes/{node}/tasks: the task list with Proxmox's filters, a task's
 * status, its log and "stop" (pve-manager PVE/API2/Tasks.pm).  A user sees
 * their own tasks; Sys.Audit on /nodes/{node} shows everyone's. */
#include "server/api.h"

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/params.h"
#include "server/tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TASKS_DEFAULT_LIMIT 50
#define LOG_DEFAULT_LIMIT 50

static int check_statusfilter(const char *v, char *err, size_t errlen);

const struct param_spec api_tasks_list_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "start", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = INT32_MAX},
    {.name = "limit", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = INT32_MAX},
    {.name = "userfilter", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256},
    {.name = "typefilter", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64},
    {.name = "vmid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 100, .max = 999999999},
    {.name = "errors", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = "source", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "archive|active|all"},
    {.name = "since", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = INT64_MAX},
    {.name = "until", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = INT64_MAX},
    {.name = "statusfilter",
     .type = PT_STRING,
     .flags = PF_OPTIONAL,
     .max = 64,
     .check = check_statusfilter},
    {.name = NULL},
};

const struct param_spec api_task_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "upid", .type = PT_STRING, .max = UPID_MAX - 1},
    {.name = NULL},
};

const struct param_spec api_task_log_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "upid", .type = PT_STRING, .max = UPID_MAX - 1},
    {.name = "start", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = INT32_MAX},
    {.name = "limit", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = INT32_MAX},
    {.name = "download", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = NULL},
};

/* Proxmox's task status classes (pve-task-status-type), as a bit set. */
enum { ST_OK = 1, ST_ERROR = 2, ST_WARNING = 4, ST_UNKNOWN = 8 };

static const struct {
	const char *name;
	unsigned bit;
} status_classes[] = {
    {"ok", ST_OK},
    {"error", ST_ERROR},
    {"warning", ST_WARNING},
    {"unknown", ST_UNKNOWN},
};

static int parse_statusfilter(const char *v, unsigned *out)
{
	char item[16];

	*out = 0;
	while (*v) {
		size_t len = strcspn(v, ",; ");
		unsigned bit = 0;
		if (len && len < sizeof(item)) {
			snprintf(item, sizeof(item), "%.*s", (int)len, v);
			for (size_t i = 0; i < ARRAY_SIZE(status_classes); i++)
				if (strcmp(item, status_classes[i].name) == 0)
					bit = status_classes[i].bit;
		}
		if (len && !bit)
			return -EINVAL;
		*out |= bit;
		v += len + (v[len] != '\0');
	}
	return 0;
}

static int check_statusfilter(const char *v, char *err, size_t errlen)
{
	unsigned bits;

	if (parse_statusfilter(v, &bits) == 0)
		return 0;
	snprintf(err, errlen,
		 "value '%s' does not have a value in the enumeration "
		 "'ok, error, warning, unknown'",
		 v);
	return -EINVAL;
}

/* Classes an exit status falls in, as PVE::Tools upid_normalize_status_type. */
static unsigned status_class(const char *exitstatus)
{
	if (!exitstatus || !*exitstatus || strcmp(exitstatus, "unexpected status") == 0)
		return ST_UNKNOWN;
	if (strcmp(exitstatus, "OK") == 0)
		return ST_OK;
	if (strncmp(exitstatus, "WARNINGS: ", 10) == 0)
		return ST_WARNING;
	return ST_ERROR;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "user@realm!token" as the caller's full name, like a UPID's user field. */
static void caller_name(const struct identity *who, char *out, size_t n)
{
	if (who->tokenid[0])
		snprintf(out, n, "%s!%s", who->userid, who->tokenid);
	else
		snprintf(out, n, "%s", who->userid);
}

static int owns_task(const struct req *req, const char *task_user)
{
	char me[256];

	if (!req->who || !task_user)
		return 0;
	caller_name(req->who, me, sizeof(me));
	return strcmp(me, task_user) == 0;
}

/* Proxmox shows a token's task as user + tokenid. */
static void add_user_fields(cJSON *o, const char *user)
{
	const char *bang = strchr(user, '!');
	char name[256];

	if (!bang) {
		cJSON_AddStringToObject(o, "user", user);
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(bang - user), user);
	cJSON_AddStringToObject(o, "user", name);
	cJSON_AddStringToObject(o, "tokenid", bang + 1);
}

static cJSON *task_base(const cJSON *e)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "upid", str_of(e, "upid") ? str_of(e, "upid") : "");
	cJSON_AddStringToObject(o, "node", str_of(e, "node") ? str_of(e, "node") : "");
	cJSON_AddNumberToObject(o, "pid", num_of(e, "pid"));
	cJSON_AddNumberToObject(o, "pstart", num_of(e, "pstart"));
	cJSON_AddNumberToObject(o, "starttime", num_of(e, "starttime"));
	cJSON_AddStringToObject(o, "type", str_of(e, "type") ? str_of(e, "type") : "");
	cJSON_AddStringToObject(o, "id", str_of(e, "id") ? str_of(e, "id") : "");
	add_user_fields(o, str_of(e, "user") ? str_of(e, "user") : "");
	return o;
}

/* --- GET /nodes/{node}/tasks --- */

struct list_filter {
	const struct req *req;
	int auditor;
	const char *user, *type, *vmid, *source;
	int errors;
	int64_t since, until;
	unsigned classes; /* 0 = any */
	struct hit *hits;
	size_t n, cap;
};

static int running(const cJSON *e)
{
	const char *st = str_of(e, "status");

	return st && strcmp(st, "running") == 0;
}

static int source_ok(const struct list_filter *f, const cJSON *e)
{
	if (strcmp(f->source, "all") == 0)
		return 1;
	return running(e) == (strcmp(f->source, "active") == 0);
}

static int entry_matches(const struct list_filter *f, const cJSON *e)
{
	const char *user = str_of(e, "user"), *type = str_of(e, "type"), *id = str_of(e, "id");
	const char *exitstatus = str_of(e, "exitstatus");
	double start = num_of(e, "starttime");

	if (!user || !type || !source_ok(f, e))
		return 0;
	if (!f->auditor && !owns_task(f->req, user))
		return 0;
	if ((f->user && !strcasestr(user, f->user)) || (f->type && strcmp(type, f->type) != 0))
		return 0;
	if (f->errors && exitstatus && strcmp(exitstatus, "OK") == 0)
		return 0;
	if (f->vmid && (!id || strcmp(id, f->vmid) != 0))
		return 0;
	if ((f->since >= 0 && start < (double)f->since) ||
	    (f->until >= 0 && start > (double)f->until))
		return 0;
	return !f->classes || (status_class(running(e) ? NULL : exitstatus) & f->classes);
}

/* A matching task, kept light: rows are built for the requested page only. */
struct hit {
	char *upid;
	int running;
	double key; /* starttime while running, else endtime */
};

static int collect_hit(const cJSON *e, void *ctx)
{
	struct list_filter *f = ctx;
	const char *upid = str_of(e, "upid");

	if (!upid || !entry_matches(f, e))
		return 0;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct hit *v = realloc(f->hits, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->hits = v;
		f->cap = cap;
	}
	f->hits[f->n].upid = strdup(upid);
	f->hits[f->n].running = running(e);
	f->hits[f->n].key = num_of(e, running(e) ? "starttime" : "endtime");
	return f->hits[f->n++].upid ? 0 : -ENOMEM;
}

/* Running tasks first (newest start first), then finished ones, latest end first. */
static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->running != y->running)
		return y->running - x->running;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return -strcmp(x->upid, y->upid);
}

static cJSON *list_row(const cJSON *e)
{
	cJSON *row = task_base(e);

	if (!running(e)) {
		cJSON_AddNumberToObject(row, "endtime", num_of(e, "endtime"));
		cJSON_AddStringToObject(
		    row, "status", str_of(e, "exitstatus") ? str_of(e, "exitstatus") : "unknown");
	}
	return row;
}

/* Sorts the hits and answers LIMIT rows from START (LIMIT 0: none, as Proxmox). */
static cJSON *page_rows(struct tasks *ts, struct list_filter *f, int64_t start, int64_t limit)
{
	cJSON *out = cJSON_CreateArray(), *e;

	if (f->n)
		qsort(f->hits, f->n, sizeof(*f->hits), hit_cmp);
	for (int64_t i = start; out && i < (int64_t)f->n && i - start < limit; i++) {
		/* A task that ended or was pruned since: show it as it is now. */
		if (tasks_get(ts, f->hits[i].upid, &e) < 0)
			continue;
		cJSON_AddItemToArray(out, list_row(e));
		cJSON_Delete(e);
	}
	return out;
}

static void list_filter_free(struct list_filter *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->hits[i].upid);
	free(f->hits);
}

static void list_filter_init(struct list_filter *f, const struct req *req)
{
	memset(f, 0, sizeof(*f));
	f->req = req;
	f->auditor = api_can_audit_node(req, req->app->cfg.node);
	f->user = req_str(req, "userfilter");
	f->type = req_str(req, "typefilter");
	f->vmid = req_str(req, "vmid");
	f->source = req_str(req, "source") ? req_str(req, "source") : "archive";
	f->errors = req_bool(req, "errors", 0);
	f->since = req_int(req, "since", -1);
	f->until = req_int(req, "until", -1);
	if (req_str(req, "statusfilter"))
		parse_statusfilter(req_str(req, "statusfilter"), &f->classes);
}

/* Answers the tasks F selects, rows START..START+LIMIT, with their total. */
static int list_answer(struct req *req, struct resp *resp, struct list_filter *f, int64_t start,
		       int64_t limit)
{
	int r = tasks_foreach(req->app->tasks, collect_hit, f);

	if (r == 0) {
		resp->total = (int64_t)f->n;
		resp->data = page_rows(req->app->tasks, f, start, limit);
		r = resp->data ? 0 : -ENOMEM;
	}
	list_filter_free(f);
	return r < 0 ? resp_error(resp, r, "cannot read the task index: %s", err_str(r)) : 0;
}

int api_tasks_list(struct req *req, struct resp *resp)
{
	struct list_filter f;
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	list_filter_init(&f, req);
	return list_answer(req, resp, &f, req_int(req, "start", 0),
			   req_int(req, "limit", TASKS_DEFAULT_LIMIT));
}

int api_tasks_recent(struct req *req, struct resp *resp, int64_t limit)
{
	struct list_filter f;

	list_filter_init(&f, req);
	f.source = "all";
	return list_answer(req, resp, &f, 0, limit);
}

/* --- one task --- */

/* Finds the {upid} task's index entry and checks the caller may see it:
 * their own task, or PRIVS on /nodes/{node}. */
static int task_lookup(struct req *req, struct resp *resp, const char *privs, cJSON **entry)
{
	const char *upid = req_str(req, "upid");
	char path[128];
	struct upid u;
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if (!upid || upid_parse(upid, &u) < 0)
		return resp_param_error(resp, "upid", "unable to parse worker upid");
	r = tasks_get(req->app->tasks, upid, entry);
	if (r == CR_ENOTFOUND)
		return resp_param_error(resp, "upid", "no such task");
	if (r < 0)
		return resp_error(resp, r, "cannot read the task index: %s", err_str(r));
	snprintf(path, sizeof(path), "/nodes/%s", req->app->cfg.node);
	if (owns_task(req, str_of(*entry, "user")) || api_can(req, path, privs))
		return 0;
	cJSON_Delete(*entry);
	*entry = NULL;
	return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (%s, %s)", path, privs);
}

int api_task_index(struct req *req, struct resp *resp)
{
	cJSON *e = NULL;
	int r = task_lookup(req, resp, "Sys.Audit", &e);

	cJSON_Delete(e);
	if (r == 0)
		resp->data = api_subdirs("/nodes/{node}/tasks/{upid}/");
	return r;
}

int api_task_status(struct req *req, struct resp *resp)
{
	cJSON *e = NULL;
	int r = task_lookup(req, resp, "Sys.Audit", &e);

	if (r < 0)
		return r;
	resp->data = task_base(e);
	cJSON_AddStringToObject(resp->data, "status", running(e) ? "running" : "stopped");
	/* Clients poll until exitstatus appears: leave it out while running. */
	if (!running(e))
		cJSON_AddStringToObject(resp->data, "exitstatus",
					str_of(e, "exitstatus") ? str_of(e, "exitstatus")
								: "unexpected status");
	cJSON_Delete(e);
	return 0;
}

int api_task_stop(struct req *req, struct resp *resp)
{
	cJSON *e = NULL;
	int r = task_lookup(req, resp, "Sys.Modify", &e);

	cJSON_Delete(e);
	if (r < 0)
		return r;
	r = tasks_stop(req->app->tasks, req_str(req, "upid"));
	return r < 0 ? resp_error(resp, r, "cannot stop task: %s", err_str(r)) : 0;
}

/* --- the log --- */

static void add_line(cJSON *rows, int64_t n, const char *text)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "n", (double)n);
	cJSON_AddStringToObject(o, "t", text);
	cJSON_AddItemToArray(rows, o);
}

/* Lines START.. (LIMIT of them; 0 = to the end) as [{n (1-based), t}];
 * returns the number of lines in the file. */
static int64_t read_log_lines(FILE *fp, int64_t start, int64_t limit, cJSON *rows)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int64_t count = 0;

	while ((len = getline(&line, &cap, fp)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (count >= start && (limit == 0 || count - start < limit))
			add_line(rows, count + 1, line);
		count++;
	}
	free(line);
	return count;
}

int api_task_log(struct req *req, struct resp *resp)
{
	char path[APP_PATH_MAX + UPID_MAX];
	cJSON *e = NULL;
	int64_t total, start = req_int(req, "start", 0),
		       limit = req_int(req, "limit", LOG_DEFAULT_LIMIT);
	FILE *fp;
	int r = task_lookup(req, resp, "Sys.Audit", &e);

	cJSON_Delete(e);
	if (r < 0)
		return r;
	if (req_bool(req, "download", 0))
		start = limit = 0; /* the whole log, as rows */
	tasks_log_path(req->app->tasks, req_str(req, "upid"), path, sizeof(path));
	fp = fopen(path, "re");
	if (!fp)
		return resp_param_error(resp, "upid", "no such task - unable to open file - %s",
					strerror(errno));
	resp->data = cJSON_CreateArray();
	total = read_log_lines(fp, start, limit, resp->data);
	fclose(fp);
	/* Proxmox answers an empty log with one line (its web UI needs a row). */
	if (total == 0) {
		add_line(resp->data, 1, "no content");
		total = 1;
	}
	resp->total = total;
	return 0;
}

/* --- answering a handler that started a task --- */

int api_task_reply(struct req *req, struct resp *resp, const char *upid, int delay_s,
		   const char *what)
{
	char status[1024];
	int r;

	if (delay_s > 0) {
		r = tasks_wait(req->app->tasks, upid, (unsigned)delay_s * 1000, status,
			       sizeof(status));
		if (r == 0 && strcmp(status, "OK") == 0)
			return 0; /* data stays null: done within the delay */
		if (r == 0 && strncmp(status, "WARNINGS: ", 10) == 0)
			return 0;
		if (r == 0)
			return resp_error(resp, CR_EINTERNAL, "%s: %s", what, status);
	}
	resp->data = cJSON_CreateString(upid);
	return resp->data ? 0 : resp_error(resp, -ENOMEM, "out of memory");
}
