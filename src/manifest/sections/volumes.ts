import { isAbsolute, normalize, resolve, sep } from 'node:path';
import { FIELDS } from '../fields.js';
import type { JsonReader } from '../../lib/json.js';
import type { Marble, Volume } from '../types.js';

const MODES = ['read-only', 'read-write'] as const;

/**
 * A folder path: no NUL, no `..` segment, and a folder of its own: not the root and not the
 * service's working folder (relative paths are taken from it), since cloister run decrypts into
 * the plaintext folder and removes what it put there when the program exits.
 */
function folder(r: JsonReader, v: unknown, path: string): string {
  const s = r.asName(v, path);
  if (s.includes('\0') || s.split(/[\\/]/).includes('..'))
    throw r.fail(path, 'must be a folder path without ".." segments');
  const normal = normalize(s).replace(/\/+$/, '');
  if (normal === '' || normal === '.')
    throw r.fail(path, `must name a folder below the root or the working folder, not "${s}" itself`);
  return isAbsolute(s) ? normal : s;
}

/**
 * Reads cloister's `Volumes` section: mode, services allowed to open, where the sealed folder is
 * and where its plaintext appears.
 *
 * @example
 * ```ts
 * readVolumes(r, { code: { Mode: 'read-only', Services: ['backend'], Sealed: 'app.sealed', Path: 'app' } });
 * ```
 */
export function readVolumes(r: JsonReader, v: unknown): Record<string, Volume> {
  return r.map(v, 'Volumes', (x, p) => {
    const o = r.object(x, p, FIELDS.Volume);
    const volume: Volume = {
      Mode: r.required(o, p, 'Mode', (m, q) => r.asOneOf(m, q, MODES)),
      Services: r.optional(o, p, 'Services', (s, q) => r.asStrings(s, q)) ?? [],
      Sealed: r.required(o, p, 'Sealed', (s, q) => folder(r, s, q)),
      Path: r.required(o, p, 'Path', (s, q) => folder(r, s, q)),
    };
    // Decrypting into (or over) the sealed folder would mix plaintext with what is committed.
    const [sealed, plain] = [resolve('/', volume.Sealed), resolve('/', volume.Path)];
    if (sealed === plain || plain.startsWith(`${sealed}${sep}`) || sealed.startsWith(`${plain}${sep}`))
      throw r.fail(`${p}.Path`, 'must be neither Sealed nor inside it (nor contain it)');
    return volume;
  });
}

/** Every service a volume names exists (checked once the Marbles are read). */
export function checkVolumeServices(
  r: JsonReader,
  volumes: Record<string, Volume>,
  marbles: Record<string, Marble>,
): void {
  for (const [name, volume] of Object.entries(volumes)) {
    volume.Services.forEach((s, i) => r.asEntry(s, `Volumes.${name}.Services[${i}]`, marbles, 'service'));
  }
}
