import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyBuffer } from '../../src/data/prng.js';
import type { FsNode } from '../../src/fs/namespace.js';
import { FAMFS_BIN, runCliAsync } from '../helpers/run.js';
import { Cluster, type Host } from '../hosts/harness.js';
import { RUN_SEED, cleanProblems, envInt, inspect, readFileBytes, reportFigure } from './support.js';
import { prng, randInt } from '../helpers/prng.js';

/**
 * kill -9 the master at random points of `famfs creat`, `famfs mkdir -p` and `famfs cp -r`, and
 * after every kill check what a crash may and may not leave: fsck clean, every operation that
 * reported success whole, nothing half-made visible, the same operation re-run to completion,
 * and (every few iterations) a fresh client mount showing exactly the expected tree.
 */

const ITERS = envInt('FAMFS_CRASH_ITERS', 20);
/** A client mount costs about a second; checking one every few kills is enough to catch a bad image. */
const MOUNT_EVERY = envInt('FAMFS_CRASH_MOUNT_EVERY', 5);
/** Kill points are spread over the whole run, a little past its usual end so some runs finish. */
const KILL_SPREAD = 1.1;
const MiB = 1024 ** 2;
/** Source tree for cp -r: dirs × files of random sizes. */
const CP_DIRS = 3;
const CP_FILES = 6;
const CP_MAX_FILE = 300 * 1024;

type Expect = { kind: 'dir' } | { kind: 'file'; size: number; check: (b: Buffer) => string | undefined };

interface Op {
  args: string[];
  /** Everything the operation creates, by famfs path. */
  creates: Map<string, Expect>;
}

/** What must exist (sure) and what may exist, whole, after a kill (maybe). */
class Model {
  readonly sure = new Map<string, Expect>();
  readonly maybe = new Map<string, Expect>();

  settle(op: Op, completed: boolean): void {
    for (const [p, e] of op.creates) {
      if (completed) {
        this.sure.set(p, e);
        this.maybe.delete(p);
      } else if (!this.sure.has(p)) this.maybe.set(p, e);
    }
  }
}

function nodeProblem(path: string, n: FsNode, e: Expect): string | undefined {
  if (n.kind !== e.kind) return `${path} is a ${n.kind}, expected a ${e.kind}`;
  if (n.kind === 'file' && e.kind === 'file' && n.size !== e.size) return `${path} has size ${n.size}, expected ${e.size}`;
  return undefined;
}

/** fsck clean, every sure item whole (content of `contentOf` checked), maybe items whole if present, nothing else. */
function verifyDevice(device: string, model: Model, contentOf: Iterable<string>, ctx: string): void {
  const { report, nodes } = inspect(device);
  assert.deepEqual(cleanProblems(report), [], `${ctx}: fsck`);
  for (const [p, e] of model.sure) {
    const n = nodes.get(p);
    assert.ok(n, `${ctx}: ${p} reported created but is missing`);
    assert.equal(nodeProblem(p, n, e), undefined, ctx);
  }
  for (const [p, n] of nodes) {
    const e = model.sure.get(p) ?? model.maybe.get(p);
    assert.ok(e, `${ctx}: ${p} exists but no operation made it`);
    assert.equal(nodeProblem(p, n, e), undefined, `${ctx}: half-made ${p}`);
  }
  for (const p of contentOf) {
    const e = model.sure.get(p);
    const n = nodes.get(p);
    if (e?.kind !== 'file' || n?.kind !== 'file') continue;
    assert.equal(e.check(readFileBytes(device, n)), undefined, `${ctx}: content of ${p}`);
  }
}

/** A fresh client mount lists exactly the sure and present-maybe paths. */
async function verifyMount(client: Host, device: string, ctx: string): Promise<void> {
  const { nodes } = inspect(device);
  const mnt = await client.mount();
  try {
    const listed = (readdirSync(mnt, { recursive: true }) as string[]).filter((p) => !p.startsWith('.meta')).sort();
    assert.deepEqual(listed, [...nodes.keys()].sort(), `${ctx}: the mount shows another tree than the log`);
    for (const [p, n] of nodes) if (n.kind === 'file') assert.equal(statSync(join(mnt, p)).size, n.size, `${ctx}: ${p} size over FUSE`);
  } finally {
    client.umount();
  }
}

function makeCpSource(rnd: () => number): { root: string; files: Map<string, Buffer> } {
  const root = mkdtempSync('/tmp/famfs-crash-src-');
  const files = new Map<string, Buffer>();
  for (let d = 0; d < CP_DIRS; d++) {
    mkdirSync(join(root, 'tree', `d${d}`), { recursive: true });
    for (let f = 0; f < CP_FILES; f++) {
      const b = Buffer.alloc(randInt(rnd, 1, CP_MAX_FILE));
      for (let i = 0; i < b.length; i++) b[i] = (rnd() * 256) | 0;
      writeFileSync(join(root, 'tree', `d${d}`, `f${f}`), b);
      files.set(`d${d}/f${f}`, b);
    }
  }
  return { root, files };
}

