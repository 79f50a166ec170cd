// Where should arrays switch from inline (copied through the channel) to
// a shared-memory segment? Times a round trip of an array through a task that
// returns a small value, for both paths, interleaved, at sizes 4 KiB .. 4 MiB.
// Run: npm run build && node --import tsx bench/threshold.ts
import { ProcessPoolExecutor } from 'shmex';

const sizes = [4, 16, 64, 128, 256, 512, 1024, 4096].map((k) => k * 1024);
const ROUNDS = 41;

const sum = (x: Uint8Array) => x[0]! + x[x.length - 1]!;

const inline = new ProcessPoolExecutor({ maxWorkers: 1, threshold: Number.POSITIVE_INFINITY });
const segment = new ProcessPoolExecutor({ maxWorkers: 1, threshold: 1 });

async function time(ex: ProcessPoolExecutor, x: Uint8Array): Promise<number> {
  const t0 = performance.now();
  await ex.submit(sum, x);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log('bytes\tinline ms\tsegment ms\tsegment/inline');
for (const size of sizes) {
  const x = new Uint8Array(size).fill(1);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 5; i++) {
    await time(inline, x);
    await time(segment, x);
  }
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await time(inline, x));
    b.push(await time(segment, x));
  }
  const [ma, mb] = [median(a), median(b)];
  console.log(`${size}\t${ma.toFixed(3)}\t${mb.toFixed(3)}\t${(mb / ma).toFixed(2)}`);
}
await inline.shutdown();
await segment.shutdown();
