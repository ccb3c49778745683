import { join } from 'node:path';
import type { Command } from 'commander';
import { getCollateral, getSnpCollateral, httpsJwksFetcher } from '../collateral/index.js';
import { existsSync } from 'node:fs';
import { CloisterError } from '../lib/errors.js';
import {
  DcapVerifier,
  SnpVerifier,
  checkPolicy,
  evidenceKind,
  splitSnpEvidence,
  customRoot,
  verifyAzureVtpm,
  PRODUCT_LINES,
  type ProductLine,
  type SnpCerts,
  jwksFromJku,
  parseJwks,
  parsePolicy,
  verifyMaaTokenSync,
  TEE_KINDS,
  claimText,
  type TeeKind,
  type Verdict,
} from '../attest/index.js';
import { iso } from '../attest/lib/chain.js';
import { pemCertificates } from '../attest/lib/x509.js';
import {
  cloisterHome,
  EXIT,
  parseCount,
  parseHex,
  parseTime,
  readEvidence,
  readInput,
  readJson,
  reportError,
} from './io.js';

interface VerifyOptions {
  collateral?: string;
  tee?: string;
  at?: string;
  json?: boolean;
  trustRoot?: string;
  policy?: string;
  certs?: string;
  kds?: string;
  crl?: string;
  product?: string;
  nonce?: string;
  jwks?: string;
  minRsaBits?: string;
  issuer?: string;
  trustedJku: string[];
  pccs?: string;
  collateralCache: string;
  apiKey?: string;
  repeat: string;
}

/** The trust root: Intel's pinned root, or one PEM/DER certificate given with --trust-root. */
function trustRoot(path: string | undefined): DcapVerifier {
  if (!path) return new DcapVerifier();
  const bytes = readInput(path);
  const text = Buffer.from(bytes).toString('latin1');
  const der = text.includes('-----BEGIN') ? pemCertificates(text, '--trust-root') : [bytes];
  if (der.length !== 1) throw new CloisterError('USAGE', `--trust-root: expected one certificate, found ${der.length}`);
  return new DcapVerifier(customRoot(der[0] as Uint8Array));
}

/** Prepares a verifier for one kind of evidence: the returned function verifies (and is what --repeat repeats). */
type Prepare = (evidence: Uint8Array, o: VerifyOptions, now: number) => Promise<(evidence: Uint8Array) => Verdict>;

const dcap: Prepare = async (evidence, o, now) => {
  const verifier = trustRoot(o.trustRoot);
  const raw =
    o.collateral !== undefined
      ? readJson(o.collateral)
      : o.pccs !== undefined
        ? await fetched(verifier, evidence, now, o)
        : undefined;
  const collateral = raw === undefined ? undefined : verifier.prepare(raw);
  const tee = o.tee === 'sgx' || o.tee === 'tdx' ? o.tee : undefined;
  return (bytes) => verifier.verify(bytes, { collateral, now, tee });
};

const maa: Prepare = async (evidence, o, now) => {
  const token = Buffer.from(evidence).toString('utf8').trim();
  const minRsaBits = o.minRsaBits === undefined ? undefined : parseCount(o.minRsaBits, '--min-rsa-bits');
  const keys =
    o.jwks !== undefined
      ? parseJwks(readJson(o.jwks))
      : o.trustedJku.length > 0
        ? await jwksFromJku(token, { issuer: o.issuer, trustedJku: o.trustedJku, fetchJwks: httpsJwksFetcher() })
        : undefined;
  if (!keys)
    throw new CloisterError(
      'USAGE',
      "--tee maa needs --jwks FILE, or --trusted-jku URL to fetch the key set from the token's jku",
    );
  return () => verifyMaaTokenSync(token, { jwks: keys, now, issuer: o.issuer, minRsaBits });
};

/** `--certs DIR`: vcek.der or vlek.der, ask.pem or asvk.pem, ark.pem (AMD KDS file names), whichever are there. */
function certsFolder(dir: string): SnpCerts {
  const file = (name: string) => (existsSync(join(dir, name)) ? readInput(join(dir, name)) : undefined);
  const pem = (name: string) => {
    const b = file(name);
    return b && Buffer.from(b).toString('latin1');
  };
  return {
    vcek: file('vcek.der'),
    vlek: file('vlek.der'),
    ask: pem('ask.pem'),
    asvk: pem('asvk.pem'),
    ark: pem('ark.pem'),
  };
}

