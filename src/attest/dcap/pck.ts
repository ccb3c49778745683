import { CloisterError } from '../../lib/errors.js';
import { Der, TAG, inner, oidText, smallUint, type Tlv } from '../../lib/der.js';
import { OID, type Certificate } from '../lib/x509.js';

/**
 * The SGX extensions of a PCK certificate (Intel SGX PCK Certificate and CRL Profile §1.3.5,
 * OID arc 1.2.840.113741.1.13.1).
 */
export interface PckExtensions {
  ppid: Uint8Array;
  /** SGX TCB component SVNs 1..16. */
  tcbComponents: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  /** 0 Standard, 1 Scalable, 2 Scalable with integrity. */
  sgxType: number;
}

const ARC = OID.sgxExtensions;

function fail(why: string, offset?: number): CloisterError {
  return new CloisterError(
    'PCK_EXTENSION_INVALID',
    `PCK certificate SGX extension: ${why}`,
    offset === undefined ? { field: 'sgxExtensions' } : { field: 'sgxExtensions', offset },
  );
}

function octets(value: Tlv, name: string, length: number): Uint8Array {
  if (value.tag !== TAG.OCTET_STRING || value.value.length !== length)
    throw fail(`${name} must be an OCTET STRING of ${length} bytes`, value.offset);
  return value.value;
}

/**
 * Reads the SGX extensions from a PCK certificate.
 *
 * @example
 * ```ts
 * const { fmspc, tcbComponents, pceSvn } = pckExtensions(parseCertificate(pckDer));
 * ```
 */
export function pckExtensions(cert: Certificate): PckExtensions {
  const ext = cert.extensions.get(ARC);
  if (!ext) throw fail('missing');
  try {
    const items = new Map<string, Tlv>();
    const seq = Der.of(ext.value, ext.offset).enter(TAG.SEQUENCE, 'sgxExtensions');
    while (!seq.done) {
      const item = seq.enter(TAG.SEQUENCE, 'sgxExtensions.item');
      const oid = oidText(item.expect(TAG.OID, 'sgxExtensions.item.id').value);
      const value = item.next(`sgxExtensions.${oid}`);
      item.end(`sgxExtensions.${oid}`);
      if (items.has(oid)) throw fail(`duplicate ${oid}`, value.offset);
      items.set(oid, value);
    }
    const need = (sub: string, name: string) => {
      const v = items.get(`${ARC}.${sub}`);
      if (!v) throw fail(`${name} (${ARC}.${sub}) is missing`);
      return v;
    };
    const tcb = need('2', 'TCB');
    if (tcb.tag !== TAG.SEQUENCE) throw fail('TCB must be a SEQUENCE', tcb.offset);
    const tcbItems = new Map<string, Tlv>();
    const d = inner(tcb);
    while (!d.done) {
      const item = d.enter(TAG.SEQUENCE, 'tcb.item');
      const oid = oidText(item.expect(TAG.OID, 'tcb.item.id').value);
      const value = item.next(`tcb.${oid}`);
      item.end(`tcb.${oid}`);
      tcbItems.set(oid, value);
    }
    const svn = (n: number, name: string) => {
      const v = tcbItems.get(`${ARC}.2.${n}`);
      if (!v || v.tag !== TAG.INTEGER) throw fail(`${name} (${ARC}.2.${n}) is missing or not an INTEGER`);
      const value = smallUint(v, name);
      if (value > (n === 17 ? 0xffff : 0xff)) throw fail(`${name} out of range`, v.offset);
      return value;
    };
    const tcbComponents = Array.from({ length: 16 }, (_, i) => svn(i + 1, `SGX TCB component ${i + 1}`));
    const cpu = tcbItems.get(`${ARC}.2.18`);
    if (!cpu) throw fail('CPUSVN is missing');
    const sgxType = need('5', 'SGX Type');
    if (sgxType.tag !== TAG.ENUMERATED) throw fail('SGX Type must be ENUMERATED', sgxType.offset);
    return {
      ppid: octets(need('1', 'PPID'), 'PPID', 16),
      tcbComponents,
      pceSvn: svn(17, 'PCESVN'),
      cpuSvn: octets(cpu, 'CPUSVN', 16),
      pceId: octets(need('3', 'PCE-ID'), 'PCE-ID', 2),
      fmspc: octets(need('4', 'FMSPC'), 'FMSPC', 6),
      sgxType: smallUint(sgxType, 'SGX Type'),
    };
  } catch (cause) {
    if (cause instanceof CloisterError && cause.code === 'PCK_EXTENSION_INVALID') throw cause;
    throw new CloisterError(
      'PCK_EXTENSION_INVALID',
      `PCK certificate SGX extension is malformed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { field: 'sgxExtensions', cause },
    );
  }
}
