#!/usr/bin/env bash
# e2e.sh - adapter -> broker end to end: a large generated file through
# ratusz-adapter (one-shot import: parse, outbox, publish, acks) into a
# real ratuszd on loopback, in events/s.
#
#   bench/adapters/e2e.sh [--build DIR] [--events N] [--window N]
#                         [--batch N] [--sync full|os]
#   bench/adapters/e2e.sh --system NAME --file FILE [--conf YAML-LINES]
#   bench/adapters/e2e.sh --pub [--events N] [--window N] [--batch N]
#
# --pub sends the same NDJSON through `ratusz pub` instead of the adapter
# (reported as system "pub").
#
# The default input is N CloudEvents (ndjson module) of one budget tenant.
# Prints one JSON line on stdout and one line for people on stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=build EVENTS=200000 WINDOW=1024 BATCH=256 SYNC=full
SYSTEM=ndjson FILE= EXTRA= VIA=adapter
while (($#)); do
    case "$1" in
        --build) BUILD=$2; shift ;;
        --events) EVENTS=$2; shift ;;
        --window) WINDOW=$2; shift ;;
        --batch) BATCH=$2; shift ;;
        --sync) SYNC=$2; shift ;;
        --system) SYSTEM=$2; shift ;;
        --file) FILE=$2; shift ;;
        --conf) EXTRA=$2; shift ;;
        --pub) VIA=pub ;;
        -h|--help) sed -n '2,/^set/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        *) echo "e2e.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
for b in ratuszd ratusz adapters/runtime/ratusz-adapter; do
    [[ -x $BUILD/$b ]] || { echo "e2e.sh: $BUILD/$b missing: build first" >&2; exit 1; }
done

TMP=$(mktemp -d)
BROKER_PID=
cleanup() {
    [[ -n $BROKER_PID ]] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FRONT=tcp://127.0.0.1:$(port)
STREAM=tcp://127.0.0.1:$(port)

if [[ -z $FILE ]]; then
    FILE=$TMP/events.ndjson
    python3 - "$FILE" "$EVENTS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w", encoding="utf-8") as f:
    for i in range(n):
        f.write('{"specversion":"1.0","id":"bench-%d","type":"pl.gov.gmina.'
                'budget.execution.v1","tenant":"1261011","subject":"unit:%d",'
                '"time":"2024-%02d-01T00:00:00+01:00","data":{"dzial":"600",'
                '"rozdzial":"60016","paragraf":"4300","amount_grosze":%d,'
                '"currency":"PLN","fiscal_year":2024,"description":'
                '"Wydatki bieżące — zadanie %d"}}\n'
                % (i, i % 5000, 1 + i % 12, 100 * i + 57, i))
PY
fi
BYTES=$(stat -c %s "$FILE")

"$BUILD/ratuszd" --data-dir "$TMP/broker" --listen "$FRONT" --stream "$STREAM" \
    --metrics off --sync "$SYNC" 2>"$TMP/broker.log" &
BROKER_PID=$!
for _ in $(seq 100); do
    "$BUILD/ratusz" -e "$FRONT" -t 200 health >/dev/null 2>&1 && break
    sleep 0.1
done

cat >"$TMP/adapter.yaml" <<YAML
system: $SYSTEM
broker: $FRONT
data_dir: $TMP/adapter
teryt: deploy/sample/src/TERC_2020-01-01.csv
window: $WINDOW
batch: $BATCH
report_ms: 0
$EXTRA
YAML

start=$(date +%s.%N)
rc=0
if [[ $VIA == pub ]]; then
    SYSTEM=pub
    # pub needs a source on every line: the adapter's runtime fills its own
    sed 's/^{/{"source":"urn:ratusz:bench",/' "$FILE" >"$TMP/pub.ndjson"
    start=$(date +%s.%N)
    "$BUILD/ratusz" -e "$FRONT" pub --window "$WINDOW" --batch "$BATCH" \
        <"$TMP/pub.ndjson" 2>"$TMP/adapter.log" || rc=$?
    # the summary line reads like the adapter's
    sed -i -E 's/^published ([0-9]+),/: \1 records: &/' "$TMP/adapter.log"
else
    "$BUILD/adapters/runtime/ratusz-adapter" -c "$TMP/adapter.yaml" "$FILE" \
        2>"$TMP/adapter.log" || rc=$?
fi
end=$(date +%s.%N)
head=$("$BUILD/ratusz" -e "$FRONT" health | sed -n 's/.*head seq \([0-9]*\).*/\1/p')
records=$(sed -n 's/.*: \([0-9]*\) records: .*/\1/p' "$TMP/adapter.log" | tail -1)
if ((rc != 0)); then
    echo "e2e.sh: ratusz-adapter exited with $rc:" >&2
    cat "$TMP/adapter.log" >&2
fi
python3 - "$SYSTEM" "$(basename "$FILE")" "$BYTES" "${records:-0}" "$head" \
    "$start" "$end" "$WINDOW" "$BATCH" "$SYNC" <<'PY'
import json, sys
system, name, size, records, head, t0, t1, window, batch, sync = sys.argv[1:]
secs = float(t1) - float(t0)
head = int(head or 0)
print(json.dumps({"bench": "adapter-e2e", "system": system, "file": name,
                  "bytes": int(size), "records": int(records),
                  "events_stored": head, "seconds": round(secs, 3),
                  "events_per_s": round(head / secs), "window": int(window),
                  "batch": int(batch), "sync": sync}))
print("%s: %s records -> %d events stored by ratuszd in %.2f s: %.0f events/s "
      "(%.1f MB/s, window %s, batch %s, sync %s)"
      % (system, records, head, secs, head / secs, int(size) / secs / 1e6,
         window, batch, sync), file=sys.stderr)
PY
exit $rc
