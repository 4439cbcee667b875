#!/bin/sh
# commits: require_signature and tags: require_signature, through real pushes
# of commits and tags signed by the real `git commit -S` / `git tag -s` with
# SSH keys (gpg.format=ssh) and OpenPGP keys made here by ssh-keygen and gpg.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

# sshkey NAME: an Ed25519 key pair $T/NAME, $T/NAME.pub (other types: sshkey NAME -t ecdsa).
sshkey() {
	n=$1
	shift
	ssh-keygen -q -N '' -C "$n" -f "$T/$n" ${1+"$@"} >/dev/null
}

# signer PRINCIPALS [OPTIONS] KEYNAME: an allowed-signers line for $T/KEYNAME.pub
signer() {
	if [ $# -eq 3 ]; then
		echo "$1 $2 $(cut -d' ' -f1,2 "$T/$3.pub")"
	else
		echo "$1 $(cut -d' ' -f1,2 "$T/$2.pub")"
	fi
}

# ssh_commit KEYNAME FILE CONTENT MESSAGE: a commit signed with the SSH key.
ssh_commit() {
	mkdir -p "$(dirname "$T/w/$2")"
	printf '%s\n' "$3" >"$T/w/$2"
	git -C "$T/w" add "$2"
	git -C "$T/w" -c gpg.format=ssh -c user.signingKey="$T/$1" commit -q -S -m "$4"
}

policy_ssh() { # [match_committer]
	cat <<EOF
version: 1
commits:
  require_signature:
    allowed_signers: allowed_signers
    match_committer: ${1:-false}
EOF
}

t_ssh_signed_commits_accepted() {
	sshkey dev
	sshkey p256 -t ecdsa -b 256
	sshkey p384 -t ecdsa -b 384
	sshkey rsa -t rsa -b 3072
	{
		signer committer@example.com 'namespaces="git"' dev
		signer committer@example.com p256
		signer committer@example.com p384
		signer '*@example.com' rsa
	} >"$T/allowed_signers"
	policy_ssh true | setup
	ssh_commit dev a 1 "one"
	ssh_commit p256 b 2 "two"
	ssh_commit p384 c 3 "three"
	ssh_commit rsa d 4 "four"
	push main
	expect_contains "$T/out" "remote: gitgate: push accepted: 4 commits checked"
	expect_not_contains "$T/out" "error["
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse main)" ] ||
		fail "main was not updated"
}

t_certificates_signed_by_a_trusted_ca() {
	sshkey ca
	sshkey dev
	sshkey old
	ssh-keygen -q -s "$T/ca" -I dev-laptop -n committer@example.com -V -5m:+1h "$T/dev.pub"
	ssh-keygen -q -s "$T/ca" -I old-laptop -n committer@example.com -V 20200101:20200102 "$T/old.pub"
	signer '*@example.com' 'cert-authority,namespaces="git"' ca >"$T/allowed_signers"
	policy_ssh true | setup
	ssh_commit dev-cert.pub a 1 "signed with a certificate"
	push main
	expect_contains "$T/out" "push accepted: 1 commit checked"
	ssh_commit old-cert.pub b 2 "signed with an expired certificate"
	! push main || fail "expired certificate accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): expired key: $T/allowed_signers:1: certificate 'old-laptop' is no longer valid"
	# The certificate names committer@example.com only: someone else committing is refused.
	git -C "$T/w" reset -q --hard HEAD~1
	GIT_COMMITTER_EMAIL=eve@example.com ssh_commit dev-cert.pub c 3 "as eve"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): principal mismatch: committer eve@example.com: $T/allowed_signers:1: certificate 'dev-laptop' names no principal the entry allows as eve@example.com"
	# The user's own key, without its certificate, is not trusted: only the CA is.
	git -C "$T/w" reset -q --hard HEAD~1
	ssh_commit dev d 4 "plain key"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): unknown key: the key is not in allowed_signers"
}

t_unsigned_commit_refused() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit dev a 1 "signed"
	commit b 2 "not signed"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[signature] $(short HEAD): unsigned: the commit carries no signature"
	expect_not_contains "$T/out" "$(short HEAD~1)"
	expect_contains "$T/out" "remote: gitgate: push rejected: 1 error"
	! git -C "$T/srv.git" rev-parse -q --verify main >/dev/null || fail "main was created"
}

