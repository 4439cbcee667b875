#!/bin/sh
# Prints how the pre-receive hook links (the Makefile keeps it as HOOK_LIBS).
#
# The hook is a process of a few milliseconds, started once per push; mapping
# and relocating two dozen shared libraries was most of its time. When the
# static archives of everything it uses are installed (Debian's -dev packages
# ship them), it links them into itself and keeps only libc and libm shared;
# hooks/static/startup.c then defers libgit2's network start-up to its first
# use (see there). Otherwise it prints the shared libraries' flags, as every other
# program links.
set -eu
shared="$(pkg-config --libs libgit2 yaml-0.1 libpcre2-8 libcrypto jansson gpgme) -lm"
libdir=$(pkg-config --variable=libdir libgit2)
# libgit2 first, then what its archive needs (its Libs.private), then ours.
archives="git2 mbedtls mbedx509 mbedcrypto http_parser ssh2 pcre2-8 z yaml jansson gpgme assuan gpg-error crypto"
for a in $archives; do
	if [ ! -f "$libdir/lib$a.a" ]; then
		echo "$shared"
		exit 0
	fi
done
# hooks/static/startup.c wraps exactly what this libgit2 build calls across
# its objects; any other build (OpenSSL instead of mbedTLS, no GSSAPI, other
# internals) links as shared.
wraps="git_mbedtls_stream_global_init git_mbedtls_stream_new git_mbedtls_stream_wrap
git_mbedtls__set_cert_location libssh2_init"
undef=$(nm -u "$libdir/libgit2.a" 2>/dev/null | awk '{print $2}' | sort -u)
for s in $wraps gss_init_sec_context; do
	echo "$undef" | grep -qx "$s" || {
		echo "$shared"
		exit 0
	}
done
flags=""
for s in $wraps; do
	flags="$flags -Wl,--wrap=$s"
done
flags="$flags -Wl,-Bstatic"
for a in $archives; do
	flags="$flags -l$a"
done
echo "$flags -Wl,-Bdynamic -ldl -lpthread -lrt -lm"
