// `shmex clear`: removes segments of dead processes; with --all, every
// segment of this project (after a confirmation, unless --yes).
import { createInterface } from 'node:readline/promises';
import { shmClear } from '../shm/sweep.js';
import { listSegments } from './ls.js';

export interface ClearOptions {
  dir: string;
  all: boolean;
  yes: boolean;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Returns the exit code. */
export async function clearSegments(options: ClearOptions): Promise<number> {
  if (options.all && !options.yes) {
    const alive = listSegments(options.dir).filter((s) => s.alive);
    if (alive.length > 0) {
      const pids = [...new Set(alive.map((s) => s.pid))].join(', ');
      if (!process.stdin.isTTY) {
        process.stderr.write(
          `shmex clear --all: ${alive.length} segments belong to running processes (${pids}); removing them may break those programs. Add --yes to remove them without asking.\n`,
        );
        return 1;
      }
      const ok = await confirm(
        `${alive.length} segments belong to running processes (${pids}). Remove them anyway? [y/N] `,
      );
      if (!ok) {
        process.stderr.write('nothing removed\n');
        return 1;
      }
    }
  }
  const removed = shmClear({ dir: options.dir, all: options.all });
  process.stdout.write(`removed ${removed.length} segments from ${options.dir}\n`);
  for (const name of removed) process.stdout.write(`  ${name}\n`);
  return 0;
}
