// resolveOptions, tested in this process from a table: the options of an
// executor in, the resolved options or the error out. No executor is made.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ResolvedOptions, resolveOptions } from '../dist/resolve-options.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const env = {
  execArgv: ['--enable-source-maps', '-e', 'code', '--inspect=9229'],
  availableParallelism: 6,
  defaultShmDir: '/dev/shm',
};

const processDefaults: ResolvedOptions = {
  where: 'ProcessPoolExecutor',
  maxWorkers: 6,
  maxTasksPerChild: undefined,
  threshold: 64 * 1024,
  shmDir: '/dev/shm',
  fallbackDir: undefined,
  execArgv: ['--enable-source-maps'],
  initializer: undefined,
  initargs: [],
  reportUnobserved: true,
  maxQueuedBytes: undefined,
  workerAllocator: 'shared',
};

const init = () => {};

const resolved: [string, unknown, 'process' | 'thread', Partial<ResolvedOptions>][] = [
  ['no options: the defaults, execArgv inherited without -e and --inspect', {}, 'process', {}],
  [
    "a thread pool inherits no execArgv, and its threads make large arrays in shared memory ('shared')",
    {},
    'thread',
    { where: 'ThreadPoolExecutor', execArgv: [] },
  ],
  [
    'maxWorkers and maxTasksPerChild',
    { maxWorkers: 2, maxTasksPerChild: 10 },
    'process',
    { maxWorkers: 2, maxTasksPerChild: 10 },
  ],
  [
    'threshold 0 becomes 1: empty buffers always travel inline',
    { threshold: 0 },
    'process',
    { threshold: 1 },
  ],
  ['threshold Infinity', { threshold: Infinity }, 'process', { threshold: Infinity }],
  [
    'directories as given',
    { shmDir: '/tmp/a', fallbackDir: '/tmp/b' },
    'process',
    { shmDir: '/tmp/a', fallbackDir: '/tmp/b' },
  ],
  [
    'execArgv given replaces the inherited one',
    { execArgv: ['--no-warnings'] },
    'thread',
    { where: 'ThreadPoolExecutor', execArgv: ['--no-warnings'] },
  ],
  [
    'an initializer and its arguments',
    { initializer: init, initargs: [1, 2] },
    'process',
    { initializer: init, initargs: [1, 2] },
  ],
  ["unobservedFailures 'ignore'", { unobservedFailures: 'ignore' }, 'process', { reportUnobserved: false }],
  ['maxQueuedBytes 0', { maxQueuedBytes: 0 }, 'process', { maxQueuedBytes: 0 }],
  [
    'maxQueuedBytes Infinity',
    { maxQueuedBytes: Infinity },
    'thread',
    { where: 'ThreadPoolExecutor', execArgv: [], maxQueuedBytes: Infinity },
  ],
  ["workerAllocator 'default'", { workerAllocator: 'default' }, 'process', { workerAllocator: 'default' }],
  [
    "a thread pool takes workerAllocator 'default'",
    { workerAllocator: 'default' },
    'thread',
    { where: 'ThreadPoolExecutor', execArgv: [], workerAllocator: 'default' },
  ],
  ['undefined values are defaults', { maxWorkers: undefined, threshold: undefined }, 'process', {}],
];

for (const [name, options, kind, expected] of resolved) {
  test(`resolves: ${name}`, () => {
    assert.deepEqual(resolveOptions(options, kind, env), { ...processDefaults, ...expected });
  });
}

