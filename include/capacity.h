/*
 * How many clients the machine's limits allow. A client holds two
 * descriptors (its socket and the DC's) and two threads (one per
 * direction), and each thread is a task of the kernel: open files, the
 * user's process limit, pid_max and threads-max all bind, and so does
 * memory. capacity_derive is a pure function of the limits passed in, so
 * that tests can pass any; capacity_read takes them from the system.
 */
#ifndef MTPROXYD_CAPACITY_H
#define MTPROXYD_CAPACITY_H

#define CAPACITY_ERR		(-1)
#define CAPACITY_UNLIMITED	(-1LL)

#define CAPACITY_FDS_PER_CLIENT		2
#define CAPACITY_THREADS_PER_CLIENT	2
#define CAPACITY_FD_RESERVE	64	/* listeners, logs, links, files */
#define CAPACITY_TASK_RESERVE	64	/* acceptors, links, tickers, main */
/*
 * Memory a busy client may hold outside middle mode's queues (bounded on
 * their own): two kernel stacks, two thread stacks, two relay buffers and
 * a TLS record buffer, socket buffers in use. Clients may take half the
 * memory at this size.
 */
#define CAPACITY_CLIENT_MEM	(256LL * 1024)
#define CAPACITY_MEM_SHARE	2

enum capacity_limit {
	CAPACITY_NOFILE,	/* RLIMIT_NOFILE, hard: the daemon raises to it */
	CAPACITY_NPROC,		/* RLIMIT_NPROC: the user's tasks */
	CAPACITY_PID_MAX,	/* /proc/sys/kernel/pid_max */
	CAPACITY_THREADS_MAX,	/* /proc/sys/kernel/threads-max */
	CAPACITY_PIDS_CGROUP,	/* the pids cgroup's pids.max */
	CAPACITY_MEMORY,	/* bytes: RAM, or the memory cgroup's limit */
	CAPACITY_NLIMITS
};

struct capacity_limits {
	long long v[CAPACITY_NLIMITS];	/* CAPACITY_UNLIMITED: does not bind */
	long long used[CAPACITY_NLIMITS];	/* taken already, e.g. tasks */
};

/* The limits of this process and machine; what cannot be read is unlimited. */
void capacity_read(struct capacity_limits *out);
/* Clients one limit allows (0 when it is too low for any), or UNLIMITED. */
long long capacity_clients(const struct capacity_limits *l,
    enum capacity_limit which);
/*
 * The smallest over all limits: *clients, and *binding the limit that
 * gives it; CAPACITY_ERR when no limit binds (*clients UNLIMITED).
 */
int capacity_derive(const struct capacity_limits *l, long long *clients,
    enum capacity_limit *binding);
/* "open files (RLIMIT_NOFILE)" and so on, for log lines and errors. */
const char *capacity_limit_name(enum capacity_limit which);

#endif
