/* mtproxyd: command line, start-up, signals, graceful stop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "acceptor.h"
#include "capacity.h"
#include "crc.h"
#include "crypto.h"
#include "fetch.h"
#include "log.h"
#include "mask.h"
#include "middle.h"
#include "dcpool.h"
#include "mux.h"
#include "pool.h"
#include "replay.h"
#include "session.h"
#include "stats.h"
#include "users.h"

#define EXIT_CONFIG		2
#define DEFAULT_CONFIG		SYSCONFDIR "/mtproxyd.conf"
#define POOL_QUEUE		1024
#define POOL_STOP_SLACK		5	/* seconds */

/*
 * Session threads use at most 10.9 KiB of stack, TLS and thread block
 * included: the deepest of every pool thread over the whole test suite
 * (direct, fast, fake-TLS, cover-site relay, middle mode, debug logging),
 * measured with configure --enable-stack-watermark. 32 KiB keeps three
 * times that; a thread touches only the pages it uses. Sanitizers need
 * far more stack.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THREAD_STACK		(1024 * 1024)
#else
#define THREAD_STACK		(32 * 1024)
#endif

enum {
	OPT_PUBLIC_HOST = 256, OPT_MODE, OPT_MODES, OPT_LOG_LEVEL,
	OPT_STATE_DIR, OPT_FAST_MODE, OPT_MAX_CLIENTS, OPT_CHECK,
	OPT_GEN_SECRET, OPT_PRINT_LINKS
};

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "port", required_argument, NULL, 'p' },
	{ "listen", required_argument, NULL, 'l' },
	{ "public-host", required_argument, NULL, OPT_PUBLIC_HOST },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "modes", required_argument, NULL, OPT_MODES },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "fast-mode", required_argument, NULL, OPT_FAST_MODE },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "gen-secret", no_argument, NULL, OPT_GEN_SECRET },
	{ "print-links", no_argument, NULL, OPT_PRINT_LINKS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Command-line overrides: option -> [server] key. */
static const struct {
	int opt;
	const char *key;
} overrides[] = {
	{ 'p', "port" }, { 'l', "listen" }, { OPT_PUBLIC_HOST, "public_host" },
	{ OPT_MODE, "mode" }, { OPT_MODES, "modes" },
	{ OPT_LOG_LEVEL, "log_level" }, { OPT_STATE_DIR, "state_dir" },
	{ OPT_FAST_MODE, "fast_mode" }, { OPT_MAX_CLIENTS, "max_clients" },
};

enum action { RUN, CHECK, GEN_SECRET, PRINT_LINKS };

static void
usage(FILE *out)
{
	fprintf(out,
"usage: mtproxyd [-c FILE] [options]\n"
"  -c, --config FILE      configuration file (default " DEFAULT_CONFIG
" if it exists)\n"
"  -p, --port N           [server] port\n"
"  -l, --listen ADDRS     [server] listen, comma-separated addresses\n"
"      --public-host H    [server] public_host, the host put in links\n"
"      --mode M           [server] mode (direct, middle)\n"
"      --modes LIST       [server] modes (classic, secure, tls)\n"
"      --log-level L      [server] log_level (error, warn, info, debug)\n"
"      --state-dir DIR    [server] state_dir\n"
"      --fast-mode B      [server] fast_mode (yes, no)\n"
"      --max-clients N    [server] max_clients\n"
"      --check-config     validate the configuration and exit (0 ok, 2 bad)\n"
"      --gen-secret       print a new random secret and exit\n"
"      --print-links      print the users' tg:// and t.me links and exit\n"
"  -h, --help             this text\n"
"  -V, --version          the version\n");
}

static int
gen_secret(void)
{
	uint8_t key[SECRET_LEN];
	size_t i;

	if (crypto_random(key, sizeof(key)) != 0) {
		fprintf(stderr, "mtproxyd: no random bytes\n");
		return 1;
	}
	for (i = 0; i < sizeof(key); i++)
		printf("%02x", key[i]);
	printf("\n");
	return 0;
}

