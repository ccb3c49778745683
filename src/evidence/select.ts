import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CloisterError } from '../lib/errors.js';
import { DEV_ATTESTATION, devAttestationProvider } from './dev-attestation.js';
import type { EvidenceProvider } from './provider.js';
import { TSM_ROOT, tsmProvider } from './tsm.js';

/**
 * Choosing the evidence provider: `--tee auto` looks for each interface in turn and says what it
 * found; `--tee KIND` asks for one and fails, naming the path, when it is not there.
 */

/**
 * What `--tee` takes: each hardware kind with the interface that serves it, `sim` for the simulated
 * platform, `auto` to detect (in this order: a library OS's `/dev/attestation`, configfs-tsm,
 * else the simulated platform).
 *
 * @example `Object.keys(TEE_CHOICES)` → `['auto', 'sgx', 'tdx', 'snp', 'sim']`
 */
export const TEE_CHOICES = {
  auto: 'detect: /dev/attestation (SGX in Gramine/Occlum), then configfs-tsm (TDX, SEV-SNP), else simulation',
  sgx: 'SGX DCAP quotes from a library OS (/dev/attestation)',
  tdx: 'TDX quotes from configfs-tsm',
  snp: 'SEV-SNP reports and the host certificate table from configfs-tsm',
  sim: 'the simulated platform (no TEE)',
} as const;

export type TeeChoice = keyof typeof TEE_CHOICES;

export interface SelectOptions {
  tee: TeeChoice;
  /** The configfs-tsm mount point ({@link TSM_ROOT}). */
  tsmRoot?: string | undefined;
  /** The library OS's attestation folder ({@link DEV_ATTESTATION}). */
  devAttestation?: string | undefined;
  /** SEV-SNP: the VMPL to ask for. */
  privlevel?: number | undefined;
  /** The simulated platform's provider, built only when chosen. */
  simulated: () => EvidenceProvider;
}

export interface Selected {
  provider: EvidenceProvider;
  /** What was looked at and why this provider was chosen, one line each. */
  found: string[];
}

/**
 * The provider for `options.tee`.
 *
 * @example
 * ```ts
 * const { provider, found } = await selectProvider({ tee: 'auto', simulated: () => simEvidence(platform, id) });
 * ```
 */
export async function selectProvider(options: SelectOptions): Promise<Selected> {
  const dev = options.devAttestation ?? DEV_ATTESTATION;
  const tsm = options.tsmRoot ?? TSM_ROOT;
  const tsmReports = join(tsm, 'report');
  const fromTsm = async (want?: 'tdx' | 'snp') => {
    const provider = await tsmProvider({ root: tsm, privlevel: options.privlevel });
    if (want && provider.tee !== want)
      throw new CloisterError('EVIDENCE_INVALID', `--tee ${want}: configfs-tsm at ${tsm} serves ${provider.tee}`, {
        path: tsm,
        expected: want,
        actual: provider.tee,
      });
    return provider;
  };
  switch (options.tee) {
    case 'sim':
      return { provider: options.simulated(), found: ['--tee sim: the simulated platform'] };
    case 'sgx':
      return { provider: devAttestationProvider(dev), found: [`--tee sgx: ${dev}`] };
    case 'tdx':
    case 'snp':
      return { provider: await fromTsm(options.tee), found: [`--tee ${options.tee}: configfs-tsm ${tsm}`] };
    case 'auto': {
      const found: string[] = [];
      if (existsSync(join(dev, 'attestation_type'))) {
        const provider = devAttestationProvider(dev);
        return { provider, found: [`${dev}/attestation_type found: SGX in a library OS (${provider.source})`] };
      }
      found.push(`${dev}/attestation_type absent (not in Gramine or Occlum)`);
      if (existsSync(tsmReports)) {
        const provider = await fromTsm();
        return { provider, found: [...found, `${tsmReports} found: ${provider.source}`] };
      }
      found.push(`${tsmReports} absent (not a TDX or SEV-SNP guest with Linux 6.7+)`);
      return { provider: options.simulated(), found: [...found, 'no TEE found: the simulated platform'] };
    }
  }
}
