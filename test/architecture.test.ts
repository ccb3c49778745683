import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layout is the architecture (docs/design.md, "Data flow"): these rules read the import
 * statements of the real source tree (src/ of the repository this compiled test sits in) and fail
 * on an import that crosses a boundary.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Modules that reach the network, the file system, other threads or processes, or process state. */
const IO_MODULES = [
  'node:fs',
  'node:http',
  'node:https',
  'node:http2',
  'node:net',
  'node:tls',
  'node:dgram',
  'node:dns',
  'node:child_process',
  'node:cluster',
  'node:worker_threads',
  'node:os',
  'node:readline',
];
/** The I/O edges (docs/design.md): a pure folder that runs their code does their I/O. */
const EDGE_FOLDERS = [
  'src/collateral',
  'src/evidence',
  'src/store',
  'src/server',
  'src/run',
  'src/k8s',
  'src/cli',
  'src/attestation-service',
];

interface Rule {
  /** Files under these paths (folders or files, repository-relative) are checked... */
  paths: string[];
  /** ...except those under these (an I/O subfolder of a pure component). */
  except?: string[];
  /** Modules (`node:x` also matches `node:x/sub`) and repository paths they must not import. */
  forbidden: string[];
  /** Whether `import type` counts: it is erased, so it does no I/O, but it still couples. */
  typeOnlyCounts: boolean;
  why: string;
}

const PURE = ['attest', 'manifest', 'pki', 'protocol', 'coordinator'];

const RULES: Rule[] = [
  ...PURE.map((name) => ({
    paths: [`src/${name}`],
    forbidden: [...IO_MODULES, ...EDGE_FOLDERS],
    typeOnlyCounts: false,
    why: `${name}/ is pure: bytes and a clock in, values out`,
  })),
  {
    paths: ['src/protect'],
    // The file and thread pipeline (sealToFile, openToFile, the folder helpers, the worker pool).
    except: ['src/protect/io'],
    forbidden: [...IO_MODULES, ...EDGE_FOLDERS],
    typeOnlyCounts: false,
    why: 'the protected-file format is pure; its file pipeline is an edge',
  },
  {
    paths: ['src/run', 'src/cli/run.ts'],
    forbidden: ['src/coordinator'],
    typeOnlyCounts: true,
    why: 'the workload side shares only protocol/ with the coordinator, never its state machine',
  },
];

/**
 * Imports that break a rule today and are being removed on other branches. The lead empties this
 * list when those merge; an entry that no longer matches an import fails the test, so it cannot
 * outlive its import.
 */
const KNOWN_EXCEPTIONS: ReadonlyArray<{ file: string; imports: string }> = [];

interface Import {
  /** `node:x` for a built-in, a repository path (`src/lib/errors.ts`) for a relative import, else the package name. */
  target: string;
  typeOnly: boolean;
  line: number;
}

const BUILTINS = new Set(builtinModules);

