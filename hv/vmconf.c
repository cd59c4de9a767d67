/* VM configuration map: sorted key->value pairs, Proxmox's config-file text
 * form and its SHA-1 digest, per-key checks and whole-config updates. */
#include "hv/vmconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/util.h"
#include "hv/vmconf_int.h"

struct vmconf_pair {
	char *key;
	char *value;
};

struct vmconf {
	struct vmconf_pair *v;
	size_t n, cap;
};

struct vmconf *vmconf_new(void)
{
	return calloc(1, sizeof(struct vmconf));
}

void vmconf_free(struct vmconf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	free(c);
}

/* Binary search: index of KEY, or where it would be inserted (*FOUND = 0). */
static size_t find(const struct vmconf *c, const char *key, int *found)
{
	size_t lo = 0, hi = c->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(c->v[mid].key, key);

		if (cmp == 0) {
			*found = 1;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *vmconf_get(const struct vmconf *c, const char *key)
{
	int found;
	size_t i = find(c, key, &found);

	return found ? c->v[i].value : NULL;
}

static int grow(struct vmconf *c)
{
	size_t cap = c->cap ? c->cap * 2 : 16;
	struct vmconf_pair *v;

	if (c->n < c->cap)
		return 0;
	v = realloc(c->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->v = v;
	c->cap = cap;
	return 0;
}

int vmconf_set(struct vmconf *c, const char *key, const char *value)
{
	int found;
	size_t i = find(c, key, &found);
	char *val = strdup(value), *k = NULL;

	if (!val)
		return -ENOMEM;
	if (found) {
		free(c->v[i].value);
		c->v[i].value = val;
		return 0;
	}
	k = strdup(key);
	if (!k || grow(c) < 0) {
		free(k);
		free(val);
		return -ENOMEM;
	}
	memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(c->v[0]));
	c->v[i].key = k;
	c->v[i].value = val;
	c->n++;
	return 0;
}

int vmconf_delete(struct vmconf *c, const char *key)
{
	int found;
	size_t i = find(c, key, &found);

	if (!found)
		return -ENOENT;
	free(c->v[i].key);
	free(c->v[i].value);
	memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(c->v[0]));
	c->n--;
	return 0;
}

size_t vmconf_count(const struct vmconf *c)
{
	return c->n;
}

const char *vmconf_key_at(const struct vmconf *c, size_t i)
{
	return i < c->n ? c->v[i].key : NULL;
}

const char *vmconf_value_at(const struct vmconf *c, size_t i)
{
	return i < c->n ? c->v[i].value : NULL;
}

struct vmconf *vmconf_dup(const struct vmconf *c)
{
	struct vmconf *d = vmconf_new();

	for (size_t i = 0; d && i < c->n; i++) {
		if (vmconf_set(d, c->v[i].key, c->v[i].value) < 0) {
			vmconf_free(d);
			return NULL;
		}
	}
	return d;
}

/* ---- text form and digest ------------------------------------------------- */

static int put_comment_line(struct buf *b, const char *line, size_t n)
{
	int r = buf_puts(b, "#");

	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < 0x20 || ch == 0x7f || ch == '%')
			r = buf_printf(b, "%%%02X", ch);
		else
			r = buf_append(b, &line[i], 1);
	}
	return r ? r : buf_puts(b, "\n");
}

/* One '#' line per line of D, empty ones included, so the text parses
 * back to the same description. */
static int put_description(struct buf *b, const char *d)
{
	for (;;) {
		size_t n = strcspn(d, "\n");
		int r = put_comment_line(b, d, n);

		if (r < 0 || d[n] != '\n')
			return r;
		d += n + 1;
	}
}

