/* Tests for server/params.c: parsing with Proxmox's precedence and the
 * validation messages of pve-common's JSONSchema.pm. */
#include "common/err.h"
#include "server/params.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_form(void)
{
	const char *s = "a=1&b=x+y&c=%41%42&full&d=%zz&e=&a=2";
	cJSON *o = cJSON_CreateObject(), *a;
	char err[128];

	CHECK_INT(params_parse_form(s, strlen(s), o, err, sizeof(err)), 0);
	CHECK_STR(str(o, "b"), "x y");
	CHECK_STR(str(o, "c"), "AB");
	CHECK_STR(str(o, "d"), "%zz");
	CHECK_STR(str(o, "e"), "");
	CHECK(!cJSON_GetObjectItem(o, "full"));
	a = cJSON_GetObjectItem(o, "a");
	CHECK(cJSON_IsArray(a));
	CHECK_INT(cJSON_GetArraySize(a), 2);
	cJSON_Delete(o);
	o = cJSON_CreateObject();
	CHECK_INT(params_parse_form("a=%00", 5, o, err, sizeof(err)), -EINVAL);
	cJSON_Delete(o);
}

static void test_json(void)
{
	const char *s = "{\"a\":1,\"b\":true,\"c\":null,\"d\":\"x\",\"e\":1.5,\"f\":false,\"g\":[1,\"y\"]}";
	cJSON *o = cJSON_CreateObject();
	char err[128];

	CHECK_INT(params_parse_json(s, strlen(s), o, err, sizeof(err)), 0);
	CHECK_STR(str(o, "a"), "1");
	CHECK_STR(str(o, "b"), "1");
	CHECK_STR(str(o, "f"), "0");
	CHECK(!cJSON_GetObjectItem(o, "c"));
	CHECK_STR(str(o, "d"), "x");
	CHECK_STR(str(o, "e"), "1.5");
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "g"), 0)->valuestring, "1");
	CHECK_INT(params_parse_json("{\"a\":", 5, o, err, sizeof(err)), -EINVAL);
	CHECK_INT(params_parse_json("[1]", 3, o, err, sizeof(err)), -EINVAL);
	cJSON_Delete(o);
}

static void test_collect_precedence(void)
{
	struct params_source src = {
		.method = HTTP_POST, .query = "a=q&_dc=123", .query_len = 11,
		.content_type = "application/x-www-form-urlencoded", .body = "a=b&c=d", .body_len = 7,
	};
	cJSON *o = NULL;
	char err[128];

	CHECK_INT(params_collect(&src, &o, err, sizeof(err)), 0);
	CHECK_STR(str(o, "a"), "q"); /* the query wins */
	CHECK_STR(str(o, "c"), "d");
	CHECK(!cJSON_GetObjectItem(o, "_dc"));
	cJSON_Delete(o);
	src.method = HTTP_GET; /* GET takes the query string only */
	CHECK_INT(params_collect(&src, &o, err, sizeof(err)), 0);
	CHECK(!cJSON_GetObjectItem(o, "c"));
	cJSON_Delete(o);
}

static void test_collect_json_and_bad_types(void)
{
	struct params_source src = {
		.method = HTTP_PUT, .content_type = "application/json; charset=UTF-8",
		.body = "{\"vmid\":100}", .body_len = 12,
	};
	cJSON *o = NULL;
	char err[128];

	CHECK_INT(params_collect(&src, &o, err, sizeof(err)), 0);
	CHECK_STR(str(o, "vmid"), "100");
	cJSON_Delete(o);
	src.body = "{bad";
	src.body_len = 4;
	CHECK_INT(params_collect(&src, &o, err, sizeof(err)), CR_EBADREQ);
	src.content_type = "text/xml";
	CHECK_INT(params_collect(&src, &o, err, sizeof(err)), CR_EBADREQ);
	CHECK(strstr(err, "text/xml") != NULL);
}

