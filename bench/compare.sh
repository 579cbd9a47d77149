#!/usr/bin/env bash
# compare.sh - Ratusz against Redis Streams, NATS JetStream and Mosquitto,
# on this machine, with the same workloads and C clients for every system.
#
#   bench/compare.sh              the full run (about 55 min on 2 cores)
#   bench/compare.sh --quick      a short run for development (about 5 min)
#
# Options:
#   --rounds N      rounds of every measurement, interleaved (A B C A B C
#                   ...); default 3, or $ROUNDS
#   --duration S    seconds each measurement publishes for (5; quick 1)
#   --only LIST     workloads to run, comma-separated: ingest, multi,
#                   fanout, replay, scale, security (default all)
#   --dir DIR       where the temporary data folders go (default
#                   $RZ_BENCH_DIR or /var/tmp: a disk, not tmpfs, where
#                   fsync means something)
#   --scale-budget S  seconds each scale series may take at most (1200;
#                   quick 180; or $RZ_BENCH_SCALE_BUDGET): it stops growing
#                   the store then, and says so in the results
#   --scale-subjects LIST  the scale series: distinct subjects the events
#                   are spread over, comma-separated (10000,200000; quick
#                   10000); each series grows its own store
#   --keep          keep the temporary folder (logs, stores) afterwards
#   --no-install    do not install missing packages
#
# What it does: installs the peers from Debian packages when they are
# missing (redis-server, redis-tools, nats-server, libnats-dev, mosquitto,
# libmosquitto-dev, libhiredis-dev; needs root), builds Release into
# build-bench/, starts each server on 127.0.0.1 on a free port with its
# data in a fresh temporary folder, runs the load generator of bench/ for
# it, and stops it by its own PID. Broker CPU time and memory come from
# /proc/PID/stat, /proc/PID/status and /proc/PID/io before and after each
# measurement.
#
# The security workload compares Ratusz with itself: plain against
# ratusz-curve (CURVE with grants and a redacted stream; keys and a
# principals file made in the temporary folder with `ratusz keygen`) for
# ingest at window 4096 and fan-out p99, and GETs of events with personal
# data by a cleared principal (as stored) against an uncleared one
# (ratusz-curve-redacted: pseudonymised).
#
# Results: a table on stdout and in bench/results/latest.txt, a summary in
# bench/results/latest.json, a chart in bench/results/latest.svg, and every
# raw measurement in bench/results/latest.jsonl; a run of some workloads
# (--only) writes latest-WORKLOADS.* instead (latest-security.txt, ...),
# so that it does not replace the full comparison. Benchmarks print numbers;
# nothing here asserts a time.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }

# --- options --------------------------------------------------------------------
QUICK=no
ROUNDS=${ROUNDS:-3}
DURATION=
ALL_WORKLOADS=ingest,multi,fanout,replay,scale,security
ONLY=$ALL_WORKLOADS
BASE_DIR=${RZ_BENCH_DIR:-/var/tmp}
KEEP=no
INSTALL=yes
SCALE_BUDGET_ARG=${RZ_BENCH_SCALE_BUDGET:-}
SCALE_SUBJECTS_ARG=
ARGS_GIVEN="$*"
while (($#)); do
    case "$1" in
        --quick) QUICK=yes ;;
        --rounds) ROUNDS=${2:?--rounds N}; shift ;;
        --duration) DURATION=${2:?--duration S}; shift ;;
        --only) ONLY=${2:?--only LIST}; shift ;;
        --dir) BASE_DIR=${2:?--dir DIR}; shift ;;
        --scale-budget) SCALE_BUDGET_ARG=${2:?--scale-budget S}; shift ;;
        --scale-subjects) SCALE_SUBJECTS_ARG=${2:?--scale-subjects LIST}; shift ;;
        --keep) KEEP=yes ;;
        --no-install) INSTALL=no ;;
        -h|--help) usage; exit 0 ;;
        *) echo "compare.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: bad --rounds '$ROUNDS'" >&2; exit 2; }
[[ -z $SCALE_BUDGET_ARG || $SCALE_BUDGET_ARG =~ ^[0-9]+$ ]] ||
    { echo "compare.sh: bad --scale-budget '$SCALE_BUDGET_ARG'" >&2; exit 2; }
