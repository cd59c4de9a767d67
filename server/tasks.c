/* The task system (see tasks.h): a fixed pool of worker threads fed by a
 * FIFO queue, per-object locks held from tasks_start() until the task ends,
 * one log file per UPID and an index entry per task in DB_TASKS. */
#include "server/tasks.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "server/app.h"
#include "server/nodeinfo.h"
#include "server/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TASKS_DEFAULT_WORKERS 4
#define TASK_LOCK_MAX 64
#define TASK_ERR_MAX 1024
/* Proxmox's exit status for a task whose worker vanished. */
#define TASK_UNEXPECTED "unexpected status"
/* What a worker killed by "stop" reports in Proxmox. */
#define TASK_INTERRUPTED "received interrupt"
/* Tries at a UPID not yet used (same type, id and user within one second). */
#define UPID_TRIES 64

struct task {
	struct tasks *ts;
	struct task *next_live;	 /* every queued or running task */
	struct task *next_queue; /* FIFO of tasks waiting for a worker */
	char upid[UPID_MAX];	 /* "" while tasks_start() is still naming it */
	struct upid u;
	char lock[TASK_LOCK_MAX]; /* "" = none */
	task_fn fn;
	void *arg;
	void (*free_arg)(void *);
	int log_fd;
	int stop; /* atomic */
	unsigned warnings;
	char error[TASK_ERR_MAX]; /* "" until task_fail() */
};

struct tasks {
	struct app *app;
	char dir[APP_PATH_MAX]; /* LOG_DIR/tasks */
	uint32_t pid;
	uint64_t pstart;
	pthread_mutex_t mu;
	pthread_cond_t work; /* queue got a task, or stopping */
	pthread_cond_t done; /* a task left the live list */
	struct task *live;
	struct task *queue_head, *queue_tail;
	int stopping;
	unsigned starting; /* reserved by tasks_start() but not queued yet */
	unsigned nworkers;
	pthread_t *workers;
	unsigned finished; /* since the last prune */
	int pruning;	   /* one prune at a time */
};

/* --- index entries --- */

/* The index's store: its own environment without per-commit syncs when
 * corrald opened one (app->task_store), else the configuration store. */
static struct store *task_index(const struct tasks *ts)
{
	return ts->app->task_store ? ts->app->task_store : ts->app->store;
}

static cJSON *entry_new(const struct task *t, const char *exitstatus, time_t endtime)
{
	cJSON *e = cJSON_CreateObject();

	if (!e)
		return NULL;
	cJSON_AddStringToObject(e, "upid", t->upid);
	cJSON_AddStringToObject(e, "node", t->u.node);
	cJSON_AddNumberToObject(e, "pid", t->u.pid);
	cJSON_AddNumberToObject(e, "pstart", (double)t->u.pstart);
	cJSON_AddNumberToObject(e, "starttime", t->u.starttime);
	cJSON_AddStringToObject(e, "type", t->u.type);
	cJSON_AddStringToObject(e, "id", t->u.id);
	cJSON_AddStringToObject(e, "user", t->u.user);
	cJSON_AddStringToObject(e, "status", exitstatus ? "stopped" : "running");
	if (exitstatus) {
		cJSON_AddStringToObject(e, "exitstatus", exitstatus);
		cJSON_AddNumberToObject(e, "endtime", (double)endtime);
	}
	return e;
}

static int index_put(struct tasks *ts, const struct task *t, const char *exitstatus)
{
	cJSON *e = entry_new(t, exitstatus, time(NULL));
	int r = e ? store_put1(task_index(ts), DB_TASKS, t->upid, e) : -ENOMEM;

	cJSON_Delete(e);
	return r;
}

/* --- log files --- */

