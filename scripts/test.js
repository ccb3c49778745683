#!/usr/bin/env node
// `npm test` after the build: runs the test files, and only those, with node:test. `node --test
// dist/test` would run every module under it, counting helpers (harness.js, cluster.js) as passing
// tests. The files are the sources test/**/*.test.ts, compiled under dist/test, so a compiled test
// whose source is gone (left in dist/ by an older checkout) does not run either.
//   node scripts/test.js [FOLDER-OR-FILE ...]   e.g. node scripts/test.js test/k8s
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const roots = process.argv.length > 2 ? process.argv.slice(2) : [join(repo, 'test')];

function testSources(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).flatMap((name) => testSources(join(path, name)));
}

const files = roots
  .flatMap((root) => testSources(resolve(root)))
  .sort()
  .map((source) => join(repo, 'dist', relative(repo, source)).replace(/\.ts$/, '.js'));
const missing = files.filter((file) => !existsSync(file));
if (files.length === 0 || missing.length > 0) {
  console.error(
    files.length === 0
      ? `no *.test.ts under ${roots.join(', ')}`
      : `not built (run npm run build): ${missing.join(', ')}`,
  );
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--test', '--test-timeout=600000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
