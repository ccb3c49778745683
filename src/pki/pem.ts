import type { CaBundle } from './ca.js';

/** RFC 7468 §2: base64 in lines of 64 characters between BEGIN and END lines naming the label. */
function pem(label: string, der: Uint8Array): string {
  const lines =
    Buffer.from(der.buffer, der.byteOffset, der.byteLength)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A DER certificate as PEM (RFC 7468 §5). @example `writeFileSync('root.pem', pemCert(ca.rootCert))` */
export function pemCert(der: Uint8Array): string {
  return pem('CERTIFICATE', der);
}

/** A PKCS#8 DER private key as PEM (RFC 7468 §10). @example `tls.createServer({ key: pemPrivateKey(secret.private!), cert })` */
export function pemPrivateKey(pkcs8: Uint8Array): string {
  return pem('PRIVATE KEY', pkcs8);
}

/** An SPKI DER public key as PEM (RFC 7468 §13). @example `createPublicKey(pemPublicKey(secret.public!))` */
export function pemPublicKey(spki: Uint8Array): string {
  return pem('PUBLIC KEY', spki);
}

/**
 * The chain a TLS endpoint presents: leaf, intermediate, root, as concatenated PEM.
 *
 * @example
 * ```ts
 * tls.createServer({ key: pemPrivateKey(key), cert: certChain(ca, leaf), ca: pemCert(ca.rootCert) });
 * ```
 */
export function certChain(ca: CaBundle, leaf: Uint8Array): string {
  return pemCert(leaf) + pemCert(ca.intermediateCert) + pemCert(ca.rootCert);
}

/**
 * The chain of the coordinator's own serving identity, whose leaf the root signs directly: leaf, root.
 *
 * @example
 * ```ts
 * https.createServer({ key, cert: servingChain(ca, leaf) });
 * ```
 */
export function servingChain(ca: CaBundle, leaf: Uint8Array): string {
  return pemCert(leaf) + pemCert(ca.rootCert);
}