static int log_path_of(const struct tasks *ts, const char *upid, uint32_t starttime, char *out,
		       size_t n)
{
	int len = snprintf(out, n, "%s/%X/%s", ts->dir, starttime & 0xf, upid);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int tasks_log_path(const struct tasks *ts, const char *upid, char *out, size_t n)
{
	struct upid u;

	if (upid_parse(upid, &u))
		return -EINVAL;
	return log_path_of(ts, upid, u.starttime, out, n);
}

static void log_write_line(int fd, const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	if (buf_puts(&b, prefix) == 0 && buf_vprintf(&b, fmt, ap) == 0 && buf_puts(&b, "\n") == 0)
		util_write_all(fd, b.data, b.len); /* one write: readers never see half a line */
	buf_free(&b);
}

static void log_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_printf(int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write_line(fd, "", fmt, ap);
	va_end(ap);
}

void task_log(struct task *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write_line(t->log_fd, "", fmt, ap);
	va_end(ap);
}

void task_warn(struct task *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write_line(t->log_fd, "WARN: ", fmt, ap);
	va_end(ap);
	t->warnings++;
}

/* The exit status is one line: it is also the log's last line. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

int task_fail(struct task *t, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
	one_line(t->error);
	return code;
}

int task_should_stop(const struct task *t)
{
	return __atomic_load_n(&t->stop, __ATOMIC_ACQUIRE);
}

struct app *task_app(const struct task *t)
{
	return t->ts->app;
}

const char *task_upid(const struct task *t)
{
	return t->upid;
}

/* --- live list (callers hold ts->mu) --- */

static struct task *live_find(struct tasks *ts, const char *upid)
{
	for (struct task *t = ts->live; t; t = t->next_live)
		if (t->upid[0] && strcmp(t->upid, upid) == 0)
			return t;
	return NULL;
}

static struct task *live_lock_holder(struct tasks *ts, const char *lock)
{
	for (struct task *t = ts->live; t; t = t->next_live)
		if (t->lock[0] && strcmp(t->lock, lock) == 0)
			return t;
	return NULL;
}

static void live_remove(struct tasks *ts, struct task *t)
{
	for (struct task **p = &ts->live; *p; p = &(*p)->next_live)
		if (*p == t) {
			*p = t->next_live;
			return;
		}
}

static void queue_push(struct tasks *ts, struct task *t)
{
	t->next_queue = NULL;
	if (ts->queue_tail)
		ts->queue_tail->next_queue = t;
	else
		ts->queue_head = t;
	ts->queue_tail = t;
}

static struct task *queue_pop(struct tasks *ts)
{
	struct task *t = ts->queue_head;

	if (t) {
		ts->queue_head = t->next_queue;
		if (!ts->queue_head)
			ts->queue_tail = NULL;
	}
	return t;
}

/* --- retention: the index keeps the newest TASKS_INDEX_KEEP finished tasks --- */

/* How often finished tasks trigger a prune. */
#define PRUNE_EVERY 100

struct finished {
	char *upid;
	double endtime;
};

struct finished_list {
	struct finished *v;
	size_t n, cap;
};

static int collect_finished(const char *key, const cJSON *val, void *ctx)
{
	struct finished_list *l = ctx;
	const cJSON *st = cJSON_GetObjectItem(val, "status"),
		    *end = cJSON_GetObjectItem(val, "endtime");

	if (cJSON_IsString(st) && strcmp(st->valuestring, "running") == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct finished *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].upid = strdup(key);
	l->v[l->n].endtime = cJSON_IsNumber(end) ? end->valuedouble : 0;
	return l->v[l->n++].upid ? 0 : -ENOMEM;
}

static int oldest_first(const void *a, const void *b)
{
	const struct finished *x = a, *y = b;

	if (x->endtime != y->endtime)
		return x->endtime < y->endtime ? -1 : 1;
	return strcmp(x->upid, y->upid);
}

/* Drops the N oldest entries of L and their log files, in one transaction. */
static int drop_oldest(struct tasks *ts, struct finished_list *l, size_t n)
{
	char path[APP_PATH_MAX + UPID_MAX];
	struct store_txn *txn;
	int r = store_begin(task_index(ts), 0, &txn);

	if (r < 0)
		return r;
	qsort(l->v, l->n, sizeof(*l->v), oldest_first);
	for (size_t i = 0; i < n && r == 0; i++)
		r = store_del(txn, DB_TASKS, l->v[i].upid);
	if (r < 0) {
		store_abort(txn);
		return r;
	}
	r = store_commit(txn);
	for (size_t i = 0; i < n && r == 0; i++)
		if (tasks_log_path(ts, l->v[i].upid, path, sizeof(path)) == 0)
			unlink(path);
	return r;
}

static int prune_index(struct tasks *ts)
{
	struct finished_list l = {NULL, 0, 0};
	struct store_txn *txn;
	int r = store_begin(task_index(ts), 1, &txn);

	if (r < 0)
		return r;
	r = store_foreach(txn, DB_TASKS, "", collect_finished, &l);
	store_abort(txn);
	if (r == 0 && l.n > TASKS_INDEX_KEEP)
		r = drop_oldest(ts, &l, l.n - TASKS_INDEX_KEEP);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].upid);
	free(l.v);
	return r;
}

