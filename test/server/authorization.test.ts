import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import * as px from '@peculiar/x509';
import { hex } from '../../src/lib/bytes.js';
import type { ErrorCode } from '../../src/lib/errors.js';
import { importSimState } from '../../src/attest/sim/index.js';
import { bindingReportData } from '../../src/protocol/index.js';
import { activate } from '../../src/run/activate.js';
import { simEvidence } from '../../src/evidence/sim.js';
import type { SimEvidence as EvidenceSource } from '../../src/evidence/sim.js';
import { call, parseAddress } from '../../src/cli/net.js';
import { pemPrivateKey } from '../../src/pki/index.js';
import { openEnclaveReport, snpReportMember } from '../attestation-service/helpers.js';
import { cloister, freePort, startCoordinator, tempDir, type RunningCoordinator } from '../e2e/harness.js';
import { userCert } from '../e2e/users.js';

/**
 * The authorisation matrix of a real coordinator over real mTLS: every route it serves (read from
 * its own `listening` log line) × every kind of caller, from one table. A route without a row, or
 * a row without a route, fails the test; so does every cell whose answer is not the one expected:
 * allowed (2xx), or refused with its status and error code.
 */

type Refusal = { status: number; code: ErrorCode };
type Outcome = 'allowed' | Refusal;

const UNAUTHENTICATED: Refusal = { status: 401, code: 'UNAUTHENTICATED' };
const FORBIDDEN: Refusal = { status: 403, code: 'FORBIDDEN' };
const MANIFEST_MISSING: Refusal = { status: 409, code: 'MANIFEST_MISSING' };

/** Who a caller is to the coordinator. `stranger`: a certificate it neither issued nor lists as a user. */
type Who =
  | { kind: 'anonymous' }
  | { kind: 'user'; role: string | undefined }
  | { kind: 'service'; service: string }
  | { kind: 'stranger' };

/** Who may call a route once the manifest is set: anyone, users with one of the roles, a service, or no one. */
type Access = 'anyone' | { roles: Role[] } | { service: string } | { nobody: Refusal };

function expected(access: Access, who: Who): Outcome {
  if (access === 'anyone') return 'allowed';
  if ('nobody' in access) return access.nobody;
  if ('roles' in access)
    return who.kind !== 'user'
      ? UNAUTHENTICATED
      : access.roles.some((role) => role === who.role)
        ? 'allowed'
        : FORBIDDEN;
  return who.kind !== 'service' ? UNAUTHENTICATED : who.service === access.service ? 'allowed' : FORBIDDEN;
}

/**
 * One role per resource type and action of the manifest, roles with the right action on another
 * name, and two with UpdateManifest (so that a proposed update waits for the other's acknowledgement).
 */
const ROLES = {
  secretReader: { ResourceType: 'Secrets', ResourceNames: ['apiKey'], Actions: ['ReadSecret'] },
  tokenReader: { ResourceType: 'Secrets', ResourceNames: ['token'], Actions: ['ReadSecret'] },
  secretWriter: { ResourceType: 'Secrets', ResourceNames: ['token'], Actions: ['WriteSecret'] },
  dataSealer: { ResourceType: 'Volumes', ResourceNames: ['data'], Actions: ['SealVolume'] },
  dataResealer: { ResourceType: 'Volumes', ResourceNames: ['data'], Actions: ['SealVolume', 'ResealVolume'] },
  codeSealer: { ResourceType: 'Volumes', ResourceNames: ['code'], Actions: ['SealVolume'] },
  dataOpener: { ResourceType: 'Volumes', ResourceNames: ['data'], Actions: ['OpenVolume'] },
  manifestUpdater: { ResourceType: 'Manifest', Actions: ['UpdateManifest'] },
  manifestApprover: { ResourceType: 'Manifest', Actions: ['UpdateManifest'] },
  packageUpdater: { ResourceType: 'Packages', ResourceNames: ['signed'], Actions: ['UpdateSecurityVersion'] },
};
type Role = keyof typeof ROLES;

