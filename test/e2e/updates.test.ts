import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hex } from '../../src/lib/bytes.js';
import { SIM_MRSIGNER } from '../../src/evidence/sim.js';
import { resolveProgram } from '../../src/run/measure.js';
import {
  cloister,
  errorCode,
  startCoordinator,
  tempDir,
  type RunningCoordinator,
  pinRoot,
  runService,
} from './harness.js';
import { userCert } from './users.js';

/**
 * Manifest updates through the real CLI and coordinator: security versions raised at once, a whole
 * manifest applied only when every required user acknowledged the same bytes, cancel, refusals by
 * rule and user, secrets kept, and a pending update that survives kill -9.
 */

const dir = tempDir('updates');
const simDir = join(dir, 'sim');
const dataDir = join(dir, 'data');
const rootFile = join(dir, 'root.pem');
const node = resolveProgram('node');
let c: RunningCoordinator;
const users: Record<string, { cert: string; key: string }> = {};

function manifest(securityVersion: number, extra: Record<string, unknown> = {}, threshold?: number): string {
  const user = (name: string, roles: string[]) => ({ Certificate: users[name]?.cert, Roles: roles });
  return `${JSON.stringify(
    {
      Packages: { app: { SignerID: hex(SIM_MRSIGNER), ProductID: 0, SecurityVersion: securityVersion, TEE: 'sim' } },
      Marbles: { app: { Package: 'app', Parameters: { Env: { API_KEY: '{{ hex .Secrets.apiKey }}' } } }, ...extra },
      Secrets: { apiKey: { Type: 'symmetric-key', Size: 128, Shared: true } },
      Users: {
        alice: user('alice', ['updater', 'patcher']),
        bob: user('bob', ['updater']),
        charlie: user('charlie', []),
      },
      Roles: {
        updater: { ResourceType: 'Manifest', Actions: ['UpdateManifest'] },
        patcher: { ResourceType: 'Packages', ResourceNames: ['app'], Actions: ['UpdateSecurityVersion'] },
      },
      ...(threshold ? { Config: { UpdateThreshold: threshold } } : {}),
    },
    null,
    2,
  )}\n`;
}

const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const as = (user: string) => [
  '--coordinator',
  c.client,
  '--root',
  rootFile,
  '--cert',
  join(dir, `${user}.pem`),
  '--key',
  join(dir, `${user}.key`),
  '--json',
];
const update = (user: string, ...args: string[]) => cloister(['manifest', 'update', ...args, ...as(user)]);
/** `cloister run` of a program at security version `svn` that prints its API key. */
const run = (svn: number) =>
  runService(c, { simDir, root: rootFile, cwd: dir }, 'app', [node, '-e', 'console.log(process.env.API_KEY)'], {
    extra: ['--sim-svn', String(svn)],
  });