t_check_range_reports_signatures() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh >"$T/policy.yaml"
	git init -q -b main "$T/w"
	commit base 0 "base"
	ssh_commit dev a 1 "signed"
	commit b 2 "unsigned"
	cd "$T/w"
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --range HEAD~2..HEAD >"$T/out" 2>&1
	expect_contains "$T/out" "error[signature] $(short HEAD): unsigned"
	expect_not_contains "$T/out" "$(short HEAD~1)"
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --format sarif --range HEAD~2..HEAD >"$T/sarif" 2>&1
	expect_contains "$T/sarif" "commits and tags carry a valid signature by a trusted key"
}

t_unknown_key_refused_with_its_fingerprint() {
	sshkey dev
	sshkey stranger
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit stranger a 1 "by a stranger"
	! push main || fail "push accepted"
	fp=$(ssh-keygen -lf "$T/stranger.pub" | cut -d' ' -f2)
	expect_contains "$T/out" "remote: error[signature] $(short HEAD): unknown key: the key is not in allowed_signers (key $fp)"
}

t_principal_mismatch_refused() {
	sshkey dev
	signer alice@example.com dev >"$T/allowed_signers"
	policy_ssh true | setup
	ssh_commit dev a 1 "alice's key, committed as someone else"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): principal mismatch: committer committer@example.com: $T/allowed_signers:1 lists the key for alice@example.com"
	# Without match_committer the same key is trusted whoever commits.
	policy_ssh false >"$T/policy.yaml"
	push main
	expect_contains "$T/out" "push accepted"
}

t_expired_key_refused() {
	sshkey old
	signer committer@example.com 'valid-after="20200101",valid-before="20210101Z"' old >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit old a 1 "after the key expired"
	# A committer date back inside the key's validity changes nothing: the push is now.
	GIT_COMMITTER_DATE="2020-06-01T00:00:00Z" git -C "$T/w" -c gpg.format=ssh \
		-c user.signingKey="$T/old" commit -q -S --amend -m "backdated"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): expired key: $T/allowed_signers:1: the key is valid until 2021-01-01 00:00:00Z"
}

t_key_for_another_namespace_refused() {
	sshkey dev
	signer committer@example.com 'namespaces="file"' dev >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit dev a 1 "signed"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): unknown key: $T/allowed_signers:1 limits the key to namespaces \"file\", not git"
}

# forge NEWMESSAGE: HEAD rewritten with another message, its signature kept.
forge() {
	git -C "$T/w" cat-file commit HEAD | sed "s/^real message\$/$1/" >"$T/forged"
	id=$(git -C "$T/w" hash-object -t commit -w "$T/forged")
	git -C "$T/w" update-ref refs/heads/main "$id"
}

t_signature_over_other_content_refused() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit dev a 1 "real message"
	forge "forged message"
	! push main || fail "push accepted"
	fp=$(ssh-keygen -lf "$T/dev.pub" | cut -d' ' -f2)
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: the signature does not match the signed content (key $fp)"
}

# mangle SED: HEAD rewritten with its signature header lines edited by SED.
mangle() {
	git -C "$T/w" cat-file commit HEAD >"$T/orig"
	sed "$1" "$T/orig" >"$T/mangled"
	id=$(git -C "$T/w" hash-object -t commit -w "$T/mangled")
	git -C "$T/w" update-ref refs/heads/main "$id"
}

t_garbled_and_truncated_signatures_refused() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit dev a 1 "real message"
	base=$(git -C "$T/w" rev-parse HEAD)
	# Truncated: the last two base64 lines dropped.
	git -C "$T/w" cat-file commit HEAD >"$T/orig"
	python3 - "$T/orig" >"$T/trunc" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
end = [i for i, l in enumerate(lines) if l.startswith(" -----END SSH")][0]
del lines[end - 2:end]
sys.stdout.write("\n".join(lines))
PY
	id=$(git -C "$T/w" hash-object -t commit -w "$T/trunc")
	git -C "$T/w" update-ref refs/heads/main "$id"
	! push main || fail "truncated signature accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: malformed signature"
	# Garbled: base64 that is not base64.
	git -C "$T/w" update-ref refs/heads/main "$base"
	mangle 's/^ \(U1NIU0lH.\{8\}\)/ \1!!/'
	! push main || fail "garbled signature accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: malformed signature block: not base64"
	# Not a signature at all.
	git -C "$T/w" update-ref refs/heads/main "$base"
	mangle 's/^gpgsig -----BEGIN SSH SIGNATURE-----/gpgsig -----BEGIN NONSENSE-----/'
	! push main || fail "unknown block accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: not an SSH or OpenPGP signature block"
}

