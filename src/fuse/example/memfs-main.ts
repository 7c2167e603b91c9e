/**
 * Runs MemFs at a mount point: `node dist/src/fuse/example/memfs-main.js MNT [--direct-io]`.
 * Prints "ready MNT" once mounted; SIGINT/SIGTERM unmount and exit.
 */
import { FuseServer } from '../serve.js';
import { MemFs } from './memfs.js';

async function main(argv: readonly string[]): Promise<number> {
  const mnt = argv.find((a) => !a.startsWith('--'));
  if (mnt === undefined) {
    console.error('usage: memfs-main MOUNTPOINT [--direct-io] [--ttl=SECONDS]');
    return 2;
  }
  const ttlArg = argv.find((a) => a.startsWith('--ttl='));
  const ttl = ttlArg === undefined ? undefined : Number(ttlArg.slice('--ttl='.length));
  const fs = new MemFs({ directIo: argv.includes('--direct-io'), entryTimeout: ttl, attrTimeout: ttl });
  const server = await FuseServer.mount(fs, mnt, { fsname: 'memfs', subtype: 'memfs' });
  const stop = (): void => {
    // Unmount first: a process that exits with its mount still up leaves callers hanging on it.
    void server.unmount();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`ready ${server.mountpoint}\n`);
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
