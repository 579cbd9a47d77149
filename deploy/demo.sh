#!/usr/bin/env bash
# demo.sh - build Ratusz, start a broker, publish real sample data, look around.
#
# Run from anywhere; everything happens in the repository:
#   build/   the Release build (ratuszd, ratusz)
#   var/     the demo broker's store, log, pid file and publish acks
#
# Safe to run again: it stops the broker it started last time, starts a new
# one on the same store and republishes the sample, which the broker
# recognises event by event (source + id) and does not store twice.
#
# Security is on (docs/SECURITY.md): every program has its own CURVE key in
# var/keys/, and var/principals.yaml grants each one what it may do.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=./build
VAR=$ROOT/var
PIDFILE=$VAR/ratuszd.pid
LOG=$VAR/ratuszd.log
SAMPLE=deploy/sample/events.ndjson
FRONT_PORT=7600 STREAM_PORT=7601 METRICS_PORT=7602 REDACTED_PORT=7603
KEYS=$VAR/keys
PRINCIPALS=$VAR/principals.yaml
HEALTH_TIMEOUT=20

if [[ -t 1 ]]; then
    B=$'\033[1m' G=$'\033[32m' R=$'\033[31m' N=$'\033[0m'
else
    B='' G='' R='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
run() { printf '%s$ %s%s\n' "$G" "$*" "$N"; "$@"; }
die() {
    printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2
    exit 1
}

# --- 1. dependencies --------------------------------------------------------
step "Checking build dependencies (Debian 12)"
if ! deploy/install-deps.sh; then
    if ((EUID != 0)) && command -v sudo >/dev/null; then
        echo "demo: trying with sudo"
        sudo deploy/install-deps.sh || die "could not install the packages above"
    else
        die "install the packages above, then run $0 again"
    fi
fi

# --- 2. build ---------------------------------------------------------------
# Every option is given explicitly: tests/run.sh configures the same build/
# directory with other values, and CMake would otherwise keep them.
step "Building ratuszd and ratusz (Release) in build/ (output in var/build.log)"
mkdir -p "$VAR/ratusz"
build_failed() {
    echo "demo: the build failed. Last lines of var/build.log:" >&2
    tail -n 30 "$VAR/build.log" >&2
    exit 1
}
run cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRZ_TESTS=OFF \
    -DRZ_WERROR=OFF -DRZ_SANITIZE=OFF -DRZ_FUZZ=OFF >"$VAR/build.log" 2>&1 ||
    build_failed
run cmake --build build -j"$(nproc)" >>"$VAR/build.log" 2>&1 || build_failed
[[ -x $BIN/ratuszd && -x $BIN/ratusz ]] || die "build/ratuszd or build/ratusz is missing"

# --- 3. (re)start the broker ------------------------------------------------

is_ours() { # pid -> true if it is a live ratuszd
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null &&
        [[ $(ps -o comm= -p "$1" 2>/dev/null) == ratuszd ]]
}

if [[ -f $PIDFILE ]]; then
    old=$(<"$PIDFILE")
    if is_ours "$old"; then
        step "Stopping the previous demo broker (pid $old)"
        kill -TERM "$old"
        for _ in $(seq 100); do
            is_ours "$old" || break
            sleep 0.1
        done
        if is_ours "$old"; then
            echo "demo: it did not stop within 10 s; killing it"
            kill -KILL "$old" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    rm -f "$PIDFILE"
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in $FRONT_PORT $STREAM_PORT $METRICS_PORT $REDACTED_PORT; do
    if port_busy "$port"; then
        die "port $port on 127.0.0.1 is already in use by another program" \
            "(see: ss -ltnp 'sport = :$port'). Stop it, or run ratuszd by hand" \
            "with --listen/--stream/--metrics on other ports."
    fi
done

had_data=no
if [[ -n $(find "$VAR/ratusz" -name '*.mdb' -size +0 2>/dev/null | head -n1) ]]; then
    had_data=yes
fi

# --- 3a. keys and grants ------------------------------------------------------
step "Keys: one CURVE key pair per program, grants per key (var/keys, var/principals.yaml)"
PROGRAMS=(ratuszd operator auditor sample-loader adapter-budget
    adapter-environment adapter-gis adapter-tax)
