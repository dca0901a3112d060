#!/usr/bin/env bash
# Graphics benchmark: Porthole's VNC server side by side with QEMU 7.2's and TigerVNC's
# Xvnc, on the shared anchor harness (../shared/bench: bench.sh, summarize.py; write-up in
# ../shared/reference/perf-anchors.md). Installs what the harness needs (when missing),
# builds Porthole release, copies the harness to target/bench, builds it there and runs
# the matrix once per geometry; then writes ratio tables against QEMU and against Xvnc.
#
#   bash scripts/bench-graphics.sh [options] [-- bench.sh options]
#
#     -g GEOMS      comma list of WxH modes (default 1024x768,1920x1080). The first one
#                   also runs the harness baselines (loopback, memcpy, zlib); the rest -B.
#     -r RUNS       runs per cell (default 3; runs are interleaved)
#     -d SECS       measurement window per run (default 10)
#     -w WORKLOADS  comma list (default full,noise,scroll,box,static)
#     -s SERVERS    comma list (default qemu,xvnc,ours); Porthole is built only for "ours"
#     -o OUTDIR     results (default target/bench-results/<date-time>); one folder per
#                   geometry: OUTDIR/<WxH>/{results.tsv,summary.md,summary-vs-qemu.md,
#                   summary-vs-xvnc.md,baselines.txt,logs/}
#     -n            dry run: install and build nothing, print the commands bench.sh
#                   would run (bench.sh -n)
#     -i            install the harness's packages only, then exit
#     -h            this help
#   Arguments after "--" are passed on to bench.sh (later options win there), e.g.
#   -- -e raw,tight -f 30.  The encoding defaults to raw (-e raw).
#
# Env: BENCH_SRC (harness source, default ../shared/bench next to the repo),
#      CARGO_TARGET_DIR (default target/), QUIET_PCT (default 20: before each run
#      bench.sh waits until the machine's busy CPU is below this % of one core; 0 = don't
#      wait), QUIET_MAX, SETTLE, DISPLAY_BASE, QEMU, XVNC (see bench.sh -h).
#
# Porthole runs in the harness as server "ours" with the command line
#   porthole -display none -nodefaults -vnc {host}:{display}{vncopts}
#            -guest bench,workload={workload},width={width},height={height},fps={fps}
# Runs as root, or as a user with sudo for the package installation.
set -euo pipefail

invoked_from=$(pwd)
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n=== %s\n' "$*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

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

# --- options ---------------------------------------------------------------------------
geoms=1024x768,1920x1080
runs=3
duration=10
workloads=full,noise,scroll,box,static
servers=qemu,xvnc,ours
outdir=""
dry=0
install_only=0
while getopts "g:r:d:w:s:o:nih" opt; do
    case $opt in
    g) geoms=$OPTARG ;;
    r) runs=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) workloads=$OPTARG ;;
    s) servers=$OPTARG ;;
    o) outdir=$OPTARG ;;
    n) dry=1 ;;
    i) install_only=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
bench_extra=("$@")

target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
if [ -z "$outdir" ]; then
    outdir=$target_dir/bench-results/$(date +%Y%m%d-%H%M%S)
