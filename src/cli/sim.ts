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
  type SimPlatform,
} from '../attest/sim/index.js';
import { action, cloisterHome, parseCount, parseHex, readJson, writeOutput } from './io.js';
import { pemCert } from '../pki/pem.js';

/** `cloister sim`: the simulated SGX/TDX platform kept in a data directory (DESIGN.md "The simulated TEE"). */

/** The simulated platform's home: `--sim-dir`, else `$CLOISTER_SIM_DIR`, else `~/.cloister/sim`. */
export const defaultSimDir = (): string => process.env['CLOISTER_SIM_DIR'] ?? cloisterHome('sim');
export const simFiles = (dir: string) => ({ state: join(dir, 'platform.json'), root: join(dir, 'root.pem') });
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
  return sim;
}
