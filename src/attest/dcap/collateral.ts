import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { JsonReader } from '../../lib/json.js';
import { fromHex } from '../../lib/bytes.js';
import { COLLATERAL_TCB_STATUSES, type TcbStatus } from '../tcb-status.js';
import { checkCrlTime, checkValidity, iso, verifyCrlIssuer } from '../lib/chain.js';
import { parseCrl, type Certificate, type Crl } from '../lib/x509.js';
import { verifyRoleChain } from './chains.js';

/**
 * DCAP collateral (the QuoteCollateralV3 JSON of `cloister attest verify --collateral`): TCB info
 * v2/v3 and enclave identity v2 as Intel PCS API v4 serves them, CRLs and issuer chains.
 * {@link prepareCollateral} verifies every signature and chain once (time-free, cacheable);
 * {@link checkCollateralTime} checks the windows at each verification.
 */

export interface TcbComponentsLevel {
  sgxComponents: number[];
  pceSvn: number;
  tdxComponents: number[] | undefined;
  tcbDate: string;
  status: TcbStatus;
  advisoryIds: string[];
}

export interface IsvSvnLevel {
  isvSvn: number;
  tcbDate: string;
  status: TcbStatus;
  advisoryIds: string[];
}

export interface TdxModuleIdentity {
  id: string;
  mrSigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  tcbLevels: IsvSvnLevel[];
}

export interface TcbInfo {
  id: 'SGX' | 'TDX';
  version: 2 | 3;
  issueDate: number;
  nextUpdate: number;
  fmspc: Uint8Array;
  pceId: Uint8Array;
  tcbType: number;
  tcbEvaluationDataNumber: number;
  tdxModule: Omit<TdxModuleIdentity, 'id' | 'tcbLevels'> | undefined;
  tdxModuleIdentities: TdxModuleIdentity[];
  tcbLevels: TcbComponentsLevel[];
}

export interface QeIdentity {
  id: 'QE' | 'TD_QE' | 'QVE';
  version: 2;
  issueDate: number;
  nextUpdate: number;
  tcbEvaluationDataNumber: number;
  miscSelect: number;
  miscSelectMask: number;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  tcbLevels: IsvSvnLevel[];
}

/** Collateral whose signatures and chains have been verified to a trust root. */
export interface PreparedCollateral {
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
  tcbInfoChain: Certificate[];
  qeIdentityChain: Certificate[];
  pckCrl: Crl;
  pckCrlChain: Certificate[];
  rootCaCrl: Crl;
  root: Certificate;
  /** Computed once: when every part is valid, and a signing-chain CA the root CA CRL revokes, if any. */
  window: { notBefore: number; notAfter: number };
  revokedSigner: { chain: string; cert: Certificate } | undefined;
}

/** The fields of QuoteCollateralV3 (Phala-Network/dcap-qvl's names), every one a string. */
export const QUOTE_COLLATERAL_FIELDS = [
  'tcb_info',
  'tcb_info_signature',
  'tcb_info_issuer_chain',
  'qe_identity',
  'qe_identity_signature',
  'qe_identity_issuer_chain',
  'pck_crl',
  'pck_crl_issuer_chain',
  'root_ca_crl',
] as const;

/**
 * DCAP collateral as exchanged in files and over the network: the exact signed texts of TCB info
 * and QE identity, their hex r ‖ s signatures, PEM issuer chains (leaf first) and hex DER CRLs.
 */
export type QuoteCollateralV3 = Record<(typeof QUOTE_COLLATERAL_FIELDS)[number], string>;

const j = new JsonReader('COLLATERAL_MALFORMED', 'collateral');

function advisories(o: Record<string, unknown>, path: string): string[] {
  if (!j.has(o, 'advisoryIDs')) return [];
  return j.array(o, 'advisoryIDs', path).map((a, i) => {
    if (typeof a !== 'string') throw j.fail(`${path}.advisoryIDs[${i}]`, 'must be a string');
    return a;
  });
}

function isvSvnLevels(list: unknown[], path: string): IsvSvnLevel[] {
  return list.map((l, i) => {
    const p = `${path}[${i}]`;
    const level = j.object(l, p);
    return {
      isvSvn: j.int(j.object(level['tcb'], `${p}.tcb`), 'isvsvn', `${p}.tcb`, 0xffff),
      tcbDate: j.string(level, 'tcbDate', p),
      status: j.oneOf(level, 'tcbStatus', COLLATERAL_TCB_STATUSES, p),
      advisoryIds: advisories(level, p),
    };
  });
}

