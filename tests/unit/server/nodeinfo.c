/* Tests for server/nodeinfo.c: the /proc parsers on fixture text, and the
 * live readers on this machine's real files. */
#include "server/nodeinfo.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Two sockets of two cores, hyper-threading off, VT-x present. */
static const char cpuinfo_2s[] =
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E5-2620 "
    "v4 @ 2.10GHz\ncpu MHz\t\t: 2100.000\nphysical id\t: 0\ncpu cores\t: 2\n"
    "flags\t\t: fpu vme de pse vmx ssse3\n\n"
    "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz\n"
    "cpu MHz\t\t: 1200.000\nphysical id\t: 0\ncpu cores\t: 2\nflags\t\t: fpu vmx\n\n"
    "processor\t: 2\nmodel name\t: Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz\n"
    "physical id\t: 1\ncpu cores\t: 2\n\n"
    "processor\t: 3\nmodel name\t: Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz\n"
    "physical id\t: 1\ncpu cores\t: 2\n";

/* A VM guest without physical id lines and without vmx (flag "vmxnet" is no match). */
static const char cpuinfo_vm[] = "processor : 0\nmodel name : QEMU Virtual CPU version 2.5+\n"
				 "flags : fpu vmxnet\nprocessor : 1\n";

static void test_cpuinfo(void)
{
	struct nodeinfo_cpuinfo c;

	CHECK_INT(nodeinfo_parse_cpuinfo(cpuinfo_2s, &c), 0);
	CHECK_INT(c.cpus, 4);
	CHECK_INT(c.sockets, 2);
	CHECK_INT(c.cores, 4);
	CHECK_STR(c.model, "Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz");
	CHECK_STR(c.mhz, "2100.000");
	CHECK_INT(c.hvm, 1);
	CHECK_INT(nodeinfo_parse_cpuinfo(cpuinfo_vm, &c), 0);
	CHECK_INT(c.cpus, 2);
	CHECK_INT(c.sockets, 1);
	CHECK_INT(c.cores, 2);
	CHECK_STR(c.mhz, "0");
	CHECK_INT(c.hvm, 0);
	CHECK_INT(nodeinfo_parse_cpuinfo("", &c), -EINVAL);
}

static const char stat_a[] = "cpu  100 10 50 800 40 5 5 0 20 0\n"
			     "cpu0 50 5 25 400 20 2 3 0 10 0\ncpu1 50 5 25 400 20 3 2 0 10 0\n"
			     "intr 12345\nctxt 999\n";
static const char stat_b[] = "cpu  160 10 90 1000 60 5 5 0 20 0\n"
			     "cpu0 80 5 45 500 30 2 3 0 10 0\ncpu1 80 5 45 500 30 3 2 0 10 0\n";

static void test_stat_and_fraction(void)
{
	struct nodeinfo_stat a, b;
	double wait, cpu;

	CHECK_INT(nodeinfo_parse_stat(stat_a, &a), 0);
	CHECK_INT(a.ncpu, 2);
	CHECK_INT(a.used, 170); /* user+nice+system+irq+softirq+steal */
	CHECK_INT(a.iowait, 40);
	CHECK_INT(a.total, 1010);
	CHECK_INT(nodeinfo_parse_stat(stat_b, &b), 0);
	/* used +100, total +100+200+20 */
	cpu = nodeinfo_cpu_fraction(&a, &b, &wait);
	CHECK(cpu > 0.3124 && cpu < 0.3126);
	CHECK(wait > 0.0624 && wait < 0.0626);
	CHECK(nodeinfo_cpu_fraction(&b, &b, &wait) == 0.0);
	CHECK_INT(nodeinfo_parse_stat("intr 1\n", &a), -EINVAL);
}

static const char meminfo[] = "MemTotal:        8000000 kB\nMemFree:         1000000 kB\n"
			      "MemAvailable:    5000000 kB\nBuffers:          200000 kB\n"
			      "Cached:          3000000 kB\nSwapCached:            0 kB\n"
			      "SwapTotal:       2000000 kB\nSwapFree:        1500000 kB\n"
			      "HugePages_Total:       0\n";

static void test_meminfo(void)
{
	struct nodeinfo_mem m;

	CHECK_INT(nodeinfo_parse_meminfo(meminfo, &m), 0);
	CHECK(m.total == 8000000ULL * 1024);
	CHECK(m.free == 1000000ULL * 1024);
	CHECK(m.available == 5000000ULL * 1024);
	CHECK(m.used == 3000000ULL * 1024);
	CHECK(m.swap_total == 2000000ULL * 1024);
	CHECK(m.swap_used == 500000ULL * 1024);
	/* No MemAvailable: free + buffers + cached. */
	CHECK_INT(nodeinfo_parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\n"
					 "Cached: 20 kB\n",
					 &m),
		  0);
	CHECK(m.available == 35 * 1024 && m.used == 65 * 1024 && m.swap_total == 0);
	CHECK_INT(nodeinfo_parse_meminfo("SwapTotal: 1 kB\n", &m), -EINVAL);
}

