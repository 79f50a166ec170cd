// Plain child_process.fork with serialization: 'advanced': one child per
// worker, id-tagged requests and responses, each request to the child with
// the fewest outstanding ones.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type PeerPool, type TaskName, warmAll } from './types.js';

interface Response {
  id: number;
  result?: unknown;
  error?: string;
}

interface Child {
  process: ChildProcess;
  pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
}

const CHILD = fileURLToPath(new URL('../workers/fork-child.mjs', import.meta.url));

export class ForkPool implements PeerPool {
  readonly #children: Child[] = [];
  #nextId = 1;

  constructor(workers: number) {
    for (let i = 0; i < workers; i++) {
      const child: Child = {
        process: fork(CHILD, [], { serialization: 'advanced', execArgv: [] }),
        pending: new Map(),
      };
      child.process.on('message', (message: Response) => {
        const waiter = child.pending.get(message.id);
        if (waiter === undefined) return;
        child.pending.delete(message.id);
        if (message.error !== undefined) waiter.reject(new Error(message.error));
        else waiter.resolve(message.result);
      });
      child.process.on('exit', (code, signal) => {
        for (const waiter of child.pending.values()) {
          waiter.reject(new Error(`fork child exited (${signal ?? code}) with a request pending`));
        }
        child.pending.clear();
      });
      this.#children.push(child);
    }
  }

  /** Calls task `name` of workers/tasks.mjs with `args` in the child with the fewest requests pending. */
  call(name: string, args: unknown[]): Promise<unknown> {
    let child = this.#children[0]!;
    for (const c of this.#children) if (c.pending.size < child.pending.size) child = c;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      child.pending.set(id, { resolve, reject });
      child.process.send({ id, name, args });
    });
  }

  run(task: TaskName, x: Float64Array): Promise<unknown> {
    return this.call(task, [x]);
  }

  warm(): Promise<void> {
    return warmAll(this.#children.length, () => this.call('noop', []));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#children.map(async (child) => {
        if (child.process.exitCode !== null || child.process.signalCode !== null) return;
        const exited = once(child.process, 'exit');
        child.process.disconnect();
        await exited;
      }),
    );
  }
}
