// A binding of the suites may skip tests whose behaviour its executor
// documents as different (ClusterExecutor: docs/cluster.md), with the reason.
// The suites register their tests through suiteTest(), which looks them up.
import { test } from 'node:test';

let differences: Record<string, string> = {};

/** Skips, for the suites registered next, the tests whose name starts with a key, giving its reason. */
export function documentedDifferences(skips: Record<string, string>): void {
  differences = skips;
}

export function suiteTest(name: string, fn: () => Promise<void> | void): void {
  const reason = Object.entries(differences).find(([start]) => name.startsWith(start))?.[1];
  test(name, reason === undefined ? {} : { skip: reason }, fn);
}
