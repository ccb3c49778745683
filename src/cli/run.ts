import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';
import { parsePolicy } from '../attest/index.js';
import { pemCertificates } from '../attest/lib/x509.js';
import { pemCert } from '../pki/index.js';
import type { FileRecord } from '../protocol/index.js';
import { activate } from '../run/activate.js';
import { simEvidence } from '../evidence/sim.js';
import { selectProvider, TEE_CHOICES, type TeeChoice } from '../evidence/select.js';
import { launch } from '../run/launch.js';
import { instanceIdFromFile, marbleEnvironment } from '../run/marble-env.js';
import { measure, resolveProgram } from '../run/measure.js';
import type { SimPlatform } from '../attest/sim/index.js';
import { attestCoordinator } from './attest-coordinator.js';
import { defaultSimDir, loadPlatform, simulatedArk } from './sim.js';
import { call, parseAddress, type Endpoint } from './net.js';
import { parseCount, readJson, reportError } from './io.js';

/** `cloister run`: attest, receive identity, secrets and configuration, then run the unmodified program. */

interface Options {
  service?: string;
  coordinator?: string;
  instanceId?: string;
  simDir?: string;
  measure: string[];
  root?: string;
  coordinatorPolicy?: string;
  insecureTrustFirstUse?: boolean;
  dnsName: string[];
  simSvn?: string;
  tee: string;
  tsmRoot?: string;
  devAttestation?: string;
  privlevel?: string;
}

/** How this run came to trust the coordinator, for its log line and the program's environment. */
type Trust = 'pinned-root' | 'attested' | 'insecure-trust-first-use';

/** A PEM certificate, or COORDINATOR_UNTRUSTED saying where the text came from. */
function rootPem(text: string, from: string): string {
  try {
    const [root] = pemCertificates(text, from);
    if (root) return pemCert(root);
  } catch {
    // said below
  }
  throw new CloisterError('COORDINATOR_UNTRUSTED', `${from}: not a PEM certificate (the coordinator's root)`);
}

/**
 * The root the coordinator must chain to (docs/trust-model.md). A workload talks only to a
 * coordinator it has authenticated: through a pinned root (`--root FILE`,
 * `$CLOISTER_COORDINATOR_ROOT`), or by attesting it against an expected identity
 * (`--coordinator-policy FILE`, `$CLOISTER_COORDINATOR_POLICY`), or, on the simulated platform
 * only and labelled as insecure, by accepting whatever simulation coordinator answers first.
 */