mkdir -p "$KEYS"
chmod 700 "$KEYS"
for name in "${PROGRAMS[@]}"; do
    if [[ ! -f $KEYS/$name.key ]]; then
        "$BIN/ratusz" keygen "$name" --dir "$KEYS" >/dev/null ||
            die "could not make the key of $name"
    fi
done
ls "$KEYS"
# Web console logins (README "Web console"): a new random password per
# run, kept in var/console-logins.txt (mode 0600); only the Argon2id
# hashes go into the principals file.
CONSOLE_LOGINS=$VAR/console-logins.txt
declare -A CPW CHASH
for who in operator official auditor; do
    CPW[$who]=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-12)
    CHASH[$who]=$(printf '%s\n' "${CPW[$who]}" | "$BIN/ratusz" passwd) ||
        die "could not hash the console password of $who"
done
(
    umask 077
    for who in operator official auditor; do
        printf '%s %s\n' "$who" "${CPW[$who]}"
    done >"$CONSOLE_LOGINS"
)
cat >"$PRINCIPALS" <<'EOF'
# Who may do what on the demo bus (docs/SECURITY.md). Public keys only:
# each program keeps its secret var/keys/NAME.key.
principals:
  # the historical sample (deploy/sample/events.ndjson) spans every system
  sample-loader:
    key_file: keys/sample-loader.pub
    publish_sources: ["*"]
    publish_tenants: ["*"]
  # each adapter publishes only its own domain; the tax system only for Hel
  adapter-budget:
    key_file: keys/adapter-budget.pub
    publish_sources: ["/*/budget/*"]
    publish_tenants: ["*"]
    admin: [report]
  adapter-environment:
    key_file: keys/adapter-environment.pub
    publish_sources: ["/*/env/*"]
    publish_tenants: ["*"]
    admin: [report]
  adapter-gis:
    key_file: keys/adapter-gis.pub
    publish_sources: ["/*/gis/*"]
    publish_tenants: ["*"]
    admin: [report]
  adapter-tax:
    key_file: keys/adapter-tax.pub
    publish_sources: ["/2211011/tax/*"]
    publish_tenants: ["2211011"]
    admin: [report]
  # the IT operator sees everything, personal data only as pseudonyms
  operator:
    key_file: keys/operator.pub
    read: [""]
    groups: ["operator-*"]
    admin: [stats, consumers, reload]
  # the data protection officer: personal data, the audit log
  auditor:
    key_file: keys/auditor.pub
    read: [""]
    personal_data: true
    admin: [audit, verify, stats]
EOF
# the web console: the operator and the auditor log in with their own
# passwords; an official reads every topic without personal data and
# has no key (a console login only)
sed -i -e "/^  operator:/a\\    console_password: \"${CHASH[operator]}\"" \
    -e "/^  auditor:/a\\    console_password: \"${CHASH[auditor]}\"" "$PRINCIPALS"
cat >>"$PRINCIPALS" <<EOF
  official:
    console_password: "${CHASH[official]}"
    read: [""]
EOF
# every ratusz command below runs as the operator unless it says otherwise
export RATUSZ_KEY=$KEYS/operator.key RATUSZ_SERVER_KEY=$KEYS/ratuszd.pub
AUDITOR=(-k "$KEYS/auditor.key")

step "Starting ratuszd with CURVE (store in var/ratusz, log in var/ratuszd.log)"
printf '\n--- %s demo start ---\n' "$(date -Is)" >>"$LOG"
printf '%s$ %s%s\n' "$G" "./build/ratuszd --data-dir ./var/ratusz --server-key var/keys/ratuszd.key --principals var/principals.yaml --stream-redacted tcp://127.0.0.1:$REDACTED_PORT --console on &" "$N"
nohup "$BIN/ratuszd" --data-dir ./var/ratusz --server-key "$KEYS/ratuszd.key" \
    --principals "$PRINCIPALS" --console on \
    --stream-redacted "tcp://127.0.0.1:$REDACTED_PORT" </dev/null >>"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"

