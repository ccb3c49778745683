import { CloisterError } from '../../lib/errors.js';
import { mutatePod, type InjectionConfig } from './mutate.js';

/**
 * The AdmissionReview exchange (Kubernetes API `admission.k8s.io/v1`, and `v1beta1` for older API
 * servers): the answer carries the request's uid, `allowed: true` and the patch in base64.
 */

const VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];

export interface ReviewAnswer {
  review: Record<string, unknown>;
  service: string | undefined;
  patched: boolean;
}

/**
 * Answers one AdmissionReview for a pod.
 *
 * @example
 * ```ts
 * const { review } = answerReview(JSON.parse(body), config);
 * ```
 */
export function answerReview(body: unknown, config: InjectionConfig): ReviewAnswer {
  const r = body as {
    apiVersion?: unknown;
    kind?: unknown;
    request?: { uid?: unknown; namespace?: unknown; kind?: { kind?: unknown }; object?: unknown };
  } | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    r.kind !== 'AdmissionReview' ||
    !VERSIONS.includes(r.apiVersion as string)
  ) {
    throw new CloisterError('REQUEST_INVALID', `expected an AdmissionReview of ${VERSIONS.join(' or ')}`);
  }
  const uid = r.request?.uid;
  if (typeof uid !== 'string' || uid === '') throw new CloisterError('REQUEST_INVALID', 'request.uid is missing');
  const base = { uid, allowed: true };
  // A webhook registered for pods may still be sent something else: let it pass untouched.
  if (r.request?.kind?.kind !== 'Pod')
    return {
      review: { apiVersion: r.apiVersion, kind: 'AdmissionReview', response: base },
      service: undefined,
      patched: false,
    };
  const m = mutatePod(
    r.request.object,
    config,
    typeof r.request.namespace === 'string' && r.request.namespace !== '' ? r.request.namespace : undefined,
  );
  const response = {
    ...base,
    ...(m.patch.length > 0
      ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(m.patch)).toString('base64') }
      : {}),
    ...(m.warnings.length > 0 ? { warnings: m.warnings } : {}),
  };
  return {
    review: { apiVersion: r.apiVersion, kind: 'AdmissionReview', response },
    service: m.service,
    patched: m.patch.length > 0,
  };
}
