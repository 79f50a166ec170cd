// What a child process spawned with piped stdout and stderr has printed: so
// far, or once it has ended.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Output {
  stdout: string;
  stderr: string;
}

/** Collects the child's output as it comes; read `stdout` / `stderr` at any time. */
export function collectOutput(child: ChildProcessByStdio<null, Readable, Readable>): Output {
  const output: Output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  return output;
}

/** Runs node with `args` to its end; `output` is its stdout and stderr as they came, interleaved. */
export function runNode(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const add = (chunk: string) => {
      output += chunk;
    };
    child.stdout.setEncoding('utf8').on('data', add);
    child.stderr.setEncoding('utf8').on('data', add);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