/** The AMD certificates (and CRL) for a report: from --certs, or fetched from AMD's KDS (--kds) through the cache. */
async function amdCollateral(
  report: Uint8Array,
  o: VerifyOptions,
  now: number,
): Promise<{ certs: SnpCerts; crl?: Uint8Array | undefined }> {
  const certs = o.certs !== undefined ? certsFolder(o.certs) : {};
  if (o.kds === undefined) return { certs, crl: o.crl === undefined ? undefined : readInput(o.crl) };
  const product = o.product as ProductLine | undefined;
  if (product !== undefined && !Object.hasOwn(PRODUCT_LINES, product))
    throw new CloisterError('USAGE', `--product: one of ${Object.keys(PRODUCT_LINES).join(', ')}`);
  const fetched = await getSnpCollateral({
    report,
    now,
    cacheDir: o.collateralCache,
    baseUrl: o.kds,
    ...(product ? { product } : {}),
  });
  return {
    certs: { ...fetched.certs, ...Object.fromEntries(Object.entries(certs).filter(([, v]) => v !== undefined)) },
    crl: fetched.crl,
  };
}

const snp: Prepare = async (evidence, o, now) => {
  // configfs-tsm evidence carries the host's certificate table after the report; --certs and --kds fill in the rest.
  const { report, certs: table } = splitSnpEvidence(evidence);
  const { certs, crl } = await amdCollateral(report, o, now);
  const merged = { ...table, ...Object.fromEntries(Object.entries(certs).filter(([, v]) => v !== undefined)) };
  const verifier = new SnpVerifier();
  return (bytes) => verifier.verify(splitSnpEvidence(bytes).report, merged, { now, crl });
};

const azure: Prepare = async (_evidence, o, now) => {
  const certs = o.certs !== undefined ? certsFolder(o.certs) : {};
  const nonce = o.nonce === undefined ? undefined : parseHex(o.nonce, '--nonce', 1024);
  const verifier = new SnpVerifier();
  return (bytes) => verifyAzureVtpm(bytes, certs, { now, verifier, ...(nonce ? { nonce } : {}) });
};

/** How each TEE kind's evidence is verified. */
const VERIFIERS: Record<TeeKind, Prepare> = { sgx: dcap, tdx: dcap, snp, 'azure-snp-vtpm': azure, maa };

/** The kind of evidence, when --tee does not say: a DCAP quote unless it is clearly something else. */
function detectKind(evidence: Uint8Array): TeeKind {
  const head = Buffer.from(evidence.subarray(0, 2)).toString('latin1');
  if (head === 'ey') return 'maa';
  if (head.startsWith('{')) return 'azure-snp-vtpm';
  if (evidence.length === 1184 && evidence[0] !== 3 && evidence[0] !== 4) return 'snp';
  try {
    return evidenceKind(evidence);
  } catch {
    return 'sgx'; // the DCAP parser names what is wrong
  }
}

