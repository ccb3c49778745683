import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '../../src/lib/bytes.js';
import { importSimState } from '../../src/attest/sim/index.js';
import { activate } from '../../src/run/activate.js';
import { simEvidence } from '../../src/evidence/sim.js';
import { measure, resolveProgram } from '../../src/run/measure.js';
import { sealChanges, unlockVolumes } from '../../src/run/volumes.js';
import { call, parseAddress } from '../../src/cli/net.js';
import { readHeader } from '../../src/protect/index.js';
import { cloister, startCoordinator, tempDir, type RunningCoordinator, pinRoot, runService } from './harness.js';
import { adminCert, userCert } from './users.js';

/**
 * Protected volumes end to end: sealed by an authorised user, opened only by attested services
 * listed for them, changes committed with versions, rollback, tampering and crash recovery.
 */

const dir = tempDir('volumes');
const simDir = join(dir, 'sim');
const rootFile = join(dir, 'root.pem');
const node = resolveProgram('node');
let c: RunningCoordinator;
const at = (...p: string[]) => join(dir, ...p);

// The program: reads its code from the read-only volume, increments a counter in the read-write one.
const SCRIPT = `const fs=require('fs'),p=require('path');const code=fs.readFileSync(p.join(process.env.CLOISTER_VOLUME_CODE,'lib/app.txt'),'utf8');const f=p.join(process.env.CLOISTER_VOLUME_DATA,'counter.txt');const n=Number(fs.readFileSync(f,'utf8'))+1;fs.writeFileSync(f,String(n));console.log(code+' '+n)`;
const run = (service: string) => runService(c, { simDir, root: rootFile, cwd: dir }, service, [node, '-e', SCRIPT]);
const admin = () => [
  '--coordinator',
  c.client,
  '--root',
  rootFile,
  '--cert',
  at('admin.pem'),
  '--key',
  at('admin.key'),
];

