# gitgate — plain Makefile, pkg-config for every library.
#
#   make                 build everything under build/
#   make test            build and run every test; ends with "N passed, N failed"
#   make test SANITIZE=1 the same under AddressSanitizer and UBSan (in build/san/)
#   make test VALGRIND=1 the same with every gitgate program under valgrind memcheck
#   make run             the demo: a repository, the gate, the daemon, a deployment
#   make fuzz            every libFuzzer target for FUZZ_TIME seconds each (clang)
#   make install PREFIX=/usr/local DESTDIR=

# The config.mk rule below comes first; `make` alone still means `make all`.
.DEFAULT_GOAL := all

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
LIBEXEC  ?= $(PREFIX)/libexec/gitgate
DATADIR  ?= $(PREFIX)/share/gitgate
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

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

PKGS = libgit2 yaml-0.1 libpcre2-8 openssl jansson libevent libevent_openssl sqlite3 gpgme
# libpq: its headers at build time; gitgated loads the library only for a
# PostgreSQL store (daemon/pq.c). Only the tests that call it link it.
PQ_PKG = libpq

# Library flags come from pkg-config once, after scripts/deps.sh made sure the
# packages exist; make re-reads this file after creating it.
CONFIG_MK = build/config.mk
ifeq ($(filter clean distclean format,$(MAKECMDGOALS)),)
-include $(CONFIG_MK)
endif
$(CONFIG_MK): scripts/deps.sh scripts/hooklibs.sh Makefile
	@scripts/deps.sh
	@mkdir -p $(dir $@)
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS) $(PQ_PKG))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	   echo "PQ_LIBS := $$(pkg-config --libs $(PQ_PKG))"; \
	   echo "HOOK_LIBS := $$(sh scripts/hooklibs.sh)"; } > $@

ALL_CFLAGS  = -std=c11 $(WARNINGS) $(CFLAGS) $(PKG_CFLAGS)
# --as-needed: each program records only the libraries it really uses.
ALL_LDFLAGS = $(LDFLAGS) -Wl,--as-needed
LIBS        = $(PKG_LIBS) -lm -ldl