function components(o: Record<string, unknown>, key: string, path: string): number[] {
  const list = j.array(o, key, path);
  if (list.length !== 16) throw j.fail(`${path}.${key}`, 'must list 16 components');
  return list.map((c, i) => j.int(j.object(c, `${path}.${key}[${i}]`), 'svn', `${path}.${key}[${i}]`, 0xff));
}

function moduleIdentity(o: Record<string, unknown>, path: string): Omit<TdxModuleIdentity, 'id' | 'tcbLevels'> {
  return {
    mrSigner: j.hex(o, 'mrsigner', 48, path),
    attributes: j.hex(o, 'attributes', 8, path),
    attributesMask: j.hex(o, 'attributesMask', 8, path),
  };
}

/**
 * Parses the exact signed text of a TCB info (v2: SGX only, `sgxtcbcompNNsvn`; v3: `id` SGX or
 * TDX, component arrays, TDX module identities). Intel PCS API v4, "TCB Info V2/V3".
 */
export function parseTcbInfo(text: string): TcbInfo {
  const path = 'tcbInfo';
  const o = j.object(j.parse(text, path), path);
  const version = j.int(o, 'version', path);
  if (version !== 2 && version !== 3)
    throw j.fail(`${path}.version`, `${version} is not a supported TCB info version (2, 3)`);
  const id = version === 2 ? 'SGX' : j.oneOf(o, 'id', ['SGX', 'TDX'] as const, path);
  const tcbLevels = j.array(o, 'tcbLevels', path).map((l, i): TcbComponentsLevel => {
    const p = `${path}.tcbLevels[${i}]`;
    const level = j.object(l, p);
    const tcb = j.object(level['tcb'], `${p}.tcb`);
    const sgxComponents =
      version === 2
        ? Array.from({ length: 16 }, (_, c) =>
            j.int(tcb, `sgxtcbcomp${String(c + 1).padStart(2, '0')}svn`, `${p}.tcb`, 0xff),
          )
        : components(tcb, 'sgxtcbcomponents', `${p}.tcb`);
    return {
      sgxComponents,
      pceSvn: j.int(tcb, 'pcesvn', `${p}.tcb`, 0xffff),
      tdxComponents: id === 'TDX' ? components(tcb, 'tdxtcbcomponents', `${p}.tcb`) : undefined,
      tcbDate: j.string(level, 'tcbDate', p),
      status: j.oneOf(level, 'tcbStatus', COLLATERAL_TCB_STATUSES, p),
      advisoryIds: advisories(level, p),
    };
  });
  // QVL TcbInfo.cpp: tdxModule is required for id TDX and absent for SGX; tcbType must be 0.
  if (j.has(o, 'tdxModule') !== (id === 'TDX'))
    throw j.fail(`${path}.tdxModule`, id === 'TDX' ? 'required for a TDX TCB info' : 'not allowed in an SGX TCB info');
  const tdxModule =
    id === 'TDX' ? moduleIdentity(j.object(o['tdxModule'], `${path}.tdxModule`), `${path}.tdxModule`) : undefined;
  const tdxModuleIdentities =
    id === 'TDX' && j.has(o, 'tdxModuleIdentities')
      ? j.array(o, 'tdxModuleIdentities', path).map((m, i) => {
          const p = `${path}.tdxModuleIdentities[${i}]`;
          const mi = j.object(m, p);
          return {
            id: j.string(mi, 'id', p),
            ...moduleIdentity(mi, p),
            tcbLevels: isvSvnLevels(j.array(mi, 'tcbLevels', p), `${p}.tcbLevels`),
          };
        })
      : [];
  return {
    id,
    version,
    issueDate: j.date(o, 'issueDate', path),
    nextUpdate: j.date(o, 'nextUpdate', path),
    fmspc: j.hex(o, 'fmspc', 6, path),
    pceId: j.hex(o, 'pceId', 2, path),
    tcbType: j.int(o, 'tcbType', path, 0),
    tcbEvaluationDataNumber: j.int(o, 'tcbEvaluationDataNumber', path),
    tdxModule,
    tdxModuleIdentities,
    tcbLevels,
  };
}

