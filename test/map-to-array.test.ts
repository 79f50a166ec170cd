// The map(...).toArray() tests on ProcessPoolExecutor; threads-api.test.ts binds the same suite
// (test/suites/map-to-array.ts) to ThreadPoolExecutor.
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { mapToArraySuite } from './suites/map-to-array.js';

guardSharedMemory();

mapToArraySuite(ProcessPoolExecutor, '');
