import { TCB_STATUS } from '../../attest/tcb-status.js';
import { FIELDS } from '../fields.js';
import { jsonPath, type JsonObject } from '../../lib/json.js';
import type { ManifestReader } from '../lib/go-json.js';
import { MAX_RTMRS, PACKAGE_TEES, REFERENCE_VALUES, TEE_NAMES, type ReferenceName } from '../tee.js';
import type { Package } from '../types.js';

const TCB_STATUSES = Object.keys(TCB_STATUS);

/**
 * A reference value. MarbleRun (Go) takes UniqueID and SignerID as any string ("" is not set) and
 * ProductID and SecurityVersion as any unsigned integer; what no enclave can present (not 32 bytes
 * of hex, more than 16 bits) is accepted, as MarbleRun does, and warned of: it never matches.
 * cloister's TDX and SEV-SNP values are checked strictly.
 */
function reference(
  r: ManifestReader,
  name: ReferenceName,
  v: unknown,
  path: string,
  sgx: boolean,
): string | number | string[] | undefined {
  const rule = REFERENCE_VALUES[name];
  switch (rule.form) {
    case 'hex': {
      if (!sgx) return r.asHex(v, path, rule.bytes);
      const s = r.asString(v, path);
      if (s === '') return undefined;
      if (s.length !== rule.bytes * 2 || !/^[0-9a-fA-F]*$/.test(s))
        r.warn(path, `is not ${rule.bytes} bytes of hex: no enclave can match it`);
      return s;
    }
    case 'u16': {
      const n = r.asInteger(v, path);
      if (n > 0xffff) r.warn(path, 'exceeds 16 bits (SGX ISVPRODID and ISVSVN): no enclave can match it');
      return n;
    }
    case 'hex-list': {
      const list = r.list(v, path, (e, p) => r.asHex(e, p, rule.bytes));
      if (list.length > MAX_RTMRS) throw r.fail(path, `at most ${MAX_RTMRS} entries`);
      return list;
    }
  }
}

/**
 * MarbleRun's `Check` of a package a Marble uses: a non-debug package pins its workload with
 * exactly one full set of reference values (UniqueID, or SignerID + ProductID + SecurityVersion;
 * for cloister's TEEs MRTD, or Measurement). In debug mode, and for packages no Marble uses
 * (MarbleRun checks only those), what would be an error is a warning.
 */
function checkIdentity(r: ManifestReader, pkg: Package, path: string, used: boolean): void {
  const sets = PACKAGE_TEES[pkg.TEE].identity;
  const given = sets.filter((set) => set.some((name) => pkg[name] !== undefined));
  const [first, second] = given;
  const names = (set: readonly string[]) => set.join(' + ');
  const problem = (at: string, why: string): void => {
    if (pkg.Debug || !used)
      r.warn(at, `${why} (accepted: ${pkg.Debug ? 'Debug is set' : 'no Marble uses this package'}, as in MarbleRun)`);
    else throw r.fail(at, why);
  };
  if (second !== undefined && first !== undefined)
    return problem(
      jsonPath(path, second.find((name) => pkg[name] !== undefined) ?? ''),
      `cannot be combined with ${names(first)} unless Debug`,
    );
  const set = first ?? sets[sets.length - 1] ?? [];
  const missing = set.find((name) => pkg[name] === undefined);
  if (missing !== undefined)
    problem(
      jsonPath(path, missing),
      first === undefined
        ? `is required unless Debug (give ${sets.map(names).join(', or ')})`
        : `is required with ${names(first)} unless Debug`,
    );
}

