#!/usr/bin/python3
"""test_top.py - `ratusz top` on a real terminal (tmux) against a real broker.

    test_top.py RATUSZD RATUSZ PROTO_DIR

Starts ratuszd on free loopback ports with a temp store, publishes events
from 301 sources in two tenants (one source much busier than the rest), one
conflicting event (a rejection), opens a consumer group that lags, and
REPORTs one component with a failing status (over pyzmq, with the classes
protoc generates from proto/). Then runs `ratusz top` in tmux at 80x24 and
at 200x60 and reads the screen with capture-pane: the header with the status
and head seq, the problems line, the rows sorted by rate, the filter, the
NAME sort, the groups and components views, resizing (to 200x60, and below
80x24), and q exiting 0. Over a pipe `top` prints the plain stats table.

Nothing is timed: every check polls the screen until it shows what is
expected, with a generous overall limit. Exits 0 when every check passed,
1 naming what failed, 77 when tmux, pyzmq or protoc is missing.
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

TMUX = shutil.which("tmux")
PROTOC = shutil.which("protoc")
try:
    import zmq
except ImportError:
    zmq = None

LIMIT = 60.0  # seconds any one screen may take to appear

HOT = "/1261011/gios/hot"
NSOURCES = 300


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


def tenant_of(i):
    return "1261011" if i % 3 else "1061011"


def source_of(i):
    return "/%s/gios/st-%03d" % (tenant_of(i), i)


def event(tenant, source, ident, amount=100):
    return json.dumps({
        "specversion": "1.0", "id": ident, "source": source,
        "type": "pl.gov.gmina.budget.execution.v1", "subject": "unit:1",
        "tenant": tenant, "time": "2024-01-01T10:00:00+02:00",
        "data": {"dzial": "600", "amount_grosze": amount}})


class Top:
    """One tmux server (its own socket) running `ratusz top`."""

    def __init__(self, work, cli, front, name, cols, lines,
                 command="top --interval 1"):
        self.sock = "rztop-%d-%s" % (os.getpid(), name)
        self.exit_file = os.path.join(work, name + ".exit")
        env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8",
                   TERM="xterm-256color")
        self.env = env
        cmd = "%s -e %s %s; echo EXIT $? > %s; sleep 600" % (
            cli, front, command, self.exit_file)
        self.tmux("new-session", "-d", "-x", str(cols), "-y", str(lines),
                  cmd)

    def tmux(self, *args):
        return subprocess.run([TMUX, "-u", "-f", "/dev/null", "-L", self.sock]
                              + list(args), env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def screen(self):
        out = self.tmux("capture-pane", "-p")
        return (out[:-1] if out.endswith("\n") else out).split("\n")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def text(self, s):
        self.tmux("send-keys", "-l", s)

    def wait(self, cond, what):
        """The screen once cond(lines) is true; None after LIMIT."""
        end = time.monotonic() + LIMIT
        while time.monotonic() < end:
            lines = self.screen()
            try:
                if cond(lines):
                    return lines
            except (IndexError, ValueError):
                pass
            time.sleep(0.2)
        print("--- the screen when waiting for %s timed out:" % what)
        print("\n".join(self.screen()))
        return None

    def close(self):
        subprocess.run([TMUX, "-L", self.sock, "kill-server"],
                       capture_output=True)


def source_rows(lines):
    """(name, 1m/s) of the source rows of the series table."""
    rows = []
    for line in lines[4:-1]:
        m = re.match(r"^      (\S+)\s+(\S+)\s+(\S+)\s", line)
        if m:
            rows.append((m.group(1), float(m.group(3))))
    return rows


def main():
    ratuszd, cli, proto_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    if not TMUX:
        print("SKIPPED: tmux is missing (Debian: tmux)")
        return 77
    if not zmq or not PROTOC:
        print("SKIPPED: pyzmq or protoc is missing (Debian: python3-zmq, "
              "protobuf-compiler) to REPORT a component")
        return 77
    work = tempfile.mkdtemp(prefix="ratusz-top-")
    gen = os.path.join(work, "gen")
    os.mkdir(gen)
    subprocess.run(["protoc", "-I" + proto_dir, "--python_out=" + gen] +
                   [os.path.join("ratusz/v1", p) for p in
                    ("event.proto", "budget.proto", "env.proto", "tax.proto",
                     "gis.proto", "api.proto", "options.proto")], check=True)
    sys.path.insert(0, gen)
    from ratusz.v1 import api_pb2  # noqa: E402

    front = "tcp://127.0.0.1:%d" % free_port()
    stream = "tcp://127.0.0.1:%d" % free_port()
    broker = subprocess.Popen([ratuszd, "--data-dir", os.path.join(work, "db"),
                               "--listen", front, "--stream", stream,
                               "--metrics", "off"])
    failures = []
    tops = []

    def check(cond, what):
        print(("ok     " if cond else "FAILED ") + what)
        if not cond:
            failures.append(what)
        return cond

    def ratusz(*args, stdin=None):
        return subprocess.run([cli, "-e", front] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=120)

    try:
        for _ in range(100):
            if ratusz("health").returncode == 0:
                break
            time.sleep(0.1)

        # 300 sources with 1 to 7 events each, and a busy one with 60
        lines = []
        for i in range(NSOURCES):
            for k in range(1 + i % 7):
                lines.append(event(tenant_of(i), source_of(i),
                                   "e-%d-%d" % (i, k)))
        for k in range(60):
            lines.append(event("1261011", HOT, "hot-%d" % k))
        r = ratusz("pub", stdin="\n".join(lines) + "\n")
        total = len(lines)
        check(r.returncode == 0, "published %d events: %s" % (total,
                                                              r.stderr))
        # a conflict: the same source and id, other content
        r = ratusz("pub", stdin=event("1261011", HOT, "hot-0", 999) + "\n")
        check(r.returncode == 1, "a conflicting event is rejected")
        # a consumer group that read 10 events: it lags
        r = ratusz("fetch", "grp-lag", "--max", "10", "--commit")
        check(r.returncode == 0, "consumer group grp-lag fetched 10")

        # a component that reports trouble
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.RCVTIMEO, 10000)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(front)
        comp = api_pb2.Component(name="adapter/gios", kind="adapter",
                                 version="1.0", status="source unreachable",
                                 started=int(time.time() * 1e6),
                                 detail="GIOS API: HTTP 503", host="test",
                                 pid=os.getpid())
        comp.metrics.add(name="records_quarantined", value=3, counter=False)
        dealer.send_multipart([b"REPORT", b"c1", comp.SerializeToString()])
        cmd, _, _ = dealer.recv_multipart()
        check(cmd == b"REPORT", "REPORT answered: %r" % cmd)
        dealer.close()
        ctx.term()

        # the broker's 1-minute rates move every 5 s: wait for the first
        end = time.monotonic() + LIMIT
        while time.monotonic() < end:
            st = json.loads(ratusz("stats", "--json").stdout)
            if any(c.get("rate1", 0) > 0 for c in st.get("counters", [])):
                break
            time.sleep(0.5)
        head = st["health"]["headSeq"] if "headSeq" in st["health"] else \
            st["health"]["head_seq"]
        check(int(head) == total, "head seq %s is %d" % (head, total))

        # over a pipe: the plain table
        p = subprocess.Popen([cli, "-e", front, "top", "--interval", "1"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             text=True)
        first = []
        for line in p.stdout:
            first.append(line)
            if "every 1s" in line:
                break
        p.kill()
        p.wait()
        check(any(line.startswith("TENANT") for line in first) and
              any("status ok" in line for line in first),
              "top over a pipe prints the stats table")

        # --- 80x24 -------------------------------------------------------
        top = Top(work, cli, front, "small", 80, 24)
        tops.append(top)
        scr = top.wait(lambda s: len(source_rows(s)) >= 10, "rows at 80x24")
        if check(scr is not None, "80x24: the table shows source rows"):
            check(len(scr) == 24, "80x24: 24 lines (%d)" % len(scr))
            check(re.search(r"\bok\b.*\bhead %d\b" % total, scr[0]) is not None,
                  "80x24: line 1 has the status and head seq: %r" % scr[0])
            check(scr[2].startswith("PROBLEMS"),
                  "80x24: line 3 is the problems line: %r" % scr[2])
            check(scr[2].startswith("PROBLEMS adapter/gios"),
                  "80x24: the failing component comes first: %r" % scr[2])
            rows = source_rows(scr)
            check(rows[0][0] == HOT, "80x24: the busiest source on top: %r"
                  % (rows[0],))
            rates = [r for _, r in rows]
            check(rates == sorted(rates, reverse=True) and rates[0] > 0,
                  "80x24: rows sorted by 1m rate: %r" % rates)
            check("1m/s▼" in scr[3], "80x24: sorted by 1m/s: %r" % scr[3])
            check("q quit" in scr[-1] and "filter" in scr[-1],
                  "80x24: the keys in the footer: %r" % scr[-1])

        # the problems line: rejected, then lag growing after new events
        scr = top.wait(lambda s: "rejected RZ_" in s[2], "rejected")
        check(scr is not None, "80x24: the problems line names rejections")
        more = [event("1261011", HOT, "more-%d" % k) for k in range(20)]
        ratusz("pub", stdin="\n".join(more) + "\n")
        scr = top.wait(lambda s: "group grp-lag lag" in s[2] and
                       "head %d" % (total + 20) in s[0], "lag growing")
        check(scr is not None, "80x24: a growing lag is a problem")

        # filter by prefix: only the matching sources
        top.keys("/")
        top.text("/1261011/gios/st-01")
        top.keys("Enter")
        want = sorted(source_of(i) for i in range(10, 20)
                      if tenant_of(i) == "1261011")
        scr = top.wait(lambda s: sorted(n for n, _ in source_rows(s)) == want,
                       "the filter")
        if check(scr is not None, "filter: only the %d matching rows"
                 % len(want)):
            check(not any("1061011" in line for line in scr[4:-1]),
                  "filter: no other tenant")
            check("filter /1261011/gios/st-01" in scr[-1],
                  "filter: shown in the footer: %r" % scr[-1])

        # Esc clears it; s six times: sorted by NAME
        top.keys("Escape")
        scr = top.wait(lambda s: len(source_rows(s)) >= 10, "no filter")
        check(scr is not None, "Esc clears the filter")
        for _ in range(6):
            top.keys("s")
        scr = top.wait(lambda s: "sort NAME" in s[-1], "sort NAME")
        if check(scr is not None, "s cycles to the NAME sort"):
            names = [n for n, _ in source_rows(scr)]
            check(scr[4].startswith("▾ 1061011") and names == sorted(names)
                  and names[0] == "/1061011/gios/st-000",
                  "sorted by name: %r" % names[:5])
        top.keys("S")
        scr = top.wait(lambda s: "sort NAME rev" in s[-1], "reverse")
        if check(scr is not None, "S reverses the order"):
            names = [n for n, _ in source_rows(scr)]
            check(scr[4].startswith("▾ 1261011") and
                  names == sorted(names, reverse=True),
                  "reverse name order: %r" % names[:5])

        # collapse the first tenant
        top.keys("Home", "Enter")
        scr = top.wait(lambda s: s[4].startswith("▸ 1261011") and
                       s[5].startswith("▾ 1061011"), "collapsed")
        check(scr is not None, "Enter collapses a tenant")

        # consumer groups and components
        top.keys("g")
        scr = top.wait(lambda s: s[3].startswith("GROUP") and
                       any(line.startswith("grp-lag") for line in s), "groups")
        if check(scr is not None, "g shows the consumer groups"):
            row = [line for line in scr if line.startswith("grp-lag")][0]
            check(str(total + 20 - 10) in row.split(),
                  "grp-lag's lag is %d: %r" % (total + 10, row))
        top.keys("c")
        scr = top.wait(lambda s: s[3].startswith("COMPONENT") and
                       any(line.startswith("adapter/gios") for line in s),
                       "components")
        check(scr is not None, "c shows the components")
        top.keys("?")
        scr = top.wait(lambda s: any("The problems line" in line for line in s),
                       "help")
        check(scr is not None, "? shows the help with the rules")
        top.keys("x", "c")

        # resize: larger, smaller than 80x24, back
        top.tmux("resize-window", "-x", "200", "-y", "60")
        scr = top.wait(lambda s: len(s) == 60 and "5m/s" in s[3] and
                       len(source_rows(s)) >= 50, "200x60")
        if check(scr is not None, "resized to 200x60: more rows, 5m/s"):
            check("head %d" % (total + 20) in scr[0], "200x60: header kept")
            check(scr[2].startswith("PROBLEMS"), "200x60: problems kept")
        top.tmux("resize-window", "-x", "60", "-y", "20")
        scr = top.wait(lambda s: "needs at least 80x24" in s[0], "too small")
        check(scr is not None, "below 80x24: one line asks for more")
        top.tmux("resize-window", "-x", "80", "-y", "24")
        scr = top.wait(lambda s: s[2].startswith("PROBLEMS"), "80x24 again")
        check(scr is not None, "back to 80x24: drawn again")

        top.keys("q")
        end = time.monotonic() + LIMIT
        while time.monotonic() < end and not os.path.exists(top.exit_file):
            time.sleep(0.2)
        code = open(top.exit_file).read().strip() \
            if os.path.exists(top.exit_file) else "(still running)"
        check(code == "EXIT 0", "q exits with 0: %s" % code)

        # stats --watch on a terminal is top
        alias = Top(work, cli, front, "alias", 80, 24, "stats --watch 1")
        tops.append(alias)
        scr = alias.wait(lambda s: s[2].startswith("PROBLEMS") and
                         s[3].startswith("NAME") and "q quit" in s[-1],
                         "stats --watch")
        check(scr is not None, "stats --watch on a terminal runs top")
        alias.keys("q")
        end = time.monotonic() + LIMIT
        while time.monotonic() < end and not os.path.exists(alias.exit_file):
            time.sleep(0.2)
        check(os.path.exists(alias.exit_file) and
              open(alias.exit_file).read().strip() == "EXIT 0",
              "stats --watch: q exits with 0")

        # --- 200x60 from the start ---------------------------------------
        big = Top(work, cli, front, "big", 200, 60)
        tops.append(big)
        scr = big.wait(lambda s: len(source_rows(s)) >= 50 and
                       re.search("[▁▂▃▄▅▆▇█]{3}", s[1]), "rows at 200x60")
        if check(scr is not None, "200x60: rows and sparklines"):
            check(re.search(r"\bok\b.*\bhead %d\b" % (total + 20), scr[0])
                  is not None, "200x60: status and head seq: %r" % scr[0])
            check(scr[2].startswith("PROBLEMS") and "rejected" in scr[2],
                  "200x60: problems line: %r" % scr[2])
            rates = [r for _, r in source_rows(scr)]
            check(rates == sorted(rates, reverse=True),
                  "200x60: rows sorted by rate")
        big.keys("q")
        end = time.monotonic() + LIMIT
        while time.monotonic() < end and not os.path.exists(big.exit_file):
            time.sleep(0.2)
        check(os.path.exists(big.exit_file) and
              open(big.exit_file).read().strip() == "EXIT 0",
              "200x60: q exits with 0")
    finally:
        for t in tops:
            t.close()
        broker.terminate()
        try:
            broker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            broker.kill()
        if not failures:
            shutil.rmtree(work, ignore_errors=True)

    if failures:
        print("%d FAILED:" % len(failures))
        for f in failures:
            print("  " + f)
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