[[ -z $SCALE_SUBJECTS_ARG || $SCALE_SUBJECTS_ARG =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
    { echo "compare.sh: bad --scale-subjects '$SCALE_SUBJECTS_ARG'" >&2; exit 2; }

if [[ $QUICK == yes ]]; then
    DURATION=${DURATION:-1}
    REPLAY_N=200000        # events stored, then read back
    SCALE_MAX=2000000      # the store grows to this
    SCALE_BUDGET=${SCALE_BUDGET_ARG:-180} # seconds for a scale series, at most
    SCALE_SUBJECTS=${SCALE_SUBJECTS_ARG:-10000}
    SCALE_QUERIES=500
    GET_N=20000            # events with personal data stored per get round
    GET_QUERIES=5000       # GETs per get round
else
    DURATION=${DURATION:-5}
    REPLAY_N=1000000
    SCALE_MAX=20000000
    SCALE_BUDGET=${SCALE_BUDGET_ARG:-1200}
    SCALE_SUBJECTS=${SCALE_SUBJECTS_ARG:-10000,200000}
    SCALE_QUERIES=2000
    GET_N=100000
    GET_QUERIES=20000
fi
SCALE_STEP=1000000
WINDOWS=(1 16 256 4096)
PUBLISHERS=16
FAN_RATE=20000
FAN_SUBS=(1 8)

want() { [[ ",$ONLY," == *",$1,"* ]]; }

log() { printf '%s\n' "$*" >&2; }

# --- packages -------------------------------------------------------------------
# scale and security measure Ratusz alone: with only those, the peers are
# neither installed nor built.
PEERS=no
for w in ${ONLY//,/ }; do
    [[ $w == scale || $w == security ]] || PEERS=yes
done
PEER_PKGS=(redis-server redis-tools nats-server libnats-dev mosquitto
           libmosquitto-dev libhiredis-dev)
[[ $PEERS == yes ]] || PEER_PKGS=()
missing=()
for p in ${PEER_PKGS[@]+"${PEER_PKGS[@]}"}; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $INSTALL == no ]]; then
        log "compare.sh: missing packages: ${missing[*]} (and --no-install)"
        exit 1
    fi
    if ((EUID != 0)); then
        log "compare.sh: the peers come from Debian packages, and these are missing:"
        log "    ${missing[*]}"
        log "Install them as root, then run this again:"
        log "    sudo apt-get install --no-install-recommends ${missing[*]}"
        exit 1
    fi
    log "compare.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Where systemd runs, these packages also start system-wide servers on
    # their default ports. This script does not use them (it starts its own
    # on free ports); stop them with: systemctl disable --now redis-server
    # nats-server mosquitto
fi
if [[ $INSTALL == yes ]]; then
    deploy/install-deps.sh >&2 || {
        ((EUID != 0)) && log "compare.sh: run deploy/install-deps.sh as root first"
        exit 1
    }
fi

# --- build ----------------------------------------------------------------------
BUILD=$ROOT/build-bench
log "compare.sh: building Release into build-bench/"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRZ_TESTS=OFF >/dev/null
TARGETS=(ratuszd ratusz-cli rz-bench-load rz-bench-report)
[[ $PEERS == yes ]] && TARGETS+=(redis-bench-load nats-bench-load mqtt-bench-load)
cmake --build "$BUILD" -j"$(nproc)" --target "${TARGETS[@]}" >/dev/null
RATUSZD=$BUILD/ratuszd
RATUSZ_CLI=$BUILD/ratusz
BIN=$BUILD/bench

# --- the temporary folder and cleanup -------------------------------------------
mkdir -p "$BASE_DIR"
WORK=$(mktemp -d "$BASE_DIR/ratusz-bench.XXXXXX")
FS_TYPE=$(stat -f -c %T "$WORK")
if [[ $FS_TYPE == tmpfs || $FS_TYPE == ramfs ]]; then
    log "compare.sh: warning: $BASE_DIR is $FS_TYPE: fsync costs nothing there," \
        "so durable numbers mean little. Use --dir on a disk."
fi
declare -A PIDS=() # pid -> system, every server this script started
KEYS=$WORK/keys     # made by security_keys when a ratusz-curve server starts

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "compare.sh: pid $pid did not stop in 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "PIDS[$pid]"
}

