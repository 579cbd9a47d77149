#!/usr/bin/env python3
"""units.py - the systemd units in deploy/ load cleanly and are hardened at
least as well as ratuszd.service.

    units.py SOURCE_DIR

`systemd-analyze verify` loads each unit as systemd would and refuses one
whose ExecStart binary is missing, so the units are checked inside a scratch
root (--root): the host's own units (for the targets they name), the units
from deploy/ in etc/systemd/system, and an executable stub at each path an
Exec line runs. A template is checked as one instance of it. Any warning
counts as a failure: verify exits 0 on an unknown or misspelled key.

`systemd-analyze security --offline=yes` then scores each unit's exposure
(0 is the best, 10 the worst); ratuszd.service must stay at or below
RATUSZD_SCORE, and every other unit at or below ratuszd.service.

Exits 0 when every check passed, 1 naming what failed, 77 when
systemd-analyze is missing.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
HOST_UNITS = ("/usr/lib/systemd/system", "/lib/systemd/system")
# The exposure score of deploy/ratuszd.service as it was hardened; lower it
# when the hardening improves, never raise it.
RATUSZD_SCORE = 1.3
INSTANCE = "example"


def exec_paths(text):
    """The programs a unit runs (ExecStart=, ExecReload=, ...)."""
    text = re.sub(r'\\\n', " ", text)
    paths = set()
    for m in re.finditer(r'^Exec[A-Za-z]*=\s*[-@:+!]*(/\S+)', text, re.M):
        paths.add(m.group(1))
    return paths


def scratch_root(units, work):
    root = os.path.join(work, "root")
    host = next((d for d in HOST_UNITS if os.path.isdir(d)), None)
    if host is None:
        raise RuntimeError("no systemd units on this host (%s)"
                           % " or ".join(HOST_UNITS))
    shutil.copytree(host, os.path.join(root, "usr/lib/systemd/system"),
                    symlinks=True)
    etc = os.path.join(root, "etc/systemd/system")
    os.makedirs(etc)
    for u in units:
        shutil.copy(u, etc)
        for p in exec_paths(open(u).read()):
            stub = os.path.join(root, p.lstrip("/"))
            os.makedirs(os.path.dirname(stub), exist_ok=True)
            with open(stub, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(stub, 0o755)
    return root


def unit_name(path):
    name = os.path.basename(path)
    return name.replace("@.", "@%s." % INSTANCE)


def analyze(args):
    r = subprocess.run([SYSTEMD_ANALYZE] + args, capture_output=True,
                       text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        print("SKIPPED: %s is missing (Debian: systemd)" % SYSTEMD_ANALYZE)
        return 77
    deploy = os.path.join(sys.argv[1], "deploy")
    units = sorted(glob.glob(os.path.join(deploy, "*.service")))
    failures = []
    if not any(os.path.basename(u) == "ratuszd.service" for u in units):
        print("FAILED: no ratuszd.service in %s" % deploy)
        return 1
    work = tempfile.mkdtemp(prefix="ratusz-units-")
    try:
        root = scratch_root(units, work)
        scores = {}
        for u in units:
            name = unit_name(u)
            rc, out = analyze(["verify", "--man=no", "--root=" + root, name])
            ok = rc == 0 and not out
            print("%-6s systemd-analyze verify %s%s" % (
                "ok" if ok else "FAILED", name, "\n" + out if out else ""))
            if not ok:
                failures.append("verify %s: %s" % (name, out or "exit %d" % rc))
            rc, out = analyze(["security", "--offline=yes", "--root=" + root,
                               "--no-pager", name])
            m = re.search(r'Overall exposure level for \S+: ([0-9.]+)', out)
            if rc or not m:
                failures.append("security %s: exit %d\n%s" % (name, rc, out))
                continue
            scores[os.path.basename(u)] = float(m.group(1))
        base = scores.get("ratuszd.service")
        for unit, score in sorted(scores.items()):
            limit = RATUSZD_SCORE if unit == "ratuszd.service" else base
            ok = limit is not None and score <= limit
            print("%-6s %-26s exposure %.1f (at most %s)" % (
                "ok" if ok else "FAILED", unit, score, limit))
            if not ok:
                failures.append("%s: exposure %.1f, over %s" % (unit, score,
                                                                limit))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
