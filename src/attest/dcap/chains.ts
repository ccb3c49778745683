import { CloisterError } from '../../lib/errors.js';
import { verifyPemChain } from '../lib/chain.js';
import { KEY_USAGE, type Certificate } from '../lib/x509.js';

/**
 * The roles of Intel's SGX PKI (SGX PCK Certificate and CRL Profile §1; QVL PckCertVerifier,
 * TCBSigningChain): which certificate may sign what, and how long its path to the root is. A
 * chain that verifies to the root but whose leaf has another role (a PCK key signing TCB info,
 * say) is refused.
 */
export const CHAIN_ROLES = {
  pckChain: { length: 3, leaf: 'SGX PCK Certificate', usage: KEY_USAGE.digitalSignature },
  tcbInfoIssuerChain: { length: 2, leaf: 'SGX TCB Signing', usage: KEY_USAGE.digitalSignature },
  qeIdentityIssuerChain: { length: 2, leaf: 'SGX TCB Signing', usage: KEY_USAGE.digitalSignature },
  pckCrlIssuerChain: { length: 2, leaf: 'SGX PCK', usage: KEY_USAGE.cRLSign },
} as const;

export type ChainRole = keyof typeof CHAIN_ROLES;

/**
 * Verifies a PEM chain of the given role to `root` (time not checked).
 *
 * @example
 * ```ts
 * const [signer] = verifyRoleChain(collateral.tcb_info_issuer_chain, intelSgxRootCa(), 'tcbInfoIssuerChain');
 * ```
 */
export function verifyRoleChain(pem: string, root: Certificate, role: ChainRole): Certificate[] {
  const want = CHAIN_ROLES[role];
  const chain = verifyPemChain(pem, root, role, want.usage);
  const leaf = chain[0] as Certificate;
  if (chain.length !== want.length) {
    throw new CloisterError(
      'CERT_CHAIN_INVALID',
      `${role}: expected ${want.length} certificates up to the root, got ${chain.length}`,
      { field: role, expected: want.length, actual: chain.length },
    );
  }
  if (
    !leaf.subjectCn.includes(want.leaf) ||
    (want.length === 3 && !(chain[1] as Certificate).subjectCn.includes('CA'))
  ) {
    throw new CloisterError('CERT_CHAIN_INVALID', `${role}: "${leaf.subjectCn}" may not act as ${want.leaf}`, {
      field: role,
      expected: want.leaf,
      actual: leaf.subjectCn,
    });
  }
  return chain;
}
