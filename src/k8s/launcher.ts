import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  return [...new Set(maps.split('\n').map((l) => l.trim().split(/\s+/)[5] ?? '').filter((p) => /\.so(\.\d+)*$/.test(p)))];
}

/** `libstdc++.so.6.0.30` is loaded as its soname `libstdc++.so.6`. */
const soname = (file: string): string => basename(file).replace(/(\.so\.\d+)(\.\d+)+$/, '$1');

/** The runtime dependencies of the app, found as Node resolves them (nested first, then hoisted). */
function dependencyDirs(root: string): string[] {
  const found = new Set<string>();
  const visit = (from: string, name: string) => {
    if (NOT_IN_LAUNCHER.has(name)) return;
    // Node's lookup: <dir>/node_modules/<name> for `from` and each ancestor up to the app root.
    for (let dir = from; dir.startsWith(root); dir = dirname(dir)) {
      if (basename(dir) === 'node_modules') continue;
      const candidate = join(dir, 'node_modules', name);
      if (!existsSync(join(candidate, 'package.json'))) continue;
      if (found.has(candidate)) return;
      found.add(candidate);
      const pkg = JSON.parse(readFileSync(join(candidate, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const d of Object.keys(pkg.dependencies ?? {})) visit(candidate, d);
      return;
    }
    throw new CloisterError('IO', `dependency ${name} of ${from} is not installed below ${root}`);
  };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const d of Object.keys(pkg.dependencies ?? {})) visit(root, d);
  return [...found];
}

/**
 * Writes the bundle to `target` (replacing an older one). Run from a bundle, it copies itself;
 * run from an installed cloister, it assembles one from the running Node.
 *
 * @example
 * ```ts
 * installLauncher('/cloister'); // then: /cloister/lib/ld.so --library-path /cloister/lib /cloister/node /cloister/app/bin/cloister.js run ...
 * ```
 */
export function installLauncher(target: string): { node: string; arch: string; libraries: string[] } {
  const root = appRoot();
  // An emptyDir mount point cannot be replaced: a folder that exists is filled in place.
  const direct = existsSync(target);
  const out = direct ? target : `${target.replace(/\/+$/, '')}.${process.pid}.tmp`;
  try {
    const bundle = dirname(root);
    if (existsSync(join(bundle, MARKER))) {
      cpSync(bundle, out, { recursive: true, force: true });
    } else {
      if (process.platform !== 'linux') throw new CloisterError('USAGE', 'the launcher bundle is Linux only');
      mkdirSync(join(out, 'lib'), { recursive: true });
      copyFileSync(process.execPath, join(out, 'node'));
      const libraries = mappedLibraries();
      for (const lib of libraries) copyFileSync(lib, join(out, 'lib', /\/ld-linux[^/]*$/.test(lib) ? 'ld.so' : soname(lib)));
      const app = join(out, 'app');
      for (const part of ['package.json', 'bin', 'dist/src']) cpSync(join(root, part), join(app, part), { recursive: true });
      for (const dir of dependencyDirs(root)) cpSync(dir, join(app, dir.slice(root.length)), { recursive: true });
      writeFileSync(join(out, MARKER), `${JSON.stringify({ node: process.version, arch: process.arch, libraries: libraries.map(soname) })}\n`);
    }
    for (const f of ['node', 'lib/ld.so']) chmodSync(join(out, f), 0o755);
    if (!direct) renameSync(out, target);
  } catch (error) {
    if (!direct) rmSync(out, { recursive: true, force: true });
    throw error instanceof CloisterError ? error : new CloisterError('IO', `cannot install the launcher in ${target}: ${(error as Error).message}`, { cause: error });
  }
  return JSON.parse(readFileSync(join(target, MARKER), 'utf8')) as { node: string; arch: string; libraries: string[] };
}
