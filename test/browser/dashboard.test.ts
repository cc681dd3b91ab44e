import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { setMethaneSpike } from '../../simulators/modbus/methane-spike.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/edge-child.js';

const CHROMIUM = process.env.JINYUN_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
/** In CI a missing Chromium is a failure (.ci/run installs it); elsewhere the suite is skipped with a line saying why. */
const skip = !existsSync(CHROMIUM) && !process.env.CI;
if (skip) process.stdout.write(`browser suite skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set JINYUN_CHROMIUM)\n`);

const writeSpikeCoil = setMethaneSpike;

describe.skipIf(skip)('dashboard in headless Chromium against the running demo', () => {
  let tmp: ReturnType<typeof tempDir>;
  let demo: Child;
  let ready: { api: string; dashboard: string; user: string; password: string; simPort: number };
  let browser: Browser;
  let page: Page;
  /** Texts of every element matching the selector (Playwright's own selector engine: no string evaluated in the page, which the dashboard's CSP forbids). */
  const texts = (selector: string): Promise<string[]> => page.$$eval(selector, (els) => els.map((e) => e.textContent ?? ''));
  /** Polls until `ok(texts of selector)` holds. */
  const waitTexts = (what: string, selector: string, ok: (t: string[]) => boolean, timeoutMs = 10_000): Promise<true> =>
    until(what, async () => ok(await texts(selector)) || null, timeoutMs, 50);
  const shot = async (name: string) => {
    const path = join(ARTIFACTS, `dashboard-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    expect(statSync(path).size).toBeGreaterThan(10_000);
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    tmp = tempDir('jinyun-browser-');
    demo = spawnJinyun(['demo'], { env: { JINYUN_DEMO_DIR: tmp.dir, MQTT_PORT: '0', HTTP_PORT: '0', JINYUN_LOG_LEVEL: 'warn' } });
    ready = (await demo.waitFor('ready', 90_000)) as typeof ready;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    if (ready) await writeSpikeCoil(ready.simPort, false).catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (demo) await stopChild(demo);
    tmp?.cleanup();
  });

  it('logs in with the tenant token, shows the devices, a trend, the methane alarm, and acknowledges it', async () => {
    // Script errors and Content-Security-Policy violations (the dashboard runs under a strict CSP).
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text()); });
    const first = await page.goto(ready.dashboard);
    expect(first?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(first?.headers()['x-frame-options']).toBe('DENY');
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#user', ready.user);
    await page.fill('#password', 'wrong-password-123456');
    await page.click('#login button[type=submit]');
    await waitTexts('the login error', '#login-error', (t) => /Login failed/.test(t[0] ?? ''));
    await page.fill('#password', ready.password);
    await page.click('#login button[type=submit]');
    await waitTexts('three devices', '#devices tbody tr', (t) => t.length === 3);
    const devices = await page.$$eval('#devices tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    expect(devices).toEqual(['gas-monitor', 'main-fan', 'pump-station']);
    expect(await page.textContent('#gateways tbody tr td:nth-child(1)')).toBe('demo-mine-gw1');
    await waitTexts('the gateway online', '#gateways tbody tr td:nth-child(2)', (t) => t[0] === 'online');
    // Device health (state, error rate, latency) and the gateway backlog come with the edge's health messages (every 5 s in the demo).
    await waitTexts('every device ok', '#devices tbody tr td:nth-child(3)', (t) => t.length === 3 && t.every((x) => x === 'ok'), 20_000);
    expect(await page.$$eval('#devices tbody tr td:nth-child(5)', (tds) => tds.map((t) => t.textContent))).toEqual(['0.0 %', '0.0 %', '0.0 %']);
    expect(await page.textContent('#gateways tbody tr td:nth-child(3)')).toMatch(/^\d+$/);
    await shot('1-devices');

    await page.selectOption('#tag', 'demo-mine-gw1|gas-monitor/methane');
    await waitTexts('raw readings in the trend', '#trend-info', (t) => /^[1-9]\d* raw readings$/.test(t[0] ?? ''));
    expect(await page.$$eval('#chart canvas', (c) => c.length)).toBeGreaterThan(0);
    await page.click('#ranges button:has-text("7 d")');
    await waitTexts('store buckets in the trend', '#trend-info', (t) => /buckets of 660 s .* computed by the store/.test(t[0] ?? ''));
    await page.click('#ranges button:has-text("1 h")');
    await waitTexts('raw readings again', '#trend-info', (t) => /raw readings/.test(t[0] ?? ''));
    await shot('2-trend');

    await writeSpikeCoil(ready.simPort, true);
    await waitTexts('two methane alarms', '#alarms tbody tr[data-alarm]', (t) => t.length === 2, 20_000);
    const messages = await page.$$eval('#alarms tbody tr[data-alarm] td:nth-child(5)', (tds) => tds.map((t) => t.textContent ?? ''));
    expect(messages.map((m) => / (>=) (1|1\.5) \(coal-mine preset/.exec(m)?.[2]).sort()).toEqual(['1', '1.5']);
    expect(await page.$$eval('#alarms tbody tr[data-alarm] td:nth-child(4)', (tds) => tds.map((t) => t.textContent))).toEqual(['gas-monitor/methane', 'gas-monitor/methane']);
    await page.click('#ranges button:has-text("1 h")'); // reload the trend: the spike is in it
    await shot('3-alarm');

    const id = await page.getAttribute('#alarms tbody tr[data-alarm] button.ack', 'data-id');
    await page.click(`#alarms button.ack[data-id="${id}"]`);
    await waitTexts('the acknowledgement', `#alarms tr[data-alarm="${String(id)}"] td:nth-child(6)`, (t) => (t[0] ?? '').includes(`✔ ${ready.user}`));
    const res = await fetch(`${ready.api}/alarms?state=active`, { headers: { authorization: `Bearer ${ready.user}.${ready.password}` } });
    const alarms = ((await res.json()) as { items: { id: number; ackBy: string | null; acknowledged: boolean }[] }).items;
    expect(alarms.find((a) => a.id === Number(id))).toMatchObject({ acknowledged: true, ackBy: ready.user });
    await shot('4-acknowledged');

    // A maintenance tablet (portrait): one column, nothing wider than the screen, the same rows.
    await page.setViewportSize({ width: 820, height: 1180 });
    await waitTexts('devices on the tablet', '#devices tbody tr', (t) => t.length === 3);
    const [scrollWidth, clientWidth] = await page.$eval('html', (el) => [el.scrollWidth, el.clientWidth]);
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
    const sections = await page.$$eval('#app > section', (els) => els.map((e) => Math.round(e.getBoundingClientRect().width)));
    expect(sections.length).toBeGreaterThanOrEqual(3);
    expect(new Set(sections).size).toBe(1); // one column: every section as wide as the others
    // The remaining Acknowledge button is on screen, not behind a horizontal scroll.
    const ackRight = await page.$$eval('#alarms button.ack', (els) => els.map((e) => e.getBoundingClientRect().right));
    expect(ackRight.length).toBe(1);
    expect(ackRight[0]!).toBeLessThanOrEqual(clientWidth);
    await shot('5-tablet');
    await page.setViewportSize({ width: 1280, height: 900 });

    await writeSpikeCoil(ready.simPort, false);
    await until('alarms cleared on the dashboard', async () => ((await page.$$('#alarms tbody tr[data-alarm]')).length === 0 ? true : null), 20_000);
    expect(problems).toEqual([]);
  }, 150_000);
});
