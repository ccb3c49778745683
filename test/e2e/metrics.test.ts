import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hex } from '../../src/lib/bytes.js';
import { importSimState } from '../../src/attest/sim/index.js';
import { bindingReportData, encodeActivationRequest } from '../../src/protocol/index.js';
import { activate } from '../../src/run/activate.js';
import { simEvidence, type EvidenceSource } from '../../src/run/evidence.js';
import { call, parseAddress, type Endpoint } from '../../src/cli/net.js';
import { freePort, pinRoot, startCoordinator, tempDir, type RunningCoordinator } from './harness.js';
import { httpGet, scrape } from './scrape.js';
import { userCert } from './users.js';

/**
 * The coordinator's Prometheus metrics, scraped from a real process at its `--metrics-addr`:
 * what each activation, refusal, nonce and commit does to them, that names a caller makes up
 * make no series, and that the address serves nothing but `/metrics` (and the APIs no metrics).
 */

const dir = tempDir('metrics');
const simDir = join(dir, 'sim');
const MRENCLAVE = new Uint8Array(32).fill(0x11);
let coordinator: RunningCoordinator;
let metrics: string;
let mesh: Endpoint;
let client: Endpoint;
let ca: string;
let evidence: EvidenceSource;
let reader: { cert: string; key: string };

/** An activation request as a workload sends it, answered with its status and error code. */
async function activation(
  service: string,
  o: { evidence?: EvidenceSource; nonce?: Uint8Array } = {},
): Promise<{ nonce: Uint8Array; code: string | undefined }> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKey = new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' }));
  const nonce =
    o.nonce ??
    new Uint8Array(
      Buffer.from(
        (await call(mesh, 'POST', '/mesh/v1/nonce', { body: '{}', ca })).json<{ nonce: string }>().nonce,
        'base64',
      ),
    );
  const quote = await (o.evidence ?? evidence).quote(bindingReportData(publicKey, nonce));
  const body = JSON.stringify(
    encodeActivationRequest({ service, instanceId: 'metrics', nonce, evidence: quote, publicKey }),
  );
  try {
    await call(mesh, 'POST', '/mesh/v1/activate', { body, ca });
    return { nonce, code: undefined };
  } catch (error) {
    return { nonce, code: (error as { code: string }).code };
  }
}

before(async () => {
  metrics = `127.0.0.1:${await freePort()}`;
  coordinator = await startCoordinator(join(dir, 'data'), simDir, ['--metrics-addr', metrics]);
  const rootFile = join(dir, 'root.pem');
  assert.equal((await pinRoot(coordinator, simDir, rootFile)).code, 0);
  ca = readFileSync(rootFile, 'utf8');
  mesh = parseAddress(coordinator.mesh, 'mesh');
  client = parseAddress(coordinator.client, 'client');
  const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
  evidence = simEvidence(platform, { mrEnclave: MRENCLAVE });
  reader = await userCert('reader');
});
after(() => coordinator.stop());

