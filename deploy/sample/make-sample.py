#!/usr/bin/env python3
"""make-sample.py - build deploy/sample/events.ndjson from the real files in src/.

Every event is one line of CloudEvents JSON (structured mode) in the shape
`ratusz pub` reads: the envelope attributes, "tenant" (a TERYT TERC code of
2, 4 or 7 digits), "time" in RFC 3339 UTC, and "data". Domain events carry
"dataschema": "ratusz.v1.<Message>" and a data object with that message's
proto field names; raw events (registry rows, station records, ballots) have
no dataschema and carry the source record as a JSON object.

The output is deterministic: run it twice and the bytes are the same. It
needs only the Python 3 standard library (3.9+, for zoneinfo and the system
tz database). Usage:

    python3 deploy/sample/make-sample.py            # writes events.ndjson
    python3 deploy/sample/make-sample.py --check    # fails if it is stale

See README.md next to this file for what comes from where.
"""

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import sys
from collections import Counter, OrderedDict
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
OUT = os.path.join(HERE, "events.ndjson")

WARSAW = ZoneInfo("Europe/Warsaw")
UTC = dt.timezone.utc
PREFIX = "pl.gov.gmina."

# A geometry larger than this (GeoJSON text, bytes) is thinned by keeping
# every Nth vertex of each ring. None of the current sources needs it (the
# largest voivodeship outline is ~33 KB); the limit keeps one event far
# below the broker's default max_message (4 MiB) if a source file changes.
GEOMETRY_MAX = 500 * 1024


# --------------------------------------------------------------------------
# helpers


def src(name):
    return os.path.join(SRC, name)


def read_bytes(name):
    with open(src(name), "rb") as f:
        return f.read()


def read_text(name):
    # utf-8-sig: tolerate a BOM should a source ever come with one
    return read_bytes(name).decode("utf-8-sig")


