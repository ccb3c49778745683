import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devAttestationProvider, tsmProvider, type EvidenceProvider } from '../src/evidence/index.js';
import { initPlatform, simulatedArk } from '../src/cli/sim.js';
import { evidenceVerifier } from '../src/cli/evidence-verifier.js';
import { rate } from './snp.js';

/**
 * Evidence collection per provider (what `cloister run` and the coordinator do for every
 * activation or quote), against the emulated interfaces of `cloister sim emulate` (a helper
 * process answering through named pipes, signing with the simulated platform), beside the
 * verification of the same evidence as the coordinator does it (simulated roots; collateral
 * prepared once and SNP chains cached, as a running coordinator holds them). Collection includes
 * a fresh configfs-tsm entry per request, the generation reads, and the helper's signing.
 */

const BIN = fileURLToPath(new URL('../../bin/cloister.js', import.meta.url));

function emulator(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'sim', 'emulate', ...args], {
    env: { ...process.env, UV_THREADPOOL_SIZE: '64' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('"ready":true') && resolve(child));
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
}

export async function benchEvidence(seconds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-bench-evidence-'));
  const simDir = join(dir, 'sim');
  const children: ChildProcess[] = [];
  try {
    const { platform } = await initPlatform(simDir, Date.now() / 1000);
    children.push(await emulator(['--sim-dir', simDir, '--tsm-root', join(dir, 'tdx'), '--provider', 'tdx']));
    children.push(await emulator(['--sim-dir', simDir, '--tsm-root', join(dir, 'snp'), '--provider', 'snp']));
    children.push(await emulator(['--sim-dir', simDir, '--dev-attestation', join(dir, 'dev')]));
    const verify = evidenceVerifier({
      simulation: { dcapRoot: platform.root.cert.der, snpArk: () => simulatedArk(simDir), platform },
      online: { cacheDir: join(dir, 'cache') },
    });
    const providers: [string, EvidenceProvider][] = [
      ['configfs-tsm TDX', await tsmProvider({ root: join(dir, 'tdx') })],
      ['configfs-tsm SEV-SNP', await tsmProvider({ root: join(dir, 'snp') })],
      ['/dev/attestation SGX', devAttestationProvider(join(dir, 'dev'))],
    ];
    console.log(`\nEvidence collection (emulated interfaces) and verification, ${seconds} s per measurement\n`);
    console.log('provider                  collect/s   verify/s');
    for (const [name, provider] of providers) {
      const collect = await rate(() => provider.quote(new Uint8Array(randomBytes(64))), seconds);
      const evidence = await provider.quote(new Uint8Array(64));
      const check = await rate(() => verify(evidence, { simulated: true, now: Date.now() / 1000 }), seconds);
      console.log(`${name.padEnd(24)} ${collect.toFixed(0).padStart(9)} ${check.toFixed(0).padStart(10)}`);
    }
  } finally {
    for (const child of children) {
      child.kill('SIGTERM');
      child.stdout?.destroy();
      child.unref();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
