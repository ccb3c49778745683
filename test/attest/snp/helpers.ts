import { existsSync, readFileSync, readdirSync } from 'node:fs';

import { parseCertificate } from '../../../src/attest/lib/x509.js';
import type { SnpCerts } from '../../../src/attest/snp/verify.js';
import { DAY, VECTORS } from '../dcap/helpers.js';

/** Shared helpers of the SNP and Azure tests: vector loaders; the error assertions are the DCAP tests'. */

export { DAY, VECTORS, flip, onlyCloisterErrors, throwsCode } from '../dcap/helpers.js';

export const GENOA = 'snp/trustee-azure-genoa-vcek';
export const MILAN = 'snp/trustee-milan-vcek';
export const GOSEV = 'snp/gosev-milan-vcek';
export const VLEK = 'snp/trustee-milan-vlek-aws';
export const VIRTEE = 'snp/virtee-milan-vcek';
export const CHAINS = 'snp/cert-chains-only';

export function bytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, VECTORS)));
}

export function text(path: string): string {
  return readFileSync(new URL(path, VECTORS), 'utf8');
}

export function has(path: string): boolean {
  return existsSync(new URL(path, VECTORS));
}

/** The certificates of a vector folder, as `SnpCerts`. */
export function certsOf(name: string): SnpCerts {
  const opt = <T>(file: string, read: (p: string) => T): T | undefined =>
    has(`${name}/${file}`) ? read(`${name}/${file}`) : undefined;
  return {
    vcek: opt('vcek.der', bytes),
    vlek: opt('vlek.der', bytes),
    ask: opt('ask.pem', text),
    asvk: opt('asvk.pem', text),
    ark: opt('ark.pem', text),
  };
}

export function reportOf(name: string): Uint8Array {
  return bytes(`${name}/report.bin`);
}

/** A fresh copy of a vector's report, to patch. */
export function reportCopy(name: string): Uint8Array {
  return Uint8Array.from(reportOf(name));
}

export interface SnpExpected {
  verify_at_unix: number;
  report: Record<string, unknown>;
  signer_cert: { not_before: string; not_after: string };
  expected: { verifies: boolean };
}

export function expectedOf(name: string): SnpExpected {
  return JSON.parse(text(`${name}/expected.json`)) as SnpExpected;
}

/** Vector folders of a kind, sorted; `withExpected` picks those with (true) or without (false) an expected.json. */
export function vectorNames(kind: 'snp' | 'azure-vtpm', withExpected: boolean): string[] {
  return readdirSync(new URL(`${kind}/`, VECTORS))
    .sort()
    .map((n) => `${kind}/${n}`)
    .filter(
      (n) =>
        has(`${n}/expected.json`) === withExpected &&
        (has(`${n}/report.bin`) || has(`${n}/evidence.json`) || has(`${n}/hcl-report.bin`)),
    );
}

/** A time inside the validity of a DER certificate (a day after notBefore). */
export function insideValidity(der: Uint8Array): number {
  return parseCertificate(der).notBefore + DAY;
}

/** The claims a vector's expected.json `report` implies, in cloister's names. */
export function expectedClaims(r: Record<string, unknown>): Record<string, unknown> {
  const tcb = (t: unknown) => {
    const { raw, ...components } = t as Record<string, unknown> & { raw: string };
    return { raw: raw.replace(/^0x/, ''), ...components };
  };
  const policy = r['policy_decoded'] as Record<string, boolean>;
  return {
    measurement: r['measurement'],
    hostData: r['host_data'],
    reportData: r['report_data'],
    chipId: r['chip_id'],
    policy: Number(r['policy']),
    debug: policy['debug_allowed'],
    migrateMa: policy['migrate_ma_allowed'],
    smt: policy['smt_allowed'],
    vmpl: r['vmpl'],
    reportedTcb: tcb(r['reported_tcb']),
    committedTcb: tcb(r['committed_tcb']),
    currentTcb: tcb(r['current_tcb']),
    launchTcb: tcb(r['launch_tcb']),
    familyId: r['family_id'],
    imageId: r['image_id'],
    idKeyDigest: r['id_key_digest'],
    authorKeyDigest: r['author_key_digest'],
    guestSvn: r['guest_svn'],
    platformInfo: Number(r['platform_info']),
  };
}
