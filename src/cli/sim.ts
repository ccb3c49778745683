import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import {
  createSimPlatform,
  exportSimState,
  importSimState,
  simCollateral,
  simQuote,
  createSimSnpPlatform,
  exportSimSnpState,
  importSimSnpState,
  simSnpCertTable,
  simSnpReport,
  type SimPlatform,
  type SimSnpPlatform,
} from '../attest/sim/index.js';
import { emulateDevAttestation, emulateTsm, type Served } from '../evidence/emulate.js';
import { SIM_MRSIGNER } from '../evidence/sim.js';
import {
  action,
  cloisterHome,
  log,
  parseCount,
  parseHex,
  readInput,
  readJson,
  untilSignal,
  writeOutput,
} from './io.js';
import { pemCert } from '../pki/pem.js';

/** `cloister sim`: the simulated SGX/TDX platform kept in a data directory (DESIGN.md "The simulated TEE"). */

/** The simulated platform's home: `--sim-dir`, else `$CLOISTER_SIM_DIR`, else `~/.cloister/sim`. */
export const defaultSimDir = (): string => process.env['CLOISTER_SIM_DIR'] ?? cloisterHome('sim');
export const simFiles = (dir: string) => ({
  state: join(dir, 'platform.json'),
  root: join(dir, 'root.pem'),
  snp: join(dir, 'snp.json'),
  ark: join(dir, 'ark.pem'),
});
const files = simFiles;

/** Loads the platform of a data directory; never guesses when the state is missing or unreadable. */
export function loadPlatform(dir: string): SimPlatform {
  const { state } = files(dir);
  if (!existsSync(state))
    throw new CloisterError(
      'SIM_STATE_INVALID',
      `no simulated platform in ${dir}: a simulation coordinator creates it on first start, or run "cloister sim init --sim-dir ${dir}"; workloads and their coordinator must share it`,
      { path: state },
    );
  return importSimState(readJson(state));
}

/** Creates a platform in `dir` unless one is there; returns the one in use. */
export async function initPlatform(
  dir: string,
  now: number,
  force = false,
): Promise<{ platform: SimPlatform; created: boolean }> {
  const f = files(dir);
  if (existsSync(f.state) && !force) return { platform: loadPlatform(dir), created: false };
  const platform = await createSimPlatform({ now });
  writeOutput(f.state, `${JSON.stringify(exportSimState(platform), null, 2)}\n`, 0o600);
  writeOutput(f.root, pemCert(platform.root.cert.der));
  return { platform, created: true };
}

/**
 * The simulated SEV-SNP platform of a data directory (its ARK, ASK, VCEK), created beside the
 * SGX/TDX one on first use.
 */
export async function snpPlatform(dir: string, now: number): Promise<SimSnpPlatform> {
  const f = files(dir);
  if (existsSync(f.snp)) return importSimSnpState(readJson(f.snp));
  const snp = await createSimSnpPlatform({ now });
  writeOutput(f.snp, `${JSON.stringify(exportSimSnpState(snp), null, 2)}\n`, 0o600);
  writeOutput(f.ark, pemCert(snp.ark.der));
  return snp;
}

const arks = new Map<string, Uint8Array>();

/** The simulated SEV-SNP platform's ARK (DER) in `dir`, when one was made there (read once it is). */
export function simulatedArk(dir: string): Uint8Array | undefined {
  const f = files(dir);
  let ark = arks.get(f.snp);
  if (!ark && existsSync(f.snp)) arks.set(f.snp, (ark = importSimSnpState(readJson(f.snp)).ark.der));
  return ark;
}

/** What a simulated guest measures to when no value is given: a name's hash, so it is stable and visibly simulated. */
const simulatedMeasurement = (name: string, bytes: number) =>
  new Uint8Array(
    createHash(bytes === 48 ? 'sha384' : 'sha256')
      .update(`cloister simulated ${name}`)
      .digest(),
  );

