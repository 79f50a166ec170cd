// What a child process spawned with piped stdout and stderr has printed so far.
import type { ChildProcessByStdio } from 'node:child_process';
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
