# The benchmark: baedal beside Python asyncio, Node and Go (bench/README.md).
# `make bench` (about 15 minutes) and `make bench-quick` (a smoke run, < 2 minutes).

BENCH_BIN = $(BUILD)/bench/loadgen $(BUILD)/bench/peer-go $(BUILD)/bench/nohealth/baedald
# command:Debian package, for what the suite runs besides the build's own deps.
BENCH_TOOLS = go:golang-go gnuplot:gnuplot-nox /usr/bin/time:time node:nodejs python3:python3

.PHONY: bench bench-quick bench-deps

bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@python3 bench/bench.py --build $(BUILD) --out bench/results/latest.md

bench-quick: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@python3 bench/bench.py --quick --build $(BUILD) --out bench/results/quick.md

# Installs what is missing (a tool: its package): as root, else prints the command.
bench-deps: deps
	@missing=""; for t in $(BENCH_TOOLS); do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; \
	done; \
	sh tools/need_packages.sh "the benchmark" $$missing

$(BUILD)/bench/loadgen: bench/loadgen.c | $(BUILD)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<

# The server with its loop-health measurement compiled out, to measure
# what the measurement costs: the same sources, its own objects.
$(BUILD)/bench/nohealth/baedald: $(SERVER_SRC) server/main.c $(COMMON_SRC) $(SCHEMA) $(WEB) \
		$(wildcard */*.h)
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/bench/nohealth CPPFLAGS=-DBAEDAL_NO_HEALTH $@

# Its own build cache under build/, so a fresh clone needs no writable $$HOME.
$(BUILD)/bench/peer-go: bench/peers/go/main.go | $(BUILD)/bench
	GOCACHE=$(CURDIR)/$(BUILD)/bench/gocache go build -o $@ $<

$(BUILD)/bench:
	mkdir -p $@
