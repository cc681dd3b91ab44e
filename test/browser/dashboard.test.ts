import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import type { Browser, Page } from 'playwright-core';
import { spawnJinyun, stopChild, type Child } from '../../cli/process.js';
import { METHANE_SPIKE_COIL } from '../../simulators/modbus/profiles/coal-mine.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/edge-child.js';

const CHROMIUM = process.env.JINYUN_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
/** In CI a missing Chromium is a failure (.ci/run installs it); elsewhere the suite is skipped with a line saying why. */
const skip = !existsSync(CHROMIUM) && !process.env.CI;
if (skip) process.stdout.write(`browser suite skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set JINYUN_CHROMIUM)\n`);

async function writeSpikeCoil(port: number, on: boolean): Promise<void> {
  const client = new modbusSerial.default();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(1);
  client.setTimeout(3000);
  try {
    await client.writeCoil(METHANE_SPIKE_COIL, on);
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
  }
}

describe.skipIf(skip)('dashboard in headless Chromium against the running demo', () => {
  let tmp: ReturnType<typeof tempDir>;
  let demo: Child;
  let ready: { api: string; dashboard: string; user: string; password: string; simPort: number };
  let browser: Browser;
  let page: Page;
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
    await page.goto(ready.dashboard);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#user', ready.user);
    await page.fill('#password', 'wrong-password-123456');
    await page.click('#login button[type=submit]');
    await page.waitForFunction("/Login failed/.test(document.querySelector('#login-error').textContent)");
    await page.fill('#password', ready.password);
    await page.click('#login button[type=submit]');
    await page.waitForFunction("document.querySelectorAll('#devices tbody tr').length === 3");
    const devices = await page.$$eval('#devices tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    expect(devices).toEqual(['gas-monitor', 'main-fan', 'pump-station']);
    expect(await page.textContent('#gateways tbody tr td:nth-child(1)')).toBe('demo-mine-gw1');
    await page.waitForFunction("document.querySelector('#gateways tbody tr td:nth-child(2)')?.textContent === 'online'");
    // Device health (state, error rate, latency) and the gateway backlog come with the edge's health messages (every 5 s in the demo).
    await page.waitForFunction("[...document.querySelectorAll('#devices tbody tr td:nth-child(3)')].every((td) => td.textContent === 'ok')", undefined, { timeout: 20_000 });
    expect(await page.$$eval('#devices tbody tr td:nth-child(5)', (tds) => tds.map((t) => t.textContent))).toEqual(['0.0 %', '0.0 %', '0.0 %']);
    expect(await page.textContent('#gateways tbody tr td:nth-child(3)')).toMatch(/^\d+$/);
    await shot('1-devices');

    await page.selectOption('#tag', 'demo-mine-gw1|gas-monitor/methane');
    await page.waitForFunction("/^[1-9]\\d* raw readings$/.test(document.querySelector('#trend-info').textContent)");
    expect(await page.$$eval('#chart canvas', (c) => c.length)).toBeGreaterThan(0);
    await page.click('#ranges button:has-text("7 d")');
    await page.waitForFunction("/buckets of 660 s .* computed by the store/.test(document.querySelector('#trend-info').textContent)");
    await page.click('#ranges button:has-text("1 h")');
    await page.waitForFunction("/raw readings/.test(document.querySelector('#trend-info').textContent)");
    await shot('2-trend');

    await writeSpikeCoil(ready.simPort, true);
    await page.waitForFunction("document.querySelectorAll('#alarms tbody tr[data-alarm]').length === 2", undefined, { timeout: 20_000 });
    const messages = await page.$$eval('#alarms tbody tr[data-alarm] td:nth-child(5)', (tds) => tds.map((t) => t.textContent ?? ''));
    expect(messages.map((m) => / (>=) (1|1\.5) \(coal-mine preset/.exec(m)?.[2]).sort()).toEqual(['1', '1.5']);
    expect(await page.$$eval('#alarms tbody tr[data-alarm] td:nth-child(4)', (tds) => tds.map((t) => t.textContent))).toEqual(['gas-monitor/methane', 'gas-monitor/methane']);
    await page.click('#ranges button:has-text("1 h")'); // reload the trend: the spike is in it
    await shot('3-alarm');

    const id = await page.getAttribute('#alarms tbody tr[data-alarm] button.ack', 'data-id');
    await page.click(`#alarms button.ack[data-id="${id}"]`);
    await page.waitForFunction(`document.querySelector('#alarms tr[data-alarm="${String(id)}"] td:nth-child(6)')?.textContent.includes(${JSON.stringify(`✔ ${ready.user}`)})`);
    const res = await fetch(`${ready.api}/alarms?state=active`, { headers: { authorization: `Bearer ${ready.user}.${ready.password}` } });
    const alarms = ((await res.json()) as { items: { id: number; ackBy: string | null; acknowledged: boolean }[] }).items;
    expect(alarms.find((a) => a.id === Number(id))).toMatchObject({ acknowledged: true, ackBy: ready.user });
    await shot('4-acknowledged');

    await writeSpikeCoil(ready.simPort, false);
    await until('alarms cleared on the dashboard', async () => ((await page.$$('#alarms tbody tr[data-alarm]')).length === 0 ? true : null), 20_000);
  }, 150_000);
});