t_signature_made_for_another_namespace_refused() {
	# A trusted key's signature made with `ssh-keygen -Y sign -n file` over the
	# very bytes of a commit must not pass as the commit's signature.
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	commit a 1 "payload"
	git -C "$T/w" cat-file commit HEAD >"$T/payload"
	sign_as() { # NAMESPACE: HEAD becomes the payload with that signature in its gpgsig header
		rm -f "$T/payload.sig"
		ssh-keygen -Y sign -n "$1" -f "$T/dev" "$T/payload" 2>/dev/null
		python3 - "$T/payload" "$T/payload.sig" >"$T/signed" <<'PY'
import sys
body = open(sys.argv[1]).read()
sig = open(sys.argv[2]).read().rstrip("\n").split("\n")
head, rest = body.split("\n\n", 1)
sys.stdout.write(head + "\ngpgsig " + "\n ".join(sig) + "\n\n" + rest)
PY
		id=$(git -C "$T/w" hash-object -t commit -w "$T/signed")
		git -C "$T/w" update-ref refs/heads/main "$id"
	}
	sign_as file
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: made for namespace 'file', not git"
	# The same construction in the git namespace is a good signature: the refusal was the namespace's.
	sign_as git
	push main
	expect_contains "$T/out" "push accepted"
}

t_megabyte_signature_refused() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	commit a 1 "base"
	tree=$(git -C "$T/w" rev-parse HEAD^{tree})
	{
		echo "tree $tree"
		echo "author A <committer@example.com> 1700000000 +0000"
		echo "committer A <committer@example.com> 1700000000 +0000"
		echo "gpgsig -----BEGIN SSH SIGNATURE-----"
		python3 -c 'import sys; [sys.stdout.write(" " + "A"*70 + "\n") for _ in range(15000)]'
		echo " -----END SSH SIGNATURE-----"
		echo
		echo "huge"
	} >"$T/huge"
	id=$(git -C "$T/w" hash-object -t commit -w "$T/huge")
	git -C "$T/w" update-ref refs/heads/main "$id"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: signature block of"
	expect_contains "$T/out" "over the 65536-byte limit"
}

t_warn_mode_and_bypass() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	{
		policy_ssh | sed 's/^version: 1$/version: 1\nmode: warn/'
		printf 'bypass:\n  users: [release-bot]\n'
	} | setup
	commit a 1 "unsigned"
	push main
	expect_contains "$T/out" "remote: warning[signature] $(short HEAD): unsigned"
	expect_contains "$T/out" "push accepted"
	# enforce: refused, unless a bypass user says why.
	sed -i '/^mode: warn$/d' "$T/policy.yaml"
	commit b 2 "unsigned too"
	! push main || fail "push accepted"
	GITGATE_USER=release-bot push -o gitgate.bypass="hotfix" main
	expect_contains "$T/out" "bypass by release-bot: hotfix"
}

t_signed_tags() {
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	{
		policy_ssh true
		printf 'tags:\n  require_signature: true\n'
	} | setup
	ssh_commit dev a 1 "signed"
	push main
	git -C "$T/w" config user.email committer@example.com
	git -C "$T/w" -c gpg.format=ssh -c user.signingKey="$T/dev" tag -s -m "v1" v1.0
	git -C "$T/w" tag -a -m "v2" v2.0
	git -C "$T/w" tag v3.0
	push refs/tags/v1.0
	expect_contains "$T/out" "push accepted"
	! push refs/tags/v2.0 || fail "unsigned tag accepted"
	expect_contains "$T/out" "remote: error[signature] refs/tags/v2.0: tag $(git -C "$T/w" rev-parse --short=7 v2.0): unsigned: the tag carries no signature"
	! push refs/tags/v3.0 || fail "lightweight tag accepted"
	expect_contains "$T/out" "error[signature] refs/tags/v3.0: tag $(short HEAD): unsigned: a lightweight tag carries no signature"
}

