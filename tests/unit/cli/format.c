/* Tests for cli/format.c: tables, key/value lines and JSON output. */
#include "cli/format.h"
#include "common/buf.h"
#include "tests/unit/test.h"

#include <errno.h>

static void render(const char *json, enum fmt_kind kind, const char *want)
{
	cJSON *v = cJSON_Parse(json);
	struct buf out = BUF_INIT;

	CHECK(v != NULL);
	CHECK_INT(fmt_render(v, kind, &out), 0);
	CHECK_STR(out.data, want);
	buf_free(&out);
	cJSON_Delete(v);
}

static void test_kinds(void)
{
	enum fmt_kind k;

	CHECK_INT(fmt_parse_kind("json", &k), 0);
	CHECK_INT(k, FMT_JSON);
	CHECK_INT(fmt_parse_kind("json-pretty", &k), 0);
	CHECK_INT(k, FMT_JSON_PRETTY);
	CHECK_INT(fmt_parse_kind("text", &k), 0);
	CHECK_INT(k, FMT_TEXT);
	CHECK_INT(fmt_parse_kind("yaml", &k), -EINVAL);
}

static void test_table(void)
{
	render("[{\"node\":\"pve\",\"status\":\"online\",\"cpu\":0.25,\"maxmem\":8589934592},"
	       "{\"node\":\"pve-long-name\",\"status\":\"offline\",\"ssl\":null}]",
	       FMT_TEXT,
	       "node           status   cpu   maxmem      ssl\n"
	       "-------------  -------  ----  ----------  ---\n"
	       "pve            online   0.25  8589934592  \n"
	       "pve-long-name  offline                    \n");
}

static void test_table_nested_and_utf8(void)
{
	render("[{\"name\":\"é\",\"tags\":[\"a\",1],\"on\":true}]", FMT_TEXT,
	       "name  tags     on\n"
	       "----  -------  --\n"
	       "é     [\"a\",1]  1\n");
}

static void test_chosen_columns(void)
{
	static const char *const cols[] = { "node", "cpu", "absent", NULL };
	cJSON *v = cJSON_Parse("[{\"id\":\"node/a\",\"node\":\"a\",\"cpu\":0.123456789},"
			       "{\"node\":\"bb\"}]");
	struct buf out = BUF_INIT;

	CHECK_INT(fmt_render_cols(v, FMT_TEXT, cols, &out), 0);
	CHECK_STR(out.data, "node  cpu\n"
			    "----  --------\n"
			    "a     0.123457\n"
			    "bb    \n");
	buf_reset(&out);
	CHECK_INT(fmt_render_cols(v, FMT_JSON, cols, &out), 0);
	CHECK(strstr(out.data, "node/a") != NULL);
	buf_free(&out);
	cJSON_Delete(v);
}

static void test_object(void)
{
	render("{\"version\":\"8.4.1\",\"release\":\"8.4\",\"n\":3}", FMT_TEXT,
	       "version: 8.4.1\n"
	       "release: 8.4\n"
	       "n:       3\n");
}

static void test_scalars(void)
{
	render("\"101\"", FMT_TEXT, "101\n");
	render("null", FMT_TEXT, "");
	render("[\"a\",\"b\"]", FMT_TEXT, "a\nb\n");
	render("[]", FMT_TEXT, "");
	render("[{}]", FMT_TEXT, "");
	render("12.5", FMT_TEXT, "12.5\n");
}

static void test_json(void)
{
	struct buf out = BUF_INIT;

	render("{\"a\": [1, 2]}", FMT_JSON, "{\"a\":[1,2]}\n");
	render("{\"a\":1}", FMT_JSON_PRETTY, "{\n\t\"a\":\t1\n}\n");
	CHECK_INT(fmt_render(NULL, FMT_JSON, &out), 0);
	CHECK_STR(out.data, "null\n");
	buf_free(&out);
}

static const struct test_case tests[] = {
	{ "output format names", test_kinds },
	{ "list of objects as a table", test_table },
	{ "table cells: nested values, UTF-8 width, booleans", test_table_nested_and_utf8 },
	{ "chosen table columns, short fractions", test_chosen_columns },
	{ "object as key/value lines", test_object },
	{ "scalars and scalar lists", test_scalars },
	{ "json and json-pretty", test_json },
};

TEST_MAIN(tests)