def rfc3339(t):
    """An aware datetime as RFC 3339 UTC with a Z, second precision."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_us(t):
    delta = t.astimezone(UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def warsaw(y, m, d, hh=0, mm=0, ss=0):
    """A wall-clock time in Poland (the zone of every source here)."""
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=WARSAW)


def end_of_year(year):
    """Midnight at the end of the year in Warsaw: <year>-12-31T23:00:00Z."""
    return warsaw(year + 1, 1, 1)


def grosze(text):
    """A decimal-comma (or dot) amount in złoty as exact integer grosze:
    "275,74" -> 27574, "110" -> 11000, "482,00" -> 48200. No floats."""
    m = re.fullmatch(r"(-?)(\d+)(?:[.,](\d{1,2}))?", text.strip())
    if not m:
        raise ValueError("not an amount: %r" % text)
    sign, zl, gr = m.group(1), int(m.group(2)), (m.group(3) or "0").ljust(2, "0")
    value = zl * 100 + int(gr)
    return -value if sign else value


def is_terc(code):
    return code.isdigit() and len(code) in (2, 4, 7)


class Num(str):
    """A JSON number kept as the exact text it had in the source."""


def load_json_exact(text):
    """json.loads that keeps every number as its source text (Num), so a
    geometry is written back with exactly the digits the source had."""
    return json.loads(text, parse_float=Num, parse_int=Num)


def dump_exact(v):
    """Compact JSON of a value loaded by load_json_exact."""
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" +
                              dump_exact(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dump_exact(x) for x in v) + "]"
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    raise TypeError(type(v))


def positions(coords):
    """Every [x, y] position in a GeoJSON coordinates array."""
    if coords and not isinstance(coords[0], list):
        yield coords
        return
    for c in coords:
        yield from positions(c)


def bbox(coords):
    xs, ys = [], []
    for p in positions(coords):
        xs.append(float(p[0]))
        ys.append(float(p[1]))
    return [min(xs), min(ys), max(xs), max(ys)]


def thin(coords, n):
    """Keep every nth vertex of each ring (first and last kept, so rings stay
    closed)."""
    if coords and isinstance(coords[0], list) and coords[0] and \
            not isinstance(coords[0][0], list):
        ring = coords
        kept = ring[:-1:n] + [ring[-1]]
        return kept if len(kept) >= 4 else ring
    return [thin(c, n) for c in coords]


def geojson_text(geometry, what):
    """The geometry as compact GeoJSON text; thinned when too large."""
    text = dump_exact(geometry)
    n = 1
    while len(text.encode()) > GEOMETRY_MAX:
        n += 1
        g = dict(geometry)
        g["coordinates"] = thin(geometry["coordinates"], n)
        text = dump_exact(g)
        print("make-sample: %s: geometry thinned to every %dth vertex" %
              (what, n), file=sys.stderr)
    return text


def event(id_, source, type_, subject, tenant, time, data, schema=None):
    assert is_terc(tenant), (id_, tenant)
    assert type_.startswith(PREFIX), type_
    e = OrderedDict()
    e["specversion"] = "1.0"
    e["id"] = id_
    e["source"] = source
    e["type"] = type_
    e["subject"] = subject
    e["tenant"] = tenant
    e["time"] = rfc3339(time)
    e["datacontenttype"] = "application/json"
    if schema:
        e["dataschema"] = schema
    e["data"] = data
    return e


# --------------------------------------------------------------------------
# TERYT TERC (GUS, 2020-01-01): the register every tenant code comes from


class Terc:
    def __init__(self, name):
        text = read_text(name)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        header = rows[0]
        self.rows = []
        for r in rows[1:]:
            if not any(r):
                continue  # the file ends with an empty line
            self.rows.append(OrderedDict(zip(header, r)))

    @staticmethod
    def code(r):
        return r["WOJ"] + r["POW"] + r["GMI"] + r["RODZ"]

    def voivodeship(self, name):
        for r in self.rows:
            if not r["POW"] and r["NAZWA"].upper() == name.upper():
                return r["WOJ"]
        return None

    def gmina(self, woj, district, commune, city):
        """The TERC code of the gmina `commune` in powiat `district` of
        voivodeship `woj`, or None. When a name is both an urban and a rural
        gmina (Bolesławiec 1 and 2), a station in the town itself (city ==
        commune) is in the urban or urban-rural gmina, otherwise in the
        rural one. Districts (8) and delegations (9) are never tenants."""
        pows = [r["POW"] for r in self.rows
                if r["WOJ"] == woj and r["POW"] and not r["GMI"] and
                r["NAZWA"].lower() == district.lower()]
        cands = [r for r in self.rows
                 if r["WOJ"] == woj and r["POW"] in pows and r["GMI"] and
                 r["RODZ"] in ("1", "2", "3") and
                 r["NAZWA"].lower() == commune.lower()]
        if not cands:
            return None
        order = "132" if city.lower() == commune.lower() else "231"
        cands.sort(key=lambda r: order.index(r["RODZ"]))
        return self.code(cands[0])


def terc_events(terc, tenant_mode):
    """One raw event per register row. The subject is the unit itself
    ("terc:0201011"); the tenant is the unit's voivodeship by default, so
    the register forms 16 tenants rather than 4,194 (every unit its own
    tenant would give the broker's per-tenant statistics and metrics one
    series per row). --terc-tenant own makes it the unit's own code."""
    out = []
    for r in terc.rows:
        code = terc.code(r)
        if not is_terc(code):
            continue
        tenant = code if tenant_mode == "own" else r["WOJ"]
        y, m, d = (int(x) for x in r["STAN_NA"].split("-"))
        out.append(event(
            "terc-%s-%s" % (code, r["STAN_NA"]),
            "/gus/teryt/terc",
            "pl.gov.gmina.registry.terc.unit.v1",
            "terc:" + code, tenant, warsaw(y, m, d),
            dict(r)))
    return out


# --------------------------------------------------------------------------
# budget: GUS BDL FINA_2416 (regional spending per inhabitant)


