// Processes seen through /proc: who descends from whom, and waiting for one
// to be gone. Fault tests use it to find a machine's pool children and to
// prove that nothing outlives the test.
import { readdirSync, readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The parent pid and state of `pid`, or undefined when it is gone (a zombie counts as gone). */
function stat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  return stat(pid) !== undefined;
}

/** How long `pid` has been running, in ms (0 when it is gone). Clock ticks are 100 a second on Linux. */
export function ageMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const startTicks = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    return Math.max(0, (uptime - startTicks / 100) * 1000);
  } catch {
    return 0;
  }
}

/** Whether `pid` is stopped (SIGSTOP). */
export function stopped(pid: number): boolean {
  return stat(pid)?.state === 'T';
}

/** Every live process below `root`, children before grandchildren. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const info = stat(pid);
    if (info === undefined) continue;
    children.set(info.ppid, [...(children.get(info.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** The command line of `pid` (arguments joined by spaces), or '' when it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Waits until every pid is gone; resolves with those still alive after `timeoutMs`. */
export async function waitGone(pids: readonly number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(25);
    left = left.filter(alive);
  }
  return left;
}

/** Polls `probe` until it returns something other than undefined, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
