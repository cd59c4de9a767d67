/* The gossip thread: poll the sockets until the next SWIM deadline, tick. */
#include "cluster/swim_loop.h"
#include "cluster/transport_udp.h"
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Upper bound on one poll so a stop request never waits long. */
#define LOOP_MAX_WAIT_MS 1000

struct swim_loop {
	pthread_t thread;
	pthread_mutex_t lock;
	atomic_bool stop;
	int wake_fd;
	struct swim_udp *udp;
	struct swim *swim;
};

static int wait_ms(struct swim *s)
{
	uint64_t now = util_now_ms(), next = swim_next_deadline(s);

	if (next <= now)
		return 0;
	return next - now > LOOP_MAX_WAIT_MS ? LOOP_MAX_WAIT_MS : (int)(next - now);
}

static void *loop_main(void *arg)
{
	struct swim_loop *l = arg;
	uint64_t drain;
	int timeout;

	while (!atomic_load(&l->stop)) {
		pthread_mutex_lock(&l->lock);
		swim_tick(l->swim);
		timeout = wait_ms(l->swim);
		pthread_mutex_unlock(&l->lock);
		swim_udp_poll(l->udp, timeout, l->wake_fd, &l->lock);
		if (read(l->wake_fd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
			break;
	}
	return NULL;
}

static bool is_wildcard(const struct swim_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->ip, zero, a->family == 4 ? 4 : 16) == 0;
}

static void loop_free(struct swim_loop *l)
{
	swim_free(l->swim);
	swim_udp_free(l->udp);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

struct swim_loop *swim_loop_start(const struct swim_config *cfg, const char *listen,
				  char *err, size_t errlen)
{
	struct swim_loop *l = calloc(1, sizeof(*l));
	struct swim_config c = *cfg;
	struct swim_transport t;

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto free_loop;
	}
	if (!(l->udp = swim_udp_new(listen, err, errlen)))
		goto free_loop;
	if (c.addr.family == 0) {
		swim_udp_local_addr(l->udp, &c.addr);
		if (is_wildcard(&c.addr)) {
			snprintf(err, errlen, "gossip listens on a wildcard address: "
					      "the address to advertise must be given");
			goto free_loop;
		}
	}
	t = swim_udp_transport(l->udp);
	if (!(l->swim = swim_new(&c, &t, err, errlen)))
		goto free_loop;
	swim_udp_bind(l->udp, l->swim);
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
		snprintf(err, errlen, "cannot start the gossip thread");
		goto free_loop;
	}
	return l;
free_loop:
	loop_free(l);
	return NULL;
}

static void wake(struct swim_loop *l)
{
	uint64_t one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is already non-zero: the loop wakes anyway. */
	}
}

void swim_loop_stop(struct swim_loop *l)
{
	if (!l)
		return;
	atomic_store(&l->stop, true);
	wake(l);
	pthread_join(l->thread, NULL);
	loop_free(l);
}

struct swim *swim_loop_lock(struct swim_loop *l)
{
	pthread_mutex_lock(&l->lock);
	return l->swim;
}

void swim_loop_unlock(struct swim_loop *l)
{
	pthread_mutex_unlock(&l->lock);
	wake(l);
}

void swim_loop_local_addr(const struct swim_loop *l, struct swim_addr *out)
{
	swim_udp_local_addr(l->udp, out);
}
