/* Helpers shared by the test programs: temporary directories and, for the
 * end-to-end tests, a real baedald started on port 0 and stopped by PID. */
#ifndef BAEDAL_TEST_SUPPORT_H
#define BAEDAL_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Makes a fresh directory under $TMPDIR (or /tmp); returns 0 or -1. */
int support_tmpdir(char *buf, size_t cap);
/* Removes a directory made by support_tmpdir and everything in it. */
void support_rmtree(const char *dir);

/* The build directory holding baedald and baedal ($BAEDAL_BUILD, else
 * "build"); $BAEDAL_WRAP, if set, is a command put before each of them
 * (valgrind ...). */
const char *support_build_dir(void);

struct test_server {
	pid_t pid;
	int port;
	int status;         /* as from waitpid, when it exited before listening */
	char db[4200];
	char log[4200];     /* its stderr: "<db>.log" unless set before starting */
};

/* Starts baedald on 127.0.0.1:0 with the database at db (extra flags may
 * follow, NULL-terminated) and waits for its "listening on" line. The
 * server dies with the test process if that crashes. 0 or -1. */
int support_server_start(struct test_server *srv, const char *db, ...);
/* The next server started gets this descriptor limit (soft and hard);
 * 0: the inherited one. */
void support_set_nofile(int n);
/* The server's resident memory now (VmRSS) and CPU time used so far. */
long support_server_rss_kb(const struct test_server *srv);
long support_server_cpu_ms(const struct test_server *srv);
/* What the resident memory is made of (anonymous, of which huge pages,
 * file, shared) and the thread count, for a message beside a figure. */
void support_server_memory_detail(const struct test_server *srv, char *buf, size_t len);
/* Whether memory figures mean anything: not under ASan (its quarantine
 * and shadow) nor valgrind, which check leaks instead. */
int support_rss_is_meaningful(void);

/* SIGTERM, then waits up to timeout_ms; SIGKILL after that. Returns the
 * exit status as from waitpid, or -1 if it had to be killed. */
int support_server_stop(struct test_server *srv, int timeout_ms);
/* SIGKILL and reap. */
void support_server_kill(struct test_server *srv);

/* Runs build/baedal with args (NULL-terminated) against srv, stdout to
 * out_path, stderr to err_path (either may be NULL: /dev/null); returns
 * the exit code, or -1 if it did not end within timeout_ms (then killed). */
int support_client_run(const struct test_server *srv, const char *out_path,
                       const char *err_path, int timeout_ms, ...);

/* A raw protocol connection. */
struct test_conn {
	int fd;
	char buf[65536];
	size_t len;
};
int support_connect(struct test_conn *c, int port);
/* The same with a small receive buffer set before connecting: the window
 * stays small, so what a client that does not read leaves unread stays
 * in the server, not in the kernel's buffers. */
int support_connect_small(struct test_conn *c, int port);
int support_send(struct test_conn *c, const char *text);

/* What support_read_line saw. A test that expects the server to close a
 * connection must get SUPPORT_CLOSED, never merely no line. */
enum {
	SUPPORT_LINE = 0,      /* a whole line */
	SUPPORT_CLOSED = -1,   /* EOF or a reset: the server closed it */
	SUPPORT_TIMEOUT = -2,  /* open, and no whole line within the time */
	SUPPORT_ERROR = -3,    /* another socket error, or a line longer than the buffer */
};
/* How long a test waits for what must come: generous, for valgrind on a
 * busy two-core machine. */
#define SUPPORT_WAIT_MS 60000
/* Reads one line (without '\n') into line: one of the codes above. */
int support_read_line(struct test_conn *c, char *line, size_t cap, int timeout_ms);
/* Those codes in words, for a failure message. */
const char *support_read_outcome(int rc);
/* For callers that poll many connections: one recv without waiting
 * (1 read or nothing yet, 0 EOF, -1 error), and a buffered whole line
 * taken out (0) if there is one (-1). */
int support_recv(struct test_conn *c);
int support_take_line(struct test_conn *c, char *line, size_t cap);
/* A STALL notice may come between any two lines on a busy machine (a
 * callback held the loop past --warn-stall); both functions above skip
 * them, as a client may, unless this is set. */
