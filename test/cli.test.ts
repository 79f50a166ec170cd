// The shmex command (dist/cli/main.js, package.json's bin): ls, clear, help,
// bad usage, run in a private directory with segments made by real workers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { empty, listSegmentNames, ProcessPoolExecutor, release, trimSharedMemory } from 'shmex';
import { deadOwner, segmentName, self } from './helpers/segments.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'shmex-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command with this environment (default: this process's, with the file's SHMEX_SHM_DIR). */
function shmexIn(env: NodeJS.ProcessEnv, ...args: string[]): Run {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: 'pipe',
    env,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function shmex(...args: string[]): Run {
  return shmexIn(process.env, ...args);
}

interface Listed {
  name: string;
  pid: number;
  alive: boolean;
  bytes: number;
  dtype?: string;
  shape?: number[];
}

test('ls shows a live worker segment with its dtype and shape, and a dead one; clear removes only the dead one', async () => {
  const dead = segmentName(deadOwner());
  {
    await using ex = new ProcessPoolExecutor({ maxWorkers: 1, shmDir: dir });
    const y = (await ex.submit(() => {
      const out = empty(Float64Array, 100_000);
      out.fill(1.5);
      return out;
    })) as Float64Array;
    const [live] = listSegmentNames(dir); // (the worker's adopter mark is not a segment)
    assert.ok(live !== undefined);
    // The same bytes under a dead owner's name: what a crashed process leaves.
    copyFileSync(join(dir, live), join(dir, dead));

    const listed = JSON.parse(shmex('ls', '--dir', dir, '--json').stdout) as Listed[];
    const byName = new Map(listed.map((s) => [s.name, s]));
    assert.equal(listed.length, 2);
    assert.equal(byName.get(live)?.alive, true);
    assert.equal(byName.get(dead)?.alive, false);
    for (const name of [live, dead]) {
      assert.equal(byName.get(name)?.dtype, '<f8');
      assert.deepEqual(byName.get(name)?.shape, [100_000]);
      assert.ok(byName.get(name)!.bytes >= 800_000);
    }
    const table = shmex('ls', '--dir', dir);
    assert.equal(table.status, 0);
    assert.match(table.stdout, /^NAME +PID +OWNER +SIZE +DTYPE +SHAPE +AGE$/m);
    assert.match(
      table.stdout,
      new RegExp(`^${dead.replaceAll('.', '\\.')} .* dead .*<f8 +\\(100000,\\)`, 'm'),
    );
    assert.match(table.stdout, /2 segments, .*; 1 of dead processes/);

    const cleared = shmex('clear', '--dir', dir);
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.match(
      cleared.stdout,
      new RegExp(`removed 1 segments from .*\\n  ${dead.replaceAll('.', '\\.')}\\n`),
    );
    assert.deepEqual(listSegmentNames(dir), [live]);
    assert.equal(y[99_999], 1.5, 'the live array is untouched');
    release(y);
  }
  trimSharedMemory();
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(shmex('ls', '--dir', dir).stdout, `no shmex segments in ${dir}\n`);
});

test('clear --all refuses without a terminal while segments are in use; --yes removes them', () => {
  const inUse = segmentName(self);
  writeFileSync(join(dir, inUse), 'x');
  const refused = shmex('clear', '--dir', dir, '--all');
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /1 segments belong to running processes .*Add --yes/);
  assert.ok(existsSync(join(dir, inUse)));
  const forced = shmex('clear', '--dir', dir, '--all', '--yes');
  assert.equal(forced.status, 0, forced.stderr);
  assert.deepEqual(readdirSync(dir), []);
});

test('help, --help, and exit code 2 for bad usage', () => {
  const help = shmex('--help');
  assert.equal(help.status, 0);
  for (const command of ['ls', 'clear', 'demo', 'bench'])
    assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
  for (const command of ['ls', 'clear', 'demo', 'bench']) {
    const own = shmex(command, '--help');
    assert.equal(own.status, 0);
    assert.match(own.stdout, new RegExp(`^Usage: shmex ${command}`));
  }
  assert.equal(shmex('help', 'clear').stdout, shmex('clear', '--help').stdout);
  const unknown = shmex('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const badOption = shmex('ls', '--colour');
  assert.equal(badOption.status, 2);
  assert.match(badOption.stderr, /Unknown option '--colour'/);
  assert.equal(shmex('clear', '--dir', dir, '--yes').status, 2);
  const missing = shmex('ls', '--dir', join(dir, 'nope'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /does not exist/);
});

test('without --dir, ls and clear use SHMEX_SHM_DIR, else /dev/shm', () => {
  const own = mkdtempSync(join(tmpdir(), 'shmex-cli-env-'));
  try {
    const env = { ...process.env, SHMEX_SHM_DIR: own };
    assert.equal(shmexIn(env, 'ls').stdout, `no shmex segments in ${own}\n`);
    const dead = segmentName(deadOwner());
    writeFileSync(join(own, dead), 'x');
    assert.equal(shmexIn(env, 'clear').stdout, `removed 1 segments from ${own}\n  ${dead}\n`);
    assert.deepEqual(readdirSync(own), []);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
  // On /dev/shm itself, other processes' segments may come and go: only the directory is checked.
  const { SHMEX_SHM_DIR: _, ...withoutDir } = process.env;
  const cleared = shmexIn(withoutDir, 'clear');
  assert.equal(cleared.status, 0, cleared.stderr);
  assert.match(cleared.stdout, /^removed \d+ segments from \/dev\/shm\n/);
  assert.match(shmexIn(withoutDir, 'ls', '--help').stdout, /default \$SHMEX_SHM_DIR, else \/dev\/shm/);
});
