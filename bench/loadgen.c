/* A load generator for the benchmark: speaks the baedal protocol on
 * loopback and prints one JSON object with what it measured.
 *
 *   loadgen one HOST:PORT "COMMAND" [RATE]
 *       one connection sends COMMAND (a RUN or GEN), reads (and drops)
 *       every line up to the run's DONE; RATE > 0 caps reading at RATE
 *       bytes/s, a slow watcher the server must not buffer for.
 *   loadgen ends HOST:PORT "COMMAND"
 *       as one, after WATCH ends: the server sends the run's DONE and no
 *       events (a client that wants the totals of a large run).
 *   loadgen many HOST:PORT N "COMMAND" [TIMEOUT_S]
 *       N connections at once; once all have their HELLO each sends
 *       COMMAND at the same moment and waits for its DONE.
 *
 * The run's overhead is read from its DONE line (elapsed - ideal, the
 * server's own CLOCK_MONOTONIC figures), so the client's scheduling does
 * not count. One thread, epoll: 10,000 sockets cost no threads. */
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define LINE_MAX_LEN 4608    /* the server's longest line (4096) and some */
/* Connects outstanding at once: more overflow the listen backlog and a
 * lost SYN costs a 1 s retransmission. */
#define CONNECTS_IN_FLIGHT 256

enum state { ST_CONNECTING, ST_HELLO, ST_READY, ST_RUNNING, ST_DONE, ST_FAILED };

struct client {
	int fd;
	enum state st;
	size_t len;                 /* bytes buffered in buf */
	int64_t sent_us;            /* when COMMAND went out */
	int64_t ok_us, done_us;     /* when OK and DONE came in */
	int64_t elapsed_us, ideal_us;
	uint64_t events, dropped;
	size_t cap;                 /* of buf */
	char buf[];
};

/* A watcher of a million orders reads 64 KiB at a time, so the reading
 * is not what holds it back; 10,000 idle clients need one line each. */
#define ONE_BUF (64u << 10)