t_policy_names_the_key_files_errors() {
	sshkey dev
	{
		signer committer@example.com dev
		echo 'bob@example.com namespaces="git" ssh-ed25519 AAAA%%%'
	} >"$T/allowed_signers"
	policy_ssh >"$T/policy.yaml"
	expect_status 2 "$GITGATE" policy lint "$T/policy.yaml" >"$T/lint" 2>&1
	expect_contains "$T/lint" "$T/allowed_signers:2:46: ssh-ed25519 key: the key is not valid base64"
	expect_contains "$T/lint" "$T/policy.yaml:4:22: commits.require_signature: the key files have the errors above"
	printf 'version: 1\ncommits:\n  require_signature: {match_committer: true}\n' >"$T/p2.yaml"
	expect_status 2 "$GITGATE" policy lint "$T/p2.yaml" >"$T/lint" 2>&1
	expect_contains "$T/lint" "needs allowed_signers, gpg_keyring or both"
	printf 'version: 1\ntags:\n  require_signature: true\n' >"$T/p3.yaml"
	expect_status 2 "$GITGATE" policy lint "$T/p3.yaml" >"$T/lint" 2>&1
	expect_contains "$T/lint" "p3.yaml:3:22: tags.require_signature: true uses the keys of commits.require_signature"
	# A push under a policy whose keys stop loading is refused (fail closed).
	signer committer@example.com dev >"$T/allowed_signers"
	policy_ssh | setup
	ssh_commit dev a 1 "signed"
	echo 'broken line' >>"$T/allowed_signers"
	! push main || fail "push accepted under a broken policy"
	expect_contains "$T/out" "remote: error[policy] $T/allowed_signers:2:8: unknown or malformed option 'line'"
	! git -C "$T/srv.git" rev-parse -q --verify main >/dev/null || fail "main was created"
}

# ---- OpenPGP ----

# gpgkey NAME UID [EXPIRE]: a key in $T/gnupg (the pusher's own keyring, as git uses it).
gpgkey() {
	gpg --homedir "$T/gnupg" --batch --passphrase '' --quick-gen-key "$2" ed25519 sign "${3:-1y}" 2>/dev/null
	gpg --homedir "$T/gnupg" --with-colons --list-keys "$2" | awk -F: '/^fpr/ {print $10; exit}' >"$T/$1.fpr"
}

gpg_commit() { # FPR FILE CONTENT MESSAGE [git -c ...]
	printf '%s\n' "$3" >"$T/w/$2"
	git -C "$T/w" add "$2"
	git -C "$T/w" -c gpg.format=openpgp -c user.signingKey="$1" commit -q -S -m "$4"
}

gpg_setup() {
	mkdir -m 700 "$T/gnupg"
	export GNUPGHOME="$T/gnupg"
}

gpg_cleanup() {
	gpgconf --homedir "$T/gnupg" --kill gpg-agent 2>/dev/null || true
}

policy_gpg() {
	cat <<EOF
version: 1
commits:
  require_signature:
    gpg_keyring: team.asc
    match_committer: ${1:-false}
EOF
}

t_openpgp_signed_and_unknown() {
	gpg_setup
	trap gpg_cleanup EXIT
	gpgkey dev "Dev <committer@example.com>"
	gpgkey stranger "Stranger <committer@example.com>"
	gpg --homedir "$T/gnupg" --armor --export "$(cat "$T/dev.fpr")" >"$T/team.asc"
	policy_gpg true | setup
	gpg_commit "$(cat "$T/dev.fpr")" a 1 "signed"
	# The hook's private keyring lives under TMPDIR while it runs, and is gone after.
	mkdir "$T/tmp"
	TMPDIR="$T/tmp" push main
	expect_contains "$T/out" "push accepted: 1 commit checked"
	[ -z "$(ls -A "$T/tmp")" ] || fail "left behind in TMPDIR: $(ls -A "$T/tmp")"
	# The stranger's key is in the pusher's keyring, never in the gate's.
	gpg_commit "$(cat "$T/stranger.fpr")" b 2 "by a stranger"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): unknown key: the key is not in gpg_keyring (key "
	expect_contains "$T/out" "$(cut -c25-40 "$T/stranger.fpr")"
	# Tags: an OpenPGP-signed annotated tag passes, one by the stranger does not.
	git -C "$T/w" reset -q --hard HEAD~1
	printf 'tags:\n  require_signature: true\n' >>"$T/policy.yaml"
	git -C "$T/w" config user.email committer@example.com
	git -C "$T/w" -c user.signingKey="$(cat "$T/dev.fpr")" tag -s -m "v1" v1.0
	git -C "$T/w" -c user.signingKey="$(cat "$T/stranger.fpr")" tag -s -m "v2" v2.0
	push refs/tags/v1.0
	expect_contains "$T/out" "push accepted"
	! push refs/tags/v2.0 || fail "the stranger's tag was accepted"
	expect_contains "$T/out" "error[signature] refs/tags/v2.0: tag $(git -C "$T/w" rev-parse --short=7 v2.0): unknown key"
}

