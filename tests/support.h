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
int support_send(struct test_conn *c, const char *text);
/* Reads one line (without '\n') into line; 0, or -1 on EOF/timeout. */
int support_read_line(struct test_conn *c, char *line, size_t cap, int timeout_ms);
/* For callers that poll many connections: one recv without waiting
 * (1 read or nothing yet, 0 EOF, -1 error), and a buffered whole line
 * taken out (0) if there is one (-1). */
int support_recv(struct test_conn *c);
int support_take_line(struct test_conn *c, char *line, size_t cap);
void support_close(struct test_conn *c);

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
