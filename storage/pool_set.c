/* The open pools of a node, by id.  Requests and tasks borrow pools from the
 * set while /storage changes it, so a replaced or removed pool is retired,
 * not freed, until the set itself goes (a handful of small structs). */
#include "storage/pool_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define POOL_SET_MAX 256 /* storages a node may define */

struct pool_set {
	pthread_mutex_t mu;
	struct pool *live[POOL_SET_MAX]; /* sorted by id */
	size_t n;
	struct pool **retired;
	size_t n_retired, cap_retired;
};

int pool_set_new(struct pool_set **out)
{
	struct pool_set *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void pool_set_free(struct pool_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		pool_free(s->live[i]);
	for (size_t i = 0; i < s->n_retired; i++)
		pool_free(s->retired[i]);
	free(s->retired);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Index of ID in live[], or where it would go (*found 0).  Lock held. */
static size_t find(const struct pool_set *s, const char *id, int *found)
{
	size_t i = 0;

	while (i < s->n && strcmp(s->live[i]->id, id) < 0)
		i++;
	*found = i < s->n && strcmp(s->live[i]->id, id) == 0;
	return i;
}

static int retire(struct pool_set *s, struct pool *p)
{
	if (s->n_retired == s->cap_retired) {
		size_t cap = s->cap_retired ? s->cap_retired * 2 : 8;
		struct pool **r = realloc(s->retired, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->retired = r;
		s->cap_retired = cap;
	}
	s->retired[s->n_retired++] = p;
	return 0;
}

int pool_set_put(struct pool_set *s, struct pool *p)
{
	int found, r = 0;
	size_t i;

	pthread_mutex_lock(&s->mu);
	i = find(s, p->id, &found);
	if (found && (r = retire(s, s->live[i])) == 0)
		s->live[i] = p;
	else if (!found && s->n == POOL_SET_MAX)
		r = -ENOSPC;
	else if (!found) {
		memmove(&s->live[i + 1], &s->live[i], (s->n - i) * sizeof(s->live[0]));
		s->live[i] = p;
		s->n++;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

int pool_set_remove(struct pool_set *s, const char *id)
{
	int found, r;
	size_t i;

	pthread_mutex_lock(&s->mu);
	i = find(s, id, &found);
	r = !found ? CR_ENOTFOUND : retire(s, s->live[i]);
	if (r == 0) {
		memmove(&s->live[i], &s->live[i + 1], (s->n - i - 1) * sizeof(s->live[0]));
		s->n--;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

struct pool *pool_set_get(struct pool_set *s, const char *id)
{
	struct pool *p = NULL;
	int found;
	size_t i;

	if (!s || !id)
		return NULL;
	pthread_mutex_lock(&s->mu);
	i = find(s, id, &found);
	if (found)
		p = s->live[i];
	pthread_mutex_unlock(&s->mu);
	return p;
}

int pool_set_foreach(struct pool_set *s, int (*fn)(struct pool *p, void *ctx), void *ctx)
{
	struct pool *snap[POOL_SET_MAX];
	size_t n;
	int r = 0;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	memcpy(snap, s->live, n * sizeof(snap[0]));
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n && r == 0; i++)
		r = fn(snap[i], ctx);
	return r;
}

int pool_set_of(struct pool_set *s, const char *volid, struct pool **out, char *err,
		size_t errlen)
{
	struct pool_volid v;
	int r = pool_volid_parse(volid, &v, err, errlen);

	if (r < 0)
		return r;
	if (!(*out = pool_set_get(s, v.storage))) {
		snprintf(err, errlen, "storage '%s' does not exist", v.storage);
		return CR_ENOTFOUND;
	}
	return 0;
}

int pool_set_vol_path(struct pool_set *s, const char *volid, char *out, size_t n, char *err,
		      size_t errlen)
{
	struct pool *p;
	int r = pool_set_of(s, volid, &p, err, errlen);

	return r < 0 ? r : pool_vol_path(p, volid, out, n, err, errlen);
}

int pool_set_vol_free(struct pool_set *s, const char *volid, char *err, size_t errlen)
{
	struct pool *p;
	int r = pool_set_of(s, volid, &p, err, errlen);

	return r < 0 ? r : pool_vol_free(p, volid, err, errlen);
}
