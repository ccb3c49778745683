import { constants, createHash, verify as verifySignature, type KeyObject } from 'node:crypto';
import { CloisterError } from '../../lib/errors.js';
import { equal } from '../../lib/bytes.js';
import { ByteReader } from '../../lib/reader.js';

/**
 * TPM 2.0 quotes (TCG TPM 2.0 Library, Part 2 "Structures"): the TPMS_ATTEST a vTPM signs for
 * TPM2_Quote, and its TPMT_SIGNATURE. TPM structures are big-endian.
 */

/** TPM_GENERATED_VALUE (Part 2 §6.2): every TPMS_ATTEST made by a TPM starts with it. @example `TPM_GENERATED_VALUE` → `0xff544347` */
export const TPM_GENERATED_VALUE = 0xff544347;
/** TPM_ST_ATTEST_QUOTE (Part 2 §6.9): the structure tag of a quote. @example `TPM_ST_ATTEST_QUOTE` → `0x8018` */
export const TPM_ST_ATTEST_QUOTE = 0x8018;

/** TPM_ALG_ID of the hash algorithms cloister reads (Part 2 §6.3), with their digest sizes. @example `TPM_HASH_ALGORITHMS[0x000b].name` → `'sha256'` */
export const TPM_HASH_ALGORITHMS: Readonly<Record<number, { name: 'sha256' | 'sha384' | 'sha512'; size: number }>> = {
  0x000b: { name: 'sha256', size: 32 },
  0x000c: { name: 'sha384', size: 48 },
  0x000d: { name: 'sha512', size: 64 },
};

/** TPM_ALG_ID of the signature schemes accepted (Part 2 §6.3): TPM_ALG_RSASSA (PKCS #1 v1.5), what Azure's vTPM attestation key signs with. @example `TPM_SIGNATURE_SCHEMES[0x0014]` */
export const TPM_SIGNATURE_SCHEMES: Readonly<Record<number, { name: 'rsassa'; padding: number }>> = {
  0x0014: { name: 'rsassa', padding: constants.RSA_PKCS1_PADDING },
};
const RSASSA = 0x0014;
const SHA256 = 0x000b;

/** Size caps (Part 2: sizeof(TPMU_NAME), sizeof(TPMU_HA), HASH_COUNT, PCR_SELECT_MAX with room, MAX_RSA_KEY_BYTES). */
const MAX_NAME = 2 + 64;
const MAX_DIGEST = 64;
const MAX_BANKS = 16;
const MAX_SELECT = 8;
const MAX_RSA_BYTES = 512;

/**
 * A parsed TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE (Part 2 §10.12.12, with TPMS_QUOTE_INFO §10.12.1).
 *
 * @example `parseTpmQuote(message).pcrSelection` → `[{ hash: 0x000b, pcrs: [0, 1, …, 23] }]`
 */
export interface TpmQuote {
  qualifiedSigner: Uint8Array;
  /** The caller's nonce (qualifyingData of TPM2_Quote). */
  extraData: Uint8Array;
  /** TPMS_CLOCK_INFO (§10.11.1); the 64-bit values in hex. */
  clock: { clock: string; resetCount: number; restartCount: number; safe: boolean };
  firmwareVersion: string;
  /** TPML_PCR_SELECTION: per bank, the PCR indices selected, ascending. */
  pcrSelection: { hash: number; pcrs: number[] }[];
  pcrDigest: Uint8Array;
  /** The whole structure: what the signature covers. */
  signed: Uint8Array;
}

const CODES = { truncated: 'TPM_QUOTE_TRUNCATED', trailing: 'TPM_QUOTE_TRAILING_BYTES' } as const;

function invalid(field: string, why: string): CloisterError {
  return new CloisterError('TPM_QUOTE_INVALID', `${field}: ${why}`, { field });
}

/** Big-endian reads over the one reader. */
function u16be(r: ByteReader, field: string): number {
  const b = r.bytes(2, field);
  return ((b[0] as number) << 8) | (b[1] as number);
}

