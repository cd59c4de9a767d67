/* Request parameters: form/query/JSON parsing and schema validation with the
 * wording of pve-common's JSONSchema.pm.  Pure functions, fuzzed by
 * tests/fuzz/params.c. */
#include "server/params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"

/* More parameters than any Proxmox call takes; bounds the cost of a body. */
#define PARAMS_MAX_COUNT 1024

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Decodes one form component into a new string; NUL bytes are refused. */
static char *form_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
			   (lo = hexval(s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
		if (o[-1] == '\0') {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

/* Adds KEY=VAL; a second value turns the entry into an array. */
static int obj_add_value(cJSON *obj, const char *key, cJSON *val)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!old) {
		cJSON_AddItemToObject(obj, key, val);
		return 0;
	}
	if (!cJSON_IsArray(old)) {
		cJSON *arr = cJSON_CreateArray();

		if (!arr)
			return -ENOMEM;
		cJSON_AddItemToArray(arr, cJSON_Duplicate(old, 1));
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, arr);
		old = arr;
	}
	cJSON_AddItemToArray(old, val);
	return 0;
}

static int form_pair(cJSON *obj, const char *p, size_t len, char *err, size_t errlen)
{
	const char *eq = memchr(p, '=', len);
	char *key, *val;
	int rc = 0;

	if (!eq)
		return 0; /* "?full" alone carries no value, as in Proxmox */
	key = form_decode(p, (size_t)(eq - p));
	val = form_decode(eq + 1, len - (size_t)(eq - p) - 1);
	if (!key || !val) {
		snprintf(err, errlen, "invalid parameter encoding (NUL byte)");
		rc = -EINVAL;
	} else {
		rc = obj_add_value(obj, key, cJSON_CreateString(val));
	}
	free(key);
	free(val);
	return rc;
}

int params_parse_form(const char *s, size_t len, cJSON *obj, char *err, size_t errlen)
{
	size_t start = 0, count = 0;

	for (size_t i = 0; i <= len; i++) {
		int rc;

		if (i < len && s[i] != '&' && s[i] != ';')
			continue;
		if (i > start && ++count > PARAMS_MAX_COUNT) {
			snprintf(err, errlen, "too many parameters");
			return -EINVAL;
		}
		rc = i > start ? form_pair(obj, s + start, i - start, err, errlen) : 0;
		if (rc < 0)
			return rc;
		start = i + 1;
	}
	return 0;
}

/* Numbers as Perl would print them: integers plainly, others shortest. */
static cJSON *json_number_string(double d)
{
	char tmp[64];

	if (d == floor(d) && fabs(d) < 9.2e18)
		snprintf(tmp, sizeof(tmp), "%lld", (long long)d);
	else {
		snprintf(tmp, sizeof(tmp), "%.15g", d);
		if (strtod(tmp, NULL) != d)
			snprintf(tmp, sizeof(tmp), "%.17g", d);
	}
	return cJSON_CreateString(tmp);
}

/* A JSON value as a parameter value; NULL for null (absent). */
static cJSON *json_param_value(const cJSON *v)
{
	if (cJSON_IsString(v))
		return cJSON_CreateString(v->valuestring);
	if (cJSON_IsNumber(v))
		return json_number_string(v->valuedouble);
	if (cJSON_IsBool(v))
		return cJSON_CreateString(cJSON_IsTrue(v) ? "1" : "0");
	if (cJSON_IsArray(v)) {
		cJSON *arr = cJSON_CreateArray(), *it;

		cJSON_ArrayForEach(it, v) {
			cJSON *x = json_param_value(it);
			if (x)
				cJSON_AddItemToArray(arr, x);
		}
		return arr;
	}
	if (cJSON_IsObject(v))
		return cJSON_Duplicate(v, 1);
	return NULL;
}

int params_parse_json(const char *s, size_t len, cJSON *obj, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(s, len), *it;
	int count = 0;

	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s", root ? "JSON body is not an object" : "malformed JSON body");
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, root) {
		cJSON *v = json_param_value(it);

		if (++count > PARAMS_MAX_COUNT) {
			cJSON_Delete(v);
			snprintf(err, errlen, "too many parameters");
			cJSON_Delete(root);
			return -EINVAL;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(obj, it->string); /* last one wins */
		if (v)
			cJSON_AddItemToObject(obj, it->string, v);
	}
	cJSON_Delete(root);
	return 0;
}

