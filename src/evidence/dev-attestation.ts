import { join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import type { EvidenceProvider } from './provider.js';
import { attributeFiles } from './lib/attributes.js';

/**
 * SGX evidence inside a library OS: Gramine's and Occlum's `/dev/attestation` pseudo-files
 * (Gramine libos/src/fs/dev/attestation.c). `attestation_type` says which quotes the enclave gets
 * (`dcap`: ECDSA quotes through the quoting enclave, which the AESM service on the host serves
 * through `/var/run/aesmd`); writing 64 bytes to `user_report_data` sets REPORTDATA, and reading
 * `quote` returns a quote over it. The pair is one shared state per enclave, so requests are
 * serialised.
 */

/** The default folder. */
export const DEV_ATTESTATION = '/dev/attestation';

/** Gramine's limit on a quote it returns (SGX_QUOTE_MAX_SIZE). */
const QUOTE_MAX = 8192;

/** `attestation_type` values that give DCAP quotes (what cloister's verifiers check). */
const DCAP_TYPES = ['dcap'];

const files = attributeFiles(
  '/dev/attestation',
  'not inside a Gramine or Occlum enclave with remote attestation enabled, sgx.remote_attestation = "dcap"',
  'the enclave manifest must allow it',
);

/**
 * The attestation type of the library OS at `dir` (`none`, `epid`, `dcap`).
 *
 * @example `attestationType('/dev/attestation')` → `'dcap'`
 */
export function attestationType(dir: string = DEV_ATTESTATION): string {
  return Buffer.from(files.read(join(dir, 'attestation_type'), 32))
    .toString('latin1')
    .trim();
}

/** The tail of the request chain per folder: one request at a time touches its files. */
const queues = new Map<string, Promise<unknown>>();

/**
 * The `/dev/attestation` provider: SGX DCAP quotes from the library OS. Refuses (EVIDENCE_INVALID)
 * a library OS whose attestation type is not `dcap`.
 *
 * @example
 * ```ts
 * const provider = devAttestationProvider();
 * const quote = await provider.quote(reportData);
 * ```
 */
export function devAttestationProvider(dir: string = DEV_ATTESTATION): EvidenceProvider {
  const type = attestationType(dir);
  if (!DCAP_TYPES.includes(type))
    throw new CloisterError(
      'EVIDENCE_INVALID',
      `/dev/attestation: ${join(dir, 'attestation_type')} is "${type}": cloister verifies DCAP quotes (Gramine: sgx.remote_attestation = "dcap")`,
      { path: join(dir, 'attestation_type'), expected: 'dcap', actual: type },
    );
  return {
    tee: 'sgx',
    simulation: false,
    source: `${dir} (${type})`,
    trustRoot: undefined,
    collateral: () => Promise.resolve(undefined),
    quote(reportData) {
      if (reportData.length !== 64) return Promise.reject(new CloisterError('USAGE', 'report data must be 64 bytes'));
      const request = async () => {
        files.write(join(dir, 'user_report_data'), reportData);
        const quote = files.read(join(dir, 'quote'), QUOTE_MAX);
        if (quote.length === 0)
          throw new CloisterError('EVIDENCE_INVALID', `/dev/attestation: ${join(dir, 'quote')} is empty`, {
            path: join(dir, 'quote'),
          });
        return quote;
      };
      const next = (queues.get(dir) ?? Promise.resolve()).then(request, request);
      queues.set(dir, next);
      return next;
    },
  };
}
