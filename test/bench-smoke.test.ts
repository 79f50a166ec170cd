// The benchmark suite still runs: `node --import tsx bench/run.ts --quick`
// exits 0 and bench/results-quick.json reports every variant of every
// workload with checked results, and the target summary; `--only` runs just
// the sections named into a report of its own. Timings are never asserted.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runNode } from './helpers/child-output.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

// This file runs compiled, from dist-test/, which sits in the project root beside bench/ and node_modules/.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS = new URL('../bench/results-quick.json', import.meta.url);

const BIG_ARRAY_VARIANTS = [
  'in-process',
  'in-process-in-place',
  'shmex-copy-in',
  'shmex-copy-in-tuned',
  'shmex-zero-copy-in',
  'shmex-zero-copy-in-empty-out',
  'shmex-shared-in-place',
  'shmex-threads-copy-in',
  'piscina-clone',
  'piscina-transfer',
  'tinypool',
  'workerpool-process',
  'fork-advanced',
  'child-default-malloc',
  'child-tuned-malloc',
  'in-process-again',
];
/** Timed inside a child process: no cold call and no memory sample. */
const CHILD_REFERENCES = new Set(['child-default-malloc', 'child-tuned-malloc']);
const RELEASE_LOOPS = ['shmex-loop-drop', 'shmex-loop-release'];
const TINY_PEERS = [
  'shmex',
  'shmex-threads',
  'piscina',
  'tinypool',
  'workerpool-process',
  'fork-advanced',
  'raw-pipe',
];
const COMPUTE_VARIANTS = [
  'in-process',
  'shmex-copy-in',
  'shmex-zero-copy-in',
  'piscina-clone',
  'tinypool',
  'workerpool-process',
  'fork-advanced',
  'in-process-again',
];

const CEILING_VARIANTS = ['ceiling-in-process', 'ceiling-2-children'];
const VIEW_VARIANTS = ['arg-subarray', 'arg-slice', 'result-subarray', 'result-slice'];
const REDUCTION_VARIANTS = ['in-process', 'shmex-heap', 'shmex-from'];
const STRIP_VARIANTS = ['in-process', 'shmex-subarray', 'shmex-slice', 'shmex-from'];

type Interleaved = Checked & { steady?: { median: number }; shmPeakMB?: number };

interface Checked {
  id: string;
  checksPassed: number;
  failures: string[];
}

interface QuickResults {
  mode: string;
  ok: boolean;
  checks: { passed: number; failed: number; failures: string[] };
  leftoverSegments: string[];
  bigArrays: Array<{
    id: string;
    variants: Array<
      Checked & { coldMs?: number; steady?: { median: number }; memory?: { addedPeakMB: number } }
    >;
    releaseLoops: Array<Checked & { perIteration?: { median: number }; memory?: { addedPeakMB: number } }>;
  }>;
  tinyTasks: { peers: Array<Checked & { throughput?: { median: number }; latency?: { median: number } }> };
  compute: {
    variants: Array<Checked & { steady?: { median: number } }>;
    ceiling: Array<Checked & { steady?: { median: number } }>;
  };
  views: { variants: Interleaved[] };
  reduction: { variants: Interleaved[] };
  strips: { variants: Interleaved[] };
  burst: Checked & {
    rounds: unknown[];
    submitLoopMs?: { median: number };
    maxEventLoopDelayMs?: { median: number };
    shmPeakMB?: { median: number };
  };
}

function assertChecked(rows: Checked[], ids: string[], where: string): void {
  assert.deepEqual(
    rows.map((r) => r.id),
    ids,
    `${where}: the variants reported`,
  );
  for (const row of rows) {
    assert.deepEqual(row.failures, [], `${where} ${row.id}: failed checks`);
    assert.ok(row.checksPassed > 0, `${where} ${row.id}: no result was checked`);
  }
}

const run = (args: string[]) => runNode(args, { cwd: ROOT });