describe('coordinator metrics (a real process, scraped)', () => {
  it('before a manifest: build info, no outstanding nonce, the first commit (the new state) timed', async () => {
    const s = await scrape(metrics);
    assert.equal(s.status, 200);
    assert.match(s.type ?? '', /^text\/plain; version=0\.0\.4/);
    const version = (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
    assert.equal(
      s.value('cloister_build_info', { component: 'coordinator', version, node_version: process.version }),
      1,
    );
    assert.equal(s.value('cloister_activation_nonces_outstanding'), 0);
    assert.equal(s.value('cloister_store_commit_seconds_count', { store: 'coordinator' }), 1);
    assert.equal(s.value('cloister_manifest_info'), undefined);
    assert.ok(s.value('process_resident_memory_bytes') !== undefined, 'the default process metrics');
  });

  it('a manifest set: one commit more, its fingerprint, every service at 0 activations', async () => {
    const manifest = JSON.stringify({
      Packages: { app: { UniqueID: hex(MRENCLAVE), TEE: 'sim' } },
      Marbles: { app: { Package: 'app' }, other: { Package: 'app' } },
      Secrets: { apiKey: { Type: 'symmetric-key', Size: 256, Shared: true } },
      Users: { reader: { Certificate: reader.cert, Roles: ['read'] } },
      Roles: { read: { ResourceType: 'Secrets', ResourceNames: ['apiKey'], Actions: ['ReadSecret'] } },
    });
    const { fingerprint } = (await call(client, 'POST', '/api/v1/manifest', { body: manifest, ca })).json<{
      fingerprint: string;
    }>();
    const s = await scrape(metrics);
    assert.equal(s.value('cloister_store_commit_seconds_count', { store: 'coordinator' }), 2);
    assert.equal(s.value('cloister_manifest_info', { fingerprint }), 1);
    assert.equal(s.value('cloister_service_activations', { service: 'app' }), 0);
    assert.equal(s.value('cloister_service_activations', { service: 'other' }), 0);
  });

  it('an activation: counted by service and result, its verification timed by TEE kind, its TCB status, its commit', async () => {
    await activate(
      { post: async (path, body) => (await call(mesh, 'POST', path, { body: JSON.stringify(body), ca })).json() },
      evidence,
      {
        service: 'app',
      },
    );
    const s = await scrape(metrics);
    assert.equal(s.value('cloister_activations_total', { service: 'app', result: 'activated' }), 1);
    assert.equal(s.value('cloister_service_activations', { service: 'app' }), 1);
    assert.equal(
      s.value('cloister_evidence_verification_seconds_count', { api: 'mesh', tee: 'sim', result: 'verified' }),
      1,
    );
    assert.ok(
      (s.value('cloister_evidence_verification_seconds_sum', { api: 'mesh', tee: 'sim', result: 'verified' }) ?? 0) > 0,
    );
    assert.equal(s.value('cloister_tcb_status_total', { api: 'mesh', tee: 'sim', status: 'UpToDate' }), 1);
    assert.equal(s.value('cloister_store_commit_seconds_count', { store: 'coordinator' }), 3);
    assert.equal(s.value('cloister_activation_nonces_outstanding'), 0, 'its nonce is used');
  });

  it('refusals: by their code; other code is authentic evidence (its TCB status counted) that policy refused', async () => {
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const otherCode = simEvidence(platform, { mrEnclave: new Uint8Array(32).fill(0x22) });
    assert.equal((await activation('app', { evidence: otherCode })).code, 'ACTIVATION_REFUSED');
    const { nonce } = await activation('other');
    assert.equal((await activation('other', { nonce })).code, 'NONCE_INVALID', 'replayed');
    const s = await scrape(metrics);
    assert.equal(s.value('cloister_activations_total', { service: 'app', result: 'ACTIVATION_REFUSED' }), 1);
    assert.equal(s.value('cloister_activations_total', { service: 'other', result: 'activated' }), 1);
    assert.equal(s.value('cloister_activations_total', { service: 'other', result: 'NONCE_INVALID' }), 1);
    assert.equal(s.value('cloister_tcb_status_total', { api: 'mesh', tee: 'sim', status: 'UpToDate' }), 3);
    assert.equal(
      s.value('cloister_evidence_verification_seconds_count', { api: 'mesh', tee: 'sim', result: 'verified' }),
      3,
    );
    assert.equal(
      s.value('cloister_store_commit_seconds_count', { store: 'coordinator' }),
      4,
      'a refusal commits nothing',
    );
  });

  it('names a caller makes up are no new series: they count as (unknown)', async () => {
    const made = ['evil', 'a"b\\c', 'x'.repeat(200), '(unknown)x'];
    for (const name of made) assert.equal((await activation(name)).code, 'ACTIVATION_REFUSED');
    const s = await scrape(metrics);
    assert.equal(
      s.value('cloister_activations_total', { service: '(unknown)', result: 'ACTIVATION_REFUSED' }),
      made.length,
    );
    const services = new Set(
      s.samples.flatMap((sample) => (sample.labels['service'] === undefined ? [] : [sample.labels['service']])),
    );
    assert.deepEqual([...services].sort(), ['(unknown)', 'app', 'other']);
    for (const name of made.slice(0, 3)) assert.ok(!s.text.includes(name), name);
  });

  it('nonces outstanding: issued and unused ones; one used is no longer outstanding', async () => {
    for (let i = 0; i < 3; i++) await call(mesh, 'POST', '/mesh/v1/nonce', { body: '{}', ca });
    assert.equal((await scrape(metrics)).value('cloister_activation_nonces_outstanding'), 3);
    await activation('app');
    assert.equal((await scrape(metrics)).value('cloister_activation_nonces_outstanding'), 3);
  });

  it('no secret is in them: not the shared secret a user reads, not the root key, not a certificate', async () => {
    const secret = (
      await call(client, 'GET', '/api/v1/secrets?s=apiKey', { ca, cert: reader.cert, key: reader.key })
    ).json<{ apiKey: { key: string } }>().apiKey.key;
    const text = (await scrape(metrics)).text;
    for (const form of [secret, Buffer.from(secret, 'base64').toString('hex')]) assert.ok(!text.includes(form));
    assert.doesNotMatch(text, /BEGIN|PRIVATE|CERTIFICATE/);
  });

  it('the metrics address serves /metrics alone, to GET; the APIs serve no metrics', async () => {
    assert.equal((await httpGet(metrics, '/api/v1/status')).status, 404);
    assert.equal((await httpGet(metrics, '/api/v1/secrets?s=apiKey')).status, 404);
    assert.equal((await httpGet(metrics, '/metrics', 'POST')).status, 405);
    for (const api of [client, mesh])
      await assert.rejects(call(api, 'GET', '/metrics', { ca }), (e: { code?: string }) => e.code === 'NOT_FOUND');
  });
});