function readPackage(r: ManifestReader, v: unknown, path: string): Package {
  const o: JsonObject = r.object(v, path, FIELDS.Package);
  const tee = r.optional(o, path, 'TEE', (x, p) => (x === '' ? 'sgx' : r.asOneOf(x, p, TEE_NAMES))) ?? 'sgx';
  const pkg: Package = { Debug: r.optional(o, path, 'Debug', (x, p) => r.asBoolean(x, p)) ?? false, TEE: tee };
  const refs: Partial<Record<ReferenceName, string | number | string[]>> = {};
  const sgx = PACKAGE_TEES[tee].identity.some((set) => (set as readonly string[]).includes('UniqueID'));
  for (const name of Object.keys(REFERENCE_VALUES) as ReferenceName[]) {
    const tees: readonly string[] = REFERENCE_VALUES[name].tees;
    const value = r.optional(o, path, name, (x, p) => {
      if (!tees.includes(tee)) throw r.fail(p, `does not apply to TEE "${tee}" (only to ${tees.join(', ')})`);
      return reference(r, name, x, p, sgx);
    });
    if (value !== undefined) refs[name] = value;
  }
  // The table's forms give each field its type in Package (hex: string, u16: number, hex-list: string[]).
  const out = { ...pkg, ...refs } as Package;
  r.assign(o, path, out, 'AcceptedTCBStatuses', (x, p) =>
    r.list(x, p, (e, q) => {
      const status = r.asString(e, q);
      if (!TCB_STATUSES.includes(status)) r.warn(q, `unknown TCB status "${status}": no platform reports it`);
      return status;
    }),
  );
  r.assign(o, path, out, 'AcceptedAdvisories', (x, p) => r.list(x, p, (e, q) => r.asString(e, q)));
  return out;
}

/**
 * Reads MarbleRun's `Packages` section (at least one package, as MarbleRun requires).
 *
 * @example
 * ```ts
 * const packages = readPackages(new ManifestReader(), { backend: { UniqueID: 'ab'.repeat(32) } });
 * ```
 */
export function readPackages(r: ManifestReader, v: unknown): Record<string, Package> {
  const packages = r.map(v, 'Packages', (x, p) => readPackage(r, x, p));
  if (Object.keys(packages).length === 0) throw r.fail('Packages', 'must define at least one package');
  return packages;
}

/**
 * The packages the Marbles name, read ahead of the Marbles themselves: MarbleRun's `Check` looks
 * at Marbles and their packages before any other section, so its first error is about them.
 */
export function marblePackages(v: unknown): Set<string> {
  const names = new Set<string>();
  if (typeof v !== 'object' || v === null) return names;
  for (const marble of Object.values(v as Record<string, unknown>)) {
    if (typeof marble !== 'object' || marble === null) continue;
    const key = Object.keys(marble).find((k) => k.toLowerCase() === 'package');
    const name = key === undefined ? '' : (marble as Record<string, unknown>)[key];
    names.add(typeof name === 'string' ? name : '');
  }
  return names;
}

/** MarbleRun's `Check` of the packages the Marbles use (it checks no others). */
export function checkPackages(r: ManifestReader, packages: Record<string, Package>, used: ReadonlySet<string>) {
  for (const [name, pkg] of Object.entries(packages)) checkIdentity(r, pkg, jsonPath('Packages', name), used.has(name));
}

/**
 * Reads MarbleRun's `Infrastructures` (Go `quote.InfrastructureProperties`: CPUSVN, QESVN, PCESVN,
 * RootCA), checking each value's type as Go's decoder does. MarbleRun does not compare them with
 * anything yet (its validator's "TODO Verify InfrastructureProperties"); neither does cloister,
 * and a non-empty section is reported as ignored.
 *
 * @example
 * ```ts
 * readInfrastructures(r, { Azure: { QESVN: 2, PCESVN: 3, CPUSVN: [0, 1], RootCA: [3, 3, 3] } });
 * ```
 */
export function readInfrastructures(r: ManifestReader, v: unknown): void {
  const entries = r.map(v, 'Infrastructures', (x, path) => {
    const o = r.object(x, path, FIELDS.Infrastructure);
    for (const key of ['QESVN', 'PCESVN']) r.optional(o, path, key, (y, p) => r.asInteger(y, p, 0xffff));
    for (const key of ['CPUSVN', 'RootCA']) r.optional(o, path, key, (y, p) => r.asGoBytes(y, p));
  });
  if (Object.keys(entries).length > 0)
    r.warn('Infrastructures', 'accepted and ignored: MarbleRun does not check infrastructure properties either');
}
