import { X509Certificate } from 'node:crypto';
import { decodeData, type Fail } from './lib/value.js';
import { SECRET_TYPES } from './secret-types.js';
import type { RenderContext, SecretSpec, SecretValue, Value } from './types.js';

/**
 * MarbleRun's templates (MarbleRun docs, "Defining a manifest", "Templates"; its
 * `coordinator/manifest` package: `ManifestFileTemplateFuncMap`, `ManifestEnvTemplateFuncMap`,
 * `TemplateSecrets`, `TemplateDryRun`) are Go `text/template`s executed over
 * `{ Secrets, MarbleRun, Previous.Secrets }`. cloister reads the part of that language such a
 * template uses: actions `{{ FUNC REF }}` and `{{ REF | FUNC }}`, the trim markers `{{- ` and
 * ` -}}`, and comments `{{/* ... *\/}}`. Any other action is refused, naming it.
 */

/** Where a value is delivered. */
export type Target = 'Files' | 'Env';

/**
 * What a reference names: a secret itself (Go's `manifest.Secret`, which the functions encode as
 * its `Public` member), or one of its members `Cert` (DER), `Public` (SPKI, or a symmetric key or
 * plain data), `Private` (PKCS#8, or the same key or data).
 */
export type ValueKind = 'secret' | 'Cert' | 'Public' | 'Private';

const PARTS: readonly ValueKind[] = ['Cert', 'Public', 'Private'];

/** MarbleRun's `EncodeSecretDataToPem`: the block type by the Go type of the value. */
const PEM_LABELS: Readonly<Partial<Record<ValueKind, string>>> = {
  Cert: 'CERTIFICATE',
  Public: 'PUBLIC KEY',
  Private: 'PRIVATE KEY',
};

/** RFC 7468 textual encoding, laid out as Go's pem.EncodeToMemory does (64 columns). */
function pem(label: string, der: Uint8Array): Uint8Array {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return new TextEncoder().encode(
    `-----BEGIN ${label}-----\n${lines.map((l) => `${l}\n`).join('')}-----END ${label}-----\n`,
  );
}

const ascii = (text: string) => new TextEncoder().encode(text);
const BOTH: readonly Target[] = ['Files', 'Env'];
const ANY: readonly ValueKind[] = ['secret', 'Cert', 'Public', 'Private'];

/**
 * Template functions: where each may be used (MarbleRun: `raw` only in Files, `string` only in
 * Env), which values it takes (MarbleRun's `EncodeSecretDataTo*`), and how it encodes them.
 *
 * @example
 * ```ts
 * TEMPLATE_FUNCS.hex.encode(new Uint8Array([1, 255]), 'Public');   // bytes of '01ff'
 * ```
 */
export const TEMPLATE_FUNCS = {
  // Only a certificate or a key member: a secret itself is "invalid secret type for pem encoding".
  pem: {
    targets: BOTH,
    kinds: PARTS,
    plainOnly: false,
    encode: (b: Uint8Array, kind: ValueKind) => pem(PEM_LABELS[kind] ?? '', b),
  },
  hex: {
    targets: BOTH,
    kinds: ANY,
    plainOnly: false,
    encode: (b: Uint8Array) => ascii(Buffer.from(b).toString('hex')),
  },
  base64: {
    targets: BOTH,
    kinds: ANY,
    plainOnly: false,
    encode: (b: Uint8Array) => ascii(Buffer.from(b).toString('base64')),
  },
  raw: { targets: ['Files'], kinds: ANY, plainOnly: false, encode: (b: Uint8Array) => b },
  // "only secrets of type plain are allowed to use string encoding"; NUL bytes are refused when rendering.
  string: { targets: ['Env'], kinds: ['secret'], plainOnly: true, encode: (b: Uint8Array) => b },
} as const satisfies Record<
  string,
  {
    targets: readonly Target[];
    kinds: readonly ValueKind[];
    plainOnly: boolean;
    encode: (b: Uint8Array, kind: ValueKind) => Uint8Array;
  }
>;

type TemplateFunc = keyof typeof TEMPLATE_FUNCS;