/** The callers: anonymous, activated services, one user per role, a user without roles, and borrowed identities. */
const CALLERS: Array<{ name: string; who: Who }> = [
  { name: 'anonymous', who: { kind: 'anonymous' } },
  { name: 'service app', who: { kind: 'service', service: 'app' } },
  { name: 'service other', who: { kind: 'service', service: 'other' } },
  ...(Object.keys(ROLES) as Role[]).map((role) => ({ name: `user ${role}`, who: { kind: 'user', role } as Who })),
  { name: 'user nobody', who: { kind: 'user', role: undefined } },
  // Borrowed: the same subject and issuer name as "service app", from another coordinator's CA.
  { name: 'service app of another coordinator', who: { kind: 'stranger' } },
  // Forged: a copy of "service app"'s certificate (names, extensions, the issuer's key id) signed by another key.
  { name: 'a forgery of service app', who: { kind: 'stranger' } },
  // Borrowed: the same subject and issuer name as "user secretReader", another key.
  { name: 'a look-alike of user secretReader', who: { kind: 'stranger' } },
];

interface Case {
  /** What is asked, when a route has several cases. */
  what?: string;
  /** Query string (with its `?`). */
  query?: string;
  body?: () => string | Promise<string>;
  /** Once the manifest is set. */
  access: Access;
  /** Brings the state each cell expects, before it (once the manifest is set). */
  prepare?: () => Promise<void>;
  /** Anonymous, before the manifest is set. */
  unset: Outcome;
}

interface Credentials {
  cert: string;
  key: string;
}

const dir = tempDir('authorization');
const simDir = join(dir, 'sim');
const MRENCLAVE = new Uint8Array(32).fill(0x11);
let coordinator: RunningCoordinator;
/** The coordinator's metrics address (plain HTTP: no caller presents anything there). */
let metricsAddress: string;
let root: string;
let evidence: EvidenceSource;
/** The credentials of each caller (none for anonymous), by name. */
const credentials = new Map<string, Credentials>();
const users = new Map<string, Credentials>();
/** Raised by every security-version update, so that each one raises it. */
let securityVersion = 1;

/** The manifest; `space` makes other bytes of the same manifest (the update proposed). */
function manifest(space?: number): string {
  const doc = {
    Packages: {
      app: { UniqueID: hex(MRENCLAVE), TEE: 'sim' },
      signed: { SignerID: '22'.repeat(32), ProductID: 1, SecurityVersion: 1, TEE: 'sim' },
    },
    Marbles: { app: { Package: 'app' }, other: { Package: 'app' } },
    Secrets: {
      apiKey: { Type: 'symmetric-key', Size: 256, Shared: true },
      token: { Type: 'plain', UserDefined: true },
    },
    Volumes: {
      data: { Mode: 'read-write', Services: ['app'], Sealed: 'data.sealed', Path: 'run/data' },
      code: { Mode: 'read-only', Services: ['app'], Sealed: 'code.sealed', Path: 'run/code' },
    },
    Users: Object.fromEntries(
      [...users].map(([name, u]) => [name, { Certificate: u.cert, Roles: name in ROLES ? [name] : [] }]),
    ),
    Roles: ROLES,
  };
  return JSON.stringify(doc, null, space);
}

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
}