static void test_loadavg_uptime_starttime(void)
{
	char avg[3][16];
	uint64_t v;

	CHECK_INT(nodeinfo_parse_loadavg("0.12 1.05 10.50 2/345 6789\n", avg), 0);
	CHECK_STR(avg[0], "0.12");
	CHECK_STR(avg[1], "1.05");
	CHECK_STR(avg[2], "10.50");
	CHECK_INT(nodeinfo_parse_loadavg("0.12 x 1\n", avg), -EINVAL);
	CHECK_INT(nodeinfo_parse_uptime("35064.52 66470.87\n", &v), 0);
	CHECK_INT(v, 35064);
	CHECK_INT(nodeinfo_parse_uptime("abc", &v), -EINVAL);
	/* The command name may hold spaces and parentheses. */
	CHECK_INT(nodeinfo_parse_pid_starttime("4242 (corr ald) x) S 1 4242 4242 0 -1 4194560 "
					       "100 0 0 0 1 2 0 0 20 0 5 0 987654 12345 67 "
					       "18446744073709551615\n",
					       &v),
		  0);
	CHECK_INT(v, 987654);
	CHECK_INT(nodeinfo_parse_pid_starttime("4242 (x) S 1 2", &v), -EINVAL);
	CHECK_INT(nodeinfo_parse_pid_starttime("no paren", &v), -EINVAL);
}

static void test_live_readers(void)
{
	struct nodeinfo_cpuinfo c;
	struct nodeinfo_mem m;
	struct nodeinfo_disk d;
	struct nodeinfo_kernel k;
	struct nodeinfo *ni;
	char avg[3][16];
	uint64_t up, start;
	double cpu = -1, wait = -1;

	CHECK_INT(nodeinfo_read_cpuinfo(&c), 0);
	CHECK(c.cpus >= 1);
	CHECK_INT(nodeinfo_read_meminfo(&m), 0);
	CHECK(m.total > 0 && m.used <= m.total);
	CHECK_INT(nodeinfo_read_loadavg(avg), 0);
	CHECK_INT(nodeinfo_read_uptime(&up), 0);
	CHECK_INT(nodeinfo_read_self_starttime(&start), 0);
	CHECK(start > 0);
	CHECK_INT(nodeinfo_read_disk(test_tmpdir(), &d), 0);
	CHECK(d.total > 0 && d.used <= d.total && d.avail <= d.free);
	CHECK_INT(nodeinfo_read_kernel(&k), 0);
	CHECK_STR(k.sysname, "Linux");
	CHECK_INT(nodeinfo_new(&ni), 0);
	CHECK_INT(nodeinfo_cpu(ni, &cpu, &wait), 0);
	CHECK(cpu >= 0 && cpu <= 1 && wait >= 0 && wait <= 1);
	nodeinfo_free(ni);
}

/* The sampler's figures are served while fresh, with the uptime run on,
 * and refused once stale or before any were kept. */
static void test_published(void)
{
	struct nodeinfo_figures f = {.cpu = 0.25, .cpus = 4, .uptime = 100}, got;
	struct nodeinfo *ni;

	CHECK_INT(nodeinfo_new(&ni), 0);
	CHECK_INT(nodeinfo_published(ni, 5000, 20000, &got), -ENOENT);
	f.mem.total = 1 << 30;
	nodeinfo_publish(ni, &f, 5000);
	CHECK_INT(nodeinfo_published(ni, 5000, 20000, &got), 0);
	CHECK_INT((int)got.uptime, 100);
	CHECK(got.cpu == 0.25 && got.cpus == 4 && got.mem.total == 1 << 30);
	CHECK_INT(nodeinfo_published(ni, 17999, 20000, &got), 0);
	CHECK_INT((int)got.uptime, 112);
	CHECK_INT(nodeinfo_published(ni, 25001, 20000, &got), -ENOENT);
	CHECK_INT(nodeinfo_published(ni, 4000, 20000, &got), -ENOENT); /* before the sample */
	nodeinfo_free(ni);
}

static const struct test_case tests[] = {
    {"cpuinfo", test_cpuinfo},
    {"stat and cpu fraction", test_stat_and_fraction},
    {"meminfo", test_meminfo},
    {"loadavg uptime starttime", test_loadavg_uptime_starttime},
    {"live readers", test_live_readers},
    {"published figures", test_published},
};

TEST_MAIN(tests)
