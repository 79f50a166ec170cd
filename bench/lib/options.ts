// The benchmark's command line (documented at the top of bench/run.ts) and
// the sizes and repetitions of each section, full and --quick.

export const SECTIONS = [
  'a',
  'b',
  'tiny',
  'compute',
  'views',
  'reduction',
  'strips',
  'burst',
  'cluster',
] as const;
export type SectionName = (typeof SECTIONS)[number];

/** Letters of the report's headings, accepted for --only too. */
const ALIASES: Record<string, SectionName> = {
  c: 'tiny',
  d: 'compute',
  e: 'views',
  f: 'reduction',
  g: 'strips',
  h: 'burst',
  i: 'cluster',
};

export interface BenchOptions {
  quick: boolean;
  /** The sections to run, in the suite's order; all of them unless --only was given. */
  sections: SectionName[];
  /** Whether --only narrowed the run (the report then goes to its own files). */
  only: boolean;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const picked = new Set<SectionName>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let value: string | undefined;
    if (arg === '--only') value = argv[++i];
    else if (arg.startsWith('--only=')) value = arg.slice('--only='.length);
    else if (arg === '--quick') continue;
    else throw new Error(`unknown argument ${arg}; usage: bench/run.ts [--quick] [--only a,b,tiny,...]`);
    if (value === undefined || value === '') throw new Error('--only needs a list of sections');
    for (const name of value.split(',')) {
      const section = ALIASES[name] ?? (SECTIONS as readonly string[]).find((s) => s === name);
      if (section === undefined) throw new Error(`unknown section ${name}; sections: ${SECTIONS.join(', ')}`);
      picked.add(section as SectionName);
    }
  }
  return {
    quick,
    sections: picked.size === 0 ? [...SECTIONS] : SECTIONS.filter((s) => picked.has(s)),
    only: picked.size > 0,
  };
}

export function benchConfig(quick: boolean) {
  return quick
    ? {
        bigArrays: {
          a: { id: '(a)', n: 2e6, warmupCalls: 2, timedCalls: 3, releaseIterations: 4 },
          b: { id: '(b)', n: 2e5, warmupCalls: 2, timedCalls: 3, releaseIterations: 4 },
        },
        tiny: { tasks: 200, rounds: 2, warmupTasks: 50 },
        compute: { n: 2e6, warmupCalls: 1, timedCalls: 3 },
        views: { n: 2e6, warmupCalls: 2, rounds: 5 },
        reduction: { n: 2e6, warmupCalls: 2, rounds: 3 },
        strips: { width: 400, height: 400, warmupCalls: 1, rounds: 3 },
        burst: { n: 5e5, count: 30, rounds: 2 },
        cluster: { n: 2e6, bigRounds: 2, tinyTasks: 300, latencyTasks: 50, tinyRounds: 2 },
      }
    : {
        bigArrays: {
          a: { id: '(a)', n: 2e7, warmupCalls: 3, timedCalls: 11, releaseIterations: 12 },
          b: { id: '(b)', n: 2e6, warmupCalls: 8, timedCalls: 25, releaseIterations: 30 },
        },
        // A timed burst of 2000 tasks lasts 15-25 ms, so one round's throughput swings with the
        // scheduling of that moment (the raw-pipe floor's ranged 80k-147k tasks/s over the 5 rounds of
        // one run): 15 rounds steady the medians, for about 40 s more.
        tiny: { tasks: 2000, rounds: Number(process.env.BENCH_TINY_ROUNDS ?? 15), warmupTasks: 300 },
        compute: { n: 2e7, warmupCalls: 2, timedCalls: 9 },
        views: { n: 2e7, warmupCalls: 3, rounds: 21 },
        reduction: { n: 1e8, warmupCalls: 2, rounds: 7 },
        strips: { width: 4000, height: 4000, warmupCalls: 2, rounds: 9 },
        burst: { n: 1e7, count: 30, rounds: 5 },
        // About 35 s on 2 cores: 160 MB round trips dominate.
        cluster: { n: 2e7, bigRounds: 5, tinyTasks: 2000, latencyTasks: 300, tinyRounds: 5 },
      };
}
