import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importSimState } from '../../src/attest/sim/index.js';
import { hex } from '../../src/lib/bytes.js';
import { CloisterError } from '../../src/lib/errors.js';
import { bindingReportData, encodeActivationRequest } from '../../src/protocol/index.js';
import { call, parseAddress } from '../../src/cli/net.js';
import { activate, type Activated } from '../../src/run/activate.js';
import { simEvidence } from '../../src/evidence/sim.js';
import { measure, resolveProgram } from '../../src/run/measure.js';
import { createCa } from '../../src/pki/index.js';
import { servingIdentity } from '../../src/server/listen.js';
import {
  cloister,
  errorCode,
  freePort,
  startCoordinator,
  tempDir,
  type RunningCoordinator,
  pinRoot,
} from './harness.js';

/**
 * No workload certificate passes as the coordinator or as another service: a real coordinator, a
 * workload activated against it, and that workload trying to be what it is not.
 */

const dir = tempDir('trust');
const simDir = join(dir, 'sim');
const root = join(dir, 'root.pem');
const node = resolveProgram('node');
let c: RunningCoordinator;
const servers: https.Server[] = [];

const MANIFEST = {
  Packages: { app: { UniqueID: hex(measure(node)), TEE: 'sim' } },
  Marbles: {
    api: { Package: 'app', DNSNames: ['api.example.com'], IPAddresses: ['10.1.2.3'] },
    db: { Package: 'app' },
    once: { Package: 'app', MaxActivations: 1 },
  },
};

async function activateAs(service: string, names: { dnsNames?: string[]; ipAddresses?: string[] } = {}) {
  const mesh = parseAddress(c.mesh, 'mesh');
  const ca = readFileSync(root, 'utf8');
  const post = async (path: string, body: unknown) =>
    (await call(mesh, 'POST', path, { ca, body: JSON.stringify(body) })).json();
  const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
  return activate({ post }, simEvidence(platform, { mrEnclave: measure(node) }), { service, ...names });
}