cleanup() {
    local pid
    for pid in "${!PIDS[@]}"; do
        stop_pid "$pid"
    done
    if [[ $KEEP == yes ]]; then
        log "compare.sh: data and logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- ports, /proc --------------------------------------------------------------
declare -A USED_PORTS=()
# Ports below the kernel's ephemeral range, so that no outgoing connection
# takes one between the check and the server's bind.
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPHEMERAL_LOW=32768
((EPHEMERAL_LOW > 12000)) || EPHEMERAL_LOW=32768
# free_port: set PORT to a port no socket uses and this script has not
# handed out yet.
free_port() {
    local i in_use=" " _ addr
    while read -r _ addr _; do
        [[ $addr == *:* ]] && in_use+="$((16#${addr##*:})) "
    done < <(tail -q -n +2 /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    for ((i = 0; i < 1000; i++)); do
        PORT=$((10000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LOW - 10000)))
        [[ -n ${USED_PORTS[$PORT]:-} || $in_use == *" $PORT "* ]] && continue
        USED_PORTS[$PORT]=1
        return 0
    done
    log "compare.sh: no free port"
    return 1
}

CLK_TCK=$(getconf CLK_TCK)
# Broker CPU seconds (user + system, all threads) so far.
# (0 when the process is gone: a failed measurement is recorded, not fatal)
cpu_s() {
    awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
write_bytes() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }

# The block device under the work folder, for what reaches the disk:
# write_bytes counts a whole page-cache folio each time one is dirtied
# (ext4 keeps files in large folios since Linux 6.16), which can be more
# than the blocks written. Empty on a file system without one (tmpfs).
DEV_STAT=
dev_stat_file() {
    local id
    id=$(stat -c '%Hd:%Ld' "$WORK" 2>/dev/null) || return 0
    [[ -r /sys/dev/block/$id/stat ]] && DEV_STAT=/sys/dev/block/$id/stat
    return 0
}
dev_stat_file
# Bytes written to that device so far, after a sync: what the system had
# dirty is written and counted before a measurement, and the measured
# broker's own after it (a sync waits for the whole system).
dev_bytes() {
    [[ -n $DEV_STAT ]] || return 0
    sync
    awk '{ printf "%.0f\n", $7 * 512 }' "$DEV_STAT"
}

# --- keys for ratusz-curve -------------------------------------------------------
# security_keys: once, the key pairs of the broker and of two client
# principals, and the grants: bench-cleared may do everything and read
# personal data; bench-uncleared the same but gets personal data
# pseudonymised.
security_keys() {
    [[ -s $KEYS/principals.yaml ]] && return 0
    local name
    mkdir -p -m 700 "$KEYS"
    for name in ratuszd bench-cleared bench-uncleared; do
        [[ -e $KEYS/$name.key ]] ||
            "$RATUSZ_CLI" keygen "$name" --dir "$KEYS" >/dev/null || return 1
    done
    cat >"$KEYS/principals.yaml" <<'EOF'
# principals.yaml - the load generator's two principals (bench/compare.sh)
principals:
  bench-cleared:
    key_file: bench-cleared.pub
    publish_sources: ["*"]
    publish_tenants: ["*"]
    read: [""]
    groups: ["*"]
    personal_data: true
    admin: [stats]
  bench-uncleared:
    key_file: bench-uncleared.pub
    publish_sources: ["*"]
    publish_tenants: ["*"]
    read: [""]
    groups: ["*"]
    admin: [stats]
EOF
}

# --- servers --------------------------------------------------------------------
# start_server SYSTEM DIR: start SYSTEM with its data in DIR; sets SRV_PID and
# CLIENT (the load generator with its connection options).
start_server() {
    local sys=$1 dir=$2 port port2 port3 i who
    local cli_keys=() # what `ratusz health` needs to reach the server
    mkdir -p "$dir"
    free_port
    port=$PORT
    case "$sys" in
        ratusz|ratusz-os|ratusz-stream)
            free_port
            port2=$PORT
            local sync=full
            [[ $sys == ratusz-os ]] && sync=os
            "$RATUSZD" --data-dir "$dir/data" --listen "tcp://127.0.0.1:$port" \
                --stream "tcp://127.0.0.1:$port2" --metrics off --sync "$sync" \
                --log-level warn >"$dir/server.log" 2>&1 &
            SRV_PID=$!
            CLIENT=("$BIN/rz-bench-load" --endpoint "tcp://127.0.0.1:$port"
                    --stream "tcp://127.0.0.1:$port2")
            # ratusz subscribers WATCH over the front; ratusz-stream's read
            # the stream socket (plain SUB, drops at the high-water mark)
            [[ $sys == ratusz-stream ]] && CLIENT+=(--sub stream)
            ;;
        ratusz-curve|ratusz-curve-redacted)
            # One broker configuration; the variants differ in the client's
            # principal. Subscribers use the full stream (bench-cleared).
            security_keys || { log "compare.sh: cannot make keys in $KEYS"; return 1; }
            free_port
            port2=$PORT
            free_port
            port3=$PORT
            who=bench-cleared
            [[ $sys == ratusz-curve-redacted ]] && who=bench-uncleared
            "$RATUSZD" --data-dir "$dir/data" --listen "tcp://127.0.0.1:$port" \
                --stream "tcp://127.0.0.1:$port2" \
                --stream-redacted "tcp://127.0.0.1:$port3" --metrics off \
                --sync full --server-key "$KEYS/ratuszd.key" \
                --principals "$KEYS/principals.yaml" \
                --log-level warn >"$dir/server.log" 2>&1 &
            SRV_PID=$!
            CLIENT=("$BIN/rz-bench-load" --endpoint "tcp://127.0.0.1:$port"
                    --stream "tcp://127.0.0.1:$port2"
                    --key "$KEYS/$who.key" --server-key "$KEYS/ratuszd.pub")
            cli_keys=(-k "$KEYS/$who.key" -K "$KEYS/ratuszd.pub")
            ;;
        redis-always|redis-everysec)
            redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
                --appendonly yes --appendfsync "${sys#redis-}" --save '' \
                --daemonize no --logfile "$dir/server.log" &
            SRV_PID=$!
            CLIENT=("$BIN/redis-bench-load" --port "$port")
            ;;
        nats)
            nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir" \
                -l "$dir/server.log" &
            SRV_PID=$!
            CLIENT=("$BIN/nats-bench-load" --url "nats://127.0.0.1:$port")
            ;;
        mosquitto)
            cat >"$dir/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $dir/
