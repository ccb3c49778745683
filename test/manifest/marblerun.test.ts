import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CloisterError } from '../../src/lib/errors.js';
import { parseManifest } from '../../src/manifest/index.js';
import { ROOT } from './helpers.js';

/**
 * The conformance suite: manifests from MarbleRun's own tests and samples
 * (test/vectors/marblerun/PROVENANCE.md), each with MarbleRun's outcome. cloister accepts what
 * MarbleRun accepts and refuses what it refuses, naming the JSON path of MarbleRun's cause.
 */

interface Case {
  file: string;
  marblerun: 'accept' | 'reject';
  source: string;
  cause: string | null;
  path?: string;
}

const DIR = new URL('test/vectors/marblerun/', ROOT);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', DIR), 'utf8')) as { cases: Case[] };

test('every MarbleRun vector has its expected outcome', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'cases.json');
  assert.deepEqual(cases.map((c) => c.file).sort(), files.sort());
  assert.ok(cases.some((c) => c.marblerun === 'accept') && cases.some((c) => c.marblerun === 'reject'));
});

for (const c of cases) {
  test(`MarbleRun ${c.marblerun}s ${c.file} (${c.source}); so does cloister`, () => {
    const bytes = readFileSync(new URL(c.file, DIR));
    if (c.marblerun === 'accept') {
      parseManifest(bytes);
      return;
    }
    assert.throws(
      () => parseManifest(bytes),
      (e) => e instanceof CloisterError && e.code === 'MANIFEST_INVALID' && e.path === c.path,
      `MarbleRun: ${c.cause ?? ''}; cloister should name ${c.path ?? ''}`,
    );
  });
}
