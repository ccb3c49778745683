import { createHash, createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import type { Extension } from '@peculiar/x509';
import { CloisterError } from '../../lib/errors.js';
import { equal } from '../../lib/bytes.js';
import { JsonReader } from '../../lib/json.js';
import { pckExtensions, type PckExtensions } from '../dcap/pck.js';
import { verifyChain } from '../lib/chain.js';
import { KEY_USAGE, OID, parseCertificate, pemCertificates, type Certificate } from '../lib/x509.js';
import { sgxExtensionValue } from './pck.js';
import { pemCert } from '../../pki/pem.js';
import { peculiar } from '../../pki/lib/peculiar.js';

/**
 * The simulated SGX/TDX platform of DESIGN.md "The simulated TEE": a simulation root CA, a PCK CA
 * and PCK certificate in Intel's PCK profile, a TCB signing certificate for collateral and the
 * quoting enclave's attestation key. Pure: the clock is passed in, the state is returned as JSON.
 */

const sha = (algorithm: 'sha256' | 'sha384', text: string): Uint8Array =>
  new Uint8Array(createHash(algorithm).update(text).digest());

/**
 * What the simulated platform is and reports: one table for certificates, quotes and collateral.
 *
 * @example
 * ```ts
 * if (claims['fmspc'] === SIM.fmspc) console.warn('simulated evidence');
 * ```
 */
export const SIM = {
  names: {
    root: 'cloister Simulation SGX Root CA',
    pckCa: 'cloister Simulation SGX PCK Platform CA',
    pck: 'cloister Simulation SGX PCK Certificate',
    tcbSigning: 'cloister Simulation SGX TCB Signing',
  },
  /** A FMSPC no Intel platform has, so simulated collateral can never be mistaken for real. */
  fmspc: '5eed00000000',
  pceId: '0000',
  /** SGX TCB component SVNs 1..16 and PCESVN, written into the PCK certificate (PCK Certificate and CRL Profile §1.3.5). */
  sgxComponents: [5, 5, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 13,
  /** TDX TEE_TCB_SVN: byte 0 module SVN, byte 1 module major version 0 (so no TDX module identity applies, QVL TdxModuleCheck), byte 2 microcode. */
  teeTcbSvn: [5, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  /** MRSEAM of the simulated TDX module (not judged by the QVL; MRSIGNERSEAM is zero as for Intel's modules). */
  mrSeam: sha('sha384', 'cloister simulation TDX module'),
  /** The simulated quoting enclave (QE for SGX, TD_QE for TDX) and its enclave identity. */
  qe: {
    mrEnclave: sha('sha256', 'cloister simulation quoting enclave'),
    mrSigner: sha('sha256', 'cloister simulation quoting enclave signer'),
    isvProdId: { sgx: 1, tdx: 2 },
    isvSvn: 8,
    /** SGX SDM 38.7.1 ATTRIBUTES: INIT | MODE64BIT | PROVISIONKEY, XFRM x87 | SSE | AVX | AVX-512. */
    attributes: '1500000000000000e700000000000000',
    /** As Intel's QE identity: INIT | PROVISIONKEY required, MODE64BIT and XFRM not judged. */
    identityAttributes: '11000000000000000000000000000000',
    identityAttributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
  },
} as const;

/** A certificate of the simulated PKI with its private key. */
export interface SimIdentity {
  readonly cert: Certificate;
  readonly key: KeyObject;
}

/** A simulated platform: its PKI, attestation key and TCB. */
export interface SimPlatform {
  readonly root: SimIdentity;
  readonly pckCa: SimIdentity;
  readonly pck: SimIdentity;
  readonly tcbSigning: SimIdentity;
  /** The quoting enclave's attestation key (ECDSA P-256, private). */
  readonly attestationKey: KeyObject;
  /** The SGX extension of the PCK certificate: FMSPC, PCEID, TCB component SVNs, PCESVN, CPUSVN. */
  readonly tcb: PckExtensions;
}

/** The JSON-safe form of a {@link SimPlatform}: PEM certificates and PEM PKCS#8 private keys. */
export interface SimState {
  version: 1;
  root: { cert: string; key: string };
  pckCa: { cert: string; key: string };
  pck: { cert: string; key: string };
  tcbSigning: { cert: string; key: string };
  attestationKey: string;
}

export interface SimPlatformOptions {
  /** Creation time, Unix seconds: the certificates' notBefore. */
  now: number;
  /** FMSPC, 6 bytes; {@link SIM.fmspc} by default. */
  fmspc?: Uint8Array | undefined;
  /** Certificate lifetime in days; 365 by default. */
  validDays?: number | undefined;
}

const IDENTITIES = ['root', 'pckCa', 'pck', 'tcbSigning'] as const;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400;

/** A positive 128-bit serial number, its first octet in 0x40..0x7f so its hex is canonical (RFC 5280 §4.1.2.2). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x3f) | 0x40;
  return b.toString('hex');
}

/**
 * Generates a new simulated platform with WebCrypto P-256 keys: root CA, PCK Platform CA, PCK
 * certificate with the SGX extension (Intel SGX PCK Certificate and CRL Profile §1.3), TCB
 * signing certificate and attestation key, all valid from `now` for `validDays`.
 *
 * @example
 * ```ts
 * const platform = await createSimPlatform({ now: Math.floor(Date.now() / 1000) });
 * const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
 * ```
 */
export async function createSimPlatform(options: SimPlatformOptions): Promise<SimPlatform> {
  const { now, fmspc = Buffer.from(SIM.fmspc, 'hex'), validDays = 365 } = options;
  if (!Number.isFinite(now) || now < 0)
    throw new CloisterError('USAGE', `now: ${now} is not a time in Unix seconds`, { field: 'now', actual: now });
  if (fmspc.length !== 6)
    throw new CloisterError('USAGE', `fmspc: must be 6 bytes, got ${fmspc.length}`, {
      field: 'fmspc',
      actual: fmspc.length,
    });
  if (!Number.isInteger(validDays) || validDays < 1)
    throw new CloisterError('USAGE', `validDays: ${validDays} is not a positive whole number of days`, {
      field: 'validDays',
      actual: validDays,
    });

  // Backdated an hour so that a verifier whose clock lags slightly still accepts fresh evidence.
  const start = Math.floor(now) - 3600;
  const validity = { notBefore: new Date(start * 1000), notAfter: new Date((start + validDays * DAY) * 1000) };
  const {
    AuthorityKeyIdentifierExtension,
    BasicConstraintsExtension,
    Extension,
    KeyUsageFlags,
    KeyUsagesExtension,
    SubjectKeyIdentifierExtension,
    X509CertificateGenerator,
  } = await peculiar();
  const generate = () => webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const [rootKeys, caKeys, pckKeys, tcbKeys, akKeys] = await Promise.all([
    generate(),
    generate(),
    generate(),
    generate(),
    generate(),
  ]);

  const issue = async (
    name: string,
    pair: webcrypto.CryptoKeyPair,
    issuer: { name: string; pair: webcrypto.CryptoKeyPair },
    extensions: Extension[],
  ) => {
    const cert = await X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: `CN=${name}, O=cloister`,
        issuer: `CN=${issuer.name}, O=cloister`,
        ...validity,
        publicKey: pair.publicKey,
        signingKey: issuer.pair.privateKey,
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          ...extensions,
          await SubjectKeyIdentifierExtension.create(pair.publicKey, false, webcrypto),
          await AuthorityKeyIdentifierExtension.create(issuer.pair.publicKey, false, webcrypto),
        ],
      },
      webcrypto,
    );
    return {
      cert: pemCert(new Uint8Array(cert.rawData)),
      key: KeyObject.from(pair.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
  };
  // RFC 5280 §4.2.1.9, §4.2.1.3: CAs sign certificates and CRLs; leaves (PCK, TCB signing) sign data only, as Intel's do.
  const ca = (pathLen: number) => [
    new BasicConstraintsExtension(true, pathLen, true),
    new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
  ];
  const leaf = () => [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation, true),
  ];
  const root = { name: SIM.names.root, pair: rootKeys };
  const pckCa = { name: SIM.names.pckCa, pair: caKeys };
  const sgx = sgxExtensionValue({
    ppid: randomBytes(16),
    tcbComponents: [...SIM.sgxComponents],
    pceSvn: SIM.pceSvn,
    cpuSvn: Uint8Array.from(SIM.sgxComponents),
    pceId: Buffer.from(SIM.pceId, 'hex'),
    fmspc,
    sgxType: 0, // Standard (PCK Certificate and CRL Profile §1.3.5)
  });

  return importSimState({
    version: 1,
    root: await issue(root.name, rootKeys, root, ca(1)),
    pckCa: await issue(pckCa.name, caKeys, root, ca(0)),
    pck: await issue(SIM.names.pck, pckKeys, pckCa, [...leaf(), new Extension(OID.sgxExtensions, false, sgx)]),
    tcbSigning: await issue(SIM.names.tcbSigning, tcbKeys, root, leaf()),
    attestationKey: KeyObject.from(akKeys.privateKey).export({ format: 'pem', type: 'pkcs8' }).toString(),
  } satisfies SimState);
}

/**
 * The JSON-safe state of a platform, to keep in the data directory and load with {@link importSimState}.
 *
 * @example
 * ```ts
 * const text = JSON.stringify(exportSimState(platform));
 * ```
 */
export function exportSimState(p: SimPlatform): SimState {
  const key = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
  const identity = (i: SimIdentity) => ({ cert: pemCert(i.cert.der), key: key(i.key) });
  return {
    version: 1,
    root: identity(p.root),
    pckCa: identity(p.pckCa),
    pck: identity(p.pck),
    tcbSigning: identity(p.tcbSigning),
    attestationKey: key(p.attestationKey),
  };
}

const j = new JsonReader('SIM_STATE_INVALID', 'simState');

/** Runs `fn`, turning any failure into SIM_STATE_INVALID naming `path`. */
function at<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof CloisterError && cause.code === 'SIM_STATE_INVALID') throw cause;
    throw new CloisterError('SIM_STATE_INVALID', `${path}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      path,
      cause,
    });
  }
}

function p256PrivateKey(pem: string, path: string): KeyObject {
  const key = at(path, () => createPrivateKey({ key: pem, format: 'pem' }));
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw j.fail(path, 'must be an ECDSA P-256 private key');
  return key;
}

function identity(o: Record<string, unknown>, name: (typeof IDENTITIES)[number]): SimIdentity {
  const path = `simState.${name}`;
  const e = j.object(o[name], path);
  const pems = at(`${path}.cert`, () => pemCertificates(j.string(e, 'cert', path), `${path}.cert`));
  if (pems.length !== 1) throw j.fail(`${path}.cert`, 'must hold exactly one certificate');
  const cert = at(`${path}.cert`, () => parseCertificate(pems[0] as Uint8Array));
  const key = p256PrivateKey(j.string(e, 'key', path), `${path}.key`);
  const spki = new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  if (!equal(spki, cert.spki)) throw j.fail(`${path}.key`, 'is not the private key of the certificate');
  if (cert.subjectCn !== SIM.names[name])
    throw j.fail(`${path}.cert`, `subject CN must be "${SIM.names[name]}", got "${cert.subjectCn}"`);
  return { cert, key };
}

/**
 * Loads and validates a platform state (as from `JSON.parse`): every certificate and key parses,
 * keys match their certificates, the PCK and TCB signing chains verify to the root, and the PCK
 * certificate carries a valid SGX extension. Anything else throws SIM_STATE_INVALID naming the field.
 *
 * @example
 * ```ts
 * const platform = importSimState(JSON.parse(await readFile(join(dataDir, 'sim.json'), 'utf8')));
 * ```
 */
export function importSimState(json: unknown): SimPlatform {
  const o = j.object(json);
  if (o['version'] !== 1) throw j.fail('simState.version', 'must be 1');
  const [root, pckCa, pck, tcbSigning] = IDENTITIES.map((name) => identity(o, name)) as [
    SimIdentity,
    SimIdentity,
    SimIdentity,
    SimIdentity,
  ];
  if (!root.cert.ca || !equal(root.cert.subject, root.cert.issuer))
    throw j.fail('simState.root.cert', 'must be a self-signed CA certificate');
  at('simState.pck.cert', () => verifyChain([pck.cert, pckCa.cert, root.cert], root.cert, 'pckChain'));
  at('simState.pckCa.cert', () =>
    verifyChain([pckCa.cert, root.cert], root.cert, 'pckCrlIssuerChain', KEY_USAGE.cRLSign),
  );
  at('simState.tcbSigning.cert', () => verifyChain([tcbSigning.cert, root.cert], root.cert, 'tcbInfoIssuerChain'));
  const tcb = at('simState.pck.cert', () => pckExtensions(pck.cert));
  const attestationKey = p256PrivateKey(j.string(o, 'attestationKey'), 'simState.attestationKey');
  return { root, pckCa, pck, tcbSigning, attestationKey, tcb };
}

/** The raw x ‖ y of a P-256 key's public point, as quotes carry it (SGX ECDSA Quote Library API A.4). @example `rawPublicKey(p.attestationKey)` */
export function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' })).subarray(-64);
}