user $(id -un)
set_tcp_nodelay true
max_queued_messages 0
max_inflight_messages 1000
log_dest file $dir/server.log
EOF
            mosquitto -c "$dir/mosquitto.conf" 2>/dev/null &
            SRV_PID=$!
            CLIENT=("$BIN/mqtt-bench-load" --port "$port")
            ;;
        *) log "compare.sh: unknown system $sys"; return 1 ;;
    esac
    PIDS[$SRV_PID]=$sys
    CLIENT+=(--label "$sys")
    for ((i = 0; i < 200; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        case "$sys" in
            ratusz*) "$RATUSZ_CLI" -e "tcp://127.0.0.1:$port" \
                         ${cli_keys[@]+"${cli_keys[@]}"} -t 200 health \
                         >/dev/null 2>&1 && return 0 ;;
            redis-*) [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && return 0 ;;
            nats) grep -q 'Server is ready' "$dir/server.log" 2>/dev/null && return 0 ;;
            mosquitto) grep -q ' running' "$dir/server.log" 2>/dev/null && return 0 ;;
        esac
        sleep 0.05
    done
    log "compare.sh: $sys did not start; its log:"
    tail -5 "$dir/server.log" >&2 2>/dev/null || true
    stop_pid "$SRV_PID"
    return 1
}

