import type https from 'node:https';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { DcapVerifier, customRoot, type Verdict } from '../attest/index.js';
import { simCollateral, type SimPlatform } from '../attest/sim/index.js';
import { Coordinator, type CoordinatorOptions } from '../coordinator/coordinator.js';
import { RECOVERY_MESSAGE, RecoveryMode } from '../coordinator/recovery-mode.js';
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
import { simEvidence } from '../evidence/sim.js';
import { selectProvider, TEE_CHOICES, type TeeChoice } from '../evidence/select.js';
import type { EvidenceProvider } from '../evidence/provider.js';
import { measure } from '../run/measure.js';
import { defaultSimDir, initPlatform, simulatedArk } from './sim.js';
import { evidenceVerifier } from './evidence-verifier.js';
import { parseAddress } from './net.js';
import { cloisterHome, log, parseCount, reportError, untilSignal } from './io.js';

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
  tee: string;
  tsmRoot?: string;
  devAttestation?: string;
  privlevel?: string;
  pccs?: string;
  kds?: string;
  collateralCache?: string;
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

/** The simulated platform of `--simulation`: its DCAP root and verifier, and its SEV-SNP ARK. */
async function simulatedPlatform(dir: string, now: number) {
  const { platform } = await initPlatform(dir, now);
  return { platform, snpArk: () => simulatedArk(dir), dcap: new DcapVerifier(customRoot(platform.root.cert.der)) };
}

/**
 * The coordinator's own evidence, from the provider `--tee` picks (docs/trust-model.md: clients
 * attest it). On the simulated platform (`--simulation`) whatever the provider gives is labelled
 * simulation and comes with the simulated collateral; otherwise a real TEE is required.
 */
async function ownEvidence(o: Options, platform: SimPlatform | undefined): Promise<EvidenceProvider> {
  if (!Object.hasOwn(TEE_CHOICES, o.tee))
    throw new CloisterError('USAGE', `--tee: one of ${Object.keys(TEE_CHOICES).join(', ')}`);
  const { provider, found } = await selectProvider({
    tee: o.tee as TeeChoice,
    tsmRoot: o.tsmRoot,
    devAttestation: o.devAttestation,
    privlevel: o.privlevel === undefined ? undefined : parseCount(o.privlevel, '--privlevel', 0),
    simulated: () => {
      if (!platform)
        throw new CloisterError(
          'NO_TEE',
          "no TEE found for the coordinator's own evidence: run it inside one (--tee sgx|tdx|snp), or with --simulation",
        );
      return simEvidence(platform, { mrEnclave: coordinatorMeasurement() });
    },
  });
  log({ level: 'info', event: 'evidence', source: provider.source, found });
  if (!platform) return provider;
  if (provider.simulation) return provider;
  // An emulated interface on the simulated platform: its quotes are the simulated platform's.
  let held: { value: Promise<unknown>; until: number } | undefined;
  const tee = provider.tee;
  return {
    ...provider,
    simulation: true,
    trustRoot: platform.root.cert.der,
    collateral() {
      if (tee === 'snp') return Promise.resolve(undefined);
      const now = Date.now() / 1000;
      if (!held || now > held.until) held = { value: simCollateral(platform, { now, tee }), until: now + 29 * 86_400 };
      return held.value;
    },
  };
}

/** Starts the coordinator on its data directory, which it holds alone (a second one there is STATE_LOCKED). */
export function startCoordinator(o: Options): Promise<RunningCoordinator> {
  return underLock(o.dataDir, () => openCoordinator(o));
}

