/* The generic checker behind vmconf_check(): walks a vc_prop descriptor and
 * words every failure as Proxmox's JSONSchema.pm does. */
#include "hv/vmconf_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/propstr.h"
#include "common/util.h"

#define VC_MAX_SUBKEYS 32

static int enum_has(const char *const *e, const char *v)
{
	for (; *e; e++)
		if (strcmp(*e, v) == 0)
			return 1;
	return 0;
}

static int enum_error(const char *const *e, const char *v, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;

	for (const char *const *p = e; *p; p++)
		buf_printf(&b, "%s%s", p == e ? "" : ", ", *p);
	snprintf(err, errlen, "value '%.64s' does not have a value in the enumeration '%s'", v,
		 b.data ? b.data : "");
	buf_free(&b);
	return -EINVAL;
}

static int check_int(const struct vc_prop *p, const char *v, struct buf *canon, char *err,
		     size_t errlen)
{
	long long x;

	if (!util_is_integer_text(v)) {
		snprintf(err, errlen, "type check ('integer') failed - got '%.64s'", v);
		return -EINVAL;
	}
	errno = 0;
	x = strtoll(v, NULL, 10);
	if (errno == ERANGE || (p->max && x > p->max)) {
		snprintf(err, errlen, "value must have a maximum value of %lld", (long long)p->max);
		return -EINVAL;
	}
	if (x < p->min) {
		snprintf(err, errlen, "value must have a minimum value of %lld", (long long)p->min);
		return -EINVAL;
	}
	return buf_printf(canon, "%lld", x);
}

static int check_num(const struct vc_prop *p, const char *v, struct buf *canon, char *err,
		     size_t errlen)
{
	if (!util_is_number_text(v)) {
		snprintf(err, errlen, "type check ('number') failed - got '%.64s'", v);
		return -EINVAL;
	}
	if (p->max && strtod(v, NULL) > (double)p->max) {
		snprintf(err, errlen, "value must have a maximum value of %lld", (long long)p->max);
		return -EINVAL;
	}
	if (strtod(v, NULL) < (double)p->min) {
		snprintf(err, errlen, "value must have a minimum value of %lld", (long long)p->min);
		return -EINVAL;
	}
	return buf_puts(canon, v);
}

static int check_str(const struct vc_prop *p, const char *v, struct buf *canon, char *err,
		     size_t errlen)
{
	if (p->check && p->check(v, err, errlen) < 0)
		return -EINVAL;
	if (p->max_len && strlen(v) > p->max_len) {
		snprintf(err, errlen, "value may only be %zu characters long", p->max_len);
		return -EINVAL;
	}
	return p->canon ? p->canon(v, canon) : buf_puts(canon, v);
}

