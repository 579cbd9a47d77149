#!/usr/bin/env python3
"""metrics_used.py - every metric the alerts and the dashboard use is one the
broker really exports.

    metrics_used.py RATUSZD RATUSZ_ADAPTER RATUSZ SOURCE_DIR [KAFKA KAFKA_MOCK]

Starts a real ratuszd on loopback with a temp store, runs a real
ratusz-adapter import against it and, when given, a real ratusz-kafka
against librdkafka's mock cluster (so the components' ratusz_component_*
families exist), opens a consumer group and publishes one conflicting event
(so the lag and rejection families exist), then scrapes /metrics. Without
the bridge, an expression using a metric only the bridge reports fails. Every
PromQL expression of deploy/prometheus/alerts.yml and of each dashboard in
deploy/grafana/ is taken apart: each metric name it selects must be a sample
name in the scrape (so a histogram is used through its _bucket, _sum and
_count), and each label it matches on or groups by must be a label of one of
the metrics the expression selects. promtool then parses every expression
(the dashboard's as recording rules), checks the rules file and runs its unit
tests. Exits 0 when everything passed, 1 naming what failed, 77 when promtool
is missing (after running every other check).
"""
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import yaml
except ImportError:
    print("SKIPPED: Python's yaml module is missing (Debian: python3-yaml)")
    sys.exit(77)

PROMTOOL = "/usr/bin/promtool"

# Series Prometheus adds to every scrape target, with the target's labels.
SCRAPE_SERIES = {"up": {"job", "instance"}}
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = {"job", "instance"}

KEYWORDS = {"and", "or", "unless", "bool", "inf", "nan", "by", "without",
            "on", "ignoring", "group_left", "group_right", "offset"}


def free_port():
    """A port below the ephemeral range that binds now."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


# --- the scrape ------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')


def exported(body):
    """{sample name: set of its label names} from the text format."""
    names = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("cannot read the sample line: " + line)
        labels = names.setdefault(m.group(1), set())
        labels.update(LABEL.findall(m.group(3) or ""))
    return names


# --- PromQL ----------------------------------------------------------------

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
SELECTOR = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}')
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*""')
GROUPING = re.compile(
    r'\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)')
NUMBER = re.compile(r'(?<![a-zA-Z0-9_:])(?:0x[0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?'
                    r'|\.\d+(?:[eE][+-]?\d+)?)')
IDENT = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')


def grafana_to_promql(expr):
    """A dashboard query as Prometheus would receive it."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    expr = expr.replace("$__range", "6h")
    return re.sub(r'\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?', ".*", expr)


