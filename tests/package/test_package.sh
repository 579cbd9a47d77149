#!/usr/bin/env bash
# test_package.sh - the Debian packages, installed into a scratch root, give
# a third-party program what it needs to talk to the installed broker.
#
#   test_package.sh BUILD_DIR SOURCE_DIR CC [CFLAGS]
#
# 1. cpack -G DEB in BUILD_DIR makes ratusz, libratusz0 and libratusz-dev.
# 2. Their control data: Depends, conffiles, maintainer scripts; the
#    postinst runs with stub commands (adduser, chown, ...) that record what
#    it would do to the machine, so it is checked without a chroot and
#    without touching this machine's users and /var/lib.
# 3. dpkg-deb -x unpacks them into a scratch root (not dpkg -i: a
#    developer's machine is not disposable, and root's dpkg database would
#    then hold a test package).
# 4. The root's files: programs, units pointing at /usr/bin and running as
#    ratusz and passing tests/ops/units.py, libratusz.so.0 (readelf: SONAME,
#    exports), man pages (man -l).
# 5. hello.c is compiled with `pkg-config --cflags --libs ratusz` from the
#    root (prefix moved there with --define-variable), against the shared
#    and, with --static, the static library, and run against the root's own
#    ratuszd, started with the root's /etc/ratusz/ratuszd.yaml.
#
# CC and CFLAGS are the build's compiler and its sanitizer flags: a library
# from a sanitizer build needs its runtime in the program. Exits 0 when
# every check passed, 1 naming the first that failed, 77 when a tool is
# missing.
set -euo pipefail

