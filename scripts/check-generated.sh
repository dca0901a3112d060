#!/usr/bin/env bash
# Fails (exit 1, with a diff) when docs/qmp-reference.md is not what the QAPI schema in
# qapi/ generates. Regenerate with:
#
#   cargo run -p qapi-gen -- docs qapi/qapi-schema.json docs/qmp-reference.md
#
# Honors CARGO_TARGET_DIR like any cargo command.
set -euo pipefail

cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo run --quiet -p qapi-gen -- docs qapi/qapi-schema.json "$tmp/qmp-reference.md"

if ! cmp -s "$tmp/qmp-reference.md" docs/qmp-reference.md; then
    echo "docs/qmp-reference.md is stale; regenerate it with:" >&2
    echo "  cargo run -p qapi-gen -- docs qapi/qapi-schema.json docs/qmp-reference.md" >&2
    diff -u docs/qmp-reference.md "$tmp/qmp-reference.md" | head -n 60 >&2 || true
    exit 1
fi
echo "docs/qmp-reference.md is up to date"