/* Called by a worker after each task: every PRUNE_EVERY tasks, one of them prunes. */
static void maybe_prune(struct tasks *ts)
{
	int mine = 0;

	pthread_mutex_lock(&ts->mu);
	if (++ts->finished >= PRUNE_EVERY && !ts->pruning) {
		ts->finished = 0;
		ts->pruning = mine = 1;
	}
	pthread_mutex_unlock(&ts->mu);
	if (!mine)
		return;
	if (prune_index(ts) < 0)
		log_warn("tasks: cannot prune the task index");
	pthread_mutex_lock(&ts->mu);
	ts->pruning = 0;
	pthread_mutex_unlock(&ts->mu);
}

/* --- running a task --- */

static void task_free(struct task *t)
{
	if (t->free_arg)
		t->free_arg(t->arg);
	if (t->log_fd >= 0)
		close(t->log_fd);
	free(t);
}

static void exit_status(const struct task *t, int rc, char *out, size_t n)
{
	if (rc < 0)
		snprintf(out, n, "%s", t->error[0] ? t->error : err_str(rc));
	else if (t->warnings)
		snprintf(out, n, "WARNINGS: %u", t->warnings);
	else
		snprintf(out, n, "OK");
}

/* Closes the log with Proxmox's last line, then records the end in the index. */
static void task_finish(struct task *t, int rc)
{
	struct tasks *ts = t->ts;
	char status[TASK_ERR_MAX + 16];

	exit_status(t, rc, status, sizeof(status));
	if (rc < 0)
		log_printf(t->log_fd, "TASK ERROR: %s", status);
	else if (t->warnings)
		log_printf(t->log_fd, "TASK %s", status);
	else
		log_printf(t->log_fd, "TASK OK");
	fsync(t->log_fd);
	if (index_put(ts, t, status) < 0)
		log_error("task %s: cannot record its end in the index", t->upid);
	pthread_mutex_lock(&ts->mu);
	live_remove(ts, t);
	pthread_cond_broadcast(&ts->done);
	pthread_mutex_unlock(&ts->mu);
	task_free(t);
	/* Index commits are not synced (task starts are on the request path);
	 * each end flushes them, once the task's lock is free again. */
	if (ts->app->task_store && store_sync(ts->app->task_store) < 0)
		log_error("task index: cannot flush it to disk");
	maybe_prune(ts);
}

static void task_run(struct task *t)
{
	int rc;

	if (task_should_stop(t))
		rc = task_fail(t, -EINTR, TASK_INTERRUPTED);
	else
		rc = t->fn(t, t->arg);
	task_finish(t, rc > 0 ? 0 : rc);
}

static void *worker_main(void *arg)
{
	struct tasks *ts = arg;

	pthread_mutex_lock(&ts->mu);
	for (;;) {
		struct task *t = queue_pop(ts);
		if (t) {
			pthread_mutex_unlock(&ts->mu);
			task_run(t);
			pthread_mutex_lock(&ts->mu);
		} else if (ts->stopping && ts->starting == 0) {
			break;
		} else {
			pthread_cond_wait(&ts->work, &ts->mu);
		}
	}
	pthread_mutex_unlock(&ts->mu);
	return NULL;
}

/* --- starting tasks --- */

/* Reserves LOCK for a new live task (upid still ""), or names the holder. */
static int reserve(struct tasks *ts, struct task *t, char *err, size_t errlen)
{
	struct task *holder;
	int r = 0;

	pthread_mutex_lock(&ts->mu);
	holder = t->lock[0] ? live_lock_holder(ts, t->lock) : NULL;
	if (ts->stopping) {
		snprintf(err, errlen, "corrald is shutting down");
		r = CR_ENOTRUNNING;
	} else if (holder) {
		snprintf(err, errlen, "can't lock '%s' - it is held by task %s %s", t->lock,
			 holder->u.type, holder->upid[0] ? holder->upid : "(starting)");
		r = CR_ELOCKED;
	} else {
		t->next_live = ts->live;
		ts->live = t;
		ts->starting++;
	}
	pthread_mutex_unlock(&ts->mu);
	return r;
}

/* Names the task and creates its log: O_EXCL on the UPID-named file makes
 * the name unique, moving starttime on when a twin started this second. */
