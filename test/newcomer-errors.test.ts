// Mistakes a newcomer makes, and the errors they get: each names the cause and
// the remedy, with a stable class and code. One test per mistake, through the
// public API, in real workers where the mistake shows only there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import stdlibNdarray from '@stdlib/ndarray-base-ctor';
import { makeTable } from 'apache-arrow';
import ndarray from 'ndarray';
import {
  InvalidArgumentError,
  InvalidTaskError,
  NotTransferableError,
  ProcessPoolExecutor,
  TaskClosureError,
  ThreadPoolExecutor,
  TimeoutError,
} from 'shmex';
import { collectOutput } from './helpers/child-output.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { rejection } from './helpers/values.js';

guardSharedMemory();

// dist-test/ sits in the project root, beside test/ and node_modules/.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

const temp = mkdtempSync(join(tmpdir(), 'shmex-newcomer-'));
after(() => rmSync(temp, { recursive: true, force: true }));

/** The error `fn` throws synchronously; fails the test if it does not throw. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a throw');
}

/** Runs `node ...args` from the project root; its exit code and output. */
async function run(
  args: string[],
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, ...output };
}

for (const [what, value] of [
  ['an Arrow Table', () => makeTable({ x: new Float64Array(4) })],
  ['an Arrow RecordBatch', () => makeTable({ x: new Float64Array(4) }).batches[0]],
  ['an Arrow Vector', () => makeTable({ x: new Float64Array(4) }).getChild('x')],
  ['a scijs ndarray', () => ndarray(new Float64Array(4), [2, 2])],
  [
    'a stdlib ndarray',
    () => new stdlibNdarray('float64', new Float64Array(4), [2, 2], [2, 1], 0, 'row-major'),
  ],
] as const) {
  test(`${what} passed without its adapter imported says which import registers its codec`, async () => {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const error = await rejection(ex.submit((_v: unknown) => 0, value()));
    assert.ok(error instanceof NotTransferableError);
    assert.equal(error.code, 'ERR_SHMEX_NOT_TRANSFERABLE');
    const entry = what.startsWith('an Arrow')
      ? 'shmex/arrow'
      : what.includes('stdlib')
        ? 'shmex/stdlib-ndarray'
        : 'shmex/ndarray';
    assert.match(error.message, new RegExp(`import '${entry}'`));
    assert.match(error.message, /registers the codec/);
    assert.match(error.message, what.startsWith('an Arrow') ? /Apache Arrow/ : /ndarray/);
    assert.doesNotMatch(error.message, /registerArrayWrapper/);
  });
}

for (const [kind, bad, location] of [
  ['ESM', 'export function f(x) {\n  return x +\n', /bad-esm\.mjs:3\b/],
  ['ESM', 'export function f(x) {\n  return x + ;\n}\n', /bad-esm-token\.mjs:2:14\b/],
  ['CommonJS', 'module.exports = { f(x) { return x + ; } };\n', /bad-cjs\.cjs:1:38\b/],
] as const) {
  test(`a ${kind} task module with a syntax error names the file and line (${location.source})`, async () => {
    const name = location.source.split('\\.')[0]!;
    const file = join(temp, `${name}.${kind === 'ESM' ? 'mjs' : 'cjs'}`);
    writeFileSync(file, bad);
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
    const error = await rejection(ex.submit({ module: file, name: 'f' }, 1));
    assert.ok(error instanceof InvalidTaskError);
    assert.equal(error.code, 'ERR_SHMEX_INVALID_TASK');
    assert.match(error.message, /task module .* could not be loaded/);
    assert.match(error.message, location);
    assert.match(error.message, /SyntaxError/);
    assert.match(error.message, /Fix the syntax/);
    // The original error is kept: the worker's stack, then Node's SyntaxError.
    const original = (error.cause as Error | undefined)?.cause;
    assert.ok(original instanceof SyntaxError, 'the SyntaxError is in the cause chain');
  });
}

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  test(`${Executor.name}: a method task that uses 'this' rejects with TaskClosureError instead of returning NaN`, async () => {
    await using ex = new Executor({ maxWorkers: 1 });
    const p = {
      k: 2,
      norm(x: number) {
        return this.k * x;
      },
    };
    const error = await rejection(ex.submit(p.norm, 3));
    assert.ok(error instanceof TaskClosureError);
    assert.equal(error.code, 'ERR_SHMEX_TASK_CLOSURE');
    assert.match(error.message, /\bnorm\b/);
    assert.match(error.message, /this\.k/);
    assert.match(error.message, /without its object/);
    assert.match(error.message, /as arguments/);
    assert.match(error.message, /executor\.module/);
  });
}