static void test_merge_path(void)
{
	cJSON *p = cJSON_Parse("{\"node\":\"pve\",\"vmid\":\"101\"}");
	cJSON *vars = cJSON_Parse("{\"node\":\"pve\",\"vmid\":\"100\",\"snap\":\"s1\"}");
	cJSON *errors = cJSON_CreateObject();

	CHECK_INT(params_merge_path(p, vars, errors), CR_EINVAL_PARAM);
	CHECK_STR(str(errors, "vmid"),
		  "duplicate parameter (already defined in URI) with conflicting values!");
	CHECK(!cJSON_GetObjectItem(errors, "node")); /* the same value is fine */
	CHECK_STR(str(p, "snap"), "s1");
	cJSON_Delete(p);
	cJSON_Delete(vars);
	cJSON_Delete(errors);
}

static const struct param_spec spec[] = {
	{ .name = "vmid", .type = PT_INTEGER, .min = 100, .max = 999999999,
	  .check = param_check_pve_vmid },
	{ .name = "limit", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0, .max = 100 },
	{ .name = "full", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = "ratio", .type = PT_NUMBER, .flags = PF_OPTIONAL, .min = 0, .max = 10 },
	{ .name = "type", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "vm|storage|node" },
	{ .name = "name", .type = PT_STRING, .flags = PF_OPTIONAL, .min = 2, .max = 5 },
	{ .name = "net[n]", .type = PT_STRING, .flags = PF_INDEXED, .max_index = 3 },
	{ .name = "tag", .type = PT_STRING, .flags = PF_OPTIONAL | PF_ARRAY },
	{ .name = NULL },
};

/* The error message validation gives KEY for the JSON parameters TEXT. */
static char *error_for(const char *text, const char *key, int allow_extra)
{
	static char msg[512];
	cJSON *p = cJSON_Parse(text), *errors = cJSON_CreateObject();
	const char *m;

	params_validate(spec, allow_extra, p, errors);
	m = str(errors, key);
	snprintf(msg, sizeof(msg), "%s", m ? m : "(none)");
	cJSON_Delete(p);
	cJSON_Delete(errors);
	return msg;
}

static void test_validate_messages(void)
{
	CHECK_STR(error_for("{}", "vmid", 0), "property is missing and it is not optional");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"bogus\":\"1\"}", "bogus", 0),
		  "property is not defined in schema and the schema does not allow additional "
		  "properties");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"bogus\":\"1\"}", "bogus", 1), "(none)");
	/* Extra properties reach handlers as strings only. */
	CHECK_STR(error_for("{\"vmid\":\"100\",\"bogus\":{\"a\":1}}", "bogus", 1),
		  "type check ('string') failed - got HASH");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"full\":\"yes\"}", "full", 0),
		  "type check ('boolean') failed - got 'yes'");
	CHECK_STR(error_for("{\"vmid\":\"abc\"}", "vmid", 0),
		  "type check ('integer') failed - got 'abc'");
	CHECK_STR(error_for("{\"vmid\":\"99\"}", "vmid", 0),
		  "invalid format - value does not look like a valid VM ID");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"limit\":\"101\"}", "limit", 0),
		  "value must have a maximum value of 100");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"limit\":\"-1\"}", "limit", 0),
		  "value must have a minimum value of 0");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"ratio\":\"1.5.1\"}", "ratio", 0),
		  "type check ('number') failed - got '1.5.1'");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"ratio\":\"11\"}", "ratio", 0),
		  "value must have a maximum value of 10");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"type\":\"qemu\"}", "type", 0),
		  "value 'qemu' does not have a value in the enumeration 'vm, storage, node'");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"name\":\"abcdef\"}", "name", 0),
		  "value may only be 5 characters long");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"name\":\"a\"}", "name", 0),
		  "value must be at least 2 characters long");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"name\":[\"ab\",\"cd\"]}", "name", 0),
		  "type check ('string') failed - got ARRAY");
	CHECK_STR(error_for("{\"vmid\":\"100\",\"name\":{\"a\":\"b\"}}", "name", 0),
		  "type check ('string') failed - got HASH");
}

