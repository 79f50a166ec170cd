// The suites in this folder are defined once, as functions of the executor
// class, and bound per kind by test files: future.test.ts binds them to
// ProcessPoolExecutor, threads-api.test.ts to ThreadPoolExecutor (as CPython's
// create_executor_tests does). They are not test files themselves: node --test
// runs only *.test.js files here, never a plain module in suites/.
import type { ProcessPoolExecutor, ThreadPoolExecutor } from 'shmex';

export type ExecutorClass = typeof ProcessPoolExecutor | typeof ThreadPoolExecutor;
