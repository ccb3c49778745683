import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cloister, freePort, tempDir, type Result } from '../e2e/harness.js';
import { scrape } from '../e2e/scrape.js';

/**
 * `cloister attestation-service` as a real process, and the documented SDK example
 * (docs/examples/maa-client.mjs) as another, trusting the service through NODE_EXTRA_CA_CERTS;
 * `cloister attest verify --tee maa` verifies the tokens; SIGHUP rotates the signing key.
 */

const EXAMPLE = fileURLToPath(new URL('../../../docs/examples/maa-client.mjs', import.meta.url));
const dir = tempDir('maa-cli');
const simDir = join(dir, 'sim');
const dataDir = join(dir, 'data');
let service: ChildProcess;
let instance: string;
let metrics: string;
let log = '';

function runExample(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [EXAMPLE, instance, ...args], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dataDir, 'tls-root.pem') },
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const waitForLog = (text: string) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${text}" in the service log: ${log}`)), 60_000);
    const check = () => {
      if (log.includes(text)) {
        clearTimeout(timer);
        resolve();
      } else setTimeout(check, 20);
    };
    check();
  });

before(async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  instance = `https://${listen}`;
  metrics = `127.0.0.1:${await freePort()}`;
  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ acceptedTcbStatuses: ['UpToDate'] }));
  service = spawn(process.execPath, [
    fileURLToPath(new URL('../../../bin/cloister.js', import.meta.url)),
    'attestation-service',
    '--data-dir',
    dataDir,
    '--listen',
    listen,
    '--simulation',
    '--sim-dir',
    simDir,
    '--policy',
    join(dir, 'policy.json'),
    '--metrics-addr',
    metrics,
  ]);
  service.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await waitForLog('"event":"listening"');
});

after(() => {
  service.kill('SIGTERM');
});

test('the SDK example attests a simulated quote with runtime data; attest verify --tee maa verifies the token', async () => {
  const data = Buffer.from("the enclave's public key");
  writeFileSync(join(dir, 'runtime.bin'), data);
  const q = await cloister([
    'sim',
    'quote',
    '--sim-dir',
    simDir,
    '--mrenclave',
    'ab'.repeat(32),
    '--mrsigner',
    'cd'.repeat(32),
    '--isv-prod-id',
    '4',
    '--isv-svn',
    '2',
    '--report-data',
    createHash('sha256').update(data).digest('hex'),
    '--out',
    join(dir, 'q.bin'),
  ]);
  assert.equal(q.code, 0, q.stderr);
  const r = await runExample(join(dir, 'q.bin'), join(dir, 'runtime.bin'));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(
    [
      out['issuer'],
      out['mrEnclave'],
      out['mrSigner'],
      out['productId'],
      out['svn'],
      out['isDebuggable'],
      out['enclaveHeldData'],
    ],
    [instance, 'ab'.repeat(32), 'cd'.repeat(32), 4, 2, false, data.toString('hex')],
  );

  const certs = await fetch(`${instance}/certs`).catch(() => undefined);
  assert.equal(certs, undefined, 'the service is not trusted without its root');
  writeFileSync(join(dir, 'token.jwt'), String(out['token']));
  const jwks = await runCurl('/certs');
  writeFileSync(join(dir, 'jwks.json'), jwks);
  const v = await cloister([
    'attest',
    'verify',
    join(dir, 'token.jwt'),
    '--tee',
    'maa',
    '--jwks',
    join(dir, 'jwks.json'),
    '--issuer',
    instance,
    '--json',
  ]);
  assert.equal(v.code, 0, v.stdout);
  const verdict = JSON.parse(v.stdout) as { tee: string; tcbStatus: string; claims: Record<string, unknown> };
  assert.deepEqual(
    [verdict.tee, verdict.tcbStatus, verdict.claims['mrenclave'], verdict.claims['reportData']],
    ['maa', 'UpToDate', 'ab'.repeat(32), data.toString('hex')],
  );
  const wrong = await cloister([
    'attest',
    'verify',
    join(dir, 'token.jwt'),
    '--tee',
    'maa',
    '--jwks',
    join(dir, 'jwks.json'),
    '--issuer',
    'https://elsewhere.example',
    '--json',
  ]);
  assert.equal((JSON.parse(wrong.stdout) as { error: { code: string } }).error.code, 'TOKEN_ISSUER_MISMATCH');
});

test('SIGHUP rotates the key: both keys in /certs, the example (a new client) verifies tokens of the new one', async () => {
  const first = (JSON.parse(await runCurl('/certs')) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
  service.kill('SIGHUP');
  await waitForLog('"event":"rotated"');
  const kids = (JSON.parse(await runCurl('/certs')) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
  assert.equal(kids.length, 2);
  assert.equal(kids[1], first[0]);
  const q = await cloister([
    'sim',
    'quote',
    '--sim-dir',
    simDir,
    '--mrenclave',
    'ab'.repeat(32),
    '--out',
    join(dir, 'q2.bin'),
  ]);
  assert.equal(q.code, 0, q.stderr);
  const r = await runExample(join(dir, 'q2.bin'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { kid: string }).kid, kids[0]);
});

test('metrics, scraped at --metrics-addr: attestations by endpoint and result, verification time and TCB status by TEE kind, commits', async () => {
  const refused = await new Promise<number>((resolve, reject) => {
    const { hostname, port } = new URL(instance);
    const req = request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: '/attest/SgxEnclave?api-version=2022-08-01',
        ca: readFileSync(join(dataDir, 'tls-root.pem')),
        headers: { 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ quote: Buffer.alloc(600, 1).toString('base64url') }));
  });
  assert.equal(refused, 400);
  const s = await scrape(metrics);
  assert.equal(s.status, 200);
  assert.equal(s.value('cloister_build_info', { component: 'attestation-service' }), 1);
  // The two tokens of the example runs above, and the garbage just sent.
  assert.equal(s.value('cloister_attestations_total', { endpoint: 'SgxEnclave', result: 'issued' }), 2);
  const refusals = s.samples.filter((x) => x.name === 'cloister_attestations_total' && x.labels['result'] !== 'issued');
  assert.deepEqual(
    refusals.map((x) => [x.labels['endpoint'], x.value]),
    [['SgxEnclave', 1]],
  );
  assert.match(refusals[0]?.labels['result'] ?? '', /^[A-Z_]+$/);
  assert.equal(
    s.value('cloister_evidence_verification_seconds_count', { api: 'maa', tee: 'sgx', result: 'verified' }),
    2,
  );
  assert.equal(s.value('cloister_tcb_status_total', { api: 'maa', tee: 'sgx', status: 'UpToDate' }), 2);
  // The sealed state written at first start, and once more by the rotation.
  assert.equal(s.value('cloister_store_commit_seconds_count', { store: 'attestation-service' }), 2);
});

/** GET a path of the service trusting its root (the service's CA is in the data folder). */
function runCurl(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', `fetch(${JSON.stringify(instance + path)}).then((r) => r.text()).then((t) => process.stdout.write(t))`],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dataDir, 'tls-root.pem') } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`GET ${path} failed`))));
  });
}