char *vmconf_to_text(const struct vmconf *c)
{
	struct buf b = BUF_INIT;
	const char *d = vmconf_get(c, "description");
	int r = buf_append(&b, "", 0); /* an empty config is "" */

	if (r == 0 && d)
		r = put_description(&b, d);
	for (size_t i = 0; i < c->n && r == 0; i++)
		if (strcmp(c->v[i].key, "description") != 0)
			r = buf_printf(&b, "%s: %s\n", c->v[i].key, c->v[i].value);
	if (r < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static int hexval(char ch)
{
	return isdigit((unsigned char)ch) ? ch - '0' : (toupper((unsigned char)ch) - 'A' + 10);
}

static int decode_comment(struct buf *desc, const char *s, size_t n)
{
	int r = desc->data ? buf_puts(desc, "\n") : buf_append(desc, "", 0);

	for (size_t i = 0; i < n && r == 0; i++) {
		char ch = s[i];

		if (ch == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		r = buf_append(desc, &ch, 1);
	}
	return r;
}

/* Config keys are lower-case words: [a-z][a-z0-9_-]* */
static int key_syntax_ok(const char *k)
{
	if (*k < 'a' || *k > 'z')
		return 0;
	return strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(k);
}

static int parse_line(struct vmconf *c, const char *line, size_t n, int lineno, char *err,
		      size_t errlen)
{
	char key[64];
	const char *colon = memchr(line, ':', n);
	size_t klen = colon ? (size_t)(colon - line) : 0;
	char *value;
	int r;

	if (!colon || klen == 0 || klen >= sizeof(key) || colon + 1 == line + n || colon[1] != ' ') {
		snprintf(err, errlen, "line %d: expected 'key: value'", lineno);
		return -EINVAL;
	}
	memcpy(key, line, klen);
	key[klen] = '\0';
	if (!key_syntax_ok(key)) {
		snprintf(err, errlen, "line %d: invalid key", lineno);
		return -EINVAL;
	}
	value = strndup(colon + 2, n - klen - 2);
	if (!value)
		return -ENOMEM;
	r = vmconf_get(c, key) ? -EINVAL : vmconf_set(c, key, value);
	if (r == -EINVAL)
		snprintf(err, errlen, "line %d: duplicate key '%s'", lineno, key);
	free(value);
	return r;
}

static int parse_text(struct vmconf *c, const char *text, char *err, size_t errlen)
{
	struct buf desc = BUF_INIT;
	int lineno = 0, r = 0;

	while (*text && r == 0) {
		size_t n = strcspn(text, "\n");

		lineno++;
		if (text[0] == '#' && c->n == 0)
			r = decode_comment(&desc, text + 1, n - 1);
		else if (n > 0)
			r = parse_line(c, text, n, lineno, err, errlen);
		text += n + (text[n] == '\n');
	}
	if (r == 0 && desc.data)
		r = vmconf_set(c, "description", desc.data);
	buf_free(&desc);
	return r;
}

int vmconf_from_text(const char *text, struct vmconf **out, char *err, size_t errlen)
{
	struct vmconf *c = vmconf_new();
	int r;

	if (!c)
		return -ENOMEM;
	r = parse_text(c, text, err, errlen);
	if (r < 0) {
		vmconf_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int vmconf_digest(const struct vmconf *c, char hex[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *text = vmconf_to_text(c);
	int ok;

	if (!text)
		return -ENOMEM;
	ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(), NULL);
	free(text);
	if (!ok || mdlen != 20)
		return -EIO;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---- checks ----------------------------------------------------------------- */

int vmconf_key_known(const char *key)
{
	int idx;

	return vc_find_key(key, &idx) != NULL;
}

int vmconf_check(const char *key, const char *value, char **canon, char *err, size_t errlen)
{
	int idx, r;
	const struct vc_prop *p = vc_find_key(key, &idx);
	struct buf b = BUF_INIT;

	*canon = NULL;
	if (!p) {
		snprintf(err, errlen, "property is not defined in schema and the schema does not allow additional properties");
		return -EINVAL;
	}
	r = buf_append(&b, "", 0);
	if (r == 0)
		r = vc_check_value(p, key, value, vc_bus_of(key), &b, err, errlen);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	*canon = buf_steal(&b);
	return *canon ? 0 : -ENOMEM;
}

int vmconf_parse_vmid(const char *s, int *vmid, char *err, size_t errlen)
{
	size_t n = strlen(s);
	int64_t v;

	if (!util_is_integer_text(s)) {
		snprintf(err, errlen, "type check ('integer') failed - got '%.64s'", s);
		return -EINVAL;
	}
	/* format pve-vmid: ^[1-9][0-9]{2,8}$ */
	if (n < 3 || n > 9 || s[0] < '1' || s[0] > '9' || strspn(s, "0123456789") != n ||
	    util_parse_i64(s, &v) < 0) {
		snprintf(err, errlen, "invalid format - value does not look like a valid VM ID");
		return -EINVAL;
	}
	*vmid = (int)v;
	return 0;
}

void vmconf_errors_add(struct vmconf_errors *errs, const char *key, const char *fmt, ...)
{
	struct vmconf_error *e;
	va_list ap;

	if (errs->n == VMCONF_MAX_ERRORS)
		return;
	e = &errs->e[errs->n++];
	util_strlcpy(e->key, key, sizeof(e->key));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

const char *vmconf_errors_get(const struct vmconf_errors *errs, const char *key)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strcmp(errs->e[i].key, key) == 0)
			return errs->e[i].msg;
	return NULL;
}

uint64_t vmconf_memory_mib(const struct vmconf *c)
{
	const char *m = vmconf_get(c, "memory");
	const char *cur = m ? strstr(m, "current=") : NULL;
	uint64_t v;

	if (cur)
		m = cur + 8;
	if (m && util_parse_u64(m, &v) == 0)
		return v;
	return 512;
}

int64_t vmconf_int(const struct vmconf *c, const char *key, int64_t dflt)
{
	const char *s = vmconf_get(c, key);
	int64_t v;

	return s && util_parse_i64(s, &v) == 0 ? v : dflt;
}

static void check_all_keys(const struct vmconf *c, struct vmconf_errors *errs)
{
	char err[384];

	for (size_t i = 0; i < c->n; i++) {
		char *canon = NULL;

		if (vmconf_check(c->v[i].key, c->v[i].value, &canon, err, sizeof(err)) < 0)
			vmconf_errors_add(errs, c->v[i].key, "%s", err);
		free(canon);
	}
}

static void check_boot(const struct vmconf *c, struct vmconf_errors *errs)
{
	char keys[64][16];
	int n = vmconf_boot_order(c, keys, 64);

	if (!vmconf_get(c, "boot") || n < 0)
		return;
	for (int i = 0; i < n; i++)
		if (!vmconf_get(c, keys[i]))
			vmconf_errors_add(errs, "boot", "boot device '%s' does not exist", keys[i]);
}

static void check_rules(const struct vmconf *c, struct vmconf_errors *errs)
{
	int64_t maxcpus = vmconf_int(c, "sockets", 1) * vmconf_int(c, "cores", 1);
	const char *bios = vmconf_get(c, "bios");

	if (vmconf_get(c, "balloon") &&
	    (uint64_t)vmconf_int(c, "balloon", 0) > vmconf_memory_mib(c))
		vmconf_errors_add(errs, "balloon",
				  "balloon value too large (must be smaller than assigned memory)");
	if (vmconf_get(c, "vcpus") && vmconf_int(c, "vcpus", 1) > maxcpus)
		vmconf_errors_add(errs, "vcpus",
				  "the number of vcpus must not exceed sockets * cores (%lld)",
				  (long long)maxcpus);
	if (vmconf_get(c, "efidisk0") && strcmp(bios ? bios : "seabios", "ovmf") != 0)
		vmconf_errors_add(errs, "efidisk0", "efidisk0 requires bios=ovmf");
	check_boot(c, errs);
}

int vmconf_validate(const struct vmconf *c, struct vmconf_errors *errs)
{
	size_t before = errs->n;

	check_all_keys(c, errs);
	if (errs->n == before)
		check_rules(c, errs);
	return errs->n == before ? 0 : -EINVAL;
}

static int apply_deletes(struct vmconf *c, const char *list, struct vmconf_errors *errs)
{
	char *copy, *tok, *save = NULL;

	if (!list || !*list)
		return 0;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",; ", &save); tok; tok = strtok_r(NULL, ",; ", &save)) {
		if (!vmconf_key_known(tok))
			vmconf_errors_add(errs, "delete", "invalid configuration key '%.40s'", tok);
		else
			vmconf_delete(c, tok);
	}
	free(copy);
	return 0;
}

static int apply_values(struct vmconf *c, const char *const *keys, const char *const *values,
			size_t n, struct vmconf_errors *errs)
{
	char err[384];
	int r = 0;

	for (size_t i = 0; i < n && r != -ENOMEM; i++) {
		char *canon = NULL;

		r = vmconf_check(keys[i], values[i], &canon, err, sizeof(err));
		if (r == -EINVAL)
			vmconf_errors_add(errs, keys[i], "%s", err);
		else if (r == 0)
			r = vmconf_set(c, keys[i], canon);
		free(canon);
	}
	return r == -ENOMEM ? r : 0;
}

/* Works on a copy so that a failed update leaves C untouched. */
int vmconf_update(struct vmconf *c, const char *const *keys, const char *const *values,
		  size_t n, const char *delete_list, struct vmconf_errors *errs)
{
	struct vmconf *work = vmconf_dup(c), tmp;
	size_t before = errs->n;
	int r;

	if (!work)
		return -ENOMEM;
	r = apply_deletes(work, delete_list, errs);
	if (r == 0)
		r = apply_values(work, keys, values, n, errs);
	if (r == 0 && errs->n == before)
		r = vmconf_assign_macs(work);
	if (r == 0 && errs->n == before)
		vmconf_validate(work, errs);
	if (r == 0 && errs->n != before)
		r = -EINVAL;
	if (r == 0) {
		tmp = *c;
		*c = *work;
		*work = tmp;
	}
	vmconf_free(work);
	return r;
}
