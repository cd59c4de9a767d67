/* A gate that test tasks wait at until the test opens it (or asks the task
 * to stop), so a test holds a task "running" without any timing. */
#ifndef CORRAL_TEST_TASK_GATE_H
#define CORRAL_TEST_TASK_GATE_H

#include "server/tasks.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int open, entered;
};

#define GATE_INIT                                                                                  \
	{                                                                                          \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0                          \
	}

static inline void gate_enter(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->entered = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mu);
}

static inline int gate_is_open(struct gate *g)
{
	int open;

	pthread_mutex_lock(&g->mu);
	open = g->open;
	pthread_mutex_unlock(&g->mu);
	return open;
}

static inline void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_mutex_unlock(&g->mu);
}

/* Until a task entered the gate. */
static inline void gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* A task_fn: enters the gate ARG and stays until it opens (TASK OK) or
 * the task is asked to stop (TASK ERROR: stopped by request).  Bounded at
 * 20 s so a broken test fails instead of hanging. */
static inline int gated_task(struct task *t, void *arg)
{
	struct gate *g = arg;

	task_log(t, "waiting at the gate");
	gate_enter(g);
	for (int i = 0; i < 20000 && !gate_is_open(g) && !task_should_stop(t); i++)
		usleep(1000);
	if (task_should_stop(t))
		return task_fail(t, -EINTR, "stopped by request");
	return gate_is_open(g) ? 0 : task_fail(t, -ETIMEDOUT, "the gate never opened");
}

#endif
