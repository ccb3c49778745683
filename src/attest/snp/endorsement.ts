import type { KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { equal } from '../../lib/bytes.js';
import { verifyChain } from '../lib/chain.js';
import { Der, TAG, smallUint } from '../../lib/der.js';
import { KEY_USAGE, parseCertificate, pemCertificates, signedBy, type Certificate } from '../lib/x509.js';
import {
  PRODUCT_LINES,
  PRODUCT_LINE_NAMES,
  TCB_COMPONENTS,
  TCB_LAYOUTS,
  productOfName,
  type ProductLine,
  type TcbComponent,
} from './product.js';
import { amdArk, pinnedProduct } from './roots.js';

/**
 * VCEK and VLEK certificates and their chains to the ARK (AMD "Versioned Chip Endorsement Key
 * (VCEK) Certificate and KDS Interface Specification" §2-3; VLEK: SEV-SNP ABI spec §3.5).
 */

/** AMD's certificate extensions (VCEK spec §3.1, arc 1.3.6.1.4.1.3704.1); the TCB ones are in `TCB_COMPONENTS`. @example `AMD_OID.hwid` */
export const AMD_OID = {
  structVersion: '1.3.6.1.4.1.3704.1.1',
  productName: '1.3.6.1.4.1.3704.1.2',
  hwid: '1.3.6.1.4.1.3704.1.4',
  cspId: '1.3.6.1.4.1.3704.1.5',
} as const;

/**
 * The two kinds of report-signing key: the certificate's common name, which intermediate of the
 * product line issues it (`ask` or `asvk` in `PRODUCT_LINES`), and the extension naming whom it
 * belongs to (a chip's hwID, or a cloud provider's CSP id).
 *
 * @example `ENDORSEMENT_KEYS.vlek.issuer` → `'asvk'`
 */
export const ENDORSEMENT_KEYS = {
  vcek: { cn: 'SEV-VCEK', issuer: 'ask', owner: AMD_OID.hwid },
  vlek: { cn: 'SEV-VLEK', issuer: 'asvk', owner: AMD_OID.cspId },
} as const;

/** A report-signing key kind. @example `const kind: EndorsementKind = 'vcek'` */
export type EndorsementKind = keyof typeof ENDORSEMENT_KEYS;

/** The AMD extensions of a VCEK or VLEK. @example `amdExtensions(cert, 'vcek').tcb.microcode` */
export interface AmdExtensions {
  productName: string;
  product: ProductLine;
  /** The security patch levels certified, per component of the product line's TCB layout. */
  tcb: Partial<Record<TcbComponent, number>>;
  /** The chip's hardware id (VCEK only): 64 bytes, 8 on Turin. */
  hwid: Uint8Array | undefined;
  /** The cloud provider the key was issued to (VLEK only). */
  cspId: string | undefined;
}

/**
 * A verified report-signing certificate: its extensions, its chain (leaf, ASK or ASVK, ARK; names,
 * signatures, CA constraints, pinned root, one product line, but not time) and its P-384 key.
 *
 * @example `verifyEndorsement({ kind: 'vcek', leaf: vcekDer, intermediate: askPem }).product` → `'Genoa'`
 */
export interface Endorsement extends AmdExtensions {
  kind: EndorsementKind;
  chain: readonly [Certificate, Certificate, Certificate];
  key: KeyObject;
  /** True when the chain ends at a root given to the verifier instead of AMD's pinned ARK. */
  simulation: boolean;
}

/** The certificates of one endorsement: the leaf DER, the intermediate and, optionally, the ARK (PEM). @example `{ kind: 'vcek', leaf: vcekDer, intermediate: askPem, ark: arkPem }` */
export interface EndorsementInput {
  kind: EndorsementKind;
  leaf: Uint8Array;
  intermediate: string;
  ark?: string | undefined;
}

/** Roots that replace AMD's pinned ARKs (tests, simulated platforms). @example `{ Milan: parseCertificate(testArkDer) }` */
export type SnpRoots = Readonly<Partial<Record<ProductLine, Certificate>>>;

function invalid(message: string, cause?: unknown): CloisterError {
  return new CloisterError('SNP_ENDORSEMENT_INVALID', message, { field: 'vcek', cause });
}

/** An IA5String extension value (productName, cspId). */
function ia5(value: Uint8Array, offset: number, field: string): string {
  const d = Der.of(value, offset);
  const text = Buffer.from(d.expect(0x16, field).value).toString('latin1');
  d.end(field);
  if (!/^[\x20-\x7e]*$/.test(text)) throw invalid(`${field}: not printable ASCII`);
  return text;
}

/**
 * The hwID: the raw bytes as most VCEKs carry them, or (in some issues) wrapped in a DER OCTET
 * STRING. The product line's length decides, so the two never collide.
 */
function hwid(value: Uint8Array, size: number): Uint8Array {
  if (value.length === size) return value;
  if (value.length === size + 2 && value[0] === TAG.OCTET_STRING && value[1] === size) return value.subarray(2);
  throw invalid(`hwID: ${value.length} bytes, expected ${size}`);
}

/**
 * Reads the AMD extensions of a VCEK (`kind` `'vcek'`) or VLEK (VCEK spec §3.1): productName,
 * every TCB component of the product line's layout (INTEGERs 0-255), and the hwID or CSP id.
 * Throws `SNP_ENDORSEMENT_INVALID` when one is missing or malformed.
 *
 * @example
 * ```ts
 * const ext = amdExtensions(parseCertificate(vcekDer), 'vcek');
 * console.log(ext.product, ext.tcb, Buffer.from(ext.hwid!).toString('hex'));
 * ```
 */
export function amdExtensions(cert: Certificate, kind: EndorsementKind): AmdExtensions {
  const get = (oid: string, name: string) => {
    const ext = cert.extensions.get(oid);
    if (!ext) throw invalid(`${kind.toUpperCase()} certificate lacks the ${name} extension (${oid})`);
    return ext;
  };
  try {
    const name = get(AMD_OID.productName, 'productName');
    const productName = ia5(name.value, name.offset, 'productName');
    const product = productOfName(productName);
    if (!product)
      throw invalid(
        `productName "${productName}" is not a product line cloister knows (${PRODUCT_LINE_NAMES.join(', ')})`,
      );
    const tcb: Partial<Record<TcbComponent, number>> = {};
    for (const component of Object.keys(TCB_LAYOUTS[PRODUCT_LINES[product].tcb].components) as TcbComponent[]) {
      const ext = get(TCB_COMPONENTS[component].oid, `${component} SPL`);
      const d = Der.of(ext.value, ext.offset);
      const spl = smallUint(d.expect(TAG.INTEGER, component), component);
      d.end(component);
      if (spl > 255) throw invalid(`${component} SPL ${spl} exceeds 255`);
      tcb[component] = spl;
    }
    const owner = get(ENDORSEMENT_KEYS[kind].owner, kind === 'vcek' ? 'hwID' : 'cspId');
    return {
      productName,
      product,
      tcb,
      hwid: kind === 'vcek' ? hwid(owner.value, PRODUCT_LINES[product].chipIdBytes) : undefined,
      cspId: kind === 'vlek' ? ia5(owner.value, owner.offset, 'cspId') : undefined,
    };
  } catch (cause) {
    if (cause instanceof CloisterError && cause.code === 'SNP_ENDORSEMENT_INVALID') throw cause;
    throw invalid(
      `${kind.toUpperCase()} certificate: malformed AMD extension: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    );
  }
}

/** Exactly one certificate of a PEM text. */
function onePem(pem: string, field: string): Uint8Array {
  const ders = pemCertificates(pem, field);
  if (ders.length !== 1)
    throw new CloisterError('CERT_CHAIN_INVALID', `${field}: expected one certificate, found ${ders.length}`, {
      field,
    });
  return ders[0] as Uint8Array;
}

/** The product line whose `role` certificate is named `cn`, if any. */
function lineNamed(cn: string, role: 'ark' | 'ask' | 'asvk'): ProductLine | undefined {
  return PRODUCT_LINE_NAMES.find((p) => PRODUCT_LINES[p][role] === cn);
}

/** The trusted ARK of `product`; a given ARK must be exactly it (UNTRUSTED_ROOT), or names the line it roots (SNP_PRODUCT_MISMATCH). */
function trustedArk(
  product: ProductLine,
  arkPem: string | undefined,
  roots: SnpRoots,
): { ark: Certificate; simulation: boolean } {
  const ark = roots[product] ?? amdArk(product);
  if (arkPem !== undefined) {
    const given = onePem(arkPem, 'ark');
    if (!equal(given, ark.der)) {
      const other = pinnedProduct(given) ?? lineNamed(parseCertificate(given).subjectCn, 'ark');
      if (other !== undefined && other !== product) {
        throw new CloisterError(
          'SNP_PRODUCT_MISMATCH',
          `ark: the given ARK is ${other}'s, the signing key is a ${product} key`,
          { field: 'ark', expected: product, actual: other },
        );
      }
      throw new CloisterError('UNTRUSTED_ROOT', `ark: the given ARK is not the trusted ARK of ${product}`, {
        field: 'ark',
      });
    }
  }
  return { ark, simulation: pinnedProduct(ark.der) !== product };
}

