/* Tests for server/vmstats.c: first sample is the average, later ones the
 * share since the previous sample, a new process starts over. */
#include "server/vmstats.h"

#include <math.h>

#include "tests/unit/test.h"

#define NEAR(a, b) CHECK(fabs((a) - (b)) < 1e-9)

static void test_samples(void)
{
	struct vmstats *s;

	CHECK_INT(vmstats_new(&s), 0);
	/* 5 s of CPU over 10 s of life on 1 CPU: half. */
	NEAR(vmstats_cpu(s, 100, 42, 5000000000ULL, 10, 1, 100000), 0.5);
	/* Too soon for a new figure: the last one. */
	NEAR(vmstats_cpu(s, 100, 42, 5900000000ULL, 10, 1, 100500), 0.5);
	/* 0.5 s of CPU in the 2 s since the first sample, on 2 CPUs. */
	NEAR(vmstats_cpu(s, 100, 42, 5500000000ULL, 12, 2, 102000), 0.125);
	/* Another VM has its own samples. */
	NEAR(vmstats_cpu(s, 101, 43, 0, 10, 1, 102000), 0);
	/* QEMU restarted (new pid): its own average again. */
	NEAR(vmstats_cpu(s, 100, 44, 1000000000ULL, 4, 1, 103000), 0.25);
	/* Never above one. */
	NEAR(vmstats_cpu(s, 100, 44, 9000000000ULL, 5, 1, 104000), 1);
	vmstats_free(s);
	NEAR(vmstats_cpu(NULL, 100, 1, 3000000000ULL, 6, 2, 0), 0.25);
}

static const struct test_case tests[] = {
	{ "cpu samples", test_samples },
};

TEST_MAIN(tests)
