import 'reflect-metadata';

import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { FetchCollateralOptions, PckCa, QuoteCollateralV3, Tee } from '../../src/collateral/index.js';

/*
 * A local server that answers like Intel's PCS API v4 ("Get TCB Info", "Get TDX TCB Info", "Get
 * Intel's QE Identity", "Get Intel's TDX QE Identity", "Get PCK Cert CRL", and the root CA CRL of
 * certificates.trustedservices.intel.com) or like an Intel PCCS, serving the collateral of the
 * test vectors of test/vectors byte for byte; and the helpers the collateral tests share.
 */

/** `test/vectors/` seen from dist/test/collateral/. */
export const VECTORS = new URL('../../../test/vectors/', import.meta.url);
export const SGX_PROCESSOR = 'sgx/phala-sgx-v3-processor-00a067110000';
export const SGX_PLATFORM = 'sgx/automata-sgx-v3-platform-00606a000000-tcbinfo-v3';
export const TDX = 'tdx/phala-tdx-v4-b0c06f000000-uptodate';

/** A response the fake will send; `override` may build or alter one. */
export interface FakeResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Send without Content-Length, in several chunks. */
  chunked?: boolean;
  /** Never answer. */
  hang?: boolean;
}

/** What the fake saw of a request; `override` may rewrite `path` before calling `next()`. */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

export interface FakePcsOptions {
  /** Vector folders, e.g. `sgx/phala-sgx-v3-processor-00a067110000`; the first one wins for QE identity, PCK CRL and root CA CRL. */
  vectors: readonly string[];
  /** Default `https` with a fresh self-signed certificate for 127.0.0.1. */
  protocol?: 'https' | 'http';
  /**
   * `pcs` (default): TCB info chain in `TCB-Info-Issuer-Chain`, root CA CRL at `/IntelSGXRootCA.der`.
   * `pccs`: an older PCCS, `SGX-TCB-Info-Issuer-Chain`, root CA CRL at `/sgx/certification/v4/rootcacrl`.
   */
  flavor?: 'pcs' | 'pccs';
  /** PCCS root CA CRL body: DER (default) or hex text as older PCCS send. */
  rootCaCrlEncoding?: 'der' | 'hex';
  /** PCK CRL body: as requested by `encoding=` (default; PEM when absent), or always PEM or hex. */
  pckCrlEncoding?: 'requested' | 'pem' | 'hex';
  /** Answer 401 to requests without this `Ocp-Apim-Subscription-Key` (not for the root CA CRL). */
  requireApiKey?: string;
  /** Replace or alter any answer; `next()` computes the one the fake would send. */
  override?: (req: FakeRequest, next: () => FakeResponse) => FakeResponse;
}

export interface FakePcs {
  /** Base URL, e.g. `https://127.0.0.1:41234`. */
  url: string;
  rootCaCrlUrl: string;
  /** The self-signed certificate (PEM) to trust, for `https`. */
  tlsCa: string | undefined;
  /** Path and query of every request received, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** The PCK CA that issued a PCK CRL, from the first certificate of its issuer chain. */
export function pckCaOf(chainPem: string): PckCa {
  const subject = new x509.X509Certificate(chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + 25))
    .subject;
  if (subject.includes('PCK Processor CA')) return 'processor';
  if (subject.includes('PCK Platform CA')) return 'platform';
  throw new Error(`unexpected PCK CRL issuer ${subject}`);
}

interface Tables {
  tcb: Map<string, { body: Buffer; chain: string }>;
  qe: Map<string, { body: Buffer; chain: string }>;
  pckCrl: Map<string, { der: Buffer; chain: string }>;
  rootCrl: Buffer | undefined;
}

async function loadTables(vectors: readonly string[]): Promise<Tables> {
  const tables: Tables = { tcb: new Map(), qe: new Map(), pckCrl: new Map(), rootCrl: undefined };
  for (const name of vectors) {
    const read = (file: string): Promise<Buffer> => readFile(new URL(`${name}/collateral/${file}`, VECTORS));
    const text = async (file: string): Promise<string> => (await read(file)).toString('utf8');
    const tee = name.split('/')[0] ?? '';
    const tcbBody = await read('tcb_info.json');
    const fmspc = (JSON.parse(tcbBody.toString('utf8')) as { tcbInfo: { fmspc: string } }).tcbInfo.fmspc.toUpperCase();
    if (!tables.tcb.has(`${tee}/${fmspc}`))
      tables.tcb.set(`${tee}/${fmspc}`, { body: tcbBody, chain: await text('tcb_info_issuer_chain.pem') });
    if (!tables.qe.has(tee))
      tables.qe.set(tee, { body: await read('qe_identity.json'), chain: await text('qe_identity_issuer_chain.pem') });
    const chain = await text('pck_crl_issuer_chain.pem');
    const ca = pckCaOf(chain);
    if (!tables.pckCrl.has(ca)) tables.pckCrl.set(ca, { der: await read('pck_crl.der'), chain });
    tables.rootCrl ??= await read('root_ca_crl.der');
  }
  return tables;
}