const refused: [string, unknown, 'process' | 'thread', RegExp][] = [
  [
    'options that are not an object',
    null,
    'process',
    /^ProcessPoolExecutor: options must be an object, got null$/,
  ],
  [
    'options that are a number',
    4,
    'thread',
    /^ThreadPoolExecutor: options must be an object, got the number 4$/,
  ],
  [
    'an unknown key close to a known one',
    { maxWorkrs: 2 },
    'process',
    /^ProcessPoolExecutor: unknown option 'maxWorkrs'; did you mean 'maxWorkers'\? The known options are: maxWorkers, initializer, initargs, maxTasksPerChild, threshold, shmDir, fallbackDir, execArgv, unobservedFailures, maxQueuedBytes, workerAllocator\.$/,
  ],
  [
    'a name other libraries use',
    { concurrency: 2 },
    'process',
    /unknown option 'concurrency'; did you mean 'maxWorkers'\?/,
  ],
  [
    'an alias in another case',
    { Threads: 2 },
    'thread',
    /^ThreadPoolExecutor: unknown option 'Threads'; did you mean 'maxWorkers'\?/,
  ],
  [
    'an unknown key like no known one',
    { colour: 'red' },
    'process',
    /unknown option 'colour' The known options are/,
  ],
  [
    'maxWorkers as a string',
    { maxWorkers: '4' },
    'process',
    /maxWorkers must be a positive integer, got the string "4"$/,
  ],
  ['maxWorkers 0', { maxWorkers: 0 }, 'process', /maxWorkers must be a positive integer, got the number 0$/],
  [
    'maxWorkers 1.5',
    { maxWorkers: 1.5 },
    'process',
    /maxWorkers must be a positive integer, got the number 1.5$/,
  ],
  [
    'maxTasksPerChild NaN',
    { maxTasksPerChild: Number.NaN },
    'process',
    /maxTasksPerChild must be a positive integer, got NaN$/,
  ],
  [
    'threshold negative',
    { threshold: -1 },
    'process',
    /threshold must be a number of bytes >= 0, got the number -1$/,
  ],
  [
    'threshold NaN',
    { threshold: Number.NaN },
    'process',
    /threshold must be a number of bytes >= 0, got NaN$/,
  ],
  [
    'threshold a bigint',
    { threshold: 10n },
    'process',
    /threshold must be a number of bytes >= 0, got the bigint 10n$/,
  ],
  ['shmDir empty', { shmDir: '' }, 'process', /shmDir must be a directory path, got the string ""$/],
  [
    'fallbackDir a URL',
    { fallbackDir: new URL('file:///tmp') },
    'process',
    /fallbackDir must be a directory path, got an instance of URL$/,
  ],
  [
    'execArgv a string',
    { execArgv: '--no-warnings' },
    'process',
    /execArgv must be an array of strings, got the string "--no-warnings"$/,
  ],
  [
    'execArgv holding a number',
    { execArgv: ['--a', 3] },
    'process',
    /execArgv must be an array of strings, got an array holding the number 3$/,
  ],
  ['initargs not an array', { initargs: { a: 1 } }, 'process', /initargs must be an array, got an object$/],
  [
    'maxQueuedBytes negative',
    { maxQueuedBytes: -1 },
    'process',
    /maxQueuedBytes must be a number of bytes >= 0 \(or Infinity\), got the number -1$/,
  ],
  [
    'maxQueuedBytes NaN',
    { maxQueuedBytes: Number.NaN },
    'thread',
    /^ThreadPoolExecutor: maxQueuedBytes must be .* got NaN$/,
  ],
  [
    'maxQueuedBytes a string',
    { maxQueuedBytes: '1G' },
    'process',
    /maxQueuedBytes must be .* got the string "1G"$/,
  ],
  [
    'unobservedFailures unknown',
    { unobservedFailures: 'loud' },
    'process',
    /unobservedFailures must be 'warn' or 'ignore', got the string "loud"$/,
  ],
  [
    'workerAllocator unknown',
    { workerAllocator: 'jemalloc' },
    'process',
    /^ProcessPoolExecutor: workerAllocator must be 'tuned', 'shared' or 'default', got the string "jemalloc"$/,
  ],
  [
    'workerAllocator a boolean',
    { workerAllocator: true },
    'thread',
    /^ThreadPoolExecutor: workerAllocator must be 'tuned', 'shared' or 'default', got the boolean true$/,
  ],
  [
    "workerAllocator 'tuned' for threads",
    { workerAllocator: 'tuned' },
    'thread',
    /^ThreadPoolExecutor: workerAllocator cannot be 'tuned' for threads: they share this process's allocator/,
  ],
  [
    'the first problem wins, in the order of the checks',
    { maxWorkers: 0, threshold: -1 },
    'process',
    /maxWorkers must be/,
  ],
];

for (const [name, options, kind, message] of refused) {
  test(`refuses: ${name}`, () => {
    assert.throws(() => resolveOptions(options, kind, env), {
      name: 'InvalidArgumentError',
      code: 'ERR_SHMEX_INVALID_ARGUMENT',
      message,
    });
  });
}

test('resolveOptions reads nothing but its arguments: the same input gives the same output', () => {
  const options = { maxWorkers: 3 };
  assert.deepEqual(resolveOptions(options, 'process', env), resolveOptions(options, 'process', env));
  assert.deepEqual(options, { maxWorkers: 3 }, 'the options are not changed');
  const other = { execArgv: [], availableParallelism: 1, defaultShmDir: '/dev/shm' };
  assert.deepEqual(resolveOptions({}, 'process', other).execArgv, []);
  assert.equal(resolveOptions({}, 'process', other).maxWorkers, 1);
});
