/**
 * famfs console in a real browser: Debian's headless chromium driven by puppeteer-core. The file
 * system spans two devices and holds simple and interleaved files; the tests read the canvas
 * pixels of a chosen file's units, hover and click like a user, watch a file created by another
 * host appear without a reload, and check the token on a non-loopback bind. Screenshots go to
 * test/artifacts/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import type { MappedFile } from '../src/fs/allocation-map.js';
import { artifactPath, launchBrowser } from './helpers/browser.js';
import { startConsole, type RunningConsole } from './helpers/console.js';
import { cleanupDevices, CLIENT_UUID, emuDevice, GiB, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, mkfsCli } from './helpers/run.js';
import { cleanupMounts, mountFamfs } from './helpers/mounts.js';
import { digestAt } from './helpers/device-io.js';

const UNIT = 2 * MiB;
/** The superblock and the log: what a read-only console must leave as it found it. */
const METADATA_BYTES = 10 * MiB;
const PAGE_TIMEOUT_MS = 20_000;
const SUPERBLOCK_RGB = [20, 20, 20];
const LOG_RGB = [96, 96, 96];
const FREE_RGB = [232, 232, 232];
/** The log fills units 1..4 of the primary (8 MiB after the 2 MiB superblock). */
const LOG_UNITS = [1, 2, 3, 4];

let browser: Browser | undefined;
const running: RunningConsole[] = [];

after(async () => {
  await browser?.close();
  for (const c of running) await c.stop();
  cleanupMounts();
  cleanupDevices();
});

async function openPage(url: string, name: string): Promise<Page> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(url);
  await page.waitForFunction(() => ((window as unknown as { famfsConsole?: { drawn: number } }).famfsConsole?.drawn ?? 0) > 0, { timeout: PAGE_TIMEOUT_MS });
  assert.deepEqual(errors, [], `${name}: no script errors`);
  return page;
}

/** The RGB of the pixel at the center of unit `unit`'s cell on device `dev`'s canvas. */
function unitRgb(page: Page, dev: number, unit: number): Promise<number[]> {
  return page.evaluate((d: number, u: number) => {
    const c = (window as unknown as { famfsConsole: { pixelOf(d: number, u: number): { x: number; y: number } } }).famfsConsole;
    const p = c.pixelOf(d, u);
    const canvas = document.getElementById(`map-${d}`) as HTMLCanvasElement;
    return Array.from(canvas.getContext('2d')!.getImageData(p.x, p.y, 1, 1).data.slice(0, 3));
  }, dev, unit);
}

/** How many cells of device `dev` show `rgb` (one read of the whole canvas). */
function cellsWithColor(page: Page, dev: number, rgb: number[]): Promise<number> {
  return page.evaluate((d: number, want: number[]) => {
    const c = (window as unknown as { famfsConsole: { layouts: { cell: number; cols: number; cells: number; width: number; height: number }[] } }).famfsConsole;
    const L = c.layouts[d]!;
    const canvas = document.getElementById(`map-${d}`) as HTMLCanvasElement;
    const px = canvas.getContext('2d')!.getImageData(0, 0, L.width, L.height).data;
    let n = 0;
    for (let i = 0; i < L.cells; i++) {
      const x = (i % L.cols) * L.cell + (L.cell >> 1);
      const y = Math.floor(i / L.cols) * L.cell + (L.cell >> 1);
      const at = (y * L.width + x) * 4;
      if (px[at] === want[0] && px[at + 1] === want[1] && px[at + 2] === want[2]) n++;
    }
    return n;
  }, dev, rgb);
}

/** Every (device, unit) a file's extents or strips cover. */
function unitsOf(f: MappedFile): [number, number][] {
  const out: [number, number][] = [];
  for (const e of f.extents) {
    for (let u = Math.floor(e.offset / UNIT); u < Math.ceil((e.offset + e.len) / UNIT); u++) out.push([e.devIndex, u]);
  }
  return out;
}

async function filesOf(c: RunningConsole): Promise<MappedFile[]> {
  const u = new URL('/api/files', c.url);
  return ((await (await fetch(u)).json()) as { files: MappedFile[] }).files;
}

