// What becomes of the tasks a worker had when it died, decided from its
// receipts page alone (see WorkerConfig.receipts). The worker runs its tasks
// in the order they were sent and counts, over its life, those it started and
// those it finished; the pool counts those whose outcome it received. Of the
// tasks sent and not answered, in order:
//
//   [ finished, outcome lost | running | never started ............ ]
//     fail (lost)              fail      run elsewhere, none twice
//
// Without a receipts page, every task sent counts as started: the last one is
// taken for the running one, and those before it fail as `unknown`.

/** The unanswered tasks of a dead worker, by what they fail with or where they go. */
export interface Unanswered<Item> {
  /** It finished them; their outcomes were lost with it. */
  lost: Item[];
  /** It had no receipts page: it may have run them. */
  unknown: Item[];
  /** The one it was running when it died, if any. */
  crashed: Item | undefined;
  /** Never started: their arguments are untouched. */
  notStarted: Item[];
}

/**
 * `items`: the tasks it was sent and did not answer, in the order sent;
 * `answered`: how many outcomes the pool received from it, ever.
 */
export function classifyUnanswered<Item>(
  items: readonly Item[],
  progress: { started: number; finished: number },
  answered: number,
): Unanswered<Item> {
  const ran = Math.min(items.length, Math.max(0, progress.started - answered));
  const lost = items.slice(0, Math.min(ran, Math.max(0, progress.finished - answered)));
  return {
    lost,
    unknown: items.slice(lost.length, Math.max(lost.length, ran - 1)),
    crashed: ran > lost.length ? items[ran - 1] : undefined,
    notStarted: items.slice(ran),
  };
}

/** What failUnanswered settles. */
export interface Rejectable {
  control: { reject(error: unknown): void };
}

/**
 * The one place a dead worker's tasks fail: those it may have run, those it
 * finished, and the one it was running. `crashError(when)`: the worker's
 * error, `when` saying at what point of the task it died (undefined: while
 * running it).
 */
export function failUnanswered<Item extends Rejectable>(
  { unknown, lost, crashed }: Unanswered<Item>,
  crashError: (when: string | undefined) => Error,
): void {
  for (const item of unknown) {
    item.control.reject(crashError('before it could tell whether it had run this task'));
  }
  for (const item of lost) {
    item.control.reject(crashError('after it finished this task, before its result was sent'));
  }
  crashed?.control.reject(crashError(undefined));
}
