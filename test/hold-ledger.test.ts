// The hold ledger's transitions, in this process, no worker: each row is a
// sequence of hold / free / peer-death / adoption events, the steps the
// ledger answers and the counts it keeps after it (see the protocol at the
// top of src/shm/hold-ledger.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HoldLedger, type HoldStep, type LedgerSnapshot } from '../dist/shm/hold-ledger.js';

interface FakePeer {
  readonly pid: number | undefined;
}

const PARENT = 100;
const W1 = 201;
const W2 = 202;

/** A well-formed segment name of `pid` (the ledger routes by the pid in it). */
function seg(pid: number, n: number): string {
  return `shmex.${pid}.7.${n.toString(16).padStart(24, '0')}`;
}

const A = seg(PARENT, 1); // the parent's own
const B = seg(W1, 2); // worker 1's
const C = seg(W1, 3); // worker 1's, never mapped shared here
const D = seg(W2, 4); // worker 2's
const ADOPTED = seg(PARENT, 5); // the parent's second name for B, once adopted

type Op =
  | ['acquired' | 'hold' | 'free' | 'mapped' | 'owe', string]
  | ['forget', string]
  | ['dropped', string, boolean]
  | ['died', number, string[]]
  | ['adopt', string, string, number];

interface Row {
  what: string;
  /** The pid of the process the ledger is in: PARENT, a worker's, or 0 (a worker thread). */
  self: number;
  /** Peers by pid; a worker has its parent upstream instead. */
  peers?: number[];
  upstream?: number;
  ops: Op[];
  /** One per op: 'none', 'take', 'recycle', 'settle' or 'send <pid>'; died: the names needed, 'B:lent'. */
  steps: string[];
  after: Partial<LedgerSnapshot>;
}

const EMPTY: LedgerSnapshot = { own: {}, owed: {}, views: {}, adopted: [] };

const short = (name: string) =>
  ({ [A]: 'A', [B]: 'B', [C]: 'C', [D]: 'D', [ADOPTED]: 'ADOPTED' })[name] ?? name;

function render(step: HoldStep<FakePeer>): string {
  return step.kind === 'send' ? `send ${step.to.pid}` : step.kind;
}

function apply(ledger: HoldLedger<FakePeer>, op: Op): string {
  switch (op[0]) {
    case 'acquired':
      ledger.acquired(op[1]);
      return 'none';
    case 'forget':
      ledger.forget([op[1]]);
      return 'none';
    case 'owe':
      ledger.owe([op[1]]);
      return 'none';
    case 'mapped':
      ledger.mapped(op[1]);
      return 'none';
    case 'hold':
      return render(ledger.hold(op[1]));
    case 'free':
      return render(ledger.free(op[1]));
    case 'dropped':
      return render(ledger.dropped(op[1], op[2]));
    case 'died': {
      const needed = ledger.ownerDied(op[1], op[2]);
      return [...needed].map(([name, lent]) => `${short(name)}:${lent}`).join(' ');
    }
    case 'adopt':
      ledger.adopt(op[1], op[2], op[3]);
      return 'none';
  }
}

function run(row: Row): { steps: string[]; snapshot: LedgerSnapshot } {
  const ledger = new HoldLedger<FakePeer>(row.self);
  for (const pid of row.peers ?? []) ledger.join({ pid });
  if (row.upstream !== undefined) ledger.setUpstream({ pid: row.upstream });
  const steps = row.ops.map((op) => apply(ledger, op));
  return { steps, snapshot: ledger.snapshot() };
}