function send(
  address: string,
  ca: string,
  who: Credentials | undefined,
  method: string,
  path: string,
  body?: string,
): Promise<Answer> {
  const { host, port } = parseAddress(address, 'address');
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, method, path, ca, agent: false, ...(who ?? {}) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The addresses of a coordinator: its client and mesh APIs (HTTPS), and its metrics (HTTP). */
type Api = 'client' | 'mesh' | 'metrics';
const APIS: readonly Api[] = ['client', 'mesh', 'metrics'];

function sendPlain(address: string, method: string, path: string, body?: string): Promise<Answer> {
  const { host, port } = parseAddress(address, 'address');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `route` (with its query) asked by the named caller of the table, at this coordinator. */
function ask(caller: string, api: Api, route: string, body?: string): Promise<Answer> {
  const [method, path] = route.split(' ') as [string, string];
  if (api === 'metrics') return sendPlain(metricsAddress, method, path, body);
  return send(coordinator[api], root, credentials.get(caller), method, path, body);
}

const codeOf = (answer: Answer) => (JSON.parse(answer.body || '{}') as { code?: string }).code;

/** Asks, and accepts a 2xx or the refusal `code` (for preparations that may find the state already there). */
async function ensure(caller: string, route: string, body: string | undefined, code: ErrorCode): Promise<void> {
  const answer = await ask(caller, 'client', route, body);
  assert.ok((answer.status >= 200 && answer.status < 300) || codeOf(answer) === code, answer.body);
}

const PROPOSAL = () => manifest(2);
const pendingUpdate = () => ensure('user manifestUpdater', 'POST /api/v1/update', PROPOSAL(), 'UPDATE_NOT_PENDING');
const noPendingUpdate = () =>
  ensure('user manifestUpdater', 'POST /api/v1/update/cancel', undefined, 'UPDATE_NOT_PENDING');
const committed = async () => {
  const answer = await ask('service app', 'mesh', 'POST /mesh/v1/volumes/commit', '{"volume":"data","changes":[]}');
  assert.equal(answer.status, 200, answer.body);
};

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sgxQuote = () => evidence.quote(new Uint8Array(64));

async function activationBody(): Promise<string> {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(keys.publicKey.export({ format: 'der', type: 'spki' }));
  const nonce = (JSON.parse((await ask('anonymous', 'mesh', 'POST /mesh/v1/nonce', '{}')).body) as { nonce: string })
    .nonce;
  const quote = await evidence.quote(bindingReportData(spki, new Uint8Array(Buffer.from(nonce, 'base64'))));
  return JSON.stringify({ service: 'app', instanceId: 'matrix', nonce, evidence: b64(quote), publicKey: b64(spki) });
}

const API_VERSION = '?api-version=2022-08-01';
const UPDATERS: Role[] = ['manifestUpdater', 'manifestApprover'];

/** THE table: every route of each address, what is asked of it, and who may. */
const TABLE: Record<Api, Record<string, Case[]>> = {
  client: {
    'GET /api/v1/status': [{ access: 'anyone', unset: 'allowed' }],
    // The dashboard and what it reads: what anyone may read of the API anyway (docs/dashboard.md).
    'GET /': [{ access: 'anyone', unset: 'allowed' }],
    'GET /dashboard': [{ access: 'anyone', unset: 'allowed' }],
    'GET /api/v1/attestation': [{ access: 'anyone', unset: 'allowed' }],
    'GET /api/v1/activations': [{ access: 'anyone', unset: MANIFEST_MISSING }],
    'GET /api/v1/quote': [{ query: '?nonce=00ff', access: 'anyone', unset: 'allowed' }],
    'GET /api/v1/certificate': [{ access: 'anyone', unset: 'allowed' }],
    'GET /api/v1/openapi.json': [{ access: 'anyone', unset: 'allowed' }],
    'GET /api/v1/manifest': [{ access: 'anyone', unset: MANIFEST_MISSING }],
    // The history is public (names and types, never values); its head is signed by the root key.
    'GET /api/v1/history': [{ access: 'anyone', unset: 'allowed' }],
    // Recovery secrets are encrypted to their holders, so anyone may fetch them; this manifest names no RecoveryKeys.
    'GET /api/v1/recovery': [
      {
        access: { nobody: { status: 409, code: 'RECOVERY_UNAVAILABLE' } },
        unset: { status: 409, code: 'RECOVERY_UNAVAILABLE' },
      },
    ],
    // Whoever comes first sets the manifest (clients verify it after); after that no one can.
    'POST /api/v1/manifest': [
      { body: () => manifest(), access: { nobody: { status: 409, code: 'MANIFEST_ALREADY_SET' } }, unset: 'allowed' },
    ],
    'POST /api/v1/update': [
      {
        what: 'a security version, applied at once',
        body: () => JSON.stringify({ Packages: { signed: { SecurityVersion: ++securityVersion } } }),
        access: { roles: ['packageUpdater'] },
        unset: MANIFEST_MISSING,
      },
      {
        what: 'a whole manifest, proposed',
        body: PROPOSAL,
        prepare: noPendingUpdate,
        access: { roles: UPDATERS },
        unset: MANIFEST_MISSING,
      },
    ],
    // Anyone may see what is pending, as anyone may see the manifest.
    'GET /api/v1/update': [
      { prepare: pendingUpdate, access: 'anyone', unset: { status: 409, code: 'UPDATE_NOT_PENDING' } },
    ],
    'POST /api/v1/update/acknowledge': [
      { body: PROPOSAL, prepare: pendingUpdate, access: { roles: UPDATERS }, unset: MANIFEST_MISSING },
    ],
    'POST /api/v1/update/cancel': [{ prepare: pendingUpdate, access: { roles: UPDATERS }, unset: MANIFEST_MISSING }],
    'GET /api/v1/secrets': [{ query: '?s=apiKey', access: { roles: ['secretReader'] }, unset: MANIFEST_MISSING }],
    'POST /api/v1/secrets': [
      {
        body: () => JSON.stringify({ token: { type: 'plain', key: b64(Buffer.from('t0ken')) } }),
        access: { roles: ['secretWriter'] },
        unset: MANIFEST_MISSING,
      },
    ],
    'GET /api/v1/volumes/key': [
      {
        query: '?volume=data&action=seal',
        access: { roles: ['dataSealer', 'dataResealer'] },
        unset: MANIFEST_MISSING,
      },
      { query: '?volume=data&action=open', access: { roles: ['dataOpener'] }, unset: MANIFEST_MISSING },
    ],
    'POST /api/v1/volumes/register': [
      {
        what: 'a read-only volume',
        body: () => JSON.stringify({ volume: 'code', files: {} }),
        access: { roles: ['codeSealer'] },
        unset: MANIFEST_MISSING,
      },
      {
        // What a service committed is replaced only with ResealVolume as well.
        what: 'a read-write volume a service committed to',
        body: () => JSON.stringify({ volume: 'data', files: {} }),
        prepare: committed,
        access: { roles: ['dataResealer'] },
        unset: MANIFEST_MISSING,
      },
    ],
    // The MAA-compatible API (--maa) is anonymous, as Azure's: the evidence is what is judged.
    'GET /certs': [{ access: 'anyone', unset: 'allowed' }],
    'GET /.well-known/openid-configuration': [{ access: 'anyone', unset: 'allowed' }],
    'POST /attest/SgxEnclave': [
      {
        query: API_VERSION,
        body: async () => JSON.stringify({ quote: b64u(await sgxQuote()) }),
        access: 'anyone',
        unset: 'allowed',
      },
    ],
    'POST /attest/OpenEnclave': [
      {
        query: API_VERSION,
        body: async () => JSON.stringify({ report: b64u(openEnclaveReport(await sgxQuote())) }),
        access: 'anyone',
        unset: 'allowed',
      },
    ],
    'POST /attest/SevSnpVm': [
      {
        query: API_VERSION,
        body: () => JSON.stringify({ report: snpReportMember() }),
        access: 'anyone',
        unset: 'allowed',
      },
    ],
  },
  mesh: {
    'POST /mesh/v1/nonce': [{ body: () => '{}', access: 'anyone', unset: 'allowed' }],
    'GET /mesh/v1/quote': [{ query: '?nonce=00ff', access: 'anyone', unset: 'allowed' }],
    // The evidence is the credential of an activation, not the TLS client certificate.
    'POST /mesh/v1/activate': [{ body: activationBody, access: 'anyone', unset: MANIFEST_MISSING }],
    'POST /mesh/v1/volumes/commit': [
      {
        body: () => JSON.stringify({ volume: 'data', changes: [] }),
        access: { service: 'app' },
        unset: UNAUTHENTICATED,
      },
    ],
  },
  // Plain HTTP on an address of its own, for Prometheus: no secret is there (test/e2e/metrics.test.ts), anyone who reaches it reads it.
  metrics: {
    'GET /metrics': [{ access: 'anyone', unset: 'allowed' }],
  },
};

function assertOutcome(answer: Answer, outcome: Outcome): void {
  if (outcome === 'allowed') {
    assert.ok(answer.status >= 200 && answer.status < 300, `expected 2xx, got ${answer.status}: ${answer.body}`);
    return;
  }
  assert.equal(answer.status, outcome.status, answer.body);
  assert.equal(answer.type, 'application/problem+json');
  assert.equal(codeOf(answer), outcome.code, answer.body);
}

const target = (route: string, c: Case) => `${route}${c.query ?? ''}`;
const label = (route: string, c: Case) => `${target(route, c)}${c.what === undefined ? '' : ` (${c.what})`}`;
const rows = (api: Api) => Object.entries(TABLE[api]).flatMap(([route, cases]) => cases.map((c) => ({ route, c })));

/** Activates `service` at a coordinator (the workload's own code path) and returns its certificate and key. */
async function activated(mesh: string, service: string): Promise<Credentials> {
  const to = parseAddress(mesh, 'mesh');
  const a = await activate(
    { post: async (path, body) => (await call(to, 'POST', path, { body: JSON.stringify(body) })).json() },
    evidence,
    { service },
  );
  return { cert: a.certChain, key: a.privateKey };
}

const leaf = (pem: string) => new X509Certificate(pem);

/** The certificate of `genuine` (a chain) re-signed by a key of the attacker's, for a key of the attacker's, before the genuine chain's rest. */
async function forgery(genuine: Credentials): Promise<Credentials> {
  const [copied, ...rest] = genuine.cert.split(/(?<=-----END CERTIFICATE-----\n?)/);
  const real = new px.X509Certificate(copied ?? '');
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const generate = () => webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const [keys, signer] = await Promise.all([generate(), generate()]);
  const cert = await px.X509CertificateGenerator.create(
    {
      serialNumber: real.serialNumber,
      subject: real.subject,
      issuer: real.issuer,
      notBefore: real.notBefore,
      notAfter: real.notAfter,
      extensions: real.extensions,
      publicKey: keys.publicKey,
      signingKey: signer.privateKey,
      signingAlgorithm: algorithm,
    },
    webcrypto,
  );
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { cert: `${cert.toString('pem')}\n${rest.join('')}`, key: pemPrivateKey(pkcs8) };
}

before(async () => {
  for (const name of [...Object.keys(ROLES), 'nobody']) users.set(name, await userCert(name));
  for (const [name, u] of users) credentials.set(`user ${name}`, u);
  credentials.set('a look-alike of user secretReader', await userCert('secretReader'));
  metricsAddress = `127.0.0.1:${await freePort()}`;
  coordinator = await startCoordinator(join(dir, 'data'), simDir, ['--maa', '--metrics-addr', metricsAddress]);
  const rootFile = join(dir, 'root.pem');
  const verified = await cloister([
    'verify',
    '--coordinator',
    coordinator.client,
    '--simulation',
    '--sim-dir',
    simDir,
    '--root-out',
    rootFile,
  ]);
  assert.equal(verified.code, 0, verified.stderr);
  root = readFileSync(rootFile, 'utf8');
  const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
  evidence = simEvidence(platform, { mrEnclave: MRENCLAVE });
});
after(() => coordinator.stop());

describe('the authorisation matrix', () => {
  it('has a row for every route the coordinator serves, and none for a route it does not', () => {
    const listening = coordinator
      .log()
      .split('\n')
      .filter((line) => line.includes('"event":"listening"'))
      .map((line) => JSON.parse(line) as { routes: Record<Api, string[]> })[0];
    assert.ok(listening, coordinator.log());
    for (const api of APIS)
      assert.deepEqual(Object.keys(TABLE[api]).sort(), [...listening.routes[api]].sort(), `the ${api} API`);
  });

  describe('before the manifest is set: anonymous', () => {
    // Setting the manifest changes every other answer: it comes last.
    const ordered = APIS.flatMap((api) => rows(api).map((row) => ({ api, ...row }))).sort(
      (a, b) => Number(a.route === 'POST /api/v1/manifest') - Number(b.route === 'POST /api/v1/manifest'),
    );
    for (const { api, route, c } of ordered) {
      it(`${label(route, c)}: ${c.unset === 'allowed' ? 'allowed' : `${c.unset.status} ${c.unset.code}`}`, async () => {
        assertOutcome(await ask('anonymous', api, target(route, c), await c.body?.()), c.unset);
      });
    }
  });

  describe('once the manifest is set', () => {
    before(async () => {
      credentials.set('service app', await activated(coordinator.mesh, 'app'));
      credentials.set('service other', await activated(coordinator.mesh, 'other'));
      credentials.set('a forgery of service app', await forgery(credentials.get('service app') as Credentials));
      // Another coordinator on the same platform, with the same manifest: its own CA, the same names.
      const another = await startCoordinator(join(dir, 'another'), simDir);
      try {
        await call(parseAddress(another.client, 'client'), 'POST', '/api/v1/manifest', { body: manifest() });
        credentials.set('service app of another coordinator', await activated(another.mesh, 'app'));
      } finally {
        await another.stop();
      }
    });

    it('the borrowed and forged certificates present the names of the ones they imitate', () => {
      const [own, other] = ['service app', 'service app of another coordinator'].map((n) =>
        leaf(credentials.get(n)?.cert ?? ''),
      ) as [X509Certificate, X509Certificate];
      assert.deepEqual([other.subject, other.issuer], [own.subject, own.issuer]);
      assert.notEqual(other.fingerprint256, own.fingerprint256);
      const copy = leaf(credentials.get('a forgery of service app')?.cert ?? '');
      assert.deepEqual([copy.subject, copy.issuer, copy.serialNumber], [own.subject, own.issuer, own.serialNumber]);
      const keyId = (c: X509Certificate) =>
        new px.X509Certificate(c.raw).getExtension(px.AuthorityKeyIdentifierExtension)?.keyId;
      assert.equal(keyId(copy), keyId(own));
      assert.ok(keyId(own));
      const [user, lookAlike] = ['user secretReader', 'a look-alike of user secretReader'].map((n) =>
        leaf(credentials.get(n)?.cert ?? ''),
      ) as [X509Certificate, X509Certificate];
      assert.deepEqual([lookAlike.subject, lookAlike.issuer], [user.subject, user.issuer]);
      assert.notEqual(lookAlike.publicKey.export({ format: 'jwk' }).x, user.publicKey.export({ format: 'jwk' }).x);
    });

    for (const api of APIS) {
      for (const { route, c } of rows(api)) {
        describe(label(route, c), () => {
          for (const caller of CALLERS) {
            const outcome = expected(c.access, caller.who);
            it(`${caller.name}: ${outcome === 'allowed' ? 'allowed' : `${outcome.status} ${outcome.code}`}`, async () => {
              await c.prepare?.();
              assertOutcome(await ask(caller.name, api, target(route, c), await c.body?.()), outcome);
            });
          }
        });
      }
    }
  });

  it('each address serves only its own API: a route of one address is 404 on the others', async () => {
    for (const api of APIS)
      for (const other of APIS.filter((a) => a !== api))
        for (const route of Object.keys(TABLE[api]))
          assertOutcome(await ask('service app', other, route, '{}'), { status: 404, code: 'NOT_FOUND' });
  });

  it('a request target that is no URL is refused on both addresses, and the coordinator keeps serving', async () => {
    for (const address of [coordinator.client, coordinator.mesh]) {
      const { host, port } = parseAddress(address, 'address');
      const received = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = tlsConnect({ host, port, ca: root }, () =>
          socket.write('GET http://[/api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        );
        socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(received, /^HTTP\/1\.1 400 /);
      assert.match(received, /"code":"REQUEST_INVALID"/);
    }
    assertOutcome(await ask('anonymous', 'client', 'GET /api/v1/status'), 'allowed');
    assert.equal(coordinator.process.exitCode, null);
  });
});
