// The API tests of futures, map and waiting (future.test.ts, map.test.ts,
// map-to-array.test.ts, waiting.test.ts) again, on a ThreadPoolExecutor: their semantics are the
// same for both executors.
process.env.SHMEX_TEST_EXECUTOR = 'thread';
await import('./future.test.js');
await import('./map.test.js');
await import('./map-to-array.test.js');
await import('./waiting.test.js');

const { Executor } = await import('./helpers/executor.js');
const { ThreadPoolExecutor } = await import('shmex');
if (Executor !== ThreadPoolExecutor) throw new Error('the API tests did not switch to ThreadPoolExecutor');
