/* CPU figures of running VMs between status requests: Proxmox shows the
 * share of CPU a VM used lately, which needs the previous sample. */
#ifndef CORRAL_SERVER_VMSTATS_H
#define CORRAL_SERVER_VMSTATS_H

#include <stdint.h>
#include <sys/types.h>

struct vmstats;

int vmstats_new(struct vmstats **out);
void vmstats_free(struct vmstats *s);

/* The CPU use of VMID's QEMU (process PID, CPU_NS user+system time so far,
 * up UPTIME_S) as a fraction 0..1 of CPUS CPUs: over the time since the
 * previous sample of the same process once VMSTATS_INTERVAL_MS has passed,
 * else the figure of that previous sample; a process seen for the first
 * time gives its average since it started.  S may be NULL (averages). */
#define VMSTATS_INTERVAL_MS 1000
double vmstats_cpu(struct vmstats *s, int vmid, pid_t pid, uint64_t cpu_ns, uint64_t uptime_s,
		   double cpus, uint64_t now_ms);

#endif
