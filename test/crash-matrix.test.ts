// Crash cases the other test files do not cover: a real native crash
// (SIGSEGV), workers that die while decoding a task's arguments or encoding
// its result, results that fail to encode (in the worker) or to decode (in
// the parent), errors thrown outside any task, a parent killed with SIGKILL,
// and strings that look like segment names. Each ends with every Future
// settled, the pool still usable where it should be, and no segment left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  from,
  listSegmentNames,
  type ModuleTasks,
  NotTransferableError,
  ProcessPoolExecutor,
  release,
  shmClear,
  trimSharedMemory,
  WorkerCrashedError,
} from 'shmex';
import type * as Control from './fixtures/control-tasks.js';
import { Gates, processGone, reaped, until } from './fixtures/control-tasks.js';
import type * as Crash from './fixtures/crash-tasks.js';
import {
  ExitOnWorkerEncode,
  ExitOnWorkerRebuild,
  REBUILD_REFUSED,
  type Untransferable,
} from './fixtures/crash-tasks.js';
import { collectOutput } from './helpers/child-output.js';
import { gc, segmentsOf } from './helpers/segments.js';
import { guardSharedMemory, segmentsSettled } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

const CONTROL = new URL('./fixtures/control-tasks.js', import.meta.url);
const CRASH = new URL('./fixtures/crash-tasks.js', import.meta.url);
/** 2 MiB of float64: well above the threshold, so it travels through a segment. */
const BIG = 1 << 18;

function isCrash(error: unknown, exitCode: number | null, signal: NodeJS.Signals | null): boolean {
  assert.ok(error instanceof WorkerCrashedError, `not a WorkerCrashedError: ${String(error)}`);
  assert.equal(error.code, 'ERR_SHMEX_WORKER_CRASHED');
  assert.equal(error.exitCode, exitCode);
  assert.equal(error.signal, signal);
  return true;
}

/** The start time of process `pid` (clock ticks since boot), as in segment names. */
function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/**
 * The segments the worker behind `crash` still lends out or uses, once its idle ones are trimmed;
 * polled until there are none (holds come back asynchronously), for at most 10 s.
 */
async function heldSettled(crash: ModuleTasks<typeof Crash>): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const held = await crash.heldSegments();
    if (held.length === 0 || Date.now() > deadline) return held;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The soft limit of this process's stack (which workers inherit), in bytes. */
function stackLimit(): number {
  const line = readFileSync('/proc/self/limits', 'latin1')
    .split('\n')
    .find((l) => l.startsWith('Max stack size'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/**
 * A real native crash: with --stack-size (in KiB) far above the real stack, V8's stack guard never
 * fires and unbounded recursion runs off the end of the stack. (setFlagsFromString at run time
 * does not move the guard of a running isolate, so the flag is given to the workers at startup.)
 * Where the stack limit is too large or unlimited for that, the worker sends itself SIGSEGV.
 */
const NATIVE_SEGV = stackLimit() <= 32 * 1024 * 1024;

test(`a worker that dies of SIGSEGV (${NATIVE_SEGV ? 'a real stack overflow' : 'sent to itself'}) fails only its own task; the others complete`, async () => {
  const existing = new Set(listSegmentNames());
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 2, execArgv: ['--stack-size=65500'] });
    using gates = new Gates();
    const control = ex.module<typeof Control>(CONTROL);
    const crash = ex.module<typeof Crash>(CRASH);
    const other = control.holdArray(new Float64Array(BIG).fill(1), gates.dir, 'other');
    const otherPid = await gates.started('other');
    const big = new Float64Array(BIG).fill(2);
    const error = await rejection(NATIVE_SEGV ? crash.overflowStack(big) : crash.raise(big, 'SIGSEGV'));
    assert.ok(isCrash(error, null, 'SIGSEGV'));
    assert.match((error as Error).message, /SIGSEGV/);
    assert.notEqual((error as WorkerCrashedError).pid, otherPid);
    const after = [1, 2, 3].map((x) => crash.echo(x));
    gates.release('other');
    assert.equal(await other, BIG);
    assert.deepEqual(await Promise.all(after), [1, 2, 3]);
    assert.equal(await crash.sumBoth(big, { data: big }), 4, 'big arrays still travel');
  }
  assert.deepEqual(await segmentsSettled(existing), []);
});

