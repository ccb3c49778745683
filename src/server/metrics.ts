import { readFileSync } from 'node:fs';
import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Verdict } from '../attest/index.js';
import { ATTEST_ENDPOINTS } from '../attestation-service/index.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { SealedStore } from '../store/index.js';
import { router, type Handler } from './http.js';
import { listen } from './listen.js';

/**
 * Prometheus metrics (exposition format 0.0.4, served by `prom-client`) of cloister's four
 * processes: the coordinator, the attestation service, the admission webhook and the device
 * plugin. Each serves them on an address of its own (`--metrics-addr`), over plain HTTP, and
 * nothing else there (docs/metrics.md says why). Every label value comes from a bounded set:
 * the manifest's service names, TEE kinds, TCB statuses, error codes; never from what a caller
 * sends, so no request can make a new series.
 */

/** The processes that serve metrics: the `component` of `cloister_build_info`. */
export type Component = 'coordinator' | 'attestation-service' | 'webhook' | 'device-plugin';

/** Seconds: verifications take 0.1 to 10 ms here, commits (an fsync) 1 to 50 ms; the tail goes to 10 s. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

function version(): string {
  const file = new URL('../../../package.json', import.meta.url);
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * A registry with the process's default metrics (`process_*`, `nodejs_*`) and
 * `cloister_build_info{component,version,node_version} 1`.
 *
 * @example `const registry = metricsRegistry('webhook')`
 */
export function metricsRegistry(component: Component): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'cloister_build_info',
    help: 'Always 1: the version of cloister and of Node.js this process runs, and which component it is',
    labelNames: ['component', 'version', 'node_version'],
    registers: [registry],
  }).set({ component, version: version(), node_version: process.version }, 1);
  return registry;
}

/** The outcome of one verification, for {@link verificationMetrics}: what was verified, how long it took, the verdict (none when refused). */
export type VerificationObserver = (tee: string, seconds: number, verdict: Verdict | undefined) => void;

/**
 * `cloister_evidence_verification_seconds{api,tee,result}` and `cloister_tcb_status_total{api,tee,status}`:
 * verification time by TEE kind, and the TCB status of every authentic piece of evidence (accepted
 * by policy or not). `api` says who verified: `mesh` (activations) or `maa` (the attestation service).
 *
 * @example `const observe = verificationMetrics(registry, 'mesh'); observe('sgx', 0.002, verdict)`
 */
export function verificationMetrics(registry: Registry, api: 'mesh' | 'maa'): VerificationObserver {
  const seconds =
    (registry.getSingleMetric('cloister_evidence_verification_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'cloister_evidence_verification_seconds',
      help: 'Time to verify a piece of evidence (signatures, certificate chains, collateral), by TEE kind; result is verified or refused',
      labelNames: ['api', 'tee', 'result'],
      buckets: BUCKETS,
      registers: [registry],
    });
  const statuses =
    (registry.getSingleMetric('cloister_tcb_status_total') as Counter | undefined) ??
    new Counter({
      name: 'cloister_tcb_status_total',
      help: 'Authentic evidence by TEE kind and the TCB status its collateral gave it (whether policy accepted it or not)',
      labelNames: ['api', 'tee', 'status'],
      registers: [registry],
    });
  return (tee, elapsed, verdict) => {
    seconds.observe({ api, tee, result: verdict ? 'verified' : 'refused' }, elapsed);
    if (verdict) statuses.inc({ api, tee, status: verdict.tcbStatus });
  };
}

/** Seconds since `start` (a `performance.now()`). */
const since = (start: number): number => (performance.now() - start) / 1000;

/**
 * A verifier function whose every call is timed into `observe` (refusals too).
 *
 * @example `const verify = timedVerifier(verifyEvidence, verificationMetrics(registry, 'mesh'))`
 */
export function timedVerifier<A extends unknown[]>(
  verify: (evidence: Uint8Array, tee: string, ...rest: A) => Promise<Verdict>,
  observe: VerificationObserver,
): (evidence: Uint8Array, tee: string, ...rest: A) => Promise<Verdict> {
  return async (evidence, tee, ...rest) => {
    const start = performance.now();
    try {
      const verdict = await verify(evidence, tee, ...rest);
      observe(tee, since(start), verdict);
      return verdict;
    } catch (error) {
      observe(tee, since(start), undefined);
      throw error;
    }
  };
}

/**
 * The store with `cloister_store_commit_seconds{store}`: how long each durable write took (for
 * the file store, sealing, writing, fsync and rename). Every other member is the store's own.
 *
 * @example `const store = timedStore(fileStore({ dir, key }), registry, 'coordinator')`
 */
