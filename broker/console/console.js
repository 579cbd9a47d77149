/* console.js - the Ratusz web console: plain JS, no libraries, nothing
 * fetched from outside the broker. Views: Overview, Timeline, Topic. */
'use strict';

const TZ = 'Europe/Warsaw';

const TEXT = {
  pl: {
    overview: 'Przegląd', timeline: 'Oś czasu', topic: 'Tematy',
    logout: 'Wyloguj', login_title: 'Logowanie do konsoli',
    user: 'Użytkownik', password: 'Hasło', login: 'Zaloguj',
    bad_login: 'Zły użytkownik lub hasło',
    status: 'Stan', head: 'Ostatni seq', store: 'Magazyn', memory: 'Pamięć',
    events: 'Zdarzenia', uptime: 'Czas pracy',
    rates: 'Zdarzenia na sekundę w ostatniej godzinie (dziedzina w gminie)',
    no_rates: 'Brak danych o przepływie (próbka co 10 s).',
    series: 'Serie', source: 'Źródło', tenant: 'Gmina', domain: 'Dziedzina',
    events_in: 'Przyjęte', rate1: 'Na s (1 min)', last: 'Ostatnie',
    components: 'Komponenty', name: 'Nazwa', detail: 'Szczegóły',
    reported: 'Raport', consumers: 'Grupy konsumentów', lag: 'Zaległość',
    position: 'Pozycja', problems: 'Problemy', no_problems: 'Brak problemów.',
    subject: 'Podmiot', search: 'Szukaj', more: 'Więcej',
    subject_hint: 'np. parcel:221101_1.0001.161/8, station:117, unit:1400000',
    no_events: 'Brak zdarzeń, które możesz zobaczyć.',
    raw: 'CloudEvent', withheld: 'Pominięte (poza uprawnieniami)',
    redacted_note: 'Dane osobowe zastąpione pseudonimami (brak uprawnień).',
    prefix: 'Prefiks tematu', since: 'Od', until: 'Do', next: 'Następna strona',
    quarantine: 'Kwarantanna adapterów', count: 'Liczba',
    q_classes: 'Kwarantanna według przyczyn', q_class: 'Przyczyna (klasa)',
    q_records: 'Rekordy', q_example: 'Przykład', q_none: 'Brak rekordów w kwarantannie.',
    lag_note: 'Magazyn LMDB ma zdarzenia do seq {0}; potwierdzone do {1}.',
    amount: 'Kwota', total: 'Razem', due: 'Termin', taxpayer: 'Podatnik',
    year: 'Rok', objects: 'Przedmioty', area: 'Powierzchnia',
    form: 'Formularz', document: 'Dokument', kind: 'Rodzaj', parcel: 'Działka',
    use: 'Przeznaczenie', base: 'Podstawa', station: 'Stacja',
    measurements: 'Pomiary', value: 'Wartość', crs: 'Układ',
    forbidden: 'Brak uprawnienia do tego widoku.',
    store_full: 'Magazyn zajęty w {0}% (map_max).',
    comp_bad: 'Komponent {0}: {1}', comp_silent: 'Komponent {0} milczy od {1} min.',
    rejected: 'Odrzucone {0}: {1}', lost: 'Grupa {0} straciła {1} zdarzeń.',
    broker_bad: 'Broker: {0}',
    pseud_hint: 'albo pseudonim podatnika: ~ i 26 liter',
    pseud_only: 'Bez uprawnienia do danych osobowych możesz szukać tylko po pseudonimie (~...).',
    pseud_of: 'Zdarzenia z pseudonimem {0}',
    pseud_bad: 'To nie jest pseudonim: ~ i 26 znaków a-z, 2-7.',
  },
  en: {
    overview: 'Overview', timeline: 'Timeline', topic: 'Topics',
    logout: 'Log out', login_title: 'Console login',
    user: 'User', password: 'Password', login: 'Log in',
    bad_login: 'Wrong user or password',
    status: 'Status', head: 'Head seq', store: 'Store', memory: 'Memory',
    events: 'Events', uptime: 'Uptime',
    rates: 'Events per second over the last hour (tenant.domain)',
    no_rates: 'No rate samples yet (one every 10 s).',
    series: 'Series', source: 'Source', tenant: 'Tenant', domain: 'Domain',
    events_in: 'In', rate1: 'Per s (1 min)', last: 'Last',
    components: 'Components', name: 'Name', detail: 'Detail',
    reported: 'Reported', consumers: 'Consumer groups', lag: 'Lag',
    position: 'Position', problems: 'Problems', no_problems: 'No problems.',
    subject: 'Subject', search: 'Search', more: 'More',
    subject_hint: 'e.g. parcel:221101_1.0001.161/8, station:117, unit:1400000',
    no_events: 'No events you may see.',
    raw: 'CloudEvent', withheld: 'Withheld (outside your grants)',
    redacted_note: 'Personal data replaced by pseudonyms (no clearance).',
    prefix: 'Topic prefix', since: 'Since', until: 'Until', next: 'Next page',
    quarantine: 'Adapter quarantine', count: 'Count',
    q_classes: 'Quarantine by reason', q_class: 'Reason (class)',
    q_records: 'Records', q_example: 'Example', q_none: 'No records in quarantine.',
    lag_note: 'LMDB holds events up to seq {0}; acked up to {1}.',
    amount: 'Amount', total: 'Total', due: 'Due', taxpayer: 'Taxpayer',
    year: 'Year', objects: 'Objects', area: 'Area',
    form: 'Form', document: 'Document', kind: 'Kind', parcel: 'Parcel',
    use: 'Use', base: 'Base', station: 'Station',
    measurements: 'Measurements', value: 'Value', crs: 'CRS',
    forbidden: 'You have no grant for this view.',
    store_full: 'Store {0}% full (of map_max).',
    comp_bad: 'Component {0}: {1}', comp_silent: 'Component {0} silent for {1} min.',
    rejected: 'Rejected {0}: {1}', lost: 'Group {0} lost {1} events.',
    broker_bad: 'Broker: {0}',
    pseud_hint: 'or a taxpayer pseudonym: ~ and 26 letters',
    pseud_only: 'Without personal data clearance you may search by pseudonym only (~...).',
    pseud_of: 'Events with pseudonym {0}',
    pseud_bad: 'Not a pseudonym: ~ and 26 characters a-z, 2-7.',
  },
};