/** Base64 in 64-character lines, each ending in a newline. */
const pem64 = (base64: string): string => `${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n`;

/** A self-signed P-256 certificate for 127.0.0.1 and localhost. */
async function selfSignedTls(): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      name: 'CN=localhost, O=cloister fake PCS',
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
      ],
    },
    webcrypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { cert: cert.toString('pem'), key: `-----BEGIN PRIVATE KEY-----\n${pem64(pkcs8)}-----END PRIVATE KEY-----\n` };
}

const answer = (
  status: number,
  headers: Record<string, string> = {},
  body: Buffer = Buffer.alloc(0),
): FakeResponse => ({ status, headers, body });
/** A PCS 400 carries Error-Code and Error-Message headers. */
const badRequest = (message: string): FakeResponse =>
  answer(400, { 'Error-Code': 'InvalidParameter', 'Error-Message': message });
const chain = (name: string, pem: string): Record<string, string> => ({ [name]: encodeURIComponent(pem) });

function route(req: FakeRequest, tables: Tables, options: FakePcsOptions): FakeResponse {
  const pccs = options.flavor === 'pccs';
  if (!pccs && req.path === '/IntelSGXRootCA.der' && tables.rootCrl !== undefined)
    return answer(200, {}, tables.rootCrl);
  if (options.requireApiKey !== undefined && req.headers['ocp-apim-subscription-key'] !== options.requireApiKey)
    return answer(401);
  const [, tee = '', what = ''] =
    /^\/(sgx|tdx)\/certification\/v4\/(tcb|qe\/identity|pckcrl|rootcacrl)$/.exec(req.path) ?? [];
  if (what === 'tcb') {
    const fmspc = req.query.get('fmspc') ?? '';
    if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) return badRequest('fmspc parameter is missing or invalid');
    const found = tables.tcb.get(`${tee}/${fmspc.toUpperCase()}`);
    return found === undefined
      ? answer(404)
      : answer(200, chain(pccs ? 'SGX-TCB-Info-Issuer-Chain' : 'TCB-Info-Issuer-Chain', found.chain), found.body);
  }
  if (what === 'qe/identity') {
    const found = tables.qe.get(tee);
    return found === undefined
      ? answer(404)
      : answer(200, chain('SGX-Enclave-Identity-Issuer-Chain', found.chain), found.body);
  }
  if (what === 'pckcrl' && tee === 'sgx') {
    const ca = req.query.get('ca') ?? '';
    const requested = req.query.get('encoding') ?? 'pem';
    if (requested !== 'pem' && requested !== 'der') return badRequest('encoding parameter is invalid');
    const found = tables.pckCrl.get(ca);
    if (found === undefined)
      return ca === 'processor' || ca === 'platform' ? answer(404) : badRequest('ca parameter is missing or invalid');
    const headers = chain('SGX-PCK-CRL-Issuer-Chain', found.chain);
    const encoding =
      options.pckCrlEncoding === undefined || options.pckCrlEncoding === 'requested'
        ? requested
        : options.pckCrlEncoding;
    if (encoding === 'der') return answer(200, headers, found.der);
    if (encoding === 'hex') return answer(200, headers, Buffer.from(found.der.toString('hex')));
    return answer(
      200,
      headers,
      Buffer.from(`-----BEGIN X509 CRL-----\n${pem64(found.der.toString('base64'))}-----END X509 CRL-----\n`),
    );
  }
  if (what === 'rootcacrl' && pccs && tee === 'sgx' && tables.rootCrl !== undefined) {
    return answer(
      200,
      {},
      options.rootCaCrlEncoding === 'hex' ? Buffer.from(tables.rootCrl.toString('hex')) : tables.rootCrl,
    );
  }
  return answer(404);
}

