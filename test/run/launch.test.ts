import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CloisterError } from '../../src/lib/errors.js';
import type { Activated } from '../../src/run/activate.js';
import { launch, type LaunchOptions } from '../../src/run/launch.js';
import { resolveProgram } from '../../src/run/measure.js';
import { tempDir } from '../e2e/harness.js';

/** The launcher after activation, with real child processes: files, environment, arguments, signals, exit codes. */

const node = resolveProgram('node');

function activated(rendered: Partial<Activated['rendered']> = {}): Activated {
  return {
    rendered: { files: {}, env: {}, argv: [], ...rendered },
    certChain: 'CHAIN',
    marbleChain: 'LEAF+INTERMEDIATE',
    rootCa: 'ROOT',
    privateKey: 'KEY',
    instanceId: 'i-1',
    simulation: true,
    tcbStatus: 'UpToDate',
    volumes: {},
  };
}

function options(cwd: string, args: string[], extra: Partial<LaunchOptions> = {}): LaunchOptions {
  return {
    service: 'api',
    program: node,
    programPath: node,
    args,
    cwd,
    env: { PATH: process.env['PATH'], FROM_CALLER: 'caller', SHADOWED: 'caller' },
    commit: () => Promise.reject(new Error('no volumes here')),
    report: () => {},
    ...extra,
  };
}

test("the manifest's files are written where it says, 0600 in 0700 folders; .. is refused before anything is written", async () => {
  const cwd = tempDir('launch-files');
  const files = { 'conf/app.json': new TextEncoder().encode('{}'), [join(cwd, 'abs.txt')]: new Uint8Array([1]) };
  assert.equal(await launch(activated({ files }), options(cwd, ['-e', '0'])), 0);
  assert.equal(readFileSync(join(cwd, 'conf/app.json'), 'utf8'), '{}');
  assert.equal(statSync(join(cwd, 'conf/app.json')).mode & 0o777, 0o600);
  assert.equal(statSync(join(cwd, 'conf')).mode & 0o777, 0o700);
  assert.equal(statSync(join(cwd, 'abs.txt')).mode & 0o777, 0o600);
  const escaping = { 'ok.txt': new Uint8Array([1]), '../outside.txt': new Uint8Array([1]) };
  await assert.rejects(
    launch(activated({ files: escaping }), options(join(cwd, 'conf'), ['-e', '0'])),
    (e) => e instanceof CloisterError && e.code === 'COORDINATOR_ERROR',
  );
  assert.equal(existsSync(join(cwd, 'outside.txt')), false);
  assert.equal(existsSync(join(cwd, 'conf', 'ok.txt')), false);
});

test("the environment: the caller's, then the manifest's, then the identity under MarbleRun's and cloister's names", async () => {
  const cwd = tempDir('launch-env');
  const script = `require('fs').writeFileSync('env.json', JSON.stringify(process.env))`;
  const rendered = { env: { SHADOWED: 'manifest', MARBLE_PREDEFINED_ROOT_CA: 'forged' } };
  assert.equal(await launch(activated(rendered), options(cwd, ['-e', script])), 0);
  const env = JSON.parse(readFileSync(join(cwd, 'env.json'), 'utf8')) as Record<string, string>;
  assert.equal(env['FROM_CALLER'], 'caller');
  assert.equal(env['SHADOWED'], 'manifest');
  assert.equal(env['MARBLE_PREDEFINED_ROOT_CA'], 'ROOT', 'the manifest cannot replace the identity');
  // MarbleRun's chain is the Marble's certificate and the intermediate; cloister's has the root too.
  assert.equal(env['MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN'], 'LEAF+INTERMEDIATE');
  assert.equal(env['MARBLE_PREDEFINED_COORDINATOR_ROOT_CA'], 'ROOT');
  assert.equal(env['MARBLE_PREDEFINED_PRIVATE_KEY'], 'KEY');
  assert.equal(env['CLOISTER_SERVICE'], 'api');
  assert.equal(env['CLOISTER_INSTANCE_ID'], 'i-1');
  assert.equal(env['CLOISTER_SIMULATION'], '1');
});

test("the manifest's Argv replaces the arguments, its first element argv[0]", async () => {
  const cwd = tempDir('launch-argv');
  const script = `require('fs').writeFileSync('argv.json', JSON.stringify(process.argv.slice(1)))`;
  const argv = ['renamed', '-e', script, 'from-manifest'];
  assert.equal(await launch(activated({ argv }), options(cwd, ['-e', 'process.exit(9)', 'ignored'])), 0);
  assert.deepEqual(JSON.parse(readFileSync(join(cwd, 'argv.json'), 'utf8')), ['from-manifest']);
});

test("exit codes: the program's, 128 + the signal that ended it, 127 when it cannot start", async () => {
  const cwd = tempDir('launch-exit');
  assert.equal(await launch(activated(), options(cwd, ['-e', 'process.exit(7)'])), 7);
  assert.equal(await launch(activated(), options(cwd, ['-e', "process.kill(process.pid, 'SIGTERM')"])), 143);
  const reported: unknown[] = [];
  const missing = join(cwd, 'no-such-program');
  const status = await launch(
    activated(),
    options(cwd, [], { program: missing, programPath: missing, report: (e) => reported.push(e) }),
  );
  assert.equal(status, 127);
  assert.ok(reported[0] instanceof CloisterError && reported[0].code === 'IO');
});

test('a signal sent to the launcher reaches the program', async () => {
  const cwd = tempDir('launch-signal');
  const script = `process.on('SIGUSR2', () => process.exit(42)); require('fs').writeFileSync('ready', ''); setInterval(() => {}, 1000)`;
  const running = launch(activated(), options(cwd, ['-e', script]));
  while (!existsSync(join(cwd, 'ready'))) await new Promise((resolve) => setTimeout(resolve, 20));
  process.kill(process.pid, 'SIGUSR2');
  assert.equal(await running, 42);
});