function u32be(r: ByteReader, field: string): number {
  const b = r.bytes(4, field);
  return (b[0] as number) * 0x1000000 + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number));
}

function u64hex(r: ByteReader, field: string): string {
  return Buffer.from(r.bytes(8, field)).toString('hex');
}

/** A TPM2B: a u16 size, at most `max`, then that many bytes. */
function tpm2b(r: ByteReader, max: number, field: string): Uint8Array {
  const size = u16be(r, `${field}.size`);
  if (size > max) throw invalid(field, `size ${size} exceeds ${max}`);
  return r.bytes(size, field);
}

/**
 * Parses a TPMS_ATTEST that must be a TPM-generated quote (magic TPM_GENERATED_VALUE, type
 * TPM_ST_ATTEST_QUOTE). Throws `TPM_QUOTE_TRUNCATED`, `TPM_QUOTE_TRAILING_BYTES` or `TPM_QUOTE_INVALID`.
 *
 * @example
 * ```ts
 * const quote = parseTpmQuote(message);
 * console.log(Buffer.from(quote.extraData).toString('hex'));
 * ```
 */
export function parseTpmQuote(bytes: Uint8Array): TpmQuote {
  const r = new ByteReader(bytes, CODES);
  if (u32be(r, 'quote.magic') !== TPM_GENERATED_VALUE)
    throw invalid('quote.magic', 'not TPM_GENERATED_VALUE: the structure was not made by a TPM');
  if (u16be(r, 'quote.type') !== TPM_ST_ATTEST_QUOTE) throw invalid('quote.type', 'not TPM_ST_ATTEST_QUOTE');
  const qualifiedSigner = tpm2b(r, MAX_NAME, 'quote.qualifiedSigner');
  const extraData = tpm2b(r, MAX_DIGEST, 'quote.extraData');
  const clock = u64hex(r, 'quote.clockInfo.clock');
  const resetCount = u32be(r, 'quote.clockInfo.resetCount');
  const restartCount = u32be(r, 'quote.clockInfo.restartCount');
  const safe = r.u8('quote.clockInfo.safe');
  if (safe > 1) throw invalid('quote.clockInfo.safe', 'not a TPMI_YES_NO');
  const firmwareVersion = u64hex(r, 'quote.firmwareVersion');
  const count = u32be(r, 'quote.pcrSelect.count');
  if (count > MAX_BANKS) throw invalid('quote.pcrSelect.count', `${count} banks exceed ${MAX_BANKS}`);
  const pcrSelection: TpmQuote['pcrSelection'] = [];
  for (let i = 0; i < count; i++) {
    const hash = u16be(r, `quote.pcrSelect[${i}].hash`);
    const size = r.u8(`quote.pcrSelect[${i}].sizeofSelect`);
    if (size > MAX_SELECT) throw invalid(`quote.pcrSelect[${i}].sizeofSelect`, `${size} exceeds ${MAX_SELECT}`);
    const bits = r.bytes(size, `quote.pcrSelect[${i}].pcrSelect`);
    const pcrs: number[] = [];
    // Part 2 §10.6.2: PCR n is bit (n mod 8) of octet n / 8.
    for (let n = 0; n < size * 8; n++) if ((((bits[n >> 3] as number) >> (n & 7)) & 1) === 1) pcrs.push(n);
    pcrSelection.push({ hash, pcrs });
  }
  const pcrDigest = tpm2b(r, MAX_DIGEST, 'quote.pcrDigest');
  r.end('quote');
  return {
    qualifiedSigner,
    extraData,
    clock: { clock, resetCount, restartCount, safe: safe === 1 },
    firmwareVersion,
    pcrSelection,
    pcrDigest,
    signed: bytes,
  };
}

/**
 * A quote signature: a TPMT_SIGNATURE (Part 2 §11.3.4: sigAlg, then TPMS_SIGNATURE_RSA: hash and a
 * TPM2B_PUBLIC_KEY_RSA), or, as Azure evidence carries it, only the RSASSA signature bytes (one
 * modulus long), which are SHA-256 ones.
 *
 * @example `parseTpmSignature(sig, 256)` → `{ scheme: 0x0014, hash: 0x000b, signature }`
 */
