import { createHash, createPrivateKey, sign, verify, X509Certificate } from 'node:crypto';
import { CloisterError } from '../lib/errors.js';
import { JsonReader } from '../lib/json.js';

/**
 * The coordinator's history: every change of its state made by a user, an update or a recovery,
 * as a hash chain (each entry names the hash of the one before, as a Merkle–Damgård chain or
 * Certificate Transparency's log, RFC 9162 §2.1, without the tree), whose head the coordinator
 * signs with its root key, the identity its evidence binds. A client that remembers the last head
 * it saw refuses a history that is shorter (an older state restored) or that does not contain
 * that head (a fork). Entries name secrets, types and users, never a secret's value.
 */

export const HISTORY_KINDS = [
  'manifest-set',
  'security-versions-updated',
  'update-proposed',
  'update-acknowledged',
  'update-applied',
  'update-cancelled',
  'secrets-written',
  'volume-sealed',
  'recovered',
] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

/** Names, numbers and lists of names: never a value of a secret. */
export type HistoryDetails = Record<string, string | number | string[] | Record<string, string | number>>;

export interface HistoryEntry {
  /** 1 for the first entry. */
  seq: number;
  /** Unix seconds, the coordinator's clock. */
  time: number;
  kind: HistoryKind;
  /** The user (or, for a recovery, the key holders) who made the change. */
  by: string[];
  /** The fingerprint of the manifest the change set, proposed or was made under. */
  manifest: string | undefined;
  details: HistoryDetails;
  /** The hash of the entry before (64 zeros for the first). */
  prev: string;
  /** SHA-256 (hex) of this entry's fields above, in canonical JSON. */
  hash: string;
}

/** The signed head: how many entries there are and the last one's hash. */
export interface HistoryHead {
  size: number;
  hash: string;
  /** The root key's signature over {@link headMessage} (base64). */
  signature: string;
}

export const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted at every level, so that a hash does not depend on key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** The hash of an entry's fields (everything but `hash`). */
export function entryHash(e: Omit<HistoryEntry, 'hash'>): string {
  const { seq, time, kind, by, manifest, details, prev } = e;
  return createHash('sha256')
    .update(`cloister history entry v1\n${canonical({ seq, time, kind, by, manifest, details, prev })}`)
    .digest('hex');
}

/**
 * The history with one more entry.
 *
 * @example
 * ```ts
 * history = append(history, { kind: 'secrets-written', by: ['alice'], manifest, details: { secrets: ['apiKey'] } }, now);
 * ```
 */
export function append(
  history: readonly HistoryEntry[],
  change: { kind: HistoryKind; by: string[]; manifest: string | undefined; details?: HistoryDetails },
  now: number,
): HistoryEntry[] {
  const unhashed = {
    seq: history.length + 1,
    time: Math.floor(now),
    kind: change.kind,
    by: change.by,
    manifest: change.manifest,
    details: change.details ?? {},
    prev: history.at(-1)?.hash ?? GENESIS,
  };
  return [...history, { ...unhashed, hash: entryHash(unhashed) }];
}

/** What the root key signs: the domain, the size and the last hash. */
export function headMessage(size: number, hash: string): Uint8Array {
  return new Uint8Array(Buffer.from(`cloister history head v1\n${size}\n${hash}`, 'utf8'));
}

/** The head of `history`, signed with the root key (PKCS#8 DER). */
export function signHead(history: readonly HistoryEntry[], rootKey: Uint8Array): HistoryHead {
  const size = history.length;
  const hash = history.at(-1)?.hash ?? GENESIS;
  const key = createPrivateKey({ key: Buffer.from(rootKey), format: 'der', type: 'pkcs8' });
  return { size, hash, signature: sign('sha256', headMessage(size, hash), key).toString('base64') };
}

const reader = (code: 'HISTORY_INVALID' | 'STATE_CORRUPT', root: string) => new JsonReader(code, root);

