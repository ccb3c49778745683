import { X509Certificate } from 'node:crypto';
import { decodeData, type Fail } from './lib/value.js';
import { SECRET_TYPES } from './secret-types.js';
import type { RenderContext, SecretSpec, SecretType, Value } from './types.js';

/**
 * MarbleRun's template subset (MarbleRun docs, "Defining a manifest", "Templates" and "Injecting
 * custom secrets"): `{{ FUNC .Secrets.NAME }}`, `{{ FUNC .Secrets.NAME.Cert|Public|Private }}`
 * and `{{ FUNC .MarbleRun.RootCA.Cert }}` and friends. Only whitespace may surround the function
 * and the reference inside the braces; anything else is an error naming the offending text.
 */

/** Where a value is delivered. */
export type Target = 'Files' | 'Env';

/** What a reference yields: a symmetric key or plain data, a DER certificate, an SPKI or a PKCS#8 key. */
export type ValueKind = 'key' | 'cert' | 'public' | 'private';

const PEM_LABELS: Readonly<Partial<Record<ValueKind, string>>> = {
  cert: 'CERTIFICATE',
  public: 'PUBLIC KEY',
  private: 'PRIVATE KEY',
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
const ANY_KIND = ['key', 'cert', 'public', 'private'] as const;
const BOTH: readonly Target[] = ['Files', 'Env'];

/**
 * Template functions: where each may be used (MarbleRun: `raw` only in Files, `string` only in
 * Env), which values it takes, and how it encodes them.
 *
 * @example
 * ```ts
 * TEMPLATE_FUNCS.hex.encode(new Uint8Array([1, 255]), 'key');   // bytes of '01ff'
 * ```
 */
export const TEMPLATE_FUNCS = {
  pem: {
    targets: BOTH,
    kinds: ['cert', 'public', 'private'],
    types: undefined,
    encode: (b: Uint8Array, kind: ValueKind) => pem(PEM_LABELS[kind] ?? '', b),
  },
  hex: {
    targets: BOTH,
    kinds: ANY_KIND,
    types: undefined,
    encode: (b: Uint8Array) => ascii(Buffer.from(b).toString('hex')),
  },
  base64: {
    targets: BOTH,
    kinds: ANY_KIND,
    types: undefined,
    encode: (b: Uint8Array) => ascii(Buffer.from(b).toString('base64')),
  },
  raw: { targets: ['Files'], kinds: ANY_KIND, types: undefined, encode: (b: Uint8Array) => b },
  // MarbleRun: "only secrets of type plain are allowed to use string encoding"; NUL bytes are refused when rendering.
  string: { targets: ['Env'], kinds: ['key'], types: ['plain'], encode: (b: Uint8Array) => b },
} as const satisfies Record<
  string,
  {
    targets: readonly Target[];
    kinds: readonly ValueKind[];
    types: readonly SecretType[] | undefined;
    encode: (b: Uint8Array, kind: ValueKind) => Uint8Array;
  }
>;

type TemplateFunc = keyof typeof TEMPLATE_FUNCS;

/**
 * Accessors after `.Secrets.NAME`: none (the key of a symmetric-key or plain secret, the public
 * key of a certificate secret, as MarbleRun does), or one of a certificate secret's parts.
 *
 * @example
 * ```ts
 * SECRET_PARTS.Private;   // 'private': {{ pem .Secrets.tls.Private }} is a PKCS#8 key
 * ```
 */
const SECRET_PARTS = {
  Cert: 'cert',
  Public: 'public',
  Private: 'private',
} as const satisfies Record<string, ValueKind>;

type SecretPart = keyof typeof SECRET_PARTS;

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

/**
 * Values under `.MarbleRun` (MarbleRun "Templates": "named keys and certificates always available").
 *
 * @example
 * ```ts
 * MARBLERUN_VALUES['RootCA.Cert'].get(ctx);   // ctx.rootCa
 * ```
 */
export const MARBLERUN_VALUES = {
  'RootCA.Cert': { kind: 'cert', get: (c: RenderContext) => c.rootCa },
  'MarbleCert.Cert': { kind: 'cert', get: (c: RenderContext) => c.marbleCert },
  'MarbleCert.Public': { kind: 'public', get: (c: RenderContext) => spki(c.marbleCert) },
  'MarbleCert.Private': { kind: 'private', get: (c: RenderContext) => c.marbleKey },
} as const satisfies Record<string, { kind: ValueKind; get: (c: RenderContext) => Uint8Array }>;

type MarbleRunValue = keyof typeof MARBLERUN_VALUES;

/** MarbleRun references cloister does not provide, with what to say. */
const NOT_PROVIDED: ReadonlyArray<[prefix: string, why: string]> = [
  ['.Previous.', 'only the secrets of the previous manifest are provided: .Previous.Secrets.NAME'],
  ['.MarbleRun.CoordinatorRoot.', 'not provided by cloister; use .MarbleRun.RootCA.Cert'],
  ['.MarbleRun.CoordinatorIntermediate.', 'not provided by cloister; use .MarbleRun.RootCA.Cert'],
  ['.MarbleRun.SealKey', 'not provided by cloister; declare a symmetric-key secret'],
];

/** A secret, of the enforced manifest or (`previous`, MarbleRun's `.Previous.Secrets`) as before the last update. */
type Reference = { secret: string; part: SecretPart | undefined; previous: boolean } | { marbleRun: MarbleRunValue };

/** One `{{ ... }}` action. */
export interface Action {
  /** The text between the braces. */
  text: string;
  func: TemplateFunc;
  ref: Reference;
}

/** Literal bytes, or an action to replace. */
type Segment = Uint8Array | Action;

const ACTION = /^[ \t\r\n]*([A-Za-z0-9_]+)[ \t\r\n]+(\.[A-Za-z0-9_.]*)[ \t\r\n]*$/;
const SECRET_REF = /^(\.Previous)?\.Secrets\.([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z]+))?$/;
const EXPECTED =
  'expected {{ FUNC .Secrets.NAME }}, {{ FUNC .Secrets.NAME.Cert|Public|Private }} or {{ FUNC .MarbleRun.RootCA.Cert|MarbleCert.Cert|MarbleCert.Public|MarbleCert.Private }} with FUNC one of ' +
  Object.keys(TEMPLATE_FUNCS).join(', ');

