// Which of the parent's Node.js options a worker process inherits by default.

/** Options that make a process something else than a worker (run code given inline, a REPL, a test runner...). */
const NOT_INHERITED = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-pe',
  '-i',
  '--interactive',
  '-c',
  '--check',
  '--test',
  '--watch',
]);
const NOT_INHERITED_WITH_VALUE = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-pe',
  '--watch-path',
  '--inspect-port',
]);

/**
 * The parent's Node.js options minus those workers must not get: with
 * `node -e code`, a worker inheriting `-e code` would run that code (and start
 * workers of its own) instead of being a worker; debugger ports would clash.
 */
export function inheritableExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.split('=', 1)[0]!;
    if (
      NOT_INHERITED.has(flag) ||
      NOT_INHERITED_WITH_VALUE.has(flag) ||
      /^--(inspect|debug|test|watch)/.test(flag)
    ) {
      if (NOT_INHERITED_WITH_VALUE.has(arg)) i++; // its value is the next argument
      continue;
    }
    out.push(arg);
  }
  return out;
}