/**
 * Verifies a VCEK or VLEK and its chain, time aside: the leaf's AMD extensions name a product line;
 * the ARK is that line's pinned one (or the one in `roots`); the ASK or ASVK carries the line's name,
 * is a CA certified by the ARK (RSASSA-PSS SHA-384) and certifies the leaf; the leaf is an
 * end-entity with a P-384 key. Check validity at the verification time with `checkValidity`.
 *
 * @example
 * ```ts
 * const e = verifyEndorsement({ kind: 'vcek', leaf: vcekDer, intermediate: askPem, ark: arkPem });
 * checkValidity(e.chain, now, 'snpChain');
 * ```
 */
export function verifyEndorsement(input: EndorsementInput, roots: SnpRoots = {}): Endorsement {
  const { kind } = input;
  const field = kind;
  const leaf = parseCertificate(input.leaf);
  if (leaf.subjectCn !== ENDORSEMENT_KEYS[kind].cn)
    throw invalid(`${field}: "${leaf.subjectCn}" is not a ${ENDORSEMENT_KEYS[kind].cn} certificate`);
  const ext = amdExtensions(leaf, kind);
  const { product } = ext;
  const { ark, simulation } = trustedArk(product, input.ark, roots);

  const role = ENDORSEMENT_KEYS[kind].issuer;
  const issuer = parseCertificate(onePem(input.intermediate, role));
  if (issuer.subjectCn !== PRODUCT_LINES[product][role]) {
    const other = lineNamed(issuer.subjectCn, role);
    if (other !== undefined)
      throw new CloisterError(
        'SNP_PRODUCT_MISMATCH',
        `${role}: "${issuer.subjectCn}" is ${other}'s, the ${kind.toUpperCase()} is a ${product} key`,
        { field: role, expected: product, actual: other },
      );
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${role}: "${issuer.subjectCn}" is not ${PRODUCT_LINES[product][role]}`,
      { field: role },
    );
  }
  // ASK/ASVK → ARK: names, RSASSA-PSS signature, the ARK a CA that may sign certificates, the ASK one too.
  verifyChain([issuer], ark, role, KEY_USAGE.keyCertSign);
  // VCEK/VLEK → ASK/ASVK (VCEK spec §2): the leaf has no key usage extension, so it is checked here.
  if (!equal(leaf.issuer, issuer.subject))
    throw new CloisterError('CERT_CHAIN_INVALID', `${field}: issuer name is not "${issuer.subjectCn}"`, { field });
  if (!issuer.ca)
    throw new CloisterError('CERT_CHAIN_INVALID', `${role}: "${issuer.subjectCn}" is not a CA (basicConstraints)`, {
      field: role,
    });
  if (leaf.ca)
    throw new CloisterError('CERT_CHAIN_INVALID', `${field}: a CA certificate cannot sign reports`, { field });
  if (!signedBy(leaf.tbs, leaf.signature, leaf.hash, issuer.key())) {
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${field}: signature does not verify with the key of "${issuer.subjectCn}"`,
      { field },
    );
  }
  const key = leaf.key();
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw invalid(`${field}: the key is not an ECDSA P-384 key`);
  return { ...ext, kind, chain: [leaf, issuer, ark], key, simulation };
}