static int create_log(struct tasks *ts, struct task *t, char *err, size_t errlen)
{
	char upid[UPID_MAX], path[APP_PATH_MAX + UPID_MAX] = "";
	int r;

	t->u.starttime = (uint32_t)time(NULL);
	for (int i = 0; i < UPID_TRIES; i++, t->u.starttime++) {
		if (upid_format(&t->u, upid, sizeof(upid)) ||
		    log_path_of(ts, upid, t->u.starttime, path, sizeof(path))) {
			snprintf(err, errlen, "invalid task name %s:%s:%s", t->u.type, t->u.id,
				 t->u.user);
			return -EINVAL;
		}
		t->log_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
		if (t->log_fd >= 0) {
			pthread_mutex_lock(&ts->mu);
			memcpy(t->upid, upid, sizeof(upid));
			pthread_mutex_unlock(&ts->mu);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	r = -errno;
	snprintf(err, errlen, "cannot create task log %s: %s", path, strerror(-r));
	return r;
}

static int fill_task(struct tasks *ts, struct task *t, const char *type, const char *id,
		     const struct identity *who, const char *lock)
{
	int len;

	t->ts = ts;
	t->log_fd = -1;
	t->u.pid = ts->pid;
	t->u.pstart = ts->pstart;
	if (util_strlcpy(t->u.node, ts->app->cfg.node, sizeof(t->u.node)) ||
	    util_strlcpy(t->u.type, type, sizeof(t->u.type)) ||
	    util_strlcpy(t->u.id, id ? id : "", sizeof(t->u.id)) ||
	    util_strlcpy(t->lock, lock ? lock : "", sizeof(t->lock)))
		return -EINVAL;
	if (who && who->tokenid[0])
		len = snprintf(t->u.user, sizeof(t->u.user), "%s!%s", who->userid, who->tokenid);
	else
		len = snprintf(t->u.user, sizeof(t->u.user), "%s", who ? who->userid : "root@pam");
	return len < 0 || (size_t)len >= sizeof(t->u.user) ? -EINVAL : 0;
}

static void unreserve(struct tasks *ts, struct task *t)
{
	pthread_mutex_lock(&ts->mu);
	live_remove(ts, t);
	ts->starting--;
	pthread_cond_broadcast(&ts->work);
	pthread_mutex_unlock(&ts->mu);
}

static void unlink_log(struct tasks *ts, struct task *t)
{
	char path[APP_PATH_MAX + UPID_MAX];

	if (log_path_of(ts, t->upid, t->u.starttime, path, sizeof(path)) == 0)
		unlink(path);
}

int tasks_start(struct tasks *ts, const char *type, const char *id, const struct identity *who,
		const char *lock, task_fn fn, void *arg, void (*free_arg)(void *),
		char upid[UPID_MAX], char *err, size_t errlen)
{
	struct task *t = calloc(1, sizeof(*t));
	int r;

	if (!t) {
		if (free_arg)
			free_arg(arg);
		return -ENOMEM;
	}
	t->fn = fn;
	t->arg = arg;
	t->free_arg = free_arg;
	r = fill_task(ts, t, type, id, who, lock);
	if (r < 0) {
		snprintf(err, errlen, "invalid task type, id, user or lock");
		goto out_free;
	}
	r = reserve(ts, t, err, errlen);
	if (r < 0)
		goto out_free;
	r = create_log(ts, t, err, errlen);
	if (r < 0)
		goto out_unreserve;
	r = index_put(ts, t, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot record task: %s", err_str(r));
		goto out_unlink;
	}
	memcpy(upid, t->upid, UPID_MAX);
	pthread_mutex_lock(&ts->mu);
	queue_push(ts, t);
	ts->starting--;
	pthread_cond_signal(&ts->work);
	pthread_mutex_unlock(&ts->mu);
	return 0;
out_unlink:
	unlink_log(ts, t);
out_unreserve:
	unreserve(ts, t);
out_free:
	task_free(t);
	return r;
}

/* --- queries --- */

int tasks_get(struct tasks *ts, const char *upid, cJSON **out)
{
	return store_get1(task_index(ts), DB_TASKS, upid, out);
}

struct foreach_ctx {
	int (*fn)(const cJSON *entry, void *ctx);
	void *ctx;
};

static int foreach_cb(const char *key, const cJSON *val, void *ctx)
{
	struct foreach_ctx *c = ctx;

	(void)key;
	return c->fn(val, c->ctx);
}

int tasks_foreach(struct tasks *ts, int (*fn)(const cJSON *entry, void *ctx), void *ctx)
{
	struct foreach_ctx c = {fn, ctx};
	struct store_txn *txn;
	int r = store_begin(task_index(ts), 1, &txn);

	if (r < 0)
		return r;
	r = store_foreach(txn, DB_TASKS, "", foreach_cb, &c);
	store_abort(txn);
	return r;
}

int tasks_stop(struct tasks *ts, const char *upid)
{
	struct task *t;
	cJSON *e = NULL;
	int r;

	pthread_mutex_lock(&ts->mu);
	t = live_find(ts, upid);
	if (t)
		__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ts->mu);
	if (t)
		return 0;
	r = tasks_get(ts, upid, &e);
	cJSON_Delete(e);
	return r;
}

static void deadline_after(unsigned ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int wait_gone(struct tasks *ts, const char *upid, unsigned timeout_ms)
{
	struct timespec deadline;
	int r = 0;

	deadline_after(timeout_ms, &deadline);
	pthread_mutex_lock(&ts->mu);
	while (live_find(ts, upid) && r == 0)
		r = pthread_cond_timedwait(&ts->done, &ts->mu, &deadline);
	if (r == ETIMEDOUT && !live_find(ts, upid))
		r = 0;
	pthread_mutex_unlock(&ts->mu);
	return r == 0 ? 0 : CR_ETIMEOUT;
}

int tasks_wait(struct tasks *ts, const char *upid, unsigned timeout_ms, char *exitstatus, size_t n)
{
	cJSON *e = NULL, *st;
	int r = wait_gone(ts, upid, timeout_ms);

	if (r == 0)
		r = tasks_get(ts, upid, &e);
	if (r < 0)
		return r;
	st = cJSON_GetObjectItem(e, "exitstatus");
	r = cJSON_IsString(st) ? util_strlcpy(exitstatus, st->valuestring, n) : CR_ESTORE;
	cJSON_Delete(e);
	return r == -ERANGE ? 0 : r;
}

/* --- start-up and shut-down --- */

static int collect_running(const char *key, const cJSON *val, void *ctx)
{
	const cJSON *st = cJSON_GetObjectItem(val, "status");

	if (cJSON_IsString(st) && strcmp(st->valuestring, "running") == 0)
		cJSON_AddItemToArray(ctx, cJSON_CreateString(key));
	return 0;
}

/* --- moving index entries out of the configuration store --- */

static int collect_entry(const char *key, const cJSON *val, void *ctx)
{
	cJSON *pair = cJSON_CreateArray();

	cJSON_AddItemToArray(pair, cJSON_CreateString(key));
	cJSON_AddItemToArray(pair, cJSON_Duplicate(val, 1));
	cJSON_AddItemToArray(ctx, pair);
	return 0;
}

/* Writes PAIRS ([upid, entry]...) into S, or with DEL deletes their keys. */
static int write_entries(struct store *s, const cJSON *pairs, int del)
{
	struct store_txn *txn;
	const cJSON *p;
	int r = store_begin(s, 0, &txn);

	if (r < 0)
		return r;
	cJSON_ArrayForEach(p, pairs)
		if (r == 0)
			r = del ? store_del(txn, DB_TASKS, p->child->valuestring)
				: store_put(txn, DB_TASKS, p->child->valuestring, p->child->next);
	if (r < 0) {
		store_abort(txn);
		return r;
	}
	return store_commit(txn);
}

/* Entries in the configuration store (from a corrald before the separate
 * task index, or put there by hand) move into the task store. */
static int migrate_index(struct tasks *ts)
{
	cJSON *pairs = cJSON_CreateArray();
	struct store_txn *txn;
	int r = pairs ? store_begin(ts->app->store, 1, &txn) : -ENOMEM;

	if (r < 0)
		goto out;
	r = store_foreach(txn, DB_TASKS, "", collect_entry, pairs);
	store_abort(txn);
	if (r == 0 && pairs->child)
		r = write_entries(ts->app->task_store, pairs, 0);
	if (r == 0 && pairs->child)
		r = store_sync(ts->app->task_store);
	if (r == 0 && pairs->child)
		r = write_entries(ts->app->store, pairs, 1);
out:
	cJSON_Delete(pairs);
	return r;
}

/* Adds Proxmox's closing line to the log of a task whose corrald died; its
 * end time is the log's last change. */
static time_t close_orphan_log(struct tasks *ts, const char *upid)
{
	char path[APP_PATH_MAX + UPID_MAX];
	struct stat st;
	time_t end = time(NULL);
	int fd;

	if (tasks_log_path(ts, upid, path, sizeof(path)))
		return end;
	if (stat(path, &st) == 0)
		end = st.st_mtime;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd >= 0) {
		log_printf(fd, "TASK ERROR: " TASK_UNEXPECTED);
		fsync(fd);
		close(fd);
	}
	return end;
}

static int mark_orphan(struct tasks *ts, struct store_txn *txn, const char *upid)
{
	cJSON *e = NULL;
	int r = store_get(txn, DB_TASKS, upid, &e);

	if (r < 0)
		return r;
	cJSON_ReplaceItemInObject(e, "status", cJSON_CreateString("stopped"));
	cJSON_DeleteItemFromObject(e, "exitstatus");
	cJSON_DeleteItemFromObject(e, "endtime");
	cJSON_AddStringToObject(e, "exitstatus", TASK_UNEXPECTED);
	cJSON_AddNumberToObject(e, "endtime", (double)close_orphan_log(ts, upid));
	r = store_put(txn, DB_TASKS, upid, e);
	cJSON_Delete(e);
	return r;
}

/* One transaction closes every task a previous corrald left running. */
static int recover_orphans(struct tasks *ts)
{
	cJSON *keys = cJSON_CreateArray(), *k;
	struct store_txn *txn;
	int r = keys ? store_begin(task_index(ts), 0, &txn) : -ENOMEM;

	if (r < 0)
		goto out_keys;
	r = store_foreach(txn, DB_TASKS, "", collect_running, keys);
	for (k = keys->child; k && r == 0; k = k->next)
		r = mark_orphan(ts, txn, k->valuestring);
	if (r == 0 && keys->child)
		r = store_commit(txn);
	else
		store_abort(txn);
out_keys:
	cJSON_Delete(keys);
	return r;
}

static int make_dirs(struct tasks *ts, const char *log_dir)
{
	char sub[APP_PATH_MAX + 8];
	int len = snprintf(ts->dir, sizeof(ts->dir), "%s/tasks", log_dir);

	if (len < 0 || (size_t)len >= sizeof(ts->dir))
		return -ENAMETOOLONG;
	for (int i = 0; i < 16; i++) {
		snprintf(sub, sizeof(sub), "%s/%X", ts->dir, i);
		int r = util_mkdir_p(sub, 0750);
		if (r < 0)
			return r;
	}
	return 0;
}

static int start_workers(struct tasks *ts, unsigned workers)
{
	ts->workers = calloc(workers, sizeof(*ts->workers));
	if (!ts->workers)
		return -ENOMEM;
	for (; ts->nworkers < workers; ts->nworkers++) {
		int r = pthread_create(&ts->workers[ts->nworkers], NULL, worker_main, ts);
		if (r)
			return -r;
	}
	return 0;
}

static void sync_init(struct tasks *ts)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&ts->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ts->work, NULL);
	pthread_cond_init(&ts->done, &ca);
	pthread_condattr_destroy(&ca);
}

