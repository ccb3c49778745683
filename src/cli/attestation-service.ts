import { readdirSync, statSync } from 'node:fs';
import type https from 'node:https';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CloisterError } from '../lib/errors.js';
import { DcapVerifier, customRoot, parsePolicy, type Policy, type QuoteCollateralV3 } from '../attest/index.js';
import { simCollateral } from '../attest/sim/index.js';
import { getCollateral } from '../collateral/index.js';
import {
  AttestationService,
  collateralSet,
  fixedCollateral,
  type CollateralSet,
  type CollateralSource,
} from '../attestation-service/index.js';
import { pemCert } from '../pki/index.js';
import { httpsServer, listen as listenAt, servingIdentity } from '../server/listen.js';
import { fileStore, sealingKey, underLock } from '../store/index.js';
import { MAA_ERRORS, maaApi } from '../server/maa.js';
import { MAX_BODY, router } from '../server/http.js';
import { attestationCounter, metricsRegistry, timedStore, verificationMetrics } from '../server/metrics.js';
import { METRICS_OPTION, startMetrics } from './metrics.js';
import { defaultSimDir, initPlatform } from './sim.js';
import { parseAddress } from './net.js';
import { action, cloisterHome, log, parseTime, readInput, readJson, untilSignal, writeOutput } from './io.js';

/**
 * `cloister attestation-service`: the MAA-compatible attestation service over HTTPS, its signing
 * keys and TLS CA sealed in a data directory (docs/attestation-service.md).
 */

export interface AttestationServiceCliOptions {
  dataDir: string;
  listen: string;
  instanceUrl?: string | undefined;
  collateral: string[];
  pccs?: string | undefined;
  collateralCache: string;
  apiKey?: string | undefined;
  simulation?: boolean | undefined;
  simDir?: string | undefined;
  policy?: string | undefined;
  dnsName: string[];
  /** Testing only: the service's clock stands still at this time (ISO-8601 or Unix seconds). */
  fixedTime?: string | undefined;
  /** Serve Prometheus metrics over plain HTTP at this address (docs/metrics.md). */
  metricsAddr?: string | undefined;
}

/** `--collateral PATH` (repeatable): QuoteCollateralV3 files, or folders of them (every `*.json`). */
function collateralFiles(paths: readonly string[]): QuoteCollateralV3[] {
  return paths.flatMap((p) => {
    const isDir = (() => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    })();
    const files = isDir
      ? readdirSync(p)
          .filter((f) => f.endsWith('.json'))
          .map((f) => join(p, f))
      : [p];
    return files.map((f) => readJson(f) as QuoteCollateralV3);
  });
}

/** Collateral from a PCS or PCCS through the disk cache, prepared once per set and kept until the set expires. */
function pccsCollateral(verifier: DcapVerifier, o: AttestationServiceCliOptions): CollateralSource {
  const sets = new Map<string, CollateralSet>();
  return async (quote, now) => {
    const want = verifier.collateralRequest(quote);
    const key = `${want.tee}/${want.fmspc}/${want.ca}`;
    const held = sets.get(key);
    if (held && now < held.prepared.window.notAfter) return held;
    const raw = await getCollateral({
      ...want,
      now,
      cacheDir: o.collateralCache,
      baseUrl: o.pccs as string,
      ...(o.apiKey ? { apiKey: o.apiKey } : {}),
    });
    const set = collateralSet(verifier, raw);
    sets.set(key, set);
    return set;
  };
}

/** The simulated platform's collateral (valid 30 days), renewed a day before it ends. @example `simulatedCollateral(verifier, platform)` */
export function simulatedCollateral(
  verifier: DcapVerifier,
  platform: Parameters<typeof simCollateral>[0],
): CollateralSource {
  let held: Promise<CollateralSet> | undefined;
  let until = 0;
  return (_quote, now) => {
    if (!held || now > until) {
      held = simCollateral(platform, { now, tee: 'sgx' }).then((raw) => collateralSet(verifier, raw));
      until = now + 29 * 86_400;
    }
    return held;
  };
}

/**
 * The policy of `--policy FILE` (default `{}`) and its text. A simulation service accepts
 * simulated evidence (what it is for; every token still says so).
 *
 * @example `const { policy, policyText } = servicePolicy('policy.json', false)`
 */
export function servicePolicy(path: string | undefined, simulation: boolean): { policy: Policy; policyText: string } {
  const policyText = path === undefined ? '{}' : Buffer.from(readInput(path)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(policyText) as unknown;
  } catch (cause) {
    throw new CloisterError('POLICY_INVALID', `${path ?? 'policy'}: not valid JSON`, {
      ...(path === undefined ? {} : { path }),
      cause,
    });
  }
  const policy = parsePolicy(parsed);
  return { policy: simulation ? { ...policy, allowSimulation: true } : policy, policyText };
}

/**
 * Starts the service: opens its sealed state, writes the TLS root to `DATA_DIR/tls-root.pem`,
 * listens over HTTPS and serves the MAA API.
 *
 * @example `const running = await startAttestationService({ dataDir, listen: '127.0.0.1:8443', collateral: ['c.json'], ... })`
 */
export function startAttestationService(o: AttestationServiceCliOptions): Promise<RunningAttestationService> {
  return underLock(o.dataDir, () => openAttestationService(o));
}

interface RunningAttestationService {
  service: AttestationService;
  server: https.Server;
  instance: string;
  rootPem: string;
  close(): Promise<void>;
}