/** Parses the exact signed text of an enclave identity v2 (Intel PCS API v4, "Enclave Identity V2"). */
export function parseQeIdentity(text: string): QeIdentity {
  const path = 'qeIdentity';
  const o = j.object(j.parse(text, path), path);
  const version = j.int(o, 'version', path);
  if (version !== 2) throw j.fail(`${path}.version`, `${version} is not a supported enclave identity version (2)`);
  const word = (key: string) => Buffer.from(j.hex(o, key, 4, path)).readUInt32BE(0);
  return {
    id: j.oneOf(o, 'id', ['QE', 'TD_QE', 'QVE'] as const, path),
    version,
    issueDate: j.date(o, 'issueDate', path),
    nextUpdate: j.date(o, 'nextUpdate', path),
    tcbEvaluationDataNumber: j.int(o, 'tcbEvaluationDataNumber', path),
    // The hex miscselect is the little-endian MISCSELECT word as Intel prints it: big-endian text of the value.
    miscSelect: word('miscselect'),
    miscSelectMask: word('miscselectMask'),
    attributes: j.hex(o, 'attributes', 16, path),
    attributesMask: j.hex(o, 'attributesMask', 16, path),
    mrSigner: j.hex(o, 'mrsigner', 32, path),
    isvProdId: j.int(o, 'isvprodid', path, 0xffff),
    tcbLevels: isvSvnLevels(j.array(o, 'tcbLevels', path), `${path}.tcbLevels`),
  };
}

/** A 64-byte r ‖ s signature as hex (PCS `signature` member). */
function signatureHex(o: Record<string, string>, key: string): Uint8Array {
  const sig = fromHex(o[key] as string);
  if (!sig || sig.length !== 64) throw j.fail(`collateral.${key}`, 'must be 64 bytes of hex (r ‖ s)');
  return sig;
}

function derHex(o: Record<string, string>, key: string): Crl {
  const der = fromHex(o[key] as string);
  if (!der) throw new CloisterError('CRL_INVALID', `collateral.${key}: not hex`, { path: `collateral.${key}` });
  try {
    return parseCrl(der);
  } catch (cause) {
    throw new CloisterError('CRL_INVALID', `collateral.${key}: ${(cause as Error).message}`, {
      path: `collateral.${key}`,
      cause,
    });
  }
}

