import 'reflect-metadata';

import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, sign, webcrypto, type KeyObject } from 'node:crypto';

import {
  PRODUCT_LINES,
  TCB_COMPONENTS,
  TCB_LAYOUTS,
  type ProductLine,
  type TcbComponent,
} from '../../../src/attest/snp/product.js';

/**
 * A test AMD PKI of our own: an ARK and an ASK (RSA-PSS SHA-384, salt 48, as AMD's), a VCEK (P-384)
 * with AMD's extensions, CRLs, and reports signed with the VCEK's key. With `SnpVerifier({ roots })`
 * it exercises the rules that need content AMD never signed (a revoked VCEK, a REPORTED_TCB that
 * does not match, a Turin report).
 */

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
const PSS = { name: 'RSA-PSS', saltLength: 48 } as const;
const RSA_KEY = {
  name: 'RSA-PSS',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-384',
} as const;
const P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const DAY = 86_400;

export const amdName = (cn: string): string =>
  `OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices, CN=${cn}`;

/** DER of an INTEGER 0..65535 and of an IA5String, for AMD's extension values. */
export function derInteger(n: number): Uint8Array {
  const bytes = n < 0x80 ? [n] : n < 0x100 ? [0, n] : n < 0x8000 ? [n >> 8, n & 0xff] : [0, n >> 8, n & 0xff];
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}

export function derIa5(text: string): Uint8Array {
  return new Uint8Array([0x16, text.length, ...Buffer.from(text, 'latin1')]);
}

const pem = (der: ArrayBuffer | Uint8Array): string =>
  new x509.X509Certificate(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('pem');

export interface TestCa {
  product: ProductLine;
  askName: string;
  arkDer: Uint8Array;
  arkPem: string;
  askPem: string;
  askDer: Uint8Array;
  ark: CryptoKeyPair;
  ask: CryptoKeyPair;
  notBefore: number;
  notAfter: number;
}

/** ARK (self-signed, keyCertSign + cRLSign) and ASK (CA, pathLen 0, keyCertSign + cRLSign) for `product`, valid `notBefore`..+25 years. */
export async function testCa(
  product: ProductLine,
  notBefore = Date.UTC(2024, 0, 1) / 1000,
  askName: string = PRODUCT_LINES[product].ask,
): Promise<TestCa> {
  const ark = (await webcrypto.subtle.generateKey(RSA_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ask = (await webcrypto.subtle.generateKey(RSA_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notAfter = notBefore + 25 * 365 * DAY;
  const usage = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  const arkCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '010000',
      name: amdName(PRODUCT_LINES[product].ark),
      notBefore: new Date(notBefore * 1000),
      notAfter: new Date(notAfter * 1000),
      keys: ark,
      signingAlgorithm: PSS,
      extensions: [new x509.KeyUsagesExtension(usage, true), new x509.BasicConstraintsExtension(true, undefined, true)],
    },
    crypto,
  );
  const askCert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '010001',
      subject: amdName(askName),
      issuer: arkCert.subject,
      notBefore: new Date(notBefore * 1000),
      notAfter: new Date(notAfter * 1000),
      publicKey: ask.publicKey,
      signingKey: ark.privateKey,
      signingAlgorithm: PSS,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(usage, true)],
    },
    crypto,
  );
  return {
    product,
    askName,
    arkDer: new Uint8Array(arkCert.rawData),
    arkPem: pem(arkCert.rawData),
    askPem: pem(askCert.rawData),
    askDer: new Uint8Array(askCert.rawData),
    ark,
    ask,
    notBefore,
    notAfter,
  };
}

export interface TestVcek {
  der: Uint8Array;
  serial: string;
  key: KeyObject;
  hwid: Uint8Array;
  tcb: Partial<Record<TcbComponent, number>>;
  notBefore: number;
  notAfter: number;
}

/** A VCEK issued by the test ASK: a fresh P-384 key, AMD's extensions for `hwid` and `tcb`, valid 7 years from `notBefore`. */
export async function testVcek(
  ca: TestCa,
  hwid: Uint8Array,
  tcb: Partial<Record<TcbComponent, number>>,
  options: { serial?: string; notBefore?: number; productName?: string } = {},
): Promise<TestVcek> {
  const keys = (await webcrypto.subtle.generateKey(P384, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = options.notBefore ?? ca.notBefore + DAY;
  const notAfter = notBefore + 7 * 365 * DAY;
  const serial = options.serial ?? '2a';
  const ext = (oid: string, value: Uint8Array) => new x509.Extension(oid, false, value);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial,
      subject: amdName('SEV-VCEK'),
      issuer: amdName(ca.askName),
      notBefore: new Date(notBefore * 1000),
      notAfter: new Date(notAfter * 1000),
      publicKey: keys.publicKey,
      signingKey: ca.ask.privateKey,
      signingAlgorithm: PSS,
      extensions: [
        ext('1.3.6.1.4.1.3704.1.1', derInteger(PRODUCT_LINES[ca.product].tcb === 'turin' ? 1 : 0)),
        ext('1.3.6.1.4.1.3704.1.2', derIa5(options.productName ?? (ca.product === 'Milan' ? 'Milan-B0' : ca.product))),
        ...Object.entries(tcb).map(([c, spl]) => ext(TCB_COMPONENTS[c as TcbComponent].oid, derInteger(spl))),
        ext('1.3.6.1.4.1.3704.1.4', hwid),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    der: new Uint8Array(cert.rawData),
    serial,
    key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    hwid,
    tcb,
    notBefore,
    notAfter,
  };
}

/** A CRL signed by the test ARK (`by: 'ark'`) or ASK, listing `serials`, current from `thisUpdate` for `days`. */
export async function testCrl(
  ca: TestCa,
  by: 'ark' | 'ask',
  serials: readonly string[],
  thisUpdate: number,
  days = 7,
): Promise<Uint8Array> {
  const issuer = amdName(by === 'ark' ? PRODUCT_LINES[ca.product].ark : ca.askName);
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer,
      thisUpdate: new Date(thisUpdate * 1000),
      nextUpdate: new Date((thisUpdate + days * DAY) * 1000),
      entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(thisUpdate * 1000) })),
      signingKey: (by === 'ark' ? ca.ark : ca.ask).privateKey,
      signingAlgorithm: PSS,
    },
    crypto,
  );
  return new Uint8Array(crl.rawData);
}

