import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hex } from '../../src/lib/bytes.js';
import { measure, resolveProgram } from '../../src/run/measure.js';
import { cloister, errorCode, startCoordinator, tempDir, type RunningCoordinator, runService } from './harness.js';
import { adminCert } from './users.js';

/** The newcomer's path: what a simulation coordinator cannot run is said early, and pins fail in words. */

const dir = tempDir('newcomer');
const simDir = join(dir, 'sim');
const pin = join(dir, 'pin.pem');
const node = resolveProgram('node');
let first: RunningCoordinator;
let second: RunningCoordinator;

const verify = (c: RunningCoordinator, ...extra: string[]) =>
  cloister(['verify', '--coordinator', c.client, '--simulation', '--sim-dir', simDir, '--json', ...extra]);
const hardware = {
  Packages: { app: { UniqueID: hex(measure(node)), TEE: 'sgx' } },
  Marbles: { app: { Package: 'app' } },
};

/** A manifest with user-defined secrets, and the user who may write them (made in before()). */
let secretsManifest: Record<string, unknown>;
const secretsUser = { certFile: join(dir, 'writer.pem'), keyFile: join(dir, 'writer.key') };

describe("a newcomer's path", () => {
  before(async () => {
    const writer = await adminCert();
    writeFileSync(secretsUser.certFile, writer.cert);
    writeFileSync(secretsUser.keyFile, writer.key);
    secretsManifest = {
      ...hardware,
      Packages: { app: { UniqueID: hex(measure(node)), TEE: 'sim' } },
      Secrets: {
        key: { Type: 'symmetric-key', Size: 128, UserDefined: true },
        note: { Type: 'plain', UserDefined: true },
      },
      Users: { writer: { Certificate: writer.cert, Roles: ['writer'] } },
      Roles: { writer: { ResourceType: 'Secrets', ResourceNames: ['key', 'note'], Actions: ['WriteSecret'] } },
    };
    // One after the other: the first creates the simulated platform both use.
    first = await startCoordinator(join(dir, 'one'), simDir);
    second = await startCoordinator(join(dir, 'two'), simDir);
    writeFileSync(join(dir, 'hardware.json'), JSON.stringify(hardware));
  });
  after(async () => {
    await Promise.all([first.stop('SIGKILL'), second.stop('SIGKILL')]);
  });

  it('a package for hardware is warned of in simulation, and its refused activation says why', async () => {
    const plain = JSON.parse((await cloister(['manifest', 'check', join(dir, 'hardware.json'), '--json'])).stdout) as {
      warnings: string[];
    };
    assert.deepEqual(plain.warnings, []);
    const checked = JSON.parse(
      (await cloister(['manifest', 'check', join(dir, 'hardware.json'), '--simulation', '--json'])).stdout,
    ) as { warnings: string[] };
    assert.match(checked.warnings[0] ?? '', /Packages\.app\.TEE is "sgx".*"TEE": "sim"/);

    assert.equal((await verify(first, '--root-out', pin)).code, 0);
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'hardware.json'),
      '--coordinator',
      first.client,
      '--root',
      pin,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stderr, /warning: Packages\.app\.TEE is "sgx"/);
    const run = await runService(first, { simDir, root: pin, cwd: dir }, 'app', [node, '-e', '0']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ACTIVATION_REFUSED.*"TEE": "sim"/);
  });

  it('a different root is never pinned over the old one silently; --force replaces it', async () => {
    const before = readFileSync(pin, 'utf8');
    const other = await verify(second, '--root-out', pin);
    assert.equal(other.code, 1, other.stdout);
    assert.equal(errorCode(other), 'COORDINATOR_UNTRUSTED');
    assert.match(other.stdout, /different root is pinned.*--force/);
    assert.equal(readFileSync(pin, 'utf8'), before);
    // The old pin against the other coordinator: said in words, with where the pin is and how to re-pin.
    const status = await cloister(['status', '--coordinator', second.client, '--root', pin, '--json']);
    assert.equal(errorCode(status), 'COORDINATOR_UNTRUSTED');
    assert.match(status.stdout, /root pinned in .*pin\.pem.*cloister verify --coordinator .* --force/);
    assert.equal((await verify(second, '--root-out', pin, '--force')).code, 0);
    assert.notEqual(readFileSync(pin, 'utf8'), before);
  });

  it('--root given a private key, and --root-out into a missing folder, say so and create nothing', async () => {
    const { key } = await adminCert();
    writeFileSync(join(dir, 'key.pem'), key);
    const withKey = await cloister(['status', '--coordinator', first.client, '--root', join(dir, 'key.pem'), '--json']);
    assert.equal(withKey.code, 2);
    assert.match(withKey.stdout, /holds a private key/);
    const missing = join(dir, 'no', 'such', 'folder', 'root.pem');
    const r = await verify(first, '--root-out', missing);
    assert.equal(errorCode(r), 'IO');
    assert.equal(existsSync(join(dir, 'no')), false);
  });

  it('every --json command prints one JSON object, usage errors included', async () => {
    const usage = await cloister(['status', '--bogus', '--json']);
    assert.equal(usage.code, 2);
    assert.equal(errorCode(usage), 'USAGE');
    assert.equal(usage.stderr, '', 'nothing but the JSON object');
    const type = await cloister(['secret', 'set', 'x', '--type', 'foo', '--from', pin, '--cert', pin, '--key', pin]);
    assert.equal(type.code, 2, 'an unknown secret type is refused before anything is read or sent');
    assert.match(type.stderr, /'foo' is invalid.*symmetric-key, cert-rsa/);

    const chain = await cloister(['certificate', 'chain', '--coordinator', second.client, '--root', pin, '--json']);
    assert.equal(chain.code, 0, chain.stderr);
    const certs = JSON.parse(chain.stdout) as { ok: boolean; intermediate: string; root: string };
    assert.equal(certs.root, readFileSync(pin, 'utf8'));
    assert.match(certs.intermediate, /^-----BEGIN CERTIFICATE-----/);

    writeFileSync(join(dir, 'secrets.json'), JSON.stringify(secretsManifest));
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'secrets.json'),
      '--coordinator',
      second.client,
      '--root',
      pin,
    ]);
    assert.equal(set.code, 0, set.stderr);
    const got = await cloister(['manifest', 'get', '--coordinator', second.client, '--root', pin, '--json']);
    const answer = JSON.parse(got.stdout) as { fingerprint: string; manifest: unknown };
    assert.deepEqual(answer.manifest, secretsManifest);
    assert.match(answer.fingerprint, /^[0-9a-f]{64}$/);
  });

  it('certificate and key files are named and said wrong in words, never in OpenSSL codes', async () => {
    const [user, stranger] = [await adminCert(), await adminCert()];
    const files = { cert: user.cert, key: user.key, otherKey: stranger.key, garbage: 'not a certificate\n' };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.pem`), text);
    const status = (cert: string, key: string) =>
      cloister(
        ['secret', 'get', 'token', '--coordinator', second.client, '--root', pin, '--json'].concat([
          '--cert',
          join(dir, `${cert}.pem`),
          '--key',
          join(dir, `${key}.pem`),
        ]),
      );
    for (const [cert, key, said] of [
      ['key', 'key', /--cert .*key\.pem holds a private key/],
      ['cert', 'cert', /--key .*cert\.pem holds a certificate/],
      ['garbage', 'key', /--cert .*garbage\.pem is not PEM/],
      ['cert', 'otherKey', /--key .*otherKey\.pem is not the private key of the certificate in --cert .*cert\.pem/],
    ] as const) {
      const r = await status(cert, key);
      assert.equal(errorCode(r), 'USAGE', `${cert} ${key}`);
      assert.match(r.stdout, said);
      assert.doesNotMatch(r.stdout, /error:[0-9A-F]{8}/);
    }
  });

  it('user secrets: an empty or wrong-sized value is refused with the rule, a plain one may be empty', async () => {
    const user = secretsUser;
    const as = [
      '--coordinator',
      second.client,
      '--root',
      pin,
      '--cert',
      user.certFile,
      '--key',
      user.keyFile,
      '--json',
    ];
    writeFileSync(join(dir, 'empty'), '');
    writeFileSync(join(dir, 'eight'), '12345678');
    const set = (name: string, type: string, from: string) =>
      cloister(['secret', 'set', name, '--type', type, '--from', join(dir, from), ...as]);
    const empty = await set('key', 'symmetric-key', 'empty');
    assert.equal(empty.code, 2);
    assert.match(empty.stdout, /is empty: a symmetric-key secret needs a value/);
    const short = await set('key', 'symmetric-key', 'eight');
    assert.equal(errorCode(short), 'SECRET_INVALID');
    assert.match(short.stdout, /\\"key\\" must be 128 bits \(the manifest's Size\), not 64/);
    const plain = await set('note', 'plain', 'empty');
    assert.equal(plain.code, 0, plain.stdout);
  });

  it('a client command at the mesh address is told which address it reached and where the client API is', async () => {
    const r = await cloister(['status', '--coordinator', second.mesh, '--root', pin, '--json']);
    assert.equal(errorCode(r), 'NOT_FOUND');
    assert.match(r.stdout, new RegExp(`mesh API for services \\(${second.mesh}\\).*client address ${second.client}`));
  });

  it('small things: k8s check without a kubeconfig, manifest --help, policy spelling, a number in Env', async () => {
    const k8s = await cloister(['k8s', 'check'], { HOME: join(dir, 'nohome'), KUBECONFIG: '' });
    assert.equal(k8s.code, 2);
    assert.equal(k8s.stderr.trim().split('\n').length, 1, k8s.stderr);
    assert.match(k8s.stderr, /no kubeconfig: give --kubeconfig FILE, set KUBECONFIG/);
    assert.match((await cloister(['manifest', '--help'])).stdout, /verify/);
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ AcceptedTCBStatuses: ['UpToDate'] }));
    const policy = await cloister([
      'verify',
      '--coordinator',
      second.client,
      '--policy',
      join(dir, 'policy.json'),
      '--json',
    ]);
    assert.equal(errorCode(policy), 'POLICY_INVALID');
    assert.match(policy.stdout, /policy files spell it \\"acceptedTcbStatuses\\"/);
    writeFileSync(
      join(dir, 'env.json'),
      JSON.stringify({ ...hardware, Marbles: { app: { Package: 'app', Parameters: { Env: { PORT: 8080 } } } } }),
    );
    const env = await cloister(['manifest', 'check', join(dir, 'env.json'), '--json']);
    assert.match(env.stdout, /Env\.PORT: must be a string .*write \\"8080\\"/);
  });
});
