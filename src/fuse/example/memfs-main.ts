/**
 * Runs MemFs at a mount point: `node dist/src/fuse/example/memfs-main.js MNT [--direct-io]
 * [--ttl=SECONDS] [--transport=auto|uring|dev] [--answer-later]`. Prints "ready MNT TRANSPORT"
 * once mounted (the transport requests travel on); SIGINT/SIGTERM unmount and exit.
 * --answer-later: every operation answers from a promise settled on a later turn of the event
 * loop, as a file system that waits on I/O does (the session's asynchronous reply path).
 */
import type { Filesystem } from '../filesystem.js';
import { FuseServer } from '../serve.js';
import { TRANSPORTS, type Transport } from '../session.js';
import { MemFs } from './memfs.js';

/** `fs` with each of its methods answering from a promise settled by setImmediate. */
function answeringLater(fs: Filesystem): Filesystem {
  return new Proxy(fs, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) =>
        new Promise((resolve, reject) => {
          setImmediate(() => {
            try {
              resolve(method.apply(target, args));
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          });
        });
    },
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const mnt = argv.find((a) => !a.startsWith('--'));
  if (mnt === undefined) {
    console.error('usage: memfs-main MOUNTPOINT [--direct-io] [--ttl=SECONDS] [--transport=auto|uring|dev] [--answer-later]');
    return 2;
  }
  const transport = (argv.find((a) => a.startsWith('--transport='))?.slice('--transport='.length) ?? 'auto') as Transport;
  if (!TRANSPORTS.includes(transport)) {
    console.error(`memfs-main: --transport=${transport}: not one of ${TRANSPORTS.join(', ')}`);
    return 2;
  }
  const ttlArg = argv.find((a) => a.startsWith('--ttl='));
  const ttl = ttlArg === undefined ? undefined : Number(ttlArg.slice('--ttl='.length));
  const memfs = new MemFs({ directIo: argv.includes('--direct-io'), entryTimeout: ttl, attrTimeout: ttl });
  const fs = argv.includes('--answer-later') ? answeringLater(memfs) : memfs;
  const server = await FuseServer.mount(fs, mnt, { fsname: 'memfs', subtype: 'memfs', transport });
  const stop = (): void => {
    // Unmount first: a process that exits with its mount still up leaves callers hanging on it.
    void server.unmount();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`ready ${server.mountpoint} ${server.session.activeTransport}\n`);
  const end = await server.closed;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  return end.reason === 'error' ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`memfs: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
