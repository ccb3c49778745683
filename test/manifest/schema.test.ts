import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { TCB_STATUS } from '../../src/attest/tcb-status.js';
import { FIELDS } from '../../src/manifest/fields.js';
import { SECRET_TYPE_NAMES } from '../../src/manifest/secret-types.js';
import { ROLE_RESOURCES } from '../../src/manifest/sections/access.js';
import { FEATURE_GATES, SEAL_MODES } from '../../src/manifest/sections/config.js';
import { TEE_NAMES } from '../../src/manifest/tee.js';
import { ROOT, example, marbleRunExample, node, parse, type Json } from './helpers.js';

/**
 * schema/manifest.schema.json and the validator describe the same document: the same fields,
 * the same enumerations, and the example manifests validate against both (with a small checker
 * for the JSON Schema 2020-12 keywords the schema uses).
 */

type Schema = boolean | Json;
const schema = JSON.parse(readFileSync(new URL('schema/manifest.schema.json', ROOT), 'utf8')) as Json;
const defs = schema['$defs'] as Record<string, Json>;
const keysOf = (o: unknown) => Object.keys(o as object).sort();
const typeOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;

/** The JSON Schema subset the schema uses; returns the first failure as "path: keyword". */
function check(s: Schema, v: unknown, path = '$'): string | undefined {
  if (s === true) return undefined;
  if (s === false) return `${path}: false`;
  const sub = (name: string) => s[name] as Schema;
  const o = v as Json;
  const rules: [string, () => boolean | string | undefined][] = [
    ['$ref', () => check(defs[String(s['$ref']).replace('#/$defs/', '')] as Schema, v, path)],
    ['type', () => [s['type']].flat().some((t) => t === typeOf(v) || (t === 'number' && typeof v === 'number'))],
    ['enum', () => (s['enum'] as unknown[]).includes(v)],
    ['const', () => s['const'] === v],
    ['pattern', () => typeof v !== 'string' || new RegExp(String(s['pattern']), 'u').test(v)],
    ['minLength', () => typeof v !== 'string' || v.length >= Number(s['minLength'])],
    ['minimum', () => typeof v !== 'number' || v >= Number(s['minimum'])],
    ['maximum', () => typeof v !== 'number' || v <= Number(s['maximum'])],
    ['multipleOf', () => typeof v !== 'number' || v % Number(s['multipleOf']) === 0],
    ['maxItems', () => !Array.isArray(v) || v.length <= Number(s['maxItems'])],
    [
      'items',
      () => (Array.isArray(v) ? v.map((e, i) => check(sub('items'), e, `${path}[${i}]`)).find(Boolean) : undefined),
    ],
    ['minProperties', () => typeOf(v) !== 'object' || Object.keys(o).length >= Number(s['minProperties'])],
    ['required', () => typeOf(v) !== 'object' || (s['required'] as string[]).every((k) => Object.hasOwn(o, k))],
    [
      'dependentRequired',
      () =>
        typeOf(v) !== 'object' ||
        Object.entries(s['dependentRequired'] as Record<string, string[]>).every(
          ([k, needs]) => !Object.hasOwn(o, k) || needs.every((n) => Object.hasOwn(o, n)),
        ),
    ],
    [
      'propertyNames',
      () =>
        typeOf(v) === 'object'
          ? Object.keys(o)
              .map((k) => check(sub('propertyNames'), k, `${path}.${k}`))
              .find(Boolean)
          : undefined,
    ],
    [
      'properties',
      () =>
        typeOf(v) === 'object'
          ? Object.entries(s['properties'] as Json)
              .map(([k, p]) => (Object.hasOwn(o, k) ? check(p as Schema, o[k], `${path}.${k}`) : undefined))
              .find(Boolean)
          : undefined,
    ],
    [
      'additionalProperties',
      () =>
        typeOf(v) === 'object'
          ? Object.keys(o)
              .filter((k) => !Object.hasOwn((s['properties'] ?? {}) as Json, k))
              .map((k) => check(sub('additionalProperties'), o[k], `${path}.${k}`))
              .find(Boolean)
          : undefined,
    ],
    ['allOf', () => (s['allOf'] as Schema[]).map((x) => check(x, v, path)).find(Boolean)],
    ['anyOf', () => (s['anyOf'] as Schema[]).some((x) => check(x, v, path) === undefined)],
    ['oneOf', () => (s['oneOf'] as Schema[]).filter((x) => check(x, v, path) === undefined).length === 1],
    ['not', () => check(sub('not'), v, path) !== undefined],
    ['if', () => (check(sub('if'), v, path) === undefined ? check((s['then'] ?? true) as Schema, v, path) : undefined)],
  ];
  for (const [keyword, rule] of rules) {
    if (!Object.hasOwn(s, keyword)) continue;
    const r = rule();
    if (r === false) return `${path}: ${keyword}`;
    if (typeof r === 'string') return r;
  }
  return undefined;
}

