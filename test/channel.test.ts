// The channel between the parent and a worker process (src/pool/frames.ts,
// two pipes of frames) in real processes: messages larger than the pipes'
// buffers both ways and many of them at once (partial frames, a pipe that is
// full), and a worker that learns of its parent's death from its channel
// alone, being idle.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessPoolExecutor } from 'shmex';
import { processGone, until } from './fixtures/control-tasks.js';
import { collectOutput } from './helpers/child-output.js';
import { segmentsOf } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const addOne = (x: Float64Array) => x.map((v) => v + 1);

test('arrays inline far larger than the pipes, many at once, both ways: each arrives whole, in its task', async () => {
  // A threshold above every array: they all travel inside the frames, none through a segment.
  await using ex = new ProcessPoolExecutor({ maxWorkers: 2, threshold: 64 << 20 });
  const inputs = [1, 3, 1 << 10, 1 << 17, 1 << 20, 5, 1 << 19].flatMap((n, k) =>
    Array.from({ length: 3 }, (_, j) => Float64Array.from({ length: n }, (_, i) => i + 1000 * k + j)),
  );
  // Quick tasks first, so that later ones are sent several to a message.
  for (let i = 0; i < 30; i++) await Promise.all(inputs.slice(0, 6).map((x) => ex.submit(addOne, x)));
  const results = await Promise.all(inputs.map((x) => ex.submit(addOne, x)));
  results.forEach((y, k) => {
    const x = inputs[k]!;
    assert.equal(y.length, x.length, `task ${k}`);
    assert.ok(
      y.every((v, i) => v === x[i]! + 1),
      `task ${k}: values`,
    );
  });
});

test('idle workers whose parent is killed see their channel close, remove their segments and exit', async () => {
  const script = fileURLToPath(new URL('./fixtures/idle-parent.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  await until(() => output.stdout.includes('\n') || child.exitCode !== null, 'the script reports', 20_000);
  assert.ok(output.stdout.includes('\n'), `the script ended early; stderr: ${output.stderr}`);
  const tree = JSON.parse(output.stdout.trim()) as { pid: number; workers: number[] };
  assert.equal(tree.workers.length, 2);
  for (const pid of tree.workers) assert.ok(!processGone(pid), `worker ${pid} runs`);
  child.kill('SIGKILL');
  await until(() => tree.workers.every(processGone), 'the idle workers have exited', 10_000);
  for (const pid of [tree.pid, ...tree.workers]) assert.deepEqual(segmentsOf(pid), [], `segments of ${pid}`);
});
