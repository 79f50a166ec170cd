// The Future tests on ProcessPoolExecutor; threads-api.test.ts binds the same suite
// (test/suites/futures.ts) to ThreadPoolExecutor.
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { futuresSuite } from './suites/futures.js';

guardSharedMemory();

futuresSuite(ProcessPoolExecutor, '');
