/* Infection-style dissemination queue (memberlist's TransmitLimitedQueue):
 * each broadcast rides on outgoing packets RetransmitMult*ceil(log10(N+1))
 * times, least-transmitted first, and a newer broadcast about the same member
 * replaces the older one. */
#include "cluster/swim_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint32_t swim_q_limit(const struct swim *s)
{
	double n = (double)s->members.n;

	return s->cfg.retransmit_mult * (uint32_t)ceil(log10(n + 1));
}

static void q_drop(struct swim *s, size_t i)
{
	struct swim_bcast *b = s->queue.v[i];

	b->about->bcast[b->kind] = NULL;
	free(b);
	s->queue.v[i] = s->queue.v[--s->queue.n];
	if (i < s->queue.n)
		s->queue.v[i]->qidx = i;
}

int swim_q_put(struct swim *s, uint8_t kind, struct swim_member *about,
	       const struct swim_msg *m)
{
	uint8_t tmp[SWIM_PACKET_MAX];
	struct swim_bcast *b;
	int n = swim_msg_encode(m, tmp, sizeof(tmp));

	if (n < 0)
		return n;
	if (about->bcast[kind])
		q_drop(s, about->bcast[kind]->qidx);
	b = malloc(sizeof(*b) + (size_t)n);
	if (!b)
		return -ENOMEM;
	b->kind = kind;
	b->about = about;
	b->qidx = s->queue.n;
	b->transmits = 0;
	b->id = ++s->bcast_id;
	b->len = (uint16_t)n;
	memcpy(b->msg, tmp, (size_t)n);
	if (swim_vec_push(&s->queue, b) < 0) {
		free(b);
		return -ENOMEM;
	}
	about->bcast[kind] = b;
	return 0;
}

void swim_q_forget(struct swim *s, struct swim_member *m)
{
	for (int k = 0; k < SWIM_BC_KINDS; k++)
		if (m->bcast[k])
			q_drop(s, m->bcast[k]->qidx);
}

/* Fewest transmissions first; membership before records; newest first. */
static int bcast_cmp(const void *a, const void *b)
{
	const struct swim_bcast *x = *(struct swim_bcast *const *)a;
	const struct swim_bcast *y = *(struct swim_bcast *const *)b;

	if (x->transmits != y->transmits)
		return x->transmits < y->transmits ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id;
}

void swim_q_fill(struct swim *s, struct swim_writer *w)
{
	uint32_t limit = swim_q_limit(s);

	if (s->queue.n > 1)
		qsort(s->queue.v, s->queue.n, sizeof(*s->queue.v), bcast_cmp);
	for (size_t i = 0; i < s->queue.n; i++)
		s->queue.v[i]->qidx = i;
	for (size_t i = 0; i < s->queue.n && swim_writer_room(w) > 0; i++) {
		struct swim_bcast *b = s->queue.v[i];

		if (swim_writer_add(w, b->msg, b->len) == 0)
			b->transmits++;
	}
	for (size_t i = 0; i < s->queue.n;) {
		if (s->queue.v[i]->transmits >= limit)
			q_drop(s, i);
		else
			i++;
	}
}

void swim_q_free(struct swim *s)
{
	while (s->queue.n)
		q_drop(s, s->queue.n - 1);
	free(s->queue.v);
	s->queue.v = NULL;
	s->queue.cap = 0;
}
