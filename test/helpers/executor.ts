// The executor class the API tests run against: ProcessPoolExecutor, or
// ThreadPoolExecutor when threads-api.test.ts runs those same files with
// SHMEX_TEST_EXECUTOR=thread (their semantics match: futures, map, waiting).
import { ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';

export const Executor: typeof ProcessPoolExecutor | typeof ThreadPoolExecutor =
  process.env.SHMEX_TEST_EXECUTOR === 'thread' ? ThreadPoolExecutor : ProcessPoolExecutor;

/** ' (threads)' when running on threads, to tell the two runs' test names apart. */
export const onWhat = process.env.SHMEX_TEST_EXECUTOR === 'thread' ? ' (threads)' : '';