# --- one measurement ------------------------------------------------------------
RESULTS_DIR=$ROOT/bench/results
mkdir -p "$RESULTS_DIR"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# measure WORKLOAD ROUND PARAMS_JSON TIME_LIMIT -- LOAD ARGS: run the client
# (CLIENT) against the running server SRV_PID, add what the broker spent, and
# append the JSON line to RESULTS. PARAMS_JSON ("\"window\":1,...") names
# the group of a measurement that printed nothing.
measure() {
    local workload=$1 round=$2 params=$3 limit=$4
    shift 5
    local c0 c1 r0 r1 a1 hwm w0 w1 d0 d1 out rc=0 line
    c0=$(cpu_s "$SRV_PID")
    r0=$(status_kb "$SRV_PID" VmRSS)
    d0=$(dev_bytes)
    w0=$(write_bytes "$SRV_PID")
    out=$(timeout --kill-after=10 "$limit" "${CLIENT[@]}" "$@" \
        2>>"$WORK/clients.log") || rc=$?
    c1=$(cpu_s "$SRV_PID")
    r1=$(status_kb "$SRV_PID" VmRSS)
    a1=$(status_kb "$SRV_PID" RssAnon)
    hwm=$(status_kb "$SRV_PID" VmHWM)
    w1=$(write_bytes "$SRV_PID")
    d1=$(dev_bytes)
    line=$(grep '^{' <<<"$out" | tail -1 || true)
    local sys=${PIDS[$SRV_PID]}
    if [[ -z $line ]]; then
        line="{\"system\":\"$sys\",\"mode\":\"$workload\",$params,\"failed\":true"
    else
        line=${line%\}}
        ((rc)) && line+=",\"failed\":true"
    fi
    line+=",\"workload\":\"$workload\",\"round\":$round,\"exit\":$rc"
    line+=",\"broker_cpu_s\":$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')"
    line+=",\"rss_kb_before\":${r0:-0},\"rss_kb_after\":${r1:-0},\"rss_hwm_kb\":${hwm:-0}"
    line+=",\"anon_kb_after\":${a1:-0}"
    line+=",\"write_bytes\":$((${w1:-0} - ${w0:-0}))"
    [[ -n $d0 && -n $d1 ]] && line+=",\"dev_write_bytes\":$((d1 - d0))"
    line+="${EXTRA_FIELDS:-}}"
    printf '%s\n' "$line" >>"$RESULTS"
    local rate note=""
    rate=$(sed -n 's/.*"events_per_s":\([0-9.e+]*\).*/\1/p' <<<"$line")
    [[ -n $rate ]] && note=$(printf '%.0f events/s' "$rate")
    ((rc == 0)) || note+=" (exit $rc, see clients.log)"
    log "$(printf '  %-10s round %-2s %-15s %s' "$workload" "$round" "$sys" "$note")"
    return 0
}

# run_fresh SYSTEM WORKLOAD ROUND PARAMS LIMIT -- ARGS: a fresh server for one
# measurement.
run_fresh() {
    local sys=$1 workload=$2 round=$3 params=$4 limit=$5
    shift 6
    local dir
    dir=$(mktemp -d "$WORK/$sys.XXXXXX")
    if ! start_server "$sys" "$dir"; then
        printf '{"system":"%s","mode":"%s",%s,"failed":true,"workload":"%s","round":%s}\n' \
            "$sys" "$workload" "$params" "$workload" "$round" >>"$RESULTS"
        return 0
    fi
    measure "$workload" "$round" "$params" "$limit" -- "$@"
    stop_pid "$SRV_PID"
    rm -rf "$dir"
}

LIMIT=$(awk -v d="$DURATION" 'BEGIN { printf "%d", d + 120 }')
T_START=$(date +%s)

# --- 1. durable ingest, one publisher ------------------------------------------
if want ingest; then
    log "== 1. ingest: one publisher, window ${WINDOWS[*]}"
    for w in "${WINDOWS[@]}"; do
        for ((r = 1; r <= ROUNDS; r++)); do
            for sys in ratusz redis-always redis-everysec nats mosquitto ratusz-os; do
                run_fresh "$sys" ingest "$r" "\"window\":$w" "$LIMIT" -- \
                    --mode ingest --window "$w" --duration "$DURATION"
            done
        done
    done
