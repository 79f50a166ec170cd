// The fault soak, short form: test/soak/soak.ts run as a child process
// (1500 tasks, arrays up to 8 MiB, 2 workers) while it kills workers, cancels,
// aborts and times tasks out. It exits 0 only if every invariant held; the
// summary it prints is checked here too. The long form is `npm run soak`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectOutput } from './helpers/child-output.js';
import { guardSharedMemory } from './helpers/shm-guard.js';
import type { SoakSummary } from './soak/soak.js';

guardSharedMemory();

const SCRIPT = fileURLToPath(new URL('./soak/soak.js', import.meta.url));
const TASKS = 1500;

function runScript(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = collectOutput(child);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ...output }));
  });
}

test(`soak: ${TASKS} tasks with kills, cancels, aborts and timeouts; every Future settles once, correctly; nothing is left`, {
  timeout: 300_000,
}, async () => {
  const { code, stdout, stderr } = await runScript([
    '--tasks',
    String(TASKS),
    '--max-mb',
    '8',
    '--seed',
    '20240601',
    '--workers',
    '2',
    '--kill-every',
    '50',
    '--quiet',
  ]);
  let summary: SoakSummary;
  try {
    summary = JSON.parse(stdout) as SoakSummary;
  } catch {
    assert.fail(`the soak printed no summary (exit code ${code}):\n${stdout}\n${stderr}`);
  }
  const shown = JSON.stringify({ ...summary, byTask: undefined }, null, 2);
  assert.deepEqual(summary.violations, [], shown);
  assert.equal(code, 0, `exit code ${code}: ${stderr}`);
  assert.equal(summary.ok, true);

  // Every task settled, once, in one of the expected ways.
  const outcomes = summary.outcomes;
  const total = Object.values(outcomes).reduce((a, b) => a + b, 0);
  assert.equal(total, TASKS, shown);
  assert.equal(summary.pendingAtDeadline, 0);
  assert.equal(outcomes.other ?? 0, 0);
  assert.ok((outcomes.ok ?? 0) > TASKS / 2, shown);
  // The chaos happened (the counts depend on timing; these do not).
  assert.ok(summary.chaos.kills > 0, shown);
  assert.ok((outcomes.TaskTimeoutError ?? 0) > 0, 'stuck tasks time out');
  assert.ok(summary.chaos.abortsWhilePending > 0 && (outcomes.AbortError ?? 0) > 0);
  assert.ok(summary.chaos.cancelsEffective > 0 && (outcomes.CancelledError ?? 0) > 0);
  assert.ok(summary.results.released > 0 && summary.results.dropped > 0 && summary.results.rechecked > 0);
  assert.ok(summary.bytes.moved > 100 * 1024 * 1024, shown);
  assert.ok(summary.maxInFlight > 1 && summary.maxInFlight <= 64);

  // Nothing left: no worker, no segment of the soak's processes; memory back near the start.
  assert.deepEqual(summary.childrenAfterShutdown, []);
  assert.equal(summary.shm.ourSegmentsEnd, 0);
  assert.equal(summary.shm.ourBytesEnd, 0);
  assert.ok(summary.memory.rssGrowth < 384 * 1024 * 1024 + 4 * 8 * 1024 * 1024, shown);
});