/* "application/json; charset=UTF-8" -> is it JSON / form? */
static int content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (ct && (*ct == ' ' || *ct == '\t'))
		ct++;
	return ct && strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static int collect_body(const struct params_source *src, cJSON *obj, char *err, size_t errlen)
{
	if (src->method != HTTP_POST && src->method != HTTP_PUT)
		return 0;
	if (!src->body || src->body_len == 0)
		return 0;
	if (content_type_is(src->content_type, "application/json"))
		return params_parse_json(src->body, src->body_len, obj, err, errlen);
	if (!src->content_type || !*src->content_type ||
	    content_type_is(src->content_type, "application/x-www-form-urlencoded"))
		return params_parse_form(src->body, src->body_len, obj, err, errlen);
	snprintf(err, errlen, "unsupported Content-Type '%.100s'", src->content_type);
	return -EINVAL;
}

int params_collect(const struct params_source *src, cJSON **out, char *err, size_t errlen)
{
	cJSON *obj = cJSON_CreateObject(), *query = cJSON_CreateObject(), *it;
	int rc = -ENOMEM;

	if (!obj || !query)
		goto fail;
	rc = collect_body(src, obj, err, errlen);
	if (rc == 0 && src->query)
		rc = params_parse_form(src->query, src->query_len, query, err, errlen);
	if (rc < 0)
		goto fail;
	while ((it = query->child)) {
		cJSON_DetachItemViaPointer(query, it);
		cJSON_DeleteItemFromObjectCaseSensitive(obj, it->string);
		cJSON_AddItemToObject(obj, it->string, it);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "_dc");
	cJSON_Delete(query);
	*out = obj;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	cJSON_Delete(query);
	cJSON_Delete(obj);
	return CR_EBADREQ;
}

int params_merge_path(cJSON *params, const cJSON *vars, cJSON *errors)
{
	const cJSON *v;
	int bad = 0;

	cJSON_ArrayForEach(v, vars) {
		cJSON *old = cJSON_GetObjectItemCaseSensitive(params, v->string);

		if (!old) {
			cJSON_AddStringToObject(params, v->string, v->valuestring);
		} else if (!cJSON_IsString(old) || strcmp(old->valuestring, v->valuestring) != 0) {
			cJSON_AddStringToObject(errors, v->string,
						"duplicate parameter (already defined in URI) "
						"with conflicting values!");
			bad = 1;
		}
	}
	return bad ? CR_EINVAL_PARAM : 0;
}

static int indexed_match(const struct param_spec *s, const char *name)
{
	const char *br = strchr(s->name, '[');
	size_t plen = br ? (size_t)(br - s->name) : strlen(s->name);
	const char *d = name + plen;
	uint64_t idx;

	if (strncmp(name, s->name, plen) != 0 || !*d)
		return 0;
	if (d[0] == '0' && d[1])
		return 0; /* "net01" is not net1 */
	return util_parse_u64(d, &idx) == 0 && idx <= (uint64_t)s->max_index;
}

const struct param_spec *params_find_spec(const struct param_spec *spec, const char *name)
{
	for (const struct param_spec *s = spec; s && s->name; s++) {
		if (s->flags & PF_INDEXED) {
			if (indexed_match(s, name))
				return s;
		} else if (strcmp(s->name, name) == 0) {
			return s;
		}
	}
	return NULL;
}

static const char *const type_names[] = {
	[PT_STRING] = "string", [PT_INTEGER] = "integer", [PT_NUMBER] = "number",
	[PT_BOOLEAN] = "boolean", [PT_ENUM] = "string",
};

/* A value being checked: the text, and a replacement when normalized. */
struct pval {
	const char *text;
	char norm[32];
	char msg[512];
};

static int check_boolean(struct pval *p)
{
	const char *v = p->text;

	if (strcmp(v, "1") == 0 || strcmp(v, "0") == 0)
		return 0;
	/* Proxmox wants 0/1; clients send True/true/false too: be lenient. */
	if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) {
		snprintf(p->norm, sizeof(p->norm), "%d", strcasecmp(v, "true") == 0);
		return 0;
	}
	snprintf(p->msg, sizeof(p->msg), "type check ('boolean') failed - got '%.200s'", v);
	return -1;
}