int vc_prop_index(const struct vc_format *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->props[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Proxmox's model=MAC shorthand ("virtio=BC:24:11:..") and the drive alias
 * "volume" become their real keys before checking. */
static void rewrite_aliases(const struct vc_format *f, struct propstr *ps)
{
	int model = vc_prop_index(f, "model");
	size_t n = ps->n;

	for (size_t i = 0; i < n; i++) {
		struct propstr_item *it = &ps->items[i];

		if (strcmp(it->key, "volume") == 0 && vc_prop_index(f, "file") >= 0) {
			it->key = "file";
		} else if (model >= 0 && enum_has(f->props[model].enumv, it->key) &&
			   ps->n < PROPSTR_MAX_ITEMS && !propstr_get(ps, "model")) {
			ps->items[ps->n].key = "model";
			ps->items[ps->n].value = it->key;
			ps->n++;
			it->key = "macaddr";
		}
	}
}

static int sub_error(const char *path, const char *sub, const char *msg, char *err, size_t errlen)
{
	snprintf(err, errlen, "invalid format - format error\n%s.%s: %s", path, sub, msg);
	return -EINVAL;
}

static int check_items(const struct vc_format *f, const char *path, const struct propstr *ps,
		       unsigned bus, char **vals, char *err, size_t errlen)
{
	char sub[384];

	for (size_t i = 0; i < ps->n; i++) {
		const char *k = ps->items[i].key;
		int idx = vc_prop_index(f, k);
		struct buf b = BUF_INIT;
		int r;

		if (idx < 0 || (f->props[idx].buses && !(f->props[idx].buses & bus))) {
			snprintf(err, errlen,
				 "invalid format - invalid key in comma-separated list property: %.64s", k);
			return -EINVAL;
		}
		if (vals[idx]) {
			snprintf(err, errlen,
				 "invalid format - duplicate key in comma-separated list property: %.64s", k);
			return -EINVAL;
		}
		r = vc_check_value(&f->props[idx], k, ps->items[i].value, bus, &b, sub, sizeof(sub));
		if (r == -EINVAL)
			r = sub_error(path, k, sub, err, errlen);
		vals[idx] = r < 0 ? NULL : buf_steal(&b);
		buf_free(&b);
		if (r < 0)
			return r;
		if (!vals[idx])
			return -ENOMEM;
	}
	return 0;
}

/* Default key bare, or model=MAC for NICs, first; then the rest in table
 * (alphabetical) order, as Proxmox's print_property_string does. */
static int emit_fmt(const struct vc_format *f, char **vals, struct buf *canon)
{
	int dk = f->default_key ? vc_prop_index(f, f->default_key) : -1;
	int model = vc_prop_index(f, "model"), mac = vc_prop_index(f, "macaddr");
	const char *sep = "";
	int r = 0;

	if (model >= 0 && vals[model] && vals[mac]) {
		r = buf_printf(canon, "%s=%s", vals[model], vals[mac]);
		sep = ",";
	} else if (dk >= 0 && vals[dk]) {
		r = buf_puts(canon, vals[dk]);
		sep = ",";
		mac = model = -1;
	} else {
		mac = model = -1;
	}
	for (size_t i = 0; i < f->n && r == 0; i++) {
		if (!vals[i] || (int)i == dk || (int)i == model || (int)i == mac)
			continue;
		r = buf_printf(canon, "%s%s=%s", sep, f->props[i].name, vals[i]);
		sep = ",";
	}
	return r;
}

static int check_fmt(const struct vc_prop *p, const char *path, const char *v, unsigned bus,
		     struct buf *canon, char *err, size_t errlen)
{
	const struct vc_format *f = p->fmt;
	char *vals[VC_MAX_SUBKEYS] = { 0 };
	char perr[256];
	struct propstr ps;
	int r;

	r = propstr_parse(v, f->default_key, &ps, perr, sizeof(perr));
	if (r == -EINVAL)
		snprintf(err, errlen, "invalid format - %s", perr);
	if (r < 0)
		return r;
	rewrite_aliases(f, &ps);
	r = check_items(f, path, &ps, bus, vals, err, errlen);
	if (r == 0 && f->validate)
		r = f->validate((const char *const *)vals, bus, err, errlen);
	if (r == 0)
		r = emit_fmt(f, vals, canon);
	for (size_t i = 0; i < f->n; i++)
		free(vals[i]);
	propstr_free(&ps);
	return r;
}

int vc_check_value(const struct vc_prop *p, const char *path, const char *v, unsigned bus,
		   struct buf *canon, char *err, size_t errlen)
{
	int b;

	switch (p->type) {
	case VC_INT:
		return check_int(p, v, canon, err, errlen);
	case VC_NUM:
		return check_num(p, v, canon, err, errlen);
	case VC_BOOL:
		b = propstr_bool(v);
		if (b < 0) {
			snprintf(err, errlen, "type check ('boolean') failed - got '%.64s'", v);
			return -EINVAL;
		}
		return buf_puts(canon, b ? "1" : "0");
	case VC_ENUM:
		if (!enum_has(p->enumv, v))
			return enum_error(p->enumv, v, err, errlen);
		return buf_puts(canon, v);
	case VC_STR:
		return check_str(p, v, canon, err, errlen);
	case VC_FMT:
		return check_fmt(p, path, v, bus, canon, err, errlen);
	}
	return -EINVAL;
}