test('bench/run.ts --quick exits 0 and reports every variant with checked results', {
  timeout: 300_000,
}, async () => {
  rmSync(RESULTS, { force: true });
  const { code, output } = await run(['--import', 'tsx', 'bench/run.ts', '--quick']);
  assert.equal(code, 0, `the quick benchmark exited with ${code}; its output:\n${output}`);

  const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as QuickResults;
  assert.equal(results.mode, 'quick');
  assert.equal(results.ok, true);
  assert.equal(results.checks.failed, 0, results.checks.failures.join('\n'));
  assert.ok(results.checks.passed > 0);
  assert.deepEqual(results.leftoverSegments, []);

  assert.deepEqual(
    results.bigArrays.map((s) => s.id),
    ['(a)', '(b)'],
  );
  for (const section of results.bigArrays) {
    assertChecked(section.variants, BIG_ARRAY_VARIANTS, section.id);
    for (const v of section.variants) {
      assert.equal(typeof v.steady?.median, 'number', `${section.id} ${v.id}: steady state`);
      if (CHILD_REFERENCES.has(v.id)) continue;
      assert.equal(typeof v.coldMs, 'number', `${section.id} ${v.id}: cold first call`);
      assert.equal(typeof v.memory?.addedPeakMB, 'number', `${section.id} ${v.id}: peak memory`);
    }
    assertChecked(section.releaseLoops, RELEASE_LOOPS, `${section.id} release loops`);
    for (const loop of section.releaseLoops) {
      assert.equal(
        typeof loop.perIteration?.median,
        'number',
        `${section.id} ${loop.id}: time per iteration`,
      );
      assert.equal(typeof loop.memory?.addedPeakMB, 'number', `${section.id} ${loop.id}: peak memory`);
    }
  }
  assertChecked(results.tinyTasks.peers, TINY_PEERS, '(c)');
  for (const peer of results.tinyTasks.peers) {
    assert.equal(typeof peer.throughput?.median, 'number', `(c) ${peer.id}: throughput`);
    assert.equal(typeof peer.latency?.median, 'number', `(c) ${peer.id}: latency`);
  }
  assertChecked(results.compute.variants, COMPUTE_VARIANTS, '(d)');
  assertChecked(results.compute.ceiling, CEILING_VARIANTS, '(d) ceiling');
  for (const v of [...results.compute.variants, ...results.compute.ceiling]) {
    assert.equal(typeof v.steady?.median, 'number', `(d) ${v.id}: steady state`);
  }

  for (const [where, rows, ids] of [
    ['(e)', results.views.variants, VIEW_VARIANTS],
    ['(f)', results.reduction.variants, REDUCTION_VARIANTS],
    ['(g)', results.strips.variants, STRIP_VARIANTS],
  ] as const) {
    assertChecked([...rows], [...ids], where);
    for (const v of rows) assert.equal(typeof v.steady?.median, 'number', `${where} ${v.id}: median`);
  }
  for (const v of results.reduction.variants) {
    assert.equal(typeof v.shmPeakMB, 'number', `(f) ${v.id}: peak /dev/shm`);
  }
  assertChecked([{ ...results.burst, id: 'burst' }], ['burst'], '(h)');
  assert.ok(results.burst.rounds.length > 0, '(h) rounds');
  assert.equal(typeof results.burst.submitLoopMs?.median, 'number', '(h) submit loop');
  assert.equal(typeof results.burst.maxEventLoopDelayMs?.median, 'number', '(h) event-loop delay');
  assert.equal(typeof results.burst.shmPeakMB?.median, 'number', '(h) /dev/shm peak');

  const markdown = readFileSync(new URL('../bench/results-quick.md', import.meta.url), 'utf8');
  assert.match(markdown, /\| variant \|/);
  assert.match(markdown, /## Summary: target ratios/);
  for (const ratio of ['raw-pipe floor, throughput', 'argument subarray / slice', 'from() input: speedup']) {
    assert.ok(markdown.includes(ratio), `the summary names ${ratio}`);
  }
});

test('bench/run.ts --only runs just the sections named and writes its own report', {
  timeout: 300_000,
}, async () => {
  const only = new URL('../bench/results-only-views-strips-quick.json', import.meta.url);
  rmSync(only, { force: true });
  const { code, output } = await run(['--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'g,views']);
  assert.equal(code, 0, `the benchmark exited with ${code}; its output:\n${output}`);
  const results = JSON.parse(readFileSync(only, 'utf8')) as Partial<QuickResults> & { sections: string[] };
  rmSync(only, { force: true });
  rmSync(new URL('../bench/results-only-views-strips-quick.md', import.meta.url), { force: true });
  assert.deepEqual(results.sections, ['views', 'strips']);
  assert.deepEqual(results.bigArrays, []);
  assert.equal(results.tinyTasks, undefined);
  assertChecked(results.views!.variants, VIEW_VARIANTS, '(e)');
  assertChecked(results.strips!.variants, STRIP_VARIANTS, '(g)');

  const refused = await run(['--import', 'tsx', 'bench/run.ts', '--only', 'nonesuch']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.output, /unknown section nonesuch/);
});
