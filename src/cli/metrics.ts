import type { Registry } from 'prom-client';
import { serveMetrics } from '../server/metrics.js';
import { parseAddress } from './net.js';
import { log } from './io.js';

/** `--metrics-addr` of the long-running commands: where Prometheus scrapes them (docs/metrics.md). */

export const METRICS_OPTION = [
  '--metrics-addr <host:port>',
  'serve Prometheus metrics at http://<host:port>/metrics (plain HTTP, nothing else there; off by default)',
] as const;

/**
 * Serves `registry` at `address` (a `--metrics-addr`), or nothing when it is undefined.
 *
 * @example `const metrics = await startMetrics(o.metricsAddr, registry)`
 */
export async function startMetrics(
  address: string | undefined,
  registry: Registry,
): Promise<{ routes: string[]; close(): Promise<void> } | undefined> {
  if (address === undefined) return undefined;
  const at = parseAddress(address, '--metrics-addr');
  return serveMetrics(registry, at.host, at.port, log);
}
