// The asCompleted() and wait() tests on ProcessPoolExecutor; threads-api.test.ts binds the same suite
// (test/suites/waiting.ts) to ThreadPoolExecutor.
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { waitingSuite } from './suites/waiting.js';

guardSharedMemory();

waitingSuite(ProcessPoolExecutor, '');
