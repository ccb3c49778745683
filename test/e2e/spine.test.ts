import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '../../src/lib/bytes.js';
import { importSimState, simQuote } from '../../src/attest/sim/index.js';
import { bindingReportData } from '../../src/protocol/index.js';
import { measure, resolveProgram } from '../../src/run/measure.js';
import { call, parseAddress } from '../../src/cli/net.js';
import { cloister, errorCode, startCoordinator, tempDir, type RunningCoordinator } from './harness.js';
import { userCert } from './users.js';

/**
 * The spine end to end with real processes: a simulation coordinator, `cloister verify`, the
 * manifest, `cloister run` of unmodified programs (`node -e`, `/bin/sh -c`), users and secrets,
 * refusals, and a `kill -9` that loses nothing acknowledged.
 */

const dir = tempDir('spine');
const simDir = join(dir, 'sim');
const dataDir = join(dir, 'data');
const rootFile = join(dir, 'root.pem');
const node = resolveProgram('node');
const sh = resolveProgram('sh');
let c: RunningCoordinator;
let admin: { cert: string; key: string };
let stranger: { cert: string; key: string };

const SCRIPT = `const fs=require('fs');console.log(JSON.stringify({env:process.env,argv:process.argv.slice(1),key:fs.readFileSync('out/key.hex','utf8'),mode:fs.statSync('out/key.hex').mode&0o777,cert:fs.readFileSync('out/cert.pem','utf8')}))`;

function manifest(): string {
  const m = {
    Packages: {
      app: { UniqueID: hex(measure(node)), Debug: false, TEE: 'sim' },
      shell: { UniqueID: hex(measure(sh)), Debug: false, TEE: 'sim' },
    },
    Marbles: {
      backend: {
        Package: 'app',
        Parameters: {
          Files: { 'out/key.hex': '{{ hex .Secrets.apiKey }}', 'out/cert.pem': '{{ pem .MarbleRun.MarbleCert.Cert }}' },
          Env: {
            API_KEY: '{{ hex .Secrets.apiKey }}',
            OWN_KEY: '{{ hex .Secrets.instanceKey }}',
            TOKEN: '{{ string .Secrets.token }}',
            PLAIN: { Data: 'aGVsbG8=', Encoding: 'base64' },
          },
        },
      },
      once: { Package: 'app', MaxActivations: 1 },
      shell: {
        Package: 'shell',
        Parameters: {
          Argv: ['sh', '-c', 'echo "argv from the manifest: $API_KEY"; exit 3'],
          Env: { API_KEY: '{{ hex .Secrets.apiKey }}' },
        },
      },
    },
    Secrets: {
      apiKey: { Type: 'symmetric-key', Size: 256, Shared: true },
      instanceKey: { Type: 'symmetric-key', Size: 128 },
      token: { Type: 'plain', UserDefined: true },
    },
    Users: {
      admin: { Certificate: admin.cert, Roles: ['reader', 'writer'] },
      stranger: { Certificate: stranger.cert, Roles: ['reader'] },
    },
    Roles: {
      reader: { ResourceType: 'Secrets', ResourceNames: ['token', 'apiKey'], Actions: ['ReadSecret'] },
      writer: { ResourceType: 'Secrets', ResourceNames: ['token'], Actions: ['WriteSecret'] },
    },
  };
  return `${JSON.stringify(m, null, 2)}\n`;
}

const run = (service: string, args: string[], extra: string[] = []) =>
  cloister(
    [
      'run',
      '--service',
      service,
      '--coordinator',
      c.mesh,
      '--sim-dir',
      simDir,
      '--root',
      rootFile,
      ...extra,
      '--',
      ...args,
    ],
    {},
    dir,
  );
const client = (...args: string[]) => cloister([...args, '--coordinator', c.client, '--root', rootFile], {}, dir);

