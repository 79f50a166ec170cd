// BENCH_TRACE=1 and BENCH_TINY_PROFILE=dir for section (c) (tiny-tasks.ts):
// this process's state when the section starts, then one line per burst of
// tasks (CPU and faults of this process and of the row's workers, its
// garbage collections inside the burst: bench/lib/call-trace.ts; and the
// collections by kind, scavenge S or mark-compact MC, with their ms, since the
// last line, and the size of the young generation), and a CPU profile of
// this process during each burst of the profiled rows. Nothing is observed
// when both are off.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { CallTracer, tracing } from './call-trace.js';

function countBy(names: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

export class BurstTrace {
  readonly #tracer = tracing ? new CallTracer() : undefined;
  readonly #profileDir = process.env.BENCH_TINY_PROFILE;
  readonly #profiled: ReadonlySet<string>;
  #session: Session | undefined;
  readonly #kinds: string[] = [];
  readonly #observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail: { kind: number } }).detail.kind;
      const name =
        kind === constants.NODE_PERFORMANCE_GC_MAJOR
          ? 'MC'
          : kind === constants.NODE_PERFORMANCE_GC_MINOR
            ? 'S'
            : 'other';
      this.#kinds.push(`${name}${entry.duration.toFixed(1)}`);
    }
  });

  /** `profiled`: the rows whose bursts are profiled under BENCH_TINY_PROFILE. */
  constructor(profiled: readonly string[]) {
    this.#profiled = new Set(profiled);
    if (this.#tracer !== undefined) this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Starts the rows' workers (one row at a time when tracing, to tell whose processes are whose). */
  async warm(prefix: string, rows: { id: string; warm(): Promise<void> }[]): Promise<void> {
    const tracer = this.#tracer;
    if (tracer === undefined) {
      await Promise.all(rows.map((row) => row.warm()));
      return;
    }
    const m = process.memoryUsage();
    process.stderr.write(
      `trace ${prefix} start: heapUsed ${mb(m.heapUsed)}, heapTotal ${mb(m.heapTotal)}, external ${mb(m.external)}, ` +
        `arrayBuffers ${mb(m.arrayBuffers)}, rss ${mb(m.rss)}, handles ${JSON.stringify(countBy(process.getActiveResourcesInfo()))}\n`,
    );
    for (const row of rows) await tracer.opened(row.id, () => row.warm());
  }

  /** Runs one burst of row `id`; `run` returns its wall time (ms). */
  async burst(id: string, where: string, run: () => Promise<number>): Promise<number> {
    const profiled = this.#profileDir !== undefined && this.#profiled.has(id);
    if (profiled) await this.#startProfile();
    const traced = this.#tracer?.start(id);
    const ms = await run();
    if (traced !== undefined) {
      await new Promise((resolve) => setImmediate(resolve)); // gc entries come on a later turn
      const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
      process.stderr.write(
        `trace ${id} ${where} collections: ${this.#kinds.splice(0).join(' ')} young generation ${mb(young)}\n`,
      );
      traced(where, ms);
    }
    if (profiled) {
      const { profile } = await this.#session!.post('Profiler.stop');
      const file = `${this.#profileDir}/${id}-${where.replaceAll(' ', '-')}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
    }
    return ms;
  }

  async #startProfile(): Promise<void> {
    if (this.#session === undefined) {
      this.#session = new Session();
      this.#session.connect();
      await this.#session.post('Profiler.enable');
      await this.#session.post('Profiler.setSamplingInterval', { interval: 50 });
    }
    await this.#session.post('Profiler.start');
  }

  close(): void {
    this.#tracer?.close();
    this.#observer.disconnect();
    this.#session?.disconnect();
  }
}
