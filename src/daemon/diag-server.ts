/**
 * The daemon's diagnostics server: HTTP on a Unix socket, as upstream's famfs_fused serves at
 * `<shadow>/sock`, with upstream's endpoints and replies (text, or YAML in upstream's layout) and
 * ours: /status (JSON, DaemonStatus) and /metrics (Prometheus text). Every reply closes the
 * connection, as upstream's does. The socket is made mode 0600: only its owner (root, who mounts)
 * may talk to it.
 */
import { chmodSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type DaemonContext, daemonStatus } from './daemon-status.js';
import { LogLevel, daemonLog, logLevel, logLevelName, setLogLevel } from './daemon-log.js';

const SOCKET_MODE = 0o600;
/** umask while binding, so the socket is never reachable by others, not even before the chmod. */
const BIND_UMASK = 0o177;
/** Largest request body read (a log level). */
const MAX_BODY = 64;
const HTTP = { OK: 200, BAD_REQUEST: 400, NOT_FOUND: 404, METHOD_NOT_ALLOWED: 405, TOO_LARGE: 413, ERROR: 500 } as const;
const TEXT = 'text/plain';
const YAML = 'text/yaml';

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, Connection: 'close', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size <= MAX_BODY ? Buffer.concat(chunks).toString('utf8') : undefined));
    req.on('error', reject);
  });
}

/**
 * A level from a /log_level body: "7" or "level=7" (upstream's comment promises both; its atoi
 * reads only the first). Undefined when there is no number.
 */
export function parseLogLevelBody(body: string): number | undefined {
  const m = /^\s*(?:level=)?(-?\d+)\s*$/.exec(body);
  return m ? Number(m[1]) : undefined;
}

async function logLevelRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET') {
    reply(res, HTTP.OK, TEXT, `${logLevel()}\n`);
    return;
  }
  if (req.method !== 'POST' && req.method !== 'PUT') {
    reply(res, HTTP.METHOD_NOT_ALLOWED, TEXT, 'Method Not Allowed\n');
    return;
  }
  const body = await readBody(req);
  if (body === undefined) {
    reply(res, HTTP.TOO_LARGE, TEXT, 'Request Entity Too Large\n');
    return;
  }
  const before = logLevel();
  const level = parseLogLevelBody(body);
  // Upstream answers 200 either way, saying whether the level took.
  if (level !== undefined && setLogLevel(level)) {
    daemonLog(LogLevel.NOTICE, `log_level changed ${before}->${level} (${logLevelName(before)}->${logLevelName(level)})`);
    reply(res, HTTP.OK, TEXT, `log level set to ${level} (from ${before})\n`);
  } else {
    reply(res, HTTP.OK, TEXT, `Failed to set log level to ${level ?? body.trim()}\n`);
  }
}

/** upstream's icache_stats layout, byte for byte. */
function icacheStatsYaml(c: { searches: number; nodesScanned: number; searchFails: number }): string {
  return `icache_stats:\n  search_count:   ${c.searches}\n  nodes_scanned:  ${c.nodesScanned}\n  search_fail_ct: ${c.searchFails}\n`;
}

async function route(c: DaemonContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  daemonLog(LogLevel.INFO, `diagnostics: ${req.method} ${path}`);
  switch (path) {
    case '/log_level':
      return logLevelRoute(req, res);
    case '/icache_stats':
      return reply(res, HTTP.OK, YAML, icacheStatsYaml(c.ffs.counters));
    case '/icache_dump': {
      const level = logLevel();
      let n = 0;
      for (const node of c.ffs.loadedNodes()) {
        n++;
        daemonLog(level, `icache_dump: ${node.kind === 'file' ? 'FILE' : 'DIR'} ino=${node.ino} parent=${node.parent?.ino ?? 0} mode=${node.mode.toString(8)} name=(${node.name})`);
      }
      daemonLog(level, `icache_dump: ${n} inodes loaded`);
      return reply(res, HTTP.OK, YAML, 'icache: dumping icache to the daemon log\n');
    }
    case '/pid':
      return reply(res, HTTP.OK, YAML, `pid: ${process.pid}\n`);
    case '/inodes':
      // Upstream's endpoint answers fixed numbers; these are this daemon's (famfs never deletes).
      return reply(res, HTTP.OK, YAML, `inodes:\n  total: ${c.ffs.inodeCount}\n  open: ${c.ffs.openFiles}\n  deleted: 0\n`);
    case '/status':
      return reply(res, HTTP.OK, 'application/json', `${JSON.stringify(daemonStatus(c))}\n`);
    case '/metrics': {
      const { metricsText } = await import('./metrics.js');
      const m = await metricsText(c);
      return reply(res, HTTP.OK, m.contentType, m.text);
    }
    default:
      return reply(res, HTTP.NOT_FOUND, TEXT, 'Not Found\n');
  }
}

function handler(c: DaemonContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(c, req, res).catch((err: unknown) => {
      daemonLog(LogLevel.ERR, `diagnostics: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) reply(res, HTTP.ERROR, TEXT, 'Internal Server Error\n');
      else res.destroy();
    });
  };
}

/** Serves diagnostics on the Unix socket `path` (an old socket there is replaced, as upstream). */
export async function startDiagServer(c: DaemonContext, path: string): Promise<DiagServer> {
  rmSync(path, { force: true });
  const server = createServer(handler(c));
  const umask = process.umask(BIND_UMASK);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, SOCKET_MODE);
  daemonLog(LogLevel.NOTICE, `diagnostics on unix:${path}`);
  return new DiagServer(server, path);
}

/** Serves /metrics only, over TCP on 127.0.0.1 (`--metrics-port`), for a Prometheus that scrapes over the network. */
export async function startMetricsPort(c: DaemonContext, port: number): Promise<DiagServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      reply(res, HTTP.NOT_FOUND, TEXT, 'Not Found\n');
      return;
    }
    handler(c)(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  daemonLog(LogLevel.NOTICE, `metrics on http://127.0.0.1:${port}/metrics`);
  return new DiagServer(server, undefined);
}

export class DiagServer {
  constructor(private readonly server: Server, private readonly socketPath: string | undefined) {}

  /** Stops listening and removes the socket. */
  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}
