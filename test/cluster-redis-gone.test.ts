// Redis killed for good after the executor (or a machine) connected: pending
// Futures reject with RedisUnavailableError, shutdown() returns, and the
// process exits by itself (BullMQ's blocking readers would otherwise
// reconnect forever). A `shmex worker` machine exits with code 1 and says why.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectOutput } from './helpers/child-output.js';
import { descendants, until, waitGone } from './helpers/processes.js';
import { redisAvailable, startRedis } from './helpers/redis-server.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const skip = redisAvailable();
const SUBMITTER = fileURLToPath(new URL('./fixtures/cluster-redis-gone.js', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
/** Far more than any step needs: a process still alive then is kept alive by something. */
const EXIT_MS = 60_000;

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

test('a submitter whose Redis is gone for good fails its Futures, shuts down and exits by itself', {
  skip,
}, async () => {
  const redis = await startRedis();
  try {
    const child = spawn(process.execPath, [SUBMITTER, redis.url, `gone-${process.pid}`, '1000'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = collectOutput(child as never);
    const exited = exitOf(child);
    await until('the submitter to connect', () => (output.stdout.includes('connected') ? true : undefined));
    process.kill(redis.pid, 'SIGKILL');
    child.stdin.end('go\n');
    const { code, signal } = await exited;
    assert.equal(
      signal,
      null,
      `the submitter was still alive after ${EXIT_MS} ms:\n${output.stdout}${output.stderr}`,
    );
    assert.equal(code, 0, output.stderr);
    assert.doesNotMatch(output.stderr, /Unhandled error/);
    assert.deepEqual(output.stdout.trim().split('\n'), [
      'connected',
      'RedisUnavailableError ERR_SHMEX_REDIS_UNAVAILABLE',
      'RedisUnavailableError ERR_SHMEX_REDIS_UNAVAILABLE',
      'shut down',
    ]);
  } finally {
    await redis.stop();
  }
});

test('a shmex worker whose Redis is gone for good exits with code 1 after --redis-timeout, saying why', {
  skip,
}, async () => {
  const redis = await startRedis();
  try {
    const shmDir = mkdtempSync('/dev/shm/shmex-machine-');
    const child = spawn(
      process.execPath,
      // --exit-with-stdin: the machine removes its directory as it exits.
      [CLI, 'worker', '--connect', redis.url, '--queue', `gone-${process.pid}`, '--name', 'lonely'].concat([
        '--max-workers',
        '1',
        '--shm-dir',
        shmDir,
        '--redis-timeout',
        '1500',
        '--exit-with-stdin',
      ]),
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = exitOf(child);
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('ready')) resolve();
      });
    });
    const pool = descendants(child.pid!);
    process.kill(redis.pid, 'SIGKILL');
    const { code, signal } = await exited;
    child.stdin.destroy();
    assert.equal(signal, null, `the machine was still alive after ${EXIT_MS} ms:\n${stderr}`);
    assert.equal(code, 1, stderr);
    assert.doesNotMatch(stderr, /Unhandled error/);
    assert.match(stderr, /shmex worker: machine 'lonely' stops: Redis has been unreachable for \d+ ms/);
    assert.deepEqual(await waitGone(pool), [], 'pool processes outlived their machine');
  } finally {
    await redis.stop();
  }
});