async function openCoordinator(o: Options): Promise<RunningCoordinator> {
  const client = parseAddress(o.clientAddr, '--client-addr');
  const mesh = parseAddress(o.meshAddr, '--mesh-addr');
  const now = () => Date.now() / 1000;
  const sim = o.simulation ? await simulatedPlatform(o.simDir ?? defaultSimDir(), now()) : undefined;
  const own = await ownEvidence(o, sim?.platform);
  const verifyAny = evidenceVerifier({
    simulation: sim && { dcapRoot: sim.platform.root.cert.der, snpArk: sim.snpArk, platform: sim.platform },
    online: { pcsUrl: o.pccs, kdsUrl: o.kds, cacheDir: o.collateralCache ?? cloisterHome('collateral') },
  });
  // The manifest decides which roots apply: simulated evidence only for packages of TEE "sim".
  const verify = async (evidence: Uint8Array, tee: string) => {
    if (tee === 'sim' && !sim)
      throw new CloisterError(
        'ACTIVATION_REFUSED',
        'packages of TEE "sim" are verified only by a coordinator started with --simulation',
      );
    let verdict: Verdict;
    try {
      verdict = await verifyAny(evidence, { simulated: tee === 'sim', now: now() });
    } catch (error) {
      // The newcomer's trap: a package for hardware, and a program on the simulated platform.
      if (tee !== 'sim' && sim && (await verifyAny(evidence, { simulated: true, now: now() }).catch(() => undefined)))
        throw new CloisterError(
          'ACTIVATION_REFUSED',
          `the evidence is from the simulated platform, and the package has TEE "${tee}": on the simulated platform a package says "TEE": "sim"`,
          { cause: error },
        );
      throw error;
    }
    if (tee !== 'sim' && verdict.tee !== tee)
      throw new CloisterError('ACTIVATION_REFUSED', `the package is for ${tee}, the evidence is ${verdict.tee}`);
    return verdict;
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
  // The attestation service keeps its keys in a sealed state of its own, under the same state key
  // (so that it moves and recovers with the coordinator's; a data directory from before state keys
  // has the platform key as its state key). It runs on the simulated platform only.
  if (o.maa && !sim)
    throw new CloisterError(
      'USAGE',
      '--maa: the attestation service of this build runs on the simulated platform (--simulation)',
    );
  let maa: AttestationService | undefined;
  const openMaa = async (stateKey: Uint8Array) => {
    maa =
      o.maa && sim
        ? await AttestationService.open({
            instance: (o.maaInstanceUrl ?? `https://${o.clientAddr}`).replace(/\/+$/, ''),
            store: timedStore(
              fileStore({ dir: join(o.dataDir, 'maa'), key: stateKey }),
              registry,
              'attestation-service',
            ),
            verified: verificationMetrics(registry, 'maa'),
            dcap: sim.dcap,
            collateral: simulatedCollateral(sim.dcap, sim.platform),
            ...servicePolicy(o.maaPolicy, true),
            now: () => Date.now() / 1000,
          })
        : undefined;
    return maa;
  };

  // The route tables are filled below, and refilled when a coordinator in recovery mode is recovered.
  const clientRoutes: Record<string, Handler> = {};
  const meshRoutes: Record<string, Handler> = {};
  // A client command pointed at the mesh address (or a service at the client address) is told where it is.
  // In recovery mode, any other endpoint is answered with what the coordinator waits for.
  let recovering = false;
  const servedAt = (prefix: string, api: string, address: string) => (path: string) =>
    recovering
      ? RECOVERY_MESSAGE
      : path.startsWith(prefix)
        ? `this is the coordinator's ${api}; ${prefix}* is served at ${address}`
        : undefined;
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
  const serveCoordinator = async (coordinator: Coordinator, service: AttestationService | undefined) => {
    current = coordinator;
    // The dashboard's verdict on the coordinator's own evidence: the verifier of workloads, untimed (it is no activation).
    const ownVerdict = async () => {
      const { evidence, collateral } = await coordinator.quote();
      return verifyAny(evidence, { simulated: own.simulation, now: now(), collateral });
    };
    await serve(coordinator.ca, {
      client: {
        ...clientApi(coordinator),
        ...dashboardApi(coordinator, ownVerdict),
        ...(service ? maaApi(service, attested) : {}),
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
    await serveCoordinator(coordinator, await openMaa(keyring.stateKey));
    status = coordinator.status();
  } else {
    const recovery: RecoveryMode = new RecoveryMode({
      own,
      log,
      ca: await createCa({ now: Date.now() / 1000 }),
      data: keyring.recoveryData && decodeRecoveryData(keyring.recoveryData),
      recover: async (recoveryKey, holders) => {
        const { coordinator, stateKey } = await recoverState(o.dataDir, keyring, recoveryKey, options, timed);
        await coordinator.recovered(holders);
        await serveCoordinator(coordinator, await openMaa(stateKey));
        recovering = false;
        log({ level: 'info', event: 'serving', ...coordinator.status() });
      },
    });
    await serve(recovery.ca, recoveryApi(recovery));
    recovering = true;
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
    simulation: own.simulation,
    evidence: own.source,
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
    get maa() {
      return maa;
    },
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
): Promise<{ coordinator: Coordinator; stateKey: Uint8Array }> {
  const stateKey = keyring.unwrap(recoveryKey);
  const store = fileStore({ dir, key: stateKey });
  try {
    await store.read();
  } catch (cause) {
    throw new CloisterError('RECOVERY_FAILED', 'the recovered state key does not open the sealed state', { cause });
  }
  await keyring.reseal(stateKey);
  return {
    coordinator: await Coordinator.open({ store: timed(fileStore({ dir, key: stateKey })), ...options }),
    stateKey,
  };
}

export function registerCoordinator(program: Command): void {
  program
    .command('coordinator')
    .description('run the coordinator: client API (users) and mesh API (workload activation) over HTTPS')
    .requiredOption('--data-dir <dir>', 'where the sealed state lives')
    .option('--client-addr <host:port>', 'client API address', 'localhost:4433')
    .option('--mesh-addr <host:port>', 'mesh API address (workload activation)', 'localhost:2001')
    .option(
      '--simulation',
      'the simulated platform: its own evidence is simulated (or from an emulated interface), and packages of TEE "sim" are verified against the simulation roots',
    )
    .option('--sim-dir <dir>', 'the simulated platform (default: $CLOISTER_SIM_DIR or ~/.cloister/sim)')
    .addOption(
      new Option(
        '--tee <kind>',
        `where its own evidence comes from: ${Object.entries(TEE_CHOICES)
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
    .option('--privlevel <n>', 'SEV-SNP: the VMPL to request its reports at')
    .option('--pccs <url>', "where genuine SGX/TDX quotes' collateral comes from: a PCCS, or Intel's PCS (the default)")
    .option('--kds <url>', "AMD's KDS (default), for SEV-SNP reports that come without the host's certificates")
    .option('--collateral-cache <dir>', 'where fetched collateral is kept (default ~/.cloister/collateral)')
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
        if (o.maa)
          process.on(
            'SIGHUP',
            () =>
              void running.maa?.rotate().then(
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
