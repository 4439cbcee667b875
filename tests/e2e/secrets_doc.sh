#!/bin/sh
# docs/policy.md lists the built-in secret rules as lib/secrets_rules.c has
# them: the list is generated (`make docs`) and this test fails on drift.
. "$(dirname "$0")/../lib.sh"

TOOL="$GG_BUILD/tools/secrets-rules-md"

t_rule_list_in_sync() {
	sh "$GG_TOP/scripts/secrets_doc.sh" check "$TOOL" "$GG_TOP/docs/policy.md" 2>"$T/err" ||
		fail "$(cat "$T/err")"
	n=$("$TOOL" | grep -c '^| `secret-')
	[ "$n" -ge 150 ] || fail "only $n rules"
}

t_drift_is_caught_and_fixed() {
	cp "$GG_TOP/docs/policy.md" "$T/policy.md"
	sed -i '/^| `secret-openai-api-key`/d' "$T/policy.md"
	! sh "$GG_TOP/scripts/secrets_doc.sh" check "$TOOL" "$T/policy.md" 2>"$T/err" ||
		fail "a missing rule went unnoticed"
	expect_contains "$T/err" "the rule list is out of date; run 'make docs'"
	sh "$GG_TOP/scripts/secrets_doc.sh" update "$TOOL" "$T/policy.md"
	cmp -s "$T/policy.md" "$GG_TOP/docs/policy.md" || fail "update did not restore the list"
}

run_cases "$@"