test('a worker that dies while it decodes the arguments (a wrapper rebuild exits) fails that task; it does not run again', async () => {
  const existing = new Set(listSegmentNames());
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const crash = ex.module<typeof Crash>(CRASH);
    const big = new Float64Array(BIG).fill(1);
    const lethal = new ExitOnWorkerRebuild(new Float64Array(BIG / 2).fill(2));
    const before = crash.pid();
    const victim = crash.sumBoth(big, lethal);
    const after = crash.sumBoth(big, { data: lethal.data });
    const firstPid = await before;
    const error = await rejection(victim);
    assert.ok(isCrash(error, 9, null));
    assert.equal((error as WorkerCrashedError).pid, firstPid);
    // The task queued behind it runs on a new worker, with the same shared-memory arguments.
    assert.equal(await after, 3);
    assert.notEqual(await crash.pid(), firstPid);
    // The caller's values are untouched.
    assert.equal(big[0], 1);
    assert.equal(lethal.data[0], 2);
  }
  // The dead worker's holds on our argument segments were given back.
  assert.deepEqual(await segmentsSettled(existing), []);
});

test('a worker that dies while it encodes its result (a wrapper field read exits) leaves no segment behind', async () => {
  const existing = new Set(listSegmentNames());
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    using gates = new Gates();
    const crash = ex.module<typeof Crash>(CRASH);
    const marker = gates.path('segments');
    const victim = crash.exitWhileEncoding(BIG, marker);
    const after = crash.wrapped(BIG);
    assert.ok(isCrash(await rejection(victim), 9, null));
    const made = readFileSync(marker, 'utf8').split('\n').filter(Boolean);
    assert.ok(made.length >= 1, 'the worker had made its result segment when it died');
    const now = new Set(listSegmentNames());
    assert.deepEqual(
      made.filter((name) => now.has(name)),
      [],
      'the segments of the dead worker are gone',
    );
    const back = await after;
    assert.ok(back instanceof ExitOnWorkerEncode);
    assert.equal(back.data.length, BIG);
    assert.equal(back.data[BIG - 1], 4);
    release(back.data);
  }
  assert.deepEqual(await segmentsSettled(existing), []);
});

test('a result that cannot travel rejects with ERR_SHMEX_NOT_TRANSFERABLE naming where it sits; the worker goes on and keeps no segment', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const crash = ex.module<typeof Crash>(CRASH);
  const workerPid = await crash.pid();
  // The probe sees a segment held by a result.
  const kept = await crash.wrapped(BIG);
  assert.ok((await crash.heldSegments()).length >= 1, 'a result held here holds its worker segment');
  release(kept.data);
  assert.deepEqual(await heldSettled(crash), []);
  const cases: Array<[Untransferable, string, RegExp]> = [
    ['function', 'result.meta.callback', /it is a function \(callback\)/],
    ['class', 'result.meta.points[0]', /instance of class Point/],
    ['symbol', 'result.meta.get("tag")', /it is a symbol/],
    ['proxy', 'result.state', /it is a Proxy/],
    ['error-cause', 'result.error.cause', /it is a function/],
    ['wrapper-in-cause', 'result.error.cause', /sits in an Error's cause/],
    // Found by V8 once the array's segment was made: the segment must be given back.
    ['changing', 'result', /V8 cannot serialize a value inside it/],
  ];
  for (const [kind, path, what] of cases) {
    const error = await rejection(crash.untransferable(BIG, kind));
    assert.ok(error instanceof NotTransferableError, `${kind}: not a NotTransferableError: ${String(error)}`);
    assert.equal(error.code, 'ERR_SHMEX_NOT_TRANSFERABLE', kind);
    assert.equal(error.path, path, kind);
    assert.match(error.message, what, kind);
    assert.deepEqual(await heldSettled(crash), [], `${kind}: the worker holds no segment`);
  }
  // A getter that throws once the segment was made: its own error, and the segment given back.
  const thrown = await rejection(crash.untransferable(BIG, 'throwing'));
  assert.ok(thrown instanceof Error);
  assert.equal(thrown.message, 'unstable getter read twice');
  assert.deepEqual(await heldSettled(crash), []);
  assert.equal(await crash.pid(), workerPid, 'the same worker served every task');
  const back = await crash.wrapped(BIG);
  assert.equal(back.data[0], 4);
  release(back.data);
});

test('a result the parent fails to decode (a wrapper rebuild throws here) rejects with that error; its segments go back', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const crash = ex.module<typeof Crash>(CRASH);
  const workerPid = await crash.pid();
  for (let round = 0; round < 3; round++) {
    const error = await rejection(crash.parentCannotRebuild(BIG));
    assert.ok(error instanceof Error);
    // That error, or a shmex error that has it as its cause.
    const refused = (error as Error & { code?: string }).code === REBUILD_REFUSED ? error : error.cause;
    assert.ok(refused instanceof Error, `not the rebuild error: ${String(error)}`);
    assert.equal((refused as Error & { code?: string }).code, REBUILD_REFUSED);
    assert.match(refused.message, /refuses to be rebuilt here/);
  }
  // The parent mapped the results' segments, then gave them back to the worker.
  assert.deepEqual(
    await heldSettled(crash),
    [],
    'the worker still lends segments of results the parent dropped',
  );
  assert.equal(await crash.pid(), workerPid);
  const back = await crash.wrapped(BIG);
  assert.equal(back.data[BIG - 1], 4);
  release(back.data);
});

