/* mtproxyd: command line, start-up, signals, graceful stop. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
#include "diag.h"
#include "crc.h"
#include "crypto.h"
#include "direct.h"
#include "link.h"
#include "log.h"
#include "middle.h"
#include "notify.h"
#include "privdrop.h"
#include "server.h"
#include "users.h"
#include "wallclock.h"

#define EXIT_CONFIG		2
#define DEFAULT_CONFIG		SYSCONFDIR "/mtproxyd.conf"

enum {
	OPT_PUBLIC_HOST = 256, OPT_MODE, OPT_MODES, OPT_LOG_LEVEL,
	OPT_STATE_DIR, OPT_FAST_MODE, OPT_MAX_CLIENTS, OPT_CHECK,
	OPT_GEN_SECRET, OPT_PRINT_LINKS, OPT_QR
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
	{ "qr", no_argument, NULL, OPT_QR },
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

enum action { RUN, CHECK, GEN_SECRET, PRINT_LINKS, DIAGNOSE, LINK };

/* The subcommands' arguments: link [USER] [--qr]. */
struct subcmd {
	const char *user;
	int qr;
};

static void
usage(FILE *out)
{
	fprintf(out,
"usage: mtproxyd [-c FILE] [options]\n"
"       mtproxyd [-c FILE] check       check the setup: ok/warn/fail lines, exit 0/1/2\n"
"       mtproxyd [-c FILE] link [USER] [--qr]  the links, with QR codes\n"
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

/* What a reload needs to build the configuration again. */
struct source {
	const char *path;		/* NULL: none */
	int argc;
	char **argv;
	/* The start's default: after [server] user drops root, the default
	   would be another directory, which only a restart may change. */
	char state_dir[PATH_MAX];
};

/* The file, then the command line's overrides, then the checks. */
static int
load_config(const struct source *src, struct config *cfg, char *err,
    size_t errlen)
{
	const char *key;
	int c, rc;

	if (src->path != NULL &&
	    (rc = config_load(src->path, cfg, err, errlen)) != 0)
		return rc;
	optind = 1;
	while ((c = getopt_long(src->argc, src->argv, "c:p:l:hV", longopts,
	    NULL)) != -1) {
		if ((key = override_key(c)) == NULL)
			continue;
		if ((rc = config_set(cfg, "server", key, optarg, err,
		    errlen)) != 0)
			return rc;
	}
	return config_validate(cfg, err, errlen);
}

/* The words after the options: check, or link [USER]. */
static int
subcommand(int argc, char **argv, enum action *action, struct subcmd *sub)
{
	int i = optind;

	if (i < argc && strcmp(argv[i], "check") == 0) {
		*action = DIAGNOSE;
		i++;
	} else if (i < argc && strcmp(argv[i], "link") == 0) {
		*action = LINK;
		if (++i < argc)
			sub->user = argv[i++];
	}
	if (i < argc) {
		fprintf(stderr, "mtproxyd: unexpected argument '%s'\n",
		    argv[i]);
		return EXIT_CONFIG;
	}
	if (sub->qr && *action != LINK) {
		fprintf(stderr, "mtproxyd: --qr goes with link\n");
		return EXIT_CONFIG;
	}
	return 0;
}

/* Parse argv into cfg; returns 0, or the exit status to leave with. */
static int
parse_args(int argc, char **argv, struct config *cfg, struct source *src,
    enum action *action, struct subcmd *sub)
{
	char err[512];
	int c;

	*action = RUN;
	*src = (struct source){ NULL, argc, argv, "" };
	snprintf(src->state_dir, sizeof(src->state_dir), "%s", cfg->state_dir);
	while ((c = getopt_long(argc, argv, "c:p:l:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': src->path = optarg; break;
		case 'h': usage(stdout); return -1;
		case 'V': printf("mtproxyd %s\n", PACKAGE_VERSION); return -1;
		case OPT_CHECK: *action = CHECK; break;
		case OPT_GEN_SECRET: *action = GEN_SECRET; break;
		case OPT_PRINT_LINKS: *action = PRINT_LINKS; break;
		case OPT_QR: sub->qr = 1; break;
		case '?': usage(stderr); return EXIT_CONFIG;
		default: break;
		}
	}
	if (subcommand(argc, argv, action, sub) != 0)
		return EXIT_CONFIG;
	if (*action == GEN_SECRET)
		return 0;
	if (src->path == NULL && access(DEFAULT_CONFIG, R_OK) == 0)
		src->path = DEFAULT_CONFIG;
	if (load_config(src, cfg, err, sizeof(err)) != 0 ||
	    direct_resolve(cfg, err, sizeof(err)) != 0) {
		if (*action == DIAGNOSE)
			diag_config_failed(err, stdout);
		else
			fprintf(stderr, "mtproxyd: %s\n", err);
		return EXIT_CONFIG;
	}
	return 0;
}

/*
 * SIGHUP: the whole configuration again, as at the start. A bad one is
 * one line and changes nothing.
 */
static int
reload(struct server *srv, const struct source *src)
{
	struct config *cfg;
	char err[512];

	if ((cfg = malloc(sizeof(*cfg))) == NULL) {
		log_error("reload: out of memory; keeping the running "
		    "configuration");
		atomic_fetch_add(&srv->stats.reloads[1], 1);
		return -1;
	}
	config_defaults(cfg);
	memcpy(cfg->state_dir, src->state_dir, sizeof(cfg->state_dir));
	if (load_config(src, cfg, err, sizeof(err)) != 0 ||
	    users_ensure_default(cfg, err, sizeof(err)) != 0) {
		log_error("reload: %s; keeping the running configuration", err);
		atomic_fetch_add(&srv->stats.reloads[1], 1);
		config_free(cfg);
		free(cfg);
		return -1;
	}
	return server_reload(srv, cfg);
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

/* Serve until SIGTERM/SIGINT; SIGUSR1 logs the counters, SIGHUP reloads. */
static void
serve_signals(struct server *srv, const struct source *src)
{
	const struct config *cfg = srv->cfg;
	char status[128];
	sigset_t set;
	int sig, rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			server_stats_log(srv);
		} else if (sig == SIGHUP) {
			log_info("SIGHUP: reloading the configuration%s",
			    srv->mid != NULL ? " and the middle-proxy list" : "");
			notify_reloading();
			rc = reload(srv, src);
			if (srv->mid != NULL)
				middle_refresh(srv->mid);
			notify_ready(rc == 0 ? "running; reloaded" : "running; "
			    "reload failed, the configuration is unchanged");
		} else {
			break;
		}
	}
	snprintf(status, sizeof(status), "stopping; sessions have %d s to "
	    "finish", cfg->shutdown_grace);
	notify_stopping(status);
	log_info("%s: %s", sig == SIGINT ? "SIGINT" : "SIGTERM", status);
}

/* Root's work (binding) is done: become [server] user for good. */
static int
drop_root(const struct privdrop *pd)
{
	char err[512];

	if (privdrop_apply(pd, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	if (pd->on)
		log_info("running as user %s (uid %u, gid %u)", pd->user,
		    (unsigned)pd->uid, (unsigned)pd->gid);
	return 0;
}

/* print_links = no keeps the secrets out of the journal. */
static void
print_links(const struct config *cfg, uint16_t port)
{
	if (cfg->print_links)
		users_print_links(cfg, port, stdout);
	else
		log_info("links not printed (print_links = no): mtproxyd link "
		    "shows them");
}

/* mtproxyd link: an unknown user is a mistake of the command line. */
static int
link_command(const struct config *cfg, const struct subcmd *sub)
{
	int rc = link_print(cfg, sub->user, sub->qr, stdout);

	if (rc == LINK_ERR_NOUSER)
		fprintf(stderr, "mtproxyd: no user '%s' in the configuration\n",
		    sub->user);
	return rc == 0 ? 0 : 1;
}

static int
run(const struct config *cfg, const struct source *src,
    const struct wallclock *clock, const struct privdrop *pd)
{
	struct acceptor *acc = NULL;
	struct server *srv;
	char err[512];

	if (privdrop_own_dir(pd, cfg->state_dir, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	if (server_new(cfg, clock, &srv) != 0)
		return 1;
	/* A failed start said why in one line: no counters, all zero. */
	if (acceptor_bind(srv, &acc) != 0 || drop_root(pd) != 0 ||
	    acceptor_run(acc) != 0) {
		acceptor_stop(acc);
		server_free(srv);
		return 1;
	}
	print_links(cfg, acceptor_port(acc));
	log_info("mtproxyd %s running: mode %s%s, %zu user(s), "
	    "max_clients %d", PACKAGE_VERSION, srv->mux != NULL ?
	    "middle" : "direct", srv->mux == NULL && cfg->fast_mode ?
	    " (fast)" : "", cfg->nusers, cfg->max_clients);
	snprintf(err, sizeof(err), "running on port %u",
	    (unsigned)acceptor_port(acc));
	notify_ready(err);
	serve_signals(srv, src);
	acceptor_stop(acc);
	if (server_drain(srv) != 0)
		return 1;
	server_stats_log(srv);
	log_info("stopped");
	server_free(srv);
	return 0;
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

/*
 * MTPROXYD_TEST_TIME=UNIX: the daemon's wall clock starts there (quota
 * periods, expiry), so that tests cross a period without waiting for it.
 */
static int
clock_select(struct wallclock *clock)
{
	const char *v = getenv("MTPROXYD_TEST_TIME");
	char err[256];

	if (wallclock_init(clock, v, err, sizeof(err)) != 0) {
		fprintf(stderr, "mtproxyd: MTPROXYD_TEST_TIME: %s\n", err);
		return EXIT_CONFIG;
	}
	if (v != NULL && *v != '\0')
		log_info("wall clock: starts at %s (MTPROXYD_TEST_TIME)", v);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	static struct wallclock clock;
	struct privdrop pd;
	struct source src;
	struct subcmd sub = { NULL, 0 };
	enum action action;
	sigset_t set;
	char err[512];
	int rc;

	config_defaults(&cfg);
	if ((rc = parse_args(argc, argv, &cfg, &src, &action, &sub)) != 0)
		return rc < 0 ? 0 : rc;
	if (privdrop_resolve(cfg.run_user, cfg.run_group, &pd, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "mtproxyd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (action == GEN_SECRET)
		return gen_secret();
	if (action == CHECK) {
		printf("mtproxyd: configuration OK\n");
		return 0;
	}
	if (action == DIAGNOSE) {
		/* The lines say it all; the modules' own warnings repeat them. */
		log_set_level(LOGL_ERROR);
		return diag_run(&cfg, src.path, stdout);
	}
	log_set_level(cfg.log_level);
	if (users_ensure_default(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "mtproxyd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (action == PRINT_LINKS)
		return users_print_links(&cfg, cfg.port, stdout) == 0 ? 0 : 1;
	if (action == LINK)
		return link_command(&cfg, &sub);
	diag_start_warnings(&cfg);
	if ((rc = crc_select()) != 0 || (rc = clock_select(&clock)) != 0)
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
	rc = run(&cfg, &src, &clock, &pd);
	config_free(&cfg);
	return rc;
}