/** Collateral for the quote from a PCS or PCCS, through the disk cache. */
async function fetched(verifier: DcapVerifier, evidence: Uint8Array, now: number, o: VerifyOptions): Promise<unknown> {
  let url: URL;
  try {
    url = new URL(o.pccs as string);
  } catch {
    throw new CloisterError('USAGE', `--pccs: "${o.pccs}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new CloisterError('USAGE', '--pccs: must be an https: or http: URL');
  return getCollateral({
    ...verifier.collateralRequest(evidence),
    now,
    cacheDir: o.collateralCache,
    baseUrl: url.href,
    ...(o.apiKey ? { apiKey: o.apiKey } : {}),
  });
}

/** The claims a person looks at first, in this order, when present. */
const SUMMARY = [
  'mrenclave',
  'mrsigner',
  'isvProdId',
  'isvSvn',
  'mrtd',
  'rtmr0',
  'rtmr1',
  'rtmr2',
  'rtmr3',
  'measurement',
  'hostData',
  'chipId',
  'debug',
  'reportData',
] as const;

function human(v: Verdict): string {
  const lines = [
    `verified ${v.tee} evidence${v.simulation ? ' (SIMULATION: not anchored at the manufacturer)' : ''}`,
    `TCB status:   ${v.tcbStatus}${v.advisoryIds.length ? ` (${v.advisoryIds.join(', ')})` : ''}`,
    `valid until:  ${iso(v.collateralExpiry)}`,
    ...SUMMARY.filter((k) => v.claims[k] !== undefined).map((k) => `${`${k}:`.padEnd(13)} ${claimText(v.claims[k])}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerAttest(program: Command): void {
  const attest = program.command('attest').description('verify attestation evidence');
  attest
    .command('verify')
    .description('verify one piece of evidence offline (SGX quote v3/v4, TDX quote v4/v5)')
    .argument('<evidence>', 'quote file (binary or hex), or - for standard input')
    .option('--collateral <file>', 'QuoteCollateralV3 JSON (TCB info, QE identity, CRLs, issuer chains)')
    .option(
      '--pccs <url>',
      'fetch collateral from Intel PCS API v4 or a PCCS at this base URL when --collateral is not given',
    )
    .option(
      '--collateral-cache <dir>',
      'where fetched collateral is kept until its nextUpdate',
      cloisterHome('collateral'),
    )
    .option('--api-key <key>', 'PCS subscription key (Ocp-Apim-Subscription-Key)')
    .option(
      '--certs <dir>',
      'AMD certificates for SNP and Azure evidence: vcek.der or vlek.der, ask.pem or asvk.pem, ark.pem',
    )
    .option(
      '--kds <url>',
      'fetch the VCEK, ASK/ARK and CRL for an SNP report from AMD KDS at this base URL (e.g. https://kdsintf.amd.com), cached',
    )
    .option('--product <line>', 'SNP product line of a version 2 report (Milan, Genoa, Turin) for --kds')
    .option('--crl <file>', 'an AMD CRL (DER) to check the SNP chain against')
    .option('--nonce <hex>', 'the nonce the vTPM quote of Azure evidence must carry')
    .option('--jwks <file>', 'the key set that signs MAA tokens (JSON Web Key Set, e.g. from <instance>/certs)')
    .option(
      '--trusted-jku <url>',
      "an MAA instance key-set URL a token's jku may name (repeatable; fetched over HTTPS)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--issuer <url>', 'the MAA instance a token must come from (iss)')
    .option('--min-rsa-bits <n>', 'smallest RSA key accepted for tokens (default 2048)')
    .option('--tee <kind>', `expected TEE kind (${Object.keys(TEE_KINDS).join(', ')})`)
    .option('--at <time>', 'verification time: ISO-8601 or Unix seconds (default: now)')
    .option(
      '--trust-root <file>',
      'PEM or DER root certificate replacing the Intel SGX Root CA (e.g. the simulation root)',
    )
    .option(
      '--policy <file>',
      'JSON policy (acceptedTcbStatuses, acceptedAdvisories, allowDebug, allowSimulation, expected, minimum); a violation exits 1',
    )
    .option('--repeat <n>', 'verify the same input n times (a benchmarking aid)', '1')
    .option('--json', 'print exactly one JSON object on stdout')
    .action(async (file: string, o: VerifyOptions) => {
      const json = o.json === true;
      let code: number;
      try {
        if (o.tee !== undefined && !Object.hasOwn(TEE_KINDS, o.tee))
          throw new CloisterError(
            'USAGE',
            `--tee: unknown TEE kind "${o.tee}" (supported: ${Object.keys(TEE_KINDS).join(', ')})`,
          );
        const now = o.at === undefined ? Date.now() / 1000 : parseTime(o.at);
        const repeat = parseCount(o.repeat, '--repeat');
        const evidence = readEvidence(file);
        const policy = o.policy === undefined ? undefined : parsePolicy(readJson(o.policy));
        const kind = (o.tee as TeeKind | undefined) ?? detectKind(evidence);
        const verify = await VERIFIERS[kind](evidence, o, now);
        const started = process.hrtime.bigint();
        let verdict: Verdict | undefined;
        for (let i = 0; i < repeat; i++) verdict = verify(evidence);
        const v = verdict as Verdict;
        if (policy) checkPolicy(v, policy);
        if (repeat > 1) {
          const s = Number(process.hrtime.bigint() - started) / 1e9;
          process.stderr.write(
            `${repeat} verifications in ${(s * 1000).toFixed(1)} ms: ${(repeat / s).toFixed(0)} per second\n`,
          );
        }
        const { tee, tcbStatus, advisoryIds, claims, simulation, tcb, trailingBytes } = v;
        process.stdout.write(
          json
            ? `${JSON.stringify({ ok: true, tee, tcbStatus, advisoryIds, claims, simulation, collateralExpiry: iso(v.collateralExpiry), tcb, trailingBytes })}\n`
            : human(v),
        );
        code = EXIT.ok;
      } catch (error) {
        code = reportError(error, json);
      }
      process.exitCode = code;
    });
}
