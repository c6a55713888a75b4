#!/usr/bin/env bash
# The main job, offline: specloom's spec tools on the example project that ships with it.
# Works on a copy in a temporary folder, so the repository is never changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R "$here/examples/wordfreq" "$work/wordfreq"
cd "$work/wordfreq"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { step "$*"; "$@"; }
# lint/analyze exit 1 when they find errors; the demo shows that and goes on.
run_findings() { step "$*"; "$@" || printf '(exit status %d: findings of severity error)\n' "$?"; }

echo "specloom demo: the word-frequency example spec, in $work/wordfreq"
run specloom list
run specloom show word-frequency
run_findings specloom lint word-frequency
run_findings specloom analyze word-frequency
run specloom tasks word-frequency
run specloom tasks word-frequency --waves --critical-path --workers 2
run specloom task word-frequency 2.2 --status in_progress
step "diff (exactly one character of tasks.md changed)"
diff "$here/examples/wordfreq/.kiro/specs/word-frequency/tasks.md" .kiro/specs/word-frequency/tasks.md || true
run specloom trace word-frequency
run specloom import speckit "$here/tests/spec/fixtures/speckit/specs/001-photo-albums"
run specloom list
run_findings specloom analyze photo-albums
run specloom tasks photo-albums --critical-path --workers 4
echo
echo "Done. Everything above ran offline, without a model, on copies of the shipped examples."