/**
 * The SPKI DER of a DER certificate (any key type). Throws node's error on a non-certificate.
 *
 * @example
 * ```ts
 * spki(leafDer);   // for {{ pem .MarbleRun.MarbleCert.Public }}
 * ```
 */
export function spki(der: Uint8Array): Uint8Array {
  return new Uint8Array(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }));
}

/** The entry `name` of a record of secrets, if it has one. */
export function own(pool: Readonly<Record<string, SecretValue>> | undefined, name: string): SecretValue | undefined {
  return pool && Object.hasOwn(pool, name) ? pool[name] : undefined;
}

/**
 * `.Previous.Secrets.NAME`: the secret as it was before the last manifest update (MarbleRun
 * `TemplateSecrets.Previous`), which the coordinator sends; a secret new in this manifest, or
 * one before any update, is its own previous value (MarbleRun stores both when a manifest is set).
 *
 * @example
 * ```ts
 * previousSecret(ctx, 'apiKey');   // the key a Marble had before the update
 * ```
 */
export function previousSecret(ctx: RenderContext, name: string): SecretValue | undefined {
  return own(ctx.previousSecrets, name) ?? own(ctx.secrets, name);
}

/**
 * Values under `.MarbleRun` (MarbleRun `ReservedSecrets`), each with the members it has: RootCA,
 * CoordinatorRoot and CoordinatorIntermediate a certificate only, MarbleCert also its keys.
 *
 * @example
 * ```ts
 * MARBLERUN_VALUES.RootCA.Cert?.(ctx);   // ctx.rootCa
 * ```
 */
export const MARBLERUN_VALUES: Readonly<
  Record<string, Partial<Record<ValueKind, (c: RenderContext) => Uint8Array | undefined>>>
> = {
  RootCA: { Cert: (c) => c.rootCa },
  MarbleCert: {
    Cert: (c) => c.marbleCert,
    Public: (c) => spki(c.marbleCert),
    secret: (c) => spki(c.marbleCert),
    Private: (c) => c.marbleKey,
  },
  // cloister's root is the coordinator's root; MarbleRun's RootCA is a self-signed copy of its intermediate.
  CoordinatorRoot: { Cert: (c) => c.coordinatorRoot ?? c.rootCa },
  CoordinatorIntermediate: { Cert: (c) => c.coordinatorIntermediate },
};

/** What an action refers to. */
export type Reference =
  | { scope: 'Secrets' | 'Previous'; secret: string; kind: ValueKind }
  | { scope: 'MarbleRun'; name: string; kind: ValueKind };

/** One `{{ ... }}` action. */
export interface Action {
  /** The text between the braces. */
  text: string;
  func: TemplateFunc;
  ref: Reference;
}

/** Literal bytes, or an action to replace. */
type Segment = Uint8Array | Action;

// Go text/template identifiers (letters, digits, underscores; not starting with a digit).
const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const FIELD_CHAIN = new RegExp(`^(?:\\.${IDENT})+$`);
const FUNC_NAME = new RegExp(`^${IDENT}$`);
const EXPECTED =
  'expected {{ FUNC REF }} or {{ REF | FUNC }} with REF one of .Secrets.NAME[.Cert|.Public|.Private], .Previous.Secrets.NAME[...], .MarbleRun.RootCA.Cert, .MarbleRun.MarbleCert[.Cert|.Public|.Private], .MarbleRun.CoordinatorRoot.Cert, .MarbleRun.CoordinatorIntermediate.Cert and FUNC one of ' +
  Object.keys(TEMPLATE_FUNCS).join(', ');

function show(text: string): string {
  const t = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(`{{${t}}}`);
}

