import { createHash, X509Certificate } from 'node:crypto';
import { TEE_KINDS, type Verdict } from '../attest/index.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { Handler, Reply } from './http.js';
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE, dashboardHtml } from './dashboard-page.js';

/**
 * The coordinator's read-only web dashboard on the client API (same address, same TLS), and the
 * two endpoints it reads beside the existing ones: `GET /api/v1/attestation` (the coordinator's
 * own evidence as its verifier judges it, and the root `cloister verify` pins) and
 * `GET /api/v1/activations` (per service). docs/dashboard.md describes the page.
 */

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * The page's Content-Security-Policy (CSP Level 3): nothing but its own inline style and script
 * (by hash, not 'unsafe-inline'), requests only to its own origin, no DOM sink that parses HTML
 * from a string (Trusted Types with no policy), no frames, forms or base URL.
 *
 * @example `dashboardPolicy() // "default-src 'none'; script-src 'sha256-…'; …"`
 */
export function dashboardPolicy(): string {
  return [
    "default-src 'none'",
    `script-src ${hash(DASHBOARD_SCRIPT)}`,
    `style-src ${hash(DASHBOARD_STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

function page(): Reply {
  return {
    text: dashboardHtml(),
    type: 'text/html; charset=utf-8',
    headers: {
      'content-security-policy': dashboardPolicy(),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'cache-control': 'no-store',
    },
  };
}

/** What the dashboard shows of the coordinator's attestation: its verdict's summary and its root. */
function attestation(c: Coordinator, verdict: Verdict): Record<string, unknown> {
  const root = new X509Certificate(c.ca.rootCert);
  const identity = (TEE_KINDS[verdict.tee].identity as readonly string[]).concat(['isvProdId', 'isvSvn']);
  return {
    tee: verdict.tee,
    simulation: verdict.simulation,
    tcbStatus: verdict.tcbStatus,
    advisoryIds: verdict.advisoryIds,
    identity: Object.fromEntries(
      identity.filter((name) => verdict.claims[name] !== undefined).map((name) => [name, verdict.claims[name]]),
    ),
    root: { subject: root.subject, sha256: root.fingerprint256, notAfter: root.validTo },
  };
}

/**
 * The dashboard's routes. `ownVerdict` verifies the coordinator's own evidence now, with the
 * verifier and collateral it uses for workloads (so the page shows what `cloister verify` would
 * conclude, as the coordinator sees it; clients still check for themselves).
 *
 * @example `router({ ...clientApi(c), ...dashboardApi(c, ownVerdict) }, log)`
 */
export function dashboardApi(c: Coordinator, ownVerdict: () => Promise<Verdict>): Record<string, Handler> {
  return {
    'GET /': page,
    'GET /dashboard': page,
    'GET /api/v1/attestation': async () => ({ json: attestation(c, await ownVerdict()) }),
    'GET /api/v1/activations': () => ({ json: { activations: c.activations() } }),
  };
}
