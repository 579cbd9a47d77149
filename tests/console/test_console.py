#!/usr/bin/python3
"""test_console.py - the web console in headless Chromium, real broker.

    test_console.py RATUSZD RATUSZ RATUSZ_ADAPTER SOURCE_DIR SHOTS_DIR

Starts ratuszd with CURVE, a principals file and `console: on` on free
loopback ports, publishes the demo's data (deploy/sample/events.ndjson,
then the Hel tax exports through ratusz-adapter, as deploy/demo.sh does),
and drives Chromium over WebDriver (chromedriver, stdlib HTTP only) as
three console logins:

  operator  stats, every topic, no personal data: the Overview (rates
            chart, components with the tax adapter, no problems)
  official  every topic, no clearance, no stats: the parcel 161/8's EGiB
            record and its tax records on one timeline; parcel 162's
            declaration without the PESEL on any page; the Overview refused
  iod       personal-data clearance: the same declaration with the PESEL

It checks the JSON API's refusals (no session, a wrong password, a topic
outside a grant), that every view is in the audit log with principal and
address, and saves screenshots of each page to SHOTS_DIR.

Nothing is timed: every check polls until the page shows what is
expected, within a generous limit. Exits 0 when every check passed, 1
naming what failed, 77 when chromium or chromedriver is missing.
"""
import base64
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
import urllib.error
import urllib.parse
import urllib.request

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
LIMIT = 60.0
PESEL = "75051500007"  # Zofia Źdźbło-Testowa, IN-1 for parcel 162 (made up)
PARCEL = "parcel:221101_1.0001.161/8"
PARCEL_PERSON = "parcel:221101_1.0001.162"
ELEMENT = "element-6066-11e4-a5e6-4a6a8c5d2a7b"

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait(cond, what, limit=LIMIT):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            v = cond()
        except Exception:  # not up yet
            v = None
        if v:
            return v
        time.sleep(0.2)
    raise RuntimeError("timed out waiting for " + what)


