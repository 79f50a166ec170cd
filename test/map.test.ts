// The executor.map() tests on ProcessPoolExecutor; threads-api.test.ts binds the same suite
// (test/suites/map.ts) to ThreadPoolExecutor.
import { ProcessPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { mapSuite } from './suites/map.js';

guardSharedMemory();

mapSuite(ProcessPoolExecutor, '');