/** Reads entries (from the sealed state, or a coordinator's answer): `code` naming the field. */
export function decodeHistory(
  value: unknown,
  code: 'HISTORY_INVALID' | 'STATE_CORRUPT' = 'HISTORY_INVALID',
  path = 'history',
): HistoryEntry[] {
  const r = reader(code, path);
  return r.list(value, path, (v, p) => {
    const o = r.object(v, p, ['seq', 'time', 'kind', 'by', 'manifest', 'details', 'prev', 'hash']);
    const hex64 = (key: string) => {
      const text = r.required(o, p, key, (x, q) => r.asString(x, q));
      if (!/^[0-9a-f]{64}$/.test(text)) throw r.fail(`${p}.${key}`, 'not a SHA-256 in lowercase hex');
      return text;
    };
    const details = r.object(o['details'] ?? {}, `${p}.details`) as HistoryDetails;
    return {
      seq: r.required(o, p, 'seq', (x, q) => r.asInteger(x, q)),
      time: r.required(o, p, 'time', (x, q) => r.asInteger(x, q)),
      kind: r.required(o, p, 'kind', (x, q) => r.asOneOf(x, q, HISTORY_KINDS)),
      by: r.required(o, p, 'by', (x, q) => r.asStrings(x, q)),
      manifest: r.optional(o, p, 'manifest', (x, q) => r.asString(x, q)),
      details,
      prev: hex64('prev'),
      hash: hex64('hash'),
    };
  });
}

/** Reads a signed head from a coordinator's answer: HISTORY_INVALID naming the field. */
export function decodeHead(value: unknown): HistoryHead {
  const r = reader('HISTORY_INVALID', 'head');
  const o = r.object(value, 'head', ['size', 'hash', 'signature']);
  return {
    size: r.required(o, 'head', 'size', (x, q) => r.asInteger(x, q)),
    hash: r.required(o, 'head', 'hash', (x, q) => r.asString(x, q)),
    signature: r.required(o, 'head', 'signature', (x, q) => r.asString(x, q)),
  };
}

const invalid = (message: string) => new CloisterError('HISTORY_INVALID', message);

/**
 * Checks a history from outside: each entry's number, link and hash, and the head's size, hash and
 * signature by the root certificate's key (the root a client attested and pinned).
 *
 * @throws CloisterError HISTORY_INVALID naming the first entry that does not verify.
 *
 * @example
 * ```ts
 * verifyHistory(entries, head, pinnedRootDer);
 * ```
 */
export function verifyHistory(entries: readonly HistoryEntry[], head: HistoryHead, rootCert: Uint8Array): void {
  let prev = GENESIS;
  entries.forEach((e, i) => {
    if (e.seq !== i + 1) throw invalid(`entry ${i + 1} says it is entry ${e.seq}`);
    if (e.prev !== prev) throw invalid(`entry ${e.seq} does not link to the entry before it`);
    if (entryHash(e) !== e.hash) throw invalid(`entry ${e.seq} does not hash to its hash: it was changed`);
    prev = e.hash;
  });
  if (head.size !== entries.length || head.hash !== prev)
    throw invalid(`the signed head (${head.size} entries, ${head.hash}) is not the head of the entries presented`);
  const signed = verify(
    'sha256',
    headMessage(head.size, head.hash),
    new X509Certificate(rootCert).publicKey,
    Buffer.from(head.signature, 'base64'),
  );
  if (!signed) throw invalid("the history head is not signed by the coordinator's root key");
}

/**
 * Refuses a history that does not extend the head a client saw before (a transparency-log
 * client's consistency check, RFC 9162 §8.1.2, on a plain chain): shorter is HISTORY_ROLLBACK,
 * another entry where the old head was is HISTORY_FORK.
 *
 * @example
 * ```ts
 * checkExtends({ size: 4, hash }, entries);
 * ```
 */
export function checkExtends(seen: { size: number; hash: string }, entries: readonly HistoryEntry[]): void {
  if (entries.length < seen.size)
    throw new CloisterError(
      'HISTORY_ROLLBACK',
      `the coordinator presents ${entries.length} history entries, fewer than the ${seen.size} seen before: its state was rolled back (an older copy restored)`,
      { expected: seen.size, actual: entries.length },
    );
  const there = seen.size === 0 ? GENESIS : entries[seen.size - 1]?.hash;
  if (there !== seen.hash)
    throw new CloisterError(
      'HISTORY_FORK',
      `history entry ${seen.size} is ${there ?? 'missing'}, but ${seen.hash} was seen there before: the coordinator presents a forked history`,
      { expected: seen.hash, actual: there },
    );
}
