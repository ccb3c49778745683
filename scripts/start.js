#!/usr/bin/env node
// `npm start`: the simulated platform end to end, through the real `cloister` command line.
// Each example service is measured (simulated MRENCLAVE = SHA-256 of its program), quoted by the
// simulated platform, verified like a hardware quote and judged by a policy that pins its
// measurement; a modified program is then refused. The coordinator joins this run with the spine.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = join(root, '.cloister');
const simDir = join(data, 'sim');
const cloister = (...args) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/cloister.js'), ...args], { encoding: 'utf8', cwd: root });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
};
const must = (r) => {
  if (r.code !== 0) throw new Error(r.err || r.out);
  return r;
};

console.log(must(cloister('sim', 'init', '--sim-dir', simDir)).out);
must(cloister('sim', 'collateral', '--sim-dir', simDir, '--out', join(data, 'collateral.json')));

for (const name of readdirSync(join(root, 'examples'))) {
  const program = readFileSync(join(root, 'examples', name, 'server.js'));
  for (const [label, bytes] of [['as shipped', program], ['modified', Buffer.concat([program, Buffer.from('\n// patched\n')])]]) {
    const mrenclave = createHash('sha256').update(bytes).digest('hex');
    const quote = join(data, `${name}.quote`);
    must(cloister('sim', 'quote', '--sim-dir', simDir, '--out', quote, '--mrenclave', mrenclave, '--mrsigner', 'c1'.repeat(32), '--isv-prod-id', '1', '--isv-svn', '1', '--report-data', randomBytes(32).toString('hex')));
    const policy = join(data, `${name}.policy.json`);
    writeFileSync(policy, JSON.stringify({ allowSimulation: true, expected: { mrenclave: createHash('sha256').update(program).digest('hex'), isvProdId: 1 }, minimum: { isvSvn: 1 } }));
    const r = cloister('attest', 'verify', quote, '--collateral', join(data, 'collateral.json'), '--trust-root', join(data, 'sim/root.pem'), '--policy', policy, '--json');
    const v = JSON.parse(r.out);
    console.log(`${name} (${label}): ${v.ok ? `accepted, ${v.tcbStatus}, MRENCLAVE ${v.claims.mrenclave.slice(0, 16)}…, simulation=${v.simulation}` : `refused: ${v.error.code}: ${v.error.message}`}`);
  }
}
