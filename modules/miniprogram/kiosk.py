# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The two HTML pages of the organizer routes: the kiosk shown on a screen
at the door (rotating QR code and live count) and the live dashboard.

The pages are self-contained (no external script, style or font: a TV
browser at the door may have no internet) and get their data from the JSON
routes `events/<id>/qr` and `events/<id>/stats` with the kiosk token they
embed."""
import datetime as dt
import json
from html import escape

from werkzeug.wrappers import Response

from trytond.pool import Pool
from trytond.transaction import Transaction

LABELS = {
    'en': {
        'scan': "Scan with the mini-program to check in",
        'checked_in': "checked in",
        'expected': "expected",
        'rate': "rate",
        'late': "late",
        'flagged': "to review",
        'present': "present now",
        'code_until': "This code is valid until",
        'next_in': "Next code in",
        'offline': "Connection lost, retrying…",
        'expired': "This kiosk link has expired: open a new one.",
        'forbidden': "This kiosk link is no longer allowed.",
        'recent': "Latest check-ins",
        'arrivals': "Arrivals",
        'dashboard': "Live dashboard",
        'updated': "Updated",
        'attempts': "attempts",
        'success_rate': "success rate",
        'anomaly_rate': "anomalies",
        'pending': "being recorded",
        },
    'zh_CN': {
        'scan': "请用小程序扫码签到",
        'checked_in': "已签到",
        'expected': "应到",
        'rate': "签到率",
        'late': "迟到",
        'flagged': "待审核",
        'present': "当前在场",
        'code_until': "本二维码有效至",
        'next_in': "距下次刷新",
        'offline': "连接中断，正在重试…",
        'expired': "此大屏链接已过期，请重新打开。",
        'forbidden': "此大屏链接已无权限。",
        'recent': "最近签到",
        'arrivals': "到场分布",
        'dashboard': "实时看板",
        'updated': "更新于",
        'attempts': "签到尝试",
        'success_rate': "成功率",
        'anomaly_rate': "异常率",
        'pending': "正在登记",
        },
    }

_STYLE = """
*{box-sizing:border-box}
html,body{margin:0;height:100%;background:#0f172a;color:#f8fafc;
font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",
system-ui,sans-serif}
body{display:flex;flex-direction:column}
header{padding:2vh 3vw;display:flex;justify-content:space-between;
align-items:baseline;gap:2vw}
h1{margin:0;font-size:4.5vh;font-weight:600}
.when{font-size:2.5vh;color:#94a3b8}
main{flex:1;display:flex;align-items:center;justify-content:center;
gap:5vw;padding:0 3vw 3vh}
.qr{background:#fff;padding:2.5vh;border-radius:2vh;line-height:0}
.qr img{width:min(70vh,55vw);height:min(70vh,55vw);image-rendering:pixelated}
.side{display:flex;flex-direction:column;gap:3vh;min-width:25vw}
.count{font-size:16vh;font-weight:700;line-height:1}
.count small{font-size:5vh;color:#94a3b8;font-weight:400}
.label{font-size:3vh;color:#94a3b8}
.hint{font-size:3.2vh}
.timer{font-size:2.6vh;color:#94a3b8}
.bar{height:1.2vh;background:#1e293b;border-radius:1vh;overflow:hidden}
.bar div{height:100%;background:#22c55e;width:0;transition:width .5s}
.status{position:fixed;bottom:0;left:0;right:0;padding:1.5vh;
text-align:center;font-size:2.6vh;background:#b91c1c;display:none}
.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:2vw;width:100%}
.card{background:#1e293b;border-radius:1.5vh;padding:2.5vh}
.card .value{font-size:7vh;font-weight:700}
.dash main{flex-direction:column;align-items:stretch;
justify-content:flex-start;gap:2vh}
.dash main{min-height:0;overflow:hidden}
.dash .card{padding:1.8vh 2vh}.dash .card .value{font-size:6vh}
.dash .grid{grid-template-columns:none;grid-auto-flow:column;
grid-auto-columns:minmax(0,1fr);gap:1.2vw}
.chart{display:flex;gap:.4vw;height:22vh;flex:none;
background:#1e293b;border-radius:1.5vh;padding:2vh 2vh 1vh}
.chart .col{flex:1;display:flex;flex-direction:column;min-width:0}
.chart .b{flex:1;display:flex;align-items:flex-end}
.chart .b div{width:100%;background:#38bdf8;min-height:2px;
border-radius:.4vh .4vh 0 0}
.chart .t{height:2.6vh;font-size:1.8vh;color:#94a3b8;white-space:nowrap;
text-align:left;padding-top:.4vh}
.chart .n{font-size:1.6vh;color:#cbd5e1;text-align:center;height:2vh}
.recent{flex:1;min-height:0;overflow:hidden}
table{width:100%;border-collapse:collapse;font-size:2.6vh}
td{padding:.8vh 1vw;border-bottom:1px solid #334155}
td.flagged{color:#fbbf24}td.rejected{color:#f87171}
"""

_SCRIPT_COMMON = """
const C = JSON.parse(document.getElementById('config').textContent);
const $ = (id) => document.getElementById(id);
function showStatus(text) {
  const s = $('status');
  s.textContent = text || '';
  s.style.display = text ? 'block' : 'none';
}
async function api(path) {
  const r = await fetch(C.base + path, {
    headers: {'Authorization': 'Bearer ' + C.token,
      'Accept-Language': C.lang}, cache: 'no-store'});
  if (r.status === 401) { showStatus(C.labels.expired); throw 'stop'; }
  if (r.status === 403 || r.status === 404) {
    showStatus(C.labels.forbidden); throw 'stop'; }
  if (!r.ok) { throw new Error('HTTP ' + r.status); }
  return r.json();
}
function time(iso) {
  // In the time zone of the event, like the header, whatever the TV's
  return new Date(iso).toLocaleTimeString(C.locale, {timeZone: C.tz,
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false});
}
function hm(iso) {
  return new Date(iso).toLocaleTimeString(C.locale, {timeZone: C.tz,
    hour: '2-digit', minute: '2-digit', hour12: false});
}
function renderCount(s) {
  $('count').firstChild.nodeValue = s.checked_in;
  $('expected').textContent = s.expected ? ' / ' + s.expected : '';
  const rate = s.rate === null ? null : Math.round(s.rate * 100);
  $('rate').textContent = rate === null ? '' : rate + '%';
  $('bar').style.width = (rate === null ? 0 : Math.min(rate, 100)) + '%';
  // Check-ins received by the intake, not recorded yet: + N being recorded
  $('pending').textContent = s.pending ? '+ ' + s.pending + ' '
    + C.labels.pending : '';
}
async function loopStats(render) {
  try {
    render(await api('stats'));
    showStatus('');
  } catch (e) {
    if (e === 'stop') return;
    showStatus(C.labels.offline);
  }
  setTimeout(() => loopStats(render), C.stats_every * 1000);
}
"""

_SCRIPT_KIOSK = """
let deadline = 0;
async function loopQr() {
  let wait = 5;
  try {
    const q = await api('qr');
    $('qr').src = 'data:image/svg+xml;charset=utf-8,'
      + encodeURIComponent(q.svg);
    $('qr').dataset.token = q.token;
    // The link of the QR code when the configuration has a base
    $('qr').dataset.url = q.url || '';
    $('until').textContent = time(q.expires_at);
    deadline = Date.now() + q.refresh_in * 1000;
    tick();
    // Fetch the next code as soon as its window starts: the code shown
    // stays valid for one more window, so a scan never meets a stale one
    wait = q.refresh_in + 0.5;
    showStatus('');
  } catch (e) {
    if (e === 'stop') return;
    showStatus(C.labels.offline);
  }
  setTimeout(loopQr, wait * 1000);
}
// The countdown, shown with the code (not a tick later)
function tick() {
  const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  $('next').textContent = left + ' s';
}
setInterval(tick, 250);
loopQr();
loopStats(renderCount);
"""

_SCRIPT_DASHBOARD = """
function render(s) {
  renderCount(s);
  $('late').textContent = s.late;
  $('flagged').textContent = s.flagged;
  // Events that record leaving: checked in and not out
  if ($('present') && s.present_now !== null && s.present_now !== undefined) {
    $('present').textContent = s.present_now;
  }
  // The attempt analytics: every attempt, refused ones included
  const a = s.attempts;
  if (a) {
    const pct = (v) => (v === null ? '' : Math.round(v * 100) + '%');
    $('attempts').textContent = a.total;
    $('success').textContent = pct(a.success_rate);
    $('anomaly').textContent = pct(a.anomaly_rate);
    $('hints').textContent = a.hints.map((h) => h.message).join(' ');
  }
  const chart = $('chart');
  const max = Math.max(1, ...s.by_bucket.map((b) => b.count));
  // The time axis: the start of a bucket under its bar, at most ~12
  // labels whatever the number of buckets
  const every = Math.max(1, Math.ceil(s.by_bucket.length / 12));
  chart.replaceChildren(...s.by_bucket.map((b, i) => {
    const col = document.createElement('div');
    col.className = 'col';
    const n = document.createElement('div');
    n.className = 'n';
    n.textContent = b.count || '';
    const bar = document.createElement('div');
    bar.className = 'b';
    const d = document.createElement('div');
    d.style.height = (100 * b.count / max) + '%';
    d.title = hm(b.start) + ': ' + b.count;
    bar.appendChild(d);
    const t = document.createElement('div');
    t.className = 't';
    t.textContent = i % every ? '' : hm(b.start);
    col.append(n, bar, t);
    return col;
  }));
  const recent = $('recent');
  recent.replaceChildren(...s.recent.map((r) => {
    const tr = document.createElement('tr');
    // Codes shown with the labels of the models, in the page's language
    for (const [text, cls] of [[time(r.time), ''], [r.member, ''],
        [C.methods[r.method] || r.method, ''],
        [C.statuses[r.status] || r.status, r.status]]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
  // Only whole rows: those below the bottom of the screen are left out
  const box = recent.closest('.recent').getBoundingClientRect();
  while (recent.lastChild
      && recent.lastChild.getBoundingClientRect().bottom > box.bottom) {
    recent.lastChild.remove();
  }
  $('updated').textContent = C.labels.updated + ' ' + time(
    new Date().toISOString());
}
loopStats(render);
"""


def _selections(language):
    """The labels of the check-in methods and statuses, translated by the
    model in language"""
    Attendance = Pool().get('checkin.attendance')
    with Transaction().set_context(language=language or 'en'):
        fields = Attendance.fields_get(['method', 'status'])
    return {name: dict(fields[name]['selection'])
        for name in ['method', 'status']}


def _config(event, token, base, language):
    labels = LABELS.get(language, LABELS['en'])
    selections = _selections(language)
    config = {
        'methods': selections['method'],
        'statuses': selections['status'],
        'token': token,
        'base': base,
        'lang': 'zh-CN' if language == 'zh_CN' else 'en',
        'locale': 'zh-CN' if language == 'zh_CN' else 'en-GB',
        'labels': labels,
        'stats_every': 5,
        'tz': event.timezone or 'UTC',
        }
    # JSON inside <script type="application/json">: "</" cannot close it
    return json.dumps(config, ensure_ascii=False).replace('</', '<\\/')


def _page(title, body, script, config, language, classes=''):
    html = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title><style>{style}</style></head>
<body class="{classes}">{body}
<div id="status" class="status" role="status"></div>
<script type="application/json" id="config">{config}</script>
<script>{common}{script}</script></body></html>""".format(
        lang='zh-CN' if language == 'zh_CN' else 'en',
        title=escape(title), style=_STYLE, classes=classes, body=body,
        config=config, common=_SCRIPT_COMMON, script=script)
    return Response(html, content_type='text/html; charset=utf-8', headers={
            'Cache-Control': 'no-store',
            'Referrer-Policy': 'no-referrer',
            'X-Content-Type-Options': 'nosniff',
            # Only the inline code of this page runs; data comes from the
            # same origin; images are the QR code's data URL
            'Content-Security-Policy': (
                "default-src 'none'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; img-src data:; "
                "connect-src 'self'; base-uri 'none'; "
                "frame-ancestors 'self'"),
            })


def _when(event, language):
    "The local start and end of event"
    start, end = (
        d.replace(tzinfo=dt.timezone.utc).astimezone(event.tzinfo)
        for d in [event.start, event.end])
    if start.date() == end.date():
        return '%s %s – %s' % (start.strftime('%Y-%m-%d'),
            start.strftime('%H:%M'), end.strftime('%H:%M'))
    return '%s – %s' % (start.strftime('%Y-%m-%d %H:%M'),
        end.strftime('%Y-%m-%d %H:%M'))


def kiosk_page(event, token, base, language):
    labels = LABELS.get(language, LABELS['en'])
    body = """<header><h1>{name}</h1><span class="when">{when}</span></header>
<main><div class="qr"><img id="qr" alt="QR"></div>
<div class="side"><div class="hint">{scan}</div>
<div><div id="count" class="count">0<small id="expected"></small></div>
<div class="label">{checked_in} · {rate} <span id="rate"></span></div>
<div id="pending" class="label"></div></div>
<div class="bar"><div id="bar"></div></div>
<div class="timer">{code_until} <span id="until"></span><br>
{next_in} <span id="next"></span></div></div></main>""".format(
        name=escape(event.name), when=escape(_when(event, language)),
        **{k: escape(v) for k, v in labels.items()})
    return _page(event.name, body, _SCRIPT_KIOSK,
        _config(event, token, base, language), language, 'kiosk')


def dashboard_page(event, token, base, language):
    labels = LABELS.get(language, LABELS['en'])
    body = """<header><h1>{name} · {dashboard}</h1>
<span class="when">{when} · <span id="updated"></span></span></header>
<main><div class="grid">
<div class="card"><div id="count" class="value">0<small id="expected"></small>
</div><div class="label">{checked_in}</div>
<div id="pending" class="label"></div></div>
<div class="card"><div class="value"><span id="rate"></span></div>
<div class="label">{rate}</div>
<div class="bar"><div id="bar"></div></div></div>
<div class="card"><div id="late" class="value">0</div>
<div class="label">{late}</div></div>
<div class="card"><div id="flagged" class="value">0</div>
<div class="label">{flagged}</div></div>{present_card}
<div class="card"><div id="attempts" class="value">0</div>
<div class="label">{attempts}</div></div>
<div class="card"><div id="success" class="value"></div>
<div class="label">{success_rate}</div></div>
<div class="card"><div id="anomaly" class="value"></div>
<div class="label">{anomaly_rate}</div></div></div>
<div id="hints" class="label"></div>
<div class="label">{arrivals}</div><div id="chart" class="chart"></div>
<div class="label">{recent}</div>
<div class="recent"><table><tbody id="recent"></tbody></table></div>
</main>""".format(
        name=escape(event.name), when=escape(_when(event, language)),
        present_card=(
            '<div class="card"><div id="present" class="value">0</div>'
            '<div class="label">%s</div></div>' % escape(labels['present'])
            if event.record_leaving else ''),
        **{k: escape(v) for k, v in labels.items()})
    return _page(event.name, body, _SCRIPT_DASHBOARD,
        _config(event, token, base, language), language, 'dash')
