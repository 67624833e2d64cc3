/*
 * Log lines on stderr: "2026-11-25T12:00:00.123Z LEVEL message". Each line
 * is built on the stack and written with one write(2), so lines from
 * different threads never interleave and logging never allocates.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	1024

static atomic_int log_level = LOGL_INFO;

static const char *const level_tags[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

int
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

static size_t
timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	return n < 0 ? 0 : (size_t)n;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t len, i, start;
	ssize_t n;
	va_list ap;

	if ((unsigned)level >= sizeof(level_tags) / sizeof(level_tags[0]) ||
	    !log_enabled(level))
		return;
	len = timestamp(line, sizeof(line));
	len += (size_t)snprintf(line + len, sizeof(line) - len, "%s ",
	    level_tags[level]);
	start = len;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len += (size_t)n;
	if (len > sizeof(line) - 1)
		len = sizeof(line) - 1;		/* truncated; room for '\n' */
	/* A message is one line, whatever a peer managed to put into it. */
	for (i = start; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	do {
		n = write(STDERR_FILENO, line, len);
	} while (n < 0 && errno == EINTR);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
log_limit_pass(struct log_limit *l, int interval_ms, unsigned long long *held)
{
	long long now = mono_ms(), next;

	next = atomic_load(&l->next_ms);
	/* One thread wins the slot; the others count themselves held. */
	if (now < next || !atomic_compare_exchange_strong(&l->next_ms, &next,
	    now + interval_ms)) {
		atomic_fetch_add(&l->held, 1);
		return 0;
	}
	*held = atomic_exchange(&l->held, 0);
	return 1;
}

static size_t
slot_of(const uint8_t *key, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % LOG_LIMIT_SLOTS;
}

int
log_limit_map_pass(struct log_limit_map *m, const void *key, size_t len,
    int interval_ms, unsigned long long *held)
{
	struct log_limit_slot *sl;
	long long now = mono_ms();
	int pass = 0;

	if (len > LOG_LIMIT_KEY_MAX)
		len = LOG_LIMIT_KEY_MAX;
	pthread_mutex_lock(&m->mu);
	sl = &m->slot[slot_of(key, len)];
	if (sl->len != len || memcmp(sl->key, key, len) != 0) {
		memcpy(sl->key, key, len);
		sl->len = len;
		sl->next_ms = 0;
		sl->held = 0;
	}
	if (now < sl->next_ms) {
		sl->held++;
	} else {
		*held = sl->held;
		sl->held = 0;
		sl->next_ms = now + interval_ms;
		pass = 1;
	}
	pthread_mutex_unlock(&m->mu);
	return pass;
}
