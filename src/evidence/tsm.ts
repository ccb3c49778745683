import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloisterError } from '../lib/errors.js';
import type { EvidenceKind, EvidenceProvider } from './provider.js';
import { attributeFiles } from './lib/attributes.js';

/**
 * TDX and SEV-SNP evidence through the kernel's configfs-tsm report interface (Linux 6.7+,
 * Documentation/ABI/testing/configfs-tsm): `mkdir report/<entry>`, write `inblob` (the 64 bytes
 * of report data) and for SNP optionally `privlevel` (the VMPL), read `outblob` (the TDX quote or
 * the SNP report) and `auxblob` (the SNP certificate table), and compare `generation` with the
 * writes made: the kernel increments it on every write to the entry, so any other number means
 * another process wrote in between and the outblob may answer its request, not ours.
 */

/** The default mount point of configfs-tsm. */
export const TSM_ROOT = '/sys/kernel/config/tsm';

/** configfs-tsm `provider` values and the evidence each produces. */
export const TSM_PROVIDERS: Readonly<Record<string, EvidenceKind>> = { tdx_guest: 'tdx', sev_guest: 'snp' };

/** The ABI's limits: inblob is at most 64 bytes, outblob and auxblob at most 32 KiB (TSM_OUTBLOB_MAX). */
const INBLOB_MAX = 64;
const BLOB_MAX = 32 * 1024;
/** How long an emulated tree may take to show an entry's attributes (configfs shows them at mkdir). */
const ATTRIBUTE_WAIT_MS = 5000;

export interface TsmOptions {
  /** The configfs-tsm mount point ({@link TSM_ROOT} by default). */
  root?: string | undefined;
  /** SEV-SNP: the VMPL to request the report at (`privlevel`); the kernel's default otherwise. */
  privlevel?: number | undefined;
}

/** What one request returned. */
export interface TsmReport {
  provider: string;
  outblob: Uint8Array;
  auxblob: Uint8Array;
  generation: number;
}

const files = attributeFiles(
  'configfs-tsm',
  'configfs-tsm needs Linux 6.7+ in a TDX or SEV-SNP guest, with configfs mounted',
  'configfs-tsm reports need root or CAP_SYS_ADMIN',
);
const readAttribute = files.read;
const writeAttribute = files.write;
const unavailable = files.unavailable;

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1').trim();

function generationOf(entry: string): number {
  const path = join(entry, 'generation');
  const value = text(readAttribute(path, 32));
  if (!/^\d{1,15}$/.test(value))
    throw new CloisterError('EVIDENCE_INVALID', `configfs-tsm: ${path} is not a number: "${value}"`, { path });
  return Number(value);
}

/**
 * A fresh report entry (configfs creates its attributes with the directory; an emulated tree is
 * given a moment), removed again after `use`.
 */
