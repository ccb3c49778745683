import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '../../src/lib/bytes.js';
import { measure, resolveProgram } from '../../src/run/measure.js';
import { cloister, pinRoot, startCoordinator, tempDir, type RunningCoordinator } from './harness.js';

/**
 * A MarbleRun deployment under cloister with real processes: a manifest as MarbleRun's tools
 * write it (null sections, Infrastructures, DisableSecretBinding, json.Marshal's zero values,
 * the reserved coordinator certificates, .Previous.Secrets, a P-521 CA secret), `manifest check`
 * reporting what it ignores, and `cloister run` configured only by the premain's EDG_MARBLE_*
 * environment.
 */

const dir = tempDir('marblerun');
const simDir = join(dir, 'sim');
const rootFile = join(dir, 'root.pem');
const node = resolveProgram('node');
let c: RunningCoordinator;

const SCRIPT = `const fs=require('fs');console.log(JSON.stringify({env:process.env,root:fs.readFileSync('coordinator_root.pem','utf8'),intermediate:fs.readFileSync('coordinator_intermediate.pem','utf8'),ca:fs.readFileSync('ca.pem','utf8')}))`;

function manifest(): string {
  return `${JSON.stringify(
    {
      Packages: {
        app: {
          UniqueID: hex(measure(node)),
          SignerID: '',
          ProductID: null,
          SecurityVersion: null,
          Debug: false,
          TEE: 'sim',
          AcceptedTCBStatuses: null,
        },
      },
      Infrastructures: { Azure: { QESVN: 2, PCESVN: 3, CPUSVN: 'AAECAwQFBgcICQoLDA0ODw==', RootCA: 'AwMD' } },
      Marbles: {
        backend: {
          Package: 'app',
          MaxActivations: 0,
          DisableSecretBinding: false,
          TLS: null,
          Parameters: {
            Files: {
              'coordinator_root.pem': '{{ pem .MarbleRun.CoordinatorRoot.Cert }}',
              'coordinator_intermediate.pem': {
                Data: '{{ pem .MarbleRun.CoordinatorIntermediate.Cert }}',
                Encoding: 'string',
                NoTemplates: false,
              },
              'ca.pem': '{{ pem .Secrets.subCa.Cert }}',
            },
            Env: {
              KEY: '{{ .Secrets.key | hex }}',
              PREVIOUS_KEY: '{{- hex .Previous.Secrets.key -}}',
              OWN: '{{ hex .Secrets.own }}',
            },
            Argv: null,
          },
        },
      },
      Users: null,
      Secrets: {
        key: {
          Type: 'symmetric-key',
          Size: 256,
          Shared: true,
          UserDefined: false,
          Cert: null,
          ValidFor: 0,
          Private: null,
          Public: null,
        },
        own: { Type: 'symmetric-key', Size: 128 },
        subCa: {
          Type: 'cert-ecdsa',
          Size: 521,
          Shared: true,
          Cert: { Subject: { CommonName: 'sub CA', Organization: ['Acme'] }, IsCA: true, DNSNames: [] },
        },
      },
      RecoveryKeys: null,
      Roles: null,
      TLS: null,
      Config: { SealMode: '', FeatureGates: null, UpdateThreshold: 0, RecoveryThreshold: 0, RotateRootSecret: false },
    },
    null,
    2,
  )}\n`;
}

describe('a MarbleRun deployment, end to end', () => {
  before(async () => {
    writeFileSync(join(dir, 'manifest.json'), manifest());
    c = await startCoordinator(join(dir, 'data'), simDir);
    const pinned = await pinRoot(c, simDir, rootFile);
    assert.equal(pinned.code, 0, pinned.stderr);
  });
  after(() => c.stop('SIGKILL'));

  it('manifest check accepts it and names what cloister ignores', async () => {
    const check = await cloister(['manifest', 'check', join(dir, 'manifest.json'), '--json']);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    const { warnings } = JSON.parse(check.stdout) as { warnings: string[] };
    assert.ok(
      warnings.some((w) => w.startsWith('Infrastructures: ')),
      JSON.stringify(warnings),
    );
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'manifest.json'),
      '--coordinator',
      c.client,
      '--root',
      rootFile,
    ]);
    assert.equal(set.code, 0, set.stderr);
  });

  it('cloister run takes the premain environment: EDG_MARBLE_TYPE, _COORDINATOR_ADDR, _DNS_NAMES, _UUID_FILE', async () => {
    const uuidFile = join(dir, 'uuid');
    const env = {
      EDG_MARBLE_TYPE: 'backend',
      EDG_MARBLE_COORDINATOR_ADDR: c.mesh,
      EDG_MARBLE_DNS_NAMES: 'backend,backend.shop',
      EDG_MARBLE_UUID_FILE: uuidFile,
    };
    const args = ['run', '--sim-dir', simDir, '--root', rootFile, '--', node, '-e', SCRIPT];
    const first = await cloister(args, env, dir);
    assert.equal(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout) as {
      env: Record<string, string>;
      root: string;
      intermediate: string;
      ca: string;
    };
    const id = readFileSync(uuidFile, 'utf8');
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(a.env['CLOISTER_INSTANCE_ID'], id);
    assert.equal(a.env['CLOISTER_SERVICE'], 'backend');
    // The certificate's names, from EDG_MARBLE_DNS_NAMES.
    const [leaf, intermediate] = (a.env['MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN'] ?? '').split(
      /(?<=-----END CERTIFICATE-----\n)/,
    );
    assert.match(new X509Certificate(leaf ?? '').subjectAltName ?? '', /DNS:backend\.shop\b/);
    // MarbleRun's chain is the Marble's certificate and the intermediate; the root comes apart.
    assert.equal(intermediate, a.intermediate);
    assert.equal(a.root, readFileSync(rootFile, 'utf8'));
    assert.equal(a.env['MARBLE_PREDEFINED_COORDINATOR_ROOT_CA'], a.root);
    assert.ok(new X509Certificate(intermediate ?? '').verify(new X509Certificate(a.root).publicKey));
    // .Previous.Secrets is the current secrets before any update; pipelines and trim markers render.
    assert.match(a.env['KEY'] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(a.env['PREVIOUS_KEY'], a.env['KEY']);
    // The P-521 CA secret, signed by the intermediate.
    const ca = new X509Certificate(a.ca);
    assert.equal(ca.ca, true);
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'secp521r1');
    // DNSNames [] is none (nil would be localhost); IPAddresses absent is the loopback addresses.
    assert.equal(ca.subjectAltName, 'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    // The same UUID file: the same instance, and its unique secret with it.
    const second = await cloister(args, env, dir);
    assert.equal(second.code, 0, second.stderr);
    const b = JSON.parse(second.stdout) as typeof a;
    assert.equal(b.env['CLOISTER_INSTANCE_ID'], id);
    assert.equal(b.env['OWN'], a.env['OWN']);
  });

  it('a UUID file that holds no UUID is refused before anything runs', async () => {
    writeFileSync(join(dir, 'bad-uuid'), 'not a uuid');
    const r = await cloister(
      ['run', '--sim-dir', simDir, '--root', rootFile, '--', node, '-e', 'console.log("ran")'],
      { EDG_MARBLE_TYPE: 'backend', EDG_MARBLE_COORDINATOR_ADDR: c.mesh, EDG_MARBLE_UUID_FILE: join(dir, 'bad-uuid') },
      dir,
    );
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /ran/);
    assert.match(r.stderr + r.stdout, /EDG_MARBLE_UUID_FILE.*does not hold a UUID/);
  });
});