function parseReference(chain: string, text: string, fail: Fail): Reference {
  const fields = chain.slice(1).split('.');
  const kindOf = (rest: string[]): ValueKind => {
    const [part, extra] = rest;
    if (part === undefined) return 'secret';
    if (extra === undefined && (PARTS as readonly string[]).includes(part)) return part as ValueKind;
    throw fail(`unknown accessor .${rest.join('.')} in ${show(text)} (known: ${PARTS.join(', ')})`);
  };
  const [top, second, third, ...rest] = fields;
  if (top === 'Secrets' && second !== undefined)
    return { scope: 'Secrets', secret: second, kind: kindOf(third === undefined ? [] : [third, ...rest]) };
  if (top === 'Previous' && second === 'Secrets' && third !== undefined)
    return { scope: 'Previous', secret: third, kind: kindOf(rest) };
  if (top === 'MarbleRun' && second !== undefined && Object.hasOwn(MARBLERUN_VALUES, second))
    return { scope: 'MarbleRun', name: second, kind: kindOf(third === undefined ? [] : [third, ...rest]) };
  throw fail(`unknown reference ${chain} in ${show(text)}: ${EXPECTED}`);
}

/** The words of one command of a pipeline (Go: space-separated operands). */
const words = (command: string) =>
  command
    .trim()
    .split(/[ \t\r\n]+/)
    .filter(Boolean);

function parseAction(text: string, fail: Fail): Action {
  const commands = text.split('|').map(words);
  let func: string | undefined;
  let chain: string | undefined;
  const [first, second, extra] = commands;
  if (extra === undefined && first?.length === 2 && second === undefined) [func, chain] = first;
  else if (extra === undefined && first?.length === 1 && second?.length === 1) [[chain], [func]] = [first, second];
  else if (extra === undefined && first?.length === 1 && second === undefined && FIELD_CHAIN.test(first[0] ?? ''))
    throw fail(
      `${show(text)} prints Go's default formatting of a value, which cloister does not reproduce: name a function (${EXPECTED})`,
    );
  if (func === undefined || chain === undefined || !FUNC_NAME.test(func) || !FIELD_CHAIN.test(chain))
    throw fail(`unsupported template action ${show(text)}: ${EXPECTED}`);
  if (!Object.hasOwn(TEMPLATE_FUNCS, func))
    throw fail(
      `unknown template function "${func}" in ${show(text)} (known: ${Object.keys(TEMPLATE_FUNCS).join(', ')})`,
    );
  return { text, func: func as TemplateFunc, ref: parseReference(chain, text, fail) };
}

const SPACE = [0x20, 0x09, 0x0d, 0x0a];

/**
 * Splits template bytes into literal bytes and actions. Templates apply to the decoded data
 * (MarbleRun decodes base64 and hex before templating), so this works on bytes; action text is
 * ASCII. Go's trim markers remove the white space before `{{- ` and after ` -}}`; comments
 * `{{/* ... *\/}}` render nothing.
 *
 * @example
 * ```ts
 * parseTemplate(new TextEncoder().encode('key={{ hex .Secrets.k }}'), fail);   // [bytes 'key=', { func: 'hex', ... }]
 * ```
 */
