// BENCH_TRACE=1: one line per interleaved call on stderr, to tell where a
// row's time goes: CPU ms and minor faults of this process, of the row's own
// worker processes and of the other rows' (their pools stay alive side by
// side), and this process's garbage collections inside the call (gc() of the
// harness or the library counted apart from V8's own). Nothing is read when
// it is off.
import { readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';

/** USER_HZ is 100 on Linux: /proc/<pid>/stat counts CPU time in 10 ms ticks. */
const TICK_MS = 10;

export const tracing = process.env.BENCH_TRACE === '1';

/** V8's external-memory figure, from the addon of the build under test (absent from older builds). */
const v8External: () => number = await (async () => {
  if (!tracing) return () => Number.NaN;
  const url = new URL('../../dist/shm/native.js', import.meta.url).href;
  const { native } = (await import(url)) as { native: { externalMemory?: () => number } };
  return native.externalMemory?.bind(native) ?? (() => Number.NaN);
})();

/** PerformanceObserver's gc kinds (NODE_PERFORMANCE_GC_*). */
const GC_KIND: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

interface Usage {
  cpuMs: number;
  faults: number;
}

function usageOf(pids: readonly number[]): Usage {
  const usage = { cpuMs: 0, faults: 0 };
  for (const pid of pids) {
    let fields: string[];
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
      fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    } catch {
      continue; // exited
    }
    usage.cpuMs += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    usage.faults += Number(fields[7]);
  }
  return usage;
}

/** This process's children now. */
export function childPids(): number[] {
  const text = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'latin1').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

interface GcEntry {
  start: number;
  ms: number;
  forced: boolean;
  kind: string;
}

export class CallTracer {
  /** Worker pids of each row, by row id. */
  readonly #pids = new Map<string, number[]>();
  readonly #gcs: GcEntry[] = [];
  readonly #observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as { detail?: unknown }).detail as { flags?: number; kind?: number } | undefined;
      const forced = ((detail?.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0;
      const kind = GC_KIND[detail?.kind ?? 0] ?? String(detail?.kind);
      this.#gcs.push({ start: entry.startTime, ms: entry.duration, forced, kind });
    }
  });

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Runs `open` and records the processes it started as the row's. */
  async opened<T>(id: string, open: () => Promise<T>): Promise<T> {
    const before = new Set(childPids());
    const result = await open();
    this.#pids.set(
      id,
      childPids().filter((pid) => !before.has(pid)),
    );
    return result;
  }

  /** Call before a row's call; the returned function after it, with its label and wall time. */
  start(id: string): (where: string, ms: number) => void {
    const own = this.#pids.get(id) ?? [];
    const others = [...this.#pids].filter(([row]) => row !== id).flatMap(([, pids]) => pids);
    const t0 = performance.now();
    const external0 = process.memoryUsage().external;
    const v8External0 = v8External();
    const cpu0 = process.cpuUsage();
    const [self0, own0, others0] = [usageOf([process.pid]), usageOf(own), usageOf(others)];
    return (where, ms) => {
      const cpu = process.cpuUsage(cpu0);
      const external = process.memoryUsage().external;
      const [self1, own1, others1] = [usageOf([process.pid]), usageOf(own), usageOf(others)];
      const v8External1 = v8External();
      let forced = 0;
      let v8 = 0;
      const kinds = new Map<string, number>();
      for (const gc of this.#gcs) {
        if (gc.start + gc.ms < t0 || gc.start > t0 + ms) continue;
        if (gc.forced) forced += gc.ms;
        else {
          v8 += gc.ms;
          kinds.set(gc.kind, (kinds.get(gc.kind) ?? 0) + 1);
        }
      }
      const v8Kinds = [...kinds].map(([kind, n]) => `${n} ${kind}`).join(' ');
      process.stderr.write(
        `trace ${id} ${where}: ${ms.toFixed(1)} ms; this process ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU, ` +
          `${self1.faults - self0.faults} faults, gc ${forced.toFixed(1)} ms forced + ${v8.toFixed(1)} ms V8's (${v8Kinds || 'none'}), ` +
          `V8 external memory ${(v8External0 / 1e6).toFixed(0)} -> ${(v8External1 / 1e6).toFixed(0)} MB ` +
          `(ArrayBuffers ${(external0 / 1e6).toFixed(0)} -> ${(external / 1e6).toFixed(0)}); ` +
          `its workers ${own1.cpuMs - own0.cpuMs} ms CPU, ${own1.faults - own0.faults} faults; ` +
          `other rows' workers ${others1.cpuMs - others0.cpuMs} ms CPU\n`,
      );
    };
  }

  close(): void {
    this.#observer.disconnect();
  }
}