fi

# --- 2. many publishers ---------------------------------------------------------
if want multi; then
    log "== 2. multi: $PUBLISHERS publishers, window 1"
    for ((r = 1; r <= ROUNDS; r++)); do
        for sys in ratusz redis-always redis-everysec nats mosquitto; do
            run_fresh "$sys" multi "$r" "\"window\":1,\"publishers\":$PUBLISHERS" \
                "$LIMIT" -- --mode multi --publishers "$PUBLISHERS" --window 1 \
                --duration "$DURATION"
        done
    done
fi

# --- 3. fan-out -------------------------------------------------------------------
if want fanout; then
    log "== 3. fanout: $FAN_RATE events/s to ${FAN_SUBS[*]} subscribers; most to 1"
    for s in "${FAN_SUBS[@]}"; do
        for ((r = 1; r <= ROUNDS; r++)); do
            for sys in ratusz ratusz-stream redis-always nats mosquitto; do
                run_fresh "$sys" fanout "$r" \
                    "\"window\":4096,\"subscribers\":$s,\"rate\":$FAN_RATE" \
                    "$LIMIT" -- --mode fanout --rate "$FAN_RATE" --subscribers "$s" \
                    --window 4096 --duration "$DURATION" --timeout 10
            done
        done
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        for sys in ratusz ratusz-stream redis-always nats mosquitto; do
            run_fresh "$sys" fanout-max "$r" \
                "\"window\":4096,\"subscribers\":1,\"rate\":0" \
                "$LIMIT" -- --mode fanout --rate 0 --subscribers 1 \
                --window 4096 --duration "$DURATION" --timeout 30
        done
    done
fi

# --- 4. replay --------------------------------------------------------------------
if want replay; then
    log "== 4. replay: store $REPLAY_N events in each system, then read them back"
    declare -A REPLAY_PID=() REPLAY_CLIENT=()
    for sys in ratusz redis-always nats; do
        dir=$(mktemp -d "$WORK/replay-$sys.XXXXXX")
        start_server "$sys" "$dir" || continue
        log "  filling $sys"
        if ! timeout --kill-after=10 900 "${CLIENT[@]}" --mode ingest --window 4096 \
            --count "$REPLAY_N" --duration 800 >/dev/null 2>>"$WORK/clients.log"; then
            log "  filling $sys failed"
            stop_pid "$SRV_PID"
            continue
        fi
        REPLAY_PID[$sys]=$SRV_PID
        REPLAY_CLIENT[$sys]=$(printf '%q ' "${CLIENT[@]}")
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        for sys in ratusz redis-always nats; do
            [[ -n ${REPLAY_PID[$sys]:-} ]] || continue
            SRV_PID=${REPLAY_PID[$sys]}
            eval "CLIENT=(${REPLAY_CLIENT[$sys]})"
            EXTRA_FIELDS=",\"expected_events\":$REPLAY_N" \
                measure replay "$r" "\"expected_events\":$REPLAY_N" 300 -- \
                --mode replay --count "$REPLAY_N"
        done
    done
    for sys in "${!REPLAY_PID[@]}"; do
        stop_pid "${REPLAY_PID[$sys]}"
    done
fi