export function parseTemplate(data: Uint8Array, fail: Fail): Segment[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: Segment[] = [];
  let pos = 0;
  let trimNext = false;
  const literal = (from: number, to: number, trimEnd: boolean) => {
    let [start, end] = [from, to];
    if (trimNext) while (start < end && SPACE.includes(buf[start] ?? 0)) start++;
    if (trimEnd) while (end > start && SPACE.includes(buf[end - 1] ?? 0)) end--;
    if (end > start) out.push(data.subarray(start, end));
  };
  for (let open = buf.indexOf('{{', pos); open >= 0; open = buf.indexOf('{{', pos)) {
    const close = buf.indexOf('}}', open + 2);
    let text = buf.toString('latin1', open + 2, close < 0 ? buf.length : close);
    if (close < 0) throw fail(`unclosed template action ${JSON.stringify(`{{${text.slice(0, 77)}`)}`);
    // Go: "{{- " and " -}}" (the marker and one white-space character) trim; "{{-3}}" is a number.
    const trimBefore = /^-[ \t\r\n]/.test(text);
    const trimAfter = /[ \t\r\n]-$/.test(text);
    literal(pos, open, trimBefore);
    text = text.slice(trimBefore ? 2 : 0, trimAfter ? -2 : undefined);
    trimNext = trimAfter;
    const inner = text.trim();
    if (inner.startsWith('/*')) {
      if (!inner.endsWith('*/') || inner.length < 4 || text !== inner)
        throw fail(`unsupported template comment ${show(text)}: write {{/* ... */}}`);
    } else {
      out.push(parseAction(text, fail));
    }
    pos = close + 2;
  }
  literal(pos, data.length, false);
  return out;
}

/**
 * A value's segments: its decoded data, as one literal when `NoTemplates` is set.
 *
 * @example
 * ```ts
 * valueSegments({ Data: '{{ raw .Secrets.k }}', Encoding: 'string', NoTemplates: true }, fail);   // one literal
 * ```
 */
export function valueSegments(v: Value, fail: Fail): Segment[] {
  const bytes = decodeData(v, fail);
  return v.NoTemplates ? [bytes] : parseTemplate(bytes, fail);
}

/** A secret's members that MarbleRun fills when it generates one of this type: all of them but a symmetric key's certificate. */
function generatedHas(spec: SecretSpec, kind: ValueKind): boolean {
  return kind !== 'Cert' || SECRET_TYPES[spec.Type].cert;
}

/**
 * The template dry run of one action (MarbleRun `TemplateDryRun`, run with the generated secrets
 * and, for user-defined ones, a placeholder in every member): the function exists in `target`,
 * it takes the value named, and the value is not empty. Returns a warning when MarbleRun accepts
 * the action but the value will never be there (a certificate of a user-defined symmetric key).
 *
 * @example
 * ```ts
 * checkAction(action, 'Env', manifest.Secrets, fail);   // undefined for {{ pem .Secrets.tls.Cert }}
 * ```
 */
export function checkAction(
  a: Action,
  target: Target,
  secrets: Readonly<Record<string, SecretSpec>>,
  fail: Fail,
): string | undefined {
  const fn = TEMPLATE_FUNCS[a.func];
  const targets: readonly Target[] = fn.targets;
  // Go: the function is not in this target's FuncMap.
  if (!targets.includes(target))
    throw fail(`template function "${a.func}" is only available in ${targets.join(' and ')} (in ${show(a.text)})`);
  const { ref } = a;
  const kinds: readonly ValueKind[] = fn.kinds;
  const what = ref.kind === 'secret' ? 'a secret itself' : `.${ref.kind}`;
  if (!kinds.includes(ref.kind))
    throw fail(
      `template function "${a.func}" cannot encode ${what}${a.func === 'pem' ? ' (name .Cert, .Public or .Private)' : ''} (in ${show(a.text)})`,
    );
  if (ref.scope === 'MarbleRun') {
    if (fn.plainOnly) throw fail(`template function "${a.func}" is only for plain secrets (in ${show(a.text)})`);
    if (MARBLERUN_VALUES[ref.name]?.[ref.kind] === undefined)
      throw fail(
        `.MarbleRun.${ref.name} has no ${ref.kind === 'secret' ? 'public key' : ref.kind} (in ${show(a.text)})`,
      );
    return undefined;
  }
  const spec = Object.hasOwn(secrets, ref.secret) ? secrets[ref.secret] : undefined;
  // MarbleRun: a missing map entry is an empty secret, "tried to parse secret with empty value".
  if (spec === undefined) throw fail(`unknown secret "${ref.secret}"`);
  // A manifest built by code rather than parsed may carry a type the table lacks.
  if (!Object.hasOwn(SECRET_TYPES, spec.Type))
    throw fail(`secret "${ref.secret}" has an unknown type "${String(spec.Type)}"`);
  if (fn.plainOnly && spec.Type !== 'plain')
    throw fail(
      `template function "${a.func}" is only for plain secrets; "${ref.secret}" is ${spec.Type} (in ${show(a.text)})`,
    );
  if (generatedHas(spec, ref.kind)) return undefined;
  if (!spec.UserDefined)
    throw fail(
      `.${ref.kind} applies only to certificate secrets; "${ref.secret}" is ${spec.Type} (in ${show(a.text)})`,
    );
  return `${show(a.text)}: a ${spec.Type} secret has no certificate; MarbleRun accepts this for a user-defined secret, but rendering fails unless one is uploaded`;
}
