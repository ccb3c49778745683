import { verify as verifySignature } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { equal, isZero } from '../../lib/bytes.js';
import { chainExpiry, checkCrlTime, checkValidity, verifyCrlIssuer } from '../lib/chain.js';
import { customArk } from './roots.js';
import { parseCrl, type Certificate, type Crl } from '../lib/x509.js';
import type { Verdict } from '../verdict.js';
import { snpClaims } from './claims.js';
import { verifyEndorsement, type Endorsement, type EndorsementKind, type SnpRoots } from './endorsement.js';
import { PRODUCT_LINES, type ProductLine, type TcbComponent } from './product.js';
import { parseSnpReport, type SnpReport } from './report.js';

/**
 * The certificates that endorse a report: the VCEK (DER) with the ASK (PEM), or the VLEK with the
 * ASVK, and optionally the ARK (PEM), which must then be the pinned ARK of the product line. The
 * files of `cloister attest verify --certs DIR`: `vcek.der`/`vlek.der`, `ask.pem`/`asvk.pem`,
 * `ark.pem`.
 *
 * @example `{ vcek: readFileSync('vcek.der'), ask: readFileSync('ask.pem', 'utf8'), ark: readFileSync('ark.pem', 'utf8') }`
 */
export interface SnpCerts {
  vcek?: Uint8Array | undefined;
  vlek?: Uint8Array | undefined;
  ask?: string | undefined;
  asvk?: string | undefined;
  ark?: string | undefined;
}

/** Options of {@link SnpVerifier.verify}. @example `{ now: Date.now() / 1000, crl: crlDer }` */
export interface SnpVerifyOptions {
  /** Verification time, Unix seconds. */
  now: number;
  /** A DER CRL of the ARK (AMD KDS `/vcek/v1/{product}/crl`) or of the ASK/ASVK: signature, time and listed serials are checked. */
  crl?: Uint8Array | undefined;
}

/** Options of the {@link SnpVerifier} constructor. @example `{ roots: { Milan: testArkDer } }` */
export interface SnpVerifierOptions {
  /** ARKs (DER) that replace AMD's pinned ones, per product line; verdicts anchored at them say `simulation: true`. */
  roots?: Readonly<Partial<Record<ProductLine, Uint8Array>>>;
}

/** Which certificates endorse each kind of report-signing key. */
const CERT_FIELDS = {
  vcek: { leaf: 'vcek', intermediate: 'ask' },
  vlek: { leaf: 'vlek', intermediate: 'asvk' },
} as const satisfies Record<EndorsementKind, { leaf: keyof SnpCerts; intermediate: keyof SnpCerts }>;

/** How many verified chains and CRLs are kept. */
const CACHE_SIZE = 256;

/** Remembers up to {@link CACHE_SIZE} values by key, forgetting the oldest first. */
function remember<V>(cache: Map<string, V>, key: string, compute: () => V): V {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute();
    cache.set(key, value);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return value;
}

/** A cache key of several inputs (text, or bytes read as latin1), each length-prefixed so that no two lists of inputs share one. */
function cacheKey(...parts: (string | Uint8Array | undefined)[]): string {
  return parts
    .map((p) => {
      if (p === undefined) return '-;';
      const text = typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('latin1');
      return `${text.length};${text}`;
    })
    .join('');
}

/**
 * Verifies AMD SEV-SNP attestation reports against AMD's roots (SEV-SNP ABI spec §7.3, VCEK spec).
 * Pure: the time is passed in. The time-free checks of a certificate chain (parsing, names,
 * signatures, pinned ARK, extensions) and of a CRL are cached by their bytes; every report's
 * own signature, its consistency with the certificate and the validity at `now` are checked on
 * every call.
 *
 * @example
 * ```ts
 * const verifier = new SnpVerifier();
 * const verdict = verifier.verify(report, { vcek, ask, ark }, { now: Date.now() / 1000 });
 * console.log(verdict.claims.measurement, verdict.claims.reportedTcb);
 * ```
 */
export class SnpVerifier {
  private readonly roots: SnpRoots;
  private readonly endorsements = new Map<string, Endorsement>();
  private readonly crls = new Map<string, { crl: Crl; byArk: boolean }>();

  constructor(options: SnpVerifierOptions = {}) {
    const roots: Partial<Record<ProductLine, Certificate>> = {};
    for (const [product, der] of Object.entries(options.roots ?? {}) as [ProductLine, Uint8Array][])
      roots[product] = customArk(der, product);
    this.roots = roots;
  }

  /**
   * The verified endorsement of a report-signing key (cached): the VCEK or VLEK the report names,
   * its chain and extensions, time aside. Throws COLLATERAL_MISSING when the certificates are not given.
   *
   * @example `verifier.endorsement('vcek', { vcek, ask }).product` → `'Milan'`
   */
  endorsement(kind: EndorsementKind, certs: SnpCerts): Endorsement {
    const fields = CERT_FIELDS[kind];
    const leaf = certs[fields.leaf];
    const intermediate = certs[fields.intermediate];
    if (leaf === undefined || intermediate === undefined) {
      throw new CloisterError(
        'COLLATERAL_MISSING',
        `the report is signed by a ${kind.toUpperCase()}: ${fields.leaf} and ${fields.intermediate} certificates are needed`,
        { field: leaf === undefined ? fields.leaf : fields.intermediate },
      );
    }
    return remember(this.endorsements, cacheKey(kind, intermediate, certs.ark, leaf), () =>
      verifyEndorsement({ kind, leaf, intermediate, ark: certs.ark }, this.roots),
    );
  }

