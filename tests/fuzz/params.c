/* libFuzzer target for server/params.c: byte 0 picks the method and the
 * content type, the rest is "query\nbody".  Collecting, merging the path
 * variables and validating must never crash or leak, and whatever passes
 * validation is strings only (arrays of strings for PF_ARRAY). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct param_spec spec[] = {
	{ .name = "node", .type = PT_STRING, .check = param_check_pve_node },
	{ .name = "vmid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 100, .max = 999999999,
	  .check = param_check_pve_vmid },
	{ .name = "full", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = "ratio", .type = PT_NUMBER, .flags = PF_OPTIONAL, .min = -5, .max = 5 },
	{ .name = "type", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "vm|storage|node" },
	{ .name = "name", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 16,
	  .check = param_check_safe_string },
	{ .name = "storage", .type = PT_STRING, .flags = PF_OPTIONAL,
	  .check = param_check_pve_storage_id },
	{ .name = "snapname", .type = PT_STRING, .flags = PF_OPTIONAL,
	  .check = param_check_pve_configid },
	{ .name = "net[n]", .type = PT_STRING, .flags = PF_INDEXED, .max_index = 31 },
	{ .name = "tags", .type = PT_STRING, .flags = PF_OPTIONAL | PF_ARRAY },
	{ .name = NULL },
};

static const char *const content_types[] = {
	NULL, "application/json", "application/x-www-form-urlencoded; charset=UTF-8", "text/plain",
};

static void check_validated(const cJSON *params)
{
	const cJSON *v, *el;

	cJSON_ArrayForEach(v, params) {
		if (cJSON_IsArray(v)) {
			cJSON_ArrayForEach(el, v)
				if (!cJSON_IsString(el))
					abort();
		} else if (!cJSON_IsString(v)) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *nl, err[256];
	struct params_source src = { 0 };
	cJSON *params = NULL, *vars, *errors;

	if (size < 1)
		return 0;
	text = strndup((const char *)data + 1, size - 1);
	if (!text)
		return 0;
	nl = strchr(text, '\n');
	src.method = (enum http_method)(data[0] & 3);
	src.content_type = content_types[(data[0] >> 2) & 3];
	src.query = text;
	src.query_len = nl ? (size_t)(nl - text) : strlen(text);
	src.body = nl ? nl + 1 : NULL;
	src.body_len = nl ? strlen(nl + 1) : 0;
	if (params_collect(&src, &params, err, sizeof(err)) == 0) {
		vars = cJSON_CreateObject();
		errors = cJSON_CreateObject();
		cJSON_AddStringToObject(vars, "node", "pve");
		params_merge_path(params, vars, errors);
		if (params_validate(spec, data[0] >> 7, params, errors) == 0 &&
		    cJSON_GetArraySize(errors) == 0)
			check_validated(params);
		cJSON_Delete(vars);
		cJSON_Delete(errors);
		cJSON_Delete(params);
	}
	free(text);
	return 0;
}