async function openAttestationService(o: AttestationServiceCliOptions): Promise<RunningAttestationService> {
  const fixed = o.fixedTime === undefined ? undefined : parseTime(o.fixedTime);
  const now = fixed === undefined ? () => Date.now() / 1000 : () => fixed;
  const sim = o.simulation ? (await initPlatform(o.simDir ?? defaultSimDir(), now())).platform : undefined;
  const dcap = sim ? new DcapVerifier(customRoot(sim.root.cert.der)) : new DcapVerifier();
  const files = collateralFiles(o.collateral);
  const collateral: CollateralSource = sim
    ? simulatedCollateral(dcap, sim)
    : files.length > 0
      ? fixedCollateral(dcap, files)
      : o.pccs !== undefined
        ? pccsCollateral(dcap, o)
        : () =>
            Promise.reject(
              new CloisterError(
                'COLLATERAL_MISSING',
                'the service has no collateral source (--collateral, --pccs or --simulation)',
              ),
            );
  const { policy, policyText } = servicePolicy(o.policy, sim !== undefined);
  const instance = (o.instanceUrl ?? `https://${o.listen}`).replace(/\/+$/, '');

  const registry = metricsRegistry('attestation-service');
  const store = timedStore(
    fileStore({ dir: o.dataDir, key: await sealingKey(o.dataDir) }),
    registry,
    'attestation-service',
  );
  const verified = verificationMetrics(registry, 'maa');
  const service = await AttestationService.open({
    instance,
    store,
    dcap,
    collateral,
    policy,
    policyText,
    now,
    verified,
  });
  const served = await serveAttestation(service, o.listen, o.dnsName, attestationCounter(registry));
  const metrics = await startMetrics(o.metricsAddr, registry);
  writeOutput(join(o.dataDir, 'tls-root.pem'), served.rootPem);
  log({
    level: 'info',
    event: 'listening',
    instance,
    listen: o.listen,
    kid: service.signingKey.kid,
    simulation: sim !== undefined,
    fixedTime: fixed,
    ...(o.metricsAddr ? { metricsAddr: o.metricsAddr } : {}),
  });
  return {
    service,
    instance,
    ...served,
    close: async () => {
      await Promise.all([served.close(), metrics?.close()]);
    },
  };
}

/**
 * Serves a service's MAA API over HTTPS at `listen`: a fresh TLS key each start, certified by the
 * service's CA for localhost, the listen host, the instance's host and `dnsNames`.
 *
 * @example `const { rootPem, close } = await serveAttestation(service, '127.0.0.1:0')`
 */
export async function serveAttestation(
  service: AttestationService,
  listen: string,
  dnsNames: readonly string[] = [],
  attested?: (endpoint: string, result: string) => void,
): Promise<{ server: https.Server; rootPem: string; close(): Promise<void> }> {
  const at = parseAddress(listen, '--listen');
  const hosts = [at.host, new URL(service.instance).hostname.replace(/^\[|\]$/g, ''), ...dnsNames];
  const tls = {
    ...(await servingIdentity(service.tls, 'cloister attestation service', hosts, Date.now() / 1000, false)),
    keepAliveTimeout: 30_000,
  };
  const server = httpsServer(tls, router(maaApi(service, attested), log, MAX_BODY, MAA_ERRORS));
  await listenAt(server, at.host, at.port);
  return { server, rootPem: pemCert(service.tls.rootCert), close: () => new Promise((r) => server.close(() => r())) };
}

export function registerAttestationService(program: Command): void {
  program
    .command('attestation-service')
    .description(
      'an attestation service compatible with Azure Attestation (MAA): /attest/SgxEnclave, /attest/OpenEnclave, /attest/SevSnpVm, /certs; SIGHUP rotates the signing key',
    )
    .requiredOption(
      '--data-dir <dir>',
      'where the sealed state (signing keys, TLS CA) lives; tls-root.pem is written here for clients',
    )
    .option('--listen <host:port>', 'HTTPS address', 'localhost:8443')
    .option('--instance-url <url>', "the URL clients use, the tokens' iss (default https://<listen>)")
    .option(
      '--collateral <path>',
      'QuoteCollateralV3 JSON file, or a folder of them (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--pccs <url>', 'fetch DCAP collateral from Intel PCS API v4 or a PCCS at this base URL')
    .option(
      '--collateral-cache <dir>',
      'where fetched collateral is kept until its nextUpdate',
      cloisterHome('collateral'),
    )
    .option('--api-key <key>', 'PCS subscription key (Ocp-Apim-Subscription-Key)')
    .option(
      '--simulation',
      'trust the simulated platform (its root and collateral) instead of Intel; tokens say x-ms-cloister-simulation',
    )
    .option('--sim-dir <dir>', 'the simulated platform (default: $CLOISTER_SIM_DIR or ~/.cloister/sim)')
    .option(
      '--policy <file>',
      'JSON policy: acceptedTcbStatuses, acceptedAdvisories, allowDebug, expected, minimum, ... (default: UpToDate only, no debug)',
    )
    .option(
      '--dns-name <name>',
      'extra DNS name or IP in the TLS certificate (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--fixed-time <time>',
      'TESTING ONLY: the clock stands still at this time (ISO-8601 or Unix seconds), for evidence whose collateral has expired',
    )
    .option(...METRICS_OPTION)
    .action(
      action(async (o: AttestationServiceCliOptions) => {
        const running = await startAttestationService(o);
        process.on('SIGHUP', () => {
          running.service.rotate().then(
            (kid) => log({ level: 'info', event: 'rotated', kid }),
            (e: unknown) =>
              log({ level: 'error', event: 'rotation failed', message: e instanceof Error ? e.message : String(e) }),
          );
        });
        untilSignal(() => running.close());
      }),
    );
}