function show(text: string): string {
  const t = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(`{{${t}}}`);
}

function parseReference(ref: string, text: string, fail: Fail): Reference {
  const secret = SECRET_REF.exec(ref);
  if (secret) {
    const [, previous, name = '', part] = secret;
    const from = { secret: name, previous: previous !== undefined };
    if (part === undefined) return { ...from, part: undefined };
    if (Object.hasOwn(SECRET_PARTS, part)) return { ...from, part: part as SecretPart };
    throw fail(`unknown accessor .${part} in ${show(text)} (known: ${Object.keys(SECRET_PARTS).join(', ')})`);
  }
  const name = ref.startsWith('.MarbleRun.') ? ref.slice('.MarbleRun.'.length) : '';
  if (Object.hasOwn(MARBLERUN_VALUES, name)) return { marbleRun: name as MarbleRunValue };
  const known = NOT_PROVIDED.find(([prefix]) => ref.startsWith(prefix));
  throw fail(
    known ? `${ref}: ${known[1]} (in ${show(text)})` : `unknown reference ${ref} in ${show(text)}: ${EXPECTED}`,
  );
}

function parseAction(text: string, fail: Fail): Action {
  const m = ACTION.exec(text);
  if (!m) throw fail(`unsupported template action ${show(text)}: ${EXPECTED}`);
  const [, func = '', ref = ''] = m;
  if (!Object.hasOwn(TEMPLATE_FUNCS, func))
    throw fail(
      `unknown template function "${func}" in ${show(text)} (known: ${Object.keys(TEMPLATE_FUNCS).join(', ')})`,
    );
  return { text, func: func as TemplateFunc, ref: parseReference(ref, text, fail) };
}

/**
 * Splits template bytes into literal bytes and actions. Templates apply to the decoded data
 * (MarbleRun decodes base64 and hex before templating), so this works on bytes; action text is
 * ASCII.
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
  for (let open = buf.indexOf('{{', pos); open >= 0; open = buf.indexOf('{{', pos)) {
    const close = buf.indexOf('}}', open + 2);
    const text = buf.toString('latin1', open + 2, close < 0 ? buf.length : close);
    if (close < 0) throw fail(`unclosed template action ${JSON.stringify(`{{${text.slice(0, 77)}`)}`);
    if (open > pos) out.push(data.subarray(pos, open));
    out.push(parseAction(text, fail));
    pos = close + 2;
  }
  if (pos < data.length) out.push(data.subarray(pos));
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

/**
 * The template dry run of one action (MarbleRun: `TemplateDryRun`): the function may be used in
 * `target`, the secret exists, the accessor fits its type, and the function takes that value.
 * Returns the kind of value the action encodes.
 *
 * @example
 * ```ts
 * checkAction(action, 'Env', manifest.Secrets, fail);   // 'cert' for {{ pem .Secrets.tls.Cert }}
 * ```
 */
export function checkAction(
  a: Action,
  target: Target,
  secrets: Readonly<Record<string, SecretSpec>>,
  fail: Fail,
): ValueKind {
  const fn = TEMPLATE_FUNCS[a.func];
  const targets: readonly Target[] = fn.targets;
  if (!targets.includes(target))
    throw fail(`template function "${a.func}" is only available in ${targets.join(' and ')} (in ${show(a.text)})`);
  let kind: ValueKind;
  let type: SecretType | undefined;
  if ('marbleRun' in a.ref) {
    kind = MARBLERUN_VALUES[a.ref.marbleRun].kind;
  } else {
    const { secret, part } = a.ref;
    const spec = Object.hasOwn(secrets, secret) ? secrets[secret] : undefined;
    if (spec === undefined) throw fail(`unknown secret "${secret}"`);
    // A manifest built by code rather than parsed may carry a type the table lacks.
    if (!Object.hasOwn(SECRET_TYPES, spec.Type))
      throw fail(`secret "${secret}" has an unknown type "${String(spec.Type)}"`);
    type = spec.Type;
    const cert = SECRET_TYPES[type].cert;
    if (part !== undefined && !cert)
      throw fail(`.${part} applies only to certificate secrets; "${secret}" is ${type} (in ${show(a.text)})`);
    kind = part !== undefined ? SECRET_PARTS[part] : cert ? 'public' : 'key';
  }
  const kinds: readonly ValueKind[] = fn.kinds;
  const types: readonly SecretType[] | undefined = fn.types;
  if (!kinds.includes(kind) || (types !== undefined && (type === undefined || !types.includes(type)))) {
    throw fail(
      `template function "${a.func}" cannot encode ${type === undefined ? 'this value' : `a ${type} secret's ${kind}`} (in ${show(a.text)})`,
    );
  }
  return kind;
}