static int range_error(const struct param_spec *s, int too_big, struct pval *p)
{
	snprintf(p->msg, sizeof(p->msg), "value must have a %s value of %lld",
		 too_big ? "maximum" : "minimum", (long long)(too_big ? s->max : s->min));
	return -1;
}

static int check_range(const struct param_spec *s, double v, struct pval *p)
{
	if (s->min == 0 && s->max == 0)
		return 0;
	if (v > (double)s->max)
		return range_error(s, 1, p);
	if (v < (double)s->min)
		return range_error(s, 0, p);
	return 0;
}

/* Type check; the canonical text replaces the value ("+05" -> "5"). */
static int check_integer(struct pval *p, int64_t *v)
{
	if (!util_is_integer_text(p->text) || util_parse_i64(p->text, v) < 0) {
		snprintf(p->msg, sizeof(p->msg), "type check ('integer') failed - got '%.200s'",
			 p->text);
		return -1;
	}
	snprintf(p->norm, sizeof(p->norm), "%lld", (long long)*v);
	return 0;
}

static int check_int_range(const struct param_spec *s, int64_t v, struct pval *p)
{
	if (s->min == 0 && s->max == 0)
		return 0;
	if (v > s->max)
		return range_error(s, 1, p);
	return v < s->min ? range_error(s, 0, p) : 0;
}

static int check_number(struct pval *p)
{
	if (util_is_number_text(p->text))
		return 0;
	snprintf(p->msg, sizeof(p->msg), "type check ('number') failed - got '%.200s'", p->text);
	return -1;
}

static int check_length(const struct param_spec *s, struct pval *p)
{
	size_t len = strlen(p->text);
	size_t max = s->max > 0 ? (size_t)s->max : PARAMS_STRING_MAX;

	if (len > max) {
		snprintf(p->msg, sizeof(p->msg), "value may only be %zu characters long", max);
		return -1;
	}
	if (s->min > 0 && len < (size_t)s->min) {
		snprintf(p->msg, sizeof(p->msg), "value must be at least %lld characters long",
			 (long long)s->min);
		return -1;
	}
	return 0;
}

static int check_enum(const struct param_spec *s, struct pval *p)
{
	const char *e = s->enum_values ? s->enum_values : "";
	size_t n = strlen(p->text);
	char list[256];
	size_t j = 0;

	for (const char *a = e; *a;) {
		const char *bar = strchr(a, '|');
		size_t alen = bar ? (size_t)(bar - a) : strlen(a);

		if (alen == n && strncmp(a, p->text, n) == 0)
			return 0;
		a += alen + (bar != NULL);
	}
	for (const char *a = e; *a && j + 3 < sizeof(list); a++) {
		if (*a == '|') {
			list[j++] = ',';
			list[j++] = ' ';
		} else {
			list[j++] = *a;
		}
	}
	list[j] = '\0';
	snprintf(p->msg, sizeof(p->msg),
		 "value '%.60s' does not have a value in the enumeration '%s'", p->text, list);
	return -1;
}

static int check_format(const struct param_spec *s, struct pval *p)
{
	char why[256] = "";

	if (!s->check || s->check(p->text, why, sizeof(why)) == 0)
		return 0;
	snprintf(p->msg, sizeof(p->msg), "invalid format - %s", why[0] ? why : "invalid value");
	return -1;
}

/* Proxmox's order: type, format, length, range, enumeration. */
static int check_scalar(const struct param_spec *s, struct pval *p)
{
	int64_t i;

	switch (s->type) {
	case PT_BOOLEAN:
		return check_boolean(p);
	case PT_INTEGER:
		if (check_integer(p, &i) < 0 || check_format(s, p) < 0)
			return -1;
		return check_int_range(s, i, p);
	case PT_NUMBER:
		if (check_number(p) < 0 || check_format(s, p) < 0)
			return -1;
		return check_range(s, strtod(p->text, NULL), p);
	case PT_ENUM:
		return check_format(s, p) < 0 || check_enum(s, p) < 0 ? -1 : 0;
	case PT_STRING:
	default:
		return check_format(s, p) < 0 || check_length(s, p) < 0 ? -1 : 0;
	}
}

static void add_error(cJSON *errors, const char *name, const char *msg)
{
	if (!cJSON_GetObjectItemCaseSensitive(errors, name))
		cJSON_AddStringToObject(errors, name, msg);
}

