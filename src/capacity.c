/*
 * Client capacity from the limits that bind: descriptors, tasks, memory.
 * Reading them is separate from the arithmetic so that the arithmetic can
 * be tested with any limits.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "capacity.h"

#define CGROUP_PATH_MAX	512

static const char *const limit_names[CAPACITY_NLIMITS] = {
	[CAPACITY_NOFILE] = "open files (RLIMIT_NOFILE)",
	[CAPACITY_NPROC] = "processes (RLIMIT_NPROC)",
	[CAPACITY_PID_MAX] = "kernel.pid_max",
	[CAPACITY_THREADS_MAX] = "kernel.threads-max",
	[CAPACITY_PIDS_CGROUP] = "the pids cgroup's pids.max",
	[CAPACITY_MEMORY] = "memory",
};

const char *
capacity_limit_name(enum capacity_limit which)
{
	if ((unsigned)which >= CAPACITY_NLIMITS)
		return "unknown";
	return limit_names[which];
}

long long
capacity_clients(const struct capacity_limits *l, enum capacity_limit which)
{
	long long v = l->v[which], left;

	if (v == CAPACITY_UNLIMITED)
		return CAPACITY_UNLIMITED;
	switch (which) {
	case CAPACITY_NOFILE:
		left = (v - l->used[which] - CAPACITY_FD_RESERVE) /
		    CAPACITY_FDS_PER_CLIENT;
		break;
	case CAPACITY_MEMORY:
		left = (v / CAPACITY_MEM_SHARE - l->used[which]) /
		    CAPACITY_CLIENT_MEM;
		break;
	default:
		left = (v - l->used[which] - CAPACITY_TASK_RESERVE) /
		    CAPACITY_THREADS_PER_CLIENT;
		break;
	}
	return left > 0 ? left : 0;
}

int
capacity_derive(const struct capacity_limits *l, long long *clients,
    enum capacity_limit *binding)
{
	long long best = CAPACITY_UNLIMITED, n;
	int i;

	for (i = 0; i < CAPACITY_NLIMITS; i++) {
		n = capacity_clients(l, (enum capacity_limit)i);
		if (n != CAPACITY_UNLIMITED && (best == CAPACITY_UNLIMITED ||
		    n < best)) {
			best = n;
			*binding = (enum capacity_limit)i;
		}
	}
	*clients = best;
	return best == CAPACITY_UNLIMITED ? CAPACITY_ERR : 0;
}

/* The first number in a file; "max" (a cgroup without a limit) is none. */
static long long
read_number(const char *path)
{
	long long v = CAPACITY_UNLIMITED;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return CAPACITY_UNLIMITED;
	if (fscanf(f, "%lld", &v) != 1)
		v = CAPACITY_UNLIMITED;
	fclose(f);
	return v;
}

/*
 * A file of this process's cgroup for a controller: cgroup v2's unified
 * tree ("0::PATH"), or v1's hierarchy of that controller ("N:a,b:PATH").
 */
static int
cgroup_file(const char *controller, const char *v1, const char *v2,
    char *out, size_t outlen)
{
	char line[CGROUP_PATH_MAX], *ctl, *path, *tok, *save;
	FILE *f;
	int found = 0;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return CAPACITY_ERR;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((ctl = strchr(line, ':')) == NULL ||
		    (path = strchr(++ctl, ':')) == NULL)
			continue;
		*path++ = '\0';
		if (*ctl == '\0') {
			snprintf(out, outlen, "/sys/fs/cgroup%s/%s", path, v2);
			found = access(out, R_OK) == 0;
			continue;
		}
		for (tok = strtok_r(ctl, ",", &save); tok != NULL && !found;
		    tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, controller) == 0) {
				snprintf(out, outlen, "/sys/fs/cgroup/%s%s/%s",
				    controller, path, v1);
				found = access(out, R_OK) == 0;
			}
	}
	fclose(f);
	return found ? 0 : CAPACITY_ERR;
}

static long long
cgroup_number(const char *controller, const char *v1, const char *v2)
{
	char path[CGROUP_PATH_MAX + 64];

	if (cgroup_file(controller, v1, v2, path, sizeof(path)) != 0)
		return CAPACITY_UNLIMITED;
	return read_number(path);
}

/* Tasks on the machine: the 4th field of /proc/loadavg, "running/total". */
static long long
tasks_now(void)
{
	long long total = 0;
	FILE *f;

	if ((f = fopen("/proc/loadavg", "re")) == NULL)
		return 0;
	if (fscanf(f, "%*s %*s %*s %*d/%lld", &total) != 1)
		total = 0;
	fclose(f);
	return total;
}

static long long
rlimit_value(int resource, int hard)
{
	struct rlimit rl;
	rlim_t v;

	if (getrlimit(resource, &rl) != 0)
		return CAPACITY_UNLIMITED;
	v = hard ? rl.rlim_max : rl.rlim_cur;
	return v == RLIM_INFINITY ? CAPACITY_UNLIMITED : (long long)v;
}

static long long
memory_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	long long ram = pages > 0 && size > 0 ? (long long)pages * size :
	    CAPACITY_UNLIMITED;
	long long cg = cgroup_number("memory", "memory.limit_in_bytes",
	    "memory.max");

	/* cgroup v1 says "no limit" with a number near LLONG_MAX. */
	if (cg != CAPACITY_UNLIMITED && (ram == CAPACITY_UNLIMITED || cg < ram))
		return cg;
	return ram;
}

void
capacity_read(struct capacity_limits *out)
{
	long long tasks = tasks_now(), pids;

	memset(out, 0, sizeof(*out));
	out->v[CAPACITY_NOFILE] = rlimit_value(RLIMIT_NOFILE, 1);
	/* The kernel does not hold root to RLIMIT_NPROC. */
	out->v[CAPACITY_NPROC] = geteuid() == 0 ? CAPACITY_UNLIMITED :
	    rlimit_value(RLIMIT_NPROC, 0);
	out->v[CAPACITY_PID_MAX] = read_number("/proc/sys/kernel/pid_max");
	out->used[CAPACITY_PID_MAX] = tasks;
	out->v[CAPACITY_THREADS_MAX] =
	    read_number("/proc/sys/kernel/threads-max");
	out->used[CAPACITY_THREADS_MAX] = tasks;
	out->v[CAPACITY_PIDS_CGROUP] = cgroup_number("pids", "pids.max",
	    "pids.max");
	pids = cgroup_number("pids", "pids.current", "pids.current");
	out->used[CAPACITY_PIDS_CGROUP] = pids > 0 ? pids : 0;
	out->v[CAPACITY_MEMORY] = memory_bytes();
}