describe('manifest updates', () => {
  before(async () => {
    for (const name of ['alice', 'bob', 'charlie']) {
      const user = await userCert(name);
      users[name] = user;
      writeFileSync(join(dir, `${name}.pem`), user.cert);
      writeFileSync(join(dir, `${name}.key`), user.key);
    }
    c = await startCoordinator(dataDir, simDir);
    const v = await pinRoot(c, simDir, rootFile);
    assert.equal(v.code, 0, v.stderr);
    const set = await cloister([
      'manifest',
      'set',
      file('v1.json', manifest(1)),
      '--coordinator',
      c.client,
      '--root',
      rootFile,
    ]);
    assert.equal(set.code, 0, set.stderr);
  });
  after(() => c.stop('SIGKILL'));

  it('a security-version update applies at once and the old program is refused; lowering and strangers are not', async () => {
    const before = await run(1);
    assert.equal(before.code, 0, before.stderr);
    const raise = await update('alice', 'apply', file('svn2.json', '{"Packages":{"app":{"SecurityVersion":2}}}'));
    assert.equal(raise.code, 0, raise.stdout);
    assert.equal((JSON.parse(raise.stdout) as { applied: boolean }).applied, true);
    const old = await run(1);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /ACTIVATION_REFUSED/);
    const patched = await run(2);
    assert.equal(patched.stdout, before.stdout, 'the secrets are the same across the update');

    assert.equal(
      errorCode(await update('alice', 'apply', file('svn1.json', '{"Packages":{"app":{"SecurityVersion":1}}}'))),
      'UPDATE_INVALID',
    );
    assert.equal(
      errorCode(await update('alice', 'apply', file('nopkg.json', '{"Packages":{"db":{"SecurityVersion":3}}}'))),
      'UPDATE_INVALID',
    );
    assert.equal(
      errorCode(
        await update('alice', 'apply', file('extra.json', '{"Packages":{"app":{"SecurityVersion":3,"Debug":true}}}')),
      ),
      'UPDATE_INVALID',
    );
    const stranger = await update('bob', 'apply', file('svn3.json', '{"Packages":{"app":{"SecurityVersion":3}}}'));
    assert.equal(errorCode(stranger), 'FORBIDDEN');
    assert.match(stranger.stdout, /bob.*UpdateSecurityVersion.*app/);
  });

  it('a whole manifest applies only when every UpdateManifest user acknowledged the same bytes', async () => {
    const key = (await run(2)).stdout;
    const v2 = file('v2.json', manifest(2, { extra: { Package: 'app' } }));
    const proposed = await update('alice', 'apply', v2);
    assert.equal(proposed.code, 0, proposed.stdout);
    assert.deepEqual(JSON.parse(proposed.stdout), {
      applied: false,
      fingerprint: (JSON.parse((await cloister(['manifest', 'check', v2, '--json'])).stdout) as { fingerprint: string })
        .fingerprint,
      acknowledged: ['alice'],
      missing: ['bob'],
      required: 2,
    });
    const pending = await cloister([
      'manifest',
      'update',
      'get',
      '--coordinator',
      c.client,
      '--root',
      rootFile,
      '--json',
    ]);
    assert.deepEqual((JSON.parse(pending.stdout) as { missing: string[] }).missing, ['bob']);
    assert.equal(errorCode(await update('charlie', 'acknowledge', v2)), 'FORBIDDEN');
    // The same manifest, spelled differently, is other bytes: it does not count.
    const other = file('v2-other.json', JSON.stringify(JSON.parse(manifest(2, { extra: { Package: 'app' } }))));
    assert.equal(errorCode(await update('bob', 'acknowledge', other)), 'UPDATE_MISMATCH');
    assert.equal(errorCode(await update('alice', 'apply', v2)), 'UPDATE_NOT_PENDING', 'one pending update at a time');
    // Still the old manifest until then.
    assert.equal((await cloister(['manifest', 'verify', v2, '--coordinator', c.client, '--root', rootFile])).code, 1);

    const done = await update('bob', 'acknowledge', v2);
    assert.equal((JSON.parse(done.stdout) as { applied: boolean }).applied, true, done.stdout);
    assert.equal((await cloister(['manifest', 'verify', v2, '--coordinator', c.client, '--root', rootFile])).code, 0);
    assert.equal((await run(2)).stdout, key, 'a secret whose definition did not change keeps its value');
  });

  it('a pending update survives kill -9, and can be cancelled', async () => {
    const v3 = file('v3.json', manifest(2, {}, 1));
    const proposed = await update('bob', 'apply', v3);
    assert.equal(proposed.code, 0, proposed.stdout);
    assert.equal(
      (JSON.parse(proposed.stdout) as { applied: boolean }).applied,
      false,
      "the enforced manifest's rule: both",
    );
    const pending = await cloister([
      'manifest',
      'update',
      'get',
      '--coordinator',
      c.client,
      '--root',
      rootFile,
      '--json',
    ]);
    assert.deepEqual((JSON.parse(pending.stdout) as { acknowledged: string[] }).acknowledged, ['bob']);
    await c.stop('SIGKILL');
    c = await startCoordinator(dataDir, simDir);
    const again = await cloister([
      'manifest',
      'update',
      'get',
      '--coordinator',
      c.client,
      '--root',
      rootFile,
      '--json',
    ]);
    assert.deepEqual((JSON.parse(again.stdout) as { acknowledged: string[] }).acknowledged, ['bob']);
    assert.equal((await update('charlie', 'cancel')).code, 1);
    assert.equal((await update('alice', 'cancel')).code, 0);
    const none = await cloister(['manifest', 'update', 'get', '--coordinator', c.client, '--root', rootFile, '--json']);
    assert.equal(errorCode(none), 'UPDATE_NOT_PENDING');
  });
});