def bdl_events():
    name = "GUS_BDL_FINA_2416_wojewodztwa_2002-2023.csv"
    rows = list(csv.reader(io.StringIO(read_text(name), newline=""),
                           delimiter=";"))
    header = [h for h in rows[0] if h]  # every line ends with ';'
    out = []
    for r in rows[1:]:
        if not any(r):
            continue
        rec = OrderedDict(zip(header, r))
        code, year = rec["Kod"], int(rec["Rok"])
        tenant = code[:2]
        data = OrderedDict([
            ("side", "BUDGET_SIDE_EXPENDITURE"),
            ("stage", "BUDGET_STAGE_EXECUTION"),
            ("amount_grosze", grosze(rec["Wartosc"])),
            ("currency", "PLN"),
            ("fiscal_year", year),
            ("period", str(year)),
            ("report", "BDL:FINA_2416"),
            ("unit", rec["Nazwa"]),
            ("description", "wydatki budżetu województwa na 1 mieszkańca "
                            "(" + rec["Jednostka miary"] + "): " +
                            rec["Wskaźniki"]),
            ("attributes", rec),
        ])
        out.append(event(
            "bdl-fina-2416-%s-%d" % (code, year),
            "/%s/budget/gus-bdl" % tenant,
            "pl.gov.gmina.budget.expenditure-per-capita.v1",
            "unit:" + code, tenant, end_of_year(year), data,
            "ratusz.v1.BudgetEntry"))
    return out


# --------------------------------------------------------------------------
# budget: Pabulib, Gdańsk participatory budget 2020, district Olszynka

GDANSK = "2261011"


def pabulib_events(terc):
    name = "poland_gdansk_2020_olszynka.pb"
    assert any(terc.code(r) == GDANSK and r["NAZWA"] == "Gdańsk"
               for r in terc.rows)
    sections, cur = {}, None
    for line in read_text(name).splitlines():
        if line in ("META", "PROJECTS", "VOTES"):
            cur = sections.setdefault(line, [])
            continue
        cur.append(line.split(";"))
    meta = {k: v for k, v in sections["META"][1:]}
    instance, district = meta["instance"], meta["district"]
    base = "pabulib-gdansk-%s-%s" % (instance, district.lower())
    source = "/%s/budget/pabulib" % GDANSK

    def day(s):  # "09.09.2019"
        d, m, y = (int(x) for x in s.split("."))
        return d, m, y

    d, m, y = day(meta["date_begin"])
    opened = warsaw(y, m, d)
    d, m, y = day(meta["date_end"])
    closed = warsaw(y, m, d) + dt.timedelta(days=1)

    out = []
    head = sections["PROJECTS"][0]
    for r in sections["PROJECTS"][1:]:
        p = OrderedDict(zip(head, r))
        data = OrderedDict([
            ("side", "BUDGET_SIDE_EXPENDITURE"),
            ("stage", "BUDGET_STAGE_PLAN"),
            ("amount_grosze", grosze(p["cost"])),
            ("currency", "PLN"),
            ("fiscal_year", int(instance)),
            ("period", instance),
            ("report", "pabulib"),
            ("unit", "%s / %s" % (meta["unit"], district)),
            ("description", p["name"]),
            ("task", p["project_id"]),
            ("attributes", OrderedDict(
                [(k, v) for k, v in p.items()] +
                [("district", district), ("vote_type", meta["vote_type"]),
                 ("edition", meta["edition"])])),
        ])
        out.append(event(
            "%s-project-%s" % (base, p["project_id"]), source,
            "pl.gov.gmina.budget.participatory.project.v1",
            "project:" + p["project_id"], GDANSK, opened, data,
            "ratusz.v1.BudgetEntry"))

    head = sections["VOTES"][0]
    for r in sections["VOTES"][1:]:
        v = OrderedDict(zip(head, r))
        data = OrderedDict([
            ("voter_id", v["voter_id"]),
            ("vote", v["vote"].split(",")),
            ("points", [int(x) for x in v["points"].split(",")]),
            ("sex", v["sex"]),
            ("age", int(v["age"])),
            ("district", district),
            ("instance", instance),
        ])
        out.append(event(
            "%s-vote-%s" % (base, v["voter_id"]), source,
            "pl.gov.gmina.budget.participatory.vote.v1",
            "ballot:" + v["voter_id"], GDANSK, closed, data))
    return out


# --------------------------------------------------------------------------
# environment: GIOŚ pjp-api (stations, sensors, hourly data)