# --- 5. scale with size (Ratusz) -------------------------------------------------
if want scale; then
  # The store's page cache grows by gigabytes here. On a VM whose memory
  # the host backs only when the guest first touches it, that memory is
  # slow the first time: the probe says how slow, before the store grows.
  log "== 5. memory probe: 8 GB touched for the first time, then again"
  MEM_PROBE=$("$BIN/rz-bench-memprobe" 8 2>>"$WORK/clients.log" | tail -1) || MEM_PROBE=
  [[ $MEM_PROBE == '{'* ]] || MEM_PROBE=
  [[ -n $MEM_PROBE ]] && log "  $MEM_PROBE"
  IFS=, read -r -a series <<<"$SCALE_SUBJECTS"
  for subjects in "${series[@]}"; do
    # the first series keeps the plain name (earlier results compare)
    label=ratusz
    ((subjects == 10000)) || label=ratusz-subjects-$subjects
    log "== 5. scale: Ratusz from 0 to $SCALE_MAX events over $subjects subjects," \
        "$SCALE_STEP a step (budget ${SCALE_BUDGET} s)"
    dir=$(mktemp -d "$WORK/scale.XXXXXX")
    stopped=
    if start_server ratusz "$dir"; then
        t0=$(date +%s)
        stored=0
        step=0
        while ((stored < SCALE_MAX)); do
            step=$((step + 1))
            left=$((SCALE_BUDGET - ($(date +%s) - t0)))
            if ((left < 10)); then
                stopped="time budget of ${SCALE_BUDGET} s used up at $stored events"
                break
            fi
            EXTRA_FIELDS=",\"subjects\":$subjects" measure scale "$step" \
                '"window":4096' $((left + 120)) -- \
                --mode scale --count "$SCALE_STEP" --window 4096 \
                --duration "$left" --queries "$SCALE_QUERIES" \
                --subjects "$subjects" --label "$label"
            # The store's size on disk, into the line just written.
            bytes=$(du -sb "$dir/data" | cut -f1)
            sed -i '$ s/}$/,"store_bytes":'"$bytes"'}/' "$RESULTS"
            # and the machine's page cache (the memory probe's reason)
            cached=$(awk '$1 == "Cached:" { print $2 }' /proc/meminfo)
            sed -i '$ s/}$/,"cached_kb":'"${cached:-0}"'}/' "$RESULTS"
            last=$(tail -1 "$RESULTS")
            got=$(sed -n 's/.*"head_seq":\([0-9]*\).*/\1/p' <<<"$last")
            if [[ -z $got ]] || ((got <= stored)); then
                stopped="a step stored nothing"
                break
            fi
            stored=$got
        done
        if [[ -n $stopped ]]; then
            sed -i '$ s/}$/,"stopped":"'"$stopped"'"}/' "$RESULTS"
            log "  scale stopped early: $stopped"
        fi
        stop_pid "$SRV_PID"
        [[ $KEEP == yes ]] || rm -rf "$dir"
    fi
  done
fi

# --- 6. the cost of security (Ratusz) --------------------------------------------
if want security; then
    log "== 6. security: plain vs CURVE (ingest window 4096; fan-out at $FAN_RATE events/s" \
        "to ${FAN_SUBS[*]}); GET of $GET_N stored tax events, unredacted vs redacted"
    for ((r = 1; r <= ROUNDS; r++)); do
        for sys in ratusz ratusz-curve; do
            run_fresh "$sys" security-ingest "$r" '"window":4096' "$LIMIT" -- \
                --mode ingest --window 4096 --duration "$DURATION"
        done
    done
    for s in "${FAN_SUBS[@]}"; do
        for ((r = 1; r <= ROUNDS; r++)); do
            for sys in ratusz ratusz-curve; do
                run_fresh "$sys" security-fanout "$r" \
                    "\"window\":4096,\"subscribers\":$s,\"rate\":$FAN_RATE" \
                    "$LIMIT" -- --mode fanout --rate "$FAN_RATE" --subscribers "$s" \
                    --window 4096 --duration "$DURATION" --timeout 10
            done
        done
    done
    for ((r = 1; r <= ROUNDS; r++)); do
        for sys in ratusz ratusz-curve ratusz-curve-redacted; do
            run_fresh "$sys" security-get "$r" \
                "\"window\":4096,\"published\":$GET_N,\"queries\":$GET_QUERIES" \
                "$LIMIT" -- --mode get --count "$GET_N" --window 4096 \
                --queries "$GET_QUERIES" --duration 50
        done
    done
fi

