// What a user gets: the package that `npm pack` makes from this tree,
// installed into a new project, run from ESM and from CommonJS, and
// type-checked under TypeScript's defaults. The tree is copied first (without
// its builds), so packing proves that a fresh clone after `npm ci` packs a
// complete package, and leaves this checkout's dist/ and build/ alone.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guardSharedMemory } from './helpers/shm-guard.js';

guardSharedMemory();

const root = fileURLToPath(new URL('../', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'shmex-package-'));
const project = join(work, 'project');
const installed = join(project, 'node_modules', 'shmex');
let tarballFiles: string[] = [];

/** Output of a finished command, for assertion messages. */
function shown(result: SpawnSyncReturns<string>): string {
  return `exit ${result.status}${result.signal ? ` (${result.signal})` : ''}\n${result.stdout}\n${result.stderr}`;
}

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  // No npm_* variables of the test's own `npm test`: the child npm must read
  // the project it runs in, as a user's would.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 180_000 });
}

function write(file: string, text: string): string {
  const path = join(project, file);
  writeFileSync(path, text);
  return path;
}

before(() => {
  // The tree as a fresh clone has it after `npm ci`: sources, no builds.
  const source = join(work, 'source');
  const skip = new Set(['node_modules', 'dist', 'dist-test', 'build', 'prebuilds', '.git']);
  cpSync(root, source, {
    recursive: true,
    filter: (from) => {
      const rel = from.slice(root.length).split('/');
      return !skip.has(rel[0]!) && !from.endsWith('.tgz');
    },
  });
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'));
  const packed = run('npm', ['pack', '--json', '--pack-destination', work], source);
  assert.equal(packed.status, 0, shown(packed));
  const [report] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [
    { filename: string; files: { path: string }[] },
  ];
  tarballFiles = report.files.map((file) => file.path);

  mkdirSync(project);
  write('package.json', JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  // --ignore-scripts: what npm 11 does by default for a dependency's install
  // script. The prebuilt binary must be enough; nothing is compiled.
  const install = run(
    'npm',
    [
      'install',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(work, report.filename),
    ],
    project,
  );
  assert.equal(install.status, 0, shown(install));
});

after(() => {
  rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the JavaScript, the declarations, a prebuilt binary and the docs it links', () => {
  for (const file of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/worker/main.js',
    'dist/adapters/arrow.js',
    'prebuilds/linux-x64/shmex.glibc.node',
    'src/index.ts', // the source maps point into it
    'native/shm.c', // to build from source elsewhere
    'binding.gyp',
    'LICENSE',
    'CHANGELOG.md',
    'README.md',
    'bench/results.svg', // README shows it
  ]) {
    assert.ok(tarballFiles.includes(file), `${file} is not in the tarball`);
  }
  assert.ok(!tarballFiles.some((file) => file.startsWith('dist-test/') || file.startsWith('test/')));
});

test('installed with --ignore-scripts, nothing was compiled', () => {
  assert.ok(existsSync(join(installed, 'prebuilds')));
  assert.ok(!existsSync(join(installed, 'build')), 'a build/ directory means something compiled');
});

test('an ESM program runs a task, as pasted into a .mjs file', () => {
  const program = write(
    'main.mjs',
    `import { ProcessPoolExecutor, inSharedMemory } from 'shmex';
function addOne(x) {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] + 1;
  return y;
}
const ex = new ProcessPoolExecutor({ maxWorkers: 2 });
try {
  const y = await ex.submit(addOne, new Float64Array(1e6).fill(1));
  console.log(y.length, y[0], y[999999], inSharedMemory(y));
} finally {
  await ex.shutdown();
}
`,
  );
  const result = run(process.execPath, [program], project);
  assert.equal(result.status, 0, shown(result));
  assert.equal(result.stdout.trim(), '1000000 2 2 true');
  assert.equal(result.stderr, '');
});

test('a CommonJS program requires it', () => {
  const program = write(
    'main.cjs',
    `const { ProcessPoolExecutor } = require('shmex');
const ex = new ProcessPoolExecutor({ maxWorkers: 1 });
ex.submit((a, b) => a.length + b, new Float32Array(200000), 1)
  .then((n) => console.log(n))
  .finally(() => ex.shutdown());
`,
  );
  const result = run(process.execPath, [program], project);
  assert.equal(result.status, 0, shown(result));
  assert.equal(result.stdout.trim(), '200001');
  assert.equal(result.stderr, '', 'require of the package prints no warning');
});

test('the command line says its version and where the benchmark lives', () => {
  const bin = join(project, 'node_modules', '.bin', 'shmex');
  const shown_ = run(bin, ['--version'], project);
  assert.equal(shown_.status, 0, shown(shown_));
  assert.equal(shown_.stdout.trim(), version);
  const bench = run(bin, ['bench'], project);
  assert.equal(bench.status, 1);
  assert.match(bench.stderr, /git clone https:\/\/\S+ .*npm run bench/);
});

test('a strict TypeScript project type-checks against the declarations, under TypeScript defaults', () => {
  // The user's own tools: TypeScript and Node's types, as any TS project has them.
  for (const tool of ['typescript', '@types/node']) {
    const target = join(project, 'node_modules', tool);
    mkdirSync(join(target, '..'), { recursive: true });
    symlinkSync(join(root, 'node_modules', tool), target);
  }
  write(
    'tsconfig.json',
    JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true, noEmit: true } }, null, 2),
  );
  write(
    'tasks.ts',
    `export function scale(x: Float64Array, by: number): Float64Array {
  return x.map((v) => v * by);
}
`,
  );
  write(
    'main.ts',
    `import { ProcessPoolExecutor, type Future } from 'shmex';
import 'shmex/arrow';

await using ex = new ProcessPoolExecutor({ maxWorkers: 2 });
const tasks = ex.module<typeof import('./tasks.js')>(new URL('./tasks.js', import.meta.url));
const future: Future<Float64Array> = tasks.scale(new Float64Array(4), 2);
const y: Float64Array = await future;
// @ts-expect-error: the proxy checks arguments against the module's signature
tasks.scale('not an array', 2);
console.log(y.length);
`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = run(process.execPath, [tsc, '-p', project], project);
  assert.equal(result.status, 0, shown(result));
});

test('without a prebuilt binary for the platform, it says how to build one, and `npm rebuild` builds it', () => {
  rmSync(join(installed, 'prebuilds'), { recursive: true });
  const program = write('version.mjs', "import 'shmex'; console.log('loaded');\n");
  const missing = run(process.execPath, [program], project);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /no native addon for linux-x64/);
  assert.match(missing.stderr, /npm rebuild shmex/);
  assert.match(missing.stderr, /python3, make and a C compiler/);

  const rebuild = run('npm', ['rebuild', 'shmex'], project);
  assert.equal(rebuild.status, 0, shown(rebuild));
  assert.ok(existsSync(join(installed, 'build', 'Release', 'shmex.node')));
  const built = run(process.execPath, [join(project, 'main.mjs')], project);
  assert.equal(built.status, 0, shown(built));
  assert.equal(built.stdout.trim(), '1000000 2 2 true');
});
