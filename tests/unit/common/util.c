/* Tests for common/util.c and common/err.c. */
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_parse_ints(void)
{
	int64_t i;
	uint64_t u;

	CHECK_INT(util_parse_i64("-42", &i), 0);
	CHECK_INT(i, -42);
	CHECK_INT(util_parse_u64("18446744073709551615", &u), 0);
	CHECK(u == UINT64_MAX);
	CHECK_INT(util_parse_u64("18446744073709551616", &u), -ERANGE);
	CHECK_INT(util_parse_u64("12a", &u), -EINVAL);
	CHECK_INT(util_parse_u64("", &u), -EINVAL);
	CHECK_INT(util_parse_i64("9223372036854775808", &i), -ERANGE);
}

static void test_parse_size(void)
{
	uint64_t v;

	CHECK_INT(util_parse_size("32G", 1, &v), 0);
	CHECK(v == 32ULL << 30);
	CHECK_INT(util_parse_size("32", 1ULL << 30, &v), 0);
	CHECK(v == 32ULL << 30);
	CHECK_INT(util_parse_size("1.5T", 1, &v), 0);
	CHECK(v == 3ULL << 39);
	CHECK_INT(util_parse_size("512K", 1, &v), 0);
	CHECK(v == 512ULL << 10);
	CHECK_INT(util_parse_size("12Q", 1, &v), -EINVAL);
	CHECK_INT(util_parse_size("-1G", 1, &v), -EINVAL);
}

static void test_err_table(void)
{
	CHECK_INT(err_http_status(CR_EINVAL_PARAM), 400);
	CHECK_INT(err_http_status(CR_ENOROUTE), 501);
	CHECK_INT(err_http_status(-ENOENT), 500);
	CHECK_STR(err_name(CR_ENOTFOUND), "CR_ENOTFOUND");
	CHECK_STR(err_name(-ENOENT), "ENOENT");
	CHECK_STR(err_str(CR_EINVAL_PARAM), "Parameter verification failed.");
}

static void test_number_shapes(void)
{
	const char *const ints[] = { "0", "+5", "-12", "007" };
	const char *const not_ints[] = { "", "+", "1.0", "1e3", " 1" };
	const char *const nums[] = { "1", "1.5", "1.", ".5", "-2e10", "+3E-2" };
	const char *const not_nums[] = { "", ".", "e5", "1e", "1.5.5", "0x10", "1e+" };

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		CHECK(util_is_integer_text(ints[i]));
	for (size_t i = 0; i < sizeof(not_ints) / sizeof(not_ints[0]); i++)
		CHECK(!util_is_integer_text(not_ints[i]));
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		CHECK(util_is_number_text(nums[i]));
	for (size_t i = 0; i < sizeof(not_nums) / sizeof(not_nums[0]); i++)
		CHECK(!util_is_number_text(not_nums[i]));
}

static void test_read_file_proc(void)
{
	char *data = NULL;
	size_t len = 0;

	/* /proc files report size 0; the whole text must still come back. */
	CHECK_INT(util_read_file("/proc/self/status", 1 << 20, &data, &len), 0);
	CHECK(data && len > 0 && strstr(data, "Pid:") != NULL);
	free(data);
	CHECK_INT(util_read_file("/proc/self/status", 8, &data, &len), -EFBIG);
}

static void test_buf_reserve_terminates(void)
{
	struct buf b = BUF_INIT;
	char *s;

	CHECK_INT(buf_reserve(&b, 10), 0);
	s = buf_steal(&b);
	CHECK_STR(s, "");
	free(s);
}

static void test_http_reason(void)
{
	static const char line[] = "HTTP/1.1 400 Parameter verification failed.\r\n";
	char r[16] = "keep";

	CHECK_INT(util_http_reason(line, sizeof(line) - 1, r, sizeof(r)), 0);
	CHECK_STR(r, "Parameter verif");
	CHECK_INT(util_http_reason("HTTP/2 200\r\n", 12, r, sizeof(r)), 0);
	CHECK_STR(r, "");
	CHECK_INT(util_http_reason("HTTP/1.1 500 no lock", 16, r, sizeof(r)), 0);
	CHECK_STR(r, "no ");
	strcpy(r, "keep");
	CHECK_INT(util_http_reason("Content-Type: x\r\n", 17, r, sizeof(r)), -EINVAL);
	CHECK_STR(r, "keep");
	CHECK_INT(util_http_reason("HTTP", 4, r, sizeof(r)), -EINVAL);
}

static const struct test_case tests[] = {
	{ "read_file of /proc", test_read_file_proc },
	{ "buf_reserve leaves a string", test_buf_reserve_terminates },
	{ "parse ints", test_parse_ints },
	{ "number shapes", test_number_shapes },
	{ "parse size", test_parse_size },
	{ "error table", test_err_table },
	{ "reason phrase of a status line", test_http_reason },
};

TEST_MAIN(tests)
