#!/bin/sh
# A new user's first hour, from the README: the commands of "Quick start: plain
# git over SSH" run as written (local paths in place of /etc, /srv and the
# installed examples), a first commit by an author outside the example's domain
# is accepted and deployed, and a refused push prints exactly what the README
# shows.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

README="$GG_TOP/README.md"

# block N KIND: the Nth fenced block of the plain-git quick start whose fence is
# ```KIND (KIND empty: a bare ``` fence, i.e. sample output).
block() {
	awk -v want="$1" -v kind="$2" '
		/^## / { in_sec = ($0 == "## Quick start: plain git over SSH") }
		!in_sec { next }
		/^```/ {
			if (open) { open = 0; next }
			open = 1; cur = substr($0, 4)
			if (cur == kind) n++
			next
		}
		open && cur == kind && n == want { print }
	' "$README"
}

# What the README tells an administrator to type, made local to $T.
localize() {
	sed -e "s|/usr/local/share/gitgate/examples/|$GG_TOP/examples/|g" \
		-e "s|/etc/gitgate|$T/etc/gitgate|g" \
		-e "s|git@HOST:||g" \
		-e "s|/srv/|$T/srv/|g" \
		-e "s|127\.0\.0\.1:8080|127.0.0.1:$PORT|g" \
		-e 's|^sudo -u git ||' \
		-e 's|^git config --system |git config --global |' \
		-e 's|^install -o git |install |' \
		-e '/^chown /d'
}

# The README's sample output, with the port this test uses.
sample() {
	block "$1" "" | sed -e "s|127\.0\.0\.1:8080|127.0.0.1:$PORT|g"
}

t_readme_quick_start_plain_git() {
	PORT=$(free_port)
	PATH="$GG_BUILD/bin:$PATH"
	export PATH
	mkdir -p srv/git
	git init -q --bare -b main srv/git/platform.git
	git init -q --bare -b main srv/git/site.git

	# As root: the policy, the secret, the hooks, the daemon's config.
	block 1 sh | localize >setup.sh
	expect_contains setup.sh "$T/etc/gitgate/policy.yaml"
	expect_contains setup.sh "install-hook"
	sh -e setup.sh >setup.out 2>&1 || {
		cat setup.sh setup.out
		fail "the quick start's setup failed"
	}
	[ "$(git -C srv/git/platform.git config gitgate.notifyUrl)" = "http://127.0.0.1:$PORT/hooks/git" ] ||
		fail "install-hook did not set the notify URL"

	# "Edit the targets": the command target runs a script of ours.
	cat >deploy <<'SH'
#!/bin/sh
echo "$@" >>"$(dirname "$0")/deployed"
SH
	chmod 755 deploy
	sed -e "s|state_dir: .*|state_dir: $T/state|" -e "s|/usr/local/bin/deploy|$T/deploy|" \
		-e "s|127\.0\.0\.1:8080|127.0.0.1:$PORT|" -e "s|/etc/gitgate/|$T/etc/gitgate/|g" \
		-e "s|/srv/|$T/srv/|g" -i etc/gitgate/gitgated.yaml
	cp etc/gitgate/gitgated.yaml cfg.yaml
	start_daemon

	# A first manifest, committed by someone outside the example's e-mail domain.
	export GIT_AUTHOR_EMAIL=alice@corp.test GIT_COMMITTER_EMAIL=alice@corp.test
	mkdir work
	{
		echo "cd '$T/work'"
		block 2 sh | localize
	} >push1.sh
	expect_contains push1.sh 'git commit -m "add web deployment"'
	sh -e push1.sh >push1.out 2>&1 || {
		cat push1.sh push1.out
		fail "the first push was refused"
	}
	sample 1 >want1.txt
	[ -s want1.txt ] || fail "no sample output after the first push in the README"
	while IFS= read -r line; do
		expect_contains push1.out "$line"
	done <want1.txt
	expect_not_contains push1.out "error["
	expect_not_contains push1.out "warning["
	head=$(git -C srv/git/platform.git rev-parse refs/heads/main)
	wait_until 20 test -s deployed
	expect_contains deployed "--commit $head --ref refs/heads/main"

	# The same manifest with an unpinned image: one error, as the README shows.
	{
		echo "cd '$T/work/platform'"
		block 3 sh | localize
	} >push2.sh
	expect_status 1 sh -e push2.sh >push2.out 2>&1
	sample 2 >want2.txt
	[ -s want2.txt ] || fail "no sample output after the refused push in the README"
	sed 's/[[:space:]]*$//' push2.out | grep -E '^remote: (error\[|warning\[|gitgate: push)' >got2.txt || true
	diff -u want2.txt got2.txt || fail "the refused push does not print what the README shows"
	[ "$(git -C srv/git/platform.git rev-parse refs/heads/main)" = "$head" ] ||
		fail "a refused push moved main"

	# The way out the README gives.
	expect_contains "$README" 'git reset --hard HEAD~1'
	(cd work/platform && git reset -q --hard HEAD~1 && git push -q origin HEAD:main) >push3.out 2>&1 ||
		fail "pushing after the reset failed"
	stop_daemon
}

# The example policy lets a first push through as it stands, and the rules it
# keeps commented out are the stricter ones: uncommented, they refuse it.
t_example_policy_stricter_rules_are_commented_out() {
	f="$GG_TOP/examples/git-policy.yaml"
	expect_contains "$f" "# message_pattern:"
	expect_contains "$f" "# author_email_pattern:"
	# A line saying what to edit precedes them.
	grep -B3 '^ *# message_pattern:' "$f" | grep -q 'edit' || fail "no line saying what to edit"
	# None of the example's own rules repeats a rule of the pack it enables.
	! grep -qE '^ *- id: *pinned-images' "$f" || fail "pinned-images repeats k8s-image-pinned"

	sed -e 's|^  # message_pattern:|  message_pattern:|' \
		-e 's|^  # author_email_pattern:|  author_email_pattern:|' "$f" >strict.yaml
	"$GITGATE" policy lint strict.yaml
	git init -q --bare -b main repo.git
	"$GITGATE" install-hook --policy strict.yaml repo.git >/dev/null
	git clone -q repo.git w 2>/dev/null
	echo hello >w/README.md
	git -C w add README.md
	GIT_AUTHOR_EMAIL=alice@corp.test git -C w commit -q -m "add web deployment"
	expect_status 1 git -C w push -q origin HEAD:main >strict.out 2>&1
	expect_contains strict.out "error[commit-message]"
	expect_contains strict.out "error[author-email]"
	"$GITGATE" install-hook --policy "$f" repo.git >/dev/null
	expect_status 0 git -C w push -q origin HEAD:main
}

# No example policy enables a pack and then repeats one of its rules.
t_examples_do_not_repeat_pack_rules() {
	for f in "$GG_TOP"/examples/*-policy.yaml; do
		ids=$(sed -e 's/#.*//' "$f" | sed -n 's/^ *- id: *//p')
		for id in $ids; do
			paths=$(sed -e 's/#.*//' "$f" | awk -v id="$id" '$0 ~ "id: *"id"$" { on = 1; next } on && /path:/ { print; exit }')
			case $paths in
			*image* | *limits*) fail "$(basename "$f"): rule $id repeats a kubernetes-baseline rule" ;;
			esac
		done
	done
}

# gitgated --check warns (exit 0) about a target's program that is missing or
# that the daemon's user cannot run, each at its target's position.
t_check_warns_about_programs() {
	chmod 755 "$T"
	printf 's3cret\n' >s.secret
	chmod 600 s.secret
	mkdir -p bin closed
	printf '#!/bin/sh\n' >bin/ok.sh
	printf '#!/bin/sh\n' >bin/mine.sh
	printf '#!/bin/sh\n' >bin/data.sh
	printf '#!/bin/sh\n' >closed/hidden.sh
	chmod 755 bin bin/ok.sh closed/hidden.sh
	chmod 700 bin/mine.sh closed
	chmod 644 bin/data.sh
	cat >cfg.yaml <<YAML
listen: ["127.0.0.1:1"]
state_dir: $T/state
sources:
  - {name: git, kind: generic, secret_file: $T/s.secret}
targets:
  - {name: fine, repo: x, ref: r, run: ["$T/bin/ok.sh", "{after}"]}
  - {name: on-path, repo: x, ref: r, run: ["true"]}
  - {name: placeholder, repo: x, ref: r, checkout: {url: "file:///x", dir: "$T/www", run: ["{dir}/post.sh"]}}
  - {name: missing, repo: x, ref: r, run: ["$T/bin/deploy"]}
  - {name: data, repo: x, ref: r, run: ["$T/bin/data.sh"]}
  - {name: nameless, repo: x, ref: r, run: ["no-such-deploy-tool"]}
  - {name: own-path, repo: x, ref: r, env: {PATH: "$T/bin"}, run: ["ok.sh"]}
  - {name: directory, repo: x, ref: r, checkout: {url: "file:///x", dir: "$T/www", run: ["$T/bin"]}}
  - {name: mine, repo: x, ref: r, run: ["$T/bin/mine.sh"]}
  - {name: closed, repo: x, ref: r, run: ["$T/closed/hidden.sh"]}
YAML
	expect_status 0 "$GITGATED" -c cfg.yaml --check >out.txt 2>err.txt
	# Root checks for the unit's account too, where there is one.
	if [ "$(id -u)" = 0 ] && id gitgated >/dev/null 2>&1; then
		expect_contains err.txt "target 'mine': run: $T/bin/mine.sh is not executable by gitgated"
		sed -i "/'mine'\|'closed'/d" err.txt
	else
		expect_contains out.txt "cfg.yaml: ok (1 sources, 10 targets, 4 warnings)"
	fi
	expect_contains err.txt "cfg.yaml:9:5: warning: target 'missing': run: $T/bin/deploy does not exist"
	expect_contains err.txt "cfg.yaml:10:5: warning: target 'data': run: $T/bin/data.sh is not executable by $(id -un)"
	expect_contains err.txt "cfg.yaml:11:5: warning: target 'nameless': run: 'no-such-deploy-tool' is not in the deployments' PATH (/usr/local/sbin:"
	expect_contains err.txt "cfg.yaml:13:5: warning: target 'directory': checkout.run: $T/bin is not a regular file"
	[ "$(wc -l <err.txt)" -eq 4 ] || fail "want 4 warnings, got: $(cat err.txt)"

	# For another user: mode bits of the program and of every directory above it.
	id nobody >/dev/null 2>&1 || fail "this system has no user nobody"
	expect_status 0 "$GITGATED" -c cfg.yaml --check --user nobody >out.txt 2>err.txt
	expect_contains out.txt "6 warnings"
	expect_contains err.txt "target 'data': run: $T/bin/data.sh is not executable by nobody"
	expect_contains err.txt "target 'mine': run: $T/bin/mine.sh is not executable by nobody"
	expect_contains err.txt "target 'closed': run: $T/closed/hidden.sh is not executable by nobody"
	expect_not_contains err.txt "'fine'"
	expect_not_contains err.txt "'own-path'"

	expect_status 2 "$GITGATED" -c cfg.yaml --check --user no-such-user-here >out.txt 2>err.txt
	expect_contains err.txt "--user no-such-user-here: no such user"
	expect_status 2 "$GITGATED" -c cfg.yaml --user nobody >out.txt 2>err.txt
	expect_contains err.txt "usage: gitgated"
}

run_cases
