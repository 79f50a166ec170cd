// Where a value sits inside a task's arguments or result, built lazily and
// rendered only for an error message: `args[0].tiles.get("a")[3]`.
export type PathNode =
  | { label: string }
  | { up: PathNode; key: string | number }
  | { up: PathNode; how: 'key' | 'get' | 'has'; of: unknown };

export function step(up: PathNode, key: string | number): PathNode {
  return { up, key };
}

export function mapStep(up: PathNode, how: 'key' | 'get' | 'has', of: unknown): PathNode {
  return { up, how, of };
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return `<${typeof value}>`;
}

/** The path to `node`; with `steps`, only its first `steps` steps below the label. */
export function renderPath(node: PathNode, steps = Number.POSITIVE_INFINITY): string {
  // Iterative: a path may be as long as a value is deep.
  const chain: Exclude<PathNode, { label: string }>[] = [];
  let at = node;
  while (!('label' in at)) {
    chain.push(at);
    at = at.up;
  }
  let out = at.label;
  for (const link of chain.reverse().slice(0, steps)) {
    if ('key' in link) {
      if (typeof link.key === 'number') out += `[${link.key}]`;
      else out += /^[A-Za-z_$][\w$]*$/.test(link.key) ? `.${link.key}` : `[${JSON.stringify(link.key)}]`;
    } else if (link.how === 'key') out += `.keys() entry ${show(link.of)}`;
    else if (link.how === 'get') out += `.get(${show(link.of)})`;
    else out += `.has(${show(link.of)})`;
  }
  return out;
}
