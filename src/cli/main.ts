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
import { EXIT } from './io.js';

/** The `cloister` command tree. Usage errors exit 2. */
export function program(): Command {
  const p = new Command('cloister')
    .description('control plane for confidential containers: attestation, provisioning, verifiability')
    .version('0.1.0')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => write(`cloister: ${text}`) });
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
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exit code 0; everything else commander refuses is a usage error.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    throw error;
  }
}
