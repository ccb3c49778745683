import { createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { equal, hex, isZero } from '../../lib/bytes.js';
import type { Claims, TeeKind, Verdict } from '../verdict.js';
import { checkValidity, chainExpiry } from '../lib/chain.js';
import { verifyRoleChain } from './chains.js';
import type { Certificate } from '../lib/x509.js';
import { checkCollateralTime, p256Key, prepareCollateral, type PreparedCollateral } from './collateral.js';
import { pckExtensions, type PckExtensions } from './pck.js';
import { parseQuote, TEE_TYPE, type Quote, type SgxReportBody, type TdReportBody } from './quote.js';
import { isIntelRoot, intelSgxRootCa } from './root.js';
import { checkTdxModule, evaluateQe, evaluateTcb } from './tcb.js';

interface VerifiedPck {
  chain: Certificate[];
  extensions: PckExtensions;
}

/** A small LRU map for time-free chain checks and parsed keys. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
}

export interface DcapVerifyOptions {
  /** Verification time, Unix seconds. */
  now: number;
  /** Collateral, prepared with {@link DcapVerifier.prepare}. Without it only signatures are checked and verification fails with COLLATERAL_MISSING. */
  collateral?: PreparedCollateral | undefined;
  /** Expected TEE; a quote of the other kind is refused. */
  tee?: 'sgx' | 'tdx' | undefined;
}

/**
 * Verifies Intel SGX and TDX DCAP quotes with Intel's QVL rules. Pure: no I/O, the time is passed
 * in. Chain checks of PCK chains and parsed attestation keys are cached (time-free parts only);
 * every quote's own signatures are checked on every call.
 *
 * @example
 * ```ts
 * const verifier = new DcapVerifier();
 * const collateral = verifier.prepare(JSON.parse(collateralText));
 * const verdict = verifier.verify(quoteBytes, { collateral, now: Date.now() / 1000 });
 * console.log(verdict.tcbStatus, verdict.claims.mrenclave);
 * ```
 */
export class DcapVerifier {
  readonly root: Certificate;
  readonly simulation: boolean;
  private readonly pcks = new Lru<string, VerifiedPck>(256);
  private readonly keys = new Lru<string, KeyObject>(1024);

  constructor(root: Certificate = intelSgxRootCa()) {
    this.root = root;
    this.simulation = !isIntelRoot(root);
  }

  /** Parses QuoteCollateralV3 JSON and verifies its signatures and chains to this verifier's root. */
  prepare(collateral: unknown): PreparedCollateral {
    return prepareCollateral(collateral, this.root);
  }

  private pck(quote: Quote): VerifiedPck {
    const key = Buffer.from(quote.pckChain.buffer, quote.pckChain.byteOffset, quote.pckChain.byteLength).toString(
      'latin1',
    );
    let pck = this.pcks.get(key);
    if (!pck) {
      const chain = verifyRoleChain(key, this.root, 'pckChain');
      pck = { chain, extensions: pckExtensions(chain[0] as Certificate) };
      this.pcks.set(key, pck);
    }
    return pck;
  }

  private attestationKey(raw: Uint8Array): KeyObject {
    const id = hex(raw);
    let key = this.keys.get(id);
    if (!key) {
      key = p256Key(raw);
      this.keys.set(id, key);
    }
    return key;
  }

  /**
   * What collateral a quote needs: its TEE, the FMSPC of its PCK certificate and the PCK CA that
   * issued it (PCS API v4 `ca=processor|platform`). The PCK chain is verified on the way.
   */
  collateralRequest(bytes: Uint8Array): { tee: 'sgx' | 'tdx'; fmspc: string; ca: 'processor' | 'platform' } {
    const quote = parseQuote(bytes);
    const pck = this.pck(quote);
    const caName = (pck.chain[1] as Certificate).subjectCn;
    const ca = caName.includes('Processor') ? 'processor' : caName.includes('Platform') ? 'platform' : undefined;
    if (!ca)
      throw new CloisterError(
        'CERT_CHAIN_INVALID',
        `pckChain[1]: "${caName}" is neither the PCK Processor CA nor the PCK Platform CA`,
        { field: 'pckChain' },
      );
    return {
      tee: quote.header.teeType === TEE_TYPE.tdx ? 'tdx' : 'sgx',
      fmspc: hex(pck.extensions.fmspc).toUpperCase(),
      ca,
    };
  }

