import { hex } from '../../lib/bytes.js';
import type { ClaimValue, Claims } from '../verdict.js';
import type { Tcb } from './product.js';
import type { SnpReport } from './report.js';

/**
 * The claims of a verified SNP report: one table from claim name to the report field it comes
 * from (SEV-SNP ABI spec Table 23). Byte strings are lowercase hex; TCB versions are objects
 * with the 64-bit value in hex (`raw`) and their components.
 *
 * @example `Object.keys(SNP_CLAIMS)` → `['measurement', 'hostData', …]`
 */
export const SNP_CLAIMS = {
  measurement: (r) => hex(r.measurement),
  hostData: (r) => hex(r.hostData),
  reportData: (r) => hex(r.reportData),
  chipId: (r) => hex(r.chipId),
  policy: (r) => r.policy.raw,
  // Guest policy bits 19 (DEBUG), 18 (MIGRATE_MA), 16 (SMT), ABI spec Table 9.
  debug: (r) => r.policy.debug,
  migrateMa: (r) => r.policy.migrateMa,
  smt: (r) => r.policy.smt,
  vmpl: (r) => r.vmpl,
  reportedTcb: (r) => tcbClaim(r.reportedTcb),
  committedTcb: (r) => tcbClaim(r.committedTcb),
  currentTcb: (r) => tcbClaim(r.currentTcb),
  launchTcb: (r) => tcbClaim(r.launchTcb),
  familyId: (r) => hex(r.familyId),
  imageId: (r) => hex(r.imageId),
  idKeyDigest: (r) => hex(r.idKeyDigest),
  authorKeyDigest: (r) => hex(r.authorKeyDigest),
  guestSvn: (r) => r.guestSvn,
  platformInfo: (r) => r.platformInfo,
} as const satisfies Record<string, (r: SnpReport) => ClaimValue>;

function tcbClaim(tcb: Tcb): ClaimValue {
  const claim: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(tcb)) if (value !== undefined) claim[name] = value;
  return claim;
}

/**
 * The claims of a report, per {@link SNP_CLAIMS}.
 *
 * @example `snpClaims(parseSnpReport(bytes)).measurement` → `'b07af962…'`
 */
export function snpClaims(report: SnpReport): Claims {
  const claims: Claims = {};
  for (const [name, read] of Object.entries(SNP_CLAIMS)) claims[name] = read(report);
  return claims;
}
