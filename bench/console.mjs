/* global window -- functions passed to page.evaluate run in the browser */
// famfs console: a 1 TiB emulated device (524,288 allocation units) holding 100,000 files (10,000
// with --quick), its allocation map drawn in Debian's headless chromium from a fresh page load to
// the last canvas painted (goal <= 1 s). Before each load the master appends one file, so the
// console rebuilds its map from the log every time, as it does on a live update. Reference: the
// same browser loading a page that paints a canvas of the same size from memory (no server, no
// famfs): the floor any map page pays.
import { spawn } from 'node:child_process';
import puppeteer from 'puppeteer-core';
import { createEmulatedDevice } from '../dist/src/device/emulated.js';
import { mkfs } from '../dist/src/fs/mkfs.js';
import { parseUuid } from '../dist/src/format/uuid.js';
import { FAMFS_CLI, GIB, MASTER_UUID, MIB, QUICK, emit, onCleanup, phase, privateRunDir, row, runMain, shmPath, summary } from './lib/common.mjs';
import { openApi } from './lib/famfs-setup.mjs';

const DEVICE_SIZE = 1024 * GIB;
const FILES = QUICK ? 10_000 : 100_000;
/** Five units each: 100,000 files fill 500,000 of the 524,288 units. */
const FILE_SIZE = 10 * MIB;
/** 100,000 entries of 544 bytes need a 64 MiB log (a power of two). */
const LOG_LEN = 64 * MIB;
const BATCH = 5000;
const RUNS = QUICK ? 3 : 7;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PAGE_TIMEOUT_MS = 60_000;

function startConsole(dev) {
  const proc = spawn(process.execPath, [FAMFS_CLI, 'console', '--device', dev, '--port', '0'], {
    env: { ...process.env, FAMFS_SYSTEM_UUID: MASTER_UUID }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  onCleanup(() => proc.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (b) => {
      out += b.toString();
      const m = /famfs console: (http:\/\/\S+)/.exec(out);
      if (m && /read-only/.test(out)) resolve({ proc, url: m[1] });
    });
    proc.once('exit', (code) => reject(new Error(`famfs console exited ${code}`)));
  });
}

/** Milliseconds from navigation to every map painted, on a fresh page. */
async function mapLoadMs(browser, url) {
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(url);
    await page.waitForFunction(() => window.famfsConsole?.mapMs !== undefined, { timeout: PAGE_TIMEOUT_MS, polling: 10 });
    return await page.evaluate(() => window.famfsConsole.mapMs);
  } finally {
    await page.close();
  }
}

/** The reference: a page that paints a width x height canvas from memory, timed the same way. */
async function floorMs(browser, width, height) {
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1280, height: 1000 });
    const html = `<!doctype html><canvas id="c" width="${width}" height="${height}"></canvas><script>
      const c = document.getElementById('c').getContext('2d');
      const img = c.createImageData(${width}, ${height});
      const px = new Uint32Array(img.data.buffer);
      for (let i = 0; i < px.length; i++) px[i] = 0xff000000 | (i * 2654435761);
      c.putImageData(img, 0, 0);
      window.doneMs = performance.now();
    </script>`;
    await page.goto(`data:text/html,${encodeURIComponent(html)}`);
    await page.waitForFunction(() => window.doneMs !== undefined, { timeout: PAGE_TIMEOUT_MS, polling: 10 });
    return await page.evaluate(() => window.doneMs);
  } finally {
    await page.close();
  }
}

async function main() {
  privateRunDir();
  phase(`console: ${FILES} files on a 1 TiB emulated device`);
  const dev = shmPath('console-1t');
  createEmulatedDevice(dev, DEVICE_SIZE);
  mkfs(dev, { systemUuid: parseUuid(MASTER_UUID), logLen: LOG_LEN });
  const api = openApi(dev);
  onCleanup(() => api.close());
  for (let i = 0; i < FILES; i += BATCH) {
    api.creatMany(Array.from({ length: Math.min(BATCH, FILES - i) }, (_, k) => ({ path: `f${i + k}`, size: FILE_SIZE })));
  }
  const con = await startConsole(dev);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  onCleanup(() => browser.process()?.kill('SIGKILL'));
  try {
    await mapLoadMs(browser, con.url); // untimed: chromium's and the console's first start
    const page = await browser.newPage();
    await page.goto(con.url);
    await page.waitForFunction(() => window.famfsConsole?.mapMs !== undefined, { timeout: PAGE_TIMEOUT_MS });
    const size = await page.evaluate(() => ({ w: window.famfsConsole.layouts[0].width, h: window.famfsConsole.layouts[0].height, per: window.famfsConsole.layouts[0].per }));
    await page.close();
    const map = [];
    const floor = [];
    for (let r = 0; r < RUNS; r++) {
      api.creat(`late${r}`, { size: FILE_SIZE }); // a new log entry: the console's map is rebuilt
      map.push(await mapLoadMs(browser, con.url));
      floor.push(await floorMs(browser, size.w, size.h));
    }
    emit([row({
      name: `console map of a 1 TiB device, ${FILES.toLocaleString('en-US')} files`, unit: 'ms', value: summary(map), ref: summary(floor),
      refName: `bare ${size.w}x${size.h} canvas page`, goal: { kind: 'value', op: '<=', target: 1000 },
      detail: `page load to map painted, ${size.per} units per pixel, map rebuilt from the log each time`,
    })]);
  } finally {
    await browser.close();
    con.proc.kill('SIGTERM');
  }
}

runMain(main);
