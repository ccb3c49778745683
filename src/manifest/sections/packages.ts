import { TCB_STATUS } from '../../attest/tcb-status.js';
import { FIELDS } from '../fields.js';
import { jsonPath, type JsonObject, type JsonReader } from '../../lib/json.js';
import { MAX_RTMRS, PACKAGE_TEES, REFERENCE_VALUES, TEE_NAMES, type ReferenceName } from '../tee.js';
import type { Package } from '../types.js';

const TCB_STATUSES = Object.keys(TCB_STATUS);

function reference(r: JsonReader, name: ReferenceName, v: unknown, path: string): string | number | string[] {
  const rule = REFERENCE_VALUES[name];
  switch (rule.form) {
    case 'hex':
      return r.asHex(v, path, rule.bytes);
    case 'u16':
      return r.asInteger(v, path, 0xffff);
    case 'hex-list': {
      const list = r.list(v, path, (e, p) => r.asHex(e, p, rule.bytes));
      if (list.length > MAX_RTMRS) throw r.fail(path, `at most ${MAX_RTMRS} entries`);
      return list;
    }
  }
}

/**
 * MarbleRun "Packages" check: a non-debug package pins its workload with exactly one full set of
 * reference values (UniqueID, or SignerID + ProductID + SecurityVersion; MRTD; Measurement).
 */
function checkIdentity(r: JsonReader, pkg: Package, path: string): void {
  if (pkg.Debug) return;
  const sets = PACKAGE_TEES[pkg.TEE].identity;
  const given = sets.filter((set) => set.some((name) => pkg[name] !== undefined));
  const [first, second] = given;
  const names = (set: readonly string[]) => set.join(' + ');
  if (first === undefined)
    throw r.fail(
      jsonPath(path, sets[0]?.[0] ?? 'TEE'),
      `is required unless Debug (give ${sets.map(names).join(', or ')})`,
    );
  if (second !== undefined)
    throw r.fail(
      jsonPath(path, second.find((name) => pkg[name] !== undefined) ?? ''),
      `cannot be combined with ${names(first)} unless Debug`,
    );
  const missing = first.find((name) => pkg[name] === undefined);
  if (missing !== undefined) throw r.fail(jsonPath(path, missing), `is required with ${names(first)} unless Debug`);
}

function readPackage(r: JsonReader, v: unknown, path: string): Package {
  const o: JsonObject = r.object(v, path, FIELDS.Package);
  const tee = r.optional(o, path, 'TEE', (x, p) => r.asOneOf(x, p, TEE_NAMES)) ?? 'sgx';
  const pkg: Package = { Debug: r.optional(o, path, 'Debug', (x, p) => r.asBoolean(x, p)) ?? false, TEE: tee };
  const refs: Partial<Record<ReferenceName, string | number | string[]>> = {};
  for (const name of Object.keys(REFERENCE_VALUES) as ReferenceName[]) {
    const tees: readonly string[] = REFERENCE_VALUES[name].tees;
    const value = r.optional(o, path, name, (x, p) => {
      if (!tees.includes(tee)) throw r.fail(p, `does not apply to TEE "${tee}" (only to ${tees.join(', ')})`);
      return reference(r, name, x, p);
    });
    if (value !== undefined) refs[name] = value;
  }
  // The table's forms give each field its type in Package (hex: string, u16: number, hex-list: string[]).
  const out = { ...pkg, ...refs } as Package;
  r.assign(o, path, out, 'AcceptedTCBStatuses', (x, p) => r.list(x, p, (e, q) => r.asOneOf(e, q, TCB_STATUSES)));
  r.assign(o, path, out, 'AcceptedAdvisories', (x, p) => r.list(x, p, (e, q) => r.asName(e, q)));
  checkIdentity(r, out, path);
  return out;
}

/**
 * Reads MarbleRun's `Packages` section (at least one package, as MarbleRun requires).
 *
 * @example
 * ```ts
 * const packages = readPackages(new JsonReader('MANIFEST_INVALID', ''), { backend: { UniqueID: 'ab'.repeat(32) } });
 * ```
 */
export function readPackages(r: JsonReader, v: unknown): Record<string, Package> {
  const packages = r.map(v, 'Packages', (x, p) => readPackage(r, x, p));
  if (Object.keys(packages).length === 0) throw r.fail('Packages', 'must define at least one package');
  return packages;
}
