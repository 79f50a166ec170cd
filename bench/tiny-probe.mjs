// A standalone probe of the tiny-task path (a Float64Array of 1000, the task
// returns its sum; 2 workers): the raw-pipe floor (two node processes
// exchanging binary frames, 8-byte header + 8,000 bytes each way, no
// serialization), plain child_process.fork IPC ('advanced'), and shmex's
// ProcessPoolExecutor built from one or more package roots (to compare a
// change with the code before it in one run). Rounds are interleaved (the
// order rotates), and medians are reported.
//
//   node bench/tiny-probe.mjs [--rounds 7] [--tasks 2000] [--shmex label=/path/to/root]...
//
// Without --shmex, the package this file belongs to is measured.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const ROUNDS = opt('--rounds', 7);
const TASKS = opt('--tasks', 2000);
const WORKERS = 2;
const ELEMENTS = 1000;
const roots = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--shmex') continue;
  const [label, root] = args[i + 1].split('=');
  roots.push({ label, root });
}
if (roots.length === 0) roots.push({ label: 'shmex', root: fileURLToPath(new URL('..', import.meta.url)) });

const isPipeChild = process.argv[2] === '--pipe-child';
if (isPipeChild) {
  // The floor's child: reads [id u32, length u32] + body frames from fd 3, answers on fd 4.
  const { Socket } = await import('node:net');
  const input = new Socket({ fd: 3, readable: true, writable: false });
  const output = new Socket({ fd: 4, readable: false, writable: true });
  let pending = Buffer.alloc(0);
  input.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    const out = [];
    while (pending.length - at >= 8) {
      const id = pending.readUInt32LE(at);
      const length = pending.readUInt32LE(at + 4);
      if (pending.length - at - 8 < length) break;
      const body = pending.subarray(at + 8, at + 8 + length);
      const x = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + length));
      let s = 0;
      for (let j = 0; j < x.length; j++) s += x[j];
      const reply = Buffer.allocUnsafe(8 + length);
      reply.writeUInt32LE(id, 0);
      reply.writeUInt32LE(length, 4);
      reply.writeDoubleLE(s, 8);
      out.push(reply);
      at += 8 + length;
    }
    pending = pending.subarray(at);
    if (out.length > 0) output.write(out.length === 1 ? out[0] : Buffer.concat(out));
  });
  input.on('end', () => process.exit(0));
}

class PipePool {
  constructor() {
    this.children = [];
    this.next = 1;
    for (let i = 0; i < WORKERS; i++) {
      const proc = fork(fileURLToPath(import.meta.url), ['--pipe-child'], {
        stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe', 'ipc'],
        execArgv: [],
      });
      const child = { proc, pending: new Map(), buf: Buffer.alloc(0) };
      proc.stdio[4].on('data', (chunk) => {
        child.buf = child.buf.length === 0 ? chunk : Buffer.concat([child.buf, chunk]);
        let at = 0;
        while (child.buf.length - at >= 8) {
          const id = child.buf.readUInt32LE(at);
          const length = child.buf.readUInt32LE(at + 4);
          if (child.buf.length - at - 8 < length) break;
          const s = child.buf.readDoubleLE(at + 8);
          at += 8 + length;
          const resolve = child.pending.get(id);
          child.pending.delete(id);
          resolve(s);
        }
        child.buf = child.buf.subarray(at);
      });
      this.children.push(child);
    }
  }
  run(x) {
    let child = this.children[0];
    for (const c of this.children) if (c.pending.size < child.pending.size) child = c;
    const id = this.next++;
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(id, 0);
    head.writeUInt32LE(x.byteLength, 4);
    return new Promise((resolve) => {
      child.pending.set(id, resolve);
      child.proc.stdio[3].write(Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]));
    });
  }
  async close() {
    for (const c of this.children) {
      const exited = once(c.proc, 'exit');
      c.proc.stdio[3].end();
      c.proc.disconnect();
      await exited;
    }
  }
}

