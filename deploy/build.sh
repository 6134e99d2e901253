#!/usr/bin/env bash
# Build walwire, and install it into a staging directory when asked.
# The one build script: tests/run.sh and the Dockerfile's build stage both
# run it, so what CI tests is built the way the image is.
#
#   deploy/build.sh [OPTIONS] [MESON-OPTION...]
#
#   --builddir DIR    build directory              (env WW_BUILD_DIR, default build-release)
#   --buildtype TYPE  meson buildtype              (env WW_BUILDTYPE, default release)
#   --prefix DIR      install prefix               (env WW_PREFIX, default /usr/local)
#   --libdir DIR      library dir, relative to the prefix; sink modules go to
#                     <prefix>/<libdir>/walwire     (env WW_LIBDIR, default meson's)
#   --destdir DIR     after building, `meson install --destdir DIR`
#                     (env WW_DESTDIR; default: no install)
#   --strip           strip binaries when installing (env WW_STRIP=1)
#   --no-deps         do not run deploy/install-deps.sh (env WW_NO_DEPS=1)
#   --deps-only       only install the build dependencies, then exit (the
#                     Dockerfile runs this first, as a layer of its own)
#   -Dopt=value ...   any other argument goes to meson as it is, e.g.
#                     -Dwerror=true or -Dtests=false (no test suites, no Criterion)
#
# Examples:
#   deploy/build.sh                                           # build-release/walwire
#   deploy/build.sh --prefix /usr --libdir lib --destdir /tmp/stage --strip
#   deploy/build.sh --builddir build-tests --buildtype debugoptimized -Dwerror=true
#
# The sink directory compiled into walwire is <prefix>/<libdir>/walwire, so
# the installed tree (moved from DESTDIR to /) finds its modules without a
# [sink] dir. An existing build directory is reconfigured with the options
# given (meson configure), never wiped. Relative directories are taken from
# where the script is called. Exits non-zero on the first failure, with a
# line naming the step.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

builddir=${WW_BUILD_DIR:-build-release}
buildtype=${WW_BUILDTYPE:-release}
prefix=${WW_PREFIX:-/usr/local}
libdir=${WW_LIBDIR:-}
destdir=${WW_DESTDIR:-}
strip=${WW_STRIP:-0}
deps=$([ "${WW_NO_DEPS:-0}" = 1 ] && echo 0 || echo 1)
deps_only=0
extra=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-2}"; }
need_arg() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then
        echo "build.sh: $1 needs a value" >&2
        exit 2
    fi
}

while [ $# -gt 0 ]; do
    case "$1" in
    --builddir) need_arg "$@"; builddir=$2; shift 2 ;;
    --buildtype) need_arg "$@"; buildtype=$2; shift 2 ;;
    --prefix) need_arg "$@"; prefix=$2; shift 2 ;;
    --libdir) need_arg "$@"; libdir=$2; shift 2 ;;
    --destdir) need_arg "$@"; destdir=$2; shift 2 ;;
    --builddir=* | --buildtype=* | --prefix=* | --libdir=* | --destdir=*)
        opt=${1%%=*}; val=${1#*=}; shift; set -- "$opt" "$val" "$@" ;;
    --strip) strip=1; shift ;;
    --no-deps) deps=0; shift ;;
    --deps-only) deps_only=1; shift ;;
    -h | --help) usage 0 ;;
    -D*) extra+=("$1"); shift ;;
    *) echo "build.sh: unknown argument \"$1\" (meson options are passed as -Dname=value)" >&2; exit 2 ;;
    esac
done

step() { echo "build.sh: $*" >&2; }
fail() { echo "build.sh: $* failed" >&2; exit 1; }

if [ "$deps" = 1 ] || [ "$deps_only" = 1 ]; then
    deploy/install-deps.sh build || fail "installing the build dependencies"
fi

[ "$deps_only" = 1 ] && exit 0

# From here on the working directory is the source root.
case "$builddir" in /*) ;; *) builddir=$caller/$builddir ;; esac
case "$destdir" in /* | "") ;; *) destdir=$caller/$destdir ;; esac

opts=("-Dbuildtype=$buildtype" "-Dprefix=$prefix")
[ -n "$libdir" ] && opts+=("-Dlibdir=$libdir")
opts+=("${extra[@]}")

if [ -f "$builddir/build.ninja" ]; then
    # --reconfigure rather than `meson configure`: it also reads options
    # added to meson_options.txt since the directory was set up.
    meson setup --reconfigure "$builddir" "${opts[@]}" >/dev/null ||
        fail "meson setup --reconfigure $builddir"
else
    step "meson setup $builddir ${opts[*]}"
    meson setup "$builddir" "${opts[@]}" >/dev/null || {
        # Show why (meson's log names the missing dependency or bad option).
        tail -n 20 "$builddir/meson-logs/meson-log.txt" >&2 2>/dev/null || true
        fail "meson setup $builddir"
    }
fi

# Quiet when it works; on failure build again verbosely so the errors show.
ninja -C "$builddir" >/dev/null || { ninja -C "$builddir" || true; fail "ninja -C $builddir"; }

if [ -n "$destdir" ]; then
    mkdir -p "$destdir"
    args=(--no-rebuild --destdir "$destdir")
    [ "$strip" = 1 ] && args+=(--strip)
    meson install -C "$builddir" "${args[@]}" >/dev/null || fail "meson install --destdir $destdir"
    step "installed into ${destdir%/}$prefix (sink modules: $prefix/${libdir:-<meson libdir>}/walwire)"
fi
