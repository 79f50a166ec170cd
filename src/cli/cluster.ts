// `shmex worker` (a machine of a cluster) and `shmex cluster status`. The
// cluster code (and its peer dependencies bullmq and ioredis) is loaded only
// when one of these commands runs.
import { rmSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const WORKER_USAGE = `Usage: shmex worker --connect redis://HOST:6379 [options]

Takes tasks of ClusterExecutors from a BullMQ queue and runs them on a local
process pool (see docs/cluster.md). Stops on SIGTERM or SIGINT after its
running tasks.
  --connect URL       the Redis URL (required)
  --queue NAME        the queue (default shmex)
  --max-workers N     processes of the local pool (default: the core count)
  --shm-dir DIR       this machine's shared-memory directory (default $SHMEX_SHM_DIR, else /dev/shm)
  --name NAME         the machine's name in errors and status (default host:pid)
  --concurrency N     jobs taken at once (default 2 x max-workers)
  --lock-duration MS  a job's lease; a machine silent this long loses it (default 30000)
  --redis-timeout MS  after Redis has been unreachable this long, exit with code 1 (default 30000)
  --import MODULE     a module the machine and its pool processes import first, one that
                      registers array wrapper classes or codecs (shmex/arrow...); repeatable
`;

export const CLUSTER_USAGE = `Usage: shmex cluster status --connect redis://HOST:6379 [--queue NAME] [--json]

Shows the queue's job counts, the machines alive (by heartbeat) and the bytes
of arrays stored in Redis.
`;

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

/** A path (relative to the working directory) or URL as a file URL; a package specifier as shmex resolves it. */
function moduleUrl(specifier: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return specifier;
  if (specifier.startsWith('.') || isAbsolute(specifier)) return pathToFileURL(resolve(specifier)).href;
  return import.meta.resolve(specifier);
}

export async function runWorker(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      connect: { type: 'string' },
      queue: { type: 'string' },
      'max-workers': { type: 'string' },
      'shm-dir': { type: 'string' },
      name: { type: 'string' },
      concurrency: { type: 'string' },
      'lock-duration': { type: 'string' },
      'exit-with-stdin': { type: 'boolean' },
      import: { type: 'string', multiple: true },
      'redis-timeout': { type: 'string' },
    },
  });
  if (values.connect === undefined) throw new Error('--connect redis://HOST:PORT is required');
  const { Machine } = await import('../cluster/machine.js');
  const maxWorkers = positive(values['max-workers'], '--max-workers');
  const concurrency = positive(values.concurrency, '--concurrency');
  const lockDuration = positive(values['lock-duration'], '--lock-duration');
  const redisTimeout = positive(values['redis-timeout'], '--redis-timeout');
  const machine = new Machine({
    connect: values.connect,
    ...(values.queue === undefined ? {} : { queue: values.queue }),
    ...(maxWorkers === undefined ? {} : { maxWorkers }),
    ...(values['shm-dir'] === undefined ? {} : { shmDir: values['shm-dir'] }),
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(lockDuration === undefined ? {} : { lockDuration }),
    ...(redisTimeout === undefined ? {} : { redisTimeout }),
    ...(values.import === undefined ? {} : { imports: values.import.map(moduleUrl) }),
  });
  const stop = () => void machine.close().then(() => process.exit(0));
  void machine.failed.then(async (error) => {
    process.stderr.write(`shmex worker: ${error.message}\n`);
    await machine.close();
    process.exit(1);
  });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Started by LocalCluster: its end of this pipe closes when it exits or dies. Nobody is
  // left to wait for, so running tasks are not awaited: their leases run out and other
  // machines take them, as when a machine is lost.
  if (values['exit-with-stdin']) {
    // Its directory is LocalCluster's temporary one: gone with the machine, also when its
    // LocalCluster was killed and cannot remove it.
    const shmDir = values['shm-dir'];
    if (shmDir !== undefined) process.on('exit', () => rmSync(shmDir, { recursive: true, force: true }));
    const orphaned = () => {
      setTimeout(() => process.exit(0), 500).unref();
      stop();
    };
    process.stdin.on('end', orphaned);
    process.stdin.on('close', orphaned);
    process.stdin.resume();
  }
  await machine.ready();
  process.stdout.write(`ready ${machine.name}\n`);
  return new Promise<number>(() => {});
}

export async function runCluster(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'status') throw new Error(`unknown cluster command '${sub ?? ''}' (try: shmex cluster status)`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: { connect: { type: 'string' }, queue: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (values.connect === undefined) throw new Error('--connect redis://HOST:PORT is required');
  const { clusterStatus, formatStatus } = await import('../cluster/status.js');
  const status = await clusterStatus(values.connect, values.queue ?? 'shmex');
  process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return 0;
}