type OpMaker = (i: number, rnd: () => number) => Op;

const creatOp: OpMaker = (i, rnd) => {
  const creates = new Map<string, Expect>();
  const args = ['creat'];
  if (rnd() < 0.3) args.push('-N', '2', '-B', '8');
  for (let k = 0, n = randInt(rnd, 1, 4); k < n; k++) {
    const size = randInt(rnd, 1, 6 * MiB);
    const seed = randInt(rnd, 1, 0x7fffffff);
    args.push('-M', `c${i}-${k},${size},${seed}`);
    creates.set(`c${i}-${k}`, { kind: 'file', size, check: (b) => { const at = verifyBuffer(b, seed); return at < 0 ? undefined : `differs at ${at}`; } });
  }
  return { args, creates };
};

const mkdirOp: OpMaker = (i, rnd) => {
  const creates = new Map<string, Expect>();
  const parts = [`m${i}`];
  for (let k = 1, n = randInt(rnd, 3, 10); k < n; k++) parts.push(String.fromCharCode(97 + k));
  for (let k = 1; k <= parts.length; k++) creates.set(parts.slice(0, k).join('/'), { kind: 'dir' });
  return { args: ['mkdir', '-p', parts.join('/')], creates };
};

function cpOp(src: { root: string; files: Map<string, Buffer> }): OpMaker {
  return (i) => {
    const creates = new Map<string, Expect>([[`p${i}`, { kind: 'dir' }]]);
    for (let d = 0; d < CP_DIRS; d++) creates.set(`p${i}/d${d}`, { kind: 'dir' });
    for (const [rel, bytes] of src.files) {
      creates.set(`p${i}/${rel}`, { kind: 'file', size: bytes.length, check: (b) => (b.equals(bytes) ? undefined : 'differs from its source') });
    }
    return { args: ['cp', '-r', '-q', join(src.root, 'tree'), `p${i}`], creates };
  };
}

describe('crash consistency: kill -9 the master during creat, mkdir -p and cp -r', () => {
  const rnd = prng(RUN_SEED);
  let src: { root: string; files: Map<string, Buffer> };
  let survived = 0;

  before(() => {
    src = makeCpSource(rnd);
  });
  after(() => {
    rmSync(src.root, { recursive: true, force: true });
    reportFigure('crash_iterations', survived);
  });

  for (const [name, make] of [['creat -M', () => creatOp], ['mkdir -p', () => mkdirOp], ['cp -r', () => cpOp(src)]] as const) {
    it(`famfs ${name}: ${ITERS} kills at random points (seed ${RUN_SEED})`, async () => {
      const c = await Cluster.up({ clients: 1, noMount: true, tag: 'crash' });
      try {
        const m = c.master;
        const as = { host: m.uuid, env: { FAMFS_DEVICE: c.device } };
        const model = new Model();
        const opOf = make();
        // Iteration 0 runs to completion: it proves the operation works and times it.
        const first = opOf(0, rnd);
        const full = await runCliAsync(FAMFS_BIN, [...first.args], as);
        assert.equal(full.status, 0, `uncrashed ${name}: ${full.stderr}`);
        model.settle(first, true);
        verifyDevice(c.device, model, first.creates.keys(), `${name} uncrashed`);
        for (let i = 1; i <= ITERS; i++) {
          const op = opOf(i, rnd);
          const at = rnd() * full.ms * KILL_SPREAD;
          const ctx = `${name} #${i} killed at ${at.toFixed(0)} ms (seed ${RUN_SEED})`;
          const r = await runCliAsync(FAMFS_BIN, [...op.args], { ...as, killAfterMs: at });
          const completed = r.status === 0;
          assert.ok(completed || r.signal === 'SIGKILL', `${ctx}: failed on its own: ${r.stderr}`);
          model.settle(op, completed);
          verifyDevice(c.device, model, completed ? op.creates.keys() : [], ctx);
          if (!completed) {
            // The next operation works, and the same one re-run finishes the job.
            const again = await runCliAsync(FAMFS_BIN, [...op.args], as);
            assert.equal(again.status, 0, `${ctx}: re-run failed: ${again.stderr}`);
            model.settle(op, true);
            verifyDevice(c.device, model, op.creates.keys(), `${ctx}, re-run`);
          }
          if (i % MOUNT_EVERY === 0 || i === ITERS) await verifyMount(c.clients[0]!, c.device, ctx);
          survived++;
        }
        verifyDevice(c.device, model, model.sure.keys(), `${name}: final`);
      } finally {
        c.down();
      }
    });
  }
});

// The deterministic crash points (entry written but not published, torn entry, torn superblock) are in crash-torn.test.ts.
