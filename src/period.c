#include <string.h>
#include <stdlib.h>
#include <time.h>
#include "period.h"
static const char *const names[] = { "total", "day", "week", "month" };
int period_parse(const char *s, enum period *out) { for (int i = 0; i < 4; i++) if (!strcmp(s, names[i])) { *out = i; return 0; } return -1; }
const char *period_name(enum period p) { return names[p]; }
int period_start(enum period p, int64_t t, int64_t *start) {
	time_t tt = t; struct tm tm; gmtime_r(&tt, &tm);
	if (p == PERIOD_TOTAL) { *start = 0; return 0; }
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (p == PERIOD_WEEK) tm.tm_mday -= (tm.tm_wday + 6) % 7;
	if (p == PERIOD_MONTH) tm.tm_mday = 1;
	*start = timegm(&tm); return 0; }
int period_next(enum period p, int64_t t, int64_t *next) {
	int64_t s; time_t tt; struct tm tm;
	if (p == PERIOD_TOTAL) return -1;
	period_start(p, t, &s); tt = s; gmtime_r(&tt, &tm);
	if (p == PERIOD_DAY) tm.tm_mday += 1; else if (p == PERIOD_WEEK) tm.tm_mday += 7; else tm.tm_mon += 1;
	*next = timegm(&tm); return 0; }
int period_parse_time(const char *s, int64_t *u) { struct tm tm; memset(&tm, 0, sizeof(tm)); const char *e = strptime(s, "%Y-%m-%d", &tm); if (!e) return -1; if (*e == 'T' || *e == ' ') { e = strptime(e + 1, "%H:%M:%S", &tm); if (!e) return -1; } if (*e == 'Z') e++; if (*e) return -1; *u = timegm(&tm); return 0; }
int period_parse_bytes(const char *s, uint64_t *out) { char *e; unsigned long long v = strtoull(s, &e, 10); if (e == s) return -1; switch (*e) { case 'K': case 'k': v <<= 10; e++; break; case 'M': case 'm': v <<= 20; e++; break; case 'G': case 'g': v <<= 30; e++; break; case 'T': case 't': v <<= 40; e++; break; } if (*e) return -1; *out = v; return 0; }
