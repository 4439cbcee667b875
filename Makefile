# gitgate — plain Makefile, pkg-config for every library.
#
#   make                 build everything under build/
#   make test            build and run every test; ends with "N passed, N failed"
#   make test SANITIZE=1 the same under AddressSanitizer and UBSan (in build/san/)
#   make test VALGRIND=1 the same with every gitgate program under valgrind memcheck
#   make run             the demo: a repository, the gate, the daemon, a deployment
#   make fuzz            every libFuzzer target for FUZZ_TIME seconds each (clang)
#   make install PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
LIBEXEC  ?= $(PREFIX)/libexec/gitgate
DATADIR  ?= $(PREFIX)/share/gitgate
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system

CC       ?= cc
CFLAGS   ?= -O2 -g
WARNINGS  = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CPPFLAGS += -Iinclude -D_GNU_SOURCE
LDFLAGS  ?=

BUILD    ?= build
ifeq ($(SANITIZE),1)
BUILD    := build/san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

PKGS = libgit2 yaml-0.1 libpcre2-8 openssl jansson libevent sqlite3

# Library flags come from pkg-config once, after scripts/deps.sh made sure the
# packages exist; make re-reads this file after creating it.
CONFIG_MK = build/config.mk
ifeq ($(filter clean distclean format,$(MAKECMDGOALS)),)
-include $(CONFIG_MK)
endif
$(CONFIG_MK): scripts/deps.sh Makefile
	@scripts/deps.sh
	@mkdir -p $(dir $@)
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; } > $@

ALL_CFLAGS  = -std=c11 $(WARNINGS) $(CFLAGS) $(PKG_CFLAGS)
# --as-needed: each program records only the libraries it really uses.
ALL_LDFLAGS = $(LDFLAGS) -Wl,--as-needed
LIBS        = $(PKG_LIBS) -lm

LIB_SRC    := $(wildcard lib/*.c)
DAEMON_SRC := $(filter-out daemon/gitgated.c,$(wildcard daemon/*.c))
CLI_SRC    := $(wildcard cli/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

LIBGG      := $(BUILD)/libgitgate.a
LIBGGD     := $(BUILD)/libgitgated.a

GITGATE    := $(BUILD)/bin/gitgate
GITGATED   := $(BUILD)/bin/gitgated
HOOK_SRC   := $(wildcard hooks/*.c)
HOOKS      := $(HOOK_SRC:hooks/%.c=$(BUILD)/libexec/gitgate/%)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGRAMS   := $(GITGATE) $(HOOKS) $(if $(wildcard daemon/gitgated.c),$(GITGATED))

.SECONDARY:
.PHONY: all test run fuzz install clean format format-check bench
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c $(CONFIG_MK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBGG): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBGGD): $(DAEMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(GITGATE): $(CLI_OBJ) $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(LIBGG) $(LIBS)

$(GITGATED): $(BUILD)/obj/daemon/gitgated.o $(LIBGGD) $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBGGD) $(LIBGG) $(LIBS)

$(BUILD)/libexec/gitgate/%: $(BUILD)/obj/hooks/%.o $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBGG) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBGGD) $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBGGD) $(LIBGG) $(LIBS)

test: all $(UNIT_BIN)
	@BUILD=$(BUILD) VALGRIND=$(VALGRIND) sh tests/run.sh

run: all
	@sh scripts/demo.sh $(BUILD)

bench: all
	@for b in bench/*.sh; do sh $$b || exit 1; done

# libFuzzer targets: clang only, every library source rebuilt with the fuzzer runtime.
FUZZ_TIME ?= 30
FUZZ_CC   ?= clang
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $(PKG_CFLAGS)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(DAEMON_SRC) $(CONFIG_MK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(DAEMON_SRC) $(LIBS)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
		seeds=tests/fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
		echo "fuzz: $$n for $(FUZZ_TIME)s"; \
		$$f -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
			-print_final_stats=0 build/fuzz/corpus-$$n $$seeds 2>build/fuzz/$$n.log \
			|| { tail -50 build/fuzz/$$n.log; exit 1; }; \
	done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXEC) \
		$(DESTDIR)$(DATADIR)/packs $(DESTDIR)$(DATADIR)/examples \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(GITGATE) $(DESTDIR)$(BINDIR)/gitgate
	$(if $(wildcard daemon/gitgated.c),install -m 755 $(GITGATED) $(DESTDIR)$(SBINDIR)/gitgated)
	$(if $(HOOKS),install -m 755 $(HOOKS) $(DESTDIR)$(LIBEXEC)/)
	for f in packs/*.yaml; do [ -e "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DATADIR)/packs/; done; true
	for f in examples/*; do [ -f "$$f" ] && install -m 644 "$$f" $(DESTDIR)$(DATADIR)/examples/; done; true
	for f in systemd/*.service systemd/*.socket; do [ -e "$$f" ] && \
		sed 's|@SBINDIR@|$(SBINDIR)|g' "$$f" > $(DESTDIR)$(UNITDIR)/$$(basename $$f); done; true
	for s in 1 5 8; do for f in man/*.$$s; do [ -e "$$f" ] && \
		install -m 644 "$$f" $(DESTDIR)$(MANDIR)/man$$s/; done; done; true

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