/** An HTTPS server on loopback with the workload's certificate, answering as `answer` says. */
async function impostor(workload: Activated, answer: (path: string) => Promise<string>): Promise<string> {
  const server = https.createServer({ cert: workload.certChain, key: workload.privateKey }, (req, res) => {
    answer(req.url ?? '/').then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  servers.push(server);
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `127.0.0.1:${port}`;
}

/**
 * A fake coordinator on loopback with a CA of its own: it hands out nonces and a quote that proves
 * nothing, and would make the workload run `touch PWNED` if the workload believed it.
 */
async function fakeCoordinator(): Promise<string> {
  const ca = await createCa({ now: Date.now() / 1000, name: 'fake' });
  const manifest = {
    ...MANIFEST,
    Marbles: { api: { Package: 'app', Parameters: { Argv: ['sh', '-c', 'touch PWNED'] } } },
  };
  const answers: Record<string, unknown> = {
    '/mesh/v1/nonce': { nonce: Buffer.alloc(32, 1).toString('base64') },
    '/mesh/v1/quote': { evidence: 'AAAA', collateral: {}, root: '', simulation: true },
    '/mesh/v1/activate': { manifest: Buffer.from(JSON.stringify(manifest)).toString('base64') },
  };
  const server = https.createServer(await servingIdentity(ca, 'fake', [], Date.now() / 1000), (req, res) => {
    const answer = answers[(req.url ?? '').split('?')[0] ?? ''];
    res.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(answer ?? {}));
  });
  servers.push(server);
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `127.0.0.1:${port}`;
}

/** `cloister run --service api` of a program that says how it trusted the coordinator. */
const runApi = (coordinator: string, options: string[], env: NodeJS.ProcessEnv = {}) =>
  cloister(
    [
      'run',
      '--service',
      'api',
      '--coordinator',
      coordinator,
      '--sim-dir',
      simDir,
      ...options,
      '--',
      node,
      '-e',
      'console.log(process.env.CLOISTER_COORDINATOR_TRUST)',
    ],
    env,
    dir,
  );

const refusedFor = (pattern: RegExp) => (e: unknown) =>
  e instanceof CloisterError && e.code === 'ACTIVATION_REFUSED' && pattern.test(e.message);

describe('the trust chain: the coordinator and service names', () => {
  before(async () => {
    c = await startCoordinator(join(dir, 'data'), simDir, ['--dns-name', 'coordinator.example.com']);
    const v = await pinRoot(c, simDir, root);
    assert.equal(v.code, 0, v.stderr);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(MANIFEST));
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'manifest.json'),
      '--coordinator',
      c.client,
      '--root',
      root,
    ]);
    assert.equal(set.code, 0, set.stderr);
  });
  after(async () => {
    for (const s of servers) s.close();
    await c.stop('SIGKILL');
  });

  it('cloister run refuses a coordinator it cannot authenticate, and names the two ways to trust one', async () => {
    const fake = await fakeCoordinator();
    const bare = await runApi(fake, []);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /COORDINATOR_UNTRUSTED.*--root FILE.*--coordinator-policy FILE/);
    const pinned = await runApi(fake, ['--root', root]);
    assert.equal(pinned.code, 1);
    assert.match(pinned.stderr, /COORDINATOR_UNTRUSTED/);
    const asEnv = await runApi(fake, [], { CLOISTER_COORDINATOR_ROOT: readFileSync(root, 'utf8') });
    assert.match(asEnv.stderr, /COORDINATOR_UNTRUSTED/);
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ allowSimulation: true }));
    const attested = await runApi(fake, ['--coordinator-policy', join(dir, 'policy.json')]);
    assert.equal(attested.code, 1, attested.stderr);
    assert.equal((await runApi(fake, ['--insecure-trust-first-use'])).code, 1);
    assert.equal((await runApi(fake, [], { CLOISTER_COORDINATOR_ROOT: 'not a certificate' })).code, 1);
    assert.equal(existsSync(join(dir, 'PWNED')), false, 'the fake coordinator chose what ran');
  });

  it('cloister run trusts the real coordinator by its pinned root, by attestation, or (labelled) on first use', async () => {
    const pinned = await runApi(c.mesh, ['--root', root]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(pinned.stdout.trim(), 'pinned-root');
    const fromEnv = await runApi(c.mesh, [], { CLOISTER_COORDINATOR_ROOT: readFileSync(root, 'utf8') });
    assert.equal(fromEnv.stdout.trim(), 'pinned-root', fromEnv.stderr);
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ allowSimulation: true }));
    const attested = await runApi(c.mesh, ['--coordinator-policy', join(dir, 'policy.json')]);
    assert.equal(attested.stdout.trim(), 'attested', attested.stderr);
    const policyEnv = await runApi(c.mesh, [], { CLOISTER_COORDINATOR_POLICY: '{"allowSimulation":true}' });
    assert.equal(policyEnv.stdout.trim(), 'attested', policyEnv.stderr);
    // A policy that pins another identity is refused, as `cloister verify` refuses it.
    writeFileSync(
      join(dir, 'other.json'),
      JSON.stringify({ allowSimulation: true, expected: { mrsigner: 'ab'.repeat(32) } }),
    );
    assert.equal((await runApi(c.mesh, ['--coordinator-policy', join(dir, 'other.json')])).code, 1);
    const firstUse = await runApi(c.mesh, ['--insecure-trust-first-use']);
    assert.equal(firstUse.stdout.trim(), 'insecure-trust-first-use', firstUse.stderr);
    assert.match(firstUse.stderr, /INSECURE/);
  });

  it('a P-384 activation key is refused before it is counted', async () => {
    const mesh = parseAddress(c.mesh, 'mesh');
    const ca = readFileSync(root, 'utf8');
    const post = async (path: string, body: unknown) =>
      (await call(mesh, 'POST', path, { ca, body: JSON.stringify(body) })).json<Record<string, string>>();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const spki = new Uint8Array(p384.publicKey.export({ format: 'der', type: 'spki' }));
    const nonce = new Uint8Array(Buffer.from((await post('/mesh/v1/nonce', {}))['nonce'] ?? '', 'base64'));
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const evidence = await simEvidence(platform, { mrEnclave: measure(node) }).quote(bindingReportData(spki, nonce));
    await assert.rejects(
      post(
        '/mesh/v1/activate',
        encodeActivationRequest({ service: 'once', instanceId: 'p384', nonce, evidence, publicKey: spki }),
      ),
      (e: unknown) => e instanceof CloisterError && e.code === 'REQUEST_INVALID' && /P-256/.test(e.message),
    );
    // The one activation `once` has is still there.
    await activateAs('once');
    await assert.rejects(activateAs('once'), refusedFor(/MaxActivations/));
  });

  it("a workload's certificate, valid under the pinned root, does not pass as the coordinator", async () => {
    const workload = await activateAs('api');
    const fake = await impostor(workload, async () => JSON.stringify({ fingerprint: 'x', manifest: '' }));
    const r = await cloister(['manifest', 'get', '--coordinator', fake, '--root', root, '--json']);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(errorCode(r), 'COORDINATOR_UNTRUSTED');
  });

  it("a quote relayed from the real coordinator through a workload's certificate is refused by verify", async () => {
    const workload = await activateAs('api');
    const real = parseAddress(c.client, 'client');
    const relay = await impostor(workload, async (path) => (await call(real, 'GET', path)).body.toString());
    const r = await cloister([
      'verify',
      '--coordinator',
      relay,
      '--simulation',
      '--sim-dir',
      simDir,
      '--root-out',
      join(dir, 'relayed.pem'),
      '--json',
    ]);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(errorCode(r), 'COORDINATOR_UNTRUSTED');
  });

  it('a service gets its own names, its Kubernetes names and what the manifest lists for it', async () => {
    const api = await activateAs('api', {
      dnsNames: ['api', 'localhost', 'api.prod', 'api.prod.svc', 'API.prod.svc.cluster.local', 'api.example.com'],
      ipAddresses: ['127.0.0.1', '::1', '10.1.2.3'],
    });
    assert.match(api.certChain, /BEGIN CERTIFICATE/);
  });

  it("another service's names, bare or qualified, wildcards, unlisted names and the coordinator's are refused", async () => {
    for (const name of ['cloister-mesh.default.svc', '*.com', 'com'])
      await assert.rejects(activateAs('api', { dnsNames: [name] }), refusedFor(/wildcard|may claim/), name);
    for (const name of ['db', 'DB', 'db.prod', 'db.prod.svc.cluster.local'])
      await assert.rejects(activateAs('api', { dnsNames: [name] }), refusedFor(/service "db"/), name);
    await assert.rejects(activateAs('db', { dnsNames: ['api.example.com'] }), refusedFor(/may claim/));
    await assert.rejects(activateAs('api', { dnsNames: ['*.example.com'] }), refusedFor(/wildcard/));
    await assert.rejects(activateAs('api', { dnsNames: ['evil.example.com'] }), refusedFor(/may claim/));
    await assert.rejects(
      activateAs('api', { dnsNames: ['coordinator.example.com'] }),
      refusedFor(/coordinator's own names/),
    );
    await assert.rejects(activateAs('db', { ipAddresses: ['10.1.2.3'] }), refusedFor(/may claim/));
    await assert.rejects(activateAs('api', { ipAddresses: ['10.9.9.9'] }), refusedFor(/may claim/));
  });

  it("a manifest that lists another service's name for a service is refused", async () => {
    const bad = {
      ...MANIFEST,
      Marbles: { ...MANIFEST.Marbles, api: { Package: 'app', DNSNames: ['db.default.svc'] } },
    };
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    const r = await cloister(['manifest', 'check', join(dir, 'bad.json'), '--json']);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(errorCode(r), 'MANIFEST_INVALID');
    assert.match(r.stdout, /Marbles\.api\.DNSNames\[0\].*service \\"db\\"/);
  });
});
