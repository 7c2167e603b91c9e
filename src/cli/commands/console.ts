import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { CONSOLE_POLL_MS, ConsoleServer, DEFAULT_CONSOLE_BIND, DEFAULT_CONSOLE_PORT, isLoopback } from '../../console/server.js';
import { UsageError } from '../../errors.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { parseUuid } from '../../format/uuid.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { parseUint } from '../args.js';
import { runCommand } from '../run.js';
import { wholeFsTarget } from '../target.js';

const TOKEN_BYTES = 18;
const MAX_PORT = 65535;

/** Not in upstream: a read-only web page on one file system (README, "famfs console"). */
export function register(program: Command): void {
  addDeviceMapOption(program
    .command('console')
    .description('serve a read-only web page with the allocation map, fill, mounts and files of a famfs file system, updated live')
    .argument('[mountpoint]', 'a famfs mount (default: the only famfs file system mounted here)')
    .option('--device <dev>', 'the file system on this memory device')
    .option('--port <n>', `TCP port (default ${DEFAULT_CONSOLE_PORT}; 0 picks a free one)`, parseUint, DEFAULT_CONSOLE_PORT)
    .option('--bind <address>', `address to listen on (default ${DEFAULT_CONSOLE_BIND}; anything else needs a token)`, DEFAULT_CONSOLE_BIND)
    .option('--token <token>', 'required on every request (?token= or Authorization: Bearer); made and printed when binding elsewhere than loopback'))
    .action((mnt: string | undefined, o: DeviceMapOption & { device?: string; port: number; bind: string; token?: string }) =>
      runCommand('famfs console', async () => {
        if (o.port > MAX_PORT) throw new UsageError(`--port ${o.port}: not a port (0-${MAX_PORT})`);
        if (o.token !== undefined && o.token.length === 0) throw new UsageError('--token must not be empty');
        const { device, systemUuid: host } = wholeFsTarget(mnt, o.device);
        const token = o.token ?? (isLoopback(o.bind) ? undefined : randomBytes(TOKEN_BYTES).toString('base64url'));
        // Read-only, whatever this host's role: the console never writes the device.
        const fs = FamfsHandle.open(device, { writable: false, systemUuid: parseUuid(host), deviceMap: deviceMapOf(o) });
        const server = new ConsoleServer(fs, { port: o.port, bind: o.bind, token, systemUuid: host });
        let port: number;
        try {
          port = await server.listen();
        } catch (err) {
          fs.close();
          throw err;
        }
        const hostPart = o.bind.includes(':') ? `[${o.bind}]` : o.bind;
        process.stdout.write(`famfs console: http://${hostPart}:${port}/${token ? `?token=${token}` : ''}\n`);
        if (token && !o.token) process.stdout.write(`famfs console: token ${token} (generated; needed on every request)\n`);
        process.stdout.write(`famfs console: serving ${device} read-only, looking for new log entries every ${CONSOLE_POLL_MS} ms; Ctrl-C stops\n`);
        await new Promise<void>((resolve) => {
          for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
        });
        await server.close();
        fs.close();
      }));
}
