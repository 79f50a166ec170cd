// Runs the TypeScript examples of a Markdown document: a ```ts block whose
// first line is `// name.ts` (other than `// main.ts`) is written as that
// file, a module the programs import; a block that starts with an import (or
// `// main.ts`, then an import) is a program, run with tsx; its expected
// output is the comment after each console.log call.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DocProgram {
  index: number;
  code: string;
  expected: string[];
}

export function tsBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const fence = /^( *)```ts\n([\s\S]*?)^\1```/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1]!.length;
    blocks.push(
      match[2]!
        .split('\n')
        .map((line) => line.slice(indent))
        .join('\n'),
    );
  }
  return blocks;
}

/** Writes the file blocks into `dir` and returns the programs, in document order. */
export function prepareExamples(markdownPath: string, dir: string): DocProgram[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const programs: DocProgram[] = [];
  tsBlocks(readFileSync(markdownPath, 'utf8')).forEach((code, index) => {
    const fileName = /^\/\/ ([\w./-]+\.ts)\n/.exec(code)?.[1];
    if (fileName !== undefined && fileName !== 'main.ts') {
      writeFileSync(join(dir, fileName), code);
    } else if (/^(\/\/ [\w./-]+\.ts\n)?import /.test(code)) {
      // One line, or (as the formatter wraps long calls) several, closed by `); // output` at the call's indentation.
      const calls = /console\.log\(.*\); \/\/ (.*)$|^( *)console\.log\(\n[\s\S]*?\n\2\); \/\/ (.*)$/gm;
      const expected = [...code.matchAll(calls)].map((m) => (m[1] ?? m[3])!);
      programs.push({ index, code, expected });
    }
  });
  return programs;
}

export function runProgram(
  program: DocProgram,
  dir: string,
): { stdout: string; stderr: string; status: number | null } {
  const file = join(dir, `example-${program.index}.ts`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, program.code);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}