# getData file -> sensor id; the station comes from the sensors list.
GIOS_DATA = [
    ("gios_data_getData_14395_PM10.json", 14395),
    ("gios_data_getData_658_C6H6_nulls.json", 658),
]
# The snapshot was taken on 2021-01-23 (the newest hour in getData).
GIOS_SNAPSHOT = warsaw(2021, 1, 23)


def gios_events(terc):
    stations = json.loads(read_text("gios_station_findAll.json"),
                          object_pairs_hook=OrderedDict)
    sensors = json.loads(read_text("gios_station_sensors_117.json"))
    sensor_of = {s["id"]: s for s in sensors}

    tenant_of, fallback = {}, 0
    for s in stations:
        c = s["city"]["commune"]
        woj = terc.voivodeship(c["provinceName"])
        assert woj, c
        t = terc.gmina(woj, c["districtName"], c["communeName"],
                       s["city"]["name"])
        if not t:
            t, fallback = woj, fallback + 1
        tenant_of[s["id"]] = t
    station_by_id = {s["id"]: s for s in stations}

    out = []
    for s in stations:
        t = tenant_of[s["id"]]
        out.append(event(
            "gios-station-%d" % s["id"], "/%s/env/gios" % t,
            "pl.gov.gmina.env.air.station.v1",
            "station:%d" % s["id"], t, GIOS_SNAPSHOT, s))

    for name, sensor_id in GIOS_DATA:
        feed = json.loads(read_text(name))
        sensor = sensor_of[sensor_id]
        st = station_by_id[sensor["stationId"]]
        t = tenant_of[st["id"]]
        assert feed["key"] == sensor["param"]["paramCode"]
        for v in reversed(feed["values"]):  # the feed is newest first
            local = dt.datetime.strptime(v["date"], "%Y-%m-%d %H:%M:%S")
            start = local.replace(tzinfo=WARSAW)
            data = OrderedDict([
                ("station_code", str(st["id"])),
                ("station_id", st["id"]),
                ("sensor_id", sensor_id),
                ("parameter", feed["key"]),
                ("parameter_name", sensor["param"]["paramName"]),
            ])
            if v["value"] is not None:  # null = no measurement, never 0
                data["value"] = v["value"]
            data.update([
                ("unit", "ug/m3"),
                ("period_start", unix_us(start)),
                ("period_seconds", 3600),
                ("source_time", v["date"]),
                ("time_zone", "Europe/Warsaw"),
                ("latitude", float(st["gegrLat"])),
                ("longitude", float(st["gegrLon"])),
            ])
            out.append(event(
                "gios-%d-%s" % (sensor_id, local.strftime("%Y%m%d%H")),
                "/%s/env/gios" % t,
                "pl.gov.gmina.env.air.measurement.v1",
                "station:%d" % st["id"], t, start, data,
                "ratusz.v1.AirQualityMeasurement"))
    return out, fallback


# --------------------------------------------------------------------------
# GIS: voivodeship outlines (PRG), Żoliborz. The EGiB parcel in src/ is no
# event here: deploy/demo.sh's gis adapter publishes it from the GML, as a
# municipality's EGiB import would, and two copies of one record from one
# system would stand side by side on the parcel's timeline.