function send(res: http.ServerResponse, reply: FakeResponse): void {
  if (reply.hang === true) return;
  // Every PCS answer carries a Request-ID.
  const length = reply.chunked === true ? {} : { 'Content-Length': String(reply.body.length) };
  res.writeHead(reply.status, { 'Request-ID': randomBytes(16).toString('hex'), ...reply.headers, ...length });
  if (reply.chunked !== true) return void res.end(reply.body);
  const step = Math.max(1, Math.ceil(reply.body.length / 8));
  for (let i = 0; i < reply.body.length; i += step) res.write(reply.body.subarray(i, i + step));
  res.end();
}

/**
 * Starts a fake PCS (or PCCS) on 127.0.0.1 with an ephemeral port.
 *
 * @example
 * ```ts
 * const pcs = await startFakePcs({ vectors: [SGX_PROCESSOR] });
 * await fetchCollateral({ ...request, ...clientOf(pcs) });
 * await pcs.close();
 * ```
 */
export async function startFakePcs(options: FakePcsOptions): Promise<FakePcs> {
  const tables = await loadTables(options.vectors);
  const requests: string[] = [];
  const handler: http.RequestListener = (req, res) => {
    const target = new URL(req.url ?? '/', 'http://fake');
    requests.push(`${target.pathname}${target.search}`);
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      path: target.pathname,
      query: target.searchParams,
      headers: req.headers,
    };
    const next = (): FakeResponse => route(request, tables, options);
    send(res, options.override === undefined ? next() : options.override(request, next));
  };
  const protocol = options.protocol ?? 'https';
  const tls = protocol === 'https' ? await selfSignedTls() : undefined;
  const server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const url = `${protocol}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    rootCaCrlUrl: options.flavor === 'pccs' ? `${url}/sgx/certification/v4/rootcacrl` : `${url}/IntelSGXRootCA.der`,
    tlsCa: tls?.cert,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e === undefined ? resolve() : reject(e)));
        server.closeAllConnections();
      }),
  };
}

/** Runs `body` against a fresh fake and closes it. */
export async function withFake<T>(options: FakePcsOptions, body: (pcs: FakePcs) => Promise<T>): Promise<T> {
  const pcs = await startFakePcs(options);
  try {
    return await body(pcs);
  } finally {
    await pcs.close();
  }
}

/** The client options that reach `pcs`. */
export function clientOf(pcs: FakePcs): Pick<FetchCollateralOptions, 'baseUrl' | 'rootCaCrlUrl' | 'tlsCa'> {
  return { baseUrl: pcs.url, rootCaCrlUrl: pcs.rootCaCrlUrl, ...(pcs.tlsCa === undefined ? {} : { tlsCa: pcs.tlsCa }) };
}

/** An `override` that alters the answers to paths ending in `suffix`. */
export function at(suffix: string, change: (r: FakeResponse) => FakeResponse): NonNullable<FakePcsOptions['override']> {
  return (req, next) => (req.path.endsWith(suffix) ? change(next()) : next());
}

/** A change that replaces text in a body. */
export function replaceInBody(from: string, to: string): (r: FakeResponse) => FakeResponse {
  return (r) => ({ ...r, body: Buffer.from(r.body.toString('utf8').replace(from, to)) });
}

export interface Vector {
  name: string;
  tee: Tee;
  fmspc: string;
  ca: PckCa;
  /** The vector's collateral.json, which fetching its PCS-style files must reproduce. */
  expected: QuoteCollateralV3;
  tcbBody: Buffer;
}

export async function loadVector(name: string): Promise<Vector> {
  const dir = new URL(`${name}/`, VECTORS);
  const expected = JSON.parse(await readFile(new URL('collateral.json', dir), 'utf8')) as QuoteCollateralV3;
  return {
    name,
    tee: name.startsWith('tdx/') ? 'tdx' : 'sgx',
    fmspc: (JSON.parse(expected.tcb_info) as { fmspc: string }).fmspc,
    ca: pckCaOf(expected.pck_crl_issuer_chain),
    expected,
    tcbBody: await readFile(new URL('collateral/tcb_info.json', dir)),
  };
}

/** Every sgx/ and tdx/ vector that ships PCS-style collateral files. */
export async function vectorsWithCollateral(): Promise<string[]> {
  const names: string[] = [];
  for (const tee of ['sgx', 'tdx']) {
    for (const entry of (await readdir(new URL(`${tee}/`, VECTORS))).sort()) {
      if (
        await stat(new URL(`${tee}/${entry}/collateral/tcb_info.json`, VECTORS)).then(
          () => true,
          () => false,
        )
      )
        names.push(`${tee}/${entry}`);
    }
  }
  return names;
}

/** A temporary folder removed after the test. */
export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cloister-collateral-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