describe('famfs console in headless chromium', () => {
  let primary = '';
  let second = '';
  let con: RunningConsole;
  let page: Page;
  let files: MappedFile[] = [];

  before(async () => {
    primary = emuDevice(8 * GiB, 'con0');
    second = emuDevice(8 * GiB, 'con1');
    assert.equal(mkfsCli([primary]).status, 0);
    assert.equal(famfs(['adddev', '--device', primary, second]).status, 0);
    const creat = (args: string[]): void => {
      const r = famfs(['creat', '--device', primary, ...args]);
      assert.equal(r.status, 0, r.stderr);
    };
    assert.equal(famfs(['mkdir', '-p', '--device', primary, 'datasets/images']).status, 0);
    creat(['-s', '10m', 'datasets/images/shard0']);
    creat(['-s', '6m', 'datasets/images/shard1']);
    // Interleaved over the buckets (1 GiB each) of the two devices: strips land on both.
    creat(['-s', '64m', '-N', '8', '-B', '8', '-C', '2m', 'datasets/corpus']);
    // Both hosts mounted, for the mounts panel.
    mountFamfs(primary, MASTER_UUID);
    mountFamfs(primary, CLIENT_UUID);
    browser = await launchBrowser();
    // The console runs as the client host; files come from the master.
    con = await startConsole(['--device', primary, '--port', '0'], CLIENT_UUID);
    running.push(con);
    files = await filesOf(con);
    page = await openPage(con.url, 'main');
  });

  it('draws the superblock, the log and each unit of a chosen interleaved file in that file\'s color', async () => {
    const before = digestAt(primary, 0, METADATA_BYTES);
    const corpus = files.find((f) => f.path === 'datasets/corpus')!;
    assert.equal(corpus.kind, 'interleaved');
    const units = unitsOf(corpus);
    const devicesUsed = new Set(units.map(([d]) => d));
    assert.deepEqual([...devicesUsed].sort(), [0, 1], 'strips on both devices');

    const color = await unitRgb(page, units[0]![0], units[0]![1]);
    for (const special of [SUPERBLOCK_RGB, LOG_RGB, FREE_RGB]) assert.notDeepEqual(color, special);
    for (const [d, u] of units) assert.deepEqual(await unitRgb(page, d, u), color, `device ${d} unit ${u}`);
    // Exactly its units have its color: no other cell on either device.
    let total = 0;
    for (const d of [0, 1]) total += await cellsWithColor(page, d, color);
    assert.equal(total, units.length);

    assert.deepEqual(await unitRgb(page, 0, 0), SUPERBLOCK_RGB);
    for (const u of LOG_UNITS) assert.deepEqual(await unitRgb(page, 0, u), LOG_RGB);
    assert.deepEqual(await unitRgb(page, 1, 0), SUPERBLOCK_RGB, 'an added device\'s own superblock');
    assert.deepEqual(await unitRgb(page, 1, 4095), FREE_RGB);
    // Each other file's units are drawn in one color, different from the corpus's.
    for (const f of files.filter((x) => x !== corpus)) {
      const fu = unitsOf(f);
      const fc = await unitRgb(page, fu[0]![0], fu[0]![1]);
      assert.notDeepEqual(fc, color);
      for (const [d, u] of fu) assert.deepEqual(await unitRgb(page, d, u), fc);
    }
    assert.equal(digestAt(primary, 0, METADATA_BYTES), before, 'the console did not write the device');
  });

  it('shows the file, its strip and the unit on hover, and the extent map of a file clicked in the browser', async () => {
    const corpus = files.find((f) => f.path === 'datasets/corpus')!;
    const strip = corpus.extents.findIndex((e) => e.devIndex === 1);
    const e = corpus.extents[strip]!;
    const unit = Math.floor(e.offset / UNIT);
    const p = await page.evaluate((u: number) => (window as unknown as { famfsConsole: { pixelOf(d: number, u: number): { x: number; y: number } } }).famfsConsole.pixelOf(1, u), unit);
    const box = (await (await page.$('#map-1'))!.boundingBox())!;
    await page.mouse.move(box.x + p.x, box.y + p.y);
    const tip = await page.$eval('#tip', (el) => ({ text: (el as HTMLElement).innerText, shown: (el as HTMLElement).style.display }));
    assert.equal(tip.shown, 'block');
    assert.match(tip.text, /datasets\/corpus/);
    assert.match(tip.text, new RegExp(`strip ${strip} of 8`));
    assert.match(tip.text, new RegExp(`device 1, unit ${unit} `));
    await page.screenshot({ path: artifactPath('console-hover.png') });

    // The log region says what it is.
    const logAt = await page.evaluate(() => (window as unknown as { famfsConsole: { pixelOf(d: number, u: number): { x: number; y: number } } }).famfsConsole.pixelOf(0, 2));
    const box0 = (await (await page.$('#map-0'))!.boundingBox())!;
    await page.mouse.move(box0.x + logAt.x, box0.y + logAt.y);
    assert.match(await page.$eval('#tip', (el) => (el as HTMLElement).innerText), /^log\n/);

    await page.click('#tree .file[data-path="datasets/images/shard0"]');
    const detail = await page.$eval('#detail', (el) => (el as HTMLElement).innerText);
    assert.match(detail, /datasets\/images\/shard0/);
    assert.match(detail, /10\.0 MiB \(10485760 bytes\)/);
    assert.match(detail, /rw-r--r-- \(0644\)/);
    assert.match(detail, /extent 0\s+dev 0/);
    await page.screenshot({ path: artifactPath('console.png'), fullPage: true });
  });

  it('shows a file another host creates without a reload, within the poll interval', async () => {
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const updates = await page.evaluate(() => (window as unknown as { famfsConsole: { updates: number } }).famfsConsole.updates);
    const r = famfs(['creat', '--device', primary, '-s', '20m', 'live-new'], MASTER_UUID);
    assert.equal(r.status, 0, r.stderr);
    const t0 = Date.now();
    await page.waitForSelector('#tree .file[data-path="live-new"]', { timeout: PAGE_TIMEOUT_MS });
    const elapsed = Date.now() - t0;
    process.stdout.write(`# live: the new file appeared ${elapsed} ms after famfs creat returned\n`);
    const state = await page.evaluate(() => {
      const w = window as unknown as { notReloaded?: boolean; famfsConsole: { updates: number } };
      return { notReloaded: w.notReloaded === true, updates: w.famfsConsole.updates };
    });
    assert.equal(state.notReloaded, true, 'same page, no reload');
    assert.ok(state.updates > updates, 'told by the event stream');
    const live = (await filesOf(con)).find((f) => f.path === 'live-new')!;
    await page.waitForFunction(() => (window as unknown as { famfsConsole: { files: { path: string }[] } }).famfsConsole.files.some((f) => f.path === 'live-new'));
    const units = unitsOf(live);
    const color = await unitRgb(page, units[0]![0], units[0]![1]);
    assert.notDeepEqual(color, FREE_RGB, 'its units are drawn');
    for (const [d, u] of units) assert.deepEqual(await unitRgb(page, d, u), color);
    assert.equal(await page.$eval('#count-files', (el) => el.textContent), '4');
  });

  it('answers bad requests with a 4xx and a JSON error, never a page or a stack', async () => {
    const base = new URL(con.url);
    const cases: [string, RequestInit, number][] = [
      ['/no/such/page', {}, 404],
      ['/api/map?device=7', {}, 404],
      ['/api/map?device=x', {}, 404],
      ['/api/status', { method: 'POST' }, 405],
      ['/', { method: 'DELETE' }, 405],
    ];
    for (const [path, init, status] of cases) {
      const res = await fetch(new URL(path, base), init);
      assert.equal(res.status, status, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await res.json()) as { error: string };
      assert.equal(typeof body.error, 'string');
      assert.doesNotMatch(body.error, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('famfs console token', () => {
  it('bound to a non-loopback address, demands the token on every request (generated and printed when not given)', async () => {
    const dev = emuDevice(8 * GiB, 'contok');
    assert.equal(mkfsCli([dev]).status, 0);
    assert.equal(famfs(['creat', '--device', dev, '-s', '4m', 'f']).status, 0);
    browser ??= await launchBrowser();
    // 0.0.0.0 is every address, loopback included: the test connects through 127.0.0.1.
    const con = await startConsole(['--device', dev, '--bind', '0.0.0.0', '--port', '0']);
    running.push(con);
    const token = con.generatedToken!;
    assert.ok(token && token.length >= 20, 'a generated token is printed');
    const port = new URL(con.url).port;
    const local = `http://127.0.0.1:${port}`;
    for (const path of ['/', '/api/status', '/api/map?device=0', '/api/events']) {
      const res = await fetch(`${local}${path}`);
      assert.equal(res.status, 401, path);
      assert.deepEqual(Object.keys((await res.json()) as object), ['error']);
      assert.equal((await fetch(`${local}${path}${path.includes('?') ? '&' : '?'}token=wrong`)).status, 401);
    }
    const ok = await fetch(`${local}/api/status`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    // The browser gets in with the token in the URL, and the page carries it to every call it makes.
    const page = await openPage(`${local}/?token=${token}`, 'token');
    assert.deepEqual(await unitRgb(page, 0, 0), SUPERBLOCK_RGB);
    await page.waitForFunction(() => document.getElementById('live')?.className === 'on', { timeout: PAGE_TIMEOUT_MS });
    await page.screenshot({ path: artifactPath('console-token.png') });
    await page.close();
    await con.stop();

    // A token that was given is required too; a loopback bind with no token needs none.
    const given = await startConsole(['--device', dev, '--bind', '0.0.0.0', '--port', '0', '--token', 'sesame-1234']);
    running.push(given);
    const gport = new URL(given.url).port;
    assert.equal(given.generatedToken, undefined);
    assert.equal((await fetch(`http://127.0.0.1:${gport}/api/status`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${gport}/api/status?token=sesame-1234`)).status, 200);
    await given.stop();
    const open = await startConsole(['--device', dev, '--port', '0']);
    running.push(open);
    assert.equal((await fetch(new URL('/api/status', open.url))).status, 200);
    await open.stop();
  });

  it('bound to a non-loopback address this test adds (10.254.x.y on lo, removed after), refuses requests without the token', async () => {
    const dev = emuDevice(8 * GiB, 'conaddr');
    assert.equal(mkfsCli([dev]).status, 0);
    const addr = `10.254.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const add = spawnSync('ip', ['addr', 'add', `${addr}/32`, 'dev', 'lo'], { encoding: 'utf8' });
    assert.equal(add.status, 0, `ip addr add: ${add.stderr}`);
    try {
      const con = await startConsole(['--device', dev, '--bind', addr, '--port', '0']);
      running.push(con);
      const url = new URL(con.url);
      assert.equal(url.hostname, addr);
      const token = con.generatedToken!;
      assert.ok(token, 'a generated token is printed');
      assert.equal((await fetch(`http://${addr}:${url.port}/api/status`)).status, 401);
      assert.equal((await fetch(`http://${addr}:${url.port}/api/status?token=${token}`)).status, 200);
      assert.equal((await fetch(`http://${addr}:${url.port}/api/status`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
      // Not listening on loopback at all.
      await assert.rejects(fetch(`http://127.0.0.1:${url.port}/api/status`));
      await con.stop();
    } finally {
      spawnSync('ip', ['addr', 'del', `${addr}/32`, 'dev', 'lo']);
    }
  });

  it('refuses bad command lines with one line on stderr', () => {
    const dev = emuDevice(8 * GiB, 'conbad');
    assert.equal(mkfsCli([dev]).status, 0);
    for (const args of [['--device', dev, '--port', '70000'], ['--device', dev, '--token', ''], ['--device', '/dev/shm/famfs-console-no-such'], [join('/tmp', 'not-a-famfs-mount')]]) {
      const r = famfs(['console', ...args]);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
