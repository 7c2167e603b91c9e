/* global window -- functions passed to page.evaluate run in the browser */
// The README's picture of `famfs console` (docs/console.png), made from the demo file system: runs
// the demo (`npm start`'s tour) keeping its device, mounts it as the demo's master and client
// hosts, starts the console, and has Debian's headless chromium hover an interleaved file's strip
// and select it in the file browser. Everything it makes is removed at the end, whatever happens.
// Run after `npm run build`: node tools/console-screenshot.mjs [output.png]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FAMFS = join(ROOT, 'dist', 'bin', 'famfs.cjs');
const OUT = process.argv[2] ?? join(ROOT, 'docs', 'console.png');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// The demo's two hosts (src/demo.ts).
const MASTER = '6d617374-6572-4000-8000-000000000001';
const CLIENT = '636c6965-6e74-4000-8000-000000000002';
const DEVICE = `/dev/shm/famfs-screenshot-${process.pid}`;
const RUN_DIR = mkdtempSync(join(tmpdir(), 'famfs-screenshot-run-'));
const MOUNTS = mkdtempSync(join(tmpdir(), 'famfs-screenshot-mnt-'));
const ENV = { ...process.env, FAMFS_RUN_DIR: RUN_DIR, FAMFS_DEVICE: '' };
const mounted = [];
let consoleProc;
let browser;

function famfs(host, ...args) {
  const r = spawnSync(process.execPath, [FAMFS, ...args], { encoding: 'utf8', env: { ...ENV, FAMFS_SYSTEM_UUID: host } });
  if (r.status !== 0) throw new Error(`famfs ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function startConsole() {
  consoleProc = spawn(process.execPath, [FAMFS, 'console', '--device', DEVICE, '--port', '0'], {
    env: { ...ENV, FAMFS_SYSTEM_UUID: CLIENT }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    consoleProc.stdout.on('data', (b) => {
      out += b.toString();
      const m = /famfs console: (http:\/\/\S+)/.exec(out);
      if (m && /read-only/.test(out)) resolve(m[1]);
    });
    consoleProc.once('exit', (code) => reject(new Error(`famfs console exited ${code}`)));
  });
}

async function shoot(url) {
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  await page.goto(url);
  await page.waitForFunction(() => window.famfsConsole?.drawn > 0 && window.famfsConsole.files.length > 0, { timeout: 30_000 });
  await page.click('#tree .file[data-path="datasets/text/corpus"]');
  // Hover the corpus's third strip, so the picture shows what a hover tells.
  const at = await page.evaluate(() => {
    const c = window.famfsConsole;
    const f = c.files.find((x) => x.path === 'datasets/text/corpus');
    const e = f.extents[2];
    return { dev: e.devIndex, ...c.pixelOf(e.devIndex, Math.floor(e.offset / (2 * 1024 * 1024)) + 1) };
  });
  const box = await (await page.$(`#map-${at.dev}`)).boundingBox();
  await page.mouse.move(box.x + at.x, box.y + at.y);
  mkdirSync(dirname(OUT), { recursive: true });
  await page.screenshot({ path: OUT });
}

async function main() {
  const demo = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'demo.js')], {
    encoding: 'utf8', env: { ...ENV, FAMFS_DEMO_DEVICE: DEVICE, FAMFS_DEMO_KEEP: '1' },
  });
  if (demo.status !== 0) throw new Error(`the demo failed: ${demo.stderr}`);
  for (const [host, name] of [[MASTER, 'master'], [CLIENT, 'client']]) {
    const mnt = join(MOUNTS, name);
    mkdirSync(mnt);
    famfs(host, 'mount', DEVICE, mnt);
    mounted.push(mnt);
  }
  await shoot(await startConsole());
  process.stdout.write(`wrote ${OUT}\n`);
}

async function cleanup() {
  await browser?.close();
  consoleProc?.kill('SIGTERM');
  for (const mnt of mounted.splice(0)) spawnSync(process.execPath, [FAMFS, 'umount', mnt], { env: ENV });
  if (existsSync(DEVICE)) rmSync(DEVICE);
  rmSync(MOUNTS, { recursive: true, force: true });
  rmSync(RUN_DIR, { recursive: true, force: true });
}

main().catch((err) => {
  process.stderr.write(`console-screenshot: ${err.message}\n`);
  process.exitCode = 1;
}).finally(cleanup);
