// What messages about a wrong option or argument share: the value shown with
// its type (`got the string "4"`, not `got 4`), and unknown option keys
// refused with the closest known one suggested (a typo such as `maxWorkrs`
// would otherwise be ignored without a word).
import { InvalidArgumentError } from './errors.js';

/** A value as a message shows it: its type and, for primitives, the value itself. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    case 'number':
      return Number.isNaN(value) ? 'NaN' : `the number ${value}`;
    case 'bigint':
      return `the bigint ${value}n`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'symbol':
      return `the symbol ${value.description === undefined ? '' : value.description}`.trimEnd();
    case 'function':
      return value.name === '' ? 'an anonymous function' : `the function ${value.name}`;
    default: {
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      const proto = Object.getPrototypeOf(value);
      return proto === null || proto === Object.prototype || typeof name !== 'string'
        ? 'an object'
        : `an instance of ${name}`;
    }
  }
}

/** Edit distance (insertions, deletions, substitutions; case-insensitive), for suggesting an option name. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** The known name closest to `key`, if it is close enough to be a likely typo. */
export function closestName(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = distance(key, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Throws InvalidArgumentError for the first own key of `options` that is not
 * in `known`. `aliases` maps names other libraries use (lower case) to ours.
 */
export function rejectUnknownKeys(
  options: object,
  known: readonly string[],
  where: string,
  aliases: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const closest = aliases[key.toLowerCase()] ?? closestName(key, known);
    throw new InvalidArgumentError(
      `${where}: unknown option '${key}'${closest === undefined ? '' : `; did you mean '${closest}'?`} ` +
        `The known options are: ${known.join(', ')}.`,
    );
  }
}
