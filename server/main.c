/* baedald: the delivery-simulation daemon. Flags and environment in,
 * server_main() out. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/protocol.h"
#include "server/health.h"
#include "server/http.h"
#include "server/listen_addr.h"
#include "server/log.h"
#include "server/server.h"

static const char usage[] =
	"usage: baedald [options]\n"
	"\n"
	"Serves baedal orders: every order a coroutine on one event loop, every\n"
	"timing stored in SQLite.\n"
	"\n"
	"  -l, --listen HOST:PORT    address to listen on (default 127.0.0.1:7878;\n"
	"                            port 0 picks a free port; env BAEDAL_LISTEN)\n"
	"      --http HOST:PORT      the web view, its events and exports (default\n"
	"                            127.0.0.1:7879; off: none; env BAEDAL_HTTP;\n"
	"                            docs/http.md)\n"
	"  -d, --db PATH             SQLite database (default baedal.db; env BAEDAL_DB),\n"
	"                            locked: one baedald at a time\n"
	"      --log-level LEVEL     error, warn, info (default) or debug\n"
	"      --max-meal DURATION   longest meal accepted (default 10m); the longest\n"
	"                            run, max-orders x (max-meal + max-cook), must\n"
	"                            fit the database: 2^62 us\n"
	"      --max-orders N        orders per run (default 1000000)\n"
	"      --max-inflight N      orders running at once, all clients (default 2000000)\n"
	"      --max-conns N         client connections at once (default 16384)\n"
	"      --max-sessions N      sessions held at once, attached or not (default 65536)\n"
	"      --session-ttl DURATION  how long a detached, idle session can be\n"
	"                            re-attached (default 10m)\n"
	"      --idle-timeout DURATION  close a connection that sends no whole line\n"
	"                            for this long while nothing of its session runs\n"
	"                            (default 5m)\n"
	"      --token-file PATH     require AUTH with the token in this file (its first\n"
	"                            line); env BAEDAL_TOKEN sets it too\n"
	"      --token TOKEN         the same from the command line (visible in ps:\n"
	"                            prefer --token-file or BAEDAL_TOKEN)\n"
	"      --workers N           threads that cook offload's and sync's orders\n"
	"                            (default: one per CPU)\n"
	"      --max-cook DURATION   longest cook of one order (default 10s)\n"
	"      --max-inline-cook DURATION  most cooking one async run may do on the\n"
	"                            event loop, which blocks every client while it\n"
	"                            lasts (default 1s)\n"
	"      --warn-stall DURATION  a callback that holds the event loop this long\n"
	"                            is a stall: logged, counted, stored, told to\n"
	"                            the sessions it delayed (default 100ms)\n"
	"  -h, --help                this help\n"
	"  -V, --version             the version\n";

enum { OPT_LOG_LEVEL = 256, OPT_MAX_MEAL, OPT_MAX_ORDERS, OPT_MAX_INFLIGHT, OPT_MAX_CONNS,
       OPT_MAX_SESSIONS, OPT_SESSION_TTL, OPT_IDLE_TIMEOUT, OPT_TOKEN, OPT_TOKEN_FILE,
       OPT_WORKERS, OPT_MAX_COOK, OPT_MAX_INLINE_COOK, OPT_WARN_STALL, OPT_HTTP };

static const struct option options[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "db", required_argument, NULL, 'd' },
	{ "http", required_argument, NULL, OPT_HTTP },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "max-meal", required_argument, NULL, OPT_MAX_MEAL },
	{ "max-orders", required_argument, NULL, OPT_MAX_ORDERS },
	{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
	{ "session-ttl", required_argument, NULL, OPT_SESSION_TTL },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "max-cook", required_argument, NULL, OPT_MAX_COOK },
	{ "max-inline-cook", required_argument, NULL, OPT_MAX_INLINE_COOK },
	{ "warn-stall", required_argument, NULL, OPT_WARN_STALL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_count(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v == 0 || v > max) {
		fprintf(stderr, "baedald: --%s: '%s' is not a whole number from 1 to %llu\n", opt, s,
		        (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_duration(const char *opt, const char *s, uint64_t *out)
{
	if (duration_parse(s, strlen(s), out) < 0) {
		fprintf(stderr, "baedald: --%s: '%s' is not a duration like 250ms, 3s, 1.5s, 2m\n",
		        opt, s);
		return -1;
	}
	return 0;
}

/* A timeout of a year already means never; the cap keeps a huge one
 * from wrapping the session's TTL, kept in 32-bit seconds. */