else
    case $outdir in /*) ;; *) outdir=$invoked_from/$outdir ;; esac
fi
bench_src=${BENCH_SRC:-$root/../shared/bench}
bench_dir=$target_dir/bench
porthole=$target_dir/release/porthole
export QUIET_PCT=${QUIET_PCT:-20}

has_server() { case ",$servers," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# --- system packages -------------------------------------------------------------------
# package:command-it-provides
apt_wanted=(qemu-system-x86:qemu-system-x86_64 tigervnc-standalone-server:Xvnc
    iperf3:iperf3 socat:socat make:make gcc:gcc python3:python3)
# Packages that install no command: headers and libraries the harness builds against
# (libvncclient for the client, Xlib + MIT-SHM for the X generator, zlib for the
# baselines) and the 32-bit gcc support for the multiboot guest (-m32).
apt_libraries=(libvncserver-dev libx11-dev libxext-dev zlib1g-dev gcc-multilib)
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
    if [ "$dry" = 1 ]; then
        say "would install ${apt_missing[*]} (dry run: not installing)"
    else
        say "installing ${apt_missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${apt_missing[@]}" >/dev/null
    fi
fi
if [ "$dry" = 0 ]; then
    for entry in "${apt_wanted[@]}"; do
        cmd=${entry#*:}
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
fi
# bench.sh also needs ss (iproute2), setsid and timeout; they come with the base system.
for cmd in ss setsid timeout; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "$cmd is missing (bench.sh needs it)" >&2
        exit 1
    fi
done
[ "$install_only" = 1 ] && { say "packages in place"; exit 0; }

# --- build Porthole ----------------------------------------------------------------------
if has_server ours; then
    if [ "$dry" = 1 ]; then
        say "would run: cargo build --release -p porthole (dry run: not building)"
    else
        say "cargo build --release -p porthole"
        cargo build --release -p porthole
        [ -x "$porthole" ] || { echo "$porthole not built" >&2; exit 1; }
    fi
fi

# --- harness: fresh copy, build ----------------------------------------------------------
if [ ! -f "$bench_src/bench.sh" ]; then
    echo "no harness at $bench_src (set BENCH_SRC)" >&2
    exit 1
fi
bench_src=$(cd "$bench_src" && pwd)
say "copying $bench_src to $bench_dir"
# The source is read-only and cp keeps its modes: make the copy writable (and removable).
if [ -e "$bench_dir" ]; then
    chmod -R u+w "$bench_dir"
    rm -rf "$bench_dir"
fi
mkdir -p "$target_dir"
cp -r "$bench_src" "$bench_dir"
chmod -R u+w "$bench_dir"
if [ "$dry" = 1 ]; then
    say "would run: make -C $bench_dir (dry run: not building)"
else
    say "make -C $bench_dir"
    make -C "$bench_dir"
fi

# --- run the matrix, one bench.sh per geometry ---------------------------------------------
ours_template="$porthole -display none -nodefaults -vnc {host}:{display}{vncopts}"
ours_template+=" -guest bench,workload={workload},width={width},height={height},fps={fps}"
# Ratios go against QEMU in bench.sh's own summary.md (when it is measured).
ref=qemu
has_server qemu || ref=${servers%%,*}

IFS=, read -r -a geom_list <<<"$geoms"
failed=()
first=1
for geom in "${geom_list[@]}"; do
    args=(-s "$servers" -w "$workloads" -e raw -r "$runs" -d "$duration" -g "$geom"
        -o "$outdir/$geom" -R "$ref")
    has_server ours && args+=(-S "ours=$ours_template")
    # bench.sh's baselines cover both this geometry and 1920x1080: once is enough.
    [ "$first" = 1 ] || args+=(-B)
    [ "$dry" = 1 ] && args+=(-n)
    first=0
    printf -v shown ' %q' "${args[@]}" "${bench_extra[@]}"
    say "QUIET_PCT=$QUIET_PCT bench.sh$shown"
    if ! "$bench_dir/bench.sh" "${args[@]}" "${bench_extra[@]}"; then
        failed+=("$geom")
    fi
done

if [ "$dry" = 1 ]; then
    say "dry run: nothing measured"
    exit 0
fi

# --- ratio tables against QEMU and against Xvnc ----------------------------------------------
say "summaries"
for geom in "${geom_list[@]}"; do
    dir=$outdir/$geom
    tsv=$dir/results.tsv
    if [ ! -s "$tsv" ]; then
        echo "$geom: no $tsv" >&2
        failed+=("$geom summary")
        continue
    fi
    base=()
    [ -s "$dir/baselines.txt" ] && base=(--baselines "$dir/baselines.txt")
    for r in qemu xvnc; do
        has_server "$r" || continue
        if python3 "$bench_dir/summarize.py" --ref "$r" "${base[@]}" "$tsv" >"$dir/summary-vs-$r.md"; then
            echo "$geom vs $r: $dir/summary-vs-$r.md"
        else
            failed+=("$geom summary vs $r")
        fi
    done
done
echo "results: $outdir"

if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
