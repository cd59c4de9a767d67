/* The previous CPU sample of each running VM, under one mutex (status
 * requests come from several HTTP threads). */
#include "server/vmstats.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct sample {
	int vmid;
	pid_t pid;
	uint64_t cpu_ns, at_ms;
	double frac;
};

struct vmstats {
	pthread_mutex_t mu;
	struct sample *v;
	size_t n, cap;
};

int vmstats_new(struct vmstats **out)
{
	struct vmstats *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void vmstats_free(struct vmstats *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->v);
	free(s);
}

static double clamp01(double f)
{
	return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* The sample slot of VMID (a new one when absent), or NULL without memory. */
static struct sample *slot(struct vmstats *s, int vmid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].vmid == vmid)
			return &s->v[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct sample *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = (struct sample){ .vmid = vmid, .pid = 0 };
	return &s->v[s->n++];
}

double vmstats_cpu(struct vmstats *s, int vmid, pid_t pid, uint64_t cpu_ns, uint64_t uptime_s,
		   double cpus, uint64_t now_ms)
{
	double avg = uptime_s && cpus > 0 ? (double)cpu_ns / 1e9 / (double)uptime_s / cpus : 0;
	struct sample *p;
	double f;

	if (!s)
		return clamp01(avg);
	pthread_mutex_lock(&s->mu);
	p = slot(s, vmid);
	if (!p) {
		f = avg;
	} else if (p->pid != pid || cpu_ns < p->cpu_ns) {
		*p = (struct sample){ vmid, pid, cpu_ns, now_ms, clamp01(avg) };
		f = p->frac;
	} else if (now_ms - p->at_ms >= VMSTATS_INTERVAL_MS && cpus > 0) {
		p->frac = clamp01((double)(cpu_ns - p->cpu_ns) / 1e6 / (double)(now_ms - p->at_ms) /
				  cpus);
		p->cpu_ns = cpu_ns;
		p->at_ms = now_ms;
		f = p->frac;
	} else {
		f = p->frac;
	}
	pthread_mutex_unlock(&s->mu);
	return clamp01(f);
}