for (const how of ['exception', 'rejection'] as const) {
  test(`an uncaught ${how} outside any task ends the worker: its running task fails, other futures are unaffected`, async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
    using gates = new Gates();
    const crash = ex.module<typeof Crash>(CRASH);
    const control = ex.module<typeof Control>(CONTROL);

    // On an idle worker: it dies on its own (Node's default for an uncaught error) and is replaced.
    const idlePid = await crash.failLater(50, how);
    await until(() => reaped(idlePid), 'the worker that threw has exited and been reaped', 10_000);

    // On a busy worker: the task it runs at that moment fails; a task on the other worker completes.
    const bystander = control.gate(gates.dir, 'bystander', 'unaffected');
    const bystanderPid = await gates.started('bystander');
    const doomedPid = await crash.failWhen(gates.path('trigger'), how);
    assert.notEqual(doomedPid, bystanderPid);
    const running = control.gate(gates.dir, 'running', 'never');
    assert.equal(await gates.started('running'), doomedPid);
    const queued = crash.echo('queued');
    writeFileSync(gates.path('trigger'), '');
    const error = await rejection(running);
    assert.ok(isCrash(error, 1, null));
    // The worker said why before it exited: the error is the cause, and the message names it.
    assert.equal((error as Error).cause instanceof Error, true);
    assert.equal(((error as Error).cause as Error).message, `late ${how}, outside any task`);
    assert.match((error as Error).message, new RegExp(`after an error no task caught: late ${how}`));
    assert.equal(await queued, 'queued');
    gates.release('bystander');
    assert.equal(await bystander, 'unaffected');
    const pids = await Promise.all([1, 2, 3, 4].map(() => crash.pid()));
    assert.ok(!pids.includes(idlePid) && !pids.includes(doomedPid));
  });
}

interface Tree {
  pid: number;
  workers: number[];
}

/** How the test ends the parent: which signal, sent to it alone or to its process group (as Ctrl-C does). */
interface Ending {
  signal: NodeJS.Signals;
  group: boolean;
}

/**
 * Runs fixtures/killed-parent.js with its 2 workers blocked in tasks that hold shared-memory
 * arrays (or stuck in synchronous code, with `spin`), then ends it with `ending`, and waits
 * for its workers to exit. Returns the tree's pids and the segments it had just before.
 */
async function endParentTree(
  gates: Gates,
  spin: boolean,
  ending: Ending | 'all at once',
): Promise<{ tree: Tree; before: string[] }> {
  const script = fileURLToPath(new URL('./fixtures/killed-parent.js', import.meta.url));
  const args = spin ? [script, gates.dir, 'spin'] : [script, gates.dir];
  // Its own process group, so that a signal to the group reaches this tree only.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const output = collectOutput(child);
  try {
    await until(
      () => output.stdout.includes('\n') || child.exitCode !== null,
      'the script reports its workers',
      20_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; stderr: ${output.stderr}`);
  }
  assert.ok(output.stdout.includes('\n'), `the script ended early; stderr: ${output.stderr}`);
  const tree = JSON.parse(output.stdout.trim()) as Tree;
  assert.equal(tree.pid, child.pid);
  const owners = [tree.pid, ...tree.workers];
  const before = listSegmentNames().filter((name) => owners.some((pid) => name.startsWith(`shmex.${pid}.`)));
  assert.ok(segmentsOf(tree.pid).length >= 2, 'the parent holds its argument segments');
  for (const pid of tree.workers)
    assert.ok(segmentsOf(pid).length >= 1, `worker ${pid} holds a segment of its own`);
  if (ending === 'all at once') {
    // Nobody of the tree is left to clean up: the parent cannot see its
    // workers die, and they die before it.
    child.kill('SIGSTOP');
    for (const pid of tree.workers) process.kill(pid, 'SIGKILL');
    await until(() => tree.workers.every(processGone), 'the workers have exited', 10_000);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
  } else {
    process.kill(ending.group ? -tree.pid : tree.pid, ending.signal);
    assert.equal(await exited, ending.signal, `stderr: ${output.stderr}`);
    await until(() => tree.workers.every(processGone), 'the orphaned workers have exited', 10_000);
  }
  return { tree, before };
}

const endings: Ending[] = [
  { signal: 'SIGKILL', group: false },
  { signal: 'SIGINT', group: false },
  { signal: 'SIGINT', group: true },
  { signal: 'SIGTERM', group: false },
  { signal: 'SIGTERM', group: true },
  { signal: 'SIGHUP', group: false },
  { signal: 'SIGHUP', group: true },
];

for (const ending of endings) {
  const to = ending.group ? 'its process group' : 'the parent alone';
  test(`${ending.signal} to ${to} while tasks run: the workers remove the tree's segments and exit, also from synchronous code`, async () => {
    for (const spin of [false, true]) {
      using gates = new Gates();
      const { tree, before } = await endParentTree(gates, spin, ending);
      assert.ok(before.length >= 4);
      for (const pid of [tree.pid, ...tree.workers])
        assert.deepEqual(segmentsOf(pid), [], `segments of ${pid} left (spin: ${spin})`);
    }
  });
}

