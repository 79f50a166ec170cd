// Runs the examples of a Markdown document. A ```ts block whose first line is
// `// name.ts` (other than `// main.ts`) is written as that file, a module the
// programs import; a ts block that starts with an import (or `// main.ts`,
// then an import) is a program, run with tsx. A ```js or ```mjs block is plain
// JavaScript, as a user pastes it into a `.mjs` file: `// name.mjs` names a
// module, and a block that starts with an import (or `// main.mjs`, then an
// import) is a program, written as a .mjs file and run with plain `node`, not
// transpiled. A program's expected output is the comment after each
// console.log call.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type DocLanguage = 'ts' | 'js';

export interface DocProgram {
  index: number;
  language: DocLanguage;
  code: string;
  expected: string[];
}

export interface DocBlock {
  language: DocLanguage;
  code: string;
}

/** The ts, js and mjs code blocks of `markdown`, in document order (an indented block loses its indent). */
export function codeBlocks(markdown: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  const fence = /^( *)```(ts|js|mjs)\n([\s\S]*?)^\1```/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1]!.length;
    blocks.push({
      language: match[2] === 'ts' ? 'ts' : 'js',
      code: match[3]!
        .split('\n')
        .map((line) => line.slice(indent))
        .join('\n'),
    });
  }
  return blocks;
}

/** Writes the file blocks into `dir` and returns the programs, in document order. */
export function prepareExamples(markdownPath: string, dir: string): DocProgram[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const programs: DocProgram[] = [];
  codeBlocks(readFileSync(markdownPath, 'utf8')).forEach(({ language, code }, index) => {
    const extension = language === 'ts' ? 'ts' : 'mjs';
    const fileName = new RegExp(`^// ([\\w./-]+\\.${extension})\\n`).exec(code)?.[1];
    if (fileName !== undefined && fileName !== `main.${extension}`) {
      writeFileSync(join(dir, fileName), code);
    } else if (new RegExp(`^(// [\\w./-]+\\.${extension}\\n)?import `).test(code)) {
      // One line, or (as the formatter wraps long calls) several, closed by `); // output` at the call's indentation.
      const calls = /console\.log\(.*\); \/\/ (.*)$|^( *)console\.log\(\n[\s\S]*?\n\2\); \/\/ (.*)$/gm;
      const expected = [...code.matchAll(calls)].map((m) => (m[1] ?? m[3])!);
      programs.push({ index, language, code, expected });
    }
  });
  return programs;
}

/**
 * Runs a program as a user would. One that mentions /dev/shm (it prints where
 * its arrays live) runs there, without the test file's SHMEX_SHM_DIR; `pid`
 * tells which segments would be its own.
 */
export function runProgram(
  program: DocProgram,
  dir: string,
): { stdout: string; stderr: string; status: number | null; pid: number | undefined } {
  const file = join(dir, `example-${program.index}.${program.language === 'ts' ? 'ts' : 'mjs'}`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, program.code);
  // JavaScript runs as users run it: plain node, no loader.
  const loader = program.language === 'ts' ? ['--import', 'tsx'] : [];
  const { SHMEX_SHM_DIR, ...withoutDir } = process.env;
  const result = spawnSync(process.execPath, [...loader, file], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: program.code.includes('/dev/shm') ? withoutDir : { ...withoutDir, SHMEX_SHM_DIR },
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status, pid: result.pid };
}