extern int support_see_stalls;
void support_close(struct test_conn *c);

/* Assertions for cmocka tests, each waiting up to SUPPORT_WAIT_MS and
 * failing the test otherwise. The next line is exactly want: */
void support_expect_line(struct test_conn *c, const char *want);
/* The next line starts with prefix; it is copied to line if line is not
 * NULL. */
void support_expect_prefix(struct test_conn *c, const char *prefix, char *line, size_t cap);
/* The server closes the connection: EOF (or a reset), with no line
 * before it. A connection that stays open fails. */
void support_expect_closed(struct test_conn *c);
/* Connects and reads the server's HELLO line, copied to hello if not
 * NULL. */
void support_connect_greeted(struct test_conn *c, int port, char *hello, size_t cap);

/* compare's RUN lines: each of got ends with the same " group=<12 hex
 * digits>", and without it got is want. Fails the test otherwise. */
void support_expect_grouped(const char *got, const char *want);

/* Reads the server's HELLO line; its session id (32 hex digits) to id. */
void support_read_session_id(struct test_conn *c, char id[33]);
/* The number after " key=" in line; fails the test if there is none. */
unsigned long long support_field_u64(const char *line, const char *key);
/* Sends a RUN or GEN line and reads its "OK run=N": N. */
unsigned long long support_submit_run(struct test_conn *c, const char *line);

/* CLOCK_MONOTONIC in milliseconds. */
long long support_now_ms(void);

/* Reads a whole file into a malloc'd, NUL-terminated string (caller frees). */
char *support_read_file(const char *path);
/* The first integer a query returns from the SQLite file, or -1 on error. */
long long support_sql_int(const char *db, const char *sql);

struct model;
struct view_opts;
/* The live view's frame of m at now_us, without its "erase to end of
 * line" sequences, NUL-terminated in out (cut at cap). Returns the
 * frame's line count, or -1 if rendering failed. */
int support_render_view(const struct model *m, int64_t now_us, const struct view_opts *o,
                        char *out, size_t cap);

/* The state of an end-to-end test: a temp directory, its database and
 * two file paths in it ("<dir>/out", "<dir>/err"), a server (not
 * started by support_e2e_setup) and a connection (fd -1 until used). */
struct support_e2e {
	char dir[4096];
	char db[4200];
	char out[4200];
	char err[4200];
	struct test_server srv;
	struct test_conn c;
};
/* cmocka setup: a new struct support_e2e in *state; 0 or -1. */
int support_e2e_setup(void **state);
/* The same, with a server started with no extra flags. */
int support_e2e_setup_started(void **state);
/* A cmocka test entry with that setup (or the one with a server started)
 * and teardown. */
#define SUPPORT_E2E_TEST(t) cmocka_unit_test_setup_teardown(t, support_e2e_setup, \
                                                            support_e2e_teardown)
#define SUPPORT_E2E_TEST_STARTED(t) \
	cmocka_unit_test_setup_teardown(t, support_e2e_setup_started, support_e2e_teardown)
/* cmocka teardown: closes the connection, then support_e2e_end (a server
 * still running must exit 0; no meal ended early), frees the state. */
int support_e2e_teardown(void **state);

/* A fresh directory for an end-to-end test, and "<dir>/baedal.db" in
 * it. 0 or -1. */
int support_e2e_dir(char *dir, size_t dir_cap, char *db, size_t db_cap);
/* The end of an end-to-end test: a server still running is stopped and
 * must exit 0 (its log is printed if not; under valgrind a leak or a bad
 * read fails it), no meal in db may have ended early, and dir goes.
 * 0, or -1 if any of that failed. */
int support_e2e_end(struct test_server *srv, const char *db, const char *dir, int timeout_ms);

/* Timing truth for every run in the database: orders whose meal ended
 * early (eaten - delivered < meal) plus finished runs faster than their
 * ideal. 0 when all is well; -1 if the database cannot be read. */
long long support_timing_violations(const char *db);

#endif