def http(method, url, body=None, cookie=None, ctype="application/json"):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Browser:
    """One Chromium session over chromedriver's WebDriver HTTP API."""

    def __init__(self, driver_url):
        self.base = driver_url
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--lang=pl", "--no-first-run",
                         "--disable-background-networking"]}}}}
        st, _, body = http("POST", self.base + "/session", caps)
        if st != 200:
            raise RuntimeError("chromedriver: " + body.decode()[:500])
        self.sid = json.loads(body)["value"]["sessionId"]
        self.url = self.base + "/session/" + self.sid

    def cmd(self, method, path, body=None):
        st, _, out = http(method, self.url + path, body)
        v = json.loads(out)["value"] if out else None
        if st != 200:
            raise RuntimeError(f"webdriver {path}: {v}")
        return v

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync",
                        {"script": script, "args": list(args)})

    def find(self, css):
        v = self.cmd("POST", "/element",
                     {"using": "css selector", "value": css})
        return v.get(ELEMENT) or next(iter(v.values()))

    def type(self, css, text):
        self.cmd("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def source(self):
        return self.cmd("GET", "/source")

    def shot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def view(self, hash_, ready):
        """Go to a view and wait until the page says it is drawn."""
        self.js("document.body.dataset.ready = ''; location.hash = arguments[0];",
                hash_)
        wait(lambda: self.js("return document.body.dataset.ready") == ready,
             "view " + hash_)

    def close(self):
        try:
            http("DELETE", self.url)
        except Exception:
            pass


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    ratuszd, cli, adapter, src, shots = sys.argv[1:]
    if not CHROMIUM or not DRIVER:
        print("skip: chromium and chromium-driver are needed "
              "(deploy/install-deps.sh --with-test-tools)")
        return 77
    os.makedirs(shots, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ratusz-console-")
    procs = []
    browser = None
    try:
        return run(ratuszd, cli, adapter, src, shots, work, procs,
                   lambda b: procs.append(b))
    finally:
        for p in procs:
            if isinstance(p, Browser):
                p.close()
        for p in procs:
            if isinstance(p, subprocess.Popen):
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not failures:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work dir kept:", work)
        del browser


def find_key(j, key):
    """The first value of key anywhere in a JSON document, or None."""
    if isinstance(j, dict):
        if key in j:
            return j[key]
        j = list(j.values())
    if isinstance(j, list):
        for v in j:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def check_pseudonym_search(base, pw, login, shots):
    """The Timeline's search by a taxpayer's pseudonym: the official (no
    clearance) follows the demo taxpayer of parcel 162 without learning who
    it is; a PESEL is refused for them and searched for the iod. Returns the
    pseudonym."""
    form = "application/x-www-form-urlencoded"

    def session(user):
        _, hdr, _ = http("POST", base + "/api/login",
                         f"user={user}&password={pw[user]}".encode(),
                         ctype=form)
        return hdr.get("Set-Cookie", "").split(";")[0]

    official, iod = session("official"), session("iod")
    st, _, body = http("GET", base + "/api/timeline?subject=" + PARCEL_PERSON,
                       cookie=official)
    pseud = find_key(json.loads(body), "pesel")
    check(st == 200 and isinstance(pseud, str) and len(pseud) == 27
          and pseud.startswith("~"),
          f"the official reads the taxpayer of parcel 162 as {pseud}")

    def by(q, cookie):
        st, _, b = http("GET", base + "/api/pseudonym?q="
                        + urllib.parse.quote(q), cookie=cookie)
        return st, (json.loads(b) if b else {}), b
    # the index trails the log by a poll interval: wait for it (bounded)
    wait(lambda: by(pseud, official)[1].get("events"),
         "the pseudonym index holds the demo taxpayer")
    st, j, raw = by(pseud, official)
    seqs = [e["seq"] for e in j["events"]]
    check(st == 200 and seqs == sorted(seqs) and all(
        e["topic"].startswith("2211011.tax.") for e in j["events"])
        and PESEL.encode() not in raw,
        f"API by pseudonym: {len(seqs)} tax events in seq order, no PESEL")
    check(all(find_key(e["event"], "pesel") == pseud for e in j["events"]),
          "API by pseudonym: every event is the same taxpayer's")
    st, j2, _ = by(PESEL, official)
    check(st == 403 and j2.get("code") == "pseudonym_only",
          "API: a PESEL from a principal without clearance: 403")
    st, j3, raw3 = by(PESEL, iod)
    check(st == 200 and j3.get("pseudonym") == pseud
          and [e["seq"] for e in j3["events"]] == seqs
          and PESEL.encode() in raw3,
          "API: the iod's PESEL is searched as its pseudonym, in the clear")
    for bad in ("~abc", "~" + "a" * 25 + "1", "Kowalski"):
        st, _, _ = by(bad, official)
        check(st == 400, f"API: {bad!r} is not a pseudonym: 400")

    # the page: the official types the pseudonym into the Timeline's box
    b = login("official", "pl")
    b.view("#timeline", "timeline")
    b.type("#subject", pseud)
    b.js("document.body.dataset.ready = '';"
         "document.querySelector('form.search button').click()")
    wait(lambda: b.js("return document.body.dataset.ready") == "timeline",
         "the Timeline by pseudonym")
    types = b.js("return [...document.querySelectorAll('article.event')]"
                 ".map(a => a.dataset.type)")
    title = b.js("return (document.getElementById('pseud-title') || {})"
                 ".innerText || ''")
    check(len(types) == len(seqs)
          and all(t.startswith("pl.gov.gmina.tax.") for t in types),
          f"Timeline by pseudonym: the taxpayer's {len(types)} tax events")
    check(pseud in title and "pseudonim" in title.lower(),
          f"Timeline by pseudonym: the title names it ({title!r})")
    check(PESEL not in b.source(),
          "Timeline by pseudonym: no PESEL for the official")
    n = b.shot(os.path.join(shots, "timeline-pseudonym.png"))
    check(n > 10000, f"Timeline by pseudonym screenshot ({n} bytes)")
    b.view(f"#timeline?subject={PESEL}", "timeline")
    msg = b.js("return (document.getElementById('pseud-error') || {})"
               ".innerText || ''")
    check("pseudonimie" in msg and not b.js(
        "return document.querySelectorAll('article.event').length"),
        f"Timeline: a PESEL from the official is refused in Polish ({msg!r})")
    b = login("iod")
    b.view(f"#timeline?subject={PESEL}", "timeline")
    n_iod = b.js("return document.querySelectorAll('article.event').length")
    check(n_iod == len(seqs) and PESEL in b.source(),
          f"Timeline: the iod's PESEL finds the {n_iod} events in the clear")
    return pseud


def run(ratuszd, cli, adapter, src, shots, work, procs, keep):
    keys = os.path.join(work, "keys")
    os.makedirs(keys)
    for name in ("ratuszd", "loader", "adapter-tax", "adapter-gis", "auditor"):
        subprocess.run([cli, "keygen", name, "--dir", keys], check=True,
                       stdout=subprocess.DEVNULL)

    def passwd(pw):
        return subprocess.run([cli, "passwd"], input=pw + "\n", check=True,
                              capture_output=True, text=True).stdout.strip()

    pw = {"operator": "op-Haslo-1", "official": "urzednik-2", "iod": "iod-3",
          "clerk": "clerk-4"}
    hashes = {k: passwd(v) for k, v in pw.items()}
    check(all(h.startswith("$argon2id$") for h in hashes.values()),
          "ratusz passwd prints Argon2id hashes")
    with open(os.path.join(work, "principals.yaml"), "w") as f:
        f.write(f"""principals:
  loader:
    key_file: keys/loader.pub
    publish_sources: ["*"]
    publish_tenants: ["*"]
  adapter-tax:
    key_file: keys/adapter-tax.pub
    publish_sources: ["/2211011/tax/*"]
    publish_tenants: ["2211011"]
    admin: [report]
  adapter-gis:
    key_file: keys/adapter-gis.pub
    publish_sources: ["/*/gis/*"]
    publish_tenants: ["*"]
    admin: [report]
  auditor:
    key_file: keys/auditor.pub
    read: [""]
    admin: [audit]
  operator:
    console_password: "{hashes['operator']}"
    read: [""]
    admin: [stats]
  official:
    console_password: "{hashes['official']}"
    read: ["2211011.", "0264011.", "1465011.", "2261011."]
  clerk:
    console_password: "{hashes['clerk']}"
    read: ["2211011."]
  iod:
    console_password: "{hashes['iod']}"
    read: [""]
    personal_data: true
""")
    front, stream, http_port = free_port(), free_port(), free_port()
    log = open(os.path.join(work, "ratuszd.log"), "w")
    broker = subprocess.Popen(
        [ratuszd, "--data-dir", os.path.join(work, "data"),
         "--listen", f"tcp://127.0.0.1:{front}",
         "--stream", f"tcp://127.0.0.1:{stream}",
         "--metrics", f"127.0.0.1:{http_port}",
         "--server-key", os.path.join(keys, "ratuszd.key"),
         "--principals", os.path.join(work, "principals.yaml"),
         "--console", "on"], stdout=log, stderr=subprocess.STDOUT)
    keep(broker)
    base = f"http://127.0.0.1:{http_port}"
    wait(lambda: http("GET", base + "/healthz")[0] == 200, "ratuszd")

    env = dict(os.environ, RATUSZ_ENDPOINT=f"tcp://127.0.0.1:{front}",
               RATUSZ_SERVER_KEY=os.path.join(keys, "ratuszd.pub"))
    with open(os.path.join(src, "deploy/sample/events.ndjson"), "rb") as f:
        r = subprocess.run([cli, "-k", os.path.join(keys, "loader.key"),
                            "pub"], stdin=f, env=env, capture_output=True)
    check(r.returncode == 0, "the demo sample is published")

    # the tax exports and the EGiB parcel through the adapters, as
    # deploy/demo.sh runs them (the sample leaves the parcel to the gis
    # adapter)
    def run_adapter(system, files, what, name=None, code=0):
        d = name.replace("/", "-") if name else system
        with open(os.path.join(src, f"deploy/adapters/{system}.yaml")) as f:
            conf = f.read()
        conf = conf.replace(f"var/adapters/{system}", os.path.join(work, d))
        conf = conf.replace("deploy/sample/src",
                            os.path.join(src, "deploy/sample/src"))
        os.makedirs(os.path.join(work, d))
        with open(os.path.join(work, f"{d}.yaml"), "w") as f:
            f.write(conf)
        r = subprocess.run(
            [adapter, "-c", os.path.join(work, f"{d}.yaml"),
             "--broker", f"tcp://127.0.0.1:{front}",
             "--key", os.path.join(keys, f"adapter-{system}.key"),
             "--server-key", os.path.join(keys, "ratuszd.pub"),
             "--data-dir", os.path.join(work, d, "data")]
            + (["--name", name] if name else []) + files,
            capture_output=True, text=True, timeout=300)
        check(r.returncode == code, what + " "
              + (r.stderr[-300:] if r.returncode != code else ""))

    taxdir = os.path.join(src, "deploy/sample/tax")
    run_adapter("tax", sorted(os.path.join(taxdir, n)
                              for n in os.listdir(taxdir)
                              if n.endswith((".xml", ".txt"))),
                "the tax adapter publishes the Hel exports")
    run_adapter("gis", [os.path.join(
        src, "deploy/sample/src/egib_dzialka_221101_1.0001.161_8.gml")],
        "the gis adapter publishes the EGiB parcel")
    # a decisions export with three broken records (its two good ones are
    # the sample's: duplicates), for the quarantine by class of reason
    run_adapter("tax", [os.path.join(
        src, "tests/fixtures/tax/decyzje_2024_hel_bledy.txt")],
        "the tax adapter quarantines 3 records of the broken export",
        name="adapter/tax-bledy", code=1)

    # --- the API without a browser: refusals --------------------------------
    st, _, _ = http("GET", base + "/api/overview")
    check(st == 401, "the API without a session: 401")
    st, _, _ = http("POST", base + "/api/login",
                    b"user=official&password=wrong",
                    ctype="application/x-www-form-urlencoded")
    check(st == 401, "a wrong password: 401")
    form = "application/x-www-form-urlencoded"
    codes = [http("POST", base + "/api/login", b"user=clerk&password=guess",
                  ctype=form)[0] for _ in range(5)]
    st, _, _ = http("POST", base + "/api/login",
                    f"user=clerk&password={pw['clerk']}".encode(), ctype=form)
    check(codes == [401] * 5 and st == 429,
          f"five wrong passwords lock the name out ({codes}, then {st})")
    st, hdr, body = http("POST", base + "/api/login",
                         f"user=official&password={pw['official']}".encode(),
                         ctype="application/x-www-form-urlencoded")
    cookie = hdr.get("Set-Cookie", "")
    check(st == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie,
          "a login sets an HttpOnly, SameSite=Strict session cookie")
    session = cookie.split(";")[0]
    st, _, body = http("GET", base + "/api/topic?prefix=02.", cookie=session)
    check(st == 403, "a topic outside the official's grants: 403")
    st, _, body = http("GET", base + "/api/overview", cookie=session)
    check(st == 403, "the Overview without the stats grant: 403")
    st, _, body = http("GET", base + "/api/timeline?subject=terc:02",
                       cookie=session)
    j = json.loads(body)
    check(st == 200 and not j["events"] and j["withheld"] > 0,
          "events outside the grants are withheld from a timeline")
    st, _, body = http("GET", base + "/api/timeline?subject=x&after=zz",
                       cookie=session)
    check(st == 400, "a malformed cursor: 400")
    st, hdr, _ = http("POST", base + "/api/login",
                      f"user=official&password={pw['official']}".encode(),
                      ctype=form)
    other = hdr.get("Set-Cookie", "").split(";")[0]
    st, _, _ = http("POST", base + "/api/logout", b"", cookie=other)
    st2, _, _ = http("GET", base + "/api/me", cookie=other)
    st3, _, _ = http("GET", base + "/api/me", cookie=session)
    check(st == 200 and st2 == 401 and st3 == 200,
          "logout ends that session only")

    # the rates chart needs two samples with the publishes between them
    def rated():
        st, _, b = http("GET", base + "/api/overview", cookie=op_cookie)
        h = json.loads(b)["history"]
        return any(any(x > 0 for x in s["rate"]) for s in h["series"])
    st, hdr, _ = http("POST", base + "/api/login",
                      f"user=operator&password={pw['operator']}".encode(),
                      ctype="application/x-www-form-urlencoded")
    op_cookie = hdr.get("Set-Cookie", "").split(";")[0]
    wait(rated, "a rate sample after the publishes", limit=40)

    # --- the browser --------------------------------------------------------
    dport = free_port()
    dlog = open(os.path.join(work, "chromedriver.log"), "w")
    driver = subprocess.Popen([DRIVER, f"--port={dport}"], stdout=dlog,
                              stderr=subprocess.STDOUT)
    keep(driver)
    durl = f"http://127.0.0.1:{dport}"
    wait(lambda: http("GET", durl + "/status")[0] == 200, "chromedriver")

    def login(user, lang="en"):
        b = Browser(durl)
        keep(b)
        b.go(base + "/")
        b.js("localStorage.setItem('rz-lang', arguments[0])", lang)
        b.go(base + "/")
        wait(lambda: b.js("return !document.getElementById('login').hidden"),
             "the login form")
        b.type("#user", user)
        b.type("#password", pw[user])
        b.click("#login-btn")
        wait(lambda: b.js("return document.body.dataset.ready"),
             user + "'s first view")
        return b

    # operator: the Overview
    b = login("operator")
    b.view("#overview", "overview")
    text = b.js("return document.getElementById('view').innerText")
    check("adapter" in text and "tax" in text,
          "Overview: the tax adapter among the components")
    check(b.js("return document.querySelectorAll('#rates polyline').length") > 0,
          "Overview: the rates chart has lines")
    check("2211011" in text, "Overview: the Hel tax series in the table")
    n = b.shot(os.path.join(shots, "overview.png"))
    check(n > 10000, f"Overview screenshot ({n} bytes)")

    # operator: the quarantine by class of reason, under Topics
    def quarantine_rows(b):
        wait(lambda: b.js("return !!document.querySelector("
                          "'#quarantine-classes tbody tr')"),
             "the quarantine classes table")
        return b.js("return [...document.querySelectorAll("
                    "'#quarantine-classes tbody tr')].map(r => "
                    "[...r.cells].map(c => c.innerText))")
    b.view("#topic", "topic")
    rows = quarantine_rows(b)
    pesel = [r for r in rows if r[0] == "adapter/tax-bledy"
             and r[1] == "PESEL (columns …): '…': checksum digit is …, "
                         "expected …"]
    check(len(pesel) == 1 and pesel[0][2] == "1"
          and "'90123100001'" in pesel[0][3] and pesel[0][4],
          f"Topics: the quarantine lists the PESEL class with 1 record "
          f"and its example ({rows})")
    check(len([r for r in rows if r[0] == "adapter/tax-bledy"]) == 3,
          "Topics: the broken export's three classes")
    check("Quarantine by reason" in b.js(
        "return document.getElementById('quarantine-classes').innerText"),
        "Topics: the quarantine classes headed in English")
    bpl = login("operator", "pl")
    bpl.view("#topic", "topic")
    quarantine_rows(bpl)
    head = bpl.js("return document.getElementById('quarantine-classes')"
                  ".innerText")
    check("Kwarantanna według przyczyn" in head and "Przykład" in head,
          "Topics: the quarantine classes headed in Polish")
    b.view(f"#timeline?subject={PARCEL_PERSON}", "timeline")
    src_op = b.source()
    check(PESEL not in src_op and "~" in src_op,
          "operator (no clearance): parcel 162 shows pseudonyms, no PESEL")

    # official: one parcel across systems
    b = login("official", "pl")
    check(b.js("return document.body.dataset.ready") == "timeline",
          "official without stats starts on the Timeline")
    nav = b.js("return document.getElementById('nav').innerText")
    check("Oś czasu" in nav, f"the page in Polish ({nav!r})")
    b.view(f"#timeline?subject={PARCEL}", "timeline")
    types = b.js("return [...document.querySelectorAll('article.event')]"
                 ".map(a => a.dataset.type)")
    check("pl.gov.gmina.gis.parcel.v1" in types,
          f"Timeline {PARCEL}: the EGiB record ({len(types)} events)")
    check(any(t.startswith("pl.gov.gmina.tax.") for t in types),
          f"Timeline {PARCEL}: its tax records on the same timeline")
    check(b.js("return document.querySelectorAll('svg.gis path').length") == 1,
          "Timeline: the parcel drawn as a map")
    cap = b.js("return document.querySelector('figure.map figcaption').innerText")
    check("EPSG:2177" in cap, f"Timeline: the map names its CRS ({cap})")
    page = b.js("return document.getElementById('view').innerText")
    check("zł" in page, "Timeline: money in zł")
    # due_date is marked a date (midnight in Warsaw): shown as the day,
    # not as 01:00 of a UTC midnight
    due = b.js("return [...document.querySelectorAll('article.event dt')]"
               ".filter(e => e.innerText === 'Termin')"
               ".map(e => e.nextElementSibling.innerText)")
    check(bool(due) and all(re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", d)
                            for d in due),
          f"Timeline: the tax due date shown as a day ({due[:2]})")
    links = b.js("return [...document.querySelectorAll('a.raw')].map(a => a.href)")
    check(links and all("/api/event?seq=" in h for h in links),
          "Timeline: every event links its raw CloudEvent")
    n = b.shot(os.path.join(shots, "timeline.png"))
    check(n > 10000, f"Timeline screenshot ({n} bytes)")
    b.view(f"#timeline?subject={PARCEL_PERSON}", "timeline")
    check(PESEL not in b.source(),
          "official (no clearance): no PESEL on the timeline of parcel 162")
    b.view("#timeline?subject=station:117", "timeline")
    check(b.js("return document.querySelectorAll('#air-chart polyline').length") > 0,
          "Timeline station:117: the air measurements as a chart")
    b.view("#timeline?subject=project:OLS/0004", "timeline")
    page = b.js("return document.getElementById('view').innerText")
    check("BudgetEntry" not in page and " zł" in page.replace("\u00a0", " "),
          "Timeline of a budget project: its amount in zł")
    b.view("#topic?prefix=2211011.tax.", "topic")
    check(PESEL not in b.source(), "official: no PESEL on the Topic page")
    b.view("#overview", "overview")
    check(PESEL not in b.source() and "error" in b.source(),
          "official: the Overview is refused")
    b.go(links[0])
    raw = wait(lambda: b.js("return document.body.innerText"), "raw event")
    check('"specversion"' in raw, "the raw CloudEvent opens")

    # iod: personal data in the clear, and the Topic page
    b = login("iod")
    b.view(f"#timeline?subject={PARCEL_PERSON}", "timeline")
    check(PESEL in b.source(), "iod (cleared): the PESEL on parcel 162")
    b.view("#topic?prefix=0264011.env.", "topic")
    check(b.js("return document.querySelectorAll('article.event').length") == 100,
          "Topic: the first page holds 100 events")
    b.click("#more")
    wait(lambda: b.js("return document.querySelectorAll('article.event').length") > 100,
         "Topic: the next page")
    b.view("#topic?prefix=2211011.", "topic")
    n = b.shot(os.path.join(shots, "topic.png"))
    check(n > 10000, f"Topic screenshot ({n} bytes)")
    b.js("document.getElementById('lang').click()")
    wait(lambda: b.js("return document.querySelector('#nav a').innerText")
         == "Przegląd", "the language button: English to Polish")

    # --- a taxpayer by pseudonym (the pseudonym index) ----------------------
    pseud = check_pseudonym_search(base, pw, login, shots)

    # --- the audit log: every view, with principal and address ---------------
    r = subprocess.run([cli, "-k", os.path.join(keys, "auditor.key"),
                        "audit", "--limit", "1000"], env=env,
                       capture_output=True, text=True)
    log_text = r.stdout
    check("CONSOLE TIMELINE" in log_text and "official" in log_text,
          "audit: the official's timeline views")
    check("read-personal" in log_text and "iod" in log_text,
          "audit: the iod's read of personal data")
    check("CONSOLE PSEUDONYM" in log_text and f"pseudonym={pseud}" in log_text,
          "audit: the pseudonym searches, by pseudonym")
    check(PESEL not in log_text,
          "audit: the PESEL the iod typed is not in the audit log")
    check("CONSOLE LOGIN" in log_text and "wrong user or password" in log_text,
          "audit: the logins, the failed one too")
    check("http:127.0.0.1" in log_text, "audit: the client address")
    check("locked out after failed logins" in log_text,
          "audit: the locked-out login")

    # --- beyond loopback: TLS or no start ------------------------------------
    common = ["--server-key", os.path.join(keys, "ratuszd.key"),
              "--principals", os.path.join(work, "principals.yaml"),
              "--console", "on"]
    r = subprocess.run(
        [ratuszd, "--data-dir", os.path.join(work, "data2"),
         "--listen", f"tcp://127.0.0.1:{free_port()}",
         "--stream", f"tcp://127.0.0.1:{free_port()}",
         "--metrics", f"0.0.0.0:{free_port()}"] + common,
        capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "without TLS" in r.stderr,
          "console beyond loopback without TLS: refused (exit 2)")
    tls_port = free_port()
    crt, key = os.path.join(work, "console.crt"), os.path.join(work, "console.key")
    if shutil.which("openssl"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-keyout", key, "-out", crt], check=True,
                       capture_output=True)
        os.chmod(key, 0o600)
        tls = subprocess.Popen(
            [ratuszd, "--data-dir", os.path.join(work, "data3"),
             "--listen", f"tcp://127.0.0.1:{free_port()}",
             "--stream", f"tcp://127.0.0.1:{free_port()}",
             "--metrics", f"0.0.0.0:{tls_port}",
             "--console-tls-cert", crt, "--console-tls-key", key] + common,
            stdout=log, stderr=subprocess.STDOUT)
        keep(tls)
        import ssl
        ctx = ssl.create_default_context(cafile=crt)
        ctx.check_hostname = False

        def https(path, data=None):
            req = urllib.request.Request(f"https://127.0.0.1:{tls_port}" + path,
                                         data=data)
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
                    return r.status, dict(r.headers)
            except urllib.error.HTTPError as e:
                return e.code, dict(e.headers)
        wait(lambda: https("/healthz")[0] == 200, "the console over HTTPS")
        st, hdr = https("/api/login",
                        f"user=iod&password={pw['iod']}".encode())
        check(st == 200 and "; Secure" in hdr.get("Set-Cookie", ""),
              "HTTPS: a login's cookie is Secure")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{tls_port}/healthz",
                                   timeout=10)
            plain = True
        except Exception:
            plain = False
        check(not plain, "HTTPS: plain HTTP is not served")

    # a clean stop: under ASan a leak or an error makes the exit non-zero
    broker.terminate()
    rc = broker.wait(timeout=60)
    check(rc == 0, f"ratuszd stops cleanly (exit {rc})")

    if failures:
        print(f"{len(failures)} checks failed")
        with open(os.path.join(work, "ratuszd.log")) as f:
            print(f.read()[-2000:])
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
