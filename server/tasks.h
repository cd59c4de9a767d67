/* Tasks: long operations run by a worker pool, named by Proxmox UPIDs, each
 * with a log file ending in "TASK OK" or "TASK ERROR: msg", and a per-object
 * lock so two tasks never touch one VM at once. */
#ifndef CORRAL_TASKS_H
#define CORRAL_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/router.h"

struct app;
struct tasks;
struct task;

#define UPID_MAX 256

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

int tasks_new(struct app *app, const char *log_dir, unsigned workers, struct tasks **out);
/* Waits for running tasks to finish (they see task_should_stop()), then frees. */
void tasks_free(struct tasks *ts);

/* Queues FN.  LOCK ("vm:100", or NULL) is taken now: if another task holds it
 * the call fails with CR_ELOCKED and a message naming the holder in ERR.
 * ARG is freed with FREE_ARG (may be NULL) after FN returns. */
int tasks_start(struct tasks *ts, const char *type, const char *id, const struct identity *who,
		const char *lock, task_fn fn, void *arg, void (*free_arg)(void *),
		char upid[UPID_MAX], char *err, size_t errlen);

void task_log(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the error text for "TASK ERROR: msg" and returns CODE. */
int task_fail(struct task *t, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Non-zero once the task was asked to stop (DELETE /tasks/{upid}, shutdown). */
int task_should_stop(const struct task *t);
struct app *task_app(const struct task *t);
const char *task_upid(const struct task *t);

/* Waits until UPID finishes (or TIMEOUT_MS passes: CR_ETIMEOUT); copies its
 * exit status ("OK" or the error text). */
int tasks_wait(struct tasks *ts, const char *upid, unsigned timeout_ms, char *exitstatus,
	       size_t n);

#endif
