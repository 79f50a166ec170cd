// Why a worker could not import a task module, said so that a newcomer can act
// on it. Node's own errors here name neither the module nor the remedy: an ESM
// syntax error is a bare `SyntaxError: Unexpected end of input` (the file and
// line are printed only when it goes uncaught), and a worker thread that
// cannot import a TypeScript module fails with ERR_MODULE_NOT_FOUND or
// ERR_UNKNOWN_FILE_EXTENSION. Errors this does not recognise pass unchanged.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { InvalidTaskError } from '../errors.js';

const TYPESCRIPT = /\.[mc]?tsx?$/;
/** tsx lets `./tasks.js` name `./tasks.ts`: the TypeScript file a JavaScript name may stand for. */
const TYPESCRIPT_OF: Record<string, string> = {
  '.js': '.ts',
  '.mjs': '.mts',
  '.cjs': '.cts',
  '.jsx': '.tsx',
};

/** `/path/file.js:2:14` from what Node prints above a syntax error: `path:line`, the source line, a caret. */
function locationIn(text: string): string | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((line) => /^(\/|file:\/\/).*:\d+$/.test(line));
  if (at < 0) return undefined;
  const caret = lines[at + 2]?.indexOf('^') ?? -1;
  return caret < 0 ? lines[at] : `${lines[at]}:${caret + 1}`;
}

/** Where the syntax error is: from the error's stack (CommonJS puts it there), else as `node --check` reports it. */
async function syntaxErrorLocation(error: Error, file: string): Promise<string | undefined> {
  const inStack = locationIn(error.stack ?? '');
  if (inStack !== undefined || !/\.[mc]?js$/.test(file)) return inStack;
  const stderr = await new Promise<string>((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: 10_000 }, (_error, _stdout, err) =>
      resolve(String(err)),
    );
  });
  return locationIn(stderr);
}

function filePath(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

/** The TypeScript file `file` is or stands for, if it exists. */
function typeScriptFile(file: string): string | undefined {
  if (TYPESCRIPT.test(file)) return file;
  const extension = /\.[mc]?jsx?$/.exec(file)?.[0];
  if (extension === undefined) return undefined;
  const candidate = file.slice(0, -extension.length) + TYPESCRIPT_OF[extension];
  return existsSync(candidate) ? candidate : undefined;
}

/** The error a task whose module `url` failed to import rejects with. */
export async function importFailure(url: string, error: unknown): Promise<unknown> {
  const file = filePath(url);
  if (!(error instanceof Error) || file === undefined) return error;
  if (error.name === 'SyntaxError') {
    const where = await syntaxErrorLocation(error, file);
    const inFile = where === undefined ? `${file} or a module it imports` : where;
    return new InvalidTaskError(
      `the task module ${file} could not be loaded: SyntaxError at ${inFile}: ${error.message}. ` +
        `Fix the syntax there (\`node --check <file>\` shows the line and column).`,
      { cause: error },
    );
  }
  const code = (error as { code?: unknown }).code;
  if (!isMainThread && (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNKNOWN_FILE_EXTENSION')) {
    const typeScript = typeScriptFile(file);
    if (typeScript !== undefined) {
      return new InvalidTaskError(
        `a worker thread cannot import the TypeScript task module ${typeScript}: Node 20 does not apply loaders ` +
          'such as tsx (node --import tsx) in worker threads. Use a ProcessPoolExecutor (its worker processes ' +
          'inherit --import tsx), a JavaScript task module (compile the TypeScript first), or a function task.',
        { cause: error },
      );
    }
  }
  return error;
}
