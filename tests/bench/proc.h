/*
 * What the benchmark reads from /proc and the memory cgroup: a process's CPU
 * time and resident memory, the machine's memory and CPU counters.
 */
#ifndef MTPROXYD_BENCH_PROC_H
#define MTPROXYD_BENCH_PROC_H

#include <sys/types.h>

#define PROC_ERR		(-1)	/* system error: errno says why */
#define PROC_ERR_FORMAT		(-2)	/* the file is not as expected */

/* utime + stime of every thread of pid, in seconds. */
int proc_cpu_seconds(pid_t pid, double *out);
/*
 * Every thread of pid onto these CPUs; the threads it starts later inherit
 * the set from their creator.
 */
int proc_pin(pid_t pid, const int *cpus, int ncpus);
/* The same apart: user space, and the kernel on its behalf. */
int proc_cpu_split(pid_t pid, double *user, double *sys);
/* Threads of pid. */
int proc_threads(pid_t pid, int *out);
/* VmRSS of pid, KiB. */
int proc_rss_kib(pid_t pid, long *out);
/* A /proc/meminfo line ("MemAvailable", "KernelStack"...), KiB. */
int proc_meminfo_kib(const char *key, long *out);
/* Busy and total jiffies of every CPU of the machine (/proc/stat). */
int proc_machine_cpu(unsigned long long *busy, unsigned long long *total);
/*
 * Bytes charged to our memory cgroup (v2 memory.current, v1
 * memory.usage_in_bytes): user and kernel memory of this process and its
 * children, without the other tenants of the machine.
 */
int proc_cgroup_mem_bytes(long long *out);

/* The memory figures of a process and of the machine at one moment. */
struct proc_mem {
	long rss;		/* VmRSS of the process, KiB */
	long avail;		/* MemAvailable, KiB */
	/*
	 * MemTotal - MemFree - AnonPages - Cached - Buffers, KiB: memory in
	 * use that is neither process memory nor page cache, i.e. the
	 * kernel's own (slab, stacks, page tables, socket page frags). Other
	 * tenants' processes and files come and go in AnonPages and Cached,
	 * so this moves far less with them than MemAvailable does.
	 */
	long kernel;
	long kstack;		/* KernelStack, KiB */
	long long cgroup;	/* our memory cgroup's charge, bytes */
	int cgroup_ok;		/* 0: no memory cgroup to read */
	int threads;		/* of the process */
};

/*
 * Wait settle_ms for freed memory to be returned, then read. The machine's
 * figures are the medians of `samples` reads 200 ms apart.
 */
int proc_mem_take(pid_t pid, int settle_ms, int samples, struct proc_mem *m);

#endif
