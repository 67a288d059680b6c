# libFuzzer targets for the protocol's parsers (tests/fuzz/): `make fuzz`
# runs each for FUZZ_SECONDS (60), `make fuzz-quick` for 10. Built with
# clang under AddressSanitizer and UndefinedBehaviorSanitizer into
# FUZZ_BUILD; the corpus grows there, crashing inputs land there too.

FUZZ_CC       ?= clang
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS   = fuzz_command fuzz_server_line fuzz_duration
# libFuzzer's runtime comes with clang's compiler-rt on Debian.
FUZZ_DEPS_PKGS = clang libclang-rt-14-dev
FUZZ_SANITIZE  = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS    = -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wshadow \
                 -Wstrict-prototypes -Wformat=2 $(WERROR)
FUZZ_BIN       = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)

.PHONY: fuzz fuzz-quick fuzz-build fuzz-deps fuzz-corpus

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-quick:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN) fuzz-corpus

# The same check as `deps`, for the fuzzers' packages.
fuzz-deps:
	@$(MAKE) --no-print-directory deps DEPS_PKGS="$(FUZZ_DEPS_PKGS)"

fuzz-corpus:
	@sh tests/fuzz/corpus.sh docs/protocol.md tests/fuzz/seeds $(FUZZ_BUILD)/corpus

# The build directory keeps itself out of git, whatever its name.
$(FUZZ_BUILD)/.gitignore:
	@mkdir -p $(FUZZ_BUILD)
	@echo '*' > $@

# The error codes the doc lists, as C strings, for fuzz_command's check
# that every error the parser gives is documented.
$(FUZZ_BUILD)/fuzz_codes.h: docs/protocol.md | $(FUZZ_BUILD)/.gitignore
	sed -n 's/^| `\([a-z_][a-z_]*\)` |.*/"\1",/p' $< > $@.tmp
	@test -s $@.tmp || { echo "no error codes in $<" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

# Each target with the whole of common/: small enough to build at once.
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/fuzz_codes.h \
                      $(COMMON_SRC) $(wildcard common/*.h)
	$(FUZZ_CC) $(CPPFLAGS) -I$(FUZZ_BUILD) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -o $@ $< $(COMMON_SRC)
