// The Redis harness the cluster tests stand on: its own server, answered by
// port, no persistence, stopped by pid, and never outliving the test process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { redisAvailable, startRedis } from './helpers/redis-server.js';
import { command, text } from './helpers/resp.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();
const skip = redisAvailable();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  return !alive(pid);
}

test('a server of its own answers on its port, counts bytes, and stops by its pid', { skip }, async () => {
  const redis = await startRedis();
  try {
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.ok(alive(redis.pid));
    const before = Number((await redis.info('stats')).total_net_input_bytes);
    assert.equal(text(await command(redis.port, 'SET', 'k', Buffer.alloc(100_000, 7))), 'OK');
    const after = Number((await redis.info('stats')).total_net_input_bytes);
    assert.ok(after - before >= 100_000, `input bytes grew by ${after - before}`);
    const value = await command(redis.port, 'GET', 'k');
    assert.ok(Buffer.isBuffer(value) && value.length === 100_000 && value[99_999] === 7);
    const persistence = await redis.info('persistence');
    assert.equal(persistence.aof_enabled, '0');
    assert.equal(text(((await command(redis.port, 'CONFIG', 'GET', 'save')) as Buffer[])[1]!), '');
  } finally {
    await redis.stop();
  }
  assert.ok(await gone(redis.pid), 'the server is still running after stop()');
});

test('restart() gives an empty server on the same port', { skip }, async () => {
  const redis = await startRedis();
  try {
    await command(redis.port, 'SET', 'k', 'v');
    const first = redis.pid;
    await redis.restart();
    assert.notEqual(redis.pid, first);
    assert.ok(await gone(first));
    assert.equal(await command(redis.port, 'GET', 'k'), null);
    assert.equal(text(await command(redis.port, 'PING')), 'PONG');
  } finally {
    await redis.stop();
  }
});

test('maxmemory makes a full server refuse writes', { skip }, async () => {
  const redis = await startRedis({ maxmemory: '2mb' });
  try {
    assert.equal((await redis.info('memory')).maxmemory, String(2 * 1024 * 1024));
    const reply = await command(redis.port, 'SET', 'big', Buffer.alloc(4 * 1024 * 1024));
    assert.ok(reply instanceof Error && /OOM/.test(reply.message), `reply: ${String(reply)}`);
  } finally {
    await redis.stop();
  }
});

test('a test process killed with SIGKILL leaves no server behind', { skip }, async () => {
  const helper = new URL('./helpers/redis-server.js', import.meta.url).href;
  const script = `import { startRedis } from ${JSON.stringify(helper)};
    const redis = await startRedis(); console.log(redis.pid); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  assert.ok(pid > 0 && alive(pid));
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(await gone(pid), `redis-server ${pid} outlived its test process`);
});

test('redisAvailable() says how to install redis-server when it is missing', () => {
  assert.match(redisAvailable('/nonexistent') ?? '', /apt-get install -y redis-server/);
});
