import { CloisterError } from '../lib/errors.js';

/**
 * The exact source text of the value of the top-level member `name` of the JSON object `body`.
 * Intel signs the `tcbInfo` / `enclaveIdentity` member as served (Intel PCS API v4, "Get TCB Info",
 * "Get Intel's QE Identity"), and a `JSON.parse` + `JSON.stringify` round trip may change those
 * bytes. A body that is not a JSON object, lacks the member or holds it twice (which `JSON.parse`
 * would silently resolve) throws `COLLATERAL_RESPONSE_INVALID` with `field` = `name`.
 *
 * @example
 * ```ts
 * extractRawMember('{"tcbInfo": {"id":"SGX"}, "signature":"ab12"}', 'tcbInfo'); // '{"id":"SGX"}'
 * ```
 */
export function extractRawMember(body: string, name: string): string {
  const fail = (why: string, cause?: unknown): CloisterError =>
    new CloisterError('COLLATERAL_RESPONSE_INVALID', `member "${name}": ${why}`, { field: name, cause });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    throw fail(`the body is not valid JSON (${e instanceof Error ? e.message : String(e)})`, e);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw fail('the body is not a JSON object');
  // `body` is valid JSON now: skip strings, count brackets, and cut at the top level's ':' and ','/'}'.
  let found: string | undefined;
  let depth = 0;
  let key: unknown;
  let keyNext = false;
  let start = -1;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"') {
      let end = i + 1;
      while (body[end] !== '"') end += body[end] === '\\' ? 2 : 1;
      // Keys compare decoded, as JSON.parse does: "tcb\u0049nfo" names tcbInfo.
      if (keyNext) key = JSON.parse(body.slice(i, end + 1));
      keyNext = false;
      i = end;
    } else if (c === '{' || c === '[') {
      keyNext = ++depth === 1;
    } else if (c === ':' && depth === 1) {
      start = i + 1;
    } else if ((c === ',' || c === '}' || c === ']') && depth === 1 && start >= 0) {
      if (key === name) {
        if (found !== undefined) throw fail('appears more than once');
        found = body.slice(start, i).trim();
      }
      start = -1;
      keyNext = c === ',';
    }
    if (c === '}' || c === ']') depth--;
  }
  if (found === undefined) throw fail('is missing');
  return found;
}