test("an arrow task that uses 'this' is refused; a regular function inside a task keeps its own 'this'", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const arrow = await rejection(ex.submit((x: number) => x * (this as unknown as { k: number }).k, 3));
  assert.ok(arrow instanceof TaskClosureError);
  const inner = await ex.submit(
    (xs: number[]) => {
      const scaler = { k: 10 };
      const scale = function (this: { k: number }, x: number): number {
        return this.k * x;
      };
      return xs.map((x) => scale.call(scaler, x));
    },
    [1, 2],
  );
  assert.deepEqual(inner, [10, 20]);
  assert.equal(await ex.submit((x: number) => x * 2, 4), 8, 'a task without this runs as before');
});

for (const Executor of [ProcessPoolExecutor, ThreadPoolExecutor]) {
  test(`${Executor.name}: an unknown option is refused, with the closest known one and the list`, () => {
    const typo = thrown(() => new Executor({ maxWorkrs: 2 } as never));
    assert.ok(typo instanceof InvalidArgumentError);
    assert.equal(typo.code, 'ERR_SHMEX_INVALID_ARGUMENT');
    assert.match(typo.message, new RegExp(`^${Executor.name}: unknown option 'maxWorkrs'`));
    assert.match(typo.message, /did you mean 'maxWorkers'\?/);
    assert.match(typo.message, /known options are: maxWorkers, .*threshold/);
    const threads = thrown(() => new Executor({ threads: 2 } as never));
    assert.ok(threads instanceof InvalidArgumentError);
    assert.match(threads.message, /unknown option 'threads'; did you mean 'maxWorkers'\?/);
  });
}

test('wrong option types are shown with their type, in the constructor, withOptions and map', async () => {
  const count = thrown(() => new ProcessPoolExecutor({ maxWorkers: '4' as never }));
  assert.ok(count instanceof InvalidArgumentError);
  assert.match(count.message, /maxWorkers must be a positive integer, got the string "4"/);
  const threshold = thrown(() => new ThreadPoolExecutor({ threshold: '64k' as never }));
  assert.match(threshold.message, /threshold must be .*got the string "64k"/);
  await using ex = new ProcessPoolExecutor({ maxWorkers: 1 });
  const timeout = thrown(() => ex.withOptions({ timeout: '5' as never }));
  assert.ok(timeout instanceof InvalidArgumentError);
  assert.match(timeout.message, /got the string "5"/);
  const timeoutTypo = thrown(() => ex.withOptions({ timout: 5 } as never));
  assert.ok(timeoutTypo instanceof InvalidArgumentError);
  assert.match(
    timeoutTypo.message,
    /withOptions: unknown option 'timout'; did you mean 'timeout'\?.*signal, timeout/,
  );
  const chunk = thrown(() => ex.map((x: number) => x, [1], { chunkSize: 2 } as never));
  assert.ok(chunk instanceof InvalidArgumentError);
  assert.match(chunk.message, /map: unknown option 'chunkSize'; did you mean 'chunksize'\?/);
  const chunksize = thrown(() => ex.map((x: number) => x, [1], { chunksize: 2.5 }));
  assert.match(chunksize.message, /got the number 2\.5/);
});

