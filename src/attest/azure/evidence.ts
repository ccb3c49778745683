import { CloisterError } from '../../lib/errors.js';
import { JsonReader } from '../../lib/json.js';
import { pemCertificates } from '../lib/x509.js';

/**
 * The evidence of an Azure confidential VM, in the forms it is found in: trustee's `az-snp-vtpm`
 * evidence JSON (version 1: byte arrays and a PEM VCEK; version 2: hex quote, base64url HCL report
 * and VCEK), or the files themselves (`hcl-report.bin`, `vcek.der`, a quote) as bytes.
 */

/**
 * Azure vTPM evidence, normalised: the HCL report, the VCEK when the evidence carries one, and the
 * TPM quote (TPMS_ATTEST message, signature, the PCR values of one bank, `pcrs[i]` being PCR i).
 *
 * @example `{ hclReport: readFileSync('hcl-report.bin'), vcek: readFileSync('vcek.der') }`
 */
export interface AzureVtpmEvidence {
  hclReport: Uint8Array;
  vcek?: Uint8Array | undefined;
  tpmQuote?: { message: Uint8Array; signature: Uint8Array; pcrs: readonly Uint8Array[] } | undefined;
}

/** Size caps, applied before anything is decoded: the NV index, a TPMS_ATTEST, an RSA signature or TPMT_SIGNATURE, the PCRs of a bank. */
const MAX = {
  hclReport: 16 * 1024,
  vcek: 16 * 1024,
  message: 1024,
  signature: 1024,
  pcrs: 32,
  pcr: 64,
  text: 1024 * 1024,
} as const;

const j = new JsonReader('AZURE_EVIDENCE_MALFORMED', 'evidence');

function tooLong(path: string, max: number): CloisterError {
  return j.fail(path, `longer than ${max}`);
}

/** One decoder per encoding the evidence forms use. */
const DECODE = {
  /** A JSON array of integers 0-255. */
  array(value: unknown, path: string, max: number): Uint8Array {
    if (!Array.isArray(value)) throw j.fail(path, 'must be an array of bytes');
    if (value.length > max) throw tooLong(path, max);
    return Uint8Array.from(value as unknown[], (b, i) => {
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255)
        throw j.fail(`${path}[${i}]`, 'must be an integer from 0 to 255');
      return b;
    });
  },
  hex(value: unknown, path: string, max: number): Uint8Array {
    if (typeof value !== 'string' || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value))
      throw j.fail(path, 'must be hex');
    if (value.length > 2 * max) throw tooLong(path, max);
    return new Uint8Array(Buffer.from(value, 'hex'));
  },
  /** base64url (RFC 4648 §5), padded or not. */
  base64url(value: unknown, path: string, max: number): Uint8Array {
    if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(value) || value.replace(/=+$/, '').length % 4 === 1)
      throw j.fail(path, 'must be base64url');
    if (value.length > Math.ceil(max / 3) * 4) throw tooLong(path, max);
    return new Uint8Array(Buffer.from(value, 'base64url'));
  },
  bytes(value: unknown, path: string, max: number): Uint8Array {
    if (!(value instanceof Uint8Array)) throw j.fail(path, 'must be bytes');
    if (value.length > max) throw tooLong(path, max);
    return value;
  },
} as const;

type Encoding = keyof typeof DECODE;

/** The PCR values: an array of at most `MAX.pcrs` byte strings in `encoding`. */
function pcrValues(value: unknown, path: string, encoding: Encoding): Uint8Array[] {
  if (!Array.isArray(value)) throw j.fail(path, 'must be an array');
  if (value.length > MAX.pcrs) throw tooLong(path, MAX.pcrs);
  return (value as unknown[]).map((v, i) => DECODE[encoding](v, `${path}[${i}]`, MAX.pcr));
}

