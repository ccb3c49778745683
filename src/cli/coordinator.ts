import type https from 'node:https';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { DcapVerifier, customRoot, type PreparedCollateral } from '../attest/index.js';
import { Coordinator, type CoordinatorOptions } from '../coordinator/coordinator.js';
import { RecoveryMode } from '../coordinator/recovery-mode.js';
import { decodeRecoveryData } from '../coordinator/recovery.js';
import { createCa } from '../pki/index.js';
import { httpsServer, listen, servingIdentity } from '../server/listen.js';
import { fileStore, openStateKey, sealingKey, underLock, type SealedStore, type StateKeyring } from '../store/index.js';
import { clientApi, meshApi, recoveryApi } from '../server/api.js';
import { MAX_BODY, PROBLEM_DETAILS, router, type Handler } from '../server/http.js';
import { maaApi, maaErrorsBeside } from '../server/maa.js';
import { dashboardApi } from '../server/dashboard.js';
import {
  attestationCounter,
  coordinatorMetrics,
  metricsRegistry,
  timedStore,
  timedVerifier,
  verificationMetrics,
} from '../server/metrics.js';
import { METRICS_OPTION, startMetrics } from './metrics.js';
import { AttestationService } from '../attestation-service/index.js';
import { servicePolicy, simulatedCollateral } from './attestation-service.js';
import { join } from 'node:path';
import { simEvidence } from '../run/evidence.js';
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
  /** Serve Prometheus metrics over plain HTTP at this address (docs/metrics.md). */
  metricsAddr?: string;
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
  const registry = metricsRegistry('coordinator');
  const timed = (store: SealedStore) => timedStore(store, registry, 'coordinator');
  const key = await sealingKey(o.dataDir);
  // The names it serves under (beyond localhost and the loopback and unspecified addresses) are its own.
  const servingNames = [client.host, mesh.host, ...o.dnsName].filter(
    (name) => !['localhost', '127.0.0.1', '::1', '0.0.0.0', '::'].includes(name.toLowerCase()),
  );
  const keyring = await openStateKey(o.dataDir, key);
  const options = {
    own,
    verify: timedVerifier(verify, verificationMetrics(registry, 'mesh')),
    log,
    servingNames,
    vault: keyring,
  };
  /** The coordinator being served: none in recovery mode, until it is recovered. */
  let current: Coordinator | undefined;
  const activated = coordinatorMetrics(registry, () => current);
  // The attestation service keeps its keys in a sealed state of its own, under the same sealing key.
  const maa = o.maa
    ? await AttestationService.open({
        instance: (o.maaInstanceUrl ?? `https://${o.clientAddr}`).replace(/\/+$/, ''),
        store: timedStore(fileStore({ dir: join(o.dataDir, 'maa'), key }), registry, 'attestation-service'),
        verified: verificationMetrics(registry, 'maa'),
        dcap: verifier,
        collateral: simulatedCollateral(verifier, platform),
        ...servicePolicy(o.maaPolicy, true),
        now: () => Date.now() / 1000,
      })
    : undefined;

  // The route tables are filled below, and refilled when a coordinator in recovery mode is recovered.
  const clientRoutes: Record<string, Handler> = {};
  const meshRoutes: Record<string, Handler> = {};
  // A client command pointed at the mesh address (or a service at the client address) is told where it is.
  const servedAt = (prefix: string, api: string, address: string) => (path: string) =>
    path.startsWith(prefix) ? `this is the coordinator's ${api}; ${prefix}* is served at ${address}` : undefined;
  const clientServer = httpsServer(
    { requestCert: true, rejectUnauthorized: false },
    router(
      clientRoutes,
      log,
      MAX_BODY,
      maaErrorsBeside(PROBLEM_DETAILS),
      servedAt('/mesh/', `client API (${o.clientAddr})`, `the mesh address ${o.meshAddr}`),
    ),
  );
  // Activated services present their coordinator-issued certificate to commit volume files.
  const meshServer = httpsServer(
    { requestCert: true, rejectUnauthorized: false },
    router(
      meshRoutes,
      log,
      MAX_BODY,
      PROBLEM_DETAILS,
      servedAt('/api/', `mesh API for services (${o.meshAddr})`, `the client address ${o.clientAddr} (--coordinator)`),
    ),
  );
  /** Serves `routes` under a fresh TLS key each start (or recovery), certified by `ca`. */
  const serve = async (
    ca: Coordinator['ca'],
    routes: { client: Record<string, Handler>; mesh: Record<string, Handler> },
  ) => {
    const tls = await servingIdentity(ca, 'cloister coordinator', servingNames, Date.now() / 1000);
    for (const server of [clientServer, meshServer]) server.setSecureContext(tls);
    for (const [table, next] of [
      [clientRoutes, routes.client],
      [meshRoutes, routes.mesh],
    ] as const) {
      for (const route of Object.keys(table)) delete table[route];
      Object.assign(table, next);
    }
  };
  const attested = attestationCounter(registry);
  const serveCoordinator = async (coordinator: Coordinator) => {
    current = coordinator;
    // The dashboard's verdict on the coordinator's own evidence: the verifier of workloads, untimed (it is no activation).
    const ownVerdict = async () => verify((await coordinator.quote()).evidence, 'sgx');
    await serve(coordinator.ca, {
      client: {
        ...clientApi(coordinator),
        ...dashboardApi(coordinator, ownVerdict),
        ...(maa ? maaApi(maa, attested) : {}),
      },
      mesh: meshApi(coordinator, activated),
    });
  };

  let status: Record<string, unknown>;
  if (keyring.stateKey) {
    const coordinator = await Coordinator.open({
      store: timed(fileStore({ dir: o.dataDir, key: keyring.stateKey })),
      ...options,
    });
    await serveCoordinator(coordinator);
    status = coordinator.status();
  } else {
    const recovery: RecoveryMode = new RecoveryMode({
      own,
      log,
      ca: await createCa({ now: Date.now() / 1000 }),
      data: keyring.recoveryData && decodeRecoveryData(keyring.recoveryData),
      recover: async (recoveryKey, holders) => {
        const coordinator = await recoverState(o.dataDir, keyring, recoveryKey, options, timed);
        await coordinator.recovered(holders);
        await serveCoordinator(coordinator);
        log({ level: 'info', event: 'serving', ...coordinator.status() });
      },
    });
    await serve(recovery.ca, recoveryApi(recovery));
    status = recovery.status();
    log({ level: 'warn', event: 'recovery-mode', message: status['message'] });
  }
  await listen(clientServer, client.host, client.port);
  await listen(meshServer, mesh.host, mesh.port);
  const metrics = await startMetrics(o.metricsAddr, registry);
  log({
    level: 'info',
    event: 'listening',
    client: o.clientAddr,
    mesh: o.meshAddr,
    ...status,
    simulation: true,
    ...(maa ? { maaKid: maa.signingKey.kid } : {}),
    // What each address serves (the authorisation test checks it has a row for every route).
    routes: {
      client: Object.keys(clientRoutes),
      mesh: Object.keys(meshRoutes),
      ...(metrics ? { metrics: metrics.routes } : {}),
    },
    ...(o.metricsAddr ? { metricsAddr: o.metricsAddr } : {}),
  });
  return {
    maa,
    client: clientServer,
    mesh: meshServer,
    close: async () => {
      await Promise.all([...[clientServer, meshServer].map((s) => new Promise((r) => s.close(r))), metrics?.close()]);
    },
  };
}

/**
 * Opens the state of `dir` with the recovery key: the state key it unwraps must open the sealed
 * state (RECOVERY_FAILED otherwise, and nothing is written); then the state key is sealed under
 * this platform's key, so that the next start needs no recovery.
 */
async function recoverState(
  dir: string,
  keyring: StateKeyring,
  recoveryKey: Uint8Array,
  options: Omit<CoordinatorOptions, 'store'>,
  timed: (store: SealedStore) => SealedStore,
): Promise<Coordinator> {
  const stateKey = keyring.unwrap(recoveryKey);
  const store = fileStore({ dir, key: stateKey });
  try {
    await store.read();
  } catch (cause) {
    throw new CloisterError('RECOVERY_FAILED', 'the recovered state key does not open the sealed state', { cause });
  }
  await keyring.reseal(stateKey);
  return Coordinator.open({ store: timed(fileStore({ dir, key: stateKey })), ...options });
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
    .option(...METRICS_OPTION)
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
