import { request } from 'node:http';
import type { DaemonStatus } from './daemon-status.js';

/** How long a status or console waits for a daemon's answer before calling it unreachable. */
const DIAG_TIMEOUT_MS = 1000;
const HTTP_OK = 200;

/** GET `path` on a daemon's diagnostics socket; rejects on a non-200 answer, an error or the timeout. */
function diagGet(socketPath: string, path: string, timeoutMs = DIAG_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === HTTP_OK) resolve(body);
        else reject(new Error(`${path}: HTTP ${res.statusCode}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A daemon's /status. */
export async function daemonStatusOf(socketPath: string, timeoutMs = DIAG_TIMEOUT_MS): Promise<DaemonStatus> {
  return JSON.parse(await diagGet(socketPath, '/status', timeoutMs)) as DaemonStatus;
}