const rows: Row[] = [
  // --- segments this process owns ---
  {
    what: 'a new segment has one hold; freeing it recycles it',
    self: PARENT,
    ops: [
      ['acquired', A],
      ['free', A],
    ],
    steps: ['none', 'recycle'],
    after: { own: { [A]: 0 } },
  },
  {
    what: 'a segment lent twice is free after three frees',
    self: PARENT,
    ops: [
      ['acquired', A],
      ['hold', A],
      ['hold', A],
      ['free', A],
      ['free', A],
      ['free', A],
    ],
    steps: ['none', 'none', 'none', 'none', 'none', 'recycle'],
    after: { own: { [A]: 0 } },
  },
  {
    what: 'a free of a free segment changes nothing (a forged or repeated free)',
    self: PARENT,
    ops: [
      ['acquired', A],
      ['free', A],
      ['free', A],
    ],
    steps: ['none', 'recycle', 'none'],
    after: { own: { [A]: 0 } },
  },
  {
    what: 'a hold on a free segment takes it off the free list',
    self: PARENT,
    ops: [
      ['acquired', A],
      ['free', A],
      ['hold', A],
    ],
    steps: ['none', 'recycle', 'take'],
    after: { own: { [A]: 1 } },
  },
  {
    what: 'a trimmed segment is forgotten: a late free of its name is ignored',
    self: PARENT,
    ops: [
      ['acquired', A],
      ['free', A],
      ['forget', A],
      ['free', A],
    ],
    steps: ['none', 'recycle', 'none', 'none'],
    after: EMPTY,
  },
  {
    what: 'leases of our own segments are not owed',
    self: PARENT,
    peers: [W1],
    ops: [
      ['acquired', A],
      ['owe', A],
      ['owe', seg(PARENT, 9)],
    ],
    steps: ['none', 'none', 'none'],
    after: { own: { [A]: 1 }, owed: {} },
  },
  // --- segments of live peers ---
  {
    what: 'a result received, mapped and collected: its hold goes back to the worker',
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['dropped', B, true],
    ],
    steps: ['none', 'none', 'send 201'],
    after: EMPTY,
  },
  {
    what: "an array in a worker's segment lent on to a task: hold first, free when the task is done",
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['hold', B],
      ['free', B],
      ['dropped', B, true],
    ],
    steps: ['none', 'none', 'send 201', 'send 201', 'send 201'],
    after: EMPTY,
  },
  {
    what: "a copy-on-write array of a worker's segment: freed when collected",
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', C],
      ['dropped', C, false],
    ],
    steps: ['none', 'send 201'],
    after: EMPTY,
  },
  {
    what: 'a name whose owner is no peer, in the parent: nobody to tell',
    self: PARENT,
    peers: [W1],
    ops: [
      ['hold', D],
      ['free', D],
    ],
    steps: ['none', 'none'],
    after: EMPTY,
  },
  {
    what: 'in a worker, every name of another process goes to the parent',
    self: W1,
    upstream: PARENT,
    ops: [
      ['owe', A],
      ['owe', D],
      ['hold', D],
      ['free', D],
      ['dropped', A, true],
    ],
    steps: ['none', 'none', 'send 100', 'send 100', 'send 100'],
    after: { owed: { [D]: 1 } },
  },
  {
    what: 'a worker thread owns nothing: all goes to the parent',
    self: 0,
    upstream: PARENT,
    ops: [
      ['owe', A],
      ['free', A],
    ],
    steps: ['none', 'send 100'],
    after: EMPTY,
  },
  // --- a peer dies ---
  {
    what: 'a dead worker whose segment nothing here uses: nothing adopted, nothing owed',
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['dropped', B, true],
      ['died', W1, [B]],
    ],
    steps: ['none', 'none', 'send 201', ''],
    after: EMPTY,
  },
  {
    what: 'a dead worker whose segment an array of ours lives in: adopted, removed when the array goes',
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['died', W1, [B]],
      ['adopt', B, ADOPTED, 0],
      ['dropped', B, true],
    ],
    steps: ['none', 'none', 'B:0', 'none', 'settle'],
    after: EMPTY,
  },
  {
    what: 'a dead worker whose segment a queued task still names: adopted until the task frees it',
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['hold', B],
      ['dropped', B, true],
      ['died', W1, [B]],
      ['adopt', B, ADOPTED, 1],
      ['free', B],
    ],
    steps: ['none', 'none', 'send 201', 'send 201', 'B:1', 'none', 'settle'],
    after: EMPTY,
  },
  {
    what: 'an adopted segment is lent again under our name, and kept until both our arrays and tasks are done',
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['died', W1, [B]],
      ['adopt', B, ADOPTED, 0],
      ['hold', ADOPTED],
      ['owe', ADOPTED],
      ['dropped', B, true],
      ['free', ADOPTED],
    ],
    steps: ['none', 'none', 'B:0', 'none', 'none', 'none', 'none', 'settle'],
    after: EMPTY,
  },
  {
    what: 'holds owed on a dead worker’s unmapped segments (private copies) are dropped',
    self: PARENT,
    peers: [W1, W2],
    ops: [
      ['owe', C],
      ['owe', D],
      ['died', W1, []],
    ],
    steps: ['none', 'none', ''],
    after: { owed: { [D]: 1 } },
  },
  {
    what: 'adoption keeps the counts: views and lent, under both names',
    self: PARENT,
    peers: [W1],
    ops: [
      ['owe', B],
      ['mapped', B],
      ['owe', B],
      ['mapped', B],
      ['hold', B],
      ['died', W1, [B]],
      ['adopt', B, ADOPTED, 1],
    ],
    steps: ['none', 'none', 'none', 'none', 'send 201', 'B:1', 'none'],
    after: { owed: {}, views: {}, adopted: [{ names: [ADOPTED, B], views: 2, lent: 1 }] },
  },
];