let lang = localStorage.getItem('rz-lang') ||
  ((navigator.language || 'pl').startsWith('pl') ? 'pl' : 'en');
let me = null;

function t(key, ...args) {
  let s = (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
  args.forEach((a, i) => { s = s.replace('{' + i + '}', a); });
  return s;
}

/* --- DOM helpers --------------------------------------------------------- */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function table(head, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, head.map(h => el('th', {}, h)))),
    el('tbody', {}, rows.map(r => el('tr', {}, r.map(c => el('td', {}, c))))));
}

/* --- formatting ---------------------------------------------------------- */

/* A time: unix µs (number or digits) or RFC 3339, shown in Europe/Warsaw.
 * A date the schema marks as a date ("2024-03-15": a day in Warsaw) is
 * shown as that day: JavaScript would read it as midnight UTC, 01:00 in
 * Warsaw. */
function fmtTime(v) {
  if (v === undefined || v === null || v === '' || v === 0) return '';
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(v));
  if (day) {
    return new Intl.DateTimeFormat(lang === 'pl' ? 'pl-PL' : 'en-GB', {
      timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit',
    }).format(new Date(Date.UTC(+day[1], +day[2] - 1, +day[3])));
  }
  let ms;
  if (typeof v === 'number' || /^-?\d+$/.test(String(v))) ms = Number(v) / 1000;
  else ms = Date.parse(v);
  if (!isFinite(ms)) return String(v);
  return new Intl.DateTimeFormat(lang === 'pl' ? 'pl-PL' : 'en-GB', {
    timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).format(new Date(ms));
}

