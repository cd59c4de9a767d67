/* The upload writer thread (see upload_writer.h): the HTTP thread fills a
 * ring of buffers in order, the writer thread hashes and writes them in the
 * same order. */
#include "server/upload_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define UW_BUF_SIZE (1u << 20) /* one write(2): the per-call cost vanishes */
#define UW_BUFS 4              /* 4 MiB in flight absorb a disk stall of some ms */
/* Writeback is started every 32 MiB and waited for 128 MiB behind the
 * writes, so at most 160 MiB are dirty or in flight: the final sync only
 * waits for the tail, and write(2) never stalls on a flood of dirty pages.
 * A shorter window (8 MiB waited 8 MiB behind) was slower in alternated
 * runs of 2 GiB: the writer waits more often, and the receiving behind it. */
#define UW_KICK (32u << 20)
#define UW_BEHIND (128u << 20)

struct uw_buf {
	unsigned char *data;
	size_t len;
};

struct upload_writer {
	int fd;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a buffer queued or written, or the stop */
	struct uw_buf bufs[UW_BUFS];
	unsigned fill;   /* the buffer the producer fills */
	unsigned next;   /* the buffer the thread writes next */
	unsigned queued; /* buffers handed over and not yet written */
	int stop, drop;  /* no more buffers will come; pending ones are dropped */
	int err;         /* the first write error */
	EVP_MD_CTX *md;  /* NULL: no digest */
	/* thread only: bytes written, writeback started, writeback done */
	uint64_t off, kicked, settled;
};

void upload_digest_hex(const unsigned char *d, unsigned len, char *out, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0;

	for (unsigned i = 0; i < len && o + 2 < n; i++) {
		out[o++] = digits[d[i] >> 4];
		out[o++] = digits[d[i] & 15];
	}
	if (n)
		out[o] = '\0';
}

/* Thread side: starts the writeback of the chunk just written, then waits
 * for what lies UW_BEHIND back and drops it from the page cache (an upload
 * of gigabytes must not evict the node's cache).  Only this thread waits;
 * the HTTP thread goes on receiving into the ring.  A failed start is left
 * to a later wait or the final fdatasync; a failed wait is the upload's
 * error, since it consumes the file's writeback error that a later
 * fdatasync on another descriptor would no longer see. */
static int uw_writeback(struct upload_writer *w)
{
	off_t from = (off_t)w->settled, len;

	(void)sync_file_range(w->fd, (off_t)w->kicked, (off_t)(w->off - w->kicked),
			      SYNC_FILE_RANGE_WRITE);
	w->kicked = w->off;
	if (w->off < UW_BEHIND || w->off - UW_BEHIND <= w->settled)
		return 0;
	w->settled = w->off - UW_BEHIND;
	len = (off_t)w->settled - from;
	if (sync_file_range(w->fd, from, len,
			    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				SYNC_FILE_RANGE_WAIT_AFTER) < 0 &&
	    errno != ESPIPE && errno != EINVAL)
		return -errno; /* ESPIPE, EINVAL: not a file (a pipe, a device) */
	(void)posix_fadvise(w->fd, from, len, POSIX_FADV_DONTNEED);
	return 0;
}

/* Thread side: hashes and writes one buffer, then settles the writeback of
 * what accumulated. */
static int uw_write(struct upload_writer *w, const struct uw_buf *b)
{
	int r;

	if (w->md && EVP_DigestUpdate(w->md, b->data, b->len) != 1)
		return -EIO;
	if ((r = util_write_all(w->fd, b->data, b->len)) < 0)
		return r;
	w->off += b->len;
	return w->off - w->kicked >= UW_KICK ? uw_writeback(w) : 0;
}

static void *uw_main(void *arg)
{
	struct upload_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct uw_buf *b = &w->bufs[w->next];
		int skip = w->err < 0, r = 0;

		if (!w->queued && !w->stop) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		if (!w->queued || w->drop)
			break;
		pthread_mutex_unlock(&w->lock);
		if (!skip)
			r = uw_write(w, b);
		pthread_mutex_lock(&w->lock);
		if (r < 0 && w->err == 0)
			w->err = r;
		b->len = 0;
		w->next = (w->next + 1) % UW_BUFS;
		w->queued--;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int uw_init(struct upload_writer *w, int fd, const char *algo)
{
	const EVP_MD *md = algo ? EVP_get_digestbyname(algo) : NULL;
	int r;

	w->fd = fd;
	if (algo && !md)
		return -EINVAL;
	for (unsigned i = 0; i < UW_BUFS; i++)
		if (!(w->bufs[i].data = malloc(UW_BUF_SIZE)))
			return -ENOMEM;
	if (md && (!(w->md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(w->md, md, NULL) != 1))
		return -ENOMEM;
	if ((r = pthread_create(&w->thread, NULL, uw_main, w)) != 0)
		return -r;
	w->started = 1;
	return 0;
}

int upload_writer_new(int fd, const char *algo, struct upload_writer **out)
{
	struct upload_writer *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((r = uw_init(w, fd, algo)) < 0) {
		upload_writer_free(w);
		return r;
	}
	*out = w;
	return 0;
}

/* Producer side: the filled buffer goes to the thread; with WAIT, returns
 * once the next buffer is free.  Returns the first write error so far. */
static int uw_queue(struct upload_writer *w, int wait)
{
	int err;

	pthread_mutex_lock(&w->lock);
	w->queued++;
	w->fill = (w->fill + 1) % UW_BUFS;
	pthread_cond_broadcast(&w->cond);
	while (wait && w->queued == UW_BUFS)
		pthread_cond_wait(&w->cond, &w->lock);
	err = w->err;
	pthread_mutex_unlock(&w->lock);
	return err;
}

int upload_writer_put(struct upload_writer *w, const void *d, size_t n)
{
	const unsigned char *p = d;
	int r = 0;

	while (n && r == 0) {
		struct uw_buf *b = &w->bufs[w->fill];
		size_t k = UW_BUF_SIZE - b->len < n ? UW_BUF_SIZE - b->len : n;

		memcpy(b->data + b->len, p, k);
		b->len += k;
		p += k;
		n -= k;
		if (b->len == UW_BUF_SIZE)
			r = uw_queue(w, 1);
	}
	return r;
}

static void uw_join(struct upload_writer *w, int drop)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	w->drop = drop;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = 0;
}

int upload_writer_finish(struct upload_writer *w, char *hex, size_t n)
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (w->started && w->bufs[w->fill].len)
		uw_queue(w, 0);
	uw_join(w, 0);
	if (w->err < 0)
		return w->err;
	if (w->md && EVP_DigestFinal_ex(w->md, dig, &len) != 1)
		return -EIO;
	if (w->md && hex)
		upload_digest_hex(dig, len, hex, n);
	return 0;
}

void upload_writer_free(struct upload_writer *w)
{
	if (!w)
		return;
	uw_join(w, 1);
	for (unsigned i = 0; i < UW_BUFS; i++)
		free(w->bufs[i].data);
	EVP_MD_CTX_free(w->md);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
