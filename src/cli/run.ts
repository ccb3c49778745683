import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, normalize } from 'node:path';
import { Option, type Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { activate } from '../run/activate.js';
import { discard, finishCommit, sealChanges, unlockVolumes, type Unlocked } from '../run/volumes.js';
import type { FileRecord } from '../protocol/index.js';
import { simEvidence } from '../run/evidence.js';
import { measure, resolveProgram } from '../run/measure.js';
import { defaultSimDir, loadPlatform } from './sim.js';
import { call, parseAddress } from './net.js';
import { reportError } from './io.js';

/** `cloister run`: activate, deliver files, environment and arguments, then run the unmodified program. */

interface Options {
  service: string;
  coordinator?: string;
  instanceId?: string;
  simDir?: string;
  measure: string[];
  root?: string;
  dnsName: string[];
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** Files go where the manifest says, folders created, mode 0600; `..` never escapes. */
function writeFiles(files: Record<string, Uint8Array>): void {
  for (const [path, data] of Object.entries(files)) {
    if (normalize(path).split(/[\\/]/).includes('..'))
      throw new CloisterError('MANIFEST_INVALID', `Files.${path}: ".." is not allowed`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, data, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
}

type Commit = (
  volume: string,
  changes: { path: string; expectedVersion: number; root: string }[],
) => Promise<Record<string, FileRecord>>;

/** After the program: commits read-write volumes, and removes every plaintext folder. */
async function closeVolumes(volumes: Unlocked[], commit: Commit): Promise<void> {
  let failure: Error | undefined;
  for (const v of volumes) {
    let changes: { path: string; expectedVersion: number; root: string }[] = [];
    try {
      if (v.grant.mode === 'read-write') {
        changes = sealChanges(v);
        if (changes.length > 0) {
          finishCommit(v, await commit(v.name, changes), changes);
          changes = [];
        }
      }
    } catch (error) {
      failure ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      discard(v, changes);
    }
  }
  if (failure) throw failure;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run an unmodified program as a service: attest, receive identity, secrets and configuration, then exec it',
    )
    .addOption(
      new Option('--service <name>', 'the service (Marble) of the manifest this program is')
        .env('CLOISTER_SERVICE')
        .makeOptionMandatory(),
    )
    .option(
      '--coordinator <host:port>',
      "the coordinator's mesh address (default: $CLOISTER_COORDINATOR, $EDG_MARBLE_COORDINATOR_ADDR or localhost:2001)",
    )
    .option('--instance-id <id>', 'a stable id of this instance (default: $CLOISTER_INSTANCE_ID or a random UUID)')
    .option('--sim-dir <dir>', "the simulated platform that signs this program's evidence")
    .option(
      '--measure <path>',
      "a file or folder that is part of the program's code (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--root <file>', 'the coordinator root certificate to require (PEM)')
    .option(
      '--dns-name <name>',
      "DNS name for this service's certificate (repeatable; default: the comma-separated $CLOISTER_DNS_NAMES)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .passThroughOptions()
    .argument('<program>', 'the program to run')
    .argument('[args...]', 'its arguments')
    .action(async (prog: string, args: string[], o: Options) => {
      try {
        const programPath = resolveProgram(prog);
        const to = parseAddress(
          o.coordinator ??
            process.env['CLOISTER_COORDINATOR'] ??
            process.env['EDG_MARBLE_COORDINATOR_ADDR'] ??
            'localhost:2001',
          '--coordinator',
        );
        const ca = o.root ? readFileSync(o.root, 'utf8') : undefined;
        const mesh = {
          post: async (path: string, body: unknown) =>
            (await call(to, 'POST', path, { ca, body: JSON.stringify(body) })).json(),
        };
        const evidence = simEvidence(loadPlatform(o.simDir ?? defaultSimDir()), {
          mrEnclave: measure(programPath, o.measure),
        });
        const a = await activate(mesh, evidence, {
          service: o.service,
          instanceId: o.instanceId ?? process.env['CLOISTER_INSTANCE_ID'],
          dnsNames:
            o.dnsName.length > 0 ? o.dnsName : (process.env['CLOISTER_DNS_NAMES'] ?? '').split(',').filter(Boolean),
        });
        writeFiles(a.rendered.files);
        const volumes = unlockVolumes(a.volumes, process.cwd());
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          ...a.rendered.env,
          // The names MarbleRun's marbles read, and cloister's own.
          MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN: a.certChain,
          MARBLE_PREDEFINED_PRIVATE_KEY: a.privateKey,
          MARBLE_PREDEFINED_ROOT_CA: a.rootCa,
          CLOISTER_CERT_CHAIN: a.certChain,
          CLOISTER_PRIVATE_KEY: a.privateKey,
          CLOISTER_ROOT_CA: a.rootCa,
          CLOISTER_SERVICE: o.service,
          CLOISTER_INSTANCE_ID: a.instanceId,
          ...(a.simulation ? { CLOISTER_SIMULATION: '1' } : {}),
          ...Object.fromEntries(
            volumes.map((v) => [`CLOISTER_VOLUME_${v.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, v.plainDir]),
          ),
        };
        // Argv from the manifest replaces the arguments; its first element is argv[0] (MarbleRun).
        const argv = a.rendered.argv.length > 0 ? a.rendered.argv.slice(1) : args;
        const child = spawn(isAbsolute(prog) || prog.includes('/') ? programPath : prog, argv, {
          stdio: 'inherit',
          env,
          argv0: a.rendered.argv[0] ?? prog,
        });
        for (const s of SIGNALS) process.on(s, () => child.kill(s));
        child.on('error', (e) => {
          process.stderr.write(`cloister: cannot start ${prog}: ${e.message}\n`);
          process.exit(127);
        });
        // The program's exit code, or 128 + the signal that ended it, as a shell reports it.
        child.on('exit', (code, signal) => {
          const status = code ?? 128 + (signal ? constants.signals[signal] : 0);
          // Read-write volumes: what the program changed is sealed, committed, then put in place.
          closeVolumes(volumes, (volume, changes) =>
            call(to, 'POST', '/mesh/v1/volumes/commit', {
              ca,
              cert: a.certChain,
              key: a.privateKey,
              body: JSON.stringify({ volume, changes }),
            }).then((r) => r.json<{ files: Record<string, FileRecord> }>().files),
          )
            .then(() => process.exit(status))
            .catch((error: unknown) => {
              reportError(error, false);
              process.exit(status === 0 ? 1 : status);
            });
        });
      } catch (error) {
        process.exitCode = reportError(error, false);
      }
    });
}