/* Money: integer grosze (number or string) as "1 234,56 zł", no floats. */
function fmtMoney(g) {
  if (g === undefined || g === null || g === '') g = 0;
  let n = BigInt(String(g).split('.')[0]);
  const neg = n < 0n;
  if (neg) n = -n;
  const zl = (n / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  const gr = (n % 100n).toString().padStart(2, '0');
  return (neg ? '−' : '') + zl + ',' + gr + '\u00a0zł';
}

function fmtBytes(b) {
  b = Number(b || 0);
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1) : b) + ' ' + u[i];
}

function fmtNum(x, d) {
  return Number(x || 0).toLocaleString(lang === 'pl' ? 'pl-PL' : 'en-GB',
    { maximumFractionDigits: d === undefined ? 0 : d });
}

/* --- API ----------------------------------------------------------------- */

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (r.status === 401) { showLogin(); throw new Error('login'); }
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

/* --- charts and maps ----------------------------------------------------- */

const COLORS = ['#1f5fa8', '#c0392b', '#2e8b57', '#d4a017', '#7b3fa0',
  '#138d90', '#e67e22', '#5d6d7e'];

/* A line chart of series [{name, xs, ys}] into an SVG w x h. */
function lineChart(series, w, h, fmtX, unit, xr) {
  const pad = { l: 48, r: 10, t: 10, b: 22 };
  const xs = series.flatMap(s => s.xs), ys = series.flatMap(s => s.ys);
  const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, class: 'chart', role: 'img' });
  if (!xs.length) return s;
  const x0 = xr ? xr[0] : Math.min(...xs), x1 = xr ? xr[1] : Math.max(...xs);
  const y0 = Math.min(0, ...ys), y1 = Math.max(...ys, 1e-9);
  const X = x => pad.l + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (w - pad.l - pad.r);
  const Y = y => h - pad.b - (y - y0) / (y1 - y0) * (h - pad.t - pad.b);
  s.append(svg('line', { x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, class: 'axis' }));
  s.append(svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b, class: 'axis' }));
  s.append(svg('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end', class: 'tick' },
    fmtNum(y1, 1) + (unit ? ' ' + unit : '')));
  s.append(svg('text', { x: pad.l - 4, y: h - pad.b, 'text-anchor': 'end', class: 'tick' }, fmtNum(y0)));
  s.append(svg('text', { x: pad.l, y: h - 6, class: 'tick' }, fmtX(x0)));
  s.append(svg('text', { x: w - pad.r, y: h - 6, 'text-anchor': 'end', class: 'tick' }, fmtX(x1)));
  series.forEach((se, i) => {
    const pts = se.xs.map((x, j) => `${X(x).toFixed(1)},${Y(se.ys[j]).toFixed(1)}`);
    s.append(svg('polyline', { points: pts.join(' '), fill: 'none',
      stroke: COLORS[i % COLORS.length], 'stroke-width': 1.5 }));
    if (se.xs.length === 1)
      s.append(svg('circle', { cx: X(se.xs[0]), cy: Y(se.ys[0]), r: 3,
        fill: COLORS[i % COLORS.length] }));
  });
  return s;
}

/* the swatches are SVG: the page's policy allows no inline style */
function legend(names) {
  return el('div', { class: 'legend' }, names.map((n, i) =>
    el('span', {}, svg('svg', { width: 10, height: 10, class: 'swatch' },
      svg('rect', { width: 10, height: 10, fill: COLORS[i % COLORS.length] })), ' ', n)));
}

/* WKT (POINT, LINESTRING, POLYGON, MULTI*) as rings of [x, y]. */
function wktRings(wkt) {
  const rings = [];
  const body = String(wkt || '').replace(/^[A-Z ]+/i, '');
  const re = /\(([^()]+)\)/g;
  let m;
  while ((m = re.exec(body))) {
    const ring = m[1].split(',').map(p => p.trim().split(/\s+/).map(Number))
      .filter(p => p.length >= 2 && p.every(isFinite));
    if (ring.length) rings.push(ring);
  }
  return rings;
}