test("map's timeout error gives the timeout the caller set and the element that was late", async () => {
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
  // Both workers started first, so that element 0 is not late on a busy machine.
  await Promise.all([ex.submit(() => 0), ex.submit(() => 0)]);
  const stop = new AbortController();
  // Element 1 never finishes; the abort below stops its worker once map has given up.
  const results = ex
    .withOptions({ signal: stop.signal })
    .map((i: number) => (i === 1 ? new Promise<number>(() => {}) : i), [0, 1, 2], { timeout: 1000 });
  const first = await results.next();
  assert.deepEqual(first, { value: 0, done: false });
  const error = await rejection(results.next());
  stop.abort();
  assert.ok(error instanceof TimeoutError);
  assert.equal(error.code, 'ERR_SHMEX_TIMEOUT');
  assert.match(error.message, /\btimeout of 1000 ms\b/);
  assert.match(error.message, /element 1\b/);
  assert.match(error.message, /larger timeout/);
});

test('a TypeScript task module given to a ThreadPoolExecutor under tsx says threads get no loader and what to use', async () => {
  const { code, stdout, stderr } = await run(['--import', 'tsx', join(FIXTURES, 'newcomer-ts-thread.mjs')]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout.trim()) as Record<
    string,
    { value?: unknown; code?: string; message?: string }
  >;
  assert.deepEqual(report.process, { value: 3 }, 'worker processes import it under tsx');
  for (const key of ['threadTs', 'threadJs']) {
    const outcome = report[key]!;
    assert.equal(outcome.code, 'ERR_SHMEX_INVALID_TASK', key);
    assert.match(outcome.message!, /newcomer-ts-tasks\.ts/);
    assert.match(outcome.message!, /does not apply loaders such as tsx .* in worker threads/);
    assert.match(outcome.message!, /ProcessPoolExecutor/);
    assert.match(outcome.message!, /JavaScript task module/);
    assert.match(outcome.message!, /function task/);
  }
});

test('a function task that uses await import() runs without an ExperimentalWarning on stderr', async () => {
  const { code, stdout, stderr } = await run([join(FIXTURES, 'newcomer-dynamic-import.mjs')]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout.trim()), ['input.csv', 'input.csv']);
  assert.doesNotMatch(stderr, /ExperimentalWarning/);
  assert.equal(stderr, '', 'nothing else was printed either');
});

for (const [entry, dependency] of [
  ['shmex/arrow', 'apache-arrow'],
  ['shmex/ndarray', 'ndarray'],
  ['shmex/stdlib-ndarray', '@stdlib/ndarray-base-ctor'],
] as const) {
  test(`import '${entry}' without ${dependency} installed says to install it`, async () => {
    // A project of its own: shmex copied into its node_modules (a symlink would resolve back
    // to this checkout, beside its devDependencies), and no ${dependency}.
    const project = mkdtempSync(join(temp, 'project-'));
    const shmex = join(project, 'node_modules', 'shmex');
    cpSync(join(ROOT, 'dist'), join(shmex, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(shmex, 'package.json'));
    writeFileSync(
      join(project, 'main.mjs'),
      `try { await import('${entry}'); console.log('loaded'); } catch (e) {
         console.log(JSON.stringify({ name: e.name, code: e.code, dependency: e.dependency, message: e.message }));
       }`,
    );
    const { code, stdout, stderr } = await run(['main.mjs'], project);
    assert.equal(code, 0, stderr);
    const error = JSON.parse(stdout.trim()) as Record<string, string>;
    assert.equal(error.name, 'MissingPeerDependencyError');
    assert.equal(error.code, 'ERR_SHMEX_MISSING_PEER_DEPENDENCY');
    assert.equal(error.dependency, dependency);
    assert.match(error.message!, new RegExp(`^${entry} needs the optional peer dependency ${dependency}\\b`));
    assert.match(error.message!, new RegExp(`npm install ${dependency}$`));
  });
}

test("require('shmex') still loads the main entry (no top-level await in its module graph)", async () => {
  const { code, stdout, stderr } = await run([join(FIXTURES, 'newcomer-require.cjs')]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), 'function');
});