async function coordinatorRoot(
  o: Options,
  to: Endpoint,
  platform: () => SimPlatform,
): Promise<{ ca: string; trust: Trust }> {
  const simulation = () => ({
    simulationRoot: platform().root.cert.der,
    simulationArk: simulatedArk(o.simDir ?? defaultSimDir()),
  });
  const pinned = process.env['CLOISTER_COORDINATOR_ROOT'];
  if (o.root !== undefined) return { ca: rootPem(readFileSync(o.root, 'utf8'), o.root), trust: 'pinned-root' };
  if (pinned) return { ca: rootPem(pinned, '$CLOISTER_COORDINATOR_ROOT'), trust: 'pinned-root' };
  const policyText = process.env['CLOISTER_COORDINATOR_POLICY'];
  const policy =
    o.coordinatorPolicy !== undefined
      ? parsePolicy(readJson(o.coordinatorPolicy))
      : policyText
        ? parsePolicy(new JsonReader('POLICY_INVALID', '$CLOISTER_COORDINATOR_POLICY').parse(policyText))
        : undefined;
  if (policy || o.insecureTrustFirstUse) {
    const expectation = policy
      ? policy.allowSimulation
        ? { policy, ...simulation() }
        : { policy }
      : { policy: { allowSimulation: true }, ...simulation() };
    // Simulated evidence proves no code identity: without a policy this accepts any simulation coordinator.
    const { root } = await attestCoordinator(to, expectation, Date.now() / 1000, '/mesh/v1/quote');
    return { ca: pemCert(root), trust: policy ? 'attested' : 'insecure-trust-first-use' };
  }
  throw new CloisterError(
    'COORDINATOR_UNTRUSTED',
    'cloister run talks only to a coordinator it can authenticate: pin its root (--root FILE or $CLOISTER_COORDINATOR_ROOT holding the PEM that `cloister verify` wrote), or attest it (--coordinator-policy FILE or $CLOISTER_COORDINATOR_POLICY holding the policy JSON); on the simulated platform, --insecure-trust-first-use accepts any simulation coordinator',
  );
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run an unmodified program as a service: attest, receive identity, secrets and configuration, then exec it',
    )
    .option(
      '--service <name>',
      'the service (Marble) of the manifest this program is (default: $CLOISTER_SERVICE or $EDG_MARBLE_TYPE)',
    )
    .option(
      '--coordinator <host:port>',
      "the coordinator's mesh address (default: $CLOISTER_COORDINATOR, $EDG_MARBLE_COORDINATOR_ADDR or localhost:2001)",
    )
    .option(
      '--instance-id <id>',
      'a stable id of this instance (default: $CLOISTER_INSTANCE_ID, the UUID in $EDG_MARBLE_UUID_FILE, created there if missing, or a random UUID)',
    )
    .addOption(
      new Option(
        '--tee <kind>',
        `where this program's evidence comes from: ${Object.entries(TEE_CHOICES)
          .map(([k, v]) => `${k} (${v})`)
          .join('; ')}`,
      )
        .env('CLOISTER_TEE')
        .default('auto'),
    )
    .addOption(
      new Option('--tsm-root <dir>', 'the configfs-tsm mount point (default /sys/kernel/config/tsm)').env(
        'CLOISTER_TSM_ROOT',
      ),
    )
    .addOption(
      new Option('--dev-attestation <dir>', "the library OS's attestation folder (default /dev/attestation)").env(
        'CLOISTER_DEV_ATTESTATION',
      ),
    )
    .option('--privlevel <n>', 'SEV-SNP: the VMPL to request the report at (configfs-tsm privlevel)')
    .option('--sim-dir <dir>', "the simulated platform that signs this program's evidence")
    .option('--sim-svn <n>', 'the security version (ISVSVN) of the simulated enclave, as its signer would set it', '0')
    .option(
      '--measure <path>',
      "a file or folder that is part of the program's code (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--root <file>', "the coordinator's root certificate to require (PEM; or $CLOISTER_COORDINATOR_ROOT)")
    .option(
      '--coordinator-policy <file>',
      'attest the coordinator against this policy (the JSON of `cloister attest verify --policy`; or $CLOISTER_COORDINATOR_POLICY)',
    )
    .option(
      '--insecure-trust-first-use',
      'simulation only: accept whatever simulation coordinator answers, without a pinned root or identity',
    )
    .option(
      '--dns-name <name>',
      "DNS name for this service's certificate (repeatable; default: the comma-separated $CLOISTER_DNS_NAMES or $EDG_MARBLE_DNS_NAMES)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .passThroughOptions()
    .argument('<program>', 'the program to run')
    .argument('[args...]', 'its arguments')
    .action(async (prog: string, args: string[], o: Options) => {
      try {
        // MarbleRun's premain environment, so a Marble's deployment runs unchanged (run/marble-env.ts).
        const marble = marbleEnvironment(process.env);
        const service = o.service ?? marble.service;
        if (service === undefined)
          throw new CloisterError(
            'USAGE',
            'cloister run needs --service NAME (or $CLOISTER_SERVICE, $EDG_MARBLE_TYPE)',
          );
        const programPath = resolveProgram(prog);
        const to = parseAddress(o.coordinator ?? marble.coordinator ?? 'localhost:2001', '--coordinator');
        if (!Object.hasOwn(TEE_CHOICES, o.tee))
          throw new CloisterError('USAGE', `--tee: one of ${Object.keys(TEE_CHOICES).join(', ')}`);
        // The simulated platform is read only when something needs it (simulated evidence, a simulation coordinator).
        let platform: SimPlatform | undefined;
        const simPlatform = () => (platform ??= loadPlatform(o.simDir ?? defaultSimDir()));
        const { provider: evidence, found } = await selectProvider({
          tee: o.tee as TeeChoice,
          tsmRoot: o.tsmRoot,
          devAttestation: o.devAttestation,
          privlevel: o.privlevel === undefined ? undefined : parseCount(o.privlevel, '--privlevel', 0),
          simulated: () =>
            simEvidence(simPlatform(), {
              mrEnclave: measure(programPath, o.measure),
              isvSvn: parseCount(o.simSvn ?? '0', '--sim-svn', 0),
            }),
        });
        process.stderr.write(`cloister: evidence from ${evidence.source} (--tee ${o.tee}: ${found.join('; ')})\n`);
        const { ca, trust } = await coordinatorRoot(o, to, simPlatform);
        if (trust === 'insecure-trust-first-use')
          process.stderr.write(
            'cloister: INSECURE (--insecure-trust-first-use): the coordinator was accepted without a pinned root or expected identity; anyone who can run a simulation coordinator could have answered\n',
          );
        const mesh = {
          post: async (path: string, body: unknown) =>
            (await call(to, 'POST', path, { ca, body: JSON.stringify(body) })).json(),
        };
        const activated = await activate(mesh, evidence, {
          service,
          instanceId:
            o.instanceId ?? marble.instanceId ?? (marble.uuidFile ? instanceIdFromFile(marble.uuidFile) : undefined),
          dnsNames: o.dnsName.length > 0 ? o.dnsName : marble.dnsNames,
        });
        const status = await launch(activated, {
          service,
          program: prog,
          programPath,
          args,
          cwd: process.cwd(),
          env: { ...process.env, CLOISTER_COORDINATOR_TRUST: trust },
          commit: async (volume, changes) =>
            (
              await call(to, 'POST', '/mesh/v1/volumes/commit', {
                ca,
                cert: activated.certChain,
                key: activated.privateKey,
                body: JSON.stringify({ volume, changes }),
              })
            ).json<{ files: Record<string, FileRecord> }>().files,
          report: (error) => reportError(error, false),
        });
        process.exit(status);
      } catch (error) {
        process.exitCode = reportError(error, false);
      }
    });
}