test("the schema describes every object with exactly the validator's fields", () => {
  for (const [name, fields] of Object.entries(FIELDS)) {
    const def = defs[name];
    assert.ok(def, `$defs.${name} exists`);
    const props = (def['properties'] ??
      (def['oneOf'] as Json[] | undefined)?.find((x) => x['properties'])?.['properties']) as Json;
    assert.deepEqual(keysOf(props), [...fields].sort(), `$defs.${name}.properties`);
  }
});

test("the schema's enumerations are the validator's tables", () => {
  const props = (name: string) => defs[name]?.['properties'] as Record<string, Json>;
  assert.deepEqual([...(props('Package')['TEE']?.['enum'] as string[])].sort(), [...TEE_NAMES].sort());
  assert.deepEqual((props('Package')['AcceptedTCBStatuses']?.['items'] as Json)['enum'], Object.keys(TCB_STATUS));
  assert.deepEqual(props('Secret')['Type']?.['enum'], SECRET_TYPE_NAMES);
  assert.deepEqual(props('Role')['ResourceType']?.['enum'], Object.keys(ROLE_RESOURCES));
  assert.deepEqual(props('Config')['SealMode']?.['enum'], SEAL_MODES);
  const pattern = (s: Json | undefined) => new RegExp(String((s?.['items'] as Json)['pattern']));
  for (const gate of FEATURE_GATES) assert.match(gate.toLowerCase(), pattern(props('Config')['FeatureGates']));
  for (const action of Object.values(ROLE_RESOURCES).flatMap((r) => r.actions))
    assert.match(action.toUpperCase(), pattern(props('Role')['Actions']));
});

test('the example manifests validate against the schema and the validator', () => {
  for (const doc of [example(), marbleRunExample()]) {
    assert.equal(check(schema, doc), undefined);
    parse(doc);
  }
});

test('documents the validator refuses for their shape, the schema refuses too', () => {
  const cases: ((m: Json) => void)[] = [
    (m) => (m['Infrastructures'] = {}),
    (m) => (node(m, ['Packages', 'backend'])['UniqueID'] = 'ab'),
    (m) => (node(m, ['Packages', 'backend'])['MRTD'] = 'ab'.repeat(48)),
    (m) => (node(m, ['Secrets', 'secretAESKey'])['Size'] = 100),
    (m) => delete node(m, ['Secrets', 'secretAESKey'])['Size'],
    (m) => (node(m, ['Secrets', 'genericSecret'])['UserDefined'] = false),
    (m) => (node(m, ['Secrets', 'rsaCert'])['Type'] = 'cert-ecdsa'),
    (m) => (node(m, ['Roles', 'updateManifest'])['ResourceNames'] = ['x']),
    (m) => (node(m, ['Marbles', 'frontend'])['MaxActivations'] = -1),
    (m) => (node(m, ['Marbles', 'backendFirst', 'Parameters', 'Files'])['a/../b'] = 'x'),
    (m) => (node(m, ['Marbles', 'backendFirst', 'Parameters', 'Env'])['X'] = { Data: 'x', Encoding: 'utf-8' }),
    (m) => delete node(m, ['TLS', 'frontendTLS1', 'Incoming', 1])['DisableClientAuth'],
    (m) => (node(m, ['Config'])['RecoveryThreshold'] = 1),
  ];
  for (const change of cases) {
    const m = marbleRunExample();
    change(m);
    assert.notEqual(check(schema, m), undefined, change.toString());
    assert.throws(() => parse(m), change.toString());
  }
});

/** Schema and validator both accept `m`, or both refuse it. */
function assertAgree(m: Json, name: string): void {
  let valid = true;
  try {
    parse(m);
  } catch {
    valid = false;
  }
  assert.equal(check(schema, m) === undefined, valid, JSON.stringify(name));
}

test('schema and validator agree on file names', () => {
  for (const name of [
    './a',
    'a/../b',
    '..',
    'a/.',
    '.',
    'a/',
    'x\0y',
    '/tmp/a.txt',
    'a/..b',
    '..a/b',
    'secrets/api-key',
    '',
  ]) {
    const m = marbleRunExample();
    node(m, ['Marbles', 'backendFirst', 'Parameters', 'Files'])[name] = 'x';
    assertAgree(m, name);
  }
});

test('schema and validator agree on volume folders', () => {
  for (const name of [
    '/',
    '//',
    '.',
    './',
    '/..',
    'a/..',
    '../a',
    'a/../b',
    'data',
    'data/',
    '/run/app',
    'a/.b',
    '..a',
  ]) {
    const m = marbleRunExample();
    m['Volumes'] = { code: { Mode: 'read-only', Services: [], Sealed: 'code.sealed', Path: name } };
    assertAgree(m, name);
  }
});
