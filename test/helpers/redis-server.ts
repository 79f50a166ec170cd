// A redis-server of the test's own: 127.0.0.1, a free port, no persistence, a
// temp dir, in the foreground, stopped by its pid. It is started under
// `setpriv --pdeathsig SIGKILL`, so even a test process killed with SIGKILL
// takes its server with it; a normal exit stops every server still running.
// Cluster tests call redisAvailable() first and skip with its reason on a
// machine without redis-server, so the rest of `npm test` still runs there.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { command, text } from './resp.js';

const INSTALL = 'sudo apt-get install -y redis-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RedisOptions {
  /** Redis's `maxmemory` (for example '2mb'); the policy stays noeviction, so a full server refuses writes. */
  maxmemory?: string;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The pid of the server now running (a restart changes it). */
  readonly pid: number;
  stop(): Promise<void>;
  /** Stops the server and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
  /** INFO (of one section, or all) as key-value pairs. */
  info(section?: string): Promise<Record<string, string>>;
}

function which(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/** Undefined when redis-server can run here; otherwise why not, and how to install it (a reason to skip). */
export function redisAvailable(searchPath?: string): string | undefined {
  if (which('redis-server', searchPath) === undefined)
    return `redis-server is not installed (install it: ${INSTALL})`;
  return undefined;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function launch(port: number, dir: string, options: RedisOptions): ChildProcess {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--daemonize', 'no', '--logfile', join(dir, 'redis.log'));
  if (options.maxmemory !== undefined)
    args.push('--maxmemory', options.maxmemory, '--maxmemory-policy', 'noeviction');
  const setpriv = which('setpriv');
  const redis = which('redis-server') ?? 'redis-server';
  const child =
    setpriv === undefined
      ? spawn(redis, args, { stdio: 'ignore' })
      : spawn(setpriv, ['--pdeathsig', 'SIGKILL', redis, ...args], { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function ready(child: ChildProcess, port: number, dir: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      if (text(await command(port, 'PING')) === 'PONG') return;
    } catch {}
    if (Date.now() > deadline) break;
    await sleep(25);
  }
  child.kill('SIGKILL');
  let log = '';
  try {
    log = readFileSync(join(dir, 'redis.log'), 'utf8').slice(-2000);
  } catch {}
  throw new Error(`redis-server on port ${port} did not start:\n${log}`);
}

async function halt(child: ChildProcess): Promise<void> {
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await done;
  clearTimeout(timer);
}

/** Starts a redis-server of this process's own on a free port of 127.0.0.1. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'shmex-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  // Another process may take the free port between the probe and the bind: try again.
  for (let attempt = 0; child === undefined; attempt++) {
    port = await freePort();
    const candidate = launch(port, dir, options);
    try {
      await ready(candidate, port, dir);
      child = candidate;
    } catch (error) {
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  let current: ChildProcess = child;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return current.pid ?? 0;
    },
    async stop() {
      await halt(current);
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt(current);
      current = launch(port, dir, options);
      await ready(current, port, dir);
    },
    async info(section?: string) {
      const reply = text(await command(port, 'INFO', ...(section === undefined ? [] : [section])));
      const fields: Record<string, string> = {};
      for (const line of reply.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
      }
      return fields;
    },
  };
}
