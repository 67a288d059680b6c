# baedal: the server (baedald), the client (baedal) and their tests.
# `make` builds, `make demo` runs the lesson, `make test` runs the suite.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(DESTDIR)$(PREFIX)/bin
MANDIR   = $(DESTDIR)$(PREFIX)/share/man
UNITDIR  = $(DESTDIR)$(PREFIX)/lib/systemd/system
COMPDIR  = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
DOCDIR   = $(DESTDIR)$(PREFIX)/share/doc/baedal
VERSION  = 1.0.0

CC      ?= cc
BUILD   ?= build
# CI builds with -Werror; a user's newer compiler should not fail the build.
WERROR  := $(if $(CI),-Werror,)
PKGS     = libevent sqlite3
# CFLAGS is the user's (optimisation, debug info); what the code needs is
# added with override, so that no `make CFLAGS=...` can drop the standard,
# the warnings or the sanitizers.
CFLAGS  ?= -O2 -g
override CPPFLAGS += -D_GNU_SOURCE -DBAEDAL_VERSION='"$(VERSION)"' -I.
override CFLAGS   += -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 $(WERROR) \
                     $(SANITIZE)
override LDFLAGS  += $(SANITIZE)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# Debian packages the build, the demo and the tests need.
DEPS_PKGS = gcc make pkg-config libevent-dev libsqlite3-dev libcmocka-dev sqlite3 tmux mandoc

COMMON_SRC = $(sort $(wildcard common/*.c))
SERVER_SRC = $(filter-out server/main.c,$(sort $(wildcard server/*.c)))
CLIENT_SRC = $(filter-out client/main.c,$(sort $(wildcard client/*.c)))
UNIT_SRC   = $(sort $(wildcard tests/test_*.c))
SCHEMA     = $(sort $(wildcard schema/*.sql))
WEB        = $(sort $(wildcard server/web/*.html server/web/*.css server/web/*.js))

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/schema_sql.o $(BUILD)/web_assets.o
CLIENT_OBJ = $(CLIENT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   = $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_SUPPORT_OBJ = $(BUILD)/tests/support.o $(BUILD)/tests/support_http.o

.PHONY: all deps demo test asan valgrind install uninstall clean

all: $(BUILD)/baedald $(BUILD)/baedal

$(BUILD)/baedald: $(BUILD)/server/main.o $(SERVER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/baedal: $(BUILD)/client/main.o $(CLIENT_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

$(BUILD)/%.o: %.c $(wildcard */*.h) | $(BUILD)/common $(BUILD)/server $(BUILD)/client $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -c -o $@ $<

# The migrations are compiled into the server, so it needs no files at run time.
$(BUILD)/schema_sql.c: $(SCHEMA) server/embed_schema.sh | $(BUILD)
	sh server/embed_schema.sh $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(BUILD)/schema_sql.o: $(BUILD)/schema_sql.c server/migrations.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# So is the web page: its HTML, CSS and JavaScript.
$(BUILD)/web_assets.c: $(WEB) server/web/embed_web.sh | $(BUILD)
	sh server/web/embed_web.sh $(WEB) > $@.tmp && mv $@.tmp $@

$(BUILD)/web_assets.o: $(BUILD)/web_assets.c server/http_page.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_SUPPORT_OBJ) $(SERVER_OBJ) $(CLIENT_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(PKG_LIBS) -lm

# The run coroutines' tests share one fake clock, timers and pool.
$(BUILD)/tests/test_run $(BUILD)/tests/test_riders: $(BUILD)/tests/fake_run.o

# This test fails our objects' allocations one by one (libevent's and
# sqlite's, in shared libraries, are left alone).
$(BUILD)/tests/test_alloc_fail: LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

$(BUILD) $(BUILD)/common $(BUILD)/server $(BUILD)/client $(BUILD)/tests:
	mkdir -p $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Test objects are kept: the next make test need not compile them again.
.SECONDARY:

# Installs what is missing: with apt-get as root, else prints the command.
deps:
	@sh tools/need_packages.sh baedal $(DEPS_PKGS)

# demo and test build quietly: one line, and the compiler's output in full
# only if the build fails. V=1 shows every command.
define quiet_build
	@mkdir -p $(BUILD)
	@if [ -n "$(V)" ]; then $(MAKE) --no-print-directory $(1); else \
	  echo "building baedal..."; \
	  $(MAKE) --no-print-directory $(1) >$(BUILD)/build.log 2>&1 || \
	  { cat $(BUILD)/build.log; echo "the build failed (log: $(BUILD)/build.log)"; exit 1; }; \
	fi
endef

# The lesson live: A 3 s, B 3 s, C 4 s, sync and async side by side.
demo: deps
	$(call quiet_build,all)
	@sh tests/demo.sh $(BUILD) baedal.db

test: deps
	$(call quiet_build,all $(UNIT_BIN))
	@sh tests/run.sh $(BUILD)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer;
# it fails first if any object of the project was built without them.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all" all \
	  $(UNIT_SRC:tests/%.c=build-asan/tests/%)
	@sh tests/check_instrumented.sh build-asan
	@BAEDAL_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  sh tests/run.sh build-asan

# The suite with every server and client process under valgrind. Its
# default lock between threads is unfair: a cook spinning on a worker could
# keep the loop thread waiting for seconds; --fair-sched=yes takes turns.
valgrind: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@BAEDAL_WRAP="valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	  sh tests/run.sh $(BUILD)

# The binaries, their man pages, the systemd unit (its ExecStart pointing
# at $(PREFIX)/bin, not at DESTDIR), the bash completion and an example
# environment file for the unit. uninstall removes exactly these.
install: all
	install -d $(BINDIR) $(MANDIR)/man1 $(MANDIR)/man8 $(UNITDIR) $(COMPDIR) $(DOCDIR)
	install -m 755 $(BUILD)/baedald $(BUILD)/baedal $(BINDIR)/
	install -m 644 docs/man/baedal.1 $(MANDIR)/man1/
	install -m 644 docs/man/baedald.8 $(MANDIR)/man8/
	sed 's|@BINDIR@|$(PREFIX)/bin|' contrib/systemd/baedald.service.in >$(UNITDIR)/baedald.service
	chmod 644 $(UNITDIR)/baedald.service
	install -m 644 contrib/completion/baedal.bash $(COMPDIR)/baedal
	install -m 644 contrib/systemd/baedald.env $(DOCDIR)/

uninstall:
	rm -f $(BINDIR)/baedald $(BINDIR)/baedal $(MANDIR)/man1/baedal.1 $(MANDIR)/man8/baedald.8 \
	  $(UNITDIR)/baedald.service $(COMPDIR)/baedal $(DOCDIR)/baedald.env
	if [ -d $(DOCDIR) ]; then rmdir $(DOCDIR); fi

clean:
	rm -rf build build-asan build-fuzz build-bench

# Optional parts keep their targets beside their files.
include $(sort $(wildcard docker/*.mk bench/*.mk tests/*.mk tests/fuzz/*.mk))