int tasks_new(struct app *app, const char *log_dir, unsigned workers, struct tasks **out)
{
	struct tasks *ts = calloc(1, sizeof(*ts));
	int r;

	if (!ts)
		return -ENOMEM;
	ts->app = app;
	ts->pid = (uint32_t)getpid();
	sync_init(ts);
	r = nodeinfo_read_self_starttime(&ts->pstart);
	if (r == 0)
		r = make_dirs(ts, log_dir);
	if (r == 0)
		r = ts->app->task_store ? migrate_index(ts) : 0;
	if (r == 0)
		r = recover_orphans(ts);
	if (r == 0)
		r = prune_index(ts);
	if (r == 0)
		r = start_workers(ts, workers ? workers : TASKS_DEFAULT_WORKERS);
	if (r < 0) {
		tasks_free(ts);
		return r;
	}
	*out = ts;
	return 0;
}

void tasks_free(struct tasks *ts)
{
	if (!ts)
		return;
	pthread_mutex_lock(&ts->mu);
	ts->stopping = 1;
	for (struct task *t = ts->live; t; t = t->next_live)
		__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&ts->work);
	pthread_mutex_unlock(&ts->mu);
	for (unsigned i = 0; i < ts->nworkers; i++)
		pthread_join(ts->workers[i], NULL);
	if (ts->app->task_store)
		store_sync(ts->app->task_store);
	free(ts->workers);
	pthread_cond_destroy(&ts->work);
	pthread_cond_destroy(&ts->done);
	pthread_mutex_destroy(&ts->mu);
	free(ts);
}