  /** Verifies one quote. Throws a {@link CloisterError} naming the failed rule; returns the verdict otherwise. */
  verify(bytes: Uint8Array, options: DcapVerifyOptions): Verdict {
    const { now } = options;
    const quote = parseQuote(bytes);
    const tee: 'sgx' | 'tdx' = quote.header.teeType === TEE_TYPE.tdx ? 'tdx' : 'sgx';
    if (options.tee && options.tee !== tee) {
      throw new CloisterError('QUOTE_UNSUPPORTED_TEE_TYPE', `expected a ${options.tee} quote, got a ${tee} quote`, {
        field: 'header.teeType',
        expected: options.tee,
        actual: tee,
      });
    }
    const pck = this.pck(quote);
    checkValidity(pck.chain, now, 'pckChain');

    // QE report signed by the PCK key; its report data binds the attestation key (DCAP ECDSA Quote Library API A.4).
    if (
      !verifySignature(
        'sha256',
        quote.qeReport.raw,
        { key: (pck.chain[0] as Certificate).key(), dsaEncoding: 'ieee-p1363' },
        quote.qeReportSignature,
      )
    ) {
      throw new CloisterError(
        'QE_REPORT_SIGNATURE_INVALID',
        'the QE report signature does not verify with the PCK certificate key',
        { field: 'qeReportSignature' },
      );
    }
    const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
    if (!equal(quote.qeReport.reportData.subarray(0, 32), binding) || !isZero(quote.qeReport.reportData.subarray(32))) {
      throw new CloisterError(
        'QE_REPORT_DATA_MISMATCH',
        'QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes',
        { field: 'qeReport.reportData' },
      );
    }
    if (
      !verifySignature(
        'sha256',
        quote.signed,
        { key: this.attestationKey(quote.attestationKey), dsaEncoding: 'ieee-p1363' },
        quote.signature,
      )
    ) {
      throw new CloisterError(
        'QUOTE_SIGNATURE_INVALID',
        'the quote signature over header and body does not verify with the attestation key',
        { field: 'signatureData.signature' },
      );
    }

    const c = options.collateral;
    if (!c)
      throw new CloisterError(
        'COLLATERAL_MISSING',
        'no collateral: TCB info, QE identity and CRLs are needed to verify a quote',
      );
    if (!equal(c.root.der, this.root.der))
      throw new CloisterError('COLLATERAL_INVALID', 'collateral was prepared for another trust root');
    checkCollateralTime(c, now);
    this.checkRevocation(pck, c);

    const info = c.tcbInfo;
    // QVL QuoteVerifier::verify: TCB info id and version must suit the quote's TEE; FMSPC and PCEID must be the PCK's.
    if (info.id !== tee.toUpperCase())
      throw new CloisterError('COLLATERAL_MISMATCH', `tcbInfo.id: ${info.id} TCB info cannot evaluate a ${tee} quote`, {
        path: 'tcbInfo.id',
      });
    if (!equal(info.fmspc, pck.extensions.fmspc))
      throw new CloisterError(
        'COLLATERAL_MISMATCH',
        `tcbInfo.fmspc: ${hex(info.fmspc)} is not the PCK certificate's FMSPC ${hex(pck.extensions.fmspc)}`,
        { path: 'tcbInfo.fmspc' },
      );
    if (!equal(info.pceId, pck.extensions.pceId))
      throw new CloisterError(
        'COLLATERAL_MISMATCH',
        `tcbInfo.pceId: ${hex(info.pceId)} is not the PCK certificate's PCEID ${hex(pck.extensions.pceId)}`,
        { path: 'tcbInfo.pceId' },
      );
    const td = quote.body.kind === 'sgx' ? undefined : quote.body.report;
    if (td) checkTdxModule(info, td);
    const qeLevel = evaluateQe(c.qeIdentity, quote.qeReport, tee);
    const tcb = evaluateTcb(info, pck.extensions, qeLevel, td);

    return {
      tee,
      tcbStatus: tcb.status,
      advisoryIds: tcb.advisoryIds,
      claims: claims(quote, pck.extensions),
      collateralExpiry: Math.min(c.window.notAfter, chainExpiry(pck.chain)),
      simulation: this.simulation,
      tcb: {
        platformStatus: tcb.platformStatus,
        qeStatus: tcb.qeStatus,
        tdxModuleStatus: tcb.tdxModuleStatus,
        tcbDate: tcb.tcbDate,
        evaluationDataNumber: Math.min(info.tcbEvaluationDataNumber, c.qeIdentity.tcbEvaluationDataNumber),
      },
      trailingBytes: quote.trailingBytes,
    };
  }