for (const row of rows) {
  test(`ledger: ${row.what}`, () => {
    const { steps, snapshot } = run(row);
    assert.deepEqual(steps, row.steps);
    const expected = { ...EMPTY, ...row.after };
    for (const key of Object.keys(row.after) as (keyof LedgerSnapshot)[]) {
      assert.deepEqual(snapshot[key], expected[key], key);
    }
    if (row.after === EMPTY) assert.deepEqual(snapshot, EMPTY);
  });
}

test('ledger: after a peer leaves, its names are no longer routed to it, and its segments no longer pass on', () => {
  const ledger = new HoldLedger<FakePeer>(PARENT);
  const w1 = { pid: W1 };
  ledger.join(w1);
  assert.equal(ledger.ownerAlive(W1), true);
  assert.equal(ledger.route(B), w1);
  ledger.leave({ pid: W1 }); // another peer with that pid: not the one routed to
  assert.equal(ledger.route(B), w1);
  ledger.leave(w1);
  assert.equal(ledger.ownerAlive(W1), false);
  assert.equal(ledger.route(B), undefined);
  assert.equal(ledger.ownerAlive(PARENT), true, 'our own segments pass on');
  assert.deepEqual([...ledger.peers()], []);
});

test('ledger: the adopted names are both names of each adopted segment', () => {
  const ledger = new HoldLedger<FakePeer>(PARENT);
  ledger.join({ pid: W1 });
  ledger.owe([B]);
  ledger.mapped(B);
  ledger.ownerDied(W1, [B]);
  ledger.adopt(B, ADOPTED, 0);
  assert.deepEqual(ledger.adoptedNames(), [ADOPTED, B]);
  assert.equal(ledger.views(B), 1);
  assert.equal(ledger.views(ADOPTED), 1);
});

// --- holds lent to workers: what the parent frees for a worker that died ---

interface BorrowerRow {
  what: string;
  lent: string[][];
  /** Controls the worker sent: a free, or a hold for a task's result. */
  sent: (['free', string[]] | ['hold', string[], number])[];
  answered: number[];
  requeued: string[][];
  lostTasks: number[];
  freed: string[];
}

const S = seg(PARENT, 20);
const T = seg(PARENT, 21);
const P = seg(W2, 22);
const Q = seg(W2, 23);

const borrowerRows: BorrowerRow[] = [
  {
    what: 'what it was given and did not free is freed, once per hold',
    lent: [[S, T], [S]],
    sent: [['free', [T]]],
    answered: [],
    requeued: [],
    lostTasks: [],
    freed: [S, S],
  },
  {
    what: 'the leases of tasks that go back to the queue stay held for the next worker',
    lent: [[S], [S, T]],
    sent: [],
    answered: [],
    requeued: [[S, T]],
    lostTasks: [],
    freed: [S],
  },
  {
    what: 'frees beyond what it was given change nothing',
    lent: [[S]],
    sent: [['free', [S, S, T]]],
    answered: [],
    requeued: [],
    lostTasks: [],
    freed: [],
  },
  {
    what: 'the holds it took for a result lost with it are freed; those of answered tasks are not',
    lent: [],
    sent: [
      ['hold', [P], 7],
      ['hold', [Q], 8],
      ['hold', [P], 7],
    ],
    answered: [8],
    requeued: [],
    lostTasks: [7, 8],
    freed: [P, P],
  },
  {
    what: 'a requeued lease it was never counted for frees nothing',
    lent: [],
    sent: [],
    answered: [],
    requeued: [[S]],
    lostTasks: [],
    freed: [],
  },
];

for (const row of borrowerRows) {
  test(`ledger, a worker dies: ${row.what}`, () => {
    const ledger = new HoldLedger<FakePeer>(PARENT);
    const worker = { pid: W1 };
    for (const leases of row.lent) ledger.lentTo(worker, leases);
    for (const control of row.sent) {
      if (control[0] === 'free') ledger.noted(worker, 'free', control[1]);
      else ledger.noted(worker, 'hold', control[1], control[2]);
    }
    for (const task of row.answered) ledger.answered(worker, task);
    assert.deepEqual(ledger.borrowerDied(worker, row.requeued, row.lostTasks), row.freed);
    assert.deepEqual(ledger.borrowerSnapshot(worker), { lent: {}, passed: {} }, 'nothing is kept for it');
  });
}