def gis_events(terc):
    out = []
    fc = load_json_exact(read_text("wojewodztwa_JPT_KOD_JE.geojson.json"))
    y, m = (int(x) for x in fc["meta"]["lastUpdate"].split("-"))
    updated = warsaw(y, m, 1)
    for f in fc["features"]:
        p = f["properties"]
        code = str(p["JPT_KOD_JE"])
        g = f["geometry"]
        data = OrderedDict([
            ("feature_id", code),
            ("kind", "boundary"),
            ("name", str(p["JPT_NAZWA_"])),
            ("geometry", OrderedDict([
                ("crs", "EPSG:4326"),
                ("type", str(g["type"])),
                ("geojson", geojson_text(g, "voivodeship " + code)),
                ("bbox", bbox(g["coordinates"])),
            ])),
            ("properties", OrderedDict((k, str(v)) for k, v in p.items())),
        ])
        out.append(event(
            "prg-wojewodztwo-%s-%s" % (code, fc["meta"]["lastUpdate"]),
            "/%s/gis/prg" % code, "pl.gov.gmina.gis.boundary.v1",
            "terc:" + code, code, updated, data, "ratusz.v1.GisFeature"))

    # Żoliborz: a bare geometry, no properties, no code; the TERC register
    # names the district 14 65 19 8 in the gmina Warszawa 1465011.
    zol_code = next(terc.code(r) for r in terc.rows
                    if r["WOJ"] == "14" and r["POW"] == "65" and
                    r["RODZ"] == "8" and r["NAZWA"] == "Żoliborz")
    text = read_text("warszawa_dzielnica_zoliborz.geojson")
    g = load_json_exact(text)
    data = OrderedDict([
        ("feature_id", zol_code),
        ("kind", "boundary"),
        ("name", "Żoliborz"),
        ("geometry", OrderedDict([
            ("crs", "EPSG:4326"),
            ("type", str(g["type"])),
            # the file is the geometry: keep its exact text
            ("geojson", text if len(text) <= GEOMETRY_MAX
             else geojson_text(g, "Żoliborz")),
            ("bbox", bbox(g["coordinates"])),
        ])),
        ("properties", OrderedDict([
            ("terc", zol_code),
            ("kind", "dzielnica"),
            ("file", "żoliborz.geojson"),
        ])),
    ])
    out.append(event(
        "dzielnica-%s" % zol_code, "/1465011/gis/dzielnice",
        "pl.gov.gmina.gis.boundary.v1", "district:zoliborz", "1465011",
        warsaw(2020, 1, 1), data, "ratusz.v1.GisFeature"))

    return out


# --------------------------------------------------------------------------


def verify_sources():
    """The copies in src/ must be the bytes listed in SHA256SUMS (they are
    byte-exact copies of public files; see README.md)."""
    with open(os.path.join(HERE, "SHA256SUMS")) as f:
        for line in f:
            digest, name = line.split(None, 1)
            name = name.strip().lstrip("*")
            if hashlib.sha256(read_bytes(name)).hexdigest() != digest:
                sys.exit("make-sample: src/%s does not match SHA256SUMS; "
                         "restore the original bytes" % name)


def build(terc_tenant="voivodeship"):
    verify_sources()
    terc = Terc("TERC_2020-01-01.csv")
    air, fallback = gios_events(terc)
    events = (terc_events(terc, terc_tenant) + gis_events(terc) + bdl_events() +
              pabulib_events(terc) + air)

    seen = set()
    for e in events:
        key = (e["source"], e["id"])
        assert key not in seen, key
        seen.add(key)
        assert len(e["id"]) <= 200 and len(e["subject"]) <= 400

    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":"))
             for e in events]
    return ("\n".join(lines) + "\n").encode("utf-8"), events, fallback


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if events.ndjson differs from a fresh build")
    ap.add_argument("-o", "--output", default=OUT)
    ap.add_argument("--terc-tenant", choices=("voivodeship", "own"),
                    default="voivodeship",
                    help="tenant of TERC register rows (default: the "
                         "unit's voivodeship)")
    args = ap.parse_args()

    blob, events, fallback = build(args.terc_tenant)
    if args.check:
        with open(args.output, "rb") as f:
            same = f.read() == blob
        print("make-sample: %s is %s" %
              (args.output, "up to date" if same else "STALE"))
        return 0 if same else 1

    with open(args.output, "wb") as f:
        f.write(blob)
    by_type = Counter(e["type"] for e in events)
    for t, n in sorted(by_type.items()):
        print("%6d  %s" % (n, t))
    nulls = sum(1 for e in events
                if e["type"].endswith("air.measurement.v1") and
                "value" not in e["data"])
    print("%6d  events, %d bytes, sha256 %s" %
          (len(events), len(blob), hashlib.sha256(blob).hexdigest()))
    print("        (%d measurements without a value; %d stations fell back "
          "to the voivodeship tenant)" % (nulls, fallback))
    return 0


if __name__ == "__main__":
    sys.exit(main())