static int parse_timeout(const char *opt, const char *text, uint64_t *out)
{
	const uint64_t year = 8760ull * 3600 * 1000000;
	if (parse_duration(opt, text, out) < 0)
		return -1;
	if (*out > year) {
		fprintf(stderr, "baedald: --%s: at most 8760h (a year)\n", opt);
		return -1;
	}
	return 0;
}

/* A run's sums of meals and cooks, its events' offsets and, added to the
 * wall clock, their times are stored as signed 64-bit microseconds: the
 * longest run the limits allow must fit, with half the range left for
 * the wall clock. */
#define RUN_SPAN_MAX_US ((uint64_t)INT64_MAX / 2)

static int check_run_span(const struct server_config *cfg)
{
	uint64_t per_order = RUN_SPAN_MAX_US / cfg->max_orders;
	char meal[32], cook[32], most[32];

	if (cfg->max_cook_us < per_order && cfg->max_meal_us <= per_order - cfg->max_cook_us)
		return 0;
	duration_format(meal, sizeof meal, cfg->max_meal_us);
	duration_format(cook, sizeof cook, cfg->max_cook_us);
	if (cfg->max_cook_us >= per_order) {
		fprintf(stderr, "baedald: --max-orders %u with --max-cook %s: a run could last longer "
		        "than the database can record; lower one of them\n", cfg->max_orders, cook);
		return -1;
	}
	duration_format(most, sizeof most, per_order - cfg->max_cook_us);
	fprintf(stderr, "baedald: --max-meal %s: with --max-orders %u and --max-cook %s a run "
	        "could last longer than the database can record; at most %s\n", meal,
	        cfg->max_orders, cook, most);
	return -1;
}

/* A token is what AUTH can carry: printable ASCII, no spaces. */
static int check_token(const char *t, const char *from)
{
	size_t n = strlen(t);
	int ok = n > 0 && n <= PROTO_TOKEN_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = t[i] >= 0x21 && t[i] <= 0x7e;
	if (!ok)
		fprintf(stderr, "baedald: the token from %s must be 1 to %d printable characters "
		        "without spaces\n", from, PROTO_TOKEN_MAX);
	return ok ? 0 : -1;
}

/* The token is the file's first line, without its line end. */
static int read_token_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "baedald: --token-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!fgets(buf, (int)cap, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return check_token(buf, path);
}

/* Cooking durations are capped at an hour, so a run's sum cannot overflow. */
static int parse_cooking_option(int opt, struct server_config *cfg)
{
	const uint64_t hour = 3600ull * 1000000;
	const char *name = opt == OPT_MAX_COOK ? "max-cook" : "max-inline-cook";
	uint64_t v;
	if (opt == OPT_WORKERS) {
		if (parse_count("workers", optarg, 256, &v) < 0)
			return -1;
		cfg->workers = (unsigned)v;
		return 0;
	}
	if (parse_duration(name, optarg, &v) < 0)
		return -1;
	if (v > hour) {
		fprintf(stderr, "baedald: --%s: at most 1h\n", name);
		return -1;
	}
	*(opt == OPT_MAX_COOK ? &cfg->max_cook_us : &cfg->max_inline_cook_us) = v;
	return 0;
}

/* Zero would make every callback measured a stall, a line in the log each. */
static int parse_warn_stall(const char *text, uint64_t *out)
{
	if (parse_timeout("warn-stall", text, out) < 0)
		return -1;
	if (*out == 0) {
		fprintf(stderr, "baedald: --warn-stall: must be more than 0 (e.g. 100ms)\n");
		return -1;
	}
	return 0;
}

