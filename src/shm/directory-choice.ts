// Which directory an executor's segments go to: its shmDir, or, as joblib
// does with a small /dev/shm (containers often get 64 MiB), a fallback
// directory when shmDir cannot be used or has too little room left.
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { FALLBACK_BELOW_BYTES } from '../tuning.js';

export interface DirectoryChoice {
  dir: string;
  /** Why the fallback was taken, if it was. */
  reason?: string;
}

/** Why `dir` cannot hold segments now, or undefined if it can; `minFree` bytes must be free. */
export function unusableBecause(dir: string, minFree: number): string | undefined {
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK | constants.X_OK);
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    if (free < minFree) return `${dir} has only ${Math.floor(free / 1024 / 1024)} MiB free`;
    return undefined;
  } catch (error) {
    return `${dir} cannot be used (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

/** shmDir, unless a fallback is given and shmDir is unusable or nearly full while the fallback is usable. */
export function chooseDirectory(shmDir: string, fallbackDir: string | undefined): DirectoryChoice {
  if (fallbackDir === undefined) return { dir: shmDir };
  const reason = unusableBecause(shmDir, FALLBACK_BELOW_BYTES);
  if (reason === undefined || unusableBecause(fallbackDir, 0) !== undefined) return { dir: shmDir };
  return { dir: fallbackDir, reason };
}
