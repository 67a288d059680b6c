#include "client/export.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/remote.h"
#include "common/protocol.h"

static const char export_usage[] =
	"usage: baedal export RUN (--svg FILE | --trace FILE) [--http HOST:PORT]\n"
	"                     [--token-file PATH]\n"
	"  --svg FILE      the run's timeline (and its compare group's) as SVG\n"
	"  --trace FILE    the run as Chrome Trace Event JSON, for ui.perfetto.dev\n"
	"  --http          the server's HTTP side (else $BAEDAL_HTTP, else "
	EXPORT_DEFAULT_HTTP ")\n"
	"  FILE - writes to stdout\n"
	"  --help          this help\n";

/* A connection, or -1 with err; a read or write that stalls for the
 * timeout fails rather than hangs. */
static int export_connect(const struct remote_addr *a, char *err, size_t cap)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int rc = getaddrinfo(a->host, a->port, &hints, &res);
	if (rc != 0) {
		snprintf(err, cap, "%s:%s: %s", a->host, a->port, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		struct timeval tv = { .tv_sec = 60 };
		if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
		                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
		                connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)) {
			snprintf(err, cap, "cannot connect to %s:%s: %s", a->host, a->port,
			         strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* The reply's status and, past its headers, its body to out (path, to
 * name it in an error); an error's JSON body to err instead. HTTP/1.0: the body runs to the end of the
 * connection, never chunked. */
static int export_fetch(int fd, const char *request, FILE *out, const char *path, char *err,
                        size_t cap)
{
	static char buf[65536];
	size_t have = 0, n;
	ssize_t got;
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		snprintf(err, cap, "send: %s", strerror(errno));
		return -1;
	}
	char *body = NULL;
	while (!body && have < sizeof buf - 1 && (got = recv(fd, buf + have, sizeof buf - 1 - have, 0)) > 0) {
		have += (size_t)got;
		buf[have] = '\0';
		body = strstr(buf, "\r\n\r\n");
	}
	int status = 0;
	if (!body || sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
		snprintf(err, cap, "no HTTP reply from the server (is --http its HTTP port?)");
		return -1;
	}
	body += 4;
	n = have - (size_t)(body - buf);
	if (status != 200) {
		snprintf(err, cap, "HTTP %d: %.*s", status, (int)strcspn(body, "\n"), body);
		return -1;
	}
	do {
		if (n && fwrite(body, 1, n, out) != n) {
			snprintf(err, cap, "%s: %s", path, strerror(errno));
			return -1;
		}
		body = buf;
	} while ((got = recv(fd, buf, sizeof buf, 0)) > 0 && (n = (size_t)got));
	if (got < 0) {
		snprintf(err, cap, "recv: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int export_token(const char *file, char *tok, size_t cap)
{
	const char *env = getenv("BAEDAL_TOKEN");
	tok[0] = '\0';
	if (!file) {
		if (env && *env)
			snprintf(tok, cap, "%s", env);
		return 0;
	}
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "baedal: --token-file %s: %s\n", file, strerror(errno));
		return -1;
	}
	if (!fgets(tok, (int)cap, f))
		tok[0] = '\0';
	fclose(f);
	tok[strcspn(tok, "\r\n")] = '\0';
	return 0;
}

struct export_args {
	const char *run, *file, *what, *http, *token_file;
	int http_flag, server_flag;     /* --http, --server given */
};

/* An option export does not take (those of the other commands among
 * them): why, naming what to use instead. */
static const char *export_refuse(int c, const char *arg)
{
	static char why[256];
	int n = (int)strcspn(arg, "=");

	if (c == 'S')
		snprintf(why, sizeof why, "export does not use --server: it asks the server's HTTP "
		         "side, --http HOST:PORT (else $BAEDAL_HTTP, else " EXPORT_DEFAULT_HTTP ")");
	else if (c == ':')
		snprintf(why, sizeof why, "export's %.*s needs a value", n > 40 ? 40 : n, arg);
	else if (c == 'j' || c == 'p' || c == 'n')
		snprintf(why, sizeof why, "export takes no %.*s: it writes the file given to --svg "
		         "or --trace", n, arg);
	else
		snprintf(why, sizeof why, "export takes no %.*s (see its usage below)", n > 40 ? 40 : n,
		         arg);
	return why;
}

static int export_check(const struct export_args *a, int argc, char **argv, const char **why)
{
	if (!a->file)
		*why = "export needs --svg FILE or --trace FILE";
	else if (optind >= argc)
		*why = "export needs a RUN: a run id, as baedal runs SESSION lists them";
	else if (optind < argc - 1)
		*why = "export takes one RUN";
	else if (strlen(argv[optind]) == 0 || strlen(argv[optind]) > 18 ||
	         strspn(argv[optind], "0123456789") != strlen(argv[optind]))
		*why = "export's RUN is a run id, a number";
	else
		return 0;
	return -1;
}

/* 0, 1 for --help, or -1 with a reason in *why. */
static int export_parse(int argc, char **argv, struct export_args *a, const char **why)
{
	static const struct option opts[] = {
		{ "svg", required_argument, NULL, 's' }, { "trace", required_argument, NULL, 't' },
		{ "http", required_argument, NULL, 'H' }, { "token-file", required_argument, NULL, 'k' },
		{ "server", required_argument, NULL, 'S' }, { "json", no_argument, NULL, 'j' },
		{ "plain", no_argument, NULL, 'p' }, { "no-color", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;
	const char *env = getenv("BAEDAL_HTTP");
	a->http = env && *env ? env : EXPORT_DEFAULT_HTTP;
	*why = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 's' || c == 't') {
			if (a->file) {
				*why = "export writes one file: --svg FILE or --trace FILE, not both";
				return -1;
			}
			a->file = optarg;
			a->what = c == 's' ? "timeline.svg" : "trace.json";
		} else if (c == 'H') {
			a->http = optarg;
			a->http_flag = 1;
		} else if (c == 'S') {
			a->server_flag = 1;     /* a wrapper's (compose's), with --http: let be */
		} else if (c == 'k') {
			a->token_file = optarg;
		} else if (c == 'h') {
			return 1;
		} else {
			*why = export_refuse(c, argv[optind - 1]);
			return -1;
		}
	}
	if (a->server_flag && !a->http_flag) {
		*why = export_refuse('S', "--server");
		return -1;
	}
	if (export_check(a, argc, argv, why) < 0)
		return -1;
	a->run = argv[optind];
	return 0;
}

int export_main(int argc, char **argv)
{
	struct export_args a = { 0 };
	struct remote_addr addr;
	char err[4400], tok[PROTO_TOKEN_MAX + 2], req[1024], tmp[4200];
	const char *why;
	int parsed = export_parse(argc, argv, &a, &why);
	if (parsed > 0) {
		fputs(export_usage, stdout);
		return 0;
	}
	if (parsed < 0) {
		fprintf(stderr, "baedal: %s\n", why);
		fputs(export_usage, stderr);
		return 2;
	}
	if (remote_parse_addr(a.http, &addr, err, sizeof err) < 0) {
		fprintf(stderr, "baedal: --http %s: %s\n", a.http, err);
		return 2;
	}
	if (export_token(a.token_file, tok, sizeof tok) < 0)
		return 2;
	snprintf(req, sizeof req, "GET /api/runs/%s/%s HTTP/1.0\r\nHost: %s:%s\r\n%s%s%s\r\n", a.run,
	         a.what, addr.host, addr.port, tok[0] ? "Authorization: Bearer " : "", tok,
	         tok[0] ? "\r\n" : "");
	int to_stdout = strcmp(a.file, "-") == 0;
	snprintf(tmp, sizeof tmp, "%s.part", a.file);
	int fd = export_connect(&addr, err, sizeof err);
	FILE *out = fd < 0 ? NULL : to_stdout ? stdout : fopen(tmp, "w");
	int rc = -1;
	/* Errors name the user's path, not the ".part" file written first. */
	if (fd >= 0 && !out)
		snprintf(err, sizeof err, "%s: %s", a.file, strerror(errno));
	else if (out)
		rc = export_fetch(fd, req, out, to_stdout ? "stdout" : a.file, err, sizeof err);
	if (out && !to_stdout && fclose(out) != 0 && rc == 0) {
		snprintf(err, sizeof err, "%s: %s", a.file, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	if (!to_stdout && out && (rc < 0 || rename(tmp, a.file) < 0)) {
		if (rc == 0)
			snprintf(err, sizeof err, "%s: %s", a.file, strerror(errno));
		unlink(tmp);
		rc = -1;
	}
	if (rc < 0 && !tok[0] && strncmp(err, "HTTP 401", 8) == 0)
		snprintf(err, sizeof err, "%s needs a token: set BAEDAL_TOKEN or use --token-file PATH",
		         a.http);
	if (rc < 0) {
		fprintf(stderr, "baedal: export run %s: %s\n", a.run, err);
		return 1;
	}
	return 0;
}