interface EmulateOptions {
  simDir?: string;
  tsmRoot?: string;
  provider?: string;
  devAttestation?: string;
  mrtd?: string;
  rtmr: string[];
  measurement?: string;
  hostData?: string;
  mrenclave?: string;
  mrsigner?: string;
  isvProdId: string;
  isvSvn: string;
  concurrentWriter?: boolean;
  stale?: boolean;
  outblob?: string;
  auxblob?: string;
  quote?: string;
  json?: boolean;
}

/** Starts the emulators `o` asks for; returns them and what they measure to. */
async function startEmulators(o: EmulateOptions): Promise<{ served: Served[]; identity: Record<string, string> }> {
  const dir = o.simDir ?? defaultSimDir();
  const { platform } = await initPlatform(dir, Date.now() / 1000);
  const served: Served[] = [];
  const identity: Record<string, string> = {};
  const onError = (e: unknown) => log({ level: 'warn', event: 'emulator', message: String(e) });
  const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
  if (o.tsmRoot !== undefined) {
    if (o.provider !== 'tdx' && o.provider !== 'snp') throw new CloisterError('USAGE', '--provider: tdx or snp');
    const common = { root: o.tsmRoot, concurrentWriter: o.concurrentWriter, stale: o.stale, onError };
    if (o.outblob !== undefined) {
      // Recorded evidence, answered to every request (format tests with the vectors of real platforms).
      const outblob = readInput(o.outblob);
      const auxblob = o.auxblob === undefined ? undefined : readInput(o.auxblob);
      served.push(
        emulateTsm({
          ...common,
          provider: o.provider === 'tdx' ? 'tdx_guest' : 'sev_guest',
          answer: () => Promise.resolve({ outblob, auxblob }),
        }),
      );
    } else if (o.provider === 'tdx') {
      const mrTd = o.mrtd ? parseHex(o.mrtd, '--mrtd', 48, true) : simulatedMeasurement('TD', 48);
      const rtmr = o.rtmr.map((r, i) => parseHex(r, `--rtmr[${i}]`, 48, true));
      identity['mrtd'] = hexOf(mrTd);
      served.push(
        emulateTsm({
          ...common,
          provider: 'tdx_guest',
          answer: ({ inblob }) =>
            Promise.resolve({ outblob: simQuote(platform, { tee: 'tdx', mrTd, rtmr, reportData: inblob }) }),
        }),
      );
    } else {
      const snp = await snpPlatform(dir, Date.now() / 1000);
      const measurement = o.measurement
        ? parseHex(o.measurement, '--measurement', 48, true)
        : simulatedMeasurement('SEV-SNP guest', 48);
      const hostData = o.hostData ? parseHex(o.hostData, '--host-data', 32, true) : undefined;
      identity['measurement'] = hexOf(measurement);
      const auxblob = simSnpCertTable(snp);
      served.push(
        emulateTsm({
          ...common,
          provider: 'sev_guest',
          answer: ({ inblob, privlevel }) =>
            Promise.resolve({
              outblob: simSnpReport(snp, {
                reportData: Buffer.concat([inblob, Buffer.alloc(64 - inblob.length)]),
                measurement,
                hostData,
                vmpl: privlevel,
              }),
              auxblob,
            }),
        }),
      );
    }
  }
  if (o.devAttestation !== undefined) {
    const id = {
      mrEnclave: o.mrenclave ? parseHex(o.mrenclave, '--mrenclave', 32, true) : simulatedMeasurement('enclave', 32),
      mrSigner: o.mrsigner ? parseHex(o.mrsigner, '--mrsigner', 32, true) : SIM_MRSIGNER,
      isvProdId: parseCount(o.isvProdId, '--isv-prod-id', 0),
      isvSvn: parseCount(o.isvSvn, '--isv-svn', 0),
    };
    identity['mrenclave'] = hexOf(id.mrEnclave);
    identity['mrsigner'] = hexOf(id.mrSigner);
    const recorded = o.quote === undefined ? undefined : readInput(o.quote);
    served.push(
      emulateDevAttestation({
        dir: o.devAttestation,
        quote: (reportData) => recorded ?? simQuote(platform, { ...id, reportData }),
        onError,
      }),
    );
  }
  if (served.length === 0)
    throw new CloisterError('USAGE', 'emulate what? --tsm-root DIR --provider tdx|snp, or --dev-attestation DIR');
  return { served, identity };
}

