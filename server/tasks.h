/* Tasks: long operations run by a worker pool, named by Proxmox UPIDs, each
 * with a log file ending in "TASK OK" or "TASK ERROR: msg", and a per-object
 * lock so two tasks never touch one VM at once. */
#ifndef CORRAL_TASKS_H
#define CORRAL_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "server/router.h"

struct app;
struct tasks;
struct task;

#define UPID_MAX 256
/* Finished tasks the index keeps (with their logs); older ones are dropped
 * at start-up and every 100 tasks.  Every list request reads the index. */
#define TASKS_INDEX_KEEP 5000

struct upid {
	char node[64];
	uint32_t pid;
	uint64_t pstart;
	uint32_t starttime;
	char type[32];
	char id[64];
	char user[192]; /* user@realm or user@realm!token */
};

/* Pure UPID codec: "UPID:node:PID:PSTART:STARTTIME:type:id:user:" (uppercase
 * hex, 9 fields).  Returns 0 or -EINVAL. */
int upid_format(const struct upid *u, char *out, size_t n);
int upid_parse(const char *s, struct upid *out);

/* The work of a task.  Returns 0 for "TASK OK", or a negative code after
 * calling task_fail() (or not: then the code's message is used). */
typedef int (*task_fn)(struct task *t, void *arg);

/* LOG_DIR is the node's log directory: each task's log is the file
 * LOG_DIR/tasks/<last hex digit of starttime>/<UPID>, as Proxmox lays out
 * /var/log/pve/tasks.  The index (DB_TASKS) lives in APP's task_store, an
 * environment committed without syncing at task start and flushed at every
 * task end, or in APP's store when task_store is NULL.  Entries
 * a previous corrald left "running" are closed with exitstatus
 * "unexpected status".  WORKERS 0 means 4. */
int tasks_new(struct app *app, const char *log_dir, unsigned workers, struct tasks **out);
/* Waits for running tasks to finish (they see task_should_stop()), then frees. */
void tasks_free(struct tasks *ts);

/* Queues FN.  LOCK ("vm:100", or NULL) is taken now: if another task holds it
 * the call fails with CR_ELOCKED and a message naming the holder in ERR.
 * ARG is freed with FREE_ARG (may be NULL) after FN returns, also when the
 * start fails.  The UPID's user is WHO's "user@realm" or "user@realm!token"
 * (NULL: "root@pam", for corrald's own tasks). */
int tasks_start(struct tasks *ts, const char *type, const char *id, const struct identity *who,
		const char *lock, task_fn fn, void *arg, void (*free_arg)(void *),
		char upid[UPID_MAX], char *err, size_t errlen);

void task_log(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs "WARN: msg"; a task that warned and returns 0 ends with the exit
 * status "WARNINGS: n" (Proxmox's wording) instead of "OK". */
void task_warn(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the error text for "TASK ERROR: msg" and returns CODE. */
int task_fail(struct task *t, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Non-zero once the task was asked to stop (DELETE /tasks/{upid}, shutdown). */
int task_should_stop(const struct task *t);
struct app *task_app(const struct task *t);
const char *task_upid(const struct task *t);

/* Waits until UPID finishes (or TIMEOUT_MS passes: CR_ETIMEOUT); copies its
 * exit status ("OK" or the error text). */
int tasks_wait(struct tasks *ts, const char *upid, unsigned timeout_ms, char *exitstatus, size_t n);

/* The index entry of UPID: {upid, node, pid, pstart, starttime, type, id,
 * user, status:"running"|"stopped", exitstatus?, endtime?}.  *OUT is a new
 * tree owned by the caller; CR_ENOTFOUND when unknown. */
int tasks_get(struct tasks *ts, const char *upid, cJSON **out);
/* Calls FN for every index entry (ENTRY valid only during the call); a
 * non-zero return stops the walk and is returned. */
int tasks_foreach(struct tasks *ts, int (*fn)(const cJSON *entry, void *ctx), void *ctx);
/* Asks a queued or running task to stop (task_should_stop() turns true).
 * 0 also when it has already finished; CR_ENOTFOUND when unknown. */
int tasks_stop(struct tasks *ts, const char *upid);
/* Path of UPID's log file (which may not exist).  -EINVAL for a bad UPID. */
int tasks_log_path(const struct tasks *ts, const char *upid, char *out, size_t n);

#endif