export function timedStore<S extends SealedStore>(store: S, registry: Registry, name: string): S {
  const commits =
    (registry.getSingleMetric('cloister_store_commit_seconds') as Histogram | undefined) ??
    new Histogram({
      name: 'cloister_store_commit_seconds',
      help: 'Time for the sealed state to be durable after a change (one write, coalescing concurrent changes)',
      labelNames: ['store'],
      buckets: BUCKETS,
      registers: [registry],
    });
  const write = async (state: Uint8Array): Promise<void> => {
    const start = performance.now();
    await store.write(state);
    commits.observe({ store: name }, since(start));
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'write') return write;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A counter of outcomes by a bounded label: `count(value, result)` counts `value` as itself when
 * `known()` lists it, else as `(unknown)` (a name a caller made up is no new series).
 *
 * @example `const count = outcomeCounter(registry, 'cloister_activations_total', 'Activations', 'service', () => services)`
 */
export function outcomeCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  known: () => readonly string[],
): (value: string | undefined, result: string) => void {
  const counter = new Counter({ name, help, labelNames: [label, 'result'], registers: [registry] });
  return (value, result) =>
    counter.inc({ [label]: value !== undefined && known().includes(value) ? value : '(unknown)', result });
}

/**
 * `cloister_attestations_total{endpoint,result}` of the attestation service: requests by endpoint
 * (SgxEnclave, OpenEnclave, SevSnpVm) and result (`issued`, or the error code of the refusal).
 *
 * @example `maaApi(service, attestationCounter(registry))`
 */
export function attestationCounter(registry: Registry): (endpoint: string, result: string) => void {
  return outcomeCounter(
    registry,
    'cloister_attestations_total',
    'Attestation requests of the Azure Attestation-compatible API by endpoint and result: issued, or the error code of the refusal',
    'endpoint',
    () => ATTEST_ENDPOINTS,
  );
}

/**
 * A gauge read when scraped.
 *
 * @example `gauge(registry, 'cloister_activation_nonces_outstanding', 'Nonces issued, unused, unexpired', () => c.noncesOutstanding())`
 */
export function gauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | ReadonlyArray<{ labels: Record<string, string>; value: number }>,
  labelNames: string[] = [],
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (typeof value === 'number') this.set(value);
      else for (const v of value) this.set(v.labels, v.value);
    },
  });
}

/**
 * The coordinator's own metrics, read from the coordinator being served (none in recovery mode):
 * `cloister_activations_total{service,result}` (through the function returned, for the mesh API),
 * `cloister_service_activations{service}`, `cloister_activation_nonces_outstanding` and
 * `cloister_manifest_info{fingerprint}`.
 *
 * @example `const activated = coordinatorMetrics(registry, () => current); meshApi(coordinator, activated)`
 */
export function coordinatorMetrics(
  registry: Registry,
  current: () => Coordinator | undefined,
): (service: string | undefined, result: string) => void {
  const activations = (): Record<string, number> => {
    const c = current();
    return c?.status().manifestFingerprint ? c.activations() : {};
  };
  gauge(
    registry,
    'cloister_activation_nonces_outstanding',
    'Activation nonces issued, unexpired and not used yet',
    () => current()?.noncesOutstanding() ?? 0,
  );
  gauge(
    registry,
    'cloister_service_activations',
    'Activations of each service of the manifest since it was set (kept in the sealed state)',
    () => Object.entries(activations()).map(([service, value]) => ({ labels: { service }, value })),
    ['service'],
  );
  gauge(
    registry,
    'cloister_manifest_info',
    'Always 1 once a manifest is set: the fingerprint of the manifest the coordinator enforces',
    () => {
      const fingerprint = current()?.status().manifestFingerprint;
      return fingerprint ? [{ labels: { fingerprint }, value: 1 }] : [];
    },
    ['fingerprint'],
  );
  return outcomeCounter(
    registry,
    'cloister_activations_total',
    'Activation requests by the service they named (a name not in the manifest counts as (unknown)) and result: activated, or the error code of the refusal',
    'service',
    () => Object.keys(activations()),
  );
}

/**
 * The route of the metrics address: `GET /metrics` in the text exposition format.
 *
 * @example `router(metricsRoutes(registry), log)`
 */
export function metricsRoutes(registry: Registry): Record<string, Handler> {
  return { 'GET /metrics': async () => ({ text: await registry.metrics(), type: registry.contentType }) };
}

/**
 * Serves `registry` at `http://host:port/metrics` (plain HTTP, as Prometheus scrapes a pod; no
 * other path) until `close()`.
 *
 * @example `const metrics = await serveMetrics(registry, '127.0.0.1', 9102, log)`
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  log: (entry: Record<string, unknown>) => void,
): Promise<{ server: http.Server; routes: string[]; close(): Promise<void> }> {
  const routes = metricsRoutes(registry);
  // Scrapes carry no body: the body limit is small, and slow clients are cut off as on the other servers.
  const server = http.createServer(
    { requestTimeout: 10_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    router(routes, log, 1024),
  );
  await listen(server, host, port);
  return {
    server,
    routes: Object.keys(routes),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
