// Jinyun maintenance dashboard: plain JS over /api/v1 (no build step). Polls every 2 s for live updates.
'use strict';
(() => {
  const $ = (s) => document.querySelector(s);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
  const RANGES = [['1 h', 3600e3], ['6 h', 6 * 3600e3], ['24 h', 86400e3], ['7 d', 7 * 86400e3], ['30 d', 30 * 86400e3], ['90 d', 90 * 86400e3]];
  let token = sessionStorage.getItem('jinyun-token') || '';
  let user = sessionStorage.getItem('jinyun-user') || 'dashboard';
  let rangeMs = 3600e3;
  let plot = null;
  let timer = null;

  async function api(path, init = {}) {
    const headers = { ...(init.headers || {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`/api/v1${path}`, { ...init, headers });
    if (res.status === 401) { logout(); throw new Error('unauthorized'); }
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || res.statusText);
    return res.json();
  }

  function logout() {
    sessionStorage.removeItem('jinyun-token');
    token = '';
    clearInterval(timer);
    $('#app').hidden = true; $('#logout').hidden = true; $('#login').hidden = false;
  }

  async function login(ev) {
    ev.preventDefault();
    const u = $('#user').value.trim();
    token = `${u}.${$('#password').value.trim()}`;
    try {
      await api('/gateways?limit=1');
      sessionStorage.setItem('jinyun-token', token); sessionStorage.setItem('jinyun-user', u); user = u;
      start();
    } catch (err) {
      token = '';
      $('#login-error').textContent = `Login failed: ${err.message}`;
    }
  }

  function renderAlarms(items) {
    $('#alarm-count').textContent = String(items.length);
    $('#alarms tbody').innerHTML = items.map((a) => `<tr class="${esc(a.severity)}" data-alarm="${a.id}"><td>${time(a.raisedAt)}</td><td>${esc(a.severity)}</td><td>${esc(a.gateway)}</td><td>${esc(a.source)}</td><td>${esc(a.message)}</td>
      <td>${a.acknowledged ? `✔ ${esc(a.ackBy)} ${time(a.ackAt)}` : `<button class="ack" data-id="${a.id}">Acknowledge</button>`}</td></tr>`).join('') || '<tr><td colspan="6" class="ok">No active alarm</td></tr>';
  }

  function renderGateways(items) {
    $('#gateways tbody').innerHTML = items.map((g) => {
      const h = g.health || {};
      const c = g.clock || {};
      const clock = c.skewMs == null ? '—' : c.ok ? 'ok' : `${c.skewMs > 0 ? '+' : '−'}${Math.round(Math.abs(c.skewMs) / 1000)} s`;
      return `<tr data-gateway="${esc(g.id)}"><td>${esc(g.id)}</td><td class="${g.online ? 'ok' : 'bad'}">${g.online ? 'online' : 'offline'}</td><td>${esc(h.spoolDepth ?? '—')}</td><td>${time(g.lastSeen)}</td><td class="${h.dropped > 0 ? 'warn' : ''}">${esc(h.dropped ?? '—')}</td>`
        + `<td class="clock ${c.ok === false ? 'warn' : ''}" title="the gateway's clock against the cloud's at its last batch">${esc(clock)}</td></tr>`;
    }).join('');
    return items;
  }

  function renderDevices(devices, gateways) {
    const health = new Map();
    for (const g of gateways) for (const d of (g.health && g.health.devices) || []) health.set(`${g.id}/${d.name}`, d);
    $('#device-count').textContent = String(devices.length);
    $('#devices tbody').innerHTML = devices.map((d) => {
      const h = health.get(`${d.gateway}/${d.name}`);
      const state = h ? String(h.state).replace(/^DEVICE_STATE_/, '').toLowerCase() : (d.lastReading ? 'reporting' : 'unknown');
      const rate = h && h.reads > 0 ? `${((100 * h.errors) / h.reads).toFixed(1)} %` : '—';
      return `<tr data-device="${esc(d.name)}"><td>${esc(d.gateway)}</td><td>${esc(d.name)}</td><td class="${state === 'ok' || state === 'reporting' ? 'ok' : state === 'down' ? 'bad' : 'warn'}">${esc(state)}</td>
        <td>${time(h && h.lastGoodMs > 0 ? new Date(h.lastGoodMs).toISOString() : d.lastReading)}</td><td>${rate}</td><td>${h ? `${h.lastRttMs} ms` : '—'}</td></tr>`;
    }).join('');
  }

  async function refresh() {
    try {
      const [alarms, gateways, devices] = await Promise.all([api('/alarms?state=active&limit=200'), api('/gateways'), api('/devices')]);
      renderAlarms(alarms.items);
      renderDevices(devices.items, renderGateways(gateways.items));
      $('#live').classList.add('on');
    } catch {
      $('#live').classList.remove('on');
    }
  }

  async function loadTags() {
    const tags = (await api('/tags')).items;
    $('#tag').innerHTML = tags.map((t) => `<option value="${esc(t.gateway)}|${esc(t.key)}">${esc(t.gateway)} · ${esc(t.key)}${t.unit ? ` (${esc(t.unit)})` : ''}</option>`).join('');
  }

  /** Raw readings for a short range, store-side aggregates (about 1000 buckets) when zoomed out. */
  async function trend() {
    const sel = $('#tag').value;
    if (!sel) return;
    const [gateway, tag] = sel.split('|');
    const to = Date.now(); const from = to - rangeMs;
    const q = `gateway=${encodeURIComponent(gateway)}&tag=${encodeURIComponent(tag)}&from=${Math.round(from)}&to=${Math.round(to)}`;
    let data; let info;
    if (rangeMs <= 3600e3) {
      const r = await api(`/series?${q}&limit=10000`);
      const pts = r.items.filter((i) => typeof i.value === 'number' || typeof i.value === 'boolean');
      data = [pts.map((p) => p.tsMs / 1000), pts.map((p) => Number(p.value)), pts.map((p) => Number(p.value)), pts.map((p) => Number(p.value))];
      info = `${pts.length} raw readings`;
    } else {
      // About 1 000 points; whole minutes from 1 minute up, so the store answers from its minute rollups.
      const raw = Math.ceil(rangeMs / 1000 / 1000) * 1000;
      const bucket = raw >= 60e3 ? Math.ceil(raw / 60e3) * 60e3 : raw;
      const r = await api(`/aggregate?${q}&bucket=${bucket}`);
      data = [r.items.map((b) => b.tsMs / 1000), r.items.map((b) => b.avg), r.items.map((b) => b.min), r.items.map((b) => b.max)];
      info = `${r.items.length} buckets of ${bucket / 1000} s (avg, min, max) computed by the store`;
    }
    $('#trend-info').textContent = info;
    const width = Math.max(300, $('#chart').clientWidth || 800);
    if (plot) plot.destroy();
    plot = new uPlot({ width, height: 300, series: [{}, { label: 'avg', stroke: '#17324d', width: 2 }, { label: 'min', stroke: '#8fb3d9' }, { label: 'max', stroke: '#d98f8f' }], scales: { x: { time: true } } }, data, $('#chart'));
  }

  /** Alarm changes pushed by the bridge (GET /api/v1/events, read with fetch so the token can be sent): refresh at once. */
  async function listen() {
    const me = token;
    while (token === me) {
      try {
        const res = await fetch('/api/v1/events', { headers: token ? { authorization: `Bearer ${token}` } : {} });
        if (!res.ok || !res.body) throw new Error(res.statusText);
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done || token !== me) break;
          if (dec.decode(value, { stream: true }).includes('event: alarm')) refresh();
        }
      } catch {
        // bridge restarting or network down: polling keeps going; retry the stream
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  function start() {
    $('#login').hidden = true; $('#app').hidden = false; $('#logout').hidden = !token;
    $('#who').textContent = token ? `user ${user}` : '';
    $('#ranges').innerHTML = RANGES.map(([l, ms]) => `<button data-range="${ms}" class="${ms === rangeMs ? 'active' : ''}">${l}</button>`).join('');
    loadTags().then(trend).catch(() => undefined);
    refresh();
    listen();
    clearInterval(timer);
    let n = 0;
    timer = setInterval(() => { refresh(); if (++n % 5 === 0 && rangeMs <= 86400e3) trend().catch(() => undefined); }, 2000);
  }

  document.addEventListener('click', async (ev) => {
    const t = ev.target;
    if (t.matches('button.ack')) {
      t.disabled = true;
      await api(`/alarms/${t.dataset.id}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: user }) }).catch((e) => alert(e.message));
      refresh();
    } else if (t.matches('#ranges button')) {
      rangeMs = Number(t.dataset.range);
      for (const b of document.querySelectorAll('#ranges button')) b.classList.toggle('active', b === t);
      trend().catch(() => undefined);
    }
  });
  $('#tag').addEventListener('change', () => trend().catch(() => undefined));
  $('#login').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  window.addEventListener('resize', () => plot && plot.setSize({ width: Math.max(300, $('#chart').clientWidth), height: 300 }));

  fetch('/dashboard/config.json').then((r) => r.json()).then((cfg) => {
    if (cfg.auth === 'none') { token = ''; user = 'operator'; start(); } else if (token) start(); else $('#login').hidden = false;
  });
})();