/* A GisFeature's geometry drawn in its own CRS, scaled to its bounding
 * box: no tiles, no reprojection. */
function gisMap(g) {
  let rings = wktRings(g.wkt);
  if (!rings.length && g.geojson) {
    try {
      const gj = JSON.parse(g.geojson);
      const walk = c => (typeof c[0] === 'number' ? [c] : c.flatMap(walk));
      const flat = c => (Array.isArray(c[0]) && typeof c[0][0] === 'number' ? [c] : c.flatMap(flat));
      rings = gj.type === 'Point' ? [walk(gj.coordinates)] : flat(gj.coordinates);
    } catch (e) { rings = []; }
  }
  /* x east, y north: a "yx" axis order (EPSG:2177, 2180 as declared)
   * gives northing first */
  const yx = g.axis_order === 'yx';
  rings = rings.map(r => r.map(p => (yx ? [p[1], p[0]] : [p[0], p[1]])));
  const pts = rings.flat();
  const box = el('figure', { class: 'map' });
  if (!pts.length) return box;
  const minx = Math.min(...pts.map(p => p[0])), maxx = Math.max(...pts.map(p => p[0]));
  const miny = Math.min(...pts.map(p => p[1])), maxy = Math.max(...pts.map(p => p[1]));
  const W = 220, H = 180, P = 10;
  const sc = Math.min((W - 2 * P) / (maxx - minx || 1), (H - 2 * P) / (maxy - miny || 1));
  const X = x => P + (x - minx) * sc, Y = y => H - P - (y - miny) * sc;
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'gis', role: 'img' });
  s.append(svg('rect', { x: 0, y: 0, width: W, height: H, class: 'gis-bg' }));
  const single = pts.length === 1;
  if (single) s.append(svg('circle', { cx: W / 2, cy: H / 2, r: 5, class: 'gis-shape' }));
  else {
    const d = rings.map(r => 'M' + r.map(p => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('L') + 'Z').join(' ');
    s.append(svg('path', { d, class: 'gis-shape', 'fill-rule': 'evenodd' }));
  }
  const wm = maxx - minx, hm = maxy - miny;
  box.append(s, el('figcaption', {}, `${t('crs')}: ${g.crs || '?'}` +
    (single ? '' : ` · ${fmtNum(wm, 1)} × ${fmtNum(hm, 1)}`)));
  return box;
}

/* --- rendering one event ------------------------------------------------- */

