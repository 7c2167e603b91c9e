/**
 * `famfs console`: a small read-only web server over one famfs file system, serving one page (the
 * allocation map, log and device fill, this machine's mounts, a file browser) and the data it
 * draws. Node's http module is enough for five routes; the page is plain HTML, CSS and JavaScript
 * with no build step.
 *
 * Read-only: the device is opened read-only and nothing here appends to the log. Live: the log
 * header is polled and every open page is told of new entries over Server-Sent Events.
 * Access: bound to 127.0.0.1 by default; bound anywhere else a token is required (given, or made
 * and printed at start), checked on every request (`Authorization: Bearer <token>` or `?token=`).
 */
import { timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { formatUuid } from '../format/uuid.js';
import { AllocationMap } from '../fs/allocation-map.js';
import type { FamfsHandle } from '../fs/famfs.js';
import { fsStatus } from '../status/report.js';
import { CONSOLE_PAGE } from './page.js';

export const DEFAULT_CONSOLE_PORT = 8765;
export const DEFAULT_CONSOLE_BIND = '127.0.0.1';
/** How often the console looks for new log entries: well inside the one second the page promises. */
export const CONSOLE_POLL_MS = 200;
/** SSE comment lines keep idle connections (and proxies) from timing out. */
const SSE_KEEPALIVE_MS = 15_000;

const HTTP = { OK: 200, NO_CONTENT: 204, BAD_REQUEST: 400, UNAUTHORIZED: 401, NOT_FOUND: 404, METHOD_NOT_ALLOWED: 405, ERROR: 500 } as const;

/** Addresses only this machine can reach: 127.0.0.0/8 and ::1. */
export function isLoopback(address: string): boolean {
  if (address === '::1' || address === 'localhost') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

export interface ConsoleOptions {
  port: number;
  bind: string;
  /** Required (checked on every request) when bound to a non-loopback address; optional otherwise. */
  token?: string;
  /** This host's system UUID, for the status the page shows. */
  systemUuid: string;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class ConsoleServer {
  private readonly server: Server;
  private readonly clients = new Set<ServerResponse>();
  private poll: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  /** Built at start (the whole log once), then updated with each new entry. */
  private readonly allocation: AllocationMap;

  constructor(private readonly fs: FamfsHandle, private readonly opts: ConsoleOptions) {
    if (!isLoopback(opts.bind) && !opts.token) throw new Error('a console bound to a non-loopback address needs a token');
    this.allocation = new AllocationMap(fs);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(HTTP.ERROR, 'internal error');
        if (!(err instanceof HttpError)) process.stderr.write(`famfs console: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}\n`);
        if (!res.headersSent) this.json(res, e.status, { error: e.message });
        else res.destroy();
      });
    });
  }

  /** Listens; resolves with the port actually bound (`port` 0 picks a free one). */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.bind, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.poll = setInterval(() => this.follow(), CONSOLE_POLL_MS);
    this.keepalive = setInterval(() => {
      for (const c of this.clients) c.write(': keepalive\n\n');
    }, SSE_KEEPALIVE_MS);
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    clearInterval(this.poll);
    clearInterval(this.keepalive);
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Plays new log entries and tells every open page; the map is rebuilt when next asked for. */
  private follow(): void {
    let played: number;
    try {
      played = this.fs.refresh();
    } catch (err) {
      this.broadcast('error', { error: (err as Error).message });
      return;
    }
    if (played === 0) return;
    this.allocation.update();
    this.broadcast('log', { entriesUsed: this.fs.nextSlot, played });
  }

  private broadcast(event: string, data: unknown): void {
    const msg = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(msg);
  }

  /** The map as of the log now. */
  private map(): AllocationMap {
    this.fs.refresh();
    this.allocation.update();
    return this.allocation;
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const want = this.opts.token;
    if (!want) return true;
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : url.searchParams.get('token') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(want);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console');
    } catch {
      throw new HttpError(HTTP.BAD_REQUEST, 'bad request URL');
    }
    if (!this.authorized(req, url)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpError(HTTP.UNAUTHORIZED, 'this console needs its token: ?token=<token> or Authorization: Bearer <token>');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(HTTP.METHOD_NOT_ALLOWED, `${req.method} not allowed: the console is read-only`);
    }
    switch (url.pathname) {
      case '/': {
        res.writeHead(HTTP.OK, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(CONSOLE_PAGE);
        return;
      }
      case '/favicon.ico':
        res.writeHead(HTTP.NO_CONTENT);
        res.end();
        return;
      case '/api/status':
        this.fs.refresh();
        return this.json(res, HTTP.OK, await fsStatus(this.fs, this.opts.systemUuid));
      case '/api/files': {
        // Each file's JSON was made when it was added: the list is joined, not serialized again.
        const m = this.map();
        const text = `{"through":${m.through},"files":[${m.filesJson.join(',')}],"directories":${JSON.stringify(m.directories)}}`;
        res.writeHead(HTTP.OK, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case '/api/map':
        return this.sendMap(res, url);
      case '/api/events':
        return this.events(req, res);
      default:
        throw new HttpError(HTTP.NOT_FOUND, `no such page: ${url.pathname}`);
    }
  }

  /**
   * One device's unit owners as little-endian int32 (a file index, or -1 free, -2 superblock,
   * -3 log, -4 allocated to no listed file): 2 MiB per TiB, which the page draws by pixel.
   */
  private sendMap(res: ServerResponse, url: URL): void {
    const text = url.searchParams.get('device') ?? '0';
    const index = /^\d+$/.test(text) ? Number(text) : NaN;
    const m = this.map();
    const d = m.devices[index];
    if (!d) throw new HttpError(HTTP.NOT_FOUND, `no device '${text}' (the file system has ${m.devices.length})`);
    const body = Buffer.from(d.units.buffer, d.units.byteOffset, d.units.byteLength);
    res.writeHead(HTTP.OK, {
      'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store', 'Content-Length': body.length,
      'X-FamfsHandle-Log-Through': String(m.through),
    });
    res.end(body);
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(HTTP.OK, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`event: hello\ndata: ${JSON.stringify({ entriesUsed: this.fs.nextSlot, fsUuid: formatUuid(this.fs.sb.uuid) })}\n\n`);
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }
}
