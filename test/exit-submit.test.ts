// submit(), map() and module functions called while the process exits (from a
// 'exit' listener) throw ShutdownError at once instead of returning a Future
// that never settles, on both executors, and leave nothing in /dev/shm
// (CPython: test_submit_after_interpreter_shutdown).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listSegmentNames } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const PROGRAM = fileURLToPath(new URL('./fixtures/exit-submit.js', import.meta.url));

interface Report {
  pid: number;
  workerPid?: number;
  outcomes: Record<string, { code?: unknown; message: string }>;
}

for (const kind of ['process', 'thread'] as const) {
  for (const [how, warm] of [
    ['on', 'cold'],
    ['on', 'warm'],
    ['prepend', 'warm'],
  ] as const) {
    test(`a ${kind} executor refuses work submitted from an 'exit' listener (${how}, ${warm})`, () => {
      const child = spawnSync(process.execPath, [PROGRAM, kind, how, warm], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(child.status, 0, child.stderr);
      const report = JSON.parse(child.stdout) as Report;
      assert.deepEqual(Object.keys(report.outcomes), ['submit', 'array', 'map', 'module', 'withOptions']);
      for (const [way, outcome] of Object.entries(report.outcomes)) {
        assert.equal(outcome.code, 'ERR_SHMEX_SHUTDOWN', `${way}: ${outcome.message}`);
        assert.match(outcome.message, /process is exiting/, way);
      }
      const owners = [report.pid, report.workerPid].filter((pid) => pid !== undefined);
      const left = listSegmentNames().filter((name) =>
        owners.some((pid) => name.startsWith(`shmex.${pid}.`)),
      );
      assert.deepEqual(left, [], 'segments of the exited program or its worker');
    });
  }
}
