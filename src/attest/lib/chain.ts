import { CloisterError } from '../../lib/errors.js';
import { equal } from '../../lib/bytes.js';
import { KEY_USAGE, parseCertificate, pemCertificates, signedBy, type Certificate, type Crl } from './x509.js';

/** Certificate paths (RFC 5280 §6, the subset Intel's and AMD's PKIs use), split into a time-free part that may be cached and a per-call time check. */

const MAX_CHAIN = 5;

/**
 * Parses a PEM chain (leaf first) and verifies names, signatures, basic constraints, key usage
 * and path length up to `root`, which it must end with or be issued by. Time is not checked here:
 * call {@link checkValidity} with the verification time.
 *
 * @example
 * ```ts
 * const chain = verifyChain(pemCertificates(text).map(parseCertificate), intelRoot, 'pckChain');
 * checkValidity(chain, now, 'pckChain');
 * ```
 */
export function verifyChain(
  certs: Certificate[],
  root: Certificate,
  field: string,
  leafUsage: number = KEY_USAGE.digitalSignature,
): Certificate[] {
  if (certs.length === 0 || certs.length > MAX_CHAIN) {
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${field}: expected 1 to ${MAX_CHAIN} certificates, got ${certs.length}`,
      { field },
    );
  }
  const chain = [...certs];
  const last = chain[chain.length - 1] as Certificate;
  if (equal(last.der, root.der)) {
    chain[chain.length - 1] = root;
  } else if (equal(last.subject, last.issuer) || !equal(last.issuer, root.subject)) {
    throw new CloisterError(
      'UNTRUSTED_ROOT',
      `${field}: chain ends at "${last.subjectCn}", not at the trusted root "${root.subjectCn}"`,
      { field },
    );
  } else {
    chain.push(root);
  }
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i] as Certificate;
    const issuer = chain[i + 1] as Certificate;
    const where = `${field}[${i}] "${cert.subjectCn}"`;
    if (!equal(cert.issuer, issuer.subject))
      throw new CloisterError('CERT_CHAIN_INVALID', `${where}: issuer name does not match "${issuer.subjectCn}"`, {
        field,
      });
    requireIssuer(issuer, `${field}[${i + 1}]`, i, KEY_USAGE.keyCertSign);
    if (!signedBy(cert.tbs, cert.signature, cert.hash, issuer.key())) {
      throw new CloisterError(
        'CERT_CHAIN_INVALID',
        `${where}: signature does not verify with the key of "${issuer.subjectCn}"`,
        { field },
      );
    }
  }
  const leaf = chain[0] as Certificate;
  if (!leaf.keyUsage?.has(leafUsage)) {
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${field}[0] "${leaf.subjectCn}": key usage lacks ${leafUsage === KEY_USAGE.cRLSign ? 'cRLSign' : 'digitalSignature'}`,
      { field },
    );
  }
  return chain;
}

/** RFC 5280 §4.2.1.9 and §4.2.1.3: an issuer must be a CA with the needed key usage and path length. */
function requireIssuer(issuer: Certificate, where: string, below: number, usage: number): void {
  if (!issuer.ca)
    throw new CloisterError('CERT_CHAIN_INVALID', `${where} "${issuer.subjectCn}": not a CA (basicConstraints)`, {
      field: where,
    });
  if (!issuer.keyUsage?.has(usage))
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${where} "${issuer.subjectCn}": key usage does not allow signing ${usage === KEY_USAGE.cRLSign ? 'CRLs' : 'certificates'}`,
      { field: where },
    );
  if (issuer.pathLen !== undefined && below > issuer.pathLen) {
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${where} "${issuer.subjectCn}": path length ${below} exceeds ${issuer.pathLen}`,
      { field: where },
    );
  }
}

/** Every certificate of the chain valid at `now` (Unix seconds). */
export function checkValidity(chain: readonly Certificate[], now: number, field: string): void {
  for (const [i, cert] of chain.entries()) {
    if (now < cert.notBefore)
      throw new CloisterError(
        'CERT_NOT_YET_VALID',
        `${field}[${i}] "${cert.subjectCn}" is not valid before ${iso(cert.notBefore)}`,
        { field },
      );
    if (now > cert.notAfter)
      throw new CloisterError('CERT_EXPIRED', `${field}[${i}] "${cert.subjectCn}" expired at ${iso(cert.notAfter)}`, {
        field,
      });
  }
}

/** Earliest notAfter of a chain. */
export function chainExpiry(chain: readonly Certificate[]): number {
  return Math.min(...chain.map((c) => c.notAfter));
}

/** Latest notBefore of a chain. */
export function chainStart(chain: readonly Certificate[]): number {
  return Math.max(...chain.map((c) => c.notBefore));
}

/** A PEM chain parsed and verified to `root` (time not checked). */
export function verifyPemChain(
  pem: string,
  root: Certificate,
  field: string,
  leafUsage: number = KEY_USAGE.digitalSignature,
): Certificate[] {
  return verifyChain(pemCertificates(pem, field).map(parseCertificate), root, field, leafUsage);
}

/**
 * Verifies that `crl` is issued and signed by `issuer` (RFC 5280 §6.3.3 (f), (g)); times are checked by {@link checkCrlTime}.
 */
export function verifyCrlIssuer(crl: Crl, issuer: Certificate, field: string): void {
  if (!equal(crl.issuer, issuer.subject))
    throw new CloisterError('CRL_INVALID', `${field}: issued by another CA than "${issuer.subjectCn}"`, { field });
  if (!issuer.ca || !issuer.keyUsage?.has(KEY_USAGE.cRLSign))
    throw new CloisterError('CRL_INVALID', `${field}: "${issuer.subjectCn}" may not sign CRLs`, { field });
  if (!signedBy(crl.tbs, crl.signature, crl.hash, issuer.key()))
    throw new CloisterError(
      'CRL_INVALID',
      `${field}: signature does not verify with the key of "${issuer.subjectCn}"`,
      { field },
    );
}

/** The CRL is current at `now`: thisUpdate ≤ now ≤ nextUpdate. */
export function checkCrlTime(crl: Crl, now: number, field: string): void {
  if (now < crl.thisUpdate)
    throw new CloisterError('CRL_EXPIRED', `${field}: not valid before its thisUpdate ${iso(crl.thisUpdate)}`, {
      field,
    });
  if (now > crl.nextUpdate)
    throw new CloisterError('CRL_EXPIRED', `${field}: past its nextUpdate ${iso(crl.nextUpdate)}`, { field });
}

export function iso(seconds: number): string {
  return Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString().replace('.000Z', 'Z') : String(seconds);
}