test('a tree killed all at once: shmClear() or a new executor removes what it left', async () => {
  using gates = new Gates();
  const first = await endParentTree(gates, false, 'all at once');
  const left = first.before.filter((name) => listSegmentNames().includes(name));
  assert.ok(left.length >= 4, 'nobody could remove the segments');
  const removed = shmClear();
  for (const name of left) assert.ok(removed.includes(name), `shmClear() removed ${name}`);
  for (const pid of [first.tree.pid, ...first.tree.workers]) assert.deepEqual(segmentsOf(pid), []);

  using gates2 = new Gates();
  const second = await endParentTree(gates2, true, 'all at once');
  assert.ok(segmentsOf(second.tree.pid).length >= 2);
  const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  for (const pid of [second.tree.pid, ...second.tree.workers])
    assert.deepEqual(segmentsOf(pid), [], 'a new executor removed the dead tree segments');
  assert.equal(await ex.submit(() => 'alive'), 'alive');
  await ex.shutdown();
});

test('strings that look like segment names travel as strings: nothing is mapped, held or freed for them', async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const crash = ex.module<typeof Crash>(CRASH);
  const workerPid = await crash.pid();
  trimSharedMemory();
  const ours = new Set(segmentsOf(process.pid));
  const live = from(
    Float64Array,
    Float64Array.from({ length: BIG }, (_, i) => i),
  );
  const [liveName] = segmentsOf(process.pid).filter((name) => !ours.has(name));
  assert.match(liveName ?? '', /^shmex\.\d+\.\d+\.[0-9a-f]{24}$/, 'the live array has a segment of its own');
  const fakeOurs = `shmex.${process.pid}.${startTime(process.pid)}.${randomBytes(12).toString('hex')}`;
  const fakeWorker = `shmex.${workerPid}.${startTime(workerPid)}.${randomBytes(12).toString('hex')}`;
  const names = [liveName!, fakeOurs, fakeWorker];
  const family = () => [...segmentsOf(process.pid), ...segmentsOf(workerPid)].sort();
  const before = family();

  for (const name of names) assert.equal(await crash.echo(name), name);
  const structure = {
    [liveName!]: fakeOurs,
    [fakeOurs]: liveName!,
    [fakeWorker]: [liveName!, fakeWorker],
    byName: new Map(names.map((n) => [n, n])),
    set: new Set(names),
    nested: { segment: liveName!, leases: [liveName!], name: fakeWorker },
  };
  assert.deepEqual(await crash.echo(structure), structure);
  assert.deepEqual(family(), before, 'no segment was made or removed');
  assert.deepEqual(await heldSettled(crash), [], 'the worker holds nothing');

  // The same next to arrays, so the value goes through shmex's own payload format.
  const mixed = { ...structure, live, big: new Float64Array(BIG).fill(5) };
  const back = (await crash.echo(mixed)) as typeof mixed;
  const { live: liveBack, big: bigBack, ...rest } = back;
  assert.deepEqual(rest, structure);
  assert.equal(liveBack[BIG - 1], BIG - 1);
  assert.equal(bigBack[0], 5);
  release(bigBack);

  // Had the live array's segment been freed by mistake, a new array of its size would reuse it.
  gc();
  const other = from(Float64Array, new Float64Array(BIG).fill(-1));
  assert.equal(live[1], 1);
  assert.equal(live[BIG - 1], BIG - 1);
  assert.equal(await ex.submit((x: Float64Array) => x[10], live), 10);
  assert.ok(listSegmentNames().includes(liveName!), 'the live array keeps its segment');
  assert.ok(!listSegmentNames().includes(fakeOurs) && !listSegmentNames().includes(fakeWorker));
  release(other);
  assert.equal(release(live), true);
});