  /**
   * Verifies one report: its structure, the endorsement of its signing key, the product line of
   * report, certificates and ARK, CHIP_ID and REPORTED_TCB against the VCEK, validity at `now`, the
   * CRL when given, and the signature. Throws a {@link CloisterError} naming the failed rule;
   * returns the verdict otherwise.
   *
   * @example `verifier.verify(report, { vcek, ask, ark }, { now: 1737771708 }).claims.chipId`
   */
  verify(bytes: Uint8Array, certs: SnpCerts, options: SnpVerifyOptions): Verdict {
    const { now } = options;
    const report = parseSnpReport(bytes);
    const e = this.endorsement(report.signingKey, certs);
    checkProduct(report, e);
    if (e.kind === 'vcek') checkChipId(report, e);
    checkReportedTcb(report, e);
    checkValidity(e.chain, now, e.kind === 'vcek' ? 'vcekChain' : 'vlekChain');
    let expiry = chainExpiry(e.chain);
    if (options.crl) expiry = Math.min(expiry, this.checkRevocation(e, options.crl, now));

    // ABI spec Table 23 MASK_CHIP_KEY: a report from a platform that masks its chip key carries a zero signature.
    if (report.maskChipKey || isZero(report.signature))
      throw new CloisterError('SNP_SIGNATURE_INVALID', 'the report is not signed (MASK_CHIP_KEY)', {
        field: 'report.signature',
      });
    // ABI spec §7.3: ECDSA P-384 with SHA-384 over bytes 0x000-0x29F.
    if (!verifySignature('sha384', report.signed, { key: e.key, dsaEncoding: 'ieee-p1363' }, report.signature)) {
      throw new CloisterError(
        'SNP_SIGNATURE_INVALID',
        `the report signature does not verify with the ${e.kind.toUpperCase()} key`,
        { field: 'report.signature' },
      );
    }
    return {
      tee: 'snp',
      // AMD publishes no TCB status for SEV-SNP (no counterpart of Intel's TCB info): a genuine
      // report is "UpToDate" here, and policy judges its TCB against a minimum (Policy.minimumTcb).
      tcbStatus: 'UpToDate',
      advisoryIds: [],
      claims: snpClaims(report),
      collateralExpiry: expiry,
      simulation: e.simulation,
      trailingBytes: 0,
    };
  }

  /**
   * RFC 5280 §6.3: a CRL signed by the ARK covers the ASK/ASVK (AMD's KDS CRL), one signed by the
   * ASK/ASVK covers the VCEK/VLEK. It must be current at `now`; the certificate it covers must not
   * be listed. Returns its nextUpdate.
   */
  private checkRevocation(e: Endorsement, der: Uint8Array, now: number): number {
    const [leaf, issuer, ark] = e.chain;
    const { crl, byArk } = remember(this.crls, cacheKey(ark.der, issuer.der, der), () => {
      const crl = parseCrl(der);
      const signer = [ark, issuer].find((c) => equal(c.subject, crl.issuer));
      if (!signer)
        throw new CloisterError('CRL_INVALID', `crl: issued by neither "${ark.subjectCn}" nor "${issuer.subjectCn}"`, {
          field: 'crl',
        });
      verifyCrlIssuer(crl, signer, 'crl');
      return { crl, byArk: signer === ark };
    });
    checkCrlTime(crl, now, 'crl');
    const subject = byArk ? issuer : leaf;
    if (crl.revoked.has(subject.serial)) {
      throw new CloisterError(
        'CERT_REVOKED',
        `"${subject.subjectCn}" (serial ${subject.serial}) is revoked by the CRL`,
        { field: subject === leaf ? e.kind : CERT_FIELDS[e.kind].intermediate },
      );
    }
    return crl.nextUpdate;
  }
}

/** The product line the report states (CPUID, v3+) and its TCB layout must be the endorsement's (whose ASK and ARK were checked with it). */
function checkProduct(report: SnpReport, e: Endorsement): void {
  if (report.product !== undefined && report.product !== e.product) {
    throw new CloisterError(
      'SNP_PRODUCT_MISMATCH',
      `the report comes from a ${report.product} CPU, the ${e.kind.toUpperCase()} is a ${e.product} key`,
      { field: 'report.cpuid', expected: e.product, actual: report.product },
    );
  }
  if (report.tcbLayout !== PRODUCT_LINES[e.product].tcb) {
    throw new CloisterError(
      'SNP_PRODUCT_MISMATCH',
      `a version ${report.version} report cannot come from ${e.product}`,
      { field: 'report.version', expected: e.product },
    );
  }
}

/** VCEK spec §3.1: the certificate's SPL extensions are the TCB it was derived for, REPORTED_TCB. */
function checkReportedTcb(report: SnpReport, e: Endorsement): void {
  for (const [component, spl] of Object.entries(e.tcb) as [TcbComponent, number][]) {
    const reported = report.reportedTcb[component];
    if (reported !== spl) {
      throw new CloisterError(
        'SNP_TCB_MISMATCH',
        `REPORTED_TCB ${component} is ${String(reported)}, the ${e.kind.toUpperCase()} certifies ${spl}`,
        { field: `report.reportedTcb.${component}`, expected: spl, actual: reported },
      );
    }
  }
}

/** VCEK spec §3.1: hwID is CHIP_ID (on Turin its first 8 bytes, the rest zero). */
function checkChipId(report: SnpReport, e: Endorsement): void {
  const hwid = e.hwid as Uint8Array;
  const chip = report.chipId;
  if (!equal(chip.subarray(0, hwid.length), hwid) || !isZero(chip.subarray(hwid.length))) {
    throw new CloisterError(
      'SNP_CHIP_ID_MISMATCH',
      "the VCEK was issued for another chip: its hwID is not the report's CHIP_ID",
      { field: 'report.chipId' },
    );
  }
}