// ---------------------------------------------------------------------------------------------
// Reports: an independent writer of the fields the tests change (ABI spec Table 23 offsets).

export const OFFSET = {
  version: 0x00,
  policy: 0x08,
  vmpl: 0x30,
  signatureAlgo: 0x34,
  currentTcb: 0x38,
  platformInfo: 0x40,
  flags: 0x48,
  reserved0: 0x4c,
  reportData: 0x50,
  measurement: 0x90,
  hostData: 0xc0,
  reportedTcb: 0x180,
  cpuid: 0x188,
  reserved1: 0x18b,
  chipId: 0x1a0,
  committedTcb: 0x1e0,
  currentVersionReserved: 0x1eb,
  launchTcb: 0x1f0,
  reserved2: 0x208,
  signature: 0x2a0,
  signatureReserved: 0x330,
} as const;

/** The 8 bytes of a TCB_VERSION for `tcb` in a layout. */
export function tcbBytes(tcb: Partial<Record<TcbComponent, number>>, layout: keyof typeof TCB_LAYOUTS): Uint8Array {
  const out = new Uint8Array(8);
  for (const [c, at] of Object.entries(TCB_LAYOUTS[layout].components)) out[at] = tcb[c as TcbComponent] ?? 0;
  return out;
}

export interface ReportFields {
  version?: number;
  vmpl?: number;
  policy?: number;
  flags?: number;
  cpuid?: [number, number, number];
  tcb?: Partial<Record<TcbComponent, number>>;
  /** REPORTED_TCB when it differs from the other TCB fields. */
  reportedTcb?: Partial<Record<TcbComponent, number>>;
  layout?: keyof typeof TCB_LAYOUTS;
  chipId?: Uint8Array;
  reportData?: Uint8Array;
  measurement?: Uint8Array;
}

/** A well-formed unsigned report with these fields (the rest zero or fixed). */
export function buildReport(f: ReportFields): Uint8Array {
  const r = new Uint8Array(0x4a0);
  const v = new DataView(r.buffer);
  v.setUint32(OFFSET.version, f.version ?? 3, true);
  v.setUint32(0x04, 7, true);
  v.setUint32(OFFSET.policy, f.policy ?? 0x3001f, true);
  v.setUint32(OFFSET.vmpl, f.vmpl ?? 0, true);
  v.setUint32(OFFSET.signatureAlgo, 1, true);
  v.setUint32(OFFSET.platformInfo, 0x25, true);
  v.setUint32(OFFSET.flags, f.flags ?? 0, true);
  const layout = f.layout ?? 'legacy';
  const tcb = tcbBytes(f.tcb ?? {}, layout);
  for (const at of [OFFSET.currentTcb, OFFSET.committedTcb, OFFSET.launchTcb]) r.set(tcb, at);
  r.set(f.reportedTcb ? tcbBytes(f.reportedTcb, layout) : tcb, OFFSET.reportedTcb);
  if ((f.version ?? 3) >= 3) r.set(f.cpuid ?? [0x19, 0x11, 0x01], OFFSET.cpuid);
  if (f.chipId) r.set(f.chipId, OFFSET.chipId);
  r.set(f.reportData ?? new Uint8Array(64).fill(0xab), OFFSET.reportData);
  r.set(f.measurement ?? new Uint8Array(48).fill(0x5a), OFFSET.measurement);
  r.set([40, 55, 1, 0, 40, 55, 1, 0], 0x1e8);
  return r;
}

/** Signs bytes 0x000-0x29F with ECDSA P-384/SHA-384 and stores r and s little-endian, zero-extended to 72 bytes. */
export function signReport(report: Uint8Array, key: KeyObject): Uint8Array {
  const out = Uint8Array.from(report);
  out.fill(0, OFFSET.signature);
  const sig = sign('sha384', out.subarray(0, OFFSET.signature), { key, dsaEncoding: 'ieee-p1363' });
  out.set(Uint8Array.from(sig.subarray(0, 48)).reverse(), OFFSET.signature);
  out.set(Uint8Array.from(sig.subarray(48, 96)).reverse(), OFFSET.signature + 72);
  return out;
}

/** SHA-256 hex, for naming things. */
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
