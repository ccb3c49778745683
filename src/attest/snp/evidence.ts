import { CloisterError } from '../../lib/errors.js';
import { hex } from '../../lib/bytes.js';
import { ByteReader } from '../../lib/reader.js';
import { pemCert } from '../../pki/pem.js';
import { SNP_REPORT_SIZE } from './report.js';
import type { SnpCerts } from './verify.js';

/**
 * The certificate table a guest receives with its report (SEV-SNP GHCB spec §4.1.8.1 "SNP
 * Extended Guest Request", the kernel's configfs-tsm `auxblob`): entries of a 16-byte GUID, a
 * 32-bit offset and a 32-bit length (little-endian, offsets from the table's start), ended by an
 * all-zero entry, then the DER certificates. cloister's SNP evidence is the 1184-byte report
 * followed by this table, so that a verifier needs no AMD KDS fetch when the host supplied the chain.
 */

/** The GUIDs of the table's entries (GHCB spec Table 9), in RFC 4122 byte order as go-sev-guest reads them. @example `SNP_CERT_GUIDS.vcek` */
export const SNP_CERT_GUIDS = {
  ark: 'c0b406a4a80349529743' + '3fb6014cd0ae',
  ask: '4ab7b379bbac4fe4a02f' + '05aef327c782',
  vcek: '63da758de6644564adc5' + 'f4b93be8accd',
  vlek: 'a8074bc2a25a483eaae6' + '39c045a0b8a1',
} as const;

/** At most this many entries (a table holds a handful; the kernel caps auxblob at 32 KiB). */
const MAX_ENTRIES = 64;
const ENTRY_SIZE = 24;
const codes = { truncated: 'SNP_CERT_TABLE_INVALID', trailing: 'SNP_CERT_TABLE_INVALID' } as const;

type TableKind = keyof typeof SNP_CERT_GUIDS;
const KIND_OF_GUID: Readonly<Record<string, TableKind>> = Object.fromEntries(
  Object.entries(SNP_CERT_GUIDS).map(([kind, guid]) => [guid, kind as TableKind]),
);

/**
 * The certificates of a table, as {@link SnpCerts} (entries of unknown GUIDs are skipped, as the
 * GHCB spec lets hosts add some). With a VLEK the ASK entry is the ASVK (go-sev-guest does the same).
 * Throws SNP_CERT_TABLE_INVALID on a malformed table.
 *
 * @example `const certs = parseCertTable(auxblob); verifier.verify(report, certs, { now })`
 */
export function parseCertTable(table: Uint8Array): SnpCerts {
  const r = new ByteReader(table, codes);
  const found: Partial<Record<TableKind, Uint8Array>> = {};
  for (let i = 0; ; i++) {
    if (i === MAX_ENTRIES)
      throw new CloisterError('SNP_CERT_TABLE_INVALID', `certTable: more than ${MAX_ENTRIES} entries`);
    const guid = hex(r.bytes(16, `certTable[${i}].guid`));
    const offset = r.u32le(`certTable[${i}].offset`);
    const length = r.u32le(`certTable[${i}].length`);
    if (/^0+$/.test(guid) && offset === 0 && length === 0) break;
    if (offset < (i + 2) * ENTRY_SIZE || length === 0 || offset + length > table.length)
      throw new CloisterError(
        'SNP_CERT_TABLE_INVALID',
        `certTable[${i}]: ${length} bytes at offset ${offset} are outside the ${table.length}-byte table`,
        { field: `certTable[${i}]`, offset },
      );
    const kind = KIND_OF_GUID[guid];
    if (kind === undefined) continue;
    if (found[kind])
      throw new CloisterError('SNP_CERT_TABLE_INVALID', `certTable[${i}]: a second ${kind} entry`, {
        field: `certTable[${i}]`,
      });
    found[kind] = table.subarray(offset, offset + length);
  }
  const vlek = found.vlek !== undefined;
  const pem = (der: Uint8Array | undefined) => (der === undefined ? undefined : pemCert(der));
  return {
    vcek: found.vcek,
    vlek: found.vlek,
    ...(vlek ? { asvk: pem(found.ask) } : { ask: pem(found.ask) }),
    ark: pem(found.ark),
  };
}

/**
 * A certificate table of DER certificates, in the order given (the inverse of {@link parseCertTable}).
 *
 * @example `encodeCertTable({ vcek: vcekDer, ask: askDer, ark: arkDer })`
 */
export function encodeCertTable(certs: Partial<Record<TableKind, Uint8Array>>): Uint8Array {
  const entries = Object.entries(certs).filter((e): e is [TableKind, Uint8Array] => !!e[1]);
  const head = Buffer.alloc((entries.length + 1) * ENTRY_SIZE);
  let offset = head.length;
  entries.forEach(([kind, der], i) => {
    Buffer.from(SNP_CERT_GUIDS[kind], 'hex').copy(head, i * ENTRY_SIZE);
    head.writeUInt32LE(offset, i * ENTRY_SIZE + 16);
    head.writeUInt32LE(der.length, i * ENTRY_SIZE + 20);
    offset += der.length;
  });
  return new Uint8Array(Buffer.concat([head, ...entries.map(([, der]) => der)]));
}

/**
 * cloister's SNP evidence: the report, then optionally the host's certificate table.
 *
 * @example `const { report, certs } = splitSnpEvidence(evidence)`
 */
export function splitSnpEvidence(evidence: Uint8Array): { report: Uint8Array; certs: SnpCerts } {
  if (evidence.length < SNP_REPORT_SIZE)
    throw new CloisterError('SNP_REPORT_TRUNCATED', `the evidence is ${evidence.length} bytes, shorter than a report`);
  const table = evidence.subarray(SNP_REPORT_SIZE);
  return { report: evidence.subarray(0, SNP_REPORT_SIZE), certs: table.length === 0 ? {} : parseCertTable(table) };
}
