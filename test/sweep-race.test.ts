// A worker process that dies leaves segments its executor still needs (a
// result the program holds, a task lent it); the executor adopts them once
// it has read the worker's last messages. A sweep by another process in
// between (shmClear(), `shmex clear`, a new executor) sees their maker dead:
// it must leave them while that executor lives, and remove them once it is
// dead too. The window is made deterministic by keeping this process in
// synchronous code from the kill to the end of the sweep: it cannot reap the
// worker nor adopt anything meanwhile.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { empty, ProcessPoolExecutor, release, segmentPath } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The state letter of a process (R, S, Z...), or undefined once it is gone (reaped). */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Blocks (no event loop turn) until `pid` has died: a zombie, or gone. */
function waitUntilDead(pid: number): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const state = processState(pid);
    if (state === undefined || state === 'Z' || state === 'X') return;
    assert.ok(Date.now() < deadline, `process ${pid} did not die`);
    Atomics.wait(sleeper, 0, 0, 2);
  }
}

/** shmClear() run by another process on this file's directory; the names it removed. */
function sweepFromAnotherProcess(): string[] {
  const script = "import { shmClear } from 'shmex'; process.stdout.write(JSON.stringify(shmClear()));";
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

/** Every file of the directory named after `pid` (its segments and anything else shmex wrote for it). */
function filesOf(pid: number): string[] {
  return readdirSync(process.env.SHMEX_SHM_DIR!).filter((name) => name.startsWith(`shmex.${pid}.`));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("a sweep by another process leaves a dead worker's segments its executor has yet to adopt", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const worker = await ex.submit(() => process.pid);
  const y = await ex.submit((n: number) => {
    const out = empty(Float64Array, n); // in the worker's pool: handed over without a copy
    out.fill(7);
    return out;
  }, 100_000);
  const name = basename(segmentPath(y)!);
  assert.ok(name.startsWith(`shmex.${worker}.`), name);

  // Synchronous from the kill to the end of the sweep: the executor can neither reap nor adopt.
  process.kill(worker, 'SIGKILL');
  waitUntilDead(worker);
  const removed = sweepFromAnotherProcess();
  assert.deepEqual(
    removed.filter((n) => n.startsWith(`shmex.${worker}.`)),
    [],
    'the sweep removed segments of a dead worker whose executor is alive',
  );

  // The executor adopts the segment: a name of its own, and tasks can still take it by name.
  await until(() => segmentPath(y)!.includes(`/shmex.${process.pid}.`), 'the executor adopted the segment');
  assert.equal(y[99_999], 7);
  assert.equal(await ex.submit((a: Float64Array) => a[0]! + a[99_999]!, y), 14);
  release(y);
  await ex.shutdown();
  assert.deepEqual(filesOf(worker), [], 'the dead worker left files behind');
});

test('a sweep removes the segments of a dead worker once its executor is dead too', async () => {
  const script = fileURLToPath(new URL('./fixtures/unreaped-worker.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  const { worker, path } = JSON.parse(first.value as string) as { worker: number; path: string };
  assert.ok(basename(path).startsWith(`shmex.${worker}.`), path);

  try {
    process.kill(worker, 'SIGKILL');
    waitUntilDead(worker);
    assert.deepEqual(sweepFromAnotherProcess(), [], 'its executor is alive: nothing goes');
    assert.ok(filesOf(worker).includes(basename(path)));
  } finally {
    child.kill('SIGKILL'); // the whole tree is dead now: nothing is left to adopt
  }
  await exited;
  const removed = sweepFromAnotherProcess();
  assert.ok(removed.includes(basename(path)), `the sweep removed ${JSON.stringify(removed)}`);
  assert.deepEqual(filesOf(worker), [], 'the sweep left files of the dead worker');
  assert.deepEqual(filesOf(child.pid!), [], 'the sweep left files of the dead executor');
});