  /** The PCK CRL must be the one of the PCK's issuing CA; neither the PCK nor its CA may be revoked (PCK Certificate and CRL Profile §2). */
  private checkRevocation(pck: VerifiedPck, c: PreparedCollateral): void {
    const [leaf, ca] = pck.chain as [Certificate, Certificate];
    const crlIssuer = c.pckCrlChain[0] as Certificate;
    if (!equal(crlIssuer.subject, ca.subject) || !equal(crlIssuer.spki, ca.spki)) {
      throw new CloisterError(
        'CRL_INVALID',
        `pckCrl: issued by "${crlIssuer.subjectCn}", but the PCK certificate by "${ca.subjectCn}"`,
        { field: 'pckCrl' },
      );
    }
    if (c.pckCrl.revoked.has(leaf.serial))
      throw new CloisterError('CERT_REVOKED', `PCK certificate (serial ${leaf.serial}) is revoked by the PCK CRL`, {
        field: 'pckChain[0]',
      });
    if (c.rootCaCrl.revoked.has(ca.serial))
      throw new CloisterError('CERT_REVOKED', `"${ca.subjectCn}" (serial ${ca.serial}) is revoked by the root CA CRL`, {
        field: 'pckChain[1]',
      });
  }
}

function sgxClaims(r: SgxReportBody): Claims {
  const flags = r.attributes[0] as number;
  return {
    mrenclave: hex(r.mrEnclave),
    mrsigner: hex(r.mrSigner),
    isvProdId: r.isvProdId,
    isvSvn: r.isvSvn,
    // SGX SDM 38.7.1 ATTRIBUTES: bit 1 DEBUG, bit 2 MODE64BIT.
    debug: (flags & 0x02) !== 0,
    mode64bit: (flags & 0x04) !== 0,
    attributes: hex(r.attributes),
    miscSelect: r.miscSelect,
    cpuSvn: hex(r.cpuSvn),
    configId: hex(r.configId),
    configSvn: r.configSvn,
    isvExtProdId: hex(r.isvExtProdId),
    isvFamilyId: hex(r.isvFamilyId),
    reportData: hex(r.reportData),
  };
}

function tdClaims(r: TdReportBody): Claims {
  const out: Claims = {
    mrtd: hex(r.mrTd),
    rtmr0: hex(r.rtmr[0]),
    rtmr1: hex(r.rtmr[1]),
    rtmr2: hex(r.rtmr[2]),
    rtmr3: hex(r.rtmr[3]),
    mrConfigId: hex(r.mrConfigId),
    mrOwner: hex(r.mrOwner),
    mrOwnerConfig: hex(r.mrOwnerConfig),
    mrSeam: hex(r.mrSeam),
    mrSignerSeam: hex(r.mrSignerSeam),
    seamAttributes: hex(r.seamAttributes),
    tdAttributes: hex(r.tdAttributes),
    // TDX Module ABI, TDATTRIBUTES bit 0: DEBUG; bit 28: SEPT_VE_DISABLE.
    debug: ((r.tdAttributes[0] as number) & 0x01) !== 0,
    septVeDisable: ((r.tdAttributes[3] as number) & 0x10) !== 0,
    xfam: hex(r.xfam),
    teeTcbSvn: hex(r.teeTcbSvn),
    reportData: hex(r.reportData),
  };
  if (r.teeTcbSvn2) out['teeTcbSvn2'] = hex(r.teeTcbSvn2);
  if (r.mrServiceTd) out['mrServiceTd'] = hex(r.mrServiceTd);
  return out;
}

function claims(quote: Quote, pck: PckExtensions): Claims {
  return {
    ...(quote.body.kind === 'sgx' ? sgxClaims(quote.body.report) : tdClaims(quote.body.report)),
    quoteVersion: quote.header.version,
    qeSvn: quote.header.qeSvn,
    pceSvn: pck.pceSvn,
    fmspc: hex(pck.fmspc),
    pceId: hex(pck.pceId),
    tcbComponents: hex(new Uint8Array(pck.tcbComponents)),
  };
}

/** The TEE kind a quote claims, from its header, without verifying it. */
export function quoteTee(bytes: Uint8Array): TeeKind {
  return parseQuote(bytes).header.teeType === TEE_TYPE.tdx ? 'tdx' : 'sgx';
}