class ForkPool {
  constructor() {
    this.children = [];
    this.next = 1;
    for (let i = 0; i < WORKERS; i++) {
      const proc = fork(`${HERE}workers/fork-child.mjs`, [], { serialization: 'advanced', execArgv: [] });
      const child = { proc, pending: new Map() };
      proc.on('message', ({ id, result }) => {
        const resolve = child.pending.get(id);
        child.pending.delete(id);
        resolve(result);
      });
      this.children.push(child);
    }
  }
  run(x) {
    let child = this.children[0];
    for (const c of this.children) if (c.pending.size < child.pending.size) child = c;
    const id = this.next++;
    return new Promise((resolve) => {
      child.pending.set(id, resolve);
      child.proc.send({ id, name: 'sum', args: [x] });
    });
  }
  async close() {
    for (const c of this.children) {
      const exited = once(c.proc, 'exit');
      c.proc.disconnect();
      await exited;
    }
  }
}

async function shmexPool(root) {
  const { ProcessPoolExecutor } = await import(pathToFileURL(`${root}/dist/index.js`).href);
  const ex = new ProcessPoolExecutor({ maxWorkers: WORKERS, execArgv: [] });
  const tasks = ex.module(pathToFileURL(`${root}/bench/workers/tasks.mjs`));
  return { run: (x) => Promise.resolve(tasks.sum(x)), close: () => ex.shutdown() };
}

/** CPU time (µs) this process and its children have used so far (Linux /proc; 100 ticks a second). */
function treeCpuMicros() {
  const self = process.cpuUsage();
  let total = self.user + self.system;
  const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
  for (const pid of children === '' ? [] : children.split(/\s+/)) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * 10_000; // utime, stime
    } catch {}
  }
  return total;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const inputs = Array.from({ length: TASKS }, (_, k) => {
    const x = new Float64Array(ELEMENTS);
    for (let j = 0; j < ELEMENTS; j++) x[j] = (j % 1000) / 2 + k;
    return x;
  });
  const peers = [
    { label: 'raw pipe floor', pool: new PipePool() },
    { label: "fork IPC ('advanced')", pool: new ForkPool() },
  ];
  for (const { label, root } of roots) peers.push({ label, pool: await shmexPool(root) });
  for (const p of peers) Object.assign(p, { tput: [], lat: [], cpu: [] });

  const throughput = async (pool, n) => {
    const t0 = performance.now();
    const results = await Promise.all(inputs.slice(0, n).map((x) => pool.run(x)));
    const ms = performance.now() - t0;
    results.forEach((r, k) => {
      if (r !== 249750 + 1000 * k) throw new Error(`task ${k} returned ${r}`);
    });
    return (n / ms) * 1000;
  };
  const latency = async (pool, n) => {
    const times = [];
    for (let k = 0; k < n; k++) {
      const t0 = performance.now();
      const r = await pool.run(inputs[k]);
      times.push((performance.now() - t0) * 1000);
      if (r !== 249750 + 1000 * k) throw new Error(`task ${k} returned ${r}`);
    }
    return median(times);
  };

  for (const p of peers) {
    await throughput(p.pool, 500);
    await latency(p.pool, 500);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = peers.map((_, i) => peers[(i + round) % peers.length]);
    for (const p of order) {
      const cpu0 = treeCpuMicros();
      p.tput.push(await throughput(p.pool, TASKS));
      p.cpu.push((treeCpuMicros() - cpu0) / TASKS);
    }
    for (const p of order) p.lat.push(await latency(p.pool, TASKS));
    process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
  }
  for (const p of peers) await p.pool.close();

  const floor = peers[0];
  const ft = median(floor.tput);
  const fl = median(floor.lat);
  console.log(
    `tiny tasks: ${TASKS} x Float64Array(${ELEMENTS}), ${WORKERS} workers, ${ROUNDS} rounds, medians`,
  );
  console.log(
    'peer                          tasks/s (min-max)          latency µs (min-max)   CPU µs/task  vs floor',
  );
  for (const p of peers) {
    const t = median(p.tput);
    const l = median(p.lat);
    const range = (xs, d) => `${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}`;
    console.log(
      `${p.label.padEnd(30)}${t.toFixed(0).padStart(7)} (${range(p.tput, 0)})`.padEnd(57) +
        `${l.toFixed(0).padStart(5)} (${range(p.lat, 0)})`.padEnd(22) +
        `${median(p.cpu).toFixed(1).padStart(8)}     ` +
        `${(t / ft).toFixed(2)}x tput, ${(l / fl).toFixed(2)}x lat`,
    );
  }
}

if (!isPipeChild) await main();
