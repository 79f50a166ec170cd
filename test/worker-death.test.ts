// The decision of what becomes of a dead worker's unanswered tasks, from its
// receipts page, tested without processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyUnanswered } from '../dist/pool/worker-death.js';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const items = ['a', 'b', 'c', 'd', 'e'];

test('finished and unanswered: lost; started and not finished: crashed; the rest never started', () => {
  // 10 answered; it started 13 (a, b, c) and finished 12 (a, b).
  assert.deepEqual(classifyUnanswered(items, { started: 13, finished: 12 }, 10), {
    lost: ['a', 'b'],
    unknown: [],
    crashed: 'c',
    notStarted: ['d', 'e'],
  });
});

test('every outcome arrived before the worker died: nothing fails, the rest runs elsewhere', () => {
  assert.deepEqual(classifyUnanswered(items, { started: 10, finished: 10 }, 10), {
    lost: [],
    unknown: [],
    crashed: undefined,
    notStarted: items,
  });
  // Died between tasks, after finishing one whose outcome did not arrive.
  assert.deepEqual(classifyUnanswered(items, { started: 11, finished: 11 }, 10), {
    lost: ['a'],
    unknown: [],
    crashed: undefined,
    notStarted: ['b', 'c', 'd', 'e'],
  });
});

test('without a receipts page, every task sent counts as started: the last one crashed, the others unknown', () => {
  assert.deepEqual(classifyUnanswered(items, { started: Number.POSITIVE_INFINITY, finished: 0 }, 10), {
    lost: [],
    unknown: ['a', 'b', 'c', 'd'],
    crashed: 'e',
    notStarted: [],
  });
});
