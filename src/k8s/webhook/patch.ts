import { CloisterError } from '../../lib/errors.js';

/**
 * Builds an RFC 6902 JSON patch against a document, creating missing parents and appending to
 * arrays, so the operations apply in order to the original. The document is not modified.
 */

export interface PatchOp {
  op: 'add';
  path: string;
  value: unknown;
}

type Key = string | number;

/** RFC 6901 §3: `~` is `~0`, `/` is `~1`. */
export const pointer = (path: readonly Key[]): string =>
  path.map((k) => `/${String(k).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

export class JsonPatcher {
  readonly ops: PatchOp[] = [];
  /** A copy of the document with the operations so far applied, to know what already exists. */
  readonly #doc: unknown;

  constructor(doc: unknown) {
    this.#doc = structuredClone(doc);
  }

  #get(path: readonly Key[]): unknown {
    let at: unknown = this.#doc;
    for (const k of path) at = typeof at === 'object' && at !== null ? (at as Record<Key, unknown>)[k] : undefined;
    return at;
  }

  #add(path: readonly Key[], value: unknown, append = false): void {
    this.ops.push({ op: 'add', path: pointer(path) + (append ? '/-' : ''), value: structuredClone(value) });
    const parent = this.#get(append ? path : path.slice(0, -1));
    if (append) (parent as unknown[]).push(structuredClone(value));
    else (parent as Record<Key, unknown>)[path[path.length - 1] as Key] = structuredClone(value);
  }

  /** Sets a value, creating missing parent objects; a parent of another type is refused. */
  set(path: readonly Key[], value: unknown): void {
    for (let i = 1; i < path.length; i++) {
      const parent = this.#get(path.slice(0, i));
      if (parent == null) this.#add(path.slice(0, i), {});
      else if (typeof parent !== 'object' || Array.isArray(parent) !== (typeof path[i] === 'number')) {
        throw new CloisterError(
          'REQUEST_INVALID',
          `${path.slice(0, i).join('.')} is not ${typeof path[i] === 'number' ? 'a list' : 'an object'}`,
        );
      }
    }
    this.#add(path, value);
  }

  /** Appends to an array, creating it when missing. */
  append(path: readonly Key[], value: unknown): void {
    const list = this.#get(path);
    if (Array.isArray(list)) this.#add(path, value, true);
    else if (list == null) this.set(path, [value]);
    else throw new CloisterError('REQUEST_INVALID', `${path.join('.')} is not a list`);
  }
}
