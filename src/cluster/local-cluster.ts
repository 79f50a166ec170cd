// LocalCluster: N `shmex worker` processes on this machine, each with its
// own shared-memory directory, so they act as separate machines (arrays
// really travel through Redis). For tests, demos and laptops. The workers
// are killed on close(), and when this process exits or dies (they exit
// when their stdin, a pipe from this process, closes).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ShmexError } from '../errors.js';
import { machineDirPrefix } from '../shm/sweep.js';
import { ClusterExecutor, type ClusterExecutorOptions } from './executor.js';

export interface LocalClusterOptions {
  /** The Redis URL. */
  url: string;
  /** @default a fresh name, so clusters do not share jobs */
  queue?: string;
  /** How many worker processes ("machines"). @default 2 */
  machines?: number;
  /** Pool processes of each machine. @default 1 */
  maxWorkers?: number;
  /** Jobs each machine takes at once. @default 2 x maxWorkers */
  concurrency?: number;
  /** A machine silent this long loses its job to another, in ms. @default 30000 */
  lockDuration?: number;
  /** Where the machines' shared-memory directories are made (each removes its own as it exits). @default /dev/shm (else the temp dir) */
  shmBase?: string;
  /** Modules every machine and its pool processes import first (`shmex worker --import`): those that register wrapper classes and codecs. @default [] */
  imports?: Array<string | URL>;
}

export interface LocalMachine {
  name: string;
  pid: number;
  shmDir: string;
  process: ChildProcess;
}

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const live = new Set<LocalCluster>();
let exitHook = false;

export class LocalClusterError extends ShmexError {
  constructor(message: string) {
    super('ERR_SHMEX_LOCAL_CLUSTER', message);
  }
}

export class LocalCluster implements AsyncDisposable {
  readonly url: string;
  readonly queue: string;
  readonly machines: LocalMachine[] = [];
  readonly #options: LocalClusterOptions;
  #closed: Promise<void> | undefined;

  private constructor(options: LocalClusterOptions) {
    this.#options = options;
    this.url = options.url;
    this.queue = options.queue ?? `local-${process.pid}-${Date.now().toString(36)}`;
  }

  /** Starts the machines and resolves once every one takes jobs. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    live.add(cluster);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const c of live) c.#killAll('SIGKILL');
      });
    }
    try {
      await Promise.all(Array.from({ length: options.machines ?? 2 }, (_, i) => cluster.#spawn(i)));
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Starts one more machine (after one was killed, say). */
  addMachine(): Promise<LocalMachine> {
    return this.#spawn(this.machines.length);
  }

  async #spawn(index: number): Promise<LocalMachine> {
    const base = this.#options.shmBase ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
    const shmDir = mkdtempSync(join(base, machineDirPrefix()));
    const name = `${this.queue}-m${index}`;
    const args = [CLI, 'worker', '--connect', this.url, '--queue', this.queue, '--name', name];
    args.push(
      '--shm-dir',
      shmDir,
      '--max-workers',
      String(this.#options.maxWorkers ?? 1),
      '--exit-with-stdin',
    );
    if (this.#options.concurrency !== undefined)
      args.push('--concurrency', String(this.#options.concurrency));
    if (this.#options.lockDuration !== undefined)
      args.push('--lock-duration', String(this.#options.lockDuration));
    for (const specifier of this.#options.imports ?? []) args.push('--import', String(specifier));
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const machine: LocalMachine = { name, pid: child.pid ?? -1, shmDir, process: child };
    this.machines.push(machine);
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.startsWith('ready')) resolve();
      });
      child.once('exit', (code, signal) =>
        reject(new LocalClusterError(`machine ${name} exited before it was ready (${signal ?? code})`)),
      );
      child.once('error', reject);
    });
    return machine;
  }

  /** A ClusterExecutor on this cluster's Redis and queue. */
  executor(options: Omit<ClusterExecutorOptions, 'url' | 'queue'> = {}): ClusterExecutor {
    return new ClusterExecutor({
      maxWorkers: this.machines.length * (this.#options.maxWorkers ?? 1),
      ...options,
      url: this.url,
      queue: this.queue,
    });
  }

  #killAll(signal: NodeJS.Signals): void {
    for (const m of this.machines) {
      if (m.process.exitCode === null && m.process.signalCode === null) m.process.kill(signal);
    }
  }

  /** Stops every machine (SIGTERM, then SIGKILL after 5 s) and removes their directories. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all(
        this.machines.map(async (m) => {
          const child = m.process;
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child.once('exit', r));
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(timer);
          }
          child.stdin?.destroy();
          rmSync(m.shmDir, { recursive: true, force: true });
        }),
      );
      live.delete(this);
    })();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