/** Pipes the emulators wait on each hold a thread of libuv's pool: more than its default 4. */
const EMULATOR_THREADS = '64';

interface QuoteOptions {
  simDir?: string;
  out: string;
  reportData?: string;
  mrenclave?: string;
  mrsigner?: string;
  isvProdId: string;
  isvSvn: string;
  mrtd?: string;
  rtmr: string[];
  debug?: boolean;
  tdx?: boolean;
  json?: boolean;
}

export function registerSim(program: Command): Command {
  const sim = program
    .command('sim')
    .description('the simulated SGX/TDX platform: real-format quotes and collateral without a TEE');
  const dir = [
    '--sim-dir <dir>',
    "the simulated platform's folder (default: $CLOISTER_SIM_DIR or ~/.cloister/sim)",
  ] as const;

  sim
    .command('init')
    .description(
      'create the simulated platform (root CA, PCK, TCB signing certificate, attestation key); keeps an existing one unless --force',
    )
    .option(...dir)
    .option('--force', 'replace an existing platform')
    .option('--json', 'print one JSON object')
    .action(
      action(async (o: { simDir?: string; force?: boolean; json?: boolean }) => {
        const { platform, created } = await initPlatform(
          o.simDir ?? defaultSimDir(),
          Date.now() / 1000,
          o.force === true,
        );
        const root = files(o.simDir ?? defaultSimDir()).root;
        const fmspc = Buffer.from(platform.tcb.fmspc).toString('hex');
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ ok: true, created, root, fmspc })}\n`
            : `${created ? 'created' : 'kept existing'} simulated platform; trust root ${root} (FMSPC ${fmspc})\n`,
        );
      }),
    );

  sim
    .command('quote')
    .description('write a real-format SGX v3 (or, with --tdx, TDX v4) quote signed by the simulated platform')
    .option(...dir)
    .option('--out <file>', 'output file, - for standard output', '-')
    .option('--report-data <hex>', 'REPORTDATA, up to 64 bytes (zero-padded)')
    .option('--mrenclave <hex>', 'MRENCLAVE, 32 bytes (SGX; default zero)')
    .option('--mrsigner <hex>', 'MRSIGNER, 32 bytes (SGX; default zero)')
    .option('--isv-prod-id <n>', 'ISVPRODID (SGX)', '0')
    .option('--isv-svn <n>', 'ISVSVN (SGX)', '0')
    .option('--mrtd <hex>', 'MRTD, 48 bytes (TDX; default zero)')
    .option(
      '--rtmr <hex>',
      'RTMR0..3 in order, 48 bytes each (TDX; repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--debug', 'a debug enclave or TD')
    .option('--tdx', 'a TDX quote v4 with a TD 1.0 body')
    .option('--json', 'errors as one JSON object')
    .action(
      action(async (o: QuoteOptions) => {
        const p = loadPlatform(o.simDir ?? defaultSimDir());
        const common = { reportData: parseHex(o.reportData ?? '', '--report-data', 64), debug: o.debug === true };
        const quote = o.tdx
          ? simQuote(p, {
              tee: 'tdx',
              ...common,
              mrTd: o.mrtd ? parseHex(o.mrtd, '--mrtd', 48, true) : new Uint8Array(48),
              rtmr: o.rtmr.map((r, i) => parseHex(r, `--rtmr[${i}]`, 48, true)),
            })
          : simQuote(p, {
              ...common,
              mrEnclave: o.mrenclave ? parseHex(o.mrenclave, '--mrenclave', 32, true) : new Uint8Array(32),
              mrSigner: o.mrsigner ? parseHex(o.mrsigner, '--mrsigner', 32, true) : new Uint8Array(32),
              isvProdId: parseCount(o.isvProdId, '--isv-prod-id', 0),
              isvSvn: parseCount(o.isvSvn, '--isv-svn', 0),
            });
        writeOutput(o.out, quote);
      }),
    );

  sim
    .command('collateral')
    .description('write QuoteCollateralV3 JSON for the simulated platform, valid for 30 days from now')
    .option(...dir)
    .option('--out <file>', 'output file, - for standard output', '-')
    .option('--tdx', 'collateral for TDX quotes (TDX TCB info, TD_QE identity)')
    .option('--stale', 'collateral whose windows ended before now')
    .option('--revoke-pck', "a PCK CRL that revokes the platform's PCK certificate")
    .option('--json', 'errors as one JSON object')
    .action(
      action(
        async (o: {
          simDir?: string;
          out: string;
          tdx?: boolean;
          stale?: boolean;
          revokePck?: boolean;
          json?: boolean;
        }) => {
          const p = loadPlatform(o.simDir ?? defaultSimDir());
          const collateral = await simCollateral(p, {
            now: Date.now() / 1000,
            tee: o.tdx ? 'tdx' : 'sgx',
            stale: o.stale === true,
            revokePck: o.revokePck === true,
          });
          writeOutput(o.out, `${JSON.stringify(collateral, null, 2)}\n`);
        },
      ),
    );
  sim
    .command('emulate')
    .description(
      "serve emulated TEE interfaces backed by the simulated platform until stopped: a configfs-tsm tree (TDX or SEV-SNP) and/or Gramine's /dev/attestation",
    )
    .option(...dir)
    .option('--tsm-root <dir>', 'emulate configfs-tsm here (report/ is made in it)')
    .option('--provider <kind>', 'the configfs-tsm provider: tdx (tdx_guest) or snp (sev_guest)')
    .option('--dev-attestation <dir>', "emulate Gramine's /dev/attestation in this folder")
    .option('--mrtd <hex>', 'TDX: MRTD of the emulated TD, 48 bytes')
    .option(
      '--rtmr <hex>',
      'TDX: RTMR0..3 in order (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--measurement <hex>', 'SEV-SNP: MEASUREMENT of the emulated guest, 48 bytes')
    .option('--host-data <hex>', 'SEV-SNP: HOST_DATA, 32 bytes')
    .option('--mrenclave <hex>', 'SGX: MRENCLAVE of the emulated enclave, 32 bytes')
    .option('--mrsigner <hex>', "SGX: MRSIGNER (default: cloister's simulated signer)")
    .option('--isv-prod-id <n>', 'SGX: ISVPRODID', '0')
    .option('--isv-svn <n>', 'SGX: ISVSVN', '0')
    .option(
      '--concurrent-writer',
      'configfs-tsm: another process writes each entry right after the guest (generation moves)',
    )
    .option('--stale', 'configfs-tsm: a broken provider answering every request with its first report')
    .option('--outblob <file>', 'configfs-tsm: answer every request with these bytes (recorded evidence)')
    .option('--auxblob <file>', 'configfs-tsm: with --outblob, this auxblob (an SEV-SNP certificate table)')
    .option('--quote <file>', '/dev/attestation: answer every request with this quote (recorded evidence)')
    .option('--json', 'errors as one JSON object')
    .action(
      action(async (o: EmulateOptions) => {
        if (process.env['UV_THREADPOOL_SIZE'] === undefined) {
          // The pool is sized at its first use, which may be behind us: run again with it set.
          const child = spawn(process.execPath, process.argv.slice(1), {
            stdio: 'inherit',
            env: { ...process.env, UV_THREADPOOL_SIZE: EMULATOR_THREADS },
          });
          for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
          return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
        }
        const { served, identity } = await startEmulators(o);
        process.stdout.write(`${JSON.stringify({ ready: true, ...identity })}\n`);
        untilSignal(() => served.forEach((s) => s.close()));
        return undefined;
      }),
    );
  return sim;
}