async function withEntry<T>(root: string, use: (entry: string) => T): Promise<T> {
  const reports = join(root, 'report');
  const entry = join(reports, `cloister-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(entry);
  } catch (cause) {
    throw unavailable(reports, cause, 'creating an entry in');
  }
  try {
    for (let waited = 0; ; waited += 10) {
      try {
        closeSync(openSync(join(entry, 'provider'), constants.O_RDONLY | constants.O_NONBLOCK));
        break;
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== 'ENOENT' || waited >= ATTRIBUTE_WAIT_MS)
          throw unavailable(join(entry, 'provider'), cause, 'reading');
        await sleep(10);
      }
    }
    return use(entry);
  } finally {
    // configfs removes an entry with its attributes; an emulated tree keeps its files (its helper removes them).
    try {
      rmdirSync(entry);
    } catch {
      // best effort: a leftover entry holds no secret, and the next request makes its own
    }
  }
}

/**
 * One report request: a fresh entry, `privlevel` (when given) and `inblob` written, `outblob` and
 * `auxblob` read, and the generation checked against the writes made. Throws
 * EVIDENCE_UNAVAILABLE naming the path that is missing or inaccessible, EVIDENCE_CONCURRENT when
 * another writer used the entry, EVIDENCE_INVALID for values outside the ABI.
 *
 * @example `const { outblob } = await tsmReport(reportData, { root: '/sys/kernel/config/tsm' })`
 */
export function tsmReport(inblob: Uint8Array, options: TsmOptions = {}): Promise<TsmReport> {
  if (inblob.length > INBLOB_MAX)
    throw new CloisterError('USAGE', `configfs-tsm: inblob is at most ${INBLOB_MAX} bytes, got ${inblob.length}`);
  return withEntry(options.root ?? TSM_ROOT, (entry) => {
    const provider = text(readAttribute(join(entry, 'provider'), 64));
    const before = generationOf(entry);
    let writes = 0;
    if (options.privlevel !== undefined) {
      const floor = Number(text(readAttribute(join(entry, 'privlevel_floor'), 16)));
      if (!Number.isInteger(options.privlevel) || options.privlevel < floor || options.privlevel > 3)
        throw new CloisterError(
          'USAGE',
          `configfs-tsm: privlevel must be ${floor}..3 (privlevel_floor is ${floor}), got ${options.privlevel}`,
        );
      writeAttribute(join(entry, 'privlevel'), Buffer.from(`${options.privlevel}\n`));
      writes++;
    }
    writeAttribute(join(entry, 'inblob'), inblob);
    writes++;
    const outblob = readAttribute(join(entry, 'outblob'), BLOB_MAX);
    const auxblob = provider === 'sev_guest' ? readAttribute(join(entry, 'auxblob'), BLOB_MAX) : new Uint8Array();
    const generation = generationOf(entry);
    // configfs-tsm ABI, "generation": a value other than ours plus our writes means another writer.
    if (generation !== before + writes)
      throw new CloisterError(
        'EVIDENCE_CONCURRENT',
        `configfs-tsm: ${entry} was written by another process while this one used it (generation ${generation}, expected ${before + writes}): its outblob may answer that request`,
        { path: entry, expected: before + writes, actual: generation },
      );
    if (outblob.length === 0)
      throw new CloisterError('EVIDENCE_INVALID', `configfs-tsm: ${join(entry, 'outblob')} is empty`, {
        path: join(entry, 'outblob'),
      });
    return { provider, outblob, auxblob, generation };
  });
}

/** Which evidence the configfs-tsm at `root` produces (a probe entry's `provider`). */
export function tsmKind(root: string = TSM_ROOT): Promise<EvidenceKind> {
  return withEntry(root, (entry) => {
    const path = join(entry, 'provider');
    const provider = text(readAttribute(path, 64));
    const kind = TSM_PROVIDERS[provider];
    if (!kind)
      throw new CloisterError(
        'EVIDENCE_INVALID',
        `configfs-tsm: ${path} is "${provider}", not one of ${Object.keys(TSM_PROVIDERS).join(', ')}`,
        { path, actual: provider },
      );
    return kind;
  });
}

/**
 * The configfs-tsm evidence provider: TDX quotes, or SEV-SNP reports followed by the host's
 * certificate table (the VCEK chain, so a verifier needs no AMD KDS fetch), whichever the
 * kernel's provider is.
 *
 * @example
 * ```ts
 * const provider = await tsmProvider({ root: '/sys/kernel/config/tsm' });
 * const evidence = await provider.quote(reportData);
 * ```
 */
export async function tsmProvider(options: TsmOptions = {}): Promise<EvidenceProvider> {
  const root = options.root ?? TSM_ROOT;
  const tee = await tsmKind(root);
  return {
    tee,
    simulation: false,
    source: `configfs-tsm ${root} (${tee === 'tdx' ? 'tdx_guest' : 'sev_guest'})`,
    trustRoot: undefined,
    collateral: () => Promise.resolve(undefined),
    async quote(reportData) {
      if (reportData.length !== INBLOB_MAX) throw new CloisterError('USAGE', 'report data must be 64 bytes');
      const report = await tsmReport(reportData, options);
      if (TSM_PROVIDERS[report.provider] !== tee)
        throw new CloisterError('EVIDENCE_INVALID', `configfs-tsm: ${root} changed provider to ${report.provider}`);
      return tee === 'snp' ? new Uint8Array(Buffer.concat([report.outblob, report.auxblob])) : report.outblob;
    },
  };
}