static const char *
override_key(int opt)
{
	size_t i;

	for (i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
		if (overrides[i].opt == opt)
			return overrides[i].key;
	return NULL;
}

/* Parse argv into cfg; returns 0, or the exit status to leave with. */
static int
parse_args(int argc, char **argv, struct config *cfg, enum action *action)
{
	const char *path = NULL, *key;
	char err[512];
	int c, rc;

	*action = RUN;
	while ((c = getopt_long(argc, argv, "c:p:l:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return -1;
		case 'V': printf("mtproxyd %s\n", PACKAGE_VERSION); return -1;
		case OPT_CHECK: *action = CHECK; break;
		case OPT_GEN_SECRET: *action = GEN_SECRET; break;
		case OPT_PRINT_LINKS: *action = PRINT_LINKS; break;
		case '?': usage(stderr); return EXIT_CONFIG;
		default: break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mtproxyd: unexpected argument '%s'\n",
		    argv[optind]);
		return EXIT_CONFIG;
	}
	if (*action == GEN_SECRET)
		return 0;
	if (path == NULL && access(DEFAULT_CONFIG, R_OK) == 0)
		path = DEFAULT_CONFIG;
	if (path != NULL && (rc = config_load(path, cfg, err, sizeof(err))) != 0)
		goto bad;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:p:l:hV", longopts, NULL)) != -1) {
		if ((key = override_key(c)) == NULL)
			continue;
		if (config_set(cfg, "server", key, optarg, err, sizeof(err)) != 0)
			goto bad;
	}
	if (config_validate(cfg, err, sizeof(err)) != 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "mtproxyd: %s\n", err);
	return EXIT_CONFIG;
}

/* Many clients need many descriptors: take all the hard limit allows. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* An explicit max_clients above what the limits allow: name the one that binds. */
static void
warn_capacity(const struct config *cfg)
{
	struct capacity_limits lim;
	enum capacity_limit b = CAPACITY_NOFILE;
	long long n;

	capacity_read(&lim);
	if (capacity_derive(&lim, &n, &b) != 0 || cfg->max_clients <= n)
		return;
	log_warn("max_clients %d is more than %s allows: %lld is room for "
	    "%lld clients (%d descriptors and %d threads each); clients "
	    "beyond them are refused", cfg->max_clients,
	    capacity_limit_name(b), lim.v[b], n, CAPACITY_FDS_PER_CLIENT,
	    CAPACITY_THREADS_PER_CLIENT);
}

static void
wait_for_sessions(int seconds)
{
	struct timespec tick = { 0, 50 * 1000000 };
	long loops = (long)seconds * 20;

	while (atomic_load(&stats.active) > 0 && loops-- > 0)
		nanosleep(&tick, NULL);
}

/* What the sessions share besides the pool. */
struct parts {
	replay *rp;
	struct mask *mask;
	struct middle *mid;
	struct mux *mux;
	struct dcpool *dcpool;
};

/* Serve until SIGTERM/SIGINT; SIGUSR1 logs the counters, SIGHUP refreshes. */
static void
serve_signals(const struct config *cfg, struct parts *p)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			stats_log(cfg);
		} else if (sig == SIGHUP && p->mid != NULL) {
			log_info("SIGHUP: refreshing the middle-proxy list");
			middle_refresh(p->mid);
		} else if (sig == SIGHUP) {
			log_info("SIGHUP: nothing to refresh in direct mode; "
			    "restart to apply a new configuration");
		} else {
			break;
		}
	}
	log_info("%s: stopping; sessions have %d s to finish",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->shutdown_grace);
}

static void
parts_free(struct parts *p)
{
	dcpool_stop(p->dcpool);
	mux_free(p->mux);
	middle_free(p->mid);
	if (p->mid != NULL)
		fetch_global_cleanup();
	mask_free(p->mask);
	replay_free(p->rp);
}

/*
 * The replay set remembers a hello for as long as its time would still be
 * accepted; the cover site is needed only with a fake-TLS domain, the
 * middle-proxy list and links only in middle mode.
 */