describe('protected volumes, end to end', () => {
  before(async () => {
    const user = await adminCert();
    writeFileSync(at('admin.pem'), user.cert);
    writeFileSync(at('admin.key'), user.key);
    // A user whose certificate expired yesterday (issued ten days ago for nine).
    const expired = await userCert('expired', { now: Date.now() / 1000 - 10 * 86_400, validDays: 9 });
    writeFileSync(at('expired.pem'), expired.cert);
    writeFileSync(at('expired.key'), expired.key);
    mkdirSync(at('code', 'lib'), { recursive: true });
    writeFileSync(at('code', 'lib', 'app.txt'), 'model v1');
    mkdirSync(at('data'));
    writeFileSync(at('data', 'counter.txt'), '0');
    const pkg = { UniqueID: hex(measure(node)), TEE: 'sim' };
    writeFileSync(
      at('manifest.json'),
      JSON.stringify({
        Packages: { app: pkg },
        Marbles: { app: { Package: 'app' }, other: { Package: 'app' } },
        Volumes: {
          code: { Mode: 'read-only', Services: ['app'], Sealed: 'code.sealed', Path: 'run/code' },
          data: { Mode: 'read-write', Services: ['app'], Sealed: 'data.sealed', Path: 'run/data' },
        },
        Users: {
          admin: { Certificate: user.cert, Roles: ['sealer'] },
          expired: { Certificate: expired.cert, Roles: ['sealer'] },
        },
        Roles: {
          sealer: { ResourceType: 'Volumes', ResourceNames: ['code', 'data'], Actions: ['SealVolume', 'OpenVolume'] },
        },
      }),
    );
    c = await startCoordinator(at('data-dir'), simDir);
    assert.equal((await pinRoot(c, simDir, rootFile)).code, 0);
    assert.equal(
      (await cloister(['manifest', 'set', at('manifest.json'), '--coordinator', c.client, '--root', rootFile])).code,
      0,
    );
  });
  after(() => c.stop());

  it('a user seals folders; the files are encrypted and their roots registered', async () => {
    for (const v of ['code', 'data']) {
      const r = await cloister(['protect', 'seal', at(v), '--volume', v, '--out', at(`${v}.sealed`), ...admin()]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.doesNotMatch(readFileSync(at('code.sealed', 'lib', 'app.txt')).toString('latin1'), /model v1/);
    assert.equal((await cloister(['protect', 'verify', at('code.sealed'), '--volume', 'code', ...admin()])).code, 0);
  });

  it('a listed service reads its volumes and its changes are committed with a new version', async () => {
    const first = await run('app');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), 'model v1 1');
    assert.equal(readHeader(readFileSync(at('data.sealed', 'counter.txt'))).version, 2n);
    assert.equal((await run('app')).stdout.trim(), 'model v1 2');
    assert.deepEqual(readdirSync(at('run')), [], 'no plaintext is left behind');
    const opened = await cloister([
      'protect',
      'open',
      at('data.sealed'),
      '--volume',
      'data',
      '--out',
      at('opened'),
      ...admin(),
    ]);
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(readFileSync(at('opened', 'counter.txt'), 'utf8'), '2');
  });

  it('once a service committed, a SealVolume user cannot replace the volume; an expired user is nobody', async () => {
    const reseal = await cloister([
      'protect',
      'seal',
      at('data'),
      '--volume',
      'data',
      '--out',
      at('reseal'),
      ...admin(),
    ]);
    assert.equal(reseal.code, 1);
    assert.match(reseal.stderr, /FORBIDDEN.*ResealVolume "data"/);
    assert.equal((await run('app')).stdout.trim(), 'model v1 3', 'the committed files are still the record');
    const asExpired = admin().map((a) => a.replace('admin.', 'expired.'));
    const stale = await cloister(['protect', 'verify', at('code.sealed'), '--volume', 'code', ...asExpired]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /UNAUTHENTICATED.*"expired" is valid from/);
  });

  it('an older copy is a rollback error; a changed or added file is refused', async () => {
    copyFileSync(at('data.sealed', 'counter.txt'), at('old-counter'));
    assert.equal((await run('app')).code, 0);
    copyFileSync(at('data.sealed', 'counter.txt'), at('new-counter'));
    copyFileSync(at('old-counter'), at('data.sealed', 'counter.txt'));
    const rollback = await run('app');
    assert.equal(rollback.code, 1);
    assert.match(rollback.stderr, /PROTECTED_ROLLBACK/);
    copyFileSync(at('new-counter'), at('data.sealed', 'counter.txt'));

    const code = readFileSync(at('code.sealed', 'lib', 'app.txt'));
    const tampered = Buffer.from(code);
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] as number) ^ 1;
    writeFileSync(at('code.sealed', 'lib', 'app.txt'), tampered);
    assert.match((await run('app')).stderr, /PROTECTED_INTEGRITY.*app\.txt/);
    writeFileSync(at('code.sealed', 'lib', 'app.txt'), code);
    writeFileSync(at('code.sealed', 'extra.txt'), 'x');
    assert.match((await run('app')).stderr, /PROTECTED_FILE_SET.*not recorded: extra\.txt/);
    writeFileSync(at('code.sealed', 'extra.txt'), '');
    (await import('node:fs')).rmSync(at('code.sealed', 'extra.txt'));
    assert.equal((await run('app')).code, 0);
  });

  it('a service not listed for a volume gets no key; a wrong measurement gets nothing', async () => {
    const r = await runService(c, { simDir, root: rootFile, cwd: dir }, 'other', [
      node,
      '-e',
      'console.log(Object.keys(process.env).filter(k=>k.startsWith("CLOISTER_VOLUME")).length)',
    ]);
    assert.equal(r.stdout.trim(), '0');
    const wrong = await runService(c, { simDir, root: rootFile, cwd: dir }, 'app', [
      resolveProgram('sh'),
      '-c',
      'echo started',
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /ACTIVATION_REFUSED.*mrenclave/);
    assert.doesNotMatch(wrong.stdout, /started/);
  });

  it('a manifest volume at "/" is refused, and cloister run never clears a folder it did not fill', async () => {
    const manifest = JSON.parse(readFileSync(at('manifest.json'), 'utf8')) as { Volumes: Record<string, object> };
    manifest.Volumes['code'] = { ...manifest.Volumes['code'], Path: '/' };
    writeFileSync(at('root-volume.json'), JSON.stringify(manifest));
    const check = await cloister(['manifest', 'check', at('root-volume.json'), '--json']);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /Volumes\.code\.Path: must name a folder below the root or the working folder/);
    mkdirSync(at('run', 'code'), { recursive: true });
    writeFileSync(at('run', 'code', 'notes.txt'), 'mine');
    const refused = await run('app');
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /VOLUME_FOLDER_IN_USE: volume code: .*run\/code holds files cloister run did not put there/,
    );
    assert.deepEqual(readdirSync(at('run', 'code')), ['notes.txt']);
    (await import('node:fs')).rmSync(at('run', 'code'), { recursive: true });
    assert.equal((await run('app')).code, 0);
  });

  it('a crash between commit and rename recovers the committed copy', async () => {
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const mesh = parseAddress(c.mesh, 'mesh');
    const a = await activate(
      { post: async (p, body) => (await call(mesh, 'POST', p, { body: JSON.stringify(body) })).json() },
      simEvidence(platform, { mrEnclave: measure(node) }),
      { service: 'app' },
    );
    const [, data] = await unlockVolumes(a.volumes, dir);
    assert.ok(data);
    writeFileSync(join(data.plainDir, 'counter.txt'), '100');
    const changes = await sealChanges(data);
    await call(mesh, 'POST', '/mesh/v1/volumes/commit', {
      cert: a.certChain,
      key: a.privateKey,
      body: JSON.stringify({ volume: 'data', changes }),
    });
    // The process "dies" here: committed, not renamed. The next start finds the pending copy.
    assert.equal((await run('app')).stdout.trim(), 'model v1 101');
  });
});
