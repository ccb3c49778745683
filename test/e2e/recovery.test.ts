import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hex } from '../../src/lib/bytes.js';
import { SIM_MRSIGNER } from '../../src/run/evidence.js';
import { resolveProgram } from '../../src/run/measure.js';
import {
  cloister,
  errorCode,
  pinRoot,
  runService,
  startCoordinator,
  tempDir,
  type RunningCoordinator,
} from './harness.js';
import { userCert } from './users.js';

/**
 * Recovery keys, the history and previous secrets through the real CLI and coordinator processes:
 * a coordinator whose sealing key is gone starts in recovery mode and, after `cloister recover`
 * by two of three key holders (one decrypting with openssl as MarbleRun's documentation does,
 * one with --key), serves the same secrets under the same root; forged and repeated secrets are
 * refused; `cloister history verify` passes on the honest coordinator and refuses it once its
 * state file is replaced by an older copy (kill -9 between the steps), and a fork after that.
 */

const dir = tempDir('recovery');
const simDir = join(dir, 'sim');
const dataDir = join(dir, 'data');
const rootFile = join(dir, 'root.pem');
const seen = join(dir, 'seen.json');
const node = resolveProgram('node');
const holders = ['alice', 'bob', 'carol'] as const;
let c: RunningCoordinator;
let admin: { cert: string; key: string };

const file = (name: string, text: string | Uint8Array) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

function manifest(apiKeySize: number): string {
  const publicKeys = Object.fromEntries(holders.map((h) => [h, readFileSync(join(dir, `${h}.pub.pem`), 'utf8')]));
  return `${JSON.stringify(
    {
      Packages: { app: { SignerID: hex(SIM_MRSIGNER), ProductID: 0, SecurityVersion: 1, TEE: 'sim' } },
      Marbles: {
        app: {
          Package: 'app',
          Parameters: {
            Env: { NOW: '{{ hex .Secrets.apiKey }}', BEFORE: '{{ hex .Previous.Secrets.apiKey }}' },
          },
        },
      },
      Secrets: {
        apiKey: { Type: 'symmetric-key', Size: apiKeySize, Shared: true },
        token: { Type: 'plain', UserDefined: true },
      },
      Users: { admin: { Certificate: admin.cert, Roles: ['reader', 'writer', 'updater'] } },
      Roles: {
        reader: { ResourceType: 'Secrets', ResourceNames: ['apiKey', 'token'], Actions: ['ReadSecret'] },
        writer: { ResourceType: 'Secrets', ResourceNames: ['token'], Actions: ['WriteSecret'] },
        updater: { ResourceType: 'Manifest', Actions: ['UpdateManifest'] },
      },
      RecoveryKeys: publicKeys,
      Config: { RecoveryThreshold: 2 },
    },
    null,
    2,
  )}\n`;
}

const client = () => ['--coordinator', c.client, '--root', rootFile, '--json'];
const asAdmin = () => [...client(), '--cert', join(dir, 'admin.pem'), '--key', join(dir, 'admin.key')];
const setToken = (value: string) =>
  cloister(['secret', 'set', 'token', '--type', 'plain', '--from', file('token.txt', value), ...asAdmin()]);
