#!/usr/bin/env bash
# The main job, offline, on the embedded model: one sentence in, a reviewed-shape spec
# (requirements, design, tasks) out, then every task run by the agent and verified by the
# project's tests. It reports what the small model achieved; it never fakes success.
# Works in a temporary project, so nothing outside it is changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
keep="${SPECLOOM_DEMO_KEEP:-}"
if [ -z "$keep" ]; then trap 'rm -rf "$work"' EXIT; fi
project="$work/wordcount"
model="${SPECLOOM_DEMO_MODEL:-local}"
# The request names the functions it wants, as a user of a small model does: a bare "word
# counter" lets a 1.5B model drift to stdin, error handling or one untestable main().
request="A command-line tool wordcount.py whose function count_words(text) returns how many \
times each word occurs, words compared case-insensitively, and whose main(path) prints each \
word of a text file with its count, most frequent first."

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }
run() { step "$*"; "$@"; }
# Commands that report problems with exit status 1 (findings, failed tasks): the demo shows
# that and goes on.
report() { step "$*"; "$@" || printf '(exit status %d)\n' "$?"; }

started=$(date +%s)
echo "specloom demo: a spec written and executed offline by the embedded model ($model)"
echo "project: $project"

# A small Python project under git, with pytest as its test command.
mkdir -p "$project/tests"
cd "$project"
git init -q
git config user.email demo@example.invalid
git config user.name "specloom demo"
cat > README.md <<'EOF'
# wordcount

A word-frequency command-line tool.
EOF
cat > tests/conftest.py <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
EOF
specloom init >/dev/null
mkdir -p .kiro/settings
cat > .kiro/settings/specloom.json <<'EOF'
{
  "verify": {"command": "python -m pytest -q -p no:cacheprovider", "timeout_s": 300},
  "run": {"retries": 2, "property_examples": 50},
  "agent": {"limits": {"max_steps": 12}}
}
EOF
git add -A && git commit -q -m "empty project"

run specloom models check local
report specloom new --quick --yes --model "$model" --name word-count "$request"
if [ ! -f .kiro/specs/word-count/tasks.md ]; then
  echo "The model did not produce a complete spec; see the message above."
  exit 1
fi
run specloom show word-count
report specloom lint word-count
report specloom analyze word-count
run specloom tasks word-count --critical-path
git add -A && git commit -q -m "spec: word-count"

report specloom run word-count --all --mode autopilot --model "$model"
run specloom tasks word-count
report python -m pytest -q -p no:cacheprovider
report specloom trace word-count
run specloom usage --by command

finished=$(date +%s)
done_tasks=$(specloom show word-count --json | python -c \
  'import json, sys; p = json.load(sys.stdin)["progress"]; print("%d/%d" % (p["done"], p["total"]))')
echo
echo "Done in $((finished - started)) s: $done_tasks tasks verified by the project's tests."
echo "Everything above ran offline on the embedded model; nothing was marked done unless"
echo "its tests passed."
if [ -n "$keep" ]; then echo "The project is kept in $project"; fi