t_openpgp_principal_bad_revoked_expired() {
	gpg_setup
	trap gpg_cleanup EXIT
	gpgkey alice "Alice <alice@example.com>"
	gpgkey rev "Revoked <committer@example.com>"
	# A key that lived one day in 2020, and a gpg that signs as if it were then.
	gpg --homedir "$T/gnupg" --batch --passphrase '' --faked-system-time 20200101T000000 \
		--quick-gen-key "Old <committer@example.com>" ed25519 sign 1d 2>/dev/null
	gpg --homedir "$T/gnupg" --with-colons --list-keys "Old" | awk -F: '/^fpr/ {print $10; exit}' >"$T/old.fpr"
	printf '#!/bin/sh\nexec gpg --faked-system-time 20200101T120000 "$@"\n' >"$T/gpg-2020"
	chmod +x "$T/gpg-2020"
	gpg --homedir "$T/gnupg" --armor --export >"$T/team.asc"
	policy_gpg true | setup
	gpg_commit "$(cat "$T/alice.fpr")" a 1 "alice signs, someone else commits"
	alice=$(short HEAD)
	gpg_commit "$(cat "$T/rev.fpr")" b 2 "signed before the revocation"
	rev=$(short HEAD)
	printf '3\n' >"$T/w/c"
	git -C "$T/w" add c
	git -C "$T/w" -c gpg.program="$T/gpg-2020" -c user.signingKey="$(cat "$T/old.fpr")" commit -q -S -m "signed in 2020"
	old=$(short HEAD)
	# Revoke, then hand the gate every key as it now stands.
	sed 's/^:-----/-----/' "$T/gnupg/openpgp-revocs.d/$(cat "$T/rev.fpr").rev" >"$T/rev.cert"
	gpg --homedir "$T/gnupg" --batch --import "$T/rev.cert" 2>/dev/null
	gpg --homedir "$T/gnupg" --armor --export >"$T/team.asc"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $alice: principal mismatch: no user id of the key has the e-mail committer@example.com"
	expect_contains "$T/out" "error[signature] $rev: revoked key: the key has been revoked"
	expect_contains "$T/out" "error[signature] $old: expired key:"
	expect_contains "$T/out" "push rejected: 3 errors"
}

t_openpgp_signature_over_other_content() {
	gpg_setup
	trap gpg_cleanup EXIT
	gpgkey dev "Dev <committer@example.com>"
	gpg --homedir "$T/gnupg" --export "$(cat "$T/dev.fpr")" >"$T/team.asc" # binary this time
	policy_gpg | setup
	gpg_commit "$(cat "$T/dev.fpr")" a 1 "real message"
	forge "forged message"
	! push main || fail "push accepted"
	expect_contains "$T/out" "error[signature] $(short HEAD): bad signature: Bad signature"
}

t_openpgp_keyring_that_does_not_parse() {
	gpg_setup
	trap gpg_cleanup EXIT
	gpgkey dev "Dev <committer@example.com>"
	printf -- '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n' >"$T/team.asc"
	policy_gpg | setup
	gpg_commit "$(cat "$T/dev.fpr")" a 1 "signed"
	! push main || fail "push accepted"
	expect_contains "$T/out" "gpg_keyring $T/team.asc: no OpenPGP public key could be read from it"
	expect_status 2 "$GITGATE" policy lint "$T/policy.yaml" >"$T/lint" 2>&1
	expect_contains "$T/lint" "gpg_keyring $T/team.asc: no OpenPGP public key could be read from it"
	! git -C "$T/srv.git" rev-parse -q --verify main >/dev/null || fail "main was created"
}

t_both_kinds_in_one_push() {
	gpg_setup
	trap gpg_cleanup EXIT
	gpgkey dev "Dev <committer@example.com>"
	gpg --homedir "$T/gnupg" --armor --export "$(cat "$T/dev.fpr")" >"$T/team.asc"
	sshkey dev
	signer committer@example.com dev >"$T/allowed_signers"
	setup <<'EOF'
version: 1
commits:
  require_signature:
    allowed_signers: allowed_signers
    gpg_keyring: team.asc
    match_committer: true
EOF
	gpg_commit "$(cat "$T/dev.fpr")" a 1 "openpgp"
	ssh_commit dev b 2 "ssh"
	push main
	expect_contains "$T/out" "push accepted: 2 commits checked"
}

run_cases
