import { jsonPath, JsonReader } from '../lib/json.js';
import { envText, type Fail } from './lib/value.js';
import {
  checkAction,
  MARBLERUN_VALUES,
  spki,
  TEMPLATE_FUNCS,
  valueSegments,
  type Action,
  type Target,
  type ValueKind,
} from './template.js';
import type { Manifest, RenderContext, Rendered, SecretSpec, SecretValue, Value } from './types.js';

/** Where each kind of value sits in a {@link SecretValue}. */
const SECRET_VALUE_PARTS: Readonly<
  Record<ValueKind, { get: (s: SecretValue) => Uint8Array | undefined; what: string }>
> = {
  key: { get: (s) => s.key, what: 'key' },
  cert: { get: (s) => s.cert, what: 'certificate' },
  // MarbleRun derives the public key of an uploaded certificate.
  public: { get: (s) => s.public ?? (s.cert && spki(s.cert)), what: 'public key' },
  private: { get: (s) => s.private, what: 'private key' },
};

function guarded(get: () => Uint8Array | undefined, fail: Fail, what: string): Uint8Array | undefined {
  try {
    return get();
  } catch (cause) {
    throw fail(`${what} is not a usable certificate`, cause);
  }
}

function actionBytes(
  a: Action,
  kind: ValueKind,
  specs: Readonly<Record<string, SecretSpec>>,
  ctx: RenderContext,
  fail: Fail,
): Uint8Array {
  if ('marbleRun' in a.ref) {
    const name = a.ref.marbleRun;
    const bytes = guarded(() => MARBLERUN_VALUES[name].get(ctx), fail, `.MarbleRun.${name}`);
    if (bytes === undefined) throw fail(`.MarbleRun.${name} is not available`);
    return bytes;
  }
  const { secret, previous } = a.ref;
  // MarbleRun: a secret new in this manifest is its own previous value.
  const from = (pool: Readonly<Record<string, SecretValue>> | undefined) =>
    pool && Object.hasOwn(pool, secret) ? pool[secret] : undefined;
  const value = (previous ? from(ctx.previousSecrets) : undefined) ?? from(ctx.secrets);
  if (value === undefined)
    throw fail(
      `secret "${secret}" is not set${specs[secret]?.UserDefined ? ' (it is user-defined: set it with `cloister secret set`)' : ''}`,
    );
  const declared = specs[secret]?.Type;
  if (value.type !== declared)
    throw fail(`secret "${secret}" holds a ${String(value.type)} value, but the manifest declares ${String(declared)}`);
  const part = SECRET_VALUE_PARTS[kind];
  const bytes = guarded(() => part.get(value), fail, `secret "${secret}"`);
  if (bytes === undefined) throw fail(`secret "${secret}" has no ${part.what}`);
  return bytes;
}

function renderAction(a: Action, target: Target, m: Manifest, ctx: RenderContext, fail: Fail): Uint8Array {
  const kind = checkAction(a, target, m.Secrets, fail);
  return TEMPLATE_FUNCS[a.func].encode(actionBytes(a, kind, m.Secrets, ctx, fail), kind);
}

function renderValue(v: Value, target: Target, m: Manifest, ctx: RenderContext, fail: Fail): Uint8Array {
  const parts = valueSegments(v, fail).map((s) =>
    s instanceof Uint8Array ? s : renderAction(s, target, m, ctx, fail),
  );
  return new Uint8Array(Buffer.concat(parts));
}

/** Calls `each` for every file and environment variable of a Marble, with its JSON path. */
function eachValue(
  r: JsonReader,
  m: Manifest,
  marble: string,
  each: (target: Target, name: string, value: Value, fail: Fail) => void,
): string[] {
  const path = jsonPath('Marbles', marble);
  const spec = Object.hasOwn(m.Marbles, marble) ? m.Marbles[marble] : undefined;
  if (spec === undefined) throw r.fail(path, `no Marble "${marble}" in the manifest`);
  for (const target of ['Files', 'Env'] as const) {
    for (const [name, value] of Object.entries(spec.Parameters[target])) {
      const where = jsonPath(jsonPath(jsonPath(path, 'Parameters'), target), name);
      each(target, name, value, (why, cause) => r.fail(where, why, cause));
    }
  }
  return spec.Parameters.Argv;
}

/**
 * Renders a Marble's parameters (MarbleRun "Marbles": Files, Env, Argv): decodes each value's
 * data and replaces its template actions with the values of `ctx`. Argv is copied as written.
 *
 * @throws CloisterError `MANIFEST_TEMPLATE` naming the value's JSON path: a secret not set
 *   (user-defined ones before a user sets them), a value without the part a template needs, an
 *   environment variable that would hold a NUL byte or invalid UTF-8.
 *
 * @example
 * ```ts
 * const { files, env, argv } = renderParameters(manifest, 'backend', { secrets, rootCa, marbleCert, marbleKey });
 * ```
 */
export function renderParameters(m: Manifest, marble: string, ctx: RenderContext): Rendered {
  const r = new JsonReader('MANIFEST_TEMPLATE', '');
  const out: Rendered = {
    files: Object.create(null) as Record<string, Uint8Array>,
    env: Object.create(null) as Record<string, string>,
    argv: [],
  };
  const argv = eachValue(r, m, marble, (target, name, value, fail) => {
    const bytes = renderValue(value, target, m, ctx, fail);
    if (target === 'Files') out.files[name] = bytes;
    else out.env[name] = envText(bytes, fail);
  });
  out.argv = [...argv];
  return out;
}

/**
 * The names of the secrets a Marble's templates use (sorted), so that a coordinator generates or
 * fetches only those.
 *
 * @throws CloisterError `MANIFEST_TEMPLATE` for an unknown Marble or a malformed template.
 *
 * @example
 * ```ts
 * referencedSecrets(manifest, 'backend');   // ['apiKey', 'backendCert']
 * ```
 */
export function referencedSecrets(m: Manifest, marble: string): string[] {
  const names = new Set<string>();
  eachValue(new JsonReader('MANIFEST_TEMPLATE', ''), m, marble, (_target, _name, value, fail) => {
    for (const s of valueSegments(value, fail))
      if (!(s instanceof Uint8Array) && 'secret' in s.ref) names.add(s.ref.secret);
  });
  return [...names].sort();
}