/** Every static import, re-export and dynamic `import('...')` of one TypeScript source. */
function importsOf(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (specifier: ts.Node, typeOnly: boolean): void => {
    if (!ts.isStringLiteral(specifier)) return;
    const { line } = source.getLineAndCharacterOfPosition(specifier.getStart());
    found.push({ target: resolveTarget(file, specifier.text), typeOnly, line: line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0])
      add(node.arguments[0], false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, true);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function resolveTarget(file: string, specifier: string): string {
  if (specifier.startsWith('.')) return posix.join(posix.dirname(file), specifier).replace(/\.js$/, '.ts');
  const bare = specifier.replace(/^node:/, '');
  if (specifier.startsWith('node:') || BUILTINS.has(bare)) return `node:${bare}`;
  return specifier;
}

const within = (target: string, path: string): boolean => target === path || target.startsWith(`${path}/`);

/** Repository-relative paths (with `/`) of the .ts files under `path`. */
function sourceFiles(path: string): string[] {
  const absolute = join(ROOT, path);
  if (!existsSync(absolute)) return [];
  if (path.endsWith('.ts')) return [path];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

const importsCache = new Map<string, Import[]>();
function importsOfFile(file: string): Import[] {
  let found = importsCache.get(file);
  if (!found) importsCache.set(file, (found = importsOf(file, readFileSync(join(ROOT, file), 'utf8'))));
  return found;
}

/** `file:line imports target (why)` for each import that breaks a rule, known exceptions included. */
function violations(): Array<{ file: string; imports: string; text: string }> {
  const out: Array<{ file: string; imports: string; text: string }> = [];
  for (const rule of RULES) {
    const files = rule.paths
      .flatMap(sourceFiles)
      .filter((file) => !(rule.except ?? []).some((path) => within(file, path)));
    for (const file of files)
      for (const found of importsOfFile(file)) {
        if (found.typeOnly && !rule.typeOnlyCounts) continue;
        if (rule.forbidden.some((path) => within(found.target, path)))
          out.push({
            file,
            imports: found.target,
            text: `${file}:${found.line} imports ${found.target} (${rule.why})`,
          });
      }
  }
  return out;
}

const isKnown = (v: { file: string; imports: string }): boolean =>
  KNOWN_EXCEPTIONS.some((known) => known.file === v.file && known.imports === v.imports);

describe('architecture: imports across component boundaries', () => {
  it('the source tree is found from the compiled test', () => {
    assert.ok(existsSync(join(ROOT, 'src/lib/reader.ts')), `no src/lib/reader.ts under ${ROOT}`);
    for (const name of ['attest', 'manifest', 'pki', 'coordinator', 'protect'])
      assert.ok(sourceFiles(`src/${name}`).length > 0, `no source files in src/${name}`);
  });

  it('lib/ imports only node built-ins and lib/ (it is the ground floor)', () => {
    const files = sourceFiles('src/lib');
    assert.ok(files.length > 0);
    const wrong = files.flatMap((file) =>
      importsOfFile(file)
        .filter((found) => !found.target.startsWith('node:') && !within(found.target, 'src/lib'))
        .map((found) => `${file}:${found.line} imports ${found.target}`),
    );
    assert.deepEqual(wrong, []);
  });

  it('the pure folders import no I/O module and no edge; the workload side nothing of the coordinator', () => {
    assert.deepEqual(
      violations()
        .filter((v) => !isKnown(v))
        .map((v) => v.text),
      [],
    );
  });

  it('every known exception still matches an import (else it is removed from the list)', () => {
    const current = violations();
    const stale = KNOWN_EXCEPTIONS.filter(
      (known) => !current.some((v) => v.file === known.file && v.imports === known.imports),
    );
    assert.deepEqual(stale, []);
  });

  it('the import reader sees multi-line, re-exported, dynamic and type-only imports', () => {
    const text = [
      "import {\n  a,\n  b,\n} from 'node:fs/promises';",
      "import type { Socket } from 'net';",
      "import { type X, y } from '../coordinator/state.js';",
      "export { z } from './lib/io.js';",
      "export type { W } from '../store/index.js';",
      "const worker = await import('node:worker_threads');",
      "let t: import('node:http').Server;",
      "import 'reflect-metadata';",
      "// import { no } from 'node:https';",
      'const s = "import { no } from \'node:https\'";',
    ].join('\n');
    assert.deepEqual(
      importsOf('src/run/x.ts', text).map((found) => [found.target, found.typeOnly, found.line]),
      [
        ['node:fs/promises', false, 4],
        ['node:net', true, 5],
        ['src/coordinator/state.ts', false, 6],
        ['src/run/lib/io.ts', false, 7],
        ['src/store/index.ts', true, 8],
        ['node:worker_threads', false, 9],
        ['node:http', true, 10],
        ['reflect-metadata', false, 11],
      ],
    );
  });
});