LIB_SRC    := $(wildcard lib/*.c)
# The built-in rule packs (packs/*.yaml) are compiled into the core library.
PACKS_YAML := $(sort $(wildcard packs/*.yaml))
PACKS_C    := build/gen/packs.c
LIB_SRC    += $(PACKS_C)
# The built-in Kubernetes schemas: the definitions (gzip) compiled into a table
# by scripts/schemagen.c at build time, so the gate never parses them per push.
K8S_DEFS   := data/kubernetes-schema/v1.32.2/_definitions.json.gz
K8S_ENUMS  := data/kubernetes-schema/v1.32.2/enums.txt
K8S_C      := build/gen/k8s_schema.c
LIB_SRC    += $(K8S_C)
SCHEMAGEN  := $(BUILD)/gen/schemagen
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
.PHONY: all test run fuzz install clean format format-check bench docs
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

# The gate runs once per push, so its start-up is most of a small push's time:
# it links the libraries' static archives when they are installed, with
# hooks/static/startup.c (see scripts/hooklibs.sh).
HOOK_SHIM  := $(if $(findstring --wrap=,$(HOOK_LIBS)),$(BUILD)/obj/hooks/static/startup.o)
$(BUILD)/libexec/gitgate/pre-receive: $(BUILD)/obj/hooks/pre-receive.o $(HOOK_SHIM) $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(HOOK_SHIM) $(LIBGG) $(HOOK_LIBS)
# Linked as shared, the hook has no shims to test.
ifeq ($(HOOK_SHIM),)
UNIT_BIN   := $(filter-out $(BUILD)/tests/test_hookstart,$(UNIT_BIN))
endif

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBGGD) $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBGGD) $(LIBGG) $(LIBS) $(PQ_LIBS)

# The hook's start-up shims, in a program linked as the hook is.
$(BUILD)/tests/test_hookstart: $(BUILD)/obj/tests/unit/test_hookstart.o $(BUILD)/obj/hooks/static/startup.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(HOOK_LIBS) -ldl

# The secret rule table rendered for docs/policy.md (see `make docs`).
RULES_MD   := $(BUILD)/tools/secrets-rules-md
$(RULES_MD): $(BUILD)/obj/scripts/secrets_rules_md.o $(LIBGG)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBGG) $(LIBS)

# Rewrites the rule list in docs/policy.md from lib/secrets_rules.c.
docs: $(RULES_MD)
	@sh scripts/secrets_doc.sh update $(RULES_MD) docs/policy.md

test: all $(UNIT_BIN) $(RULES_MD)
	@BUILD=$(BUILD) VALGRIND=$(VALGRIND) sh tests/run.sh

# Each pack becomes a byte array (od and sed: no xxd on a fresh system) in a
# table of name, bytes and length that the manifest engine looks packs up in.
$(PACKS_C): $(PACKS_YAML) Makefile
	@mkdir -p $(dir $@)
	@{ echo '/* Generated by the Makefile from the files in packs/; do not edit. */'; \
	   echo '#include "gitgate/mrule.h"'; \
	   for f in $(PACKS_YAML); do \
		v=$$(basename $$f .yaml | tr -c 'A-Za-z0-9\n' '_'); \
		echo "static const unsigned char pack_$$v[] = {"; \
		od -An -v -tx1 $$f | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
		echo '0x00};'; \
	   done; \
	   echo 'const gg_mpack_src gg_mpacks[] = {'; \
	   for f in $(PACKS_YAML); do \
		n=$$(basename $$f .yaml); v=$$(echo $$n | tr -c 'A-Za-z0-9\n' '_'); \
		echo "	{\"$$n\", pack_$$v, sizeof(pack_$$v) - 1},"; \
	   done; \
	   echo '	{0, 0, 0},'; \
	   echo '};'; \
	   echo 'const size_t gg_nmpacks = sizeof(gg_mpacks) / sizeof(gg_mpacks[0]) - 1;'; \
	} > $@.tmp && mv $@.tmp $@

$(SCHEMAGEN): $(addprefix $(BUILD)/obj/,scripts/schemagen.o lib/schema_load.o lib/ytree.o lib/util.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(K8S_C): $(K8S_DEFS) $(K8S_ENUMS) $(SCHEMAGEN)
	@mkdir -p $(dir $@)
	gzip -dc $(K8S_DEFS) > $@.json
	$(SCHEMAGEN) $@.json $@.tmp gg_k8s_builtin $(K8S_ENUMS) && mv $@.tmp $@ && rm -f $@.json

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

# The units are written with @SBINDIR@ replaced: they name the daemon where it is installed.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXEC) \
		$(DESTDIR)$(DATADIR)/packs $(DESTDIR)$(DATADIR)/examples \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(GITGATE) $(DESTDIR)$(BINDIR)/gitgate
	$(if $(wildcard daemon/gitgated.c),install -m 755 $(GITGATED) $(DESTDIR)$(SBINDIR)/gitgated)
	$(if $(HOOKS),install -m 755 $(HOOKS) $(DESTDIR)$(LIBEXEC)/)
	$(if $(wildcard packs/*.yaml),install -m 644 $(wildcard packs/*.yaml) $(DESTDIR)$(DATADIR)/packs/)
	$(if $(wildcard examples/*),install -m 644 $(wildcard examples/*) $(DESTDIR)$(DATADIR)/examples/)
	for f in systemd/gitgated.service systemd/gitgated.socket; do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' "$$f" > $(DESTDIR)$(UNITDIR)/$$(basename $$f) && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$f) || exit 1; done
	install -m 644 systemd/gitgated.sysusers $(DESTDIR)$(SYSUSERSDIR)/gitgated.conf
	install -m 644 man/gitgate.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/gitgate-policy.5 man/gitgated.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/gitgated.8 $(DESTDIR)$(MANDIR)/man8/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
