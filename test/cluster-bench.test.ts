// The cluster section of the benchmark: `bench/run.ts --quick --only cluster`
// exits 0 with its tables and its two target ratios in the report; without
// redis-server on the PATH the section is skipped with a note, not failed.
// Timings are never asserted.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runNode } from './helpers/child-output.js';
import { redisAvailable } from './helpers/redis-server.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

// This file runs compiled, from dist-test/, which sits in the project root beside bench/.
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const REPORT = new URL('../bench/results-only-cluster-quick.md', import.meta.url);
const JSON_REPORT = new URL('../bench/results-only-cluster-quick.json', import.meta.url);

function bench(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return runNode(['--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'i'], { cwd: ROOT, env });
}

function readReport(): { markdown: string; results: { ok: boolean; sections: string[]; cluster: unknown } } {
  const markdown = readFileSync(REPORT, 'utf8');
  const results = JSON.parse(readFileSync(JSON_REPORT, 'utf8'));
  rmSync(REPORT, { force: true });
  rmSync(JSON_REPORT, { force: true });
  return { markdown, results };
}

test('--only cluster runs the section: both tables and both target ratios in the report', {
  skip: redisAvailable(),
  timeout: 300_000,
}, async () => {
  const { code, output } = await bench(process.env);
  assert.equal(code, 0, `the benchmark exited with ${code}; its output:\n${output}`);
  const { markdown, results } = readReport();
  assert.equal(results.ok, true);
  assert.deepEqual(results.sections, ['cluster']);
  const cluster = results.cluster as { bigVsFloor: number; tinyVsBull: number };
  assert.equal(typeof cluster.bigVsFloor, 'number');
  assert.equal(typeof cluster.tinyVsBull, 'number');
  assert.match(markdown, /\| \(i\) cluster 16 MB round trip \/ 4 raw Redis transfers \| \d/);
  assert.match(markdown, /\| \(i\) cluster tiny tasks \/ BullMQ empty jobs, throughput \| \d/);
  assert.match(markdown, /\| ClusterExecutor \| \d+ \| \d+–\d+ \| \d/);
  assert.match(markdown, /\| BullMQ, empty jobs \| \d+/);
});

test('without redis-server the cluster section is skipped with a note, and the run passes', {
  timeout: 300_000,
}, async () => {
  // A PATH that holds node alone.
  const bin = mkdtempSync(join(tmpdir(), 'shmex-no-redis-'));
  try {
    symlinkSync(process.execPath, join(bin, 'node'));
    const { code, output } = await bench({ ...process.env, PATH: bin });
    assert.equal(code, 0, `the benchmark exited with ${code}; its output:\n${output}`);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
  const { markdown, results } = readReport();
  assert.equal(results.ok, true);
  assert.deepEqual(results.cluster, {
    skipped: 'redis-server is not installed (install it: sudo apt-get install -y redis-server)',
  });
  assert.match(markdown, /\(i\) cluster: skipped \(redis-server is not installed/);
  assert.match(markdown, /## \(i\) cluster[^\n]*\n\nSkipped: redis-server is not installed/);
});