static void test_validate_accepts_and_normalizes(void)
{
	cJSON *p = cJSON_Parse("{\"vmid\":\"+0100\",\"full\":\"True\",\"ratio\":\"1e0\","
			       "\"net0\":\"virtio\",\"net3\":\"e1000\",\"tag\":\"a\",\"type\":\"vm\"}");
	cJSON *errors = cJSON_CreateObject();

	/* "+0100" is an integer but not a VM ID (the format sees the text as sent). */
	CHECK_INT(params_validate(spec, 0, p, errors), CR_EINVAL_PARAM);
	cJSON_Delete(errors);
	cJSON_ReplaceItemInObject(p, "vmid", cJSON_CreateString("100"));
	errors = cJSON_CreateObject();
	CHECK_INT(params_validate(spec, 0, p, errors), 0);
	CHECK_INT(cJSON_GetArraySize(errors), 0);
	CHECK_STR(str(p, "full"), "1");
	CHECK(cJSON_IsArray(cJSON_GetObjectItem(p, "tag")));
	cJSON_Delete(errors);
	cJSON_Delete(p);
}

static void test_lenient_booleans(void)
{
	const char *const yes[] = { "1", "true", "True", "TRUE" }, *const no[] = { "0", "false", "False" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		cJSON *p = cJSON_CreateObject(), *e = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "vmid", "100");
		cJSON_AddStringToObject(p, "full", yes[i]);
		CHECK_INT(params_validate(spec, 0, p, e), 0);
		CHECK_STR(str(p, "full"), "1");
		cJSON_Delete(p);
		cJSON_Delete(e);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		cJSON *p = cJSON_CreateObject(), *e = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "vmid", "100");
		cJSON_AddStringToObject(p, "full", no[i]);
		CHECK_INT(params_validate(spec, 0, p, e), 0);
		CHECK_STR(str(p, "full"), "0");
		cJSON_Delete(p);
		cJSON_Delete(e);
	}
}

static void test_indexed_names(void)
{
	CHECK(params_find_spec(spec, "net0") != NULL);
	CHECK(params_find_spec(spec, "net3") != NULL);
	CHECK(params_find_spec(spec, "net4") == NULL);
	CHECK(params_find_spec(spec, "net01") == NULL);
	CHECK(params_find_spec(spec, "net") == NULL);
	CHECK(params_find_spec(spec, "netx") == NULL);
}

static void test_formats(void)
{
	char err[128];

	CHECK_INT(param_check_pve_node("pve-1", err, sizeof(err)), 0);
	CHECK_INT(param_check_pve_node("a", err, sizeof(err)), 0);
	CHECK_INT(param_check_pve_node("-pve", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "value does not look like a valid node name");
	CHECK_INT(param_check_pve_node("a.b", err, sizeof(err)), -EINVAL);
	CHECK_INT(param_check_pve_vmid("999999999", err, sizeof(err)), 0);
	CHECK_INT(param_check_pve_vmid("1000000000", err, sizeof(err)), -EINVAL);
	CHECK_INT(param_check_pve_vmid("0100", err, sizeof(err)), -EINVAL);
	CHECK_INT(param_check_pve_storage_id("local-lvm", err, sizeof(err)), 0);
	CHECK_INT(param_check_pve_storage_id("local_", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "storage ID 'local_' contains illegal characters");
	CHECK_INT(param_check_pve_configid("snap_1", err, sizeof(err)), 0);
	CHECK_INT(param_check_pve_configid("1snap", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "invalid configuration ID '1snap'");
	CHECK_INT(param_check_safe_string("a b", err, sizeof(err)), 0);
	CHECK_INT(param_check_safe_string("a\nb", err, sizeof(err)), -EINVAL);
}

static const struct test_case tests[] = {
	{ "form", test_form },
	{ "json", test_json },
	{ "collect_precedence", test_collect_precedence },
	{ "collect_json_and_bad_types", test_collect_json_and_bad_types },
	{ "merge_path", test_merge_path },
	{ "validate_messages", test_validate_messages },
	{ "validate_accepts_and_normalizes", test_validate_accepts_and_normalizes },
	{ "lenient_booleans", test_lenient_booleans },
	{ "indexed_names", test_indexed_names },
	{ "formats", test_formats },
};

TEST_MAIN(tests)
