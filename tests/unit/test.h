/* Minimal unit-test harness: each test file lists its cases in a const table
 * and ends with TEST_MAIN(table).  Output: "ok - name" / "not ok - name" lines
 * and a closing "N passed, N failed". */
#ifndef CORRAL_TEST_H
#define CORRAL_TEST_H

#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Failures recorded by the running case; reset per case by test_run(). */
extern int test_failures;

void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int test_run(const struct test_case *cases, size_t n, int argc, char **argv);
/* A fresh empty directory under $TMPDIR for this process; removed at exit. */
const char *test_tmpdir(void);

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond))                                                     \
			test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);       \
	} while (0)

#define CHECK_INT(a, b)                                                          \
	do {                                                                     \
		long long a_ = (long long)(a), b_ = (long long)(b);              \
		if (a_ != b_)                                                    \
			test_fail(__FILE__, __LINE__, "%s == %lld, want %s == %lld", \
				  #a, a_, #b, b_);                               \
	} while (0)

#define CHECK_STR(a, b)                                                          \
	do {                                                                     \
		const char *a_ = (a), *b_ = (b);                                 \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                           \
			test_fail(__FILE__, __LINE__, "%s == \"%s\", want \"%s\"", \
				  #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
	} while (0)

#define TEST_MAIN(table)                                                         \
	int main(int argc, char **argv)                                          \
	{                                                                        \
		return test_run(table, sizeof(table) / sizeof(table[0]), argc, argv); \
	}

#endif
