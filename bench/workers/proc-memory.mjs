// Memory of a process tree, counting every shared-memory page once:
//   sum over the root and all its descendants of (Pss - Pss_Shmem), read from
//   /proc/<pid>/smaps_rollup, plus the space used in /dev/shm (statfs).
// Pss splits a page shared by k processes k ways; Pss_Shmem (shmem pages,
// /dev/shm mappings among them) is left out of the per-process part because
// /dev/shm's own usage counts those pages, mapped or not, exactly once.
// Plain JavaScript: loaded both by the main thread and by the sampler thread.
import { readdirSync, readFileSync, statfsSync } from 'node:fs';

/** Pids of `root` and all its descendants (from the ppid field of /proc/<pid>/stat). */
export function processTree(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let text;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ', 3)[1]);
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const child of children.get(tree[i]) ?? []) tree.push(child);
  return tree;
}

function field(text, name) {
  const at = text.indexOf(`\n${name}:`);
  if (at < 0) return 0;
  return Number.parseInt(text.slice(at + name.length + 2), 10);
}

/** kB of (Pss - Pss_Shmem) summed over `pids` (default: the tree of `root`, scanned now). */
export function privateKb(root, pids = processTree(root)) {
  let kb = 0;
  for (const pid of pids) {
    let text;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    kb += field(text, 'Pss') - field(text, 'Pss_Shmem');
  }
  return kb;
}

/** kB used in the shared-memory directory. */
export function shmUsedKb(dir = '/dev/shm') {
  const s = statfsSync(dir);
  return ((s.blocks - s.bfree) * s.bsize) / 1024;
}

/** One sample: { privateKb, shmKb, totalKb }; `pids` as for privateKb. */
export function sample(root, pids = processTree(root), dir = '/dev/shm') {
  const p = privateKb(root, pids);
  const s = shmUsedKb(dir);
  return { privateKb: p, shmKb: s, totalKb: p + s };
}
