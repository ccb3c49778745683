import type https from 'node:https';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { DcapVerifier, customRoot, type PreparedCollateral } from '../attest/index.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { httpsServer, listen, servingIdentity } from '../server/listen.js';
import { fileStore, sealingKey, underLock } from '../store/index.js';
import { clientApi, meshApi } from '../server/api.js';
import { MAX_BODY, PROBLEM_DETAILS, router } from '../server/http.js';
import { maaApi, maaErrorsBeside } from '../server/maa.js';
import { AttestationService } from '../attestation-service/index.js';
import { servicePolicy, simulatedCollateral } from './attestation-service.js';
import { join } from 'node:path';
import { simEvidence } from '../evidence/sim.js';
import { measure } from '../run/measure.js';
import { defaultSimDir, initPlatform } from './sim.js';
import { parseAddress } from './net.js';
import { log, reportError, untilSignal } from './io.js';

/** `cloister coordinator`: the state machine behind the client and mesh HTTPS APIs. */

/** The simulated MRENCLAVE of the coordinator: its entry point and all of cloister's built code, measured as workloads are. */
export function coordinatorMeasurement(): Uint8Array {
  return measure(fileURLToPath(new URL('./main.js', import.meta.url)), [fileURLToPath(new URL('..', import.meta.url))]);
}

interface Options {
  dataDir: string;
  clientAddr: string;
  meshAddr: string;
  simulation?: boolean;
  simDir?: string;
  dnsName: string[];
  /** Serve the MAA-compatible attestation API on the client address too (docs/attestation-service.md). */
  maa?: boolean;
  maaPolicy?: string;
  maaInstanceUrl?: string;
}

interface RunningCoordinator {
  close(): Promise<void>;
  client: https.Server;
  mesh: https.Server;
  maa: AttestationService | undefined;
}

/** Starts the coordinator on its data directory, which it holds alone (a second one there is STATE_LOCKED). */
export function startCoordinator(o: Options): Promise<RunningCoordinator> {
  return underLock(o.dataDir, () => openCoordinator(o));
}

async function openCoordinator(o: Options): Promise<RunningCoordinator> {
  const client = parseAddress(o.clientAddr, '--client-addr');
  const mesh = parseAddress(o.meshAddr, '--mesh-addr');
  if (!o.simulation)
    throw new CloisterError(
      'NO_TEE',
      'this build has no hardware evidence provider for the coordinator: run it with --simulation (evidence from the simulated platform)',
    );
  const { platform } = await initPlatform(o.simDir ?? defaultSimDir(), Date.now() / 1000);
  const own = simEvidence(platform, { mrEnclave: coordinatorMeasurement() });
  const verifier = new DcapVerifier(customRoot(platform.root.cert.der));
  let prepared: { collateral: Promise<unknown>; value: PreparedCollateral } | undefined;
  const verify = async (evidence: Uint8Array, tee: string) => {
    if (tee !== 'sim' && tee !== 'sgx')
      throw new CloisterError(
        'ACTIVATION_REFUSED',
        `packages of TEE "${tee}" cannot be verified by a simulation coordinator`,
      );
    const collateral = own.collateral();
    if (prepared?.collateral !== collateral) prepared = { collateral, value: verifier.prepare(await collateral) };
    return verifier.verify(evidence, { collateral: prepared.value, now: Date.now() / 1000, tee: 'sgx' });
  };
  const key = await sealingKey(o.dataDir);
  const store = fileStore({ dir: o.dataDir, key });
  // The names it serves under (beyond localhost and the loopback and unspecified addresses) are its own.
  const servingNames = [client.host, mesh.host, ...o.dnsName].filter(
    (name) => !['localhost', '127.0.0.1', '::1', '0.0.0.0', '::'].includes(name.toLowerCase()),
  );
  const coordinator = await Coordinator.open({ store, own, verify, log, servingNames });
  // The attestation service keeps its keys in a sealed state of its own, under the same sealing key.
  const maa = o.maa
    ? await AttestationService.open({
        instance: (o.maaInstanceUrl ?? `https://${o.clientAddr}`).replace(/\/+$/, ''),
        store: fileStore({ dir: join(o.dataDir, 'maa'), key }),
        dcap: verifier,
        collateral: simulatedCollateral(verifier, platform),
        ...servicePolicy(o.maaPolicy, true),
        now: () => Date.now() / 1000,
      })
    : undefined;

  // The TLS identity of both APIs: a fresh key each start, certified by the coordinator's CA.
  const tls = await servingIdentity(coordinator.ca, 'cloister coordinator', servingNames, Date.now() / 1000);
  const clientRoutes = maa ? { ...clientApi(coordinator), ...maaApi(maa) } : clientApi(coordinator);
  const meshRoutes = meshApi(coordinator);
  const clientServer = httpsServer(
    { ...tls, requestCert: true, rejectUnauthorized: false },
    router(clientRoutes, log, MAX_BODY, maaErrorsBeside(PROBLEM_DETAILS)),
  );
  // Activated services present their coordinator-issued certificate to commit volume files.
  const meshServer = httpsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, router(meshRoutes, log));
  await listen(clientServer, client.host, client.port);
  await listen(meshServer, mesh.host, mesh.port);
  log({
    level: 'info',
    event: 'listening',
    client: o.clientAddr,
    mesh: o.meshAddr,
    ...coordinator.status(),
    simulation: true,
    ...(maa ? { maaKid: maa.signingKey.kid } : {}),
    // What each address serves (the authorisation test checks it has a row for every route).
    routes: { client: Object.keys(clientRoutes), mesh: Object.keys(meshRoutes) },
  });
  return {
    maa,
    client: clientServer,
    mesh: meshServer,
    close: async () => {
      await Promise.all([clientServer, meshServer].map((s) => new Promise((r) => s.close(r))));
    },
  };
}

export function registerCoordinator(program: Command): void {
  program
    .command('coordinator')
    .description('run the coordinator: client API (users) and mesh API (workload activation) over HTTPS')
    .requiredOption('--data-dir <dir>', 'where the sealed state lives')
    .option('--client-addr <host:port>', 'client API address', 'localhost:4433')
    .option('--mesh-addr <host:port>', 'mesh API address (workload activation)', 'localhost:2001')
    .option('--simulation', 'evidence from the simulated platform (no TEE); trusts the simulation root for workloads')
    .option('--sim-dir <dir>', 'the simulated platform (default: $CLOISTER_SIM_DIR or ~/.cloister/sim)')
    .option(
      '--dns-name <name>',
      "extra DNS name or IP in the coordinator's TLS certificate (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--maa',
      'also serve the Azure Attestation-compatible API (/attest/*, /certs) on the client address; SIGHUP rotates its signing key',
    )
    .option('--maa-policy <file>', 'the JSON policy of that API (default: UpToDate only, no debug)')
    .option(
      '--maa-instance-url <url>',
      "the URL clients use for that API, its tokens' iss (default https://<client-addr>)",
    )
    .action(async (o: Options) => {
      try {
        const running = await startCoordinator(o);
        const maa = running.maa;
        if (maa)
          process.on(
            'SIGHUP',
            () =>
              void maa.rotate().then(
                (kid) => log({ level: 'info', event: 'rotated', kid }),
                (e: unknown) => log({ level: 'error', event: 'rotation failed', message: String(e) }),
              ),
          );
        untilSignal(() => running.close());
      } catch (error) {
        process.exitCode = reportError(error, false);
      }
    });
}
