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

export function renderPath(node: PathNode): string {
  if ('label' in node) return node.label;
  const up = renderPath(node.up);
  if ('key' in node) {
    if (typeof node.key === 'number') return `${up}[${node.key}]`;
    return /^[A-Za-z_$][\w$]*$/.test(node.key) ? `${up}.${node.key}` : `${up}[${JSON.stringify(node.key)}]`;
  }
  if (node.how === 'key') return `${up}.keys() entry ${show(node.of)}`;
  if (node.how === 'get') return `${up}.get(${show(node.of)})`;
  return `${up}.has(${show(node.of)})`;
}