function signedJson(text: string, signature: Uint8Array, key: KeyObject, what: string): void {
  // The signature covers the exact UTF-8 bytes of the JSON member (PCS API v4); never re-serialise.
  if (!verifySignature('sha256', Buffer.from(text, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, signature)) {
    throw new CloisterError(
      'COLLATERAL_INVALID',
      `${what}: signature does not verify with its issuer chain's leaf key`,
      { field: what },
    );
  }
}

/**
 * Parses QuoteCollateralV3 JSON and verifies, once and independently of time: the TCB info and
 * QE identity signatures by their signing chains, both chains and the PCK CRL issuer chain to
 * `root`, and both CRLs' signatures and issuers.
 *
 * @example
 * ```ts
 * const collateral = prepareCollateral(JSON.parse(readFileSync('collateral.json', 'utf8')), intelRoot());
 * ```
 */
export function prepareCollateral(input: unknown, root: Certificate): PreparedCollateral {
  const o = j.object(input);
  const s: Record<string, string> = {};
  for (const f of QUOTE_COLLATERAL_FIELDS) s[f] = j.string(o, f);
  const tcbInfoChain = verifyRoleChain(s['tcb_info_issuer_chain'] as string, root, 'tcbInfoIssuerChain');
  const qeIdentityChain = verifyRoleChain(s['qe_identity_issuer_chain'] as string, root, 'qeIdentityIssuerChain');
  const pckCrlChain = verifyRoleChain(s['pck_crl_issuer_chain'] as string, root, 'pckCrlIssuerChain');
  signedJson(
    s['tcb_info'] as string,
    signatureHex(s, 'tcb_info_signature'),
    (tcbInfoChain[0] as Certificate).key(),
    'tcbInfo',
  );
  signedJson(
    s['qe_identity'] as string,
    signatureHex(s, 'qe_identity_signature'),
    (qeIdentityChain[0] as Certificate).key(),
    'qeIdentity',
  );
  const rootCaCrl = derHex(s, 'root_ca_crl');
  verifyCrlIssuer(rootCaCrl, root, 'rootCaCrl');
  const pckCrl = derHex(s, 'pck_crl');
  verifyCrlIssuer(pckCrl, pckCrlChain[0] as Certificate, 'pckCrl');
  const tcbInfo = parseTcbInfo(s['tcb_info'] as string);
  const qeIdentity = parseQeIdentity(s['qe_identity'] as string);
  const certs = [...tcbInfoChain, ...qeIdentityChain, ...pckCrlChain];
  const chains = [
    ['tcbInfoIssuerChain', tcbInfoChain],
    ['qeIdentityIssuerChain', qeIdentityChain],
    ['pckCrlIssuerChain', pckCrlChain],
  ] as const;
  const revoked = chains.flatMap(([chain, list]) =>
    list
      .slice(0, -1)
      .filter((cert) => rootCaCrl.revoked.has(cert.serial))
      .map((cert) => ({ chain, cert })),
  );
  return {
    tcbInfo,
    qeIdentity,
    tcbInfoChain,
    qeIdentityChain,
    pckCrl,
    pckCrlChain,
    rootCaCrl,
    root,
    window: {
      notBefore: Math.max(
        tcbInfo.issueDate,
        qeIdentity.issueDate,
        pckCrl.thisUpdate,
        rootCaCrl.thisUpdate,
        ...certs.map((x) => x.notBefore),
      ),
      notAfter: Math.min(
        tcbInfo.nextUpdate,
        qeIdentity.nextUpdate,
        pckCrl.nextUpdate,
        rootCaCrl.nextUpdate,
        ...certs.map((x) => x.notAfter),
      ),
    },
    revokedSigner: revoked[0],
  };
}

/** The window [notBefore, notAfter] in which every part of the collateral is valid. */
export function collateralWindow(c: PreparedCollateral): { notBefore: number; notAfter: number } {
  return c.window;
}

/**
 * Checks every time window of prepared collateral at `now` (Unix seconds): certificates of the
 * signing and CRL chains, CRL thisUpdate..nextUpdate, TCB info and QE identity issueDate..nextUpdate,
 * and that no intermediate CA of those chains is revoked by the root CA CRL.
 */
export function checkCollateralTime(c: PreparedCollateral, now: number): void {
  // Inside the precomputed window every time check passes; outside it, the checks below name what failed.
  if (now < c.window.notBefore || now > c.window.notAfter) checkEachTime(c, now);
  if (c.revokedSigner) {
    const { chain, cert } = c.revokedSigner;
    throw new CloisterError(
      'CERT_REVOKED',
      `${chain}: "${cert.subjectCn}" (serial ${cert.serial}) is revoked by the root CA CRL`,
      { field: chain },
    );
  }
}

function checkEachTime(c: PreparedCollateral, now: number): void {
  checkValidity(c.tcbInfoChain, now, 'tcbInfoIssuerChain');
  checkValidity(c.qeIdentityChain, now, 'qeIdentityIssuerChain');
  checkValidity(c.pckCrlChain, now, 'pckCrlIssuerChain');
  checkCrlTime(c.rootCaCrl, now, 'rootCaCrl');
  checkCrlTime(c.pckCrl, now, 'pckCrl');
  for (const [name, doc] of [
    ['tcbInfo', c.tcbInfo],
    ['qeIdentity', c.qeIdentity],
  ] as const) {
    if (now < doc.issueDate)
      throw new CloisterError('COLLATERAL_EXPIRED', `${name}: not valid before its issueDate ${iso(doc.issueDate)}`, {
        field: name,
      });
    if (now > doc.nextUpdate)
      throw new CloisterError('COLLATERAL_EXPIRED', `${name}: past its nextUpdate ${iso(doc.nextUpdate)}`, {
        field: name,
      });
  }
}

/** The P-256 public key of a raw 64-byte x ‖ y point (DER SPKI prefix for id-ecPublicKey, prime256v1). */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
export function p256Key(xy: Uint8Array): KeyObject {
  try {
    return createPublicKey({
      key: Buffer.concat([P256_SPKI_PREFIX, Buffer.from([4]), xy]),
      format: 'der',
      type: 'spki',
    });
  } catch (cause) {
    throw new CloisterError('QUOTE_SIGNATURE_INVALID', 'attestation key is not a valid P-256 point', {
      field: 'signatureData.attestationKey',
      cause,
    });
  }
}