deadline=$((SECONDS + HEALTH_TIMEOUT))
until timeout 5 "$BIN/ratusz" health >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$PIDFILE"
        echo "demo: ratuszd exited during startup. Last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "demo: ratuszd (pid $pid) is not healthy after ${HEALTH_TIMEOUT} s." \
            "Last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        echo "demo: the broker is left running; stop it with: kill $pid" >&2
        exit 1
    fi
    sleep 0.2
done
run "$BIN/ratusz" health

# --- 4. publish the sample --------------------------------------------------
n=$(wc -l <"$SAMPLE")
step "Publishing $n real events (TERYT register, GIS, budget, air quality)"
echo "Every event is acked only after the LMDB transaction holding it has committed."
rm -f "$VAR/acks.log"
run "$BIN/ratusz" -k var/keys/sample-loader.key pub --ack-log ./var/acks.log <"$SAMPLE"
echo "Each acked event is in var/acks.log as \"ID SEQ\"."
if [[ $had_data == yes ]]; then
    echo "The store already held these events from an earlier run: the broker"
    echo "matched each source+id, acked the original seq and stored nothing new"
    echo "(\"duplicates\" above). The head seq below has not moved, and this"
    echo "broker process counts 0 events in."
fi

# --- 4b. the adapters ---------------------------------------------------------
# Each system's own export files, as the legacy systems write them, through
# ratusz-adapter: one run per system, each exits when all it read is acked.
# Events the sample above already holds (same source and id) are duplicates.
step "The adapters: budget, environment, GIS and tax exports through ratusz-adapter"
SRC=deploy/sample/src
adapter() { # system files...
    local sys=$1
    shift
    run "$BIN/adapters/runtime/ratusz-adapter" -c "deploy/adapters/$sys.yaml" \
        --broker "tcp://127.0.0.1:$FRONT_PORT" \
        --key "var/keys/adapter-$sys.key" --server-key var/keys/ratuszd.pub \
        --data-dir "$VAR/adapters/$sys/data" "$@" ||
        die "the $sys adapter failed (see its messages above)"
}
adapter budget "$SRC"/GUS_BDL_FINA_2416_wojewodztwa_2002-2023.csv \
    "$SRC"/poland_gdansk_2020_olszynka.pb
adapter environment "$SRC"/gios_station_findAll.json \
    "$SRC"/gios_station_sensors_117.json "$SRC"/gios_data_getData_*.json
adapter gis "$SRC"/wojewodztwa_JPT_KOD_JE.geojson.json \
    "$SRC"/egib_dzialka_221101_1.0001.161_8.gml
