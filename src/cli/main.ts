#!/usr/bin/env node
// The `shmex` command: ls, clear, demo, bench. Exit codes: 0 done, 1 failed
// (or declined), 2 bad usage.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SHM_DIR, defaultShmDir } from '../shm/segment-store.js';
import { clearSegments } from './clear.js';
import { CLUSTER_USAGE, runCluster, runWorker, WORKER_USAGE } from './cluster.js';
import { formatSegments, listSegments } from './ls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
  version: string;
  repository: { url: string };
};
const REPOSITORY = PACKAGE.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');

const USAGE: Record<string, string> = {
  shmex: `Usage: shmex <command> [options]

Commands:
  ls      list shmex segments: owner pid, alive or dead, size, dtype, shape, age
  clear   remove segments whose owner process is dead (--all: every one)
  demo    run the demo: one task through shmex, then timings side by side
  bench   run the benchmark suite (from a clone of the repository)
  worker  run tasks of a ClusterExecutor on this machine (see docs/cluster.md)
  cluster status: queue counts, live machines and stored bytes of a cluster

Run 'shmex <command> --help' for its options, 'shmex --version' for the version.
Exit codes: 0 done, 1 failed or declined, 2 bad usage.
`,
  ls: `Usage: shmex ls [--dir DIR] [--json]

  --dir DIR   the shared-memory directory (default $SHMEX_SHM_DIR, else ${DEFAULT_SHM_DIR})
  --json      one JSON array of { name, pid, alive, bytes, ageSeconds, dtype, shape }
`,
  clear: `Usage: shmex clear [--dir DIR] [--all [--yes]]

Removes the segments of processes that are no longer running.
  --dir DIR   the shared-memory directory (default $SHMEX_SHM_DIR, else ${DEFAULT_SHM_DIR})
  --all       remove every shmex segment, also of running processes (asks first)
  --yes       with --all: do not ask
`,
  demo: `Usage: shmex demo

Runs one task on a 160 MB array through shmex, then times the same work
in-process, through shmex and through child_process IPC.
`,
  worker: WORKER_USAGE,
  cluster: CLUSTER_USAGE,
  bench: `Usage: shmex bench [--quick] [other options of bench/run.ts]

Runs the benchmark suite of a clone of the repository (it needs the
development dependencies: npm ci), writing bench/results.md and .json.
`,
};

function fail(message: string, code: number): number {
  process.stderr.write(`shmex: ${message}\n`);
  return code;
}

function run(file: string, args: string[], execArgv: string[] = []): number {
  const result = spawnSync(process.execPath, [...execArgv, file, ...args], { stdio: 'inherit', cwd: ROOT });
  if (result.error !== undefined) return fail(result.error.message, 1);
  return result.status ?? 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`${PACKAGE.version}\n`);
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = command === 'help' && rest[0] !== undefined ? USAGE[rest[0]] : undefined;
    process.stdout.write(topic ?? USAGE.shmex!);
    return 0;
  }
  if (!(command in USAGE) || command === 'shmex') {
    process.stderr.write(USAGE.shmex!);
    return fail(`unknown command '${command}'`, 2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE[command]!);
    return 0;
  }
  if (command === 'worker' || command === 'cluster') {
    try {
      return await (command === 'worker' ? runWorker(rest) : runCluster(rest));
    } catch (error) {
      process.stderr.write(USAGE[command]!);
      return fail((error as Error).message, 2);
    }
  }
  if (command === 'bench') {
    const script = `${ROOT}bench/run.ts`;
    if (!existsSync(script)) {
      return fail(
        `the benchmark ships with the source repository, not the package: git clone ${REPOSITORY} ` +
          '&& cd shmex && npm ci && npm run bench',
        1,
      );
    }
    return run(script, rest, ['--import', 'tsx']);
  }
  let values: { dir?: string; json?: boolean; all?: boolean; yes?: boolean };
  try {
    const options = {
      dir: { type: 'string' },
      ...(command === 'ls' ? { json: { type: 'boolean' } } : {}),
      ...(command === 'clear' ? { all: { type: 'boolean' }, yes: { type: 'boolean' } } : {}),
    } as const;
    ({ values } = parseArgs({ args: rest, options: command === 'demo' ? {} : options, strict: true }));
  } catch (error) {
    process.stderr.write(USAGE[command]!);
    return fail((error as Error).message, 2);
  }
  const dir = values.dir ?? defaultShmDir();
  switch (command) {
    case 'ls': {
      if (!existsSync(dir)) return fail(`${dir} does not exist`, 1);
      const infos = listSegments(dir);
      process.stdout.write(values.json ? `${JSON.stringify(infos, null, 2)}\n` : formatSegments(infos, dir));
      return 0;
    }
    case 'clear':
      if (values.yes && !values.all) return fail('--yes goes with --all', 2);
      if (!existsSync(dir)) return fail(`${dir} does not exist`, 1);
      return clearSegments({ dir, all: values.all ?? false, yes: values.yes ?? false });
    default:
      return run(`${ROOT}dist/demo.js`, []);
  }
}

process.exitCode = await main(process.argv.slice(2));