/* Returns 0 to run, 1 to exit successfully (help, version), -1 on error. */
static int parse_option(int opt, struct server_config *cfg)
{
	uint64_t v;
	switch (opt) {
	case 'l': cfg->listen = optarg; return 0;
	case 'd': cfg->db_path = optarg; return 0;
	case OPT_HTTP:
		cfg->http = optarg;
		cfg->http_is_default = 0;
		return 0;
	case OPT_LOG_LEVEL:
		if (log_set_level_name(optarg) == 0)
			return 0;
		fprintf(stderr, "baedald: --log-level: '%s' is not error, warn, info or debug\n",
		        optarg);
		return -1;
	case OPT_MAX_MEAL: return parse_duration("max-meal", optarg, &cfg->max_meal_us);
	case OPT_MAX_ORDERS:
		if (parse_count("max-orders", optarg, UINT32_MAX, &v) < 0)
			return -1;
		cfg->max_orders = (uint32_t)v;
		return 0;
	case OPT_MAX_INFLIGHT: return parse_count("max-inflight", optarg, UINT64_MAX / 2,
	                                          &cfg->max_inflight);
	case OPT_MAX_CONNS:
		if (parse_count("max-conns", optarg, 1000000, &v) < 0)
			return -1;
		cfg->max_conns = (uint32_t)v;
		return 0;
	case OPT_MAX_SESSIONS:
		if (parse_count("max-sessions", optarg, 10000000, &v) < 0)
			return -1;
		cfg->max_sessions = (uint32_t)v;
		return 0;
	case OPT_IDLE_TIMEOUT: return parse_timeout("idle-timeout", optarg, &cfg->idle_timeout_us);
	case OPT_TOKEN:
		cfg->token = optarg;
		return check_token(optarg, "--token");
	case OPT_TOKEN_FILE: {
		static char token[PROTO_TOKEN_MAX + 2];
		if (read_token_file(optarg, token, sizeof token) < 0)
			return -1;
		cfg->token = token;
		return 0;
	}
	case OPT_SESSION_TTL:
		if (parse_timeout("session-ttl", optarg, &v) < 0)
			return -1;
		cfg->session_ttl_s = (uint32_t)(v / 1000000u ? v / 1000000u : 1);
		return 0;
	case OPT_WORKERS:
	case OPT_MAX_COOK:
	case OPT_MAX_INLINE_COOK: return parse_cooking_option(opt, cfg);
	case OPT_WARN_STALL: return parse_warn_stall(optarg, &cfg->warn_stall_us);
	case 'h': fputs(usage, stdout); return 1;
	case 'V': printf("baedald %s\n", BAEDAL_VERSION); return 1;
	default:
		fputs("baedald: try --help\n", stderr);
		return -1;
	}
}

/* An empty variable counts as unset: BAEDAL_DB= must not mean "no file". */
static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* A malformed address is a usage error, told before anything is opened:
 * not after the database was made and the other address bound. */
static int check_addresses(const struct server_config *cfg)
{
	struct listen_addr la;
	char err[256];
	if (listen_addr_parse(cfg->listen, &la, err, sizeof err) < 0) {
		fprintf(stderr, "baedald: --listen %s: %s\n", cfg->listen, err);
		return -1;
	}
	if (cfg->http && strcmp(cfg->http, "off") != 0 &&
	    listen_addr_parse(cfg->http, &la, err, sizeof err) < 0) {
		fprintf(stderr, "baedald: --http %s: %s\n", cfg->http, err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server_config cfg = {
		.listen = env_or("BAEDAL_LISTEN", "127.0.0.1:7878"),
		.db_path = env_or("BAEDAL_DB", "baedal.db"),
		.http = env_or("BAEDAL_HTTP", HTTP_DEFAULT),
		.http_is_default = getenv("BAEDAL_HTTP") == NULL || !*getenv("BAEDAL_HTTP"),
		.max_meal_us = 10ull * 60 * 1000000,
		.max_orders = 1000000,
		.max_inflight = 2000000,
		.max_conns = 16384,
		.max_sessions = 65536,
		.session_ttl_s = 600,
		.idle_timeout_us = 5ull * 60 * 1000000,
		.token = env_or("BAEDAL_TOKEN", NULL),
		.max_cook_us = 10ull * 1000000,
		.max_inline_cook_us = 1000000,
		.warn_stall_us = HEALTH_DEFAULT_WARN_STALL_US,
	};
	if (cfg.token && check_token(cfg.token, "BAEDAL_TOKEN") < 0)
		return 2;
	int opt;
	while ((opt = getopt_long(argc, argv, "l:d:hV", options, NULL)) != -1) {
		int rc = parse_option(opt, &cfg);
		if (rc != 0)
			return rc > 0 ? 0 : 2;
	}
	if (optind < argc) {
		fprintf(stderr, "baedald: unexpected argument '%s'; try --help\n", argv[optind]);
		return 2;
	}
	if (check_run_span(&cfg) < 0 || check_addresses(&cfg) < 0)
		return 2;
	return server_main(&cfg);
}
