#include "tests/support.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "client/strbuf.h"
#include "client/view.h"

int support_tmpdir(char *buf, size_t cap)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(buf, cap, "%s/baedal-test.XXXXXX", base) >= (int)cap)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

void support_rmtree(const char *dir)
{
	char cmd[4200];
	/* The directory came from mkdtemp, so it has no quote in it. */
	if (strchr(dir, '\'') || snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) >= (int)sizeof cmd)
		return;
	if (system(cmd) != 0)
		fprintf(stderr, "support_rmtree: could not remove %s\n", dir);
}

const char *support_build_dir(void)
{
	const char *b = getenv("BAEDAL_BUILD");
	return b && *b ? b : "build";
}

long long support_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Builds argv: the words of $BAEDAL_WRAP, the program, then args. */
static int build_argv(char **argv, int cap, char *wrap_copy, const char *prog, va_list ap)
{
	int n = 0;
	const char *wrap = getenv("BAEDAL_WRAP");
	if (wrap && *wrap) {
		snprintf(wrap_copy, 1024, "%s", wrap);
		for (char *tok = strtok(wrap_copy, " "); tok && n < cap - 2; tok = strtok(NULL, " "))
			argv[n++] = tok;
	}
	argv[n++] = (char *)prog;
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < cap - 1)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	return n;
}

static int next_nofile;

void support_set_nofile(int n)
{
	next_nofile = n;
}

/* In the child: die with the parent, redirect fd to path, exec argv. */
static void child_exec(char **argv, const char *out_path, const char *err_path)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (next_nofile > 0) {
		struct rlimit rl = { .rlim_cur = (rlim_t)next_nofile, .rlim_max = (rlim_t)next_nofile };
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int in = open("/dev/null", O_RDONLY);
	if (out < 0 || err < 0 || in < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	execvp(argv[0], argv);
	_exit(127);
}

static int wait_exit(pid_t pid, int timeout_ms, int *status)
{
	long long end = support_now_ms() + timeout_ms;
	while (support_now_ms() < end) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		usleep(5000);
	}
	return -1;
}