if (($# < 3)); then
    echo "usage: test_package.sh BUILD_DIR SOURCE_DIR CC [CFLAGS]" >&2
    exit 2
fi
BUILD=$1 SRC=$2 CC=$3
read -r -a EXTRA_CFLAGS <<<"${4:-}"

fail() {
    echo "test_package: FAIL: $*" >&2
    exit 1
}
skip() {
    echo "test_package: SKIP: $*" >&2
    exit 77
}
step() { echo "--- $*"; }

for tool in cpack dpkg-deb readelf nm pkg-config man gzip python3; do
    command -v "$tool" >/dev/null || skip "$tool is missing"
done
[[ -d $BUILD/man ]] ||
    skip "no man pages in $BUILD: help2man was missing at configure time" \
        "(deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ratusz-pkg.XXXXXX")
broker_pid=
cleanup() {
    if [[ -n $broker_pid ]]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' \
    "$BUILD/CPackConfig.cmake")
[[ -n $version ]] || fail "no CPACK_PACKAGE_VERSION in $BUILD/CPackConfig.cmake"
arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
    gcc -print-multiarch)

# --- 1. the packages ------------------------------------------------------------
step "cpack -G DEB ($version, $arch)"
if ! cpack -G DEB -B "$work/pkg" --config "$BUILD/CPackConfig.cmake" \
    >"$work/cpack.log" 2>&1; then
    cat "$work/cpack.log" >&2
    fail "cpack -G DEB failed"
fi
server=$work/pkg/ratusz_${version}_$arch.deb
lib=$work/pkg/libratusz0_${version}_$arch.deb
dev=$work/pkg/libratusz-dev_${version}_$arch.deb
for deb in "$server" "$lib" "$dev"; do
    [[ -f $deb ]] || fail "cpack made no $(basename "$deb"): $(ls "$work/pkg")"
done

# --- 2. control data and the postinst ---------------------------------------------
step "control data"
depends=$(dpkg-deb -f "$server" Depends)
[[ $depends == *adduser* ]] || fail "ratusz does not depend on adduser: $depends"
[[ $depends == *libzmq5* ]] ||
    fail "ratusz's Depends has no libzmq5 (dpkg-shlibdeps): $depends"
[[ $(dpkg-deb -f "$dev" Depends) == *"libratusz0 (= $version)"* ]] ||
    fail "libratusz-dev does not depend on libratusz0 (= $version)"
dpkg-deb -e "$server" "$work/ctl"
dpkg-deb -e "$lib" "$work/ctl-lib"
grep -qx /etc/ratusz/ratuszd.yaml "$work/ctl/conffiles" ||
    fail "/etc/ratusz/ratuszd.yaml is not a conffile"
for s in postinst prerm postrm; do
    [[ -x $work/ctl/$s ]] || fail "ratusz has no executable $s"
done
grep -qx 'activate-noawait ldconfig' "$work/ctl-lib/triggers" ||
    fail "libratusz0 has no ldconfig trigger"
grep -q '^libratusz 0 libratusz0' "$work/ctl-lib/shlibs" ||
    fail "libratusz0's shlibs: $(cat "$work/ctl-lib/shlibs" 2>/dev/null)"

step "postinst configure, with stub commands"
# Every command the script runs is a stub that appends its name and
# arguments to calls.log; PATH holds nothing else, so a command without a
# stub fails the script (set -e) instead of running for real. getent
# answers "no such user", dpkg-statoverride "no override".
stubs=$work/stubs
mkdir "$stubs"
for cmd in adduser mkdir chown chmod systemctl dpkg-statoverride getent; do
    rc=0
    [[ $cmd == getent || $cmd == dpkg-statoverride ]] && rc=1
    printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit %d\n' \
        "$cmd" "$work/calls.log" "$rc" >"$stubs/$cmd"
    chmod +x "$stubs/$cmd"
done
PATH=$stubs /bin/sh "$work/ctl/postinst" configure ||
    fail "postinst configure exited with $?"
expect_call() {
    grep -qxF -- "$1" "$work/calls.log" ||
        fail "postinst did not run '$1'; it ran: $(cat "$work/calls.log")"
}
expect_call "getent passwd ratusz"
expect_call "adduser --system --group --quiet --home /var/lib/ratusz --no-create-home --gecos Ratusz event broker ratusz"
expect_call "mkdir -p /var/lib/ratusz"
expect_call "chown ratusz:ratusz /var/lib/ratusz"
expect_call "chmod 0750 /var/lib/ratusz"
# and nothing for an upgrade's abort paths
: >"$work/calls.log"
PATH=$stubs /bin/sh "$work/ctl/postinst" abort-upgrade ||
    fail "postinst abort-upgrade exited with $?"
[[ ! -s $work/calls.log ]] ||
    fail "postinst abort-upgrade ran: $(cat "$work/calls.log")"

# --- 3. the scratch root -----------------------------------------------------------
step "dpkg-deb -x into a scratch root"
root=$work/root
for deb in "$server" "$lib" "$dev"; do
    dpkg-deb -x "$deb" "$root"
done
libdir=$root/usr/lib/$triplet

# --- 4. what is in it ----------------------------------------------------------------
step "programs, units, configuration"
programs=(ratuszd ratusz ratusz-adapter)
[[ -x $BUILD/bridge/kafka/ratusz-kafka ]] &&
    programs+=(ratusz-kafka ratusz-kafka-mock)
for p in "${programs[@]}"; do
    [[ -x $root/usr/bin/$p ]] || fail "no /usr/bin/$p in the package"
    out=$("$root/usr/bin/$p" --version) || fail "$p --version exited with $?"
    [[ $out == "$p $version"* ]] || fail "$p --version says '$out'"
done
for u in ratuszd.service ratusz-adapter@.service ratusz-kafka@.service; do
    f=$root/lib/systemd/system/$u
    [[ -f $f ]] || fail "no /lib/systemd/system/$u"
    ! grep -q /usr/local "$f" || fail "$u still names /usr/local"
    grep -q '^ExecStart=/usr/bin/' "$f" || fail "$u does not run /usr/bin/..."
done
unit=$root/lib/systemd/system/ratuszd.service
grep -qx 'User=ratusz' "$unit" || fail "ratuszd.service does not run as ratusz"
! grep -q '^DynamicUser=' "$unit" || fail "ratuszd.service has DynamicUser="
grep -q '^ExecStart=/usr/bin/ratuszd -c /etc/ratusz/ratuszd.yaml' "$unit" ||
    fail "ratuszd.service does not read /etc/ratusz/ratuszd.yaml"
cmp -s "$root/etc/ratusz/ratuszd.yaml" "$SRC/deploy/ratuszd.yaml" ||
    fail "/etc/ratusz/ratuszd.yaml is not deploy/ratuszd.yaml"
for f in principals.example.yaml adapters/ndjson.yaml; do
    [[ -f $root/usr/share/doc/ratusz/examples/$f ]] ||
        fail "no example $f in /usr/share/doc/ratusz/examples"
done
[[ ! -e $root/var/lib/ratusz ]] ||
    fail "/var/lib/ratusz is in the package (postinst makes it)"

# The packaged units as tests/ops/units.py checks deploy/'s: they load
# (systemd-analyze verify) and are hardened as well (exposure score).
mkdir -p "$work/units/deploy"
cp "$root"/lib/systemd/system/*.service "$work/units/deploy/"
rc=0
python3 "$SRC/tests/ops/units.py" "$work/units" >"$work/units.log" 2>&1 || rc=$?
if ((rc == 77)); then
    echo "(units not verified: $(tail -1 "$work/units.log"))"
elif ((rc != 0)); then
    cat "$work/units.log" >&2
    fail "the packaged units do not pass tests/ops/units.py"
fi

step "libratusz.so: SONAME and exports"
so=$libdir/libratusz.so.$version
[[ -f $so ]] || fail "no ${so#"$root"}"
[[ $(readlink "$libdir/libratusz.so.0") == "libratusz.so.$version" ]] ||
    fail "libratusz.so.0 does not point at libratusz.so.$version"
[[ $(readlink "$libdir/libratusz.so") == libratusz.so.0 ]] ||
    fail "libratusz.so (libratusz-dev) does not point at libratusz.so.0"
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libratusz.so.0 ]] || fail "SONAME is '$soname'"
nm -D --defined-only "$so" | awk '{ print $3 }' | sed 's/@.*//' >"$work/exports"
for sym in rz_client_new rz_publish rz_get_seq rz_strerror rz_keyopts_load \
    ratusz__v1__event__descriptor; do
    grep -qx "$sym" "$work/exports" || fail "libratusz.so does not export $sym"
done
if grep -E '^(rzc_|rz__|rz_personal|rz_thousands|rz_wire_)' "$work/exports"; then
    fail "libratusz.so exports internal symbols (above)"
fi
[[ -f $libdir/libratusz.a ]] || fail "no libratusz.a"
[[ -f $root/usr/include/ratusz/v1/event.pb-c.h ]] ||
    fail "no generated header ratusz/v1/event.pb-c.h"

step "man pages"
pages=(man8/ratuszd.8 man1/ratusz.1 man1/ratusz-adapter.1)
[[ -x $BUILD/bridge/kafka/ratusz-kafka ]] &&
    pages+=(man1/ratusz-kafka.1 man1/ratusz-kafka-mock.1)
for p in "${pages[@]}"; do
    f=$root/usr/share/man/$p.gz
    [[ -f $f ]] || fail "no /usr/share/man/$p.gz"
    name=$(basename "$p")
    name=${name%.*}
    LC_ALL=C MANWIDTH=80 man -l "$f" >"$work/page" 2>"$work/man.err" ||
        fail "man -l $p: $(cat "$work/man.err")"
    for section in NAME SYNOPSIS DESCRIPTION; do
        grep -q "^$section" "$work/page" || fail "man $p has no $section"
    done
    grep -Eq "^ +$name +- " "$work/page" || fail "man $p does not name $name"
done
LC_ALL=C MANWIDTH=80 man -l "$root/usr/share/man/man1/ratusz.1.gz" >"$work/page"
for c in pub get query replay fetch keygen; do
    grep -q "^   ratusz $c\$" "$work/page" ||
        fail "man ratusz has no section for 'ratusz $c'"
done

# --- 5. a third-party program ---------------------------------------------------------
step "pkg-config --cflags --libs ratusz"
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc=(pkg-config "--define-variable=prefix=$root/usr" ratusz)
[[ $("${pc[@]}" --modversion) == "$version" ]] ||
    fail "pkg-config --modversion ratusz: $("${pc[@]}" --modversion)"
read -r -a cflags <<<"$("${pc[@]}" --cflags)"
read -r -a libs <<<"$("${pc[@]}" --libs)"
[[ " ${cflags[*]} " == *" -I$root/usr/include "* ]] ||
    fail "cflags do not point into the root: ${cflags[*]}"
[[ " ${libs[*]} " == *" -L$libdir "* ]] ||
    fail "libs do not point into the root: ${libs[*]}"
"$CC" -std=c11 -Wall -Wextra -Werror "${EXTRA_CFLAGS[@]}" "${cflags[@]}" \
    -o "$work/hello" "$SRC/tests/package/hello.c" "${libs[@]}" ||
    fail "hello.c does not build with pkg-config's flags"
readelf -d "$work/hello" | grep -q 'NEEDED.*\[libratusz.so.0\]' ||
    fail "hello is not linked against libratusz.so.0"

# Static: libratusz.a with the libraries ratusz.pc's Requires.private and
# Libs.private name, each linked as the system has it. (`pkg-config --static`
# itself cannot be used: Debian's libzmq.pc names static archives of its
# own dependencies that no package ships.)
read -r -a private <<<"$("${pc[@]}" --print-requires-private | awk '{ print $1 }' | tr '\n' ' ')"
((${#private[@]})) || fail "ratusz.pc has no Requires.private"
read -r -a libs_private <<<"$(sed -n 's/^Libs.private: //p' "$libdir/pkgconfig/ratusz.pc")"
read -r -a static_libs <<<"$("${pc[@]}" --libs-only-l) $(pkg-config --libs "${private[@]}")"
static_libs=("${static_libs[@]/#-lratusz/$libdir/libratusz.a}" "${libs_private[@]}")
"$CC" -std=c11 -Wall -Wextra -Werror "${EXTRA_CFLAGS[@]}" "${cflags[@]}" \
    -o "$work/hello-static" "$SRC/tests/package/hello.c" "${static_libs[@]}" ||
    fail "hello.c does not link statically with pkg-config --static"
! readelf -d "$work/hello-static" | grep -q 'libratusz' ||
    fail "hello-static still needs libratusz.so"

step "the root's ratuszd and hello"
data=$work/data
mkdir "$data"
front=
for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 12000))
    front=tcp://127.0.0.1:$port
    "$root/usr/bin/ratuszd" -c "$root/etc/ratusz/ratuszd.yaml" \
        --data-dir "$data" --listen "$front" \
        --stream "tcp://127.0.0.1:$((port + 1))" --metrics off \
        2>>"$work/ratuszd.log" &
    broker_pid=$!
    up=no
    for _ in $(seq 100); do
        if "$root/usr/bin/ratusz" -e "$front" -t 500 health >/dev/null 2>&1; then
            up=yes
            break
        fi
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.1
    done
    [[ $up == yes ]] && break
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=
    echo "ratuszd did not come up on $front (attempt $attempt)"
done
[[ -n $broker_pid ]] || fail "ratuszd did not start: $(tail -5 "$work/ratuszd.log")"

run_hello() { # PROGRAM ID
    LD_LIBRARY_PATH=$libdir "$1" "$front" "$2" >"$work/out" 2>"$work/err" ||
        fail "$(basename "$1") exited with $?: $(cat "$work/err")"
    seq=$(sed -n '1s/^seq \([0-9][0-9]*\)$/\1/p' "$work/out")
    [[ -n $seq ]] || fail "$(basename "$1") printed no seq: $(cat "$work/out")"
    grep -q "\"id\":\"$2\"" "$work/out" ||
        fail "$(basename "$1") did not print the event back: $(cat "$work/out")"
    grep -q '"NAZWA":"Kraków"' "$work/out" ||
        fail "the event came back without its data: $(cat "$work/out")"
}
loaded=$(LD_LIBRARY_PATH=$libdir ldd "$work/hello" | grep libratusz || true)
[[ $loaded == *"libratusz.so.0 => $libdir/libratusz.so.0 "* ]] ||
    fail "hello does not load the root's libratusz.so.0: $loaded"
run_hello "$work/hello" hello-shared-1
seq1=$seq
run_hello "$work/hello-static" hello-static-1
((seq > seq1)) || fail "the second event's seq $seq is not after $seq1"
# the installed CLI sees what the third-party program stored
"$root/usr/bin/ratusz" -e "$front" get "$seq1" >"$work/get" ||
    fail "ratusz get $seq1 exited with $?"
grep -q '"id":"hello-shared-1"' "$work/get" ||
    fail "ratusz get $seq1: $(cat "$work/get")"

kill -TERM "$broker_pid"
rc=0
wait "$broker_pid" || rc=$?
broker_pid=
((rc == 0)) || fail "ratuszd exited with $rc after SIGTERM"
echo "test_package: all checks passed"