function kv(pairs) {
  return el('dl', { class: 'kv' }, pairs.filter(p => p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function renderData(ev) {
  const d = ev.data || {};
  switch (ev.dataschema) {
  case 'ratusz.v1.GisFeature':
    return el('div', { class: 'gisrow' }, gisMap(d.geometry || {}),
      kv([[t('name'), d.name], [t('kind'), d.kind], ['feature_id', d.feature_id],
        [t('area'), d.area !== undefined ? `${d.area} ${d.area_unit || ''}` : undefined]]));
  case 'ratusz.v1.TaxAssessment': {
    const p = d.taxpayer || {};
    const who = [p.name, p.pesel && 'PESEL ' + p.pesel, p.nip && 'NIP ' + p.nip,
      p.regon && 'REGON ' + p.regon, p.address].filter(Boolean).join(', ');
    return el('div', {}, kv([[t('form'), d.form], [t('document'), d.document_id],
      [t('year'), d.tax_year], [t('taxpayer'), who], [t('total'), fmtMoney(d.total_grosze)],
      [t('due'), fmtTime(d.due_date)]]),
    (d.objects || []).length ? table([t('kind'), t('parcel'), t('use'), t('base'), t('amount')],
      d.objects.map(o => [o.kind || '', o.parcel_id || o.building_id || '', o.use || '',
        `${fmtNum(Number(o.base_milli || 0) / 1000, 3)} ${o.base_unit || ''}`,
        fmtMoney(o.tax_grosze)])) : null);
  }
  case 'ratusz.v1.BudgetEntry':
    return kv([[t('amount'), fmtMoney(d.amount_grosze) + (d.currency && d.currency !== 'PLN' ? ' ' + d.currency : '')],
      ['dział/rozdział/§', [d.dzial, d.rozdzial, d.paragraf].filter(Boolean).join(' / ')],
      ['side', d.side], ['stage', d.stage], ['period', d.period || d.fiscal_year],
      ['report', d.report], ['unit', d.unit], [t('detail'), d.description], ['task', d.task]]);
  case 'ratusz.v1.AirQualityMeasurement':
    return kv([[d.parameter || t('value'), d.value !== undefined ? `${d.value} ${d.unit || ''}` : '—'],
      [t('station'), d.station_code], [t('since'), fmtTime(d.period_start)]]);
  default: {
    const pairs = Object.entries(d).slice(0, 12).map(([k, v]) =>
      [k, typeof v === 'object' ? JSON.stringify(v).slice(0, 200) : String(v)]);
    return kv(pairs);
  }
  }
}

function renderEvent(item) {
  const ev = item.event;
  const domain = (item.topic || '').split('.')[1] || '';
  return el('article', { class: 'event dom-' + domain, 'data-seq': item.seq,
    'data-type': ev.type || '' },
  el('div', { class: 'when' }, fmtTime(ev.time)),
  el('div', { class: 'what' },
    el('div', { class: 'head' },
      el('span', { class: 'badge' }, domain), ' ',
      el('b', {}, (ev.type || '').replace(/^pl\.gov\.gmina\./, '')), ' ',
      el('span', { class: 'muted' }, ev.source || ''), ' ',
      el('a', { href: '/api/event?seq=' + item.seq, target: '_blank', class: 'raw' },
        t('raw') + ' #' + item.seq),
      ev.redaction ? el('span', { class: 'redacted', title: t('redacted_note') }, ' · ' + ev.redaction) : null),
    renderData(ev)));
}

/* The air measurements of a page as one chart per parameter. */
function airChart(items) {
  const by = {};
  for (const it of items) {
    const d = it.event.data || {};
    if (it.event.dataschema !== 'ratusz.v1.AirQualityMeasurement' || d.value === undefined) continue;
    const k = `${d.parameter || '?'} [${d.unit || ''}]`;
    (by[k] = by[k] || { name: k, xs: [], ys: [] });
    const ts = typeof d.period_start === 'number' || /^\d+$/.test(String(d.period_start))
      ? Number(d.period_start) / 1000 : Date.parse(d.period_start || it.event.time);
    by[k].xs.push(ts); by[k].ys.push(Number(d.value));
  }
  const series = Object.values(by);
  if (!series.length) return null;
  return el('div', { class: 'card', id: 'air-chart' }, el('h2', {}, t('measurements')),
    lineChart(series, 720, 200, x => fmtTime(x * 1000)), legend(series.map(s => s.name)));
}

/* --- views ---------------------------------------------------------------- */

const view = () => document.getElementById('view');

function lagNote(r) {
  return r.acked_head > r.stored_head
    ? el('p', { class: 'muted' }, t('lag_note', r.stored_head, r.acked_head)) : null;
}

async function showOverview() {
  let r;
  try { r = await api('/api/overview'); } catch (e) {
    if (e.message !== 'login') view().replaceChildren(el('p', { class: 'error' }, t('forbidden') + ' ' + e.message));
    return;
  }
  const s = r.stats, h = s.health || {};
  const now = r.now;
  const problems = [];
  if (r.status !== 'ok') problems.push(t('broker_bad', r.status));
  if (s.map_max_bytes && s.store_bytes / s.map_max_bytes > 0.8)
    problems.push(t('store_full', Math.round(100 * s.store_bytes / s.map_max_bytes)));
  for (const c of s.components || []) {
    if (c.status && c.status !== 'ok') problems.push(t('comp_bad', c.name, c.status));
    const age = (now - Number(c.reported || 0)) / 60e6;
    if (c.reported && age > 5) problems.push(t('comp_silent', c.name, Math.round(age)));
  }
  for (const x of s.rejected || []) problems.push(t('rejected', x.reason, x.count));
  for (const g of s.consumers || []) if (Number(g.lost)) problems.push(t('lost', g.name, g.lost));

  /* each rate holds from one sample to the next: drawn as steps */
  const hist = r.history;
  const tms = hist.times.map(Number).map(v => v / 1000);
  const steps = rate => ({
    xs: rate.flatMap((_, i) => [tms[i], tms[i + 1]]),
    ys: rate.flatMap(v => [v, v]),
  });
  const ser = hist.series.map(x => ({ name: x.name, ...steps(x.rate) }))
    .map(x => ({ ...x, sum: x.ys.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.sum - a.sum).slice(0, COLORS.length);
  const chart = hist.times.length > 1
    ? [lineChart(ser, 900, 220, x => fmtTime(x * 1000).slice(-8), '/s',
      [Math.max(now / 1000 - 3600e3, tms[0]), now / 1000]), legend(ser.map(x => x.name))]
    : [el('p', { class: 'muted' }, t('no_rates'))];

  const counters = (s.counters || []).slice()
    .sort((a, b) => Number(b.rate1 || 0) - Number(a.rate1 || 0) || Number(b.events_in || 0) - Number(a.events_in || 0))
    .slice(0, 30);
  view().replaceChildren(
    el('div', { class: 'tiles' },
      tile(t('status'), r.status, r.status === 'ok' ? 'ok' : 'bad'),
      tile(t('head'), fmtNum(h.head_seq)),
      tile(t('events'), fmtNum(s.events_total)),
      tile(t('store'), `${fmtBytes(s.store_bytes)} / ${fmtBytes(s.map_max_bytes)}`),
      tile(t('memory'), `${fmtBytes(s.memory_resident)} (${fmtBytes(s.memory_queued)} / ${fmtBytes(s.memory_budget)})`),
      tile(t('uptime'), `${fmtNum(Number(h.uptime_us || 0) / 3600e6, 1)} h`)),
    el('div', { class: 'card', id: 'problems' }, el('h2', {}, t('problems')),
      problems.length ? el('ul', {}, problems.map(p => el('li', { class: 'bad' }, p)))
        : el('p', { class: 'ok' }, t('no_problems'))),
    el('div', { class: 'card', id: 'rates' }, el('h2', {}, t('rates')), ...chart),
    el('div', { class: 'card' }, el('h2', {}, t('series')),
      table([t('tenant'), t('domain'), t('source'), t('events_in'), t('rate1'), t('last')],
        counters.map(c => [c.tenant, c.domain, c.source, fmtNum(c.events_in), fmtNum(c.rate1, 2), fmtTime(c.last_event)]))),
    el('div', { class: 'card', id: 'components' }, el('h2', {}, t('components')),
      table([t('name'), t('status'), t('detail'), t('reported')],
        (s.components || []).map(c => [c.name, c.status, c.detail || '', fmtTime(c.reported)]))),
    el('div', { class: 'card', id: 'consumers' }, el('h2', {}, t('consumers')),
      table([t('name'), t('prefix'), t('position'), t('lag')],
        (s.consumers || []).map(g => [g.name, g.topic_prefix || '', fmtNum(g.committed_seq), fmtNum(g.lag)]))));
}

function tile(label, value, cls) {
  return el('div', { class: 'tile ' + (cls || '') }, el('div', { class: 'label' }, label),
    el('div', { class: 'value' }, value));
}

function params() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q);
}

async function showTimeline() {
  const p = params();
  const subject = p.get('subject') || '';
  const input = el('input', { id: 'subject', value: subject, placeholder: t('subject_hint'), size: 48 });
  const form = el('form', { class: 'search', onsubmit: e => {
    e.preventDefault();
    location.hash = '#timeline?subject=' + encodeURIComponent(input.value.trim());
  } }, el('label', {}, t('subject'), ' ', input), el('button', { type: 'submit' }, t('search')));
  const list = el('div', { id: 'events' });
  view().replaceChildren(form, el('p', { class: 'muted' }, t('pseud_hint')), list);
  if (!subject) return;
  if (await pseudonymSearch(list, subject)) return;
  await loadEvents(list, '/api/timeline?subject=' + encodeURIComponent(subject), true);
}

/* The Timeline's box holding a pseudonym ("~...") or a PESEL/NIP/REGON
 * (digits): every event about that taxpayer, from the pseudonym index.
 * A number is turned into its pseudonym by the broker, for a principal with
 * clearance only. Returns false for anything else (a subject). */
async function pseudonymSearch(list, q) {
  const number = /^[0-9]{9,14}$/.test(q);
  if (!q.startsWith('~') && !number) return false;
  if (q.startsWith('~') && !/^~[a-z2-7]{26}$/.test(q)) {
    list.append(el('p', { class: 'error', id: 'pseud-error' }, t('pseud_bad')));
    return true;
  }
  if (number && !(me && me.personal_data)) {
    list.append(el('p', { class: 'error', id: 'pseud-error' }, t('pseud_only')));
    return true;
  }
  const title = el('h2', { id: 'pseud-title' });
  list.append(title);
  const base = '/api/pseudonym?q=' + encodeURIComponent(q);
  /* the pseudonym the broker searched (for a number: its own) */
  await loadEvents(list, base, false, r => { title.textContent = t('pseud_of', r.pseudonym); });
  return true;
}

async function loadEvents(list, base, chart, onReply) {
  const items = [];
  let after = '';
  const more = el('button', { id: 'more', type: 'button' }, t('more'));
  const info = el('div', { class: 'muted' });
  const page = async () => {
    let r;
    try { r = await api(base + (after ? '&after=' + after : '')); } catch (e) {
      if (e.message !== 'login') list.append(el('p', { class: 'error' }, e.message));
      return;
    }
    if (onReply) onReply(r);
    r.events.forEach(it => { items.push(it); list.insertBefore(renderEvent(it), more); });
    after = r.next;
    more.hidden = !after;
    info.replaceChildren(
      r.withheld ? el('p', {}, `${t('withheld')}: ${r.withheld}`) : '',
      r.redacted ? el('p', { class: 'redacted' }, t('redacted_note')) : '',
      lagNote(r) || '');
    if (!items.length) list.insertBefore(el('p', { class: 'muted', id: 'empty' }, t('no_events')), more);
    if (chart) {
      const old = document.getElementById('air-chart');
      if (old) old.remove();
      const c = airChart(items);
      if (c) list.prepend(c);
    }
  };
  more.addEventListener('click', page);
  list.append(info, more);
  await page();
}

/* datetime-local (read as Europe/Warsaw wall time is what an official
 * means; the browser's zone is used, which is Warsaw in the office) */
function toUs(v) {
  if (!v) return '';
  const ms = new Date(v).getTime();
  return isFinite(ms) ? String(ms * 1000) : '';
}

async function showTopic() {
  const p = params();
  const prefix = p.get('prefix') || '';
  const since = p.get('since') || '', until = p.get('until') || '';
  const ip = el('input', { id: 'prefix', value: prefix, placeholder: '2211011.tax.', size: 30 });
  const is = el('input', { id: 'since', type: 'datetime-local', value: since });
  const iu = el('input', { id: 'until', type: 'datetime-local', value: until });
  const form = el('form', { class: 'search', onsubmit: e => {
    e.preventDefault();
    location.hash = '#topic?' + new URLSearchParams({ prefix: ip.value.trim(), since: is.value, until: iu.value });
  } }, el('label', {}, t('prefix'), ' ', ip), el('label', {}, t('since'), ' ', is),
  el('label', {}, t('until'), ' ', iu), el('button', { type: 'submit' }, t('search')));
  const list = el('div', { id: 'events' });
  const quar = el('div', { class: 'card', id: 'quarantine' });
  view().replaceChildren(form, list, quar);
  if (me && me.stats) showQuarantine(quar);
  if (!p.has('prefix')) return;
  let q = '/api/topic?prefix=' + encodeURIComponent(prefix);
  if (toUs(since)) q += '&since=' + toUs(since);
  if (toUs(until)) q += '&until=' + toUs(until);
  await loadEvents(list, q, false);
}

async function showQuarantine(box) {
  let r;
  try { r = await api('/api/quarantine'); } catch (e) { return; }
  const rows = [];
  for (const c of r.components) {
    const q = Object.entries(c.quarantine);
    rows.push([c.name, q.map(([k, v]) => `${k}: ${fmtNum(v)}`).join(', ') || '—',
      c.status, c.detail || '', fmtTime(c.reported)]);
  }
  box.replaceChildren(el('h2', {}, t('quarantine')),
    table([t('name'), t('count'), t('status'), t('detail'), t('reported')], rows),
    quarantineClasses(r.components));
}

/* Each component's quarantine by class of reason: the reason with its
 * values replaced by "…", the records of it now in the quarantine, the
 * latest reason in full and when. */
function quarantineClasses(components) {
  const rows = [];
  for (const c of components)
    for (const q of c.classes || [])
      rows.push([c.name, q.class, fmtNum(q.records), q.example, fmtTime(q.last)]);
  return el('div', { id: 'quarantine-classes' }, el('h3', {}, t('q_classes')),
    rows.length ? table([t('name'), t('q_class'), t('q_records'), t('q_example'), t('last')], rows)
      : el('p', {}, t('q_none')));
}

/* --- shell ---------------------------------------------------------------- */

function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll('[data-t]').forEach(e => { e.textContent = t(e.dataset.t); });
  document.getElementById('lang').textContent = lang === 'pl' ? 'EN' : 'PL';
}

function showLogin() {
  me = null;
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  document.getElementById('login').hidden = false;
  view().replaceChildren();
}

async function route() {
  if (!me) return;
  const name = (location.hash.slice(1).split('?')[0]) || (me.stats ? 'overview' : 'timeline');
  document.querySelectorAll('#nav a').forEach(a =>
    a.classList.toggle('active', a.getAttribute('href') === '#' + name));
  document.body.dataset.view = name;
  if (name === 'overview') await showOverview();
  else if (name === 'topic') await showTopic();
  else await showTimeline();
  document.body.dataset.ready = name;
}

async function start() {
  translate();
  const r = await fetch('/api/me', { credentials: 'same-origin' });
  if (r.status !== 200) { showLogin(); return; }
  me = await r.json();
  document.getElementById('login').hidden = true;
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  document.getElementById('who').textContent = me.principal +
    (me.personal_data ? ' · RODO' : '');
  await route();
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('login').addEventListener('submit', async e => {
    e.preventDefault();
    const body = new URLSearchParams({
      user: document.getElementById('user').value,
      password: document.getElementById('password').value,
    });
    const r = await fetch('/api/login', { method: 'POST', body, credentials: 'same-origin' });
    document.getElementById('password').value = '';
    if (r.status !== 200) {
      document.getElementById('login-error').textContent = t('bad_login');
      return;
    }
    document.getElementById('login-error').textContent = '';
    await start();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' });
    location.hash = '';
    showLogin();
  });
  document.getElementById('lang').addEventListener('click', () => {
    lang = lang === 'pl' ? 'en' : 'pl';
    localStorage.setItem('rz-lang', lang);
    translate();
    route();
  });
  window.addEventListener('hashchange', route);
  start();
});