/* Waits for "listening on HOST:PORT" in the server's log; the port. */
static int wait_listening(struct test_server *srv, int timeout_ms)
{
	long long end = support_now_ms() + timeout_ms;
	while (support_now_ms() < end) {
		char *log = support_read_file(srv->log);
		const char *at = log ? strstr(log, "listening on ") : NULL;
		const char *colon = at ? strchr(at, '\n') : NULL;
		if (colon) {
			while (colon > at && *colon != ':')
				colon--;
			srv->port = atoi(colon + 1);
			free(log);
			return srv->port > 0 ? 0 : -1;
		}
		free(log);
		if (waitpid(srv->pid, &srv->status, WNOHANG) == srv->pid) {
			srv->pid = 0;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

int support_server_start(struct test_server *srv, const char *db, ...)
{
	char prog[4200], wrap[1024];
	char *argv[64];
	va_list ap;

	char log[sizeof srv->log];
	snprintf(log, sizeof log, "%s", srv->log);
	memset(srv, 0, sizeof *srv);
	snprintf(srv->db, sizeof srv->db, "%s", db);
	if (log[0])
		memcpy(srv->log, log, sizeof log);
	else
		snprintf(srv->log, sizeof srv->log, "%s.log", db);
	snprintf(prog, sizeof prog, "%s/baedald", support_build_dir());
	va_start(ap, db);
	int n = build_argv(argv, 60, wrap, prog, ap);
	va_end(ap);
	/* The listen and db flags go last so a test's extra flags come first. */
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--db";
	argv[n++] = srv->db;
	argv[n] = NULL;
	/* A restart must not read the last server's "listening on" line. */
	unlink(srv->log);
	srv->pid = fork();
	if (srv->pid < 0)
		return -1;
	if (srv->pid == 0)
		child_exec(argv, NULL, srv->log);
	next_nofile = 0;
	/* valgrind starts slowly */
	if (wait_listening(srv, getenv("BAEDAL_WRAP") ? 60000 : 10000) < 0) {
		support_server_kill(srv);
		return -1;
	}
	return 0;
}

int support_server_stop(struct test_server *srv, int timeout_ms)
{
	int status;
	if (srv->pid <= 0)
		return -1;
	kill(srv->pid, SIGTERM);
	if (wait_exit(srv->pid, timeout_ms, &status) < 0) {
		support_server_kill(srv);
		return -1;
	}
	srv->pid = 0;
	return status;
}

void support_server_kill(struct test_server *srv)
{
	if (srv->pid > 0) {
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, NULL, 0);
	}
	srv->pid = 0;
}

int support_client_run(const struct test_server *srv, const char *out_path,
                       const char *err_path, int timeout_ms, ...)
{
	char prog[4200], wrap[1024], addr[64];
	char *argv[256];
	va_list ap;

	snprintf(prog, sizeof prog, "%s/baedal", support_build_dir());
	snprintf(addr, sizeof addr, "127.0.0.1:%d", srv->port);
	va_start(ap, timeout_ms);
	int n = build_argv(argv, 250, wrap, prog, ap);
	va_end(ap);
	/* --server right after the program name, before the command. */
	int at = n;
	while (at > 0 && strcmp(argv[at - 1], prog) != 0)
		at--;
	memmove(&argv[at + 2], &argv[at], (size_t)(n - at + 1) * sizeof *argv);
	argv[at] = "--server";
	argv[at + 1] = addr;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child_exec(argv, out_path, err_path);
	int status;
	if (wait_exit(pid, timeout_ms, &status) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int connect_with(struct test_conn *c, int port, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (rcvbuf)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

int support_connect(struct test_conn *c, int port)
{
	return connect_with(c, port, 0);
}

int support_connect_small(struct test_conn *c, int port)
{
	return connect_with(c, port, 2048);
}

int support_send(struct test_conn *c, const char *text)
{
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int support_see_stalls;

int support_take_line(struct test_conn *c, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			return -1;
		size_t n = (size_t)(nl - c->buf);
		size_t copy = n < cap - 1 ? n : cap - 1;
		memcpy(line, c->buf, copy);
		line[copy] = '\0';
		memmove(c->buf, nl + 1, c->len - n - 1);
		c->len -= n + 1;
		if (support_see_stalls || strncmp(line, "STALL ", 6) != 0)
			return 0;
	}
}

int support_recv(struct test_conn *c)
{
	if (c->len == sizeof c->buf) {
		errno = ENOBUFS;
		return -1;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	c->len += (size_t)n;
	return n > 0 ? 1 : 0;
}

int support_read_line(struct test_conn *c, char *line, size_t cap, int timeout_ms)
{
	long long end = support_now_ms() + timeout_ms;
	while (support_take_line(c, line, cap) < 0) {
		long long left = end - support_now_ms();
		if (left <= 0)
			return SUPPORT_TIMEOUT;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		int got = support_recv(c);
		if (got == 0)
			return SUPPORT_CLOSED;
		if (got < 0)
			return errno == ECONNRESET ? SUPPORT_CLOSED : SUPPORT_ERROR;
	}
	return SUPPORT_LINE;
}

const char *support_read_outcome(int rc)
{
	switch (rc) {
	case SUPPORT_LINE:
		return "a line";
	case SUPPORT_CLOSED:
		return "the connection closed";
	case SUPPORT_TIMEOUT:
		return "no line (the connection stayed open)";
	default:
		return "a socket error or an overlong line";
	}
}

void support_expect_prefix(struct test_conn *c, const char *prefix, char *line, size_t cap)
{
	char own[4200];
	if (!line) {
		line = own;
		cap = sizeof own;
	}
	int rc = support_read_line(c, line, cap, SUPPORT_WAIT_MS);
	if (rc != SUPPORT_LINE)
		fail_msg("expected a line starting '%s', got %s", prefix, support_read_outcome(rc));
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		fail_msg("expected a line starting '%s', got '%s'", prefix, line);
}

void support_expect_grouped(const char *got, const char *want)
{
	char group[32], bare[8192];
	const char *g = strstr(got, " group=");
	size_t len = 0, n = 0;
	if (!g || sscanf(g, " group=%31[^\n]", group) != 1 || strlen(group) != 12 ||
	    strspn(group, "0123456789abcdef") != 12)
		fail_msg("expected lines ending with group=<12 hex digits>, got '%s'", got);
	char tail[48];
	snprintf(tail, sizeof tail, " group=%s\n", group);
	for (const char *p = got; *p; p += n + 1) {
		n = strcspn(p, "\n");
		size_t t = strlen(tail) - 1;
		if (p[n] != '\n' || n < t || memcmp(p + n - t, tail, t) != 0 || len + n >= sizeof bare)
			fail_msg("a line of '%s' does not end with group=%s", got, group);
		memcpy(bare + len, p, n - t);
		len += n - t;
		bare[len++] = '\n';
	}
	bare[len] = '\0';
	assert_string_equal(bare, want);
}

void support_expect_line(struct test_conn *c, const char *want)
{
	char line[4200];
	int rc = support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS);
	if (rc != SUPPORT_LINE)
		fail_msg("expected '%s', got %s", want, support_read_outcome(rc));
	if (strcmp(line, want) != 0)
		fail_msg("expected '%s', got '%s'", want, line);
}

void support_expect_closed(struct test_conn *c)
{
	char line[4200];
	int rc = support_read_line(c, line, sizeof line, SUPPORT_WAIT_MS);
	if (rc == SUPPORT_LINE)
		fail_msg("expected the server to close the connection, got '%s'", line);
	if (rc != SUPPORT_CLOSED)
		fail_msg("expected the server to close the connection, got %s",
		         support_read_outcome(rc));
	if (c->len != 0)
		fail_msg("the connection closed after %zu bytes of a partial line", c->len);
}

void support_connect_greeted(struct test_conn *c, int port, char *hello, size_t cap)
{
	if (support_connect(c, port) < 0)
		fail_msg("cannot connect to port %d", port);
	support_expect_prefix(c, "HELLO ", hello, cap);
}

void support_close(struct test_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

char *support_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

long long support_sql_int(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else {
		fprintf(stderr, "support_sql_int: %s: %s\n", sql, sqlite3_errmsg(h));
	}
	sqlite3_close(h);
	return v;
}

long long support_timing_violations(const char *db)
{
	long long early = support_sql_int(db, "select count(*) from order_timeline "
	                                      "where late_ms < 0");
	long long fast = support_sql_int(db, "select count(*) from run_summary "
	                                     "where status = 'done' and elapsed_ms < ideal_ms");
	return early < 0 || fast < 0 ? -1 : early + fast;
}

/* The number after "KEY:" in /proc/PID/FILE (kB for sizes); -1 if absent. */
static long proc_field(const struct test_server *srv, const char *file, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	snprintf(path, sizeof path, "/proc/%d/%s", (int)srv->pid, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = atol(line + kl + 1);
	}
	fclose(f);
	return v;
}

long support_server_rss_kb(const struct test_server *srv)
{
	return proc_field(srv, "status", "VmRSS");
}

void support_server_memory_detail(const struct test_server *srv, char *buf, size_t len)
{
	snprintf(buf, len, "RssAnon %ld, RssFile %ld, RssShmem %ld, Threads %ld, AnonHugePages %ld",
	         proc_field(srv, "status", "RssAnon"), proc_field(srv, "status", "RssFile"),
	         proc_field(srv, "status", "RssShmem"), proc_field(srv, "status", "Threads"),
	         proc_field(srv, "smaps_rollup", "AnonHugePages"));
}

int support_rss_is_meaningful(void)
{
	return !getenv("BAEDAL_SANITIZED") && !getenv("BAEDAL_WRAP");
}

/* utime + stime from /proc/PID/stat, fields 14 and 15 after the name. */
long support_server_cpu_ms(const struct test_server *srv)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)srv->pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

int support_e2e_dir(char *dir, size_t dir_cap, char *db, size_t db_cap)
{
	if (support_tmpdir(dir, dir_cap) < 0)
		return -1;
	int n = snprintf(db, db_cap, "%s/baedal.db", dir);
	return n > 0 && (size_t)n < db_cap ? 0 : -1;
}

int support_e2e_setup(void **state)
{
	struct support_e2e *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	f->c.fd = -1;
	if (support_e2e_dir(f->dir, sizeof f->dir, f->db, sizeof f->db) < 0) {
		free(f);
		return -1;
	}
	snprintf(f->out, sizeof f->out, "%s/out", f->dir);
	snprintf(f->err, sizeof f->err, "%s/err", f->dir);
	*state = f;
	return 0;
}

int support_e2e_setup_started(void **state)
{
	if (support_e2e_setup(state) < 0)
		return -1;
	struct support_e2e *f = *state;
	if (support_server_start(&f->srv, f->db, NULL) < 0) {
		fprintf(stderr, "baedald did not start\n");
		support_rmtree(f->dir);
		free(f);
		*state = NULL;
		return -1;
	}
	return 0;
}

int support_e2e_teardown(void **state)
{
	struct support_e2e *f = *state;
	if (!f)
		return -1;
	support_close(&f->c);
	int rc = support_e2e_end(&f->srv, f->db, f->dir, SUPPORT_WAIT_MS);
	free(f);
	return rc;
}

int support_e2e_end(struct test_server *srv, const char *db, const char *dir, int timeout_ms)
{
	int rc = 0;
	if (srv->pid > 0) {
		int status = support_server_stop(srv, timeout_ms);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *log = support_read_file(srv->log);
			fprintf(stderr, "baedald did not exit 0 (status %d); its log:\n%s\n", status,
			        log ? log : "(none)");
			free(log);
			rc = -1;
		}
	}
	/* Whatever the test did, no meal may have ended early. A database
	 * that exists must be readable for that. */
	long long violations = support_timing_violations(db);
	if (violations > 0 || (violations < 0 && access(db, F_OK) == 0)) {
		fprintf(stderr, "timing truth violated (or unreadable) in %s\n", db);
		rc = -1;
	}
	support_rmtree(dir);
	return rc;
}

int support_render_view(const struct model *m, int64_t now_us, const struct view_opts *o,
                        char *out, size_t cap)
{
	struct strbuf b;
	size_t n = 0;

	strbuf_init(&b);
	int lines = view_render(m, now_us, o, &b);
	for (size_t i = 0; i < b.len && n + 1 < cap; i++) {
		if (strncmp(b.data + i, "\033[K", 3) == 0)
			i += 2;
		else
			out[n++] = b.data[i];
	}
	out[n] = '\0';
	int failed = b.failed;
	strbuf_free(&b);
	return failed ? -1 : lines;
}

void support_read_session_id(struct test_conn *c, char id[33])
{
	char line[512];
	support_expect_prefix(c, "HELLO proto=baedal/1 session=", line, sizeof line);
	memcpy(id, line + strlen("HELLO proto=baedal/1 session="), 32);
	id[32] = '\0';
}

unsigned long long support_field_u64(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=", key);
	const char *at = strstr(line, pat);
	if (!at)
		fail_msg("no %s= in '%s'", key, line);
	return strtoull(at + strlen(pat), NULL, 10);
}

unsigned long long support_submit_run(struct test_conn *c, const char *line)
{
	char ok[256];
	assert_int_equal(support_send(c, line), 0);
	support_expect_prefix(c, "OK run=", ok, sizeof ok);
	return support_field_u64(ok, "run");
}