const secrets = async () => {
  const r = await cloister(['secret', 'get', 'apiKey', 'token', ...asAdmin()]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
};
const historyVerify = () => cloister(['history', 'verify', '--seen', seen, ...client()]);
const recover = (secretFile: string, extra: string[] = []) =>
  cloister(['recover', secretFile, '--coordinator', c.client, '--simulation', '--sim-dir', simDir, '--json', ...extra]);
const restart = async () => {
  await c.stop('SIGKILL');
  c = await startCoordinator(dataDir, simDir);
};

describe('recovery keys and the history', () => {
  let recoverySecrets: Record<string, string>;
  let earlier: string;

  before(async () => {
    admin = await userCert('admin');
    writeFileSync(join(dir, 'admin.pem'), admin.cert);
    writeFileSync(join(dir, 'admin.key'), admin.key);
    for (const h of holders) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(dir, `${h}.pub.pem`), pair.publicKey.export({ format: 'pem', type: 'spki' }));
      writeFileSync(join(dir, `${h}.key.pem`), pair.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    }
    c = await startCoordinator(dataDir, simDir);
    assert.equal((await pinRoot(c, simDir, rootFile)).code, 0);
  });
  after(() => c.stop('SIGKILL'));

  it('manifest set hands out one encrypted recovery secret per key holder, and they can be issued again', async () => {
    // MarbleRun's command line: manifest set ... --recoverydata FILE.
    const recoveryData = join(dir, 'recovery_data');
    const set = await cloister([
      'manifest',
      'set',
      file('v1.json', manifest(128)),
      ...client(),
      '--recoverydata',
      recoveryData,
    ]);
    assert.equal(set.code, 0, set.stdout + set.stderr);
    recoverySecrets = (JSON.parse(readFileSync(recoveryData, 'utf8')) as { RecoverySecrets: Record<string, string> })
      .RecoverySecrets;
    assert.deepEqual(Object.keys(recoverySecrets).sort(), [...holders]);
    const again = await cloister(['manifest', 'recovery-data', '--coordinator', c.client, '--root', rootFile]);
    assert.deepEqual(JSON.parse(again.stdout), { RecoverySecrets: recoverySecrets });
    assert.equal((await setToken('first')).code, 0);
    earlier = await secrets();
  });

  it('history verify passes on the honest coordinator and manifest verify names the entry that set the manifest', async () => {
    const first = await historyVerify();
    assert.equal(first.code, 0, first.stdout);
    assert.equal((JSON.parse(first.stdout) as { size: number }).size, 2);
    const shown = await cloister(['history', ...client()]);
    const entries = (JSON.parse(shown.stdout) as { entries: { kind: string; details: unknown }[] }).entries;
    assert.deepEqual(
      entries.map((e) => e.kind),
      ['manifest-set', 'secrets-written'],
    );
    assert.deepEqual(entries[1]?.details, { secrets: { token: 'plain' } }, 'names and types, never values');
    assert.doesNotMatch(shown.stdout, /first|Zmlyc3Q/, 'the value of the secret is not in the history');
    const verify = await cloister(['manifest', 'verify', join(dir, 'v1.json'), ...client()]);
    assert.equal((JSON.parse(verify.stdout) as { setBy: { seq: number; kind: string } }).setBy.kind, 'manifest-set');
  });

  it('a coordinator whose sealing key is gone starts in recovery mode, serving status and attestation only', async () => {
    await c.stop('SIGKILL');
    rmSync(join(dataDir, 'sealing.key'));
    c = await startCoordinator(dataDir, simDir);
    assert.match(c.log(), /"event":"recovery-mode"/);
    const status = await cloister(['status', ...client()]);
    assert.equal(status.code, 0, status.stdout);
    const said = JSON.parse(status.stdout) as { status: string; verified: boolean };
    assert.deepEqual([said.status, said.verified], ['RecoveryMode', false]);
    assert.equal(errorCode(await cloister(['secret', 'get', 'apiKey', ...asAdmin()])), 'RECOVERY_MODE');
  });

  it('forged and repeated secrets are refused; two of three holders recover every secret under the same root', async () => {
    assert.equal(errorCode(await recover(file('forged.bin', randomBytes(33)))), 'RECOVERY_SHARE_INVALID');
    assert.equal(errorCode(await recover(file('short.bin', randomBytes(32)))), 'RECOVERY_SHARE_INVALID');
    // Alice extracts and decrypts her secret with jq and openssl, as MarbleRun's documentation has it.
    const encrypted = join(dir, 'recovery_key_encrypted');
    execFileSync('sh', [
      '-c',
      `jq -r '.RecoverySecrets.alice' '${join(dir, 'recovery_data')}' | openssl base64 -d -A > '${encrypted}'`,
    ]);
    const decrypted = join(dir, 'alice.secret');
    execFileSync('openssl', [
      'pkeyutl',
      '-decrypt',
      '-inkey',
      join(dir, 'alice.key.pem'),
      '-in',
      encrypted,
      '-out',
      decrypted,
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      'rsa_oaep_md:sha256',
    ]);
    const one = await recover(decrypted);
    assert.equal(one.code, 0, one.stdout);
    assert.deepEqual(JSON.parse(one.stdout), { ok: true, holder: 'alice', remaining: 1, recovered: false });
    assert.equal(errorCode(await recover(decrypted)), 'RECOVERY_SHARE_USED');
    // Carol's encrypted secret with the wrong private key does not decrypt.
    const carol = file('carol.enc', Buffer.from(recoverySecrets['carol'] ?? '', 'base64'));
    assert.equal(errorCode(await recover(carol, ['--key', join(dir, 'bob.key.pem')])), 'RECOVERY_SHARE_INVALID');
    const two = await recover(carol, ['--key', join(dir, 'carol.key.pem')]);
    assert.equal(two.code, 0, two.stdout);
    assert.deepEqual(JSON.parse(two.stdout), { ok: true, holder: 'carol', remaining: 0, recovered: true });

    // The same root: the pin taken before still fits (verify without --force), and the same secrets.
    assert.equal((await pinRoot(c, simDir, rootFile)).code, 0);
    assert.equal(await secrets(), earlier);
    const history = await historyVerify();
    assert.equal(history.code, 0, history.stdout);
    assert.equal((JSON.parse(history.stdout) as { size: number }).size, 3);
  });

  it('the recovered coordinator re-sealed its state key with its new platform key: a restart needs no recovery', async () => {
    await restart();
    assert.doesNotMatch(c.log(), /recovery-mode/);
    assert.equal(await secrets(), earlier);
  });

  it('after an update, .Previous.Secrets renders what a changed secret was before', async () => {
    const v2 = file('v2.json', manifest(256));
    const applied = await cloister(['manifest', 'update', 'apply', v2, ...asAdmin()]);
    assert.equal((JSON.parse(applied.stdout) as { applied: boolean }).applied, true, applied.stdout);
    const oldKey = (JSON.parse(earlier) as { apiKey: { key: string } }).apiKey.key;
    const run = await runService(
      c,
      { simDir, root: rootFile, cwd: dir },
      'app',
      [node, '-e', 'console.log(JSON.stringify([process.env.BEFORE, process.env.NOW]))'],
      { extra: ['--sim-svn', '1'] },
    );
    assert.equal(run.code, 0, run.stderr);
    const [previous, now] = JSON.parse(run.stdout) as [string, string];
    assert.equal(previous, Buffer.from(oldKey, 'base64').toString('hex'));
    assert.equal(now.length, 64, 'the new 256-bit key');
    const verify = await cloister(['manifest', 'verify', v2, ...client()]);
    assert.equal((JSON.parse(verify.stdout) as { setBy: { kind: string } }).setBy.kind, 'update-applied');
  });

  it('history verify refuses the coordinator once its state file is replaced by an older copy, and a fork after it', async () => {
    assert.equal((await historyVerify()).code, 0);
    const older = join(dir, 'state.older');
    copyFileSync(join(dataDir, 'state.sealed'), older);
    assert.equal((await setToken('second')).code, 0);
    assert.equal((await setToken('third')).code, 0);
    assert.equal((await historyVerify()).code, 0);
    await c.stop('SIGKILL');
    copyFileSync(older, join(dataDir, 'state.sealed'));
    c = await startCoordinator(dataDir, simDir);
    const rolledBack = await historyVerify();
    assert.equal(errorCode(rolledBack), 'HISTORY_ROLLBACK', rolledBack.stdout);
    // Three changes on the restored state make its history longer again, but not the one seen.
    for (const value of ['x', 'y', 'z']) assert.equal((await setToken(value)).code, 0);
    const forked = await historyVerify();
    assert.equal(errorCode(forked), 'HISTORY_FORK', forked.stdout);
  });
});