export function parseTpmSignature(
  bytes: Uint8Array,
  modulusBytes: number,
): { scheme: number; hash: number; signature: Uint8Array } {
  if (bytes.length === modulusBytes) return { scheme: RSASSA, hash: SHA256, signature: bytes };
  const r = new ByteReader(bytes, CODES);
  const scheme = u16be(r, 'signature.sigAlg');
  if (!TPM_SIGNATURE_SCHEMES[scheme])
    throw invalid('signature.sigAlg', `0x${scheme.toString(16)} is not TPM_ALG_RSASSA`);
  const hash = u16be(r, 'signature.hash');
  if (!TPM_HASH_ALGORITHMS[hash])
    throw invalid('signature.hash', `0x${hash.toString(16)} is not SHA-256, SHA-384 or SHA-512`);
  const signature = tpm2b(r, MAX_RSA_BYTES, 'signature.sig');
  r.end('signature');
  return { scheme, hash, signature };
}

/**
 * Verifies a quote: the signature by `key` (an RSA attestation key), the nonce when one is
 * expected, and the PCR digest over the given PCR values (one bank: `pcrs[i]` is PCR i) — Part 3
 * TPM2_Quote computes it with the signing scheme's hash over the selected PCRs in order. Returns
 * the selected PCRs. Throws `TPM_QUOTE_SIGNATURE_INVALID`, `TPM_NONCE_MISMATCH`,
 * `TPM_PCR_DIGEST_MISMATCH` or `TPM_QUOTE_INVALID`.
 *
 * @example
 * ```ts
 * const selected = verifyTpmQuote(parseTpmQuote(message), signature, pcrs, akPub, nonce);
 * ```
 */
export function verifyTpmQuote(
  quote: TpmQuote,
  signatureBytes: Uint8Array,
  pcrs: readonly Uint8Array[],
  key: KeyObject,
  nonce?: Uint8Array,
): Map<number, Uint8Array> {
  const modulusBytes = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  const { scheme, hash, signature } = parseTpmSignature(signatureBytes, modulusBytes);
  const digest = TPM_HASH_ALGORITHMS[hash] as { name: string };
  const padding = (TPM_SIGNATURE_SCHEMES[scheme] as { padding: number }).padding;
  let ok: boolean;
  try {
    ok = verifySignature(digest.name, quote.signed, { key, padding }, signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new CloisterError(
      'TPM_QUOTE_SIGNATURE_INVALID',
      'the TPM quote signature does not verify with the attestation key',
      { field: 'quote.signature' },
    );
  if (nonce !== undefined && !equal(quote.extraData, nonce)) {
    throw new CloisterError('TPM_NONCE_MISMATCH', "the quote's extraData is not the expected nonce", {
      field: 'quote.extraData',
      expected: Buffer.from(nonce).toString('hex'),
      actual: Buffer.from(quote.extraData).toString('hex'),
    });
  }
  // The evidence carries the values of one PCR bank.
  if (quote.pcrSelection.length > 1)
    throw invalid('quote.pcrSelect', `${quote.pcrSelection.length} PCR banks selected, the evidence carries one`);
  const selected = new Map<number, Uint8Array>();
  const h = createHash(digest.name);
  for (const bank of quote.pcrSelection) {
    const size = TPM_HASH_ALGORITHMS[bank.hash]?.size;
    for (const n of bank.pcrs) {
      const value = pcrs[n];
      if (size === undefined || value?.length !== size)
        throw invalid(
          'quote.pcrSelect[0]',
          `PCR ${n} of bank 0x${bank.hash.toString(16)} is not among the PCR values given`,
        );
      h.update(value);
      selected.set(n, value);
    }
  }
  if (!equal(h.digest(), quote.pcrDigest))
    throw new CloisterError('TPM_PCR_DIGEST_MISMATCH', "the PCR values do not hash to the quote's pcrDigest", {
      field: 'quote.pcrDigest',
    });
  return selected;
}
