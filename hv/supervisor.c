/* The supervisor thread: polls every VM's QMP socket (events) and pidfd
 * (process exit), and a wake pipe that makes it rebuild its poll set. */
#include "hv/vm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each VM contributes up to two descriptors; WATCH_QMP/WATCH_PID say which. */
enum { WATCH_QMP, WATCH_PID };

struct watch {
	struct hv_vm *vm; /* a reference */
	int what;
};

struct pollset {
	struct pollfd *fds;
	struct watch *w;
	size_t n;
};

static void pollset_free(struct pollset *ps)
{
	for (size_t i = 1; i < ps->n; i++)
		hv_vm_put(ps->w[i].vm);
	free(ps->fds);
	free(ps->w);
	memset(ps, 0, sizeof(*ps));
}

static void watch(struct pollset *ps, struct hv_vm *vm, int fd, int what)
{
	ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	ps->w[ps->n] = (struct watch){ .vm = vm, .what = what };
	vm->refs++;
	ps->n++;
}

/* Under h->lock.  Slot 0 is the wake pipe. */
static int pollset_build(struct hv *h, struct pollset *ps)
{
	size_t max = 1 + 2 * h->nvms;

	ps->fds = calloc(max, sizeof(*ps->fds));
	ps->w = calloc(max, sizeof(*ps->w));
	if (!ps->fds || !ps->w)
		return -ENOMEM;
	ps->fds[0] = (struct pollfd){ .fd = h->wake[0], .events = POLLIN };
	ps->n = 1;
	for (size_t i = 0; i < h->nvms; i++) {
		struct hv_vm *vm = h->vms[i];

		if (vm->qmp && !vm->qmp_closed)
			watch(ps, vm, qmp_client_fd(vm->qmp), WATCH_QMP);
		watch(ps, vm, vm->pidfd, WATCH_PID);
	}
	return 0;
}

static void drain_wake(struct hv *h)
{
	char buf[64];

	while (read(h->wake[0], buf, sizeof(buf)) > 0)
		;
}

static void handle(struct hv *h, const struct pollfd *pfd, const struct watch *w)
{
	if (!pfd->revents)
		return;
	if (w->what == WATCH_PID) {
		hv_vm_exited(w->vm);
		return;
	}
	if (qmp_client_pump(w->vm->qmp) == -EPIPE) {
		pthread_mutex_lock(&h->lock);
		w->vm->qmp_closed = 1; /* the pidfd tells when the process is gone */
		pthread_mutex_unlock(&h->lock);
	}
}

static void *supervisor_main(void *arg)
{
	struct hv *h = arg;

	for (;;) {
		struct pollset ps = { 0 };
		int r;

		pthread_mutex_lock(&h->lock);
		r = h->stopping ? -ECANCELED : pollset_build(h, &ps);
		pthread_mutex_unlock(&h->lock);
		if (r == -ECANCELED) {
			pollset_free(&ps);
			break;
		}
		if (r == 0 && poll(ps.fds, ps.n, -1) > 0) {
			if (ps.fds[0].revents)
				drain_wake(h);
			for (size_t i = 1; i < ps.n; i++)
				handle(h, &ps.fds[i], &ps.w[i]);
		}
		pollset_free(&ps); /* drops references: takes h->lock itself */
	}
	return NULL;
}

void hv_supervisor_wake(struct hv *h)
{
	char c = 1;

	if (write(h->wake[1], &c, 1) < 0 && errno != EAGAIN)
		return; /* a full pipe already means "wake up" */
}

int hv_supervisor_start(struct hv *h)
{
	int r;

	if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	r = pthread_create(&h->thread, NULL, supervisor_main, h);
	if (r) {
		close(h->wake[0]);
		close(h->wake[1]);
		return -r;
	}
	return 0;
}

void hv_supervisor_stop(struct hv *h)
{
	pthread_mutex_lock(&h->lock);
	h->stopping = 1;
	pthread_mutex_unlock(&h->lock);
	hv_supervisor_wake(h);
	pthread_join(h->thread, NULL);
	close(h->wake[0]);
	close(h->wake[1]);
}
