import { jsonPath, JsonReader, type JsonObject } from '../../lib/json.js';

/**
 * The manifest's JSON reader: MarbleRun decodes a manifest with Go's `encoding/json` into its
 * structs, and this reader gives cloister the same reading, so that a manifest means to
 * cloister what it means to MarbleRun (Go, `encoding/json`, "Unmarshal"):
 *
 * - a member name matches a struct field exactly, or else case-insensitively;
 * - a member no field takes is ignored, and reported here as a warning naming it;
 * - JSON `null` leaves the zero value: an empty map or list, `""`, `false`, `0`, a struct with
 *   every field at its zero value; a member holding `null` is the same as no member (MarbleRun's
 *   manifests are often written by `json.Marshal`, which writes `null` for nil maps and slices).
 *
 * cloister's own sections (`Volumes`) are read strictly: an unknown field there is an error.
 */
export class ManifestReader extends JsonReader {
  /** What `manifest check` reports: fields ignored, values that can never match, and the like. */
  readonly warnings: string[] = [];

  constructor() {
    super('MANIFEST_INVALID', '');
  }

  /** Records a warning about the value at `path`. */
  warn(path: string, why: string): void {
    this.warnings.push(`${path === '' ? '$' : path}: ${why}`);
  }

  /**
   * A struct: `null` is every field at its zero value; member names are matched to `fields` as Go
   * does (exactly, then case-insensitively; a later member for the same field wins); members
   * holding `null` are dropped. Unknown members are warnings, or errors with `strict`.
   */
  override object(value: unknown, path = this.root, fields?: readonly string[], strict = false): JsonObject {
    if (value === null) return Object.create(null) as JsonObject;
    const o = super.object(value, path, strict ? fields : undefined);
    if (fields === undefined) return o;
    const out = Object.create(null) as JsonObject;
    for (const [key, member] of Object.entries(o)) {
      const field = fields.includes(key) ? key : fields.find((f) => f.toLowerCase() === key.toLowerCase());
      if (field === undefined) {
        this.warn(jsonPath(path, key), `unknown field, ignored (as MarbleRun ignores it; known: ${fields.join(', ')})`);
        continue;
      }
      if (field !== key) this.warn(jsonPath(path, key), `read as ${field} (Go matches field names case-insensitively)`);
      if (member === null) delete out[field];
      else out[field] = member;
    }
    return out;
  }

  override map<T>(
    v: unknown,
    path: string,
    each: (value: unknown, path: string, name: string) => T,
  ): Record<string, T> {
    return super.map(v === null ? {} : v, path, each);
  }

  override list<T>(v: unknown, path: string, each: (value: unknown, path: string) => T): T[] {
    return super.list(v === null ? [] : v, path, each);
  }

  override asString(v: unknown, path: string): string {
    return super.asString(v === null ? '' : v, path);
  }

  override asBoolean(v: unknown, path: string): boolean {
    return super.asBoolean(v === null ? false : v, path);
  }

  override asInteger(v: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
    return super.asInteger(v === null ? 0 : v, path, max);
  }

  /**
   * Go's `[]byte`: a base64 string (`encoding/json` writes it so), or a JSON array of bytes.
   */
  asGoBytes(v: unknown, path: string): Uint8Array {
    if (Array.isArray(v)) return Uint8Array.from(this.list(v, path, (e, p) => this.asInteger(e, p, 255)));
    const s = this.asString(v, path);
    const bytes = Buffer.from(s, 'base64');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0)
      throw this.fail(path, 'must be base64 (a Go []byte) or an array of bytes');
    return new Uint8Array(bytes);
  }
}