static int
parts_new(const struct config *cfg, struct parts *p)
{
	uint32_t window = (uint32_t)(cfg->time_skew_past + cfg->time_skew_future);

	memset(p, 0, sizeof(*p));
	if (replay_new(&p->rp, (size_t)cfg->replay_cache_size,
	    window > 0 ? window : 1) != 0) {
		log_error("cannot create the replay cache");
		return 1;
	}
	if (cfg->ndomains > 0 && mask_new(cfg, &p->mask) != 0) {
		log_error("cannot set up the cover site");
		goto fail;
	}
	if (cfg->mode == CONFIG_MODE_MIDDLE) {
		if (fetch_global_init() != 0 || middle_new(cfg, &p->mid) != 0) {
			log_error("no usable middle-proxy list: cannot run in "
			    "middle mode");
			goto fail;
		}
		if (mux_new(cfg, p->mid, &p->mux) != 0) {
			log_error("cannot start the middle-proxy links");
			goto fail;
		}
	} else if (cfg->dc_pool > 0 && dcpool_start(cfg, &p->dcpool) != 0) {
		log_error("cannot start the DC connection pool");
		goto fail;
	}
	return 0;
fail:
	parts_free(p);
	return 1;
}

static int
run(const struct config *cfg)
{
	struct acceptor *acc = NULL;
	struct pool *pool = NULL;
	struct server srv;
	struct parts p;
	int rc = 1;

	if (parts_new(cfg, &p) != 0)
		return 1;
	if (pool_new(&pool, 2 * cfg->max_clients + 16, POOL_QUEUE,
	    cfg->pool_spare, THREAD_STACK) != 0) {
		log_error("cannot create the thread pool");
		goto fail;
	}
	pool_on_thread_exit(pool, crypto_thread_end);
	if (server_init(&srv, cfg, pool, p.mask, p.rp) != 0) {
		log_error("out of memory");
		pool_free(pool, 0);
		goto fail;
	}
	srv.mux = p.mux;
	srv.dcpool = p.dcpool;
	if (acceptor_start(&srv, &acc) != 0)
		goto out;
	users_print_links(cfg, acceptor_port(acc), stdout);
	log_info("mtproxyd %s running: mode %s%s, %zu user(s), max_clients %d",
	    PACKAGE_VERSION, p.mux != NULL ? "middle" : "direct",
	    p.mux == NULL && cfg->fast_mode ? " (fast)" : "", cfg->nusers,
	    cfg->max_clients);
	serve_signals(cfg, &p);
	acceptor_stop(acc);
	wait_for_sessions(cfg->shutdown_grace);
	if (atomic_load(&stats.active) > 0)
		log_info("closing %lld remaining session(s)",
		    (long long)atomic_load(&stats.active));
	session_shutdown_all(&srv);
	rc = 0;
out:
	/* A session may be in a DC connect, which nothing interrupts. */
	if (pool_free(pool, (cfg->connect_timeout + POOL_STOP_SLACK) * 1000) != 0) {
		log_error("sessions did not stop in time");
		return 1;
	}
	server_destroy(&srv);
	stats_log(cfg);
	log_info("stopped");
fail:
	parts_free(&p);
	return rc;
}

/*
 * MTPROXYD_CRC32C=table: the table CRC32C even where SSE4.2 would be used,
 * so that the tests can run the path of other machines end to end.
 */
static int
crc_select(void)
{
	const char *v = getenv("MTPROXYD_CRC32C");

	if (v == NULL || *v == '\0')
		return 0;
	if (strcmp(v, "table") != 0) {
		fprintf(stderr, "mtproxyd: MTPROXYD_CRC32C=%s: the only value "
		    "is \"table\"\n", v);
		return EXIT_CONFIG;
	}
	crc_use_table(1);
	log_info("CRC32C: table path (MTPROXYD_CRC32C=table)");
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	enum action action;
	sigset_t set;
	char err[512];
	int rc;

	config_defaults(&cfg);
	if ((rc = parse_args(argc, argv, &cfg, &action)) != 0)
		return rc < 0 ? 0 : rc;
	if (action == GEN_SECRET)
		return gen_secret();
	if (action == CHECK) {
		printf("mtproxyd: configuration OK\n");
		return 0;
	}
	log_set_level(cfg.log_level);
	if (users_ensure_default(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "mtproxyd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (action == PRINT_LINKS)
		return users_print_links(&cfg, cfg.port, stdout) == 0 ? 0 : 1;
	if ((rc = crc_select()) != 0)
		return rc;
	raise_nofile();
	warn_capacity(&cfg);
	/* Threads inherit this mask; only the main thread takes signals. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return run(&cfg);
}