/** Where each form keeps each part, and how it is encoded. */
const FORMS = {
  // trustee az-snp-vtpm evidence, version 1 (deps/verifier/test_data/az-snp-vtpm/evidence-genoa.json).
  trusteeV1: {
    quote: 'quote',
    message: 'message',
    signature: 'signature',
    pcrs: 'pcrs',
    quoteEncoding: 'array',
    hcl: 'report',
    hclEncoding: 'array',
    vcek: 'vcek',
    vcekEncoding: 'pem',
  },
  // trustee az-snp-vtpm evidence, version 2 (evidence-v2.json).
  trusteeV2: {
    quote: 'tpm_quote',
    message: 'message',
    signature: 'signature',
    pcrs: 'pcrs',
    quoteEncoding: 'hex',
    hcl: 'hcl_report',
    hclEncoding: 'base64url',
    vcek: 'vcek',
    vcekEncoding: 'base64url',
  },
  // The files: `hcl-report.bin`, `vcek.der` and a quote, as bytes.
  files: {
    quote: 'tpmQuote',
    message: 'message',
    signature: 'signature',
    pcrs: 'pcrs',
    quoteEncoding: 'bytes',
    hcl: 'hclReport',
    hclEncoding: 'bytes',
    vcek: 'vcek',
    vcekEncoding: 'bytes',
  },
} as const;

function formOf(o: Record<string, unknown>): (typeof FORMS)[keyof typeof FORMS] {
  if (o['hclReport'] !== undefined) return FORMS.files;
  if (o['version'] === 2) return FORMS.trusteeV2;
  if (o['version'] === undefined || o['version'] === 1) return FORMS.trusteeV1;
  throw j.fail('evidence.version', 'must be 1 or 2');
}

/**
 * Normalises Azure vTPM evidence: a trustee evidence object (version 1 or 2), its JSON text as
 * bytes, an {@link AzureVtpmEvidence}-shaped object of bytes, or the bytes of an HCL report alone.
 * Sizes are capped before decoding; errors are `AZURE_EVIDENCE_MALFORMED` naming the JSON path.
 *
 * @example
 * ```ts
 * const evidence = parseAzureEvidence(JSON.parse(readFileSync('evidence.json', 'utf8')));
 * ```
 */
export function parseAzureEvidence(input: unknown): AzureVtpmEvidence {
  if (input instanceof Uint8Array) {
    // JSON text starts with '{' (after whitespace); an HCL report with "HCLA".
    const first = input.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
    if (first !== 0x7b) return { hclReport: DECODE.bytes(input, 'evidence', MAX.hclReport) };
    if (input.length > MAX.text) throw tooLong('evidence', MAX.text);
    return parseAzureEvidence(j.parse(Buffer.from(input).toString('utf8')));
  }
  const o = j.object(input);
  const form = formOf(o);
  const hclReport = DECODE[form.hclEncoding](o[form.hcl], `evidence.${form.hcl}`, MAX.hclReport);
  const vcekValue = o[form.vcek];
  let vcek: Uint8Array | undefined;
  if (vcekValue !== undefined) {
    if (form.vcekEncoding !== 'pem') vcek = DECODE[form.vcekEncoding](vcekValue, `evidence.${form.vcek}`, MAX.vcek);
    else if (typeof vcekValue !== 'string' || vcekValue.length > MAX.text)
      throw j.fail(`evidence.${form.vcek}`, 'must be a PEM certificate');
    else {
      const ders = pemCertificates(vcekValue, `evidence.${form.vcek}`);
      if (ders.length !== 1) throw j.fail(`evidence.${form.vcek}`, 'must hold one certificate');
      vcek = ders[0];
    }
  }
  const quoteValue = o[form.quote];
  if (quoteValue === undefined) return { hclReport, vcek };
  const q = j.object(quoteValue, `evidence.${form.quote}`);
  const at = (key: string) => `evidence.${form.quote}.${key}`;
  return {
    hclReport,
    vcek,
    tpmQuote: {
      message: DECODE[form.quoteEncoding](q[form.message], at(form.message), MAX.message),
      signature: DECODE[form.quoteEncoding](q[form.signature], at(form.signature), MAX.signature),
      pcrs: pcrValues(q[form.pcrs], at(form.pcrs), form.quoteEncoding),
    },
  };
}
