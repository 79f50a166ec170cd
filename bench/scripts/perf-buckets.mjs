// Where the CPU time of a tiny-task run goes, per thread, in µs per task:
// samples of `perf record` (every thread of the parent and its workers,
// kernel included) sorted into buckets: system calls, copies, allocation,
// collection, compilation, and JavaScript by file. Unlike a V8 CPU profile,
// a sample is taken only while a thread runs, so time spent waiting for a
// core is not counted as time in the call that waited. One run of
// tiny-cpu.mjs's child (3 bursts of warm-up, then TINY_ROUNDS of 2000 tasks;
// 60 make the start of the processes a small part of the run):
//
//   perf record -F 4000 -g -o /tmp/tiny.data -- env TINY_ROUNDS=60 \
//     TINY_WORKER_ARGS='--perf-basic-prof --logfile=/dev/null' node --perf-basic-prof --logfile=/dev/null \
//     bench/scripts/tiny-cpu.mjs --child "$PWD" throughput sum   # or: floor
//   perf script -i /tmp/tiny.data -F tid,pid,ip,sym,dso | node bench/scripts/perf-buckets.mjs --tasks 126000
//
// (--logfile: V8 would write an isolate-*.log per process into the current
// directory.) That profile holds the start and the warm-up too, and V8 still
// compiles functions of a tiny task's path (those called per message, not
// per task) thousands of tasks in. For the timed runs alone (TINY_ROUNDS of them):
//
//   TINY_PERF_OUT=/tmp/tiny.data TINY_ROUNDS=40 TINY_WORKER_ARGS='--perf-basic-prof --logfile=/dev/null' \
//     node --perf-basic-prof --logfile=/dev/null bench/scripts/tiny-cpu.mjs --child "$PWD" throughput sum
//   perf script -i /tmp/tiny.data -F tid,pid,ip,sym,dso | node bench/scripts/perf-buckets.mjs --tasks 80000
// Threads are listed by process: "main" is the JavaScript thread, "other"
// the rest (V8's collector and compiler, libuv). Workers share the tasks, so
// dividing each by all tasks makes their figures add up per task.
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
};
const HZ = opt('--hz', 4000);
const TASKS = opt('--tasks', 13 * 2000);

function bucket(frames) {
  const has = (s) => frames.some((f) => f.includes(s));
  if (has('exc_page_fault')) return 'page faults';
  if (has('ksys_write') || has('do_writev') || has('__x64_sys_write'))
    return 'syscall: write (into the pipe, wake the reader)';
  if (has('ksys_read') || has('__x64_sys_read')) return 'syscall: read (out of the pipe)';
  if (has('do_epoll_wait') || has('epoll_pwait')) return 'syscall: epoll';
  if (frames[0]?.includes('[kernel')) return 'kernel: other (scheduling, interrupts, futex)';
  if (/Scavenge|MarkCompact|CollectGarbage|ConcurrentMarking|Sweeper/.test(frames.join(' ')))
    return 'garbage collection';
  if (has('compiler::') || has('Compile')) return 'compilation (JIT)';
  const leaf = frames[0] ?? '';
  if (/memmove|memcpy/.test(leaf)) return 'memcpy';
  if (leaf.includes('memset')) return 'memset (zeroed new memory)';
  if (/malloc|_int_free|cfree|unlink_chunk|consolidate|calloc|ArrayBufferAllocator|BackingStore/.test(leaf))
    return 'malloc/free';
  const js = frames.find((f) => f.includes('JS:'));
  if (js === undefined) return 'native, no JavaScript frame (event loop, V8 and Node internals)';
  const m = /JS:\S* (\S+?):\d+:\d+/.exec(js) ?? /JS:\S*\s+(\S+)/.exec(js);
  const url = m?.[1] ?? '';
  if (!url.includes('/')) return 'JavaScript: code without a file (a task compiled from its source, eval)';
  if (url.includes('/dist/')) return `JavaScript: shmex ${url.replace(/.*\/dist\//, '')}`;
  if (url.startsWith('node:')) return 'JavaScript: Node internals';
  return `JavaScript: ${url.split('/').pop()}`;
}

const threads = new Map(); // "pid/tid" -> Map(bucket -> samples)
let head;
let frames = [];
const flush = () => {
  if (head !== undefined) {
    const [pid, tid] = head.trim().split('/');
    const key = `${pid} ${pid === tid ? 'main' : 'other'}`;
    const buckets = threads.get(key) ?? new Map();
    const b = bucket(frames);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
    threads.set(key, buckets);
  }
  head = undefined;
  frames = [];
};
for await (const line of createInterface({ input: process.stdin })) {
  if (line === '') flush();
  else if (head === undefined) head = line;
  else frames.push(line.trim().replace(/^[0-9a-f]+\s+/, ''));
}
flush();
const us = (samples) => ((samples * 1e6) / HZ / TASKS).toFixed(2).padStart(7);
const total = (buckets) => [...buckets.values()].reduce((a, b) => a + b, 0);
for (const [key, buckets] of [...threads].sort((a, b) => a[0].localeCompare(b[0]))) {
  if (total(buckets) * 20 < TASKS * (HZ / 1e6) * 20) continue; // under 0.05 µs per task
  console.log(`process ${key} thread(s): ${us(total(buckets))} µs per task`);
  for (const [name, n] of [...buckets].sort((a, b) => b[1] - a[1]))
    if (n > 1) console.log(`${us(n)}  ${name}`);
}