adapter tax deploy/sample/tax/*.xml deploy/sample/tax/*.txt

step "One parcel across systems: its EGiB record and its property tax (Hel)"
run "$BIN/ratusz" query --subject parcel:221101_1.0001.161/8

# --- 5. read it back --------------------------------------------------------
step "One entity across time: the air-quality station in Wrocław, Korzeniowskiego"
run "$BIN/ratusz" query --subject station:117 --limit 3

step "One municipality, one domain: the participatory budget of Gdańsk (2261011)"
run "$BIN/ratusz" query --topic 2261011.budget --limit 2

step "The log from the beginning"
run "$BIN/ratusz" replay --from 1 --max 2

step "Broker statistics (one row per tenant, domain and source; then the adapters)"
printf '%s$ %s%s\n' "$G" "$BIN/ratusz stats | sed -n '1,14p;/^COMPONENT/,\$p'" "$N"
{ "$BIN/ratusz" stats || true; } | sed -n '1,14p;/^COMPONENT/,$p'

# --- 5b. security ---------------------------------------------------------------
step "Security: who am I? (the operator's key)"
run "$BIN/ratusz" whoami

step "The operator reads a parcel's tax records: a person's data arrives as pseudonyms"
echo "(the same taxpayer has the same pseudonym in the declaration and the decision)"
run "$BIN/ratusz" query --subject parcel:221101_1.0001.162

# the pseudonym the operator saw in place of the PESEL finds the taxpayer
# on every parcel (the broker indexes pseudonyms behind the log)
pseudonym=$("$BIN/ratusz" query --subject parcel:221101_1.0001.162 |
    grep -o '"pesel":"~[a-z2-7]\{26\}"' | head -n 1 | cut -d'"' -f4 || true)
if [[ -n $pseudonym ]]; then
    step "Every event about that taxpayer, by the pseudonym (as the operator: no PESEL)"
    for _ in $(seq 50); do # the index trails the log by at most ~200 ms
        [[ -n $("$BIN/ratusz" query --pseudonym "$pseudonym" --limit 1 2>/dev/null) ]] && break
        sleep 0.1
    done
    run "$BIN/ratusz" query --pseudonym "$pseudonym"
fi

step "The auditor (personal-data clearance) reads the declaration: PESEL, name, address"
run "$BIN/ratusz" "${AUDITOR[@]}" get --source /2211011/tax/tax \
    --id IN-1/IN-1/2024/000311/221101_1.0001.162

step "Every read of personal data is in the audit log (as the auditor)"
run "$BIN/ratusz" "${AUDITOR[@]}" audit --principal auditor --limit 3

step "The budget system tries to publish a tax decision: denied, nothing stored"
printf '%s$ %s%s\n' "$G" "$BIN/ratusz -k var/keys/adapter-budget.key pub --id forged-1 --source /2211011/tax/podatki --type pl.gov.gmina.tax.assessment.v1 --tenant 2211011 --data '{}'" "$N"
if "$BIN/ratusz" -k "$KEYS/adapter-budget.key" pub --id forged-1 \
    --source /2211011/tax/podatki --type pl.gov.gmina.tax.assessment.v1 \
    --tenant 2211011 --data '{}'; then
    die "a publish outside the budget system's grant was accepted"
fi
echo "(refused, as it should be)"

step "The event log's and the audit log's hash chains are intact"
run "$BIN/ratusz" "${AUDITOR[@]}" verify
run "$BIN/ratusz" "${AUDITOR[@]}" audit verify

# --- 6. what next -----------------------------------------------------------
cat <<EOF

${B}The broker keeps running in the background (pid $pid).${N}

Every command needs a key now. As the operator:
  export RATUSZ_KEY=var/keys/operator.key RATUSZ_SERVER_KEY=var/keys/ratuszd.pub
As the auditor, add: -k var/keys/auditor.key

Look around:
  curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep ^ratusz   # Prometheus metrics
  build/ratusz stats --watch                        # live, like top (Ctrl-C to stop)
  build/ratusz sub 0264011.      # live events of Wrocław, pseudonymised for the operator (Ctrl-C to stop)
  # ...and in another shell, three new events (fresh ids) for it to show:
  tail -n 3 $SAMPLE | sed "s/\"id\":\"/\"id\":\"\$(date +%s)-/" | build/ratusz -k var/keys/sample-loader.key pub
  build/ratusz query --subject parcel:221101_1.0001.161/8     # a land parcel in Hel
  build/ratusz query --subject terc:02 | cut -c1-300  # register + GIS outline of a voivodeship
  build/ratusz query --subject unit:1400000 --all     # 22 years of Mazowieckie's spending
  build/ratusz get --source /2261011/budget/pabulib --id pabulib-gdansk-2020-olszynka-vote-691
  build/ratusz --help                               # every command has --help too
  tail -f var/ratuszd.log

Stop it:
  kill \$(cat var/ratuszd.pid)

${B}The web console${N} (read-only; the logins are also in var/console-logins.txt):
  http://127.0.0.1:$METRICS_PORT/
  operator  ${CPW[operator]}   Overview, every topic, personal data as pseudonyms
  official  ${CPW[official]}   Timeline and Topics, no personal data
  auditor   ${CPW[auditor]}   personal data in the clear (every view audited)
  On the Timeline try parcel:221101_1.0001.161/8: its EGiB record and its tax,
  then a taxpayer's pseudonym (${pseudonym:-~...}) to follow that person everywhere.
In a terminal instead, the broker on one screen:  build/ratusz top

Start over with an empty store: stop it, then rm -rf var/
EOF