static struct client *client_new(size_t cap)
{
	struct client *c = calloc(1, sizeof *c + cap);
	if (c)
		c->cap = cap;
	return c;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse_addr(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof host)
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* 10,000 sockets need 10,000 descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int64_t field(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* One whole line from the server; 1 when the run is over. */
static int on_line(struct client *c, const char *line)
{
	if (strncmp(line, "EV ", 3) == 0) {
		c->events++;
	} else if (strncmp(line, "HELLO ", 6) == 0) {
		c->st = ST_READY;
	} else if (strncmp(line, "OK run=", 7) == 0) {
		c->ok_us = now_us();
	} else if (strncmp(line, "OK ", 3) == 0) {
		;                           /* WATCH's reply */
	} else if (strncmp(line, "LAGGED ", 7) == 0) {
		int64_t d = field(line, "dropped=");
		if (d > 0)
			c->dropped += (uint64_t)d;     /* each notice counts its own episode */
	} else if (strncmp(line, "DONE ", 5) == 0) {
		c->done_us = now_us();
		c->elapsed_us = field(line, " elapsed=");
		c->ideal_us = field(line, " ideal=");
		c->st = strstr(line, "status=done") ? ST_DONE : ST_FAILED;
		return 1;
	} else {
		fprintf(stderr, "loadgen: %s\n", line);
		c->st = ST_FAILED;
		return 1;
	}
	return 0;
}

/* Reads what is there (at most cap bytes); -1 on EOF or error, 1 when
 * the run is over. */
static int on_readable(struct client *c, size_t cap)
{
	for (;;) {
		size_t room = c->cap - c->len;
		if (room > cap)
			room = cap;
		ssize_t n = read(c->fd, c->buf + c->len, room);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
		cap -= (size_t)n;
		size_t start = 0;
		for (size_t i = c->len - (size_t)n; i < c->len; i++) {
			if (c->buf[i] != '\n')
				continue;
			c->buf[i] = '\0';
			if (on_line(c, c->buf + start))
				return 1;
			start = i + 1;
		}
		if (start == 0 && c->len == c->cap)
			return -1;
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
		if (cap == 0)
			return 0;
	}
}

static int send_line(struct client *c, const char *cmd)
{
	char line[LINE_MAX_LEN];
	int n = snprintf(line, sizeof line, "%s\n", cmd);
	c->sent_us = now_us();
	c->st = ST_RUNNING;
	return write(c->fd, line, (size_t)n) == n ? 0 : -1;
}

static int open_conn(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct(int64_t *v, size_t n, double p)
{
	if (n == 0)
		return -1;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

/* Rate-limited or not, one connection and one run. */
static int cmd_one(const struct sockaddr_in *sa, const char *cmd, long rate, int ends_only)
{
	struct client *c = client_new(ONE_BUF);
	int64_t t0 = now_us();
	if (!c || (c->fd = open_conn(sa)) < 0)
		return perror("loadgen: connect"), 1;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int rc = 0;
	while (c->st != ST_READY && rc == 0 && poll(&pfd, 1, 10000) == 1)
		rc = on_readable(c, c->cap);
	if (c->st != ST_READY || (ends_only && send_line(c, "WATCH ends") < 0) ||
	    send_line(c, cmd) < 0)
		return fprintf(stderr, "loadgen: no HELLO\n"), 1;
	/* A slow watcher reads a tenth of its rate every 100 ms. */
	size_t slice = rate > 0 ? (size_t)(rate / 10) : SIZE_MAX;
	while (rc == 0 && poll(&pfd, 1, 120000) == 1) {
		rc = on_readable(c, slice);
		if (rate > 0)
			usleep(100000);
	}
	int64_t t1 = now_us();
	printf("{\"ok\":%s,\"wall_s\":%.6f,\"ok_s\":%.6f,\"done_s\":%.6f,\"elapsed_us\":%lld,"
	       "\"ideal_us\":%lld,\"events\":%llu,\"dropped\":%llu}\n",
	       c->st == ST_DONE ? "true" : "false", (double)(t1 - t0) / 1e6,
	       c->ok_us ? (double)(c->ok_us - c->sent_us) / 1e6 : -1.0,
	       c->done_us ? (double)(c->done_us - c->sent_us) / 1e6 : -1.0,
	       (long long)c->elapsed_us, (long long)c->ideal_us,
	       (unsigned long long)c->events, (unsigned long long)c->dropped);
	close(c->fd);
	int ok = c->st == ST_DONE;
	free(c);
	return ok ? 0 : 1;
}

struct many {
	struct client **cs;
	int n, ep;
	int next;                   /* next client to connect */
	int pending;                /* connecting, no HELLO yet */
	int ready, over;            /* have their HELLO; run over (or failed) */
};

static void many_fail(struct many *m, struct client *c)
{
	if (c->st == ST_CONNECTING || c->st == ST_HELLO)
		m->pending--;
	if (c->st != ST_DONE && c->st != ST_FAILED)
		m->over++;
	c->st = ST_FAILED;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void many_connect_more(struct many *m, const struct sockaddr_in *sa)
{
	while (m->pending < CONNECTS_IN_FLIGHT && m->next < m->n) {
		struct client *c = m->cs[m->next++];
		c->fd = open_conn(sa);
		c->st = ST_HELLO;
		m->pending++;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (c->fd < 0 || epoll_ctl(m->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			many_fail(m, c);
	}
}

/* Serves readable sockets until cond holds or the deadline passes. */
static void many_poll(struct many *m, const struct sockaddr_in *sa, int64_t deadline,
                      int want_ready)
{
	struct epoll_event evs[512];
	while (now_us() < deadline) {
		if (want_ready ? m->ready + m->over >= m->n : m->over >= m->n)
			return;
		int k = epoll_wait(m->ep, evs, 512, 100);
		for (int i = 0; i < k; i++) {
			struct client *c = evs[i].data.ptr;
			enum state before = c->st;
			int rc = on_readable(c, c->cap);
			if (rc < 0) {
				many_fail(m, c);
				continue;
			}
			if (before == ST_HELLO && c->st != ST_HELLO)
				m->pending--;
			if (before == ST_HELLO && c->st == ST_READY)
				m->ready++;
			if (rc == 1)
				m->over++;
		}
		many_connect_more(m, sa);
	}
}

static int cmd_many(const struct sockaddr_in *sa, int n, const char *cmd, double timeout_s)
{
	struct many m = { .cs = calloc((size_t)n, sizeof *m.cs), .n = n,
	                  .ep = epoll_create1(EPOLL_CLOEXEC) };
	for (int i = 0; m.cs && i < n; i++) {
		if (!(m.cs[i] = client_new(LINE_MAX_LEN)))
			return perror("loadgen"), 1;
	}
	if (!m.cs || m.ep < 0)
		return perror("loadgen"), 1;
	raise_fd_limit();
	int64_t t0 = now_us(), deadline = t0 + (int64_t)(timeout_s * 1e6);
	many_connect_more(&m, sa);
	many_poll(&m, sa, deadline, 1);
	int64_t t1 = now_us();
	int connected = m.ready;
	/* Every command leaves within a few milliseconds: the runs overlap. */
	for (int i = 0; i < n; i++) {
		if (m.cs[i]->st == ST_READY && send_line(m.cs[i], cmd) < 0)
			many_fail(&m, m.cs[i]);
	}
	many_poll(&m, sa, deadline, 0);
	int64_t t2 = now_us();
	int64_t *over = malloc((size_t)n * sizeof *over), *rtt = malloc((size_t)n * sizeof *rtt);
	size_t done = 0;
	for (int i = 0; i < n; i++) {
		struct client *c = m.cs[i];
		if (c->st == ST_DONE) {
			over[done] = c->elapsed_us - c->ideal_us;
			rtt[done++] = c->done_us - c->sent_us - c->ideal_us;
		}
		if (c->fd >= 0)
			close(c->fd);
		free(c);
	}
	qsort(over, done, sizeof *over, cmp_i64);
	qsort(rtt, done, sizeof *rtt, cmp_i64);
	printf("{\"conns\":%d,\"connected\":%d,\"completed\":%zu,\"lost\":%zu,\"connect_s\":%.3f,"
	       "\"runs_s\":%.3f,\"over_p50_ms\":%.3f,\"over_p99_ms\":%.3f,\"over_max_ms\":%.3f,"
	       "\"rtt_p50_ms\":%.3f,\"rtt_p99_ms\":%.3f,\"rtt_max_ms\":%.3f}\n",
	       n, connected, done, (size_t)n - done, (double)(t1 - t0) / 1e6,
	       (double)(t2 - t1) / 1e6, pct(over, done, 0.5), pct(over, done, 0.99),
	       pct(over, done, 1.0), pct(rtt, done, 0.5), pct(rtt, done, 0.99), pct(rtt, done, 1.0));
	int ok = done == (size_t)n;
	free(over);
	free(rtt);
	free(m.cs);
	close(m.ep);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	if (argc >= 4 && strcmp(argv[1], "one") == 0 && parse_addr(argv[2], &sa) == 0)
		return cmd_one(&sa, argv[3], argc > 4 ? atol(argv[4]) : 0, 0);
	if (argc == 4 && strcmp(argv[1], "ends") == 0 && parse_addr(argv[2], &sa) == 0)
		return cmd_one(&sa, argv[3], 0, 1);
	if (argc >= 5 && strcmp(argv[1], "many") == 0 && parse_addr(argv[2], &sa) == 0)
		return cmd_many(&sa, atoi(argv[3]), argv[4], argc > 5 ? atof(argv[5]) : 60.0);
	fputs("usage: loadgen one HOST:PORT COMMAND [RATE_BYTES_PER_S]\n"
	      "       loadgen ends HOST:PORT COMMAND\n"
	      "       loadgen many HOST:PORT N COMMAND [TIMEOUT_S]\n", stderr);
	return 2;
}
