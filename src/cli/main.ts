import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { registerAttest } from './attest.js';
import { registerSim } from './sim.js';
import { registerClient, registerSimMeasure } from './client.js';
import { registerLifecycle } from './lifecycle.js';
import { registerCoordinator } from './coordinator.js';
import { registerRun } from './run.js';
import { registerProtect } from './protect.js';
import { registerK8s } from './k8s.js';
import { registerAttestationService } from './attestation-service.js';
import { CloisterError } from '../lib/errors.js';
import { EXIT, reportError } from './io.js';

/**
 * The `cloister` command tree. Usage errors exit 2; with `--json` they are printed as the one
 * JSON object of the command (`{ ok: false, error: { code: 'USAGE', message } }`), not as text.
 */
export function program(json = false): Command {
  const p = new Command('cloister')
    .description('control plane for confidential containers: attestation, provisioning, verifiability')
    .version('0.1.0')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => (json ? undefined : write(`cloister: ${text}`)) });
  registerAttest(p);
  registerSimMeasure(registerSim(p));
  registerCoordinator(p);
  registerRun(p);
  registerClient(p);
  registerLifecycle(p);
  registerProtect(p);
  registerK8s(p);
  registerAttestationService(p);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(p)) c.exitOverride();
  return p;
}

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    await program(json).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exit code 0; everything else commander refuses is a usage error.
      // Commander has printed its message already, unless --json asked for the one JSON object instead.
      if (error.exitCode !== 0 && json)
        reportError(new CloisterError('USAGE', error.message.replace(/^error: /, ''), { cause: error }), true);
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    throw error;
  }
}
