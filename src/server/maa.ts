import { CloisterError } from '../lib/errors.js';
import { API_VERSIONS, ATTEST_ENDPOINTS, type AttestationService } from '../attestation-service/index.js';
import type { ErrorStyle, Handler, Request } from './http.js';

/**
 * Azure Attestation's data-plane API as a route table: `POST /attest/{SgxEnclave,OpenEnclave,
 * SevSnpVm}?api-version=…`, `GET /certs`, `GET /.well-known/openid-configuration`. Errors are
 * answered as MAA answers them: a non-200 status with `{"error":{"code","message"}}`.
 */

/**
 * MAA's error body (the `CloudError` of its REST API). Request errors carry a public status;
 * evidence refusals are answered with 400 by the attest handlers.
 *
 * @example `router(maaApi(service), log, MAX_BODY, MAA_ERRORS)`
 */
export const MAA_ERRORS: ErrorStyle = {
  statuses: {
    REQUEST_INVALID: 400,
    API_VERSION_UNSUPPORTED: 400,
    REQUEST_TOO_LARGE: 413,
    NOT_FOUND: 404,
    COLLATERAL_FETCH_FAILED: 503,
    COLLATERAL_RESPONSE_INVALID: 502,
  },
  body: (_status, code, message) => ({ type: 'application/json', text: JSON.stringify({ error: { code, message } }) }),
};

/** The paths of the MAA API (and of the MAA paths it does not serve), answered in {@link MAA_ERRORS}. */
const MAA_PATHS = /^\/(attest\/|certs$|\.well-known\/|policies\/|operations\/)/;

/**
 * The error style of a server hosting the MAA API beside another: MAA's for MAA paths, `other` elsewhere.
 *
 * @example `router({ ...clientApi(c), ...maaApi(service) }, log, MAX_BODY, maaErrorsBeside(PROBLEM_DETAILS))`
 */
export function maaErrorsBeside(other: ErrorStyle): (path: string) => ErrorStyle {
  return (path) => (MAA_PATHS.test(path) ? MAA_ERRORS : other);
}

function apiVersion(req: Request): void {
  const v = req.query.get('api-version');
  if (!(API_VERSIONS as readonly (string | null)[]).includes(v)) {
    throw new CloisterError(
      'API_VERSION_UNSUPPORTED',
      `api-version ${v === null ? 'is missing' : `"${v}" is not supported`}; supported: ${API_VERSIONS.join(', ')}`,
      { field: 'api-version', expected: API_VERSIONS, actual: v },
    );
  }
}

/**
 * The routes of the MAA-compatible API over a service. `attested`, when given, hears of every
 * attestation request: its endpoint and `issued` or the error code of the refusal.
 *
 * @example `https.createServer(tls, router(maaApi(service), log, MAX_BODY, MAA_ERRORS))`
 */
export function maaApi(
  service: AttestationService,
  attested?: (endpoint: string, result: string) => void,
): Record<string, Handler> {
  const routes: Record<string, Handler> = {
    'GET /certs': () => ({ json: service.jwks() }),
    'GET /.well-known/openid-configuration': () => ({ json: service.openIdConfiguration() }),
  };
  for (const endpoint of ATTEST_ENDPOINTS) {
    routes[`POST /attest/${endpoint}`] = async (req) => {
      let outcome: Awaited<ReturnType<AttestationService['attest']>>;
      try {
        apiVersion(req);
        outcome = await service.attest(endpoint, req.json());
      } catch (error) {
        attested?.(endpoint, error instanceof CloisterError ? error.code : 'INTERNAL');
        throw error;
      }
      attested?.(endpoint, 'refused' in outcome ? outcome.refused.code : 'issued');
      if ('refused' in outcome)
        return { status: 400, json: { error: { code: outcome.refused.code, message: outcome.refused.message } } };
      return { json: { token: outcome.token } };
    };
  }
  return routes;
}
