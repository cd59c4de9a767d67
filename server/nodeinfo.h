/* Node figures from /proc and the kernel: pure parsers over the text of
 * /proc files (unit-tested on fixtures), thin readers of the real files, and
 * a CPU sampler that turns /proc/stat deltas into a usage fraction. */
#ifndef CORRAL_NODEINFO_H
#define CORRAL_NODEINFO_H

#include <stddef.h>
#include <stdint.h>

struct nodeinfo_cpuinfo {
	unsigned cpus;	  /* logical CPUs ("processor" lines) */
	unsigned sockets; /* distinct "physical id"s, at least 1 */
	unsigned cores;	  /* sum of "cpu cores" over the sockets, at least 1 */
	char model[128];  /* first "model name", "unknown" without one */
	char mhz[32];	  /* first "cpu MHz" as written ("2894.562"), "0" without */
	int hvm;	  /* vmx or svm flag present */
};

/* Cumulative counters of the "cpu" line of /proc/stat, in clock ticks. */
struct nodeinfo_stat {
	uint64_t used;	/* user+nice+system+irq+softirq+steal (guest time is inside user) */
	uint64_t total; /* used + idle + iowait */
	uint64_t iowait;
	unsigned ncpu; /* "cpuN" lines */
};

struct nodeinfo_mem {
	uint64_t total, free, available, used; /* bytes; used = total - available */
	uint64_t swap_total, swap_free, swap_used;
};

struct nodeinfo_disk {
	uint64_t total, used, free, avail; /* bytes: free counts root's reserve, avail not */
};

struct nodeinfo_kernel {
	char sysname[65], release[65], version[65], machine[65];
};

/* Pure parsers: TEXT is the NUL-terminated content of the named file.
 * Each returns 0 or -EINVAL when the text lacks what it needs. */
int nodeinfo_parse_cpuinfo(const char *text, struct nodeinfo_cpuinfo *out);
int nodeinfo_parse_stat(const char *text, struct nodeinfo_stat *out);
int nodeinfo_parse_meminfo(const char *text, struct nodeinfo_mem *out);
/* /proc/loadavg: the three averages as written ("0.12"), as Proxmox returns them. */
int nodeinfo_parse_loadavg(const char *text, char avg[3][16]);
/* /proc/uptime: whole seconds. */
int nodeinfo_parse_uptime(const char *text, uint64_t *uptime);
/* /proc/<pid>/stat: field 22, the start time in clock ticks since boot (a
 * UPID's pstart).  The command name (field 2) may hold spaces and ')'. */
int nodeinfo_parse_pid_starttime(const char *text, uint64_t *out);

/* Fraction of CPU time used between two samples (0..1); *WAIT gets the iowait
 * fraction.  0 when no time passed. */
double nodeinfo_cpu_fraction(const struct nodeinfo_stat *prev, const struct nodeinfo_stat *cur,
			     double *wait);

/* Readers of the live system. */
int nodeinfo_read_cpuinfo(struct nodeinfo_cpuinfo *out);
int nodeinfo_read_stat(struct nodeinfo_stat *out);
int nodeinfo_read_meminfo(struct nodeinfo_mem *out);
int nodeinfo_read_loadavg(char avg[3][16]);
int nodeinfo_read_uptime(uint64_t *uptime);
int nodeinfo_read_self_starttime(uint64_t *out);
/* statvfs of PATH (the data directory's file system). */
int nodeinfo_read_disk(const char *path, struct nodeinfo_disk *out);
int nodeinfo_read_kernel(struct nodeinfo_kernel *out);
/* 1 when the machine booted through EFI (/sys/firmware/efi exists). */
int nodeinfo_efi_booted(void);

/* The CPU sampler: keeps the previous /proc/stat sample, so a request never
 * sleeps to measure.  Thread-safe. */
struct nodeinfo;

int nodeinfo_new(struct nodeinfo **out);
void nodeinfo_free(struct nodeinfo *ni);
/* CPU and iowait fractions since the previous sample at least
 * NODEINFO_MIN_INTERVAL_MS old; before there is one, the average since boot. */
#define NODEINFO_MIN_INTERVAL_MS 1000
int nodeinfo_cpu(struct nodeinfo *ni, double *cpu, double *wait);

/* The figures of the node's list row (/nodes, /cluster/resources), as the
 * statistics sampler last read them, so that listings polled by every open
 * web UI read no /proc file (Proxmox's rows come from pvestatd the same way). */
struct nodeinfo_figures {
	double cpu, wait;
	unsigned cpus;
	struct nodeinfo_mem mem;
	struct nodeinfo_disk disk;
	uint64_t uptime; /* seconds */
};
/* Keeps F, read at monotonic time NOW_MS. */
void nodeinfo_publish(struct nodeinfo *ni, const struct nodeinfo_figures *f, uint64_t now_ms);
/* The kept figures with the uptime run on to NOW_MS: 0, or -ENOENT when
 * none were kept or they are older than MAX_AGE_MS. */
int nodeinfo_published(struct nodeinfo *ni, uint64_t now_ms, uint64_t max_age_ms,
		       struct nodeinfo_figures *out);

#endif