# --- meta and report ---------------------------------------------------------------
json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=$(tr -d '\000-\037' <<<"$s")
    printf '"%s"' "$s"
}
first_line() {
    if command -v "$1" >/dev/null; then
        "$@" 2>&1 | head -1 || true
    else
        echo "$1 not installed"
    fi
}
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
RAM_GB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
ELAPSED=$(($(date +%s) - T_START))
{
    printf '{"meta":{'
    printf '"date":%s,' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '"command":%s,' "$(json_str "bench/compare.sh${ARGS_GIVEN:+ $ARGS_GIVEN}")"
    printf '"machine":%s,' "$(json_str "$(nproc) cores ($CPU_MODEL), $RAM_GB GiB RAM")"
    printf '"kernel":%s,' "$(json_str "$(uname -srm)")"
    printf '"storage":%s,' "$(json_str "$FS_TYPE on $(df --output=source "$WORK" | tail -1) ($BASE_DIR)")"
    [[ -n ${MEM_PROBE:-} ]] && printf '"memory_probe":%s,' "$MEM_PROBE"
    printf '"rounds":%s,"duration":%s,"elapsed_s":%s,"quick":%s,' \
        "$ROUNDS" "$(json_str "$DURATION")" "$ELAPSED" "$([[ $QUICK == yes ]] && echo true || echo false)"
    printf '"versions":{'
    printf '"ratuszd":%s,' "$(json_str "$(first_line "$RATUSZD" --version), git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')")"
    printf '"redis-server":%s,' "$(json_str "$(first_line redis-server --version | cut -d' ' -f1-3)")"
    printf '"nats-server":%s,' "$(json_str "$(first_line nats-server --version)")"
    printf '"mosquitto":%s,' "$(json_str "$(first_line mosquitto -h)")"
    printf '"hiredis":%s,' "$(json_str "hiredis $(pkg-config --modversion hiredis 2>/dev/null || echo '?')")"
    printf '"libnats":%s,' "$(json_str "libnats $(pkg-config --modversion libnats 2>/dev/null || echo '?')")"
    printf '"libmosquitto":%s' "$(json_str "libmosquitto $(pkg-config --modversion libmosquitto 2>/dev/null || echo '?')")"
    printf '},"systems":{'
    printf '"ratusz":%s,' "$(json_str "ratuszd --sync full (default): acked after the journal record holding the event is fdatasync'd")"
    printf '"ratusz-os":%s,' "$(json_str "ratuszd --sync os: acked once committed to the page cache (reference)")"
    printf '"ratusz-stream":%s,' "$(json_str "ratuszd --sync full, subscribers on the stream socket (plain SUB) instead of WATCH (fan-out workload)")"
    printf '"redis-always":%s,' "$(json_str "Redis Streams XADD, appendonly yes, appendfsync always: AOF fsync'd before the replies")"
    printf '"redis-everysec":%s,' "$(json_str "same, appendfsync everysec: fsync once a second, after the ack (reference)")"
    printf '"nats":%s,' "$(json_str "NATS JetStream, file storage, async publish: acked WITHOUT fsync (reference)")"
    printf '"mosquitto":%s,' "$(json_str "Mosquitto QoS 1, persistence true: acked from memory, saved only every autosave_interval (reference)")"
    printf '"ratusz-curve":%s,' "$(json_str "ratuszd --sync full with CURVE, a principals file and a redacted stream; the client is cleared for personal data (security workload)")"
    printf '"ratusz-curve-redacted":%s' "$(json_str "the same broker; the client has no personal_data, so its GETs come back pseudonymised (security workload)")"
    printf '}}}\n'
} >"$WORK/meta.jsonl"
OUT=latest
[[ $ONLY == "$ALL_WORKLOADS" ]] || OUT=latest-${ONLY//,/-}
cat "$WORK/meta.jsonl" "$RESULTS" >"$RESULTS_DIR/$OUT.jsonl"
# What the load generators said on stderr (failures, warnings), if anything.
if [[ -s $WORK/clients.log ]]; then
    cp "$WORK/clients.log" "$RESULTS_DIR/$OUT-clients.log"
else
    rm -f "$RESULTS_DIR/$OUT-clients.log"
fi
"$BIN/rz-bench-report" "$RESULTS_DIR/$OUT.jsonl" --json "$RESULTS_DIR/$OUT.json" \
    --svg "$RESULTS_DIR/$OUT.svg" | tee "$RESULTS_DIR/$OUT.txt"
log ""
log "compare.sh: done in $((ELAPSED / 60)) min $((ELAPSED % 60)) s; results in bench/results/$OUT.{txt,json,svg,jsonl}"
