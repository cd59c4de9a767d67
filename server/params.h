/* Request parameters: pure parsers for query strings, form and JSON bodies
 * (merged with Proxmox's precedence), validation against a route's schema
 * with Proxmox's wording, and the generic Proxmox formats. */
#ifndef CORRAL_PARAMS_H
#define CORRAL_PARAMS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "server/router.h"

/* Longest string parameter when a spec gives no maximum. */
#define PARAMS_STRING_MAX 4096

struct params_source {
	enum http_method method;
	const char *query; /* raw query string without '?', or NULL */
	size_t query_len;
	const char *content_type; /* or NULL (form) */
	const char *body;         /* POST/PUT body, or NULL */
	size_t body_len;
};

/* Decodes application/x-www-form-urlencoded text into OBJ: '+' is a space,
 * %XX a byte (a malformed escape stays literal), a key without '=' is
 * ignored, a key given twice becomes an array of its values.
 * Returns 0 or -EINVAL (a NUL byte) with ERR. */
int params_parse_form(const char *s, size_t len, cJSON *obj, char *err, size_t errlen);

/* Parses a JSON object into OBJ, every scalar as a string: numbers printed,
 * booleans "1"/"0", nulls dropped; arrays keep their (stringified) items and
 * nested objects stay for the validator to reject.  Returns 0 or -EINVAL. */
int params_parse_json(const char *s, size_t len, cJSON *obj, char *err, size_t errlen);

/* Body parameters (POST/PUT: form or application/json), then the query
 * string, which wins; the ExtJS cache-buster "_dc" is dropped.  *OUT is a new
 * object the caller deletes.  Returns 0 or CR_EBADREQ with ERR. */
int params_collect(const struct params_source *src, cJSON **out, char *err, size_t errlen);

/* Adds the path variables VARS to PARAMS; a parameter that repeats one with
 * another value is an error in ERRORS.  Returns 0 or CR_EINVAL_PARAM. */
int params_merge_path(cJSON *params, const cJSON *vars, cJSON *errors);

/* Checks PARAMS against SPEC (ended by a NULL name): required, unknown
 * (allowed when ALLOW_EXTRA), type, format, length, range, enumeration.
 * Booleans become "1"/"0" and integers their canonical text.
 * Returns 0 or CR_EINVAL_PARAM with ERRORS (name -> message) filled. */
int params_validate(const struct param_spec *spec, int allow_extra, cJSON *params,
		    cJSON *errors);

/* The spec entry NAME falls under ("net3" finds "net[n]"), or NULL. */
const struct param_spec *params_find_spec(const struct param_spec *spec, const char *name);

/* Generic Proxmox formats, as param_check_fn (pve-common JSONSchema.pm). */
int param_check_pve_node(const char *v, char *err, size_t errlen);
int param_check_pve_vmid(const char *v, char *err, size_t errlen);
int param_check_pve_storage_id(const char *v, char *err, size_t errlen);
int param_check_pve_configid(const char *v, char *err, size_t errlen);
/* No control characters at all (names, comments on one line). */
int param_check_safe_string(const char *v, char *err, size_t errlen);

#endif
