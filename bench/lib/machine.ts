// The machine a run was made on, for the report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  node: string;
  v8: string;
  kernel: string;
  totalMemoryGB: number;
  shmSizeGB: number;
  transparentHugePages: string;
  loadAverageAtStart: number[];
  /** Filled in at the end of the run. */
  loadAverageAtEnd?: number[];
  date: string;
  /** The commit measured, and whether src/ differed from it (dist/ is built from the working tree). */
  shmex: { commit: string; srcModified: boolean | undefined };
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: new URL('../..', import.meta.url),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function thp(): string {
  try {
    return (
      /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'latin1'))?.[1] ?? '?'
    );
  } catch {
    return 'unknown';
  }
}

/** The 1, 5 and 15 minute load averages. */
export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

export function machineInfo(shmSizeBytes: number): MachineInfo {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    v8: process.versions.v8,
    kernel: release(),
    totalMemoryGB: Math.round(totalmem() / 1e8) / 10,
    shmSizeGB: Math.round(shmSizeBytes / 1e8) / 10,
    transparentHugePages: thp(),
    loadAverageAtStart: loadAverage(),
    date: new Date().toISOString(),
    shmex: {
      commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
      srcModified: ((status) => (status === undefined ? undefined : status !== ''))(
        git(['status', '--porcelain', '--', 'src', 'native']),
      ),
    },
  };
}
