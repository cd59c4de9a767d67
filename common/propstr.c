/* Property-string parser (see propstr.h). */
#include "propstr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int valid_key(const char *k)
{
	if (!isalpha((unsigned char)*k))
		return 0;
	for (k++; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return 0;
	return 1;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int add_item(struct propstr *p, const char *key, const char *value,
		    char *err, size_t errlen)
{
	if (!valid_key(key)) {
		snprintf(err, errlen, "invalid key '%.64s' in property string", key);
		return -EINVAL;
	}
	if (propstr_get(p, key)) {
		snprintf(err, errlen, "duplicate key in comma-separated list property: %.64s", key);
		return -EINVAL;
	}
	if (p->n == PROPSTR_MAX_ITEMS) {
		snprintf(err, errlen, "too many items in property string");
		return -EINVAL;
	}
	p->items[p->n].key = key;
	p->items[p->n].value = value;
	p->n++;
	return 0;
}

int propstr_parse(const char *s, const char *default_key, struct propstr *out,
		  char *err, size_t errlen)
{
	char *seg, *save = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (has_control(s)) {
		snprintf(err, errlen, "property string contains control characters");
		return -EINVAL;
	}
	out->copy = strdup(s);
	if (!out->copy)
		return -ENOMEM;
	for (seg = strtok_r(out->copy, ",", &save); seg && r == 0;
	     seg = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(seg, '=');

		if (eq) {
			*eq = '\0';
			r = add_item(out, seg, eq + 1, err, errlen);
		} else if (default_key) {
			r = add_item(out, default_key, seg, err, errlen);
		} else {
			snprintf(err, errlen, "value without key: '%.64s'", seg);
			r = -EINVAL;
		}
	}
	if (r < 0)
		propstr_free(out);
	return r;
}

const char *propstr_get(const struct propstr *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->items[i].key, key) == 0)
			return p->items[i].value;
	return NULL;
}

void propstr_free(struct propstr *p)
{
	free(p->copy);
	p->copy = NULL;
	p->n = 0;
}

int propstr_bool(const char *v)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	static const char *const no[] = { "0", "off", "no", "false" };

	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}
