// How much of the machine's CPU time other processes used while a section
// ran: a benchmark on a shared machine should say when its timings were
// disturbed. Our own time = this process's user+system time plus that of its
// reaped children (every pool is shut down at the end of a section).
import { readFileSync } from 'node:fs';

interface CpuSnapshot {
  /** Busy and total ticks of all CPUs (/proc/stat). */
  busy: number;
  total: number;
  /** Ticks used by this process and its reaped children (/proc/self/stat). */
  ours: number;
}

function snapshot(): CpuSnapshot {
  const cpu = readFileSync('/proc/stat', 'latin1')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  const busy = user + nice + system + irq + softirq + steal;
  const self = readFileSync('/proc/self/stat', 'latin1');
  const fields = self.slice(self.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the command name.
  const ours = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return { busy, total: busy + idle + iowait, ours };
}

export class CpuWatch {
  readonly #start = snapshot();

  /** Percent of the machine's CPU time (all cores) used by processes other than ours since construction. */
  othersPercent(): number {
    const end = snapshot();
    const total = end.total - this.#start.total;
    if (total <= 0) return 0;
    const others = end.busy - this.#start.busy - (end.ours - this.#start.ours);
    return Math.max(0, Math.round((1000 * others) / total) / 10);
  }
}
