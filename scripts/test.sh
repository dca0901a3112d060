#!/usr/bin/env bash
# Installs what the tests need (when missing), builds Porthole, and runs formatting,
# lint and the whole test suite. Exits non-zero if any step fails.
#
#   bash scripts/test.sh
#
# The integration tests (tests/) drive the release binary with real VNC clients:
# gvnccapture (gtk-vnc), TigerVNC's vncviewer under Xvfb, and vncdotool. They are required
# here (PORTHOLE_REQUIRE_CLIENTS=1): a missing client fails the run instead of skipping.
# The QMP suite (tests/python, pytest + qemu.qmp) drives the same binary and compares it
# with QEMU 7.2 (qemu-system-x86_64).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n=== %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root for: $*" >&2
        return 1
    fi
}

# --- system packages -------------------------------------------------------------------
# package:command-it-provides
# xdotool presses gvncviewer's screenshot key and xwininfo finds viewer windows in the
# mode-switch tests (tests/python/test_modes.py).
apt_wanted=(gvncviewer:gvnccapture tigervnc-viewer:vncviewer xvfb:Xvfb xauth:xauth tmux:tmux
    qemu-system-x86:qemu-system-x86_64 openssl:openssl chromium:chromium xdotool:xdotool
    x11-utils:xwininfo)
# Packages that install no command: nss_wrapper gives gvnccapture a private ~/.pki in the
# TLS tests (gtk-vnc finds its certificates through the password database, not $HOME).
apt_libraries=(libnss-wrapper novnc)
apt_missing=()
for entry in "${apt_wanted[@]}"; do
    pkg=${entry%%:*}
    cmd=${entry#*:}
    command -v "$cmd" >/dev/null 2>&1 || apt_missing+=("$pkg")
done
for pkg in "${apt_libraries[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || apt_missing+=("$pkg")
done
if [ "${#apt_missing[@]}" -gt 0 ]; then
    say "installing ${apt_missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${apt_missing[@]}" >/dev/null
fi

# --- Python clients --------------------------------------------------------------------
python=$(command -v python3 || command -v python || true)
if [ -z "$python" ]; then
    echo "python3 is required for vncdotool" >&2
    exit 1
fi
# Scripts installed with --user land here; put it on PATH in case pip falls back to it.
user_bin="$("$python" -m site --user-base 2>/dev/null || echo "$HOME/.local")/bin"
export PATH="$PATH:$user_bin"

pip_install() {
    # pip refuses a system-managed interpreter (PEP 668) unless told otherwise.
    if ! "$python" -m pip install --quiet --disable-pip-version-check "$@" 2>/tmp/porthole-pip.err; then
        if grep -q externally-managed /tmp/porthole-pip.err; then
            "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
        else
            cat /tmp/porthole-pip.err >&2
            return 1
        fi
    fi
}

pip_missing=()
command -v vncdo >/dev/null 2>&1 || pip_missing+=(vncdotool)
"$python" -c 'import qemu.qmp' >/dev/null 2>&1 || pip_missing+=(qemu.qmp)
"$python" -c 'import pytest' >/dev/null 2>&1 || pip_missing+=(pytest)
if [ "${#pip_missing[@]}" -gt 0 ]; then
    say "installing ${pip_missing[*]} (pip)"
    if ! command -v pip >/dev/null 2>&1 && ! "$python" -m pip --version >/dev/null 2>&1; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    fi
    pip_install "${pip_missing[@]}"
    # pyenv keeps its command shims in step only after a rehash.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
fi

for cmd in gvnccapture gvncviewer vncviewer Xvfb vncdo qemu-system-x86_64 openssl chromium \
    xdotool xwininfo; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "$cmd is still missing after installation" >&2
        exit 1
    fi
done
for pkg in "${apt_libraries[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        echo "$pkg is still missing after installation" >&2
        exit 1
    fi
done

# --- build, lint, test -----------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$root/target}
failed=()

say "cargo build --release -p porthole -p crypto (porthole, porthole-passwd)"
if ! cargo build --release -p porthole -p crypto; then
    echo "build failed" >&2
    exit 1
fi

say "cargo fmt --all -- --check"
cargo fmt --all -- --check || failed+=("cargo fmt")

say "generated QMP reference up to date (scripts/check-generated.sh)"
bash scripts/check-generated.sh || failed+=("generated docs")

say "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings || failed+=("cargo clippy")

say "cargo test --workspace"
figures="$target_dir/porthole-figures.txt"
rm -f "$figures"
# The integration tests use the release binary, the one users run; every real client is
# required. Test failures print their own error chain, so library backtraces stay off.
if ! PORTHOLE_BIN="$target_dir/release/porthole" \
    PORTHOLE_REQUIRE_CLIENTS=1 \
    PORTHOLE_FIGURES="$figures" \
    RUST_BACKTRACE=0 \
    cargo test --workspace; then
    failed+=("cargo test")
fi

say "pytest tests/python (QMP, against the release binary and QEMU 7.2)"
if ! PORTHOLE_BIN="$target_dir/release/porthole" \
    PORTHOLE_REQUIRE_CLIENTS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    "$python" -m pytest tests/python -q -p no:cacheprovider; then
    failed+=("pytest")
fi

if [ -s "$figures" ]; then
    say "figures (release binary)"
    cat "$figures"
fi

if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all checks passed"
