// The API tests of futures, map and waiting on a ThreadPoolExecutor: the
// suites of future.test.ts, map.test.ts, map-to-array.test.ts and
// waiting.test.ts, bound here to the other executor kind (their semantics are
// the same for both). Each name ends in " (threads)".
import { ThreadPoolExecutor } from 'shmex';
import { guardSharedMemory } from './helpers/shm-guard.js';
import { futuresSuite } from './suites/futures.js';
import { mapSuite } from './suites/map.js';
import { mapToArraySuite } from './suites/map-to-array.js';
import { waitingSuite } from './suites/waiting.js';

guardSharedMemory();

const label = ' (threads)';
futuresSuite(ThreadPoolExecutor, label);
mapSuite(ThreadPoolExecutor, label);
mapToArraySuite(ThreadPoolExecutor, label);
waitingSuite(ThreadPoolExecutor, label);
