import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloisterError } from '../lib/errors.js';

/**
 * The launcher bundle: cloister with its own Node and the shared libraries Node runs on, started
 * through the bundle's dynamic loader (see `launcherArgv`). It runs inside any Linux application
 * image of the same architecture, without a shell, libc or Node in that image. An init container
 * copies it into a volume the application container mounts.
 *
 * Layout: `node`, `lib/ld.so` and the libraries under their sonames, `app/` (cloister's
 * `package.json`, `bin/`, `dist/src/` and its runtime dependencies), `bundle.json`.
 */

const MARKER = 'bundle.json';
/** Dependencies only the Kubernetes commands use; `cloister run` never loads them. */
const NOT_IN_LAUNCHER = new Set(['@kubernetes/client-node', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs']);

/** The package root of this cloister (the folder with package.json). */
const appRoot = (): string => resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** The shared objects this process has mapped: Node's libraries and the loader. */
function mappedLibraries(): string[] {
  const maps = readFileSync('/proc/self/maps', 'utf8');
  return [
    ...new Set(
      maps
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[5] ?? '')
        .filter((p) => /\.so(\.\d+)*$/.test(p)),
    ),
  ];
}

/** `libstdc++.so.6.0.30` is loaded as its soname `libstdc++.so.6`. */
const soname = (file: string): string => basename(file).replace(/(\.so\.\d+)(\.\d+)+$/, '$1');

/** The runtime dependencies of the app, found as Node resolves them (nested first, then hoisted). */
function dependencyDirs(root: string, all: boolean): string[] {
  const found = new Set<string>();
  const visit = (from: string, name: string) => {
    if (!all && NOT_IN_LAUNCHER.has(name)) return;
    // Node's lookup: <dir>/node_modules/<name> for `from` and each ancestor up to the app root.
    for (let dir = from; dir.startsWith(root); dir = dirname(dir)) {
      if (basename(dir) === 'node_modules') continue;
      const candidate = join(dir, 'node_modules', name);
      if (!existsSync(join(candidate, 'package.json'))) continue;
      if (found.has(candidate)) return;
      found.add(candidate);
      const pkg = JSON.parse(readFileSync(join(candidate, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
      for (const d of Object.keys(pkg.dependencies ?? {})) visit(candidate, d);
      return;
    }
    throw new CloisterError('IO', `dependency ${name} of ${from} is not installed below ${root}`);
  };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const d of Object.keys(pkg.dependencies ?? {})) visit(root, d);
  return [...found];
}

/** Node and its libraries (loader as `ld.so`, the rest under their sonames): from a bundle, or from this process. */
function runtime(bundle: string | undefined): { node: string; libraries: [string, string][] } {
  if (bundle)
    return {
      node: join(bundle, 'node'),
      libraries: readdirSync(join(bundle, 'lib')).map((n) => [join(bundle, 'lib', n), n]),
    };
  if (process.platform !== 'linux') throw new CloisterError('USAGE', 'the launcher bundle is Linux only');
  return {
    node: process.execPath,
    libraries: mappedLibraries().map((l) => [l, /\/ld-linux[^/]*$/.test(l) ? 'ld.so' : soname(l)]),
  };
}

/**
 * Writes the bundle to `target`, from the running bundle or the installed cloister. Without
 * `all`, it leaves out what only the Kubernetes commands use (the launcher of `cloister run`);
 * with it, it is the whole of cloister (an image).
 *
 * @example
 * ```ts
 * installLauncher('/cloister', false); // then: /cloister/lib/ld.so --library-path /cloister/lib /cloister/node /cloister/app/bin/cloister.js run ...
 * ```
 */
export function installLauncher(target: string, all: boolean): { node: string; arch: string; libraries: string[] } {
  const root = appRoot();
  const bundle = existsSync(join(dirname(root), MARKER)) ? dirname(root) : undefined;
  // An emptyDir mount point cannot be replaced: a folder that exists is filled in place.
  const direct = existsSync(target);
  const out = direct ? target : `${target.replace(/\/+$/, '')}.${process.pid}.tmp`;
  try {
    const { node, libraries } = runtime(bundle);
    mkdirSync(join(out, 'lib'), { recursive: true });
    copyFileSync(node, join(out, 'node'));
    for (const [from, name] of libraries) copyFileSync(from, join(out, 'lib', name));
    const app = join(out, 'app');
    for (const part of ['package.json', 'bin', 'dist/src'])
      cpSync(join(root, part), join(app, part), { recursive: true });
    for (const dir of dependencyDirs(root, all)) cpSync(dir, join(app, dir.slice(root.length)), { recursive: true });
    for (const f of ['node', 'lib/ld.so']) chmodSync(join(out, f), 0o755);
    writeFileSync(
      join(out, MARKER),
      `${JSON.stringify({ node: process.version, arch: process.arch, libraries: libraries.map(([, n]) => n).sort() })}\n`,
    );
    if (!direct) renameSync(out, target);
  } catch (error) {
    if (!direct) rmSync(out, { recursive: true, force: true });
    throw error instanceof CloisterError
      ? error
      : new CloisterError('IO', `cannot install the launcher in ${target}: ${(error as Error).message}`, {
          cause: error,
        });
  }
  return JSON.parse(readFileSync(join(target, MARKER), 'utf8')) as { node: string; arch: string; libraries: string[] };
}
