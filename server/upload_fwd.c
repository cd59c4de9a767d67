/* Uploads relayed to another cluster member (see upload_fwd.h): HTTP
 * thread -> upload_writer -> pipe -> relay thread (libcurl) -> member. */
#include "server/upload_fwd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "server/peer.h"
#include "server/router.h"
#include "server/upload_writer.h"

#define FWD_PIPE_SIZE (1 << 20) /* fewer wake-ups between writer and relay */

struct upload_fwd {
	struct app *app;
	char node[CLUSTER_NODE_MAX];
	struct router_request rq;
	struct upload_writer *w; /* into WFD */
	int rfd, wfd;            /* the pipe: relay thread reads, writer writes */
	pthread_t thread;
	int started, failed;
	atomic_int aborted;        /* the body will not be complete */
	struct router_reply reply; /* set by the relay thread */
};

/* libcurl pulls the body: EOF of the pipe ends it, or aborts the transfer
 * when the client went away. */
static size_t fwd_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload_fwd *f = arg;
	ssize_t got;

	do
		got = read(f->rfd, buf, size * n);
	while (got < 0 && errno == EINTR);
	if (got > 0)
		return (size_t)got;
	return got < 0 || atomic_load(&f->aborted) ? CURL_READFUNC_ABORT : 0;
}

static void *fwd_main(void *arg)
{
	struct upload_fwd *f = arg;
	struct peer_body_src src = {.read = fwd_read, .arg = f, .len = -1};

	peer_forward_stream(f->app, f->node, &f->rq, &src, &f->reply);
	close(f->rfd); /* a writer still feeding the pipe gets EPIPE */
	f->rfd = -1;
	return NULL;
}

int upload_fwd_new(struct app *app, const char *node, const struct router_request *rq,
		   struct upload_fwd **out)
{
	struct upload_fwd *f = calloc(1, sizeof(*f));
	int fds[2], r;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	f->app = app;
	f->rfd = f->wfd = -1;
	snprintf(f->node, sizeof(f->node), "%s", node);
	f->rq = *rq;
	f->rq.peer = NULL; /* the caller's buffer; not needed to forward */
	f->rq.conn = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	f->rfd = fds[0];
	f->wfd = fds[1];
	(void)fcntl(f->wfd, F_SETPIPE_SZ, FWD_PIPE_SIZE); /* the default 64 KiB works too */
	if ((r = upload_writer_new(f->wfd, NULL, &f->w)) < 0 ||
	    (r = -pthread_create(&f->thread, NULL, fwd_main, f)) < 0)
		goto fail;
	f->started = 1;
	*out = f;
	return 0;
fail:
	upload_fwd_free(f);
	return r;
}

void upload_fwd_feed(struct upload_fwd *f, const char *data, size_t len)
{
	if (!f->failed && upload_writer_put(f->w, data, len) < 0)
		f->failed = 1; /* the member stopped reading: its answer tells why */
}

/* The writer drains (or drops, with ABORT), the pipe's end tells the relay
 * the body is over, the relay thread ends. */
static void fwd_stop(struct upload_fwd *f, int abort)
{
	if (abort)
		atomic_store(&f->aborted, 1);
	else if (f->w)
		(void)upload_writer_finish(f->w, NULL, 0);
	upload_writer_free(f->w);
	f->w = NULL;
	if (f->wfd >= 0)
		close(f->wfd);
	f->wfd = -1;
	if (f->started)
		pthread_join(f->thread, NULL);
	f->started = 0;
}

void upload_fwd_finish(struct upload_fwd *f, struct router_reply *reply)
{
	fwd_stop(f, 0);
	router_reply_clear(reply);
	*reply = f->reply;
	memset(&f->reply, 0, sizeof(f->reply));
}

void upload_fwd_free(struct upload_fwd *f)
{
	if (!f)
		return;
	fwd_stop(f, 1);
	if (f->rfd >= 0)
		close(f->rfd);
	router_reply_clear(&f->reply);
	free(f);
}
