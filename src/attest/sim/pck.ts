import type { PckExtensions } from '../dcap/pck.js';
import { OID } from '../lib/x509.js';
import { der } from '../../lib/der-writer.js';

const ARC = OID.sgxExtensions;

/** One `SEQUENCE { OID, value }` item of the SGX extension. */
const item = (sub: string, value: Uint8Array): Uint8Array => der.sequence(der.oid(`${ARC}.${sub}`), value);

/**
 * The DER value of the SGX extension of a PCK certificate (Intel SGX PCK Certificate and CRL
 * Profile §1.3.5): PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX Type.
 * The inverse of `pckExtensions` in `attest/dcap/pck.ts`.
 *
 * @example
 * ```ts
 * const value = sgxExtensionValue({ ppid, tcbComponents, pceSvn, cpuSvn, pceId, fmspc, sgxType: 0 });
 * new Extension(OID.sgxExtensions, false, value);
 * ```
 */
export function sgxExtensionValue(e: PckExtensions): Uint8Array {
  const tcb = der.sequence(
    ...e.tcbComponents.map((svn, i) => item(`2.${i + 1}`, der.integer(svn))),
    item('2.17', der.integer(e.pceSvn)),
    item('2.18', der.octets(e.cpuSvn)),
  );
  return der.sequence(
    item('1', der.octets(e.ppid)),
    item('2', tcb),
    item('3', der.octets(e.pceId)),
    item('4', der.octets(e.fmspc)),
    item('5', der.enumerated(e.sgxType)),
  );
}