def parse(expr):
    """(metric names, {name: matched label names}, grouping label names)
    of one PromQL expression."""
    e = STRING.sub('""', expr)
    names, matched = set(), {}
    for m in SELECTOR.finditer(e):
        labels = set(MATCHER.findall(m.group(2)))
        name = m.group(1)
        if name in KEYWORDS or (name and e[m.end(1):].lstrip().startswith("(")):
            name = None
        if not name and "__name__" in labels:
            raise ValueError("a __name__ matcher hides the metric name: " + expr)
        if name:
            matched.setdefault(name, set()).update(labels)
    grouping = set()
    for m in GROUPING.finditer(e):
        grouping.update(IDENT.findall(m.group(2)))
    e = GROUPING.sub(" ", e)
    e = re.sub(r'\{[^}]*\}', " ", e)
    e = re.sub(r'\[[^\]]*\]', " ", e)
    e = re.sub(r'\boffset\s+-?[0-9a-z]+', " ", e)
    e = NUMBER.sub(" ", e)
    for m in IDENT.finditer(e):
        word = m.group(0)
        if word.lower() in KEYWORDS:
            continue
        if e[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(word)
    return names, matched, grouping


# --- what uses metrics -----------------------------------------------------

def alert_exprs(path):
    doc = yaml.safe_load(open(path))
    out = []
    for g in doc["groups"]:
        for r in g["rules"]:
            out.append(("%s: %s" % (os.path.basename(path),
                                    r.get("alert") or r.get("record")),
                        r["expr"]))
    return out


def dashboard_exprs(path):
    """Every query of a dashboard, panels nested in rows included, and the
    queries of its template variables."""
    doc = json.load(open(path))
    out = []

    def panels(ps):
        for p in ps:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(("%s: panel '%s' %s" % (
                        os.path.basename(path), p.get("title"),
                        t.get("refId")), grafana_to_promql(t["expr"])))
            panels(p.get("panels", []))

    panels(doc.get("panels", []))
    for v in doc.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            m = re.match(r'\s*label_values\((.*),\s*[a-zA-Z_]\w*\s*\)\s*$', q)
            out.append(("%s: variable '%s'" % (os.path.basename(path),
                                                v["name"]),
                        grafana_to_promql(m.group(1) if m else q)))
    return out


def check_uses(uses, names):
    failures = []
    for where, expr in uses:
        try:
            used, matched, grouping = parse(expr)
        except ValueError as e:
            failures.append("%s: %s" % (where, e))
            continue
        wrong = []
        if not used and "vector(" not in expr:
            wrong.append("no metric found in %r" % expr)
        known = set(TARGET_LABELS)
        for n in sorted(used):
            labels = names.get(n, SCRAPE_SERIES.get(n))
            if labels is None:
                wrong.append("metric %s is not exported by the broker" % n)
                continue
            known |= labels
            for label in sorted(matched.get(n, set()) - labels - TARGET_LABELS):
                wrong.append("%s has no label '%s'" % (n, label))
        for label in sorted(grouping - known - {"le"}):
            wrong.append("grouping by '%s', a label none of %s has"
                         % (label, sorted(used)))
        print("%-6s %s: %s" % ("FAILED" if wrong else "ok", where,
                               " ".join(sorted(used)) or expr))
        failures += ["%s: %s" % (where, w) for w in wrong]
    return failures


def check_alert_rules(path):
    """Each alert has what the person on call needs."""
    failures = []
    for g in yaml.safe_load(open(path))["groups"]:
        for r in g["rules"]:
            name = r.get("alert", "?")
            sev = r.get("labels", {}).get("severity")
            if sev not in ("critical", "warning"):
                failures.append("%s: severity %r" % (name, sev))
            a = r.get("annotations", {})
            if not a.get("summary"):
                failures.append("%s: no summary" % name)
            d = a.get("description", "")
            if not re.search(r'`(ratusz|journalctl|systemctl|df|iostat)', d):
                failures.append("%s: the description names no command to "
                                "run first" % name)
    return failures


# --- promtool --------------------------------------------------------------

def promtool(args, cwd=None):
    r = subprocess.run([PROMTOOL] + args, cwd=cwd, capture_output=True,
                       text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def check_promtool(alerts, tests, dash_uses, work):
    failures = []
    rc, out = promtool(["check", "rules", alerts])
    print(out)
    if rc:
        failures.append("promtool check rules %s" % alerts)
    rc, out = promtool(["test", "rules", os.path.basename(tests)],
                       cwd=os.path.dirname(tests))
    print(out)
    if rc:
        failures.append("promtool test rules %s" % tests)
    rules = [{"record": "dashboard_query_%d" % i, "expr": expr}
             for i, (_, expr) in enumerate(dash_uses)]
    path = os.path.join(work, "dashboard-queries.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
    rc, out = promtool(["check", "rules", path])
    print(out)
    if rc:
        failures.append("the dashboards' queries do not parse")
    return failures


# --- a broker with something to show ----------------------------------------

def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        return r.read().decode()


def run_bridge(kafka, mock, front, mport, work):
    """ratusz-kafka (mode out) until its first report reached the broker."""
    cluster = subprocess.Popen([mock, "--topic", "ratusz.02.registry:1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    bridge = None
    try:
        bootstrap = cluster.stdout.readline().strip()
        bridge = subprocess.Popen([kafka, "--broker", front, "--data-dir",
                                   os.path.join(work, "kafka"), "--name",
                                   "kafka/out", "--report-interval", "200",
                                   "--kafka", "bootstrap.servers=" + bootstrap])
        for _ in range(100):
            if 'kind="kafka-bridge"' in scrape(mport):
                return
            time.sleep(0.1)
        raise RuntimeError("ratusz-kafka did not report to the broker in 10 s")
    finally:
        for p in (bridge, cluster):
            if p is None:
                continue
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_broker_and_scrape(ratuszd, adapter, cli, src, work, kafka, mock):
    front = "tcp://127.0.0.1:%d" % free_port()
    stream = "tcp://127.0.0.1:%d" % free_port()
    mport = free_port()
    # a retention rule, so that the retention families exist
    conf = os.path.join(work, "ratuszd.yaml")
    with open(conf, "w") as f:
        f.write('retention:\n  "0264011.env.": {max_age: 400d}\n')
    broker = subprocess.Popen([ratuszd, "-c", conf,
                               "--data-dir", os.path.join(work, "db"),
                               "--listen", front, "--stream", stream,
                               "--metrics", "127.0.0.1:%d" % mport])
    try:
        for _ in range(100):
            try:
                scrape(mport)
                break
            except OSError:
                time.sleep(0.05)
        with open(os.path.join(src, "deploy/sample/events.ndjson")) as f:
            lines = [next(f) for _ in range(20)]
        events = os.path.join(work, "events.ndjson")
        with open(events, "w") as f:
            f.writelines(lines)
        conf = os.path.join(work, "adapter.yaml")
        with open(conf, "w") as f:
            f.write("system: ndjson\nname: adapter/ndjson\nbroker: %s\n"
                    "data_dir: %s\n" % (front, os.path.join(work, "adapter")))
        subprocess.run([adapter, "-c", conf, events], check=True, timeout=60)
        # a consumer group with a position and a lag
        subprocess.run([cli, "-e", front, "fetch", "ops-check", "--max", "5",
                        "--commit"], check=True, timeout=30,
                       stdout=subprocess.DEVNULL)
        # the same source and id with other content: RZ_ECONFLICT
        ev = json.loads(lines[0])
        ev["data"] = {"changed": True}
        subprocess.run([cli, "-e", front, "pub"], input=json.dumps(ev) + "\n",
                       text=True, timeout=30, capture_output=True)
        if kafka:
            run_bridge(kafka, mock, front, mport, work)
        return scrape(mport)
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


def main():
    if len(sys.argv) not in (5, 7):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    ratuszd, adapter, cli, src = sys.argv[1:5]
    kafka, mock = sys.argv[5:7] if len(sys.argv) == 7 else (None, None)
    alerts = os.path.join(src, "deploy/prometheus/alerts.yml")
    tests = os.path.join(src, "deploy/prometheus/alerts.test.yml")
    gdir = os.path.join(src, "deploy/grafana")
    dashboards = sorted(os.path.join(gdir, f) for f in os.listdir(gdir)
                        if f.endswith(".json"))
    work = tempfile.mkdtemp(prefix="ratusz-ops-")
    try:
        body = run_broker_and_scrape(ratuszd, adapter, cli, src, work, kafka,
                                     mock)
        names = exported(body)
        print("the broker exports %d sample names" % len(names))
        for family in ("ratusz_component_records_read_total",
                       "ratusz_consumer_lag", "ratusz_rejected_total"):
            if family not in names:
                print("FAILED the setup: %s is missing from\n%s"
                      % (family, body))
                return 1
        alert_uses = alert_exprs(alerts)
        dash_uses = [u for d in dashboards for u in dashboard_exprs(d)]
        failures = check_uses(alert_uses + dash_uses, names)
        failures += check_alert_rules(alerts)
        if len(dash_uses) < 20:
            failures.append("only %d dashboard queries found in %s"
                            % (len(dash_uses), dashboards))
        have_promtool = os.access(PROMTOOL, os.X_OK)
        if have_promtool:
            failures += check_promtool(alerts, tests, dash_uses, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d alert and %d dashboard expressions" % (len(alert_uses),
                                                     len(dash_uses)))
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    if not have_promtool:
        print("SKIPPED: %s is missing (Debian: prometheus, in "
              "deploy/install-deps.sh --with-test-tools): the rules were not "
              "parsed nor unit-tested" % PROMTOOL)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