describe('the spine, end to end', () => {
  before(async () => {
    [admin, stranger] = await Promise.all([userCert('admin'), userCert('stranger')]);
    writeFileSync(join(dir, 'admin.pem'), admin.cert);
    writeFileSync(join(dir, 'admin.key'), admin.key);
    writeFileSync(join(dir, 'stranger.pem'), stranger.cert);
    writeFileSync(join(dir, 'stranger.key'), stranger.key);
    writeFileSync(join(dir, 'manifest.json'), manifest());
    c = await startCoordinator(dataDir, simDir);
  });
  after(() => c.stop('SIGKILL'));

  it('a client attests the coordinator and pins its root; simulation is said everywhere', async () => {
    const refused = await cloister([
      'verify',
      '--coordinator',
      c.client,
      '--sim-dir',
      simDir,
      '--root-out',
      rootFile,
      '--json',
    ]);
    assert.equal(refused.code, 1);
    assert.equal(errorCode(refused), 'COORDINATOR_UNTRUSTED');
    const v = await cloister([
      'verify',
      '--coordinator',
      c.client,
      '--simulation',
      '--sim-dir',
      simDir,
      '--root-out',
      rootFile,
      '--json',
    ]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    assert.equal((JSON.parse(v.stdout) as { simulation: boolean }).simulation, true);
    const s = await client('status');
    assert.match(s.stdout, /AcceptingManifest \(SIMULATION/);
  });

  it('the manifest is checked, set once, and verifiable', async () => {
    assert.equal((await cloister(['manifest', 'check', join(dir, 'manifest.json')])).code, 0);
    const set = await client('manifest', 'set', join(dir, 'manifest.json'), '--json');
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await client('manifest', 'verify', join(dir, 'manifest.json'))).code, 0);
    const again = await client('manifest', 'set', join(dir, 'manifest.json'), '--json');
    assert.equal(errorCode(again), 'MANIFEST_ALREADY_SET');
    writeFileSync(join(dir, 'other.json'), manifest().replace('"Size": 128', '"Size": 256'));
    assert.equal((await client('manifest', 'verify', join(dir, 'other.json'))).code, 1);
  });

  it('a program needing a user-defined secret waits for it; users need their roles', async () => {
    const early = await run('backend', [node, '-e', SCRIPT]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /ACTIVATION_REFUSED.*token/);
    writeFileSync(join(dir, 'token.txt'), 's3cret-token');
    const user = (who: string) => ['--cert', join(dir, `${who}.pem`), '--key', join(dir, `${who}.key`)];
    const denied = await client(
      'secret',
      'set',
      'token',
      '--from',
      join(dir, 'token.txt'),
      '--type',
      'plain',
      ...user('stranger'),
      '--json',
    );
    assert.equal(errorCode(denied), 'FORBIDDEN');
    await assert.rejects(
      call(parseAddress(c.client, 'client'), 'GET', '/api/v1/secrets?s=token', { ca: readFileSync(rootFile, 'utf8') }),
      (e: { code?: string }) => e.code === 'UNAUTHENTICATED',
    );
    assert.equal(
      (await client('secret', 'set', 'token', '--from', join(dir, 'token.txt'), '--type', 'plain', ...user('admin')))
        .code,
      0,
    );
    const got = await client('secret', 'get', 'token', 'apiKey', ...user('admin'));
    const secrets = JSON.parse(got.stdout) as Record<string, { type: string; key: string }>;
    assert.equal(Buffer.from(secrets['token']?.key ?? '', 'base64').toString(), 's3cret-token');
    assert.equal(Buffer.from(secrets['apiKey']?.key ?? '', 'base64').length, 32);
  });

  it('an unmodified program receives files, environment and identity', async () => {
    // One after the other: both write the same files in the same folder.
    const a = await run('backend', [node, '-e', SCRIPT], ['--instance-id', 'one']);
    const b = await run('backend', [node, '-e', SCRIPT], ['--instance-id', 'two']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const ra = JSON.parse(a.stdout) as { env: Record<string, string>; key: string; mode: number; cert: string };
    const rb = JSON.parse((b as { stdout: string }).stdout) as typeof ra;
    assert.equal(ra.env['API_KEY'], rb.env['API_KEY']);
    assert.match(ra.env['API_KEY'] ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(ra.env['OWN_KEY'], rb.env['OWN_KEY']);
    assert.equal(ra.env['TOKEN'], 's3cret-token');
    assert.equal(ra.env['PLAIN'], 'hello');
    assert.equal(ra.key, ra.env['API_KEY']);
    assert.equal(ra.mode, 0o600);
    for (const name of [
      'MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN',
      'MARBLE_PREDEFINED_PRIVATE_KEY',
      'MARBLE_PREDEFINED_ROOT_CA',
      'CLOISTER_CERT_CHAIN',
    ])
      assert.match(ra.env[name] ?? '', /-----BEGIN/);
    assert.equal(ra.env['MARBLE_PREDEFINED_ROOT_CA'], readFileSync(rootFile, 'utf8'));
    assert.equal(
      ra.cert.trim(),
      (ra.env['MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN'] ?? '').split('-----END CERTIFICATE-----')[0] +
        '-----END CERTIFICATE-----',
    );
    // The same instance keeps its own secret across activations.
    const again = JSON.parse(
      (await run('backend', [node, '-e', SCRIPT], ['--instance-id', 'one'])).stdout,
    ) as typeof ra;
    assert.equal(again.env['OWN_KEY'], ra.env['OWN_KEY']);
    // DNS names for the certificate from the environment, as the Kubernetes webhook sets them.
    const named = await cloister(
      [
        'run',
        '--service',
        'backend',
        '--coordinator',
        c.mesh,
        '--sim-dir',
        simDir,
        '--root',
        rootFile,
        '--',
        node,
        '-e',
        SCRIPT,
      ],
      { CLOISTER_DNS_NAMES: 'backend.shop,backend.shop.svc' },
      dir,
    );
    const san = new X509Certificate((JSON.parse(named.stdout) as typeof ra).cert).subjectAltName ?? '';
    assert.match(san, /DNS:backend\.shop\b/);
    assert.match(san, /DNS:backend\.shop\.svc\b/);
  });

  it("Argv from the manifest, the program's exit code, and a changed program refused", async () => {
    const r = await run('shell', ['sh', '-c', 'echo ignored']);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^argv from the manifest: [0-9a-f]{64}$/m);
    const wrong = await run('shell', [node, '-e', '0']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /ACTIVATION_REFUSED.*mrenclave/);
    assert.match(c.log(), /"event":"activation-refused"/);
  });

  it('MaxActivations, unknown services, replayed and unbound activations are refused', async () => {
    assert.equal((await run('once', [node, '-e', '0'])).code, 0);
    assert.match((await run('once', [node, '-e', '0'])).stderr, /MaxActivations/);
    assert.match((await run('nobody', [node, '-e', '0'])).stderr, /ACTIVATION_REFUSED.*no service/);
    const mesh = parseAddress(c.mesh, 'mesh');
    const post = async (path: string, body: unknown) =>
      (await call(mesh, 'POST', path, { body: JSON.stringify(body) })).json<Record<string, string>>();
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = new Uint8Array(k.publicKey.export({ format: 'der', type: 'spki' }));
    const nonce = new Uint8Array(Buffer.from((await post('/mesh/v1/nonce', {}))['nonce'] as string, 'base64'));
    const quote = (reportData: Uint8Array) =>
      Buffer.from(
        simQuote(platform, {
          mrEnclave: measure(node),
          mrSigner: new Uint8Array(32),
          isvProdId: 0,
          isvSvn: 0,
          reportData,
        }),
      ).toString('base64');
    const body = {
      service: 'backend',
      instanceId: 'direct',
      nonce: Buffer.from(nonce).toString('base64'),
      publicKey: Buffer.from(spki).toString('base64'),
      evidence: quote(bindingReportData(spki, nonce)),
    };
    await post('/mesh/v1/activate', body);
    await assert.rejects(post('/mesh/v1/activate', body), (e: { code?: string }) => e.code === 'NONCE_INVALID');
    const fresh = new Uint8Array(Buffer.from((await post('/mesh/v1/nonce', {}))['nonce'] as string, 'base64'));
    await assert.rejects(
      post('/mesh/v1/activate', { ...body, nonce: Buffer.from(fresh).toString('base64') }),
      (e: { code?: string; message?: string }) => e.code === 'ACTIVATION_REFUSED' && /bind/.test(e.message ?? ''),
    );
    await assert.rejects(
      call(mesh, 'POST', '/mesh/v1/activate', { body: 'x'.repeat(2 << 20) }),
      (e: { code?: string }) => e.code === 'REQUEST_TOO_LARGE' || e.code === 'COORDINATOR_UNREACHABLE',
    );
  });

  it('kill -9 loses nothing acknowledged: same root, manifest, secrets and activation counts', async () => {
    const before = readFileSync(rootFile, 'utf8');
    const secretBefore = (
      await client('secret', 'get', 'apiKey', '--cert', join(dir, 'admin.pem'), '--key', join(dir, 'admin.key'))
    ).stdout;
    await c.stop('SIGKILL');
    c = await startCoordinator(dataDir, simDir);
    const v = await cloister([
      'verify',
      '--coordinator',
      c.client,
      '--simulation',
      '--sim-dir',
      simDir,
      '--root-out',
      join(dir, 'root2.pem'),
    ]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(readFileSync(join(dir, 'root2.pem'), 'utf8'), before);
    assert.equal((await client('manifest', 'verify', join(dir, 'manifest.json'))).code, 0);
    assert.equal(
      (await client('secret', 'get', 'apiKey', '--cert', join(dir, 'admin.pem'), '--key', join(dir, 'admin.key')))
        .stdout,
      secretBefore,
    );
    assert.match((await run('once', [node, '-e', '0'])).stderr, /MaxActivations/);
    assert.equal(statSync(join(dataDir, 'state.sealed')).mode & 0o077, 0);
  });
});
