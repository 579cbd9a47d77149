#!/usr/bin/env bash
# install-deps.sh - install what Ratusz needs to build (and test) on Debian 12.
#
#   deploy/install-deps.sh                    build and run: compiler, CMake,
#                                             ZeroMQ, protobuf-c, LMDB, ...
#   deploy/install-deps.sh --with-test-tools  also clang (ASan/UBSan and
#                                             libFuzzer), promtool,
#                                             systemd-analyze, and Python
#                                             with pyzmq, protobuf and yaml
#
# Idempotent: when every package is already installed it does nothing and
# needs no root. Otherwise it must run as root (apt-get).
set -euo pipefail

BUILD_PKGS=(
    build-essential     # gcc, make, libc headers
    cmake
    pkg-config
    libzmq3-dev         # ZeroMQ: front (ROUTER) and stream (XPUB) sockets
    libprotobuf-c-dev   # protobuf-c runtime
    protobuf-c-compiler # protoc-c: generates the schema code at build time
    protobuf-compiler   # protoc, which protoc-c builds on
    libprotobuf-dev     # google/protobuf/descriptor.proto: schema annotations
    liblmdb-dev         # the store
    lmdb-utils          # mdb_stat / mdb_dump, to look inside a store
    libuv1-dev          # adapter runtime: sources, timers, HTTP loop
    libcsv-dev          # adapters: semicolon CSV exports
    libxml2-dev         # adapters: Rb-28S, DN-1, GML, eTERYT XML
    libcurl4-openssl-dev # adapters: the webhook sink's HTTP client
    libssl-dev          # adapters: SHA-256 content ids (libcrypto)
    librdkafka-dev      # ratusz-kafka: the Kafka bridge (and its mock cluster)
    libyaml-dev         # ratuszd.yaml
    libmicrohttpd-dev   # Prometheus /metrics endpoint
    libsystemd-dev      # ratuszd: sd_notify (Type=notify, watchdog, STATUS)
    libjansson-dev      # CloudEvents JSON out (and the JSON of the adapters)
    libyajl-dev         # CloudEvents JSON in: the reader's parser (lib/jdoc.c)
    libncurses-dev      # ratusz top: the full-screen view (ncursesw)
    libsodium-dev       # the web console: Argon2id password hashes, tokens
    libcmocka-dev       # unit and integration tests
    curl                # demo and tests: scrape /metrics
    procps              # ps, pgrep for scripts
    help2man            # man pages from each program's --help
    file                # cpack -G DEB: finds the ELF files for dpkg-shlibdeps
)
# Only the test suite needs these (clang and prometheus are ~100 MB each).
TEST_PKGS=(
    clang               # -fsanitize=address,undefined and libFuzzer
    prometheus          # for /usr/bin/promtool (checks the metrics format,
                        #   the alert rules and their unit tests)
    python3-yaml        # tests/ops: reads the alert rules
    systemd             # tests/ops: systemd-analyze verifies the units
    python3             # tests/protocol/client.py: a second client, written
    python3-zmq         #   from docs/PROTOCOL.md alone, on pyzmq and the
    python3-protobuf    #   classes protoc generates from proto/
    kcat                # tests/bridge: reads the mock Kafka cluster as a
                        #   real Kafka client would
    gdal-bin            # tests/adapters: ogrinfo opens the GIS sink's output
    man-db              # tests/package: man -l renders each man page
    chromium            # tests/console: the web console in a real browser
    chromium-driver     #   (headless, driven over WebDriver)
    tmux                # tests/integration/test_top.py: ratusz top on a
                        #   terminal of a given size, read with capture-pane
)

usage() {
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
}

pkgs=("${BUILD_PKGS[@]}")
for arg in "$@"; do
    case "$arg" in
        --with-test-tools) pkgs+=("${TEST_PKGS[@]}") ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-deps: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#pkgs[@]} packages are installed"
    exit 0
fi

if [[ ! -r /etc/debian_version ]]; then
    echo "install-deps: this script knows Debian 12 (bookworm) package names." >&2
    echo "install-deps: install the equivalents of: ${missing[*]}" >&2
    exit 1
fi

if ((EUID != 0)); then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root, for example:" >&2
    echo "    sudo $0 $*" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

# The prometheus package starts a Prometheus server where systemd runs; the
# tests need only its promtool binary.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null &&
    systemctl is-active --quiet prometheus 2>/dev/null; then
    echo "install-deps: note: the 'prometheus' package started prometheus.service" \
        "(:9090); Ratusz needs only promtool. To stop it:" \
        "systemctl disable --now prometheus"
fi