static void check_string_item(const struct param_spec *s, const char *name, cJSON *item,
			      cJSON *errors)
{
	struct pval p = { .text = item->valuestring };

	if (check_scalar(s, &p) < 0)
		add_error(errors, name, p.msg);
	else if (p.norm[0])
		cJSON_SetValuestring(item, p.norm);
}

static void check_type_ref(const struct param_spec *s, const char *name, const cJSON *item,
			   cJSON *errors)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "type check ('%s') failed - got %s", type_names[s->type],
		 cJSON_IsArray(item) ? "ARRAY" : "HASH");
	add_error(errors, name, msg);
}

static void check_item(const struct param_spec *s, cJSON *params, cJSON *item, cJSON *errors)
{
	const char *name = item->string;
	cJSON *el;

	if (cJSON_IsString(item) && (s->flags & PF_ARRAY)) {
		cJSON *arr = cJSON_CreateArray();

		cJSON_AddItemToArray(arr, cJSON_CreateString(item->valuestring));
		cJSON_ReplaceItemInObjectCaseSensitive(params, name, arr); /* frees ITEM */
		item = arr;
		name = arr->string;
	}
	if (cJSON_IsString(item)) {
		check_string_item(s, name, item, errors);
		return;
	}
	if (!cJSON_IsArray(item) || !(s->flags & PF_ARRAY)) {
		check_type_ref(s, name, item, errors);
		return;
	}
	cJSON_ArrayForEach(el, item) {
		if (!cJSON_IsString(el)) {
			check_type_ref(s, name, el, errors);
			return;
		}
		check_string_item(s, name, el, errors);
	}
}

int params_validate(const struct param_spec *spec, int allow_extra, cJSON *params,
		    cJSON *errors)
{
	static const struct param_spec extra_spec = { .name = "", .type = PT_STRING };
	int before = cJSON_GetArraySize(errors);
	cJSON *item, *next;

	for (item = params->child; item; item = next) {
		const struct param_spec *s = params_find_spec(spec, item->string);

		next = item->next; /* check_item may replace ITEM */
		if (s)
			check_item(s, params, item, errors);
		else if (!allow_extra)
			add_error(errors, item->string,
				  "property is not defined in schema and the schema does not "
				  "allow additional properties");
		else if (!cJSON_IsString(item)) /* extras reach handlers as strings only */
			check_type_ref(&extra_spec, item->string, item, errors);
	}
	for (const struct param_spec *s = spec; s && s->name; s++) {
		if (s->flags & (PF_OPTIONAL | PF_INDEXED))
			continue;
		if (!cJSON_GetObjectItemCaseSensitive(params, s->name))
			add_error(errors, s->name, "property is missing and it is not optional");
	}
	return cJSON_GetArraySize(errors) > before ? CR_EINVAL_PARAM : 0;
}

/* --- generic formats --- */

static int alnum_hyphen_inner(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-')
			return 0;
	return 1;
}

int param_check_pve_node(const char *v, char *err, size_t errlen)
{
	if (alnum_hyphen_inner(v))
		return 0;
	snprintf(err, errlen, "value does not look like a valid node name");
	return -EINVAL;
}

int param_check_pve_vmid(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	int ok = n >= 3 && n <= 9 && v[0] >= '1' && v[0] <= '9';

	for (size_t i = 0; ok && i < n; i++)
		ok = isdigit((unsigned char)v[i]);
	if (ok)
		return 0;
	snprintf(err, errlen, "value does not look like a valid VM ID");
	return -EINVAL;
}

int param_check_pve_storage_id(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	int ok = n >= 2 && isalpha((unsigned char)v[0]) && isalnum((unsigned char)v[n - 1]);

	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_' || v[i] == '.';
	if (ok)
		return 0;
	snprintf(err, errlen, "storage ID '%.100s' contains illegal characters", v);
	return -EINVAL;
}

int param_check_pve_configid(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	int ok = n >= 2 && isalpha((unsigned char)v[0]);

	for (size_t i = 1; ok && i < n; i++)
		ok = isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_';
	if (ok)
		return 0;
	snprintf(err, errlen, "invalid configuration ID '%.100s'", v);
	return -EINVAL;
}

int param_check_safe_string(const char *v, char *err, size_t errlen)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "value contains control characters");
			return -EINVAL;
		}
	}
	return 0;
}
