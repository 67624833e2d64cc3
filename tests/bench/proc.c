/*
 * /proc and cgroup readers for the benchmark. Each call reads its file
 * afresh: the figures are deltas between two calls.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "tclock.h"

/* The whole of a small file, NUL-terminated. */
static int
slurp(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n;
	int rc = 0;

	if (fp == NULL)
		return PROC_ERR;
	n = fread(buf, 1, cap - 1, fp);
	if (ferror(fp))
		rc = PROC_ERR;
	buf[n] = '\0';
	fclose(fp);
	return rc;
}

int
proc_cpu_split(pid_t pid, double *user, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((rc = slurp(path, buf, sizeof(buf))) != 0)
		return rc;
	/* The command name may hold spaces and parentheses: skip past it. */
	if ((p = strrchr(buf, ')')) == NULL)
		return PROC_ERR_FORMAT;
	/* Fields 3..13 (state .. cmajflt), then 14 utime and 15 stime. */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &utime, &stime) != 2)
		return PROC_ERR_FORMAT;
	*user = (double)utime / (double)sysconf(_SC_CLK_TCK);
	*sys = (double)stime / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

int
proc_cpu_seconds(pid_t pid, double *out)
{
	double user, sys;
	int rc;

	if ((rc = proc_cpu_split(pid, &user, &sys)) != 0)
		return rc;
	*out = user + sys;
	return 0;
}

static char *
next_line(char *p)
{
	p = strchr(p, '\n');
	return p != NULL ? p + 1 : NULL;
}

/* "Key:   123 kB" in a status-like file. */
static int
kib_line(const char *path, const char *key, long *out)
{
	char buf[8192], *p;
	size_t klen = strlen(key);
	int rc;

	if ((rc = slurp(path, buf, sizeof(buf))) != 0)
		return rc;
	for (p = buf; p != NULL; p = next_line(p))
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return sscanf(p + klen + 1, "%ld", out) == 1 ? 0 :
			    PROC_ERR_FORMAT;
	return PROC_ERR_FORMAT;
}

int
proc_rss_kib(pid_t pid, long *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return kib_line(path, "VmRSS", out);
}

int
proc_meminfo_kib(const char *key, long *out)
{
	return kib_line("/proc/meminfo", key, out);
}

int
proc_machine_cpu(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[8];
	char buf[512];
	int rc;

	if ((rc = slurp("/proc/stat", buf, sizeof(buf))) != 0)
		return rc;
	/* user nice system idle iowait irq softirq steal */
	if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return PROC_ERR_FORMAT;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	*total = *busy + v[3] + v[4];
	return 0;
}

/*
 * The memory cgroup file of this process: a v1 "memory" hierarchy line of
 * /proc/self/cgroup wins over the v2 "0::" line (hybrid setups have both,
 * with the memory controller on v1).
 */
static int
cgroup_mem_path(char *out, size_t outlen)
{
	char buf[4096], *line, *save = NULL, *ctl, *path;
	int found = 0;

	if (slurp("/proc/self/cgroup", buf, sizeof(buf)) != 0)
		return PROC_ERR;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((ctl = strchr(line, ':')) == NULL ||
		    (path = strchr(ctl + 1, ':')) == NULL)
			continue;
		*path++ = '\0';
		ctl++;
		if (strcmp(ctl, "memory") == 0 || strstr(ctl, "memory,") ||
		    strstr(ctl, ",memory")) {
			snprintf(out, outlen, "/sys/fs/cgroup/memory%s/"
			    "memory.usage_in_bytes", path);
			return 0;
		}
		if (*ctl == '\0' && !found) {
			snprintf(out, outlen, "/sys/fs/cgroup%s/memory.current",
			    path);
			found = 1;
		}
	}
	return found ? 0 : PROC_ERR_FORMAT;
}

int
proc_cgroup_mem_bytes(long long *out)
{
	char path[4200], buf[64];
	int rc;

	if ((rc = cgroup_mem_path(path, sizeof(path))) != 0)
		return rc;
	if ((rc = slurp(path, buf, sizeof(buf))) != 0)
		return rc;
	return sscanf(buf, "%lld", out) == 1 ? 0 : PROC_ERR_FORMAT;
}

int
proc_pin(pid_t pid, const int *cpus, int ncpus)
{
	char path[64];
	struct dirent *e;
	cpu_set_t set;
	DIR *d;
	int i, rc = 0;

	CPU_ZERO(&set);
	for (i = 0; i < ncpus; i++)
		CPU_SET(cpus[i], &set);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return PROC_ERR;
	/* Each thread of its own; threads started later inherit it. */
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' &&
		    sched_setaffinity(atoi(e->d_name), sizeof(set), &set) != 0 &&
		    errno != ESRCH)
			rc = PROC_ERR;
	closedir(d);
	return rc;
}

int
proc_threads(pid_t pid, int *out)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return PROC_ERR;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	*out = n;
	return 0;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

#define PROC_MAX_SAMPLES	9

/* One read of the machine's figures. */
static int
machine_mem(long *avail, long *kernel)
{
	static const char *const keys[] = {
		"MemTotal", "MemFree", "AnonPages", "Cached", "Buffers"
	};
	long v[5];
	size_t i;
	int rc;

	for (i = 0; i < 5; i++)
		if ((rc = proc_meminfo_kib(keys[i], &v[i])) != 0)
			return rc;
	*kernel = v[0] - v[1] - v[2] - v[3] - v[4];
	return proc_meminfo_kib("MemAvailable", avail);
}

int
proc_mem_take(pid_t pid, int settle_ms, int samples, struct proc_mem *m)
{
	long avail[PROC_MAX_SAMPLES], kernel[PROC_MAX_SAMPLES];
	int i, rc;

	if (samples < 1 || samples > PROC_MAX_SAMPLES)
		return PROC_ERR_FORMAT;
	tclock_sleep_ms(settle_ms);
	for (i = 0; i < samples; i++) {
		if (i > 0)
			tclock_sleep_ms(200);
		if ((rc = machine_mem(&avail[i], &kernel[i])) != 0)
			return rc;
	}
	qsort(avail, (size_t)samples, sizeof(avail[0]), cmp_long);
	qsort(kernel, (size_t)samples, sizeof(kernel[0]), cmp_long);
	m->avail = avail[samples / 2];
	m->kernel = kernel[samples / 2];
	m->cgroup_ok = proc_cgroup_mem_bytes(&m->cgroup) == 0;
	if ((rc = proc_rss_kib(pid, &m->rss)) != 0 ||
	    (rc = proc_meminfo_kib("KernelStack", &m->kstack)) != 0 ||
	    (rc = proc_threads(pid, &m->threads)) != 0)
		return rc;
	return 0;
}
