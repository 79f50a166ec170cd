// The raw-pipe floor: plain node children started with spawn, binary frames
// over their stdin/stdout pipes (an 8-byte header, then the Float64Array's
// bytes; the answer: the header and the 8-byte sum), each request to the
// child with the fewest outstanding. No serialization and no protocol beyond
// the frame: what any process pool must at least pay to move 8 kB each way.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { PeerPool, TaskName } from './types.js';

const CHILD = fileURLToPath(new URL('../workers/pipe-child.mjs', import.meta.url));
const HEADER = 8;

interface Child {
  process: ChildProcess;
  pending: Map<number, (sum: number) => void>;
  buffered: Buffer;
}

export class PipePool implements PeerPool {
  readonly #children: Child[] = [];
  #nextId = 1;

  constructor(workers: number) {
    for (let i = 0; i < workers; i++) {
      const child: Child = {
        process: spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] }),
        pending: new Map(),
        buffered: Buffer.alloc(0),
      };
      child.process.stdout!.on('data', (chunk: Buffer) => this.#receive(child, chunk));
      // A child that dies answers NaN to what it held, which fails the result checks.
      child.process.on('exit', () => {
        for (const resolve of child.pending.values()) resolve(Number.NaN);
        child.pending.clear();
      });
      this.#children.push(child);
    }
  }

  #receive(child: Child, chunk: Buffer): void {
    let data = child.buffered.length === 0 ? chunk : Buffer.concat([child.buffered, chunk]);
    while (data.length >= HEADER + 8) {
      const id = data.readUInt32LE(0);
      const resolve = child.pending.get(id);
      child.pending.delete(id);
      resolve?.(data.readDoubleLE(HEADER));
      data = data.subarray(HEADER + 8);
    }
    child.buffered = data;
  }

  run(task: TaskName, x: Float64Array): Promise<unknown> {
    if (task !== 'sum') throw new Error(`the raw-pipe floor only sums (asked for ${task})`);
    let child = this.#children[0]!;
    for (const c of this.#children) if (c.pending.size < child.pending.size) child = c;
    const id = this.#nextId++;
    const frame = Buffer.allocUnsafe(HEADER + x.byteLength);
    frame.writeUInt32LE(id, 0);
    frame.writeUInt32LE(x.byteLength, 4);
    frame.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), HEADER);
    return new Promise((resolve) => {
      child.pending.set(id, resolve);
      child.process.stdin!.write(frame);
    });
  }

  async warm(): Promise<void> {
    await Promise.all(this.#children.map(() => this.run('sum', new Float64Array(1))));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#children.map(async (child) => {
        if (child.process.exitCode !== null || child.process.signalCode !== null) return;
        const exited = once(child.process, 'exit');
        child.process.stdin!.end();
        await exited;
      }),
    );
  }
}
