import { sign, webcrypto } from 'node:crypto';
import { hex } from '../../lib/bytes.js';
import { iso } from '../lib/chain.js';
import { OID } from '../lib/x509.js';
import { peculiar } from '../../pki/lib/peculiar.js';
import type { TcbStatus } from '../tcb-status.js';
import { der } from '../../lib/der-writer.js';
import { SIM, type SimIdentity, type SimPlatform } from './platform.js';
import type { QuoteCollateralV3 } from '../dcap/collateral.js';
import { pemCert } from '../../pki/pem.js';

/**
 * QuoteCollateralV3 JSON (the collateral of `cloister attest verify --collateral`) for the
 * simulated platform, signed by its PKI in the formats of Intel PCS API v4: TCB info v3, enclave
 * identity v2, PCK CRL and root CA CRL.
 */

export interface SimCollateralOptions {
  /** Issue time, Unix seconds. */
  now: number;
  tee: 'sgx' | 'tdx';
  /** Issue collateral whose windows (TCB info, QE identity, CRLs) ended before `now`. */
  stale?: boolean | undefined;
  /** List the PCK certificate in the PCK CRL. */
  revokePck?: boolean | undefined;
  /** Status of the TCB level equal to the platform's SVNs; UpToDate by default. */
  tcbStatus?: Exclude<TcbStatus, 'TDRelaunchAdvised' | 'TDRelaunchAdvisedConfigurationNeeded'> | undefined;
}

/**
 * QuoteCollateralV3 JSON, every field a string: the exact signed texts of TCB info and QE
 * identity, hex signatures (r ‖ s) and DER CRLs, PEM issuer chains (leaf first).
 */
export type SimCollateral = QuoteCollateralV3;

const DAY = 86_400;
/** The advisory every non-current simulated TCB level carries. */
const ADVISORY = 'INTEL-SA-00000';
/** Intel numbers TCB evaluations; the simulation has had one. */
const EVALUATION = 1;

const svns = (list: readonly number[]) => list.map((svn) => ({ svn }));
const status = (s: TcbStatus) => ({ tcbStatus: s, ...(s === 'UpToDate' ? {} : { advisoryIDs: [ADVISORY] }) });
const signHex = (signer: SimIdentity, text: string) =>
  sign('sha256', Buffer.from(text, 'utf8'), { key: signer.key, dsaEncoding: 'ieee-p1363' }).toString('hex');
const date = (seconds: number) => new Date(seconds * 1000);

/** A v2 CRL (RFC 5280 §5) with cRLNumber and authorityKeyIdentifier, as Intel's. */
async function crl(
  issuer: SimIdentity,
  thisUpdate: number,
  nextUpdate: number,
  revoked: readonly string[],
): Promise<string> {
  const { AuthorityKeyIdentifierExtension, Extension, Name, X509CrlGenerator } = await peculiar();
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    issuer.key.export({ format: 'der', type: 'pkcs8' }),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const list = await X509CrlGenerator.create(
    {
      issuer: new Name(issuer.cert.subject),
      thisUpdate: date(thisUpdate),
      nextUpdate: date(nextUpdate),
      entries: revoked.map((serialNumber) => ({ serialNumber, revocationDate: date(thisUpdate) })),
      extensions: [
        new Extension(OID.cRLNumber, false, der.integer(1)),
        await AuthorityKeyIdentifierExtension.create(issuer.cert.spki, false, webcrypto),
      ],
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      signingKey,
    },
    webcrypto,
  );
  return hex(new Uint8Array(list.rawData));
}

/**
 * Collateral for quotes of `p`, valid from `now` for 30 days (or, with `stale`, from 60 to 30
 * days before `now`). The TCB info has two levels: the platform's SVNs (`tcbStatus`, UpToDate by
 * default) and an OutOfDate level below; the QE identity likewise for ISVSVN.
 *
 * @example
 * ```ts
 * const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
 * const collateral = verifier.prepare(await simCollateral(platform, { now, tee: 'sgx' }));
 * ```
 */
export async function simCollateral(p: SimPlatform, o: SimCollateralOptions): Promise<SimCollateral> {
  const start = Math.floor(o.now) - 3600 - (o.stale ? 60 * DAY : 0);
  const window = { issueDate: iso(start), nextUpdate: iso(start + 30 * DAY) };
  const old = iso(start - 365 * DAY);
  const tdx = o.tee === 'tdx';

  // TCB info v3 (Intel PCS API v4, "TCB Info V3"); TDX adds the module identity and TDX components.
  const level = (
    sgx: readonly number[],
    pceSvn: number,
    tdxSvns: readonly number[],
    tcbDate: string,
    s: TcbStatus,
  ) => ({
    tcb: { sgxtcbcomponents: svns(sgx), pcesvn: pceSvn, ...(tdx ? { tdxtcbcomponents: svns(tdxSvns) } : {}) },
    tcbDate,
    ...status(s),
  });
  const zero = new Array<number>(16).fill(0);
  const tcbInfo = JSON.stringify({
    id: tdx ? 'TDX' : 'SGX',
    version: 3,
    ...window,
    fmspc: hex(p.tcb.fmspc).toUpperCase(),
    pceId: hex(p.tcb.pceId).toUpperCase(),
    tcbType: 0,
    tcbEvaluationDataNumber: EVALUATION,
    ...(tdx
      ? { tdxModule: { mrsigner: '0'.repeat(96), attributes: '0'.repeat(16), attributesMask: 'F'.repeat(16) } }
      : {}),
    tcbLevels: [
      level(p.tcb.tcbComponents, p.tcb.pceSvn, SIM.teeTcbSvn, window.issueDate, o.tcbStatus ?? 'UpToDate'),
      level(zero, 0, zero, old, 'OutOfDate'),
    ],
  });

  // Enclave identity v2 of the QE (SGX) or TD_QE (TDX) (Intel PCS API v4, "Enclave Identity V2").
  const qeIdentity = JSON.stringify({
    id: tdx ? 'TD_QE' : 'QE',
    version: 2,
    ...window,
    tcbEvaluationDataNumber: EVALUATION,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: SIM.qe.identityAttributes,
    attributesMask: SIM.qe.identityAttributesMask,
    mrsigner: hex(SIM.qe.mrSigner).toUpperCase(),
    isvprodid: SIM.qe.isvProdId[o.tee],
    tcbLevels: [
      { tcb: { isvsvn: SIM.qe.isvSvn }, tcbDate: window.issueDate, ...status('UpToDate') },
      { tcb: { isvsvn: 0 }, tcbDate: old, ...status('OutOfDate') },
    ],
  });

  const signingChain = pemCert(p.tcbSigning.cert.der) + pemCert(p.root.cert.der);
  return {
    tcb_info: tcbInfo,
    tcb_info_signature: signHex(p.tcbSigning, tcbInfo),
    tcb_info_issuer_chain: signingChain,
    qe_identity: qeIdentity,
    qe_identity_signature: signHex(p.tcbSigning, qeIdentity),
    qe_identity_issuer_chain: signingChain,
    pck_crl: await crl(p.pckCa, start, start + 30 * DAY, o.revokePck ? [p.pck.cert.serial] : []),
    pck_crl_issuer_chain: pemCert(p.pckCa.cert.der) + pemCert(p.root.cert.der),
    root_ca_crl: await crl(p.root, start, start + 30 * DAY, []),
  };
}
