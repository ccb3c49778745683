import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { importSimState, simQuote } from '../src/attest/sim/index.js';
import { bindingReportData } from '../src/protocol/index.js';
import { cloister, startCoordinator, tempDir } from '../test/e2e/harness.js';
import { closedLoop } from './load.js';

/**
 * Activations per second and activation latency (nonce + activate, p50/p99) against a real
 * coordinator process, at 1, 16 and 64 concurrent activations. The load generator speaks the
 * activation protocol with simulated evidence, each activation with a fresh nonce and quote.
 */

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);

export async function benchActivation(): Promise<void> {
  const dir = tempDir('bench');
  const simDir = join(dir, 'sim');
  const c = await startCoordinator(join(dir, 'data'), simDir);
  try {
    const rootFile = join(dir, 'root.pem');
    await cloister(['verify', '--coordinator', c.client, '--simulation', '--sim-dir', simDir, '--root-out', rootFile]);
    const mrEnclave = new Uint8Array(32).fill(7);
    const manifest = {
      Packages: { app: { UniqueID: Buffer.from(mrEnclave).toString('hex'), Debug: false, TEE: 'sim' } },
      Marbles: { app: { Package: 'app', Parameters: { Env: { KEY: '{{ hex .Secrets.key }}' } } } },
      Secrets: { key: { Type: 'symmetric-key', Size: 256, Shared: true } },
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'manifest.json'),
      '--coordinator',
      c.client,
      '--root',
      rootFile,
    ]);
    if (set.code !== 0) throw new Error(set.stderr);

    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' }));
    const [host, port] = c.mesh.split(':') as [string, string];
    const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: readFileSync(rootFile, 'utf8') });
    const post = (path: string, body: unknown) =>
      new Promise<Record<string, string>>((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = https.request(
          {
            host,
            port: Number(port),
            path,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () =>
              res.statusCode === 200
                ? resolve(JSON.parse(Buffer.concat(parts).toString()) as Record<string, string>)
                : reject(new Error(Buffer.concat(parts).toString())),
            );
          },
        );
        req.on('error', reject);
        req.end(data);
      });
    const activateOnce = async () => {
      const nonce = new Uint8Array(Buffer.from((await post('/mesh/v1/nonce', {}))['nonce'] as string, 'base64'));
      const evidence = simQuote(platform, {
        mrEnclave,
        mrSigner: new Uint8Array(32),
        isvProdId: 0,
        isvSvn: 0,
        reportData: bindingReportData(spki, nonce),
      });
      const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
      await post('/mesh/v1/activate', {
        service: 'app',
        instanceId: randomUUID(),
        nonce: b64(nonce),
        evidence: b64(evidence),
        publicKey: b64(spki),
      });
    };
    for (let i = 0; i < 50; i++) await activateOnce();

    console.log(`\nService activation against a real coordinator process (simulation), ${SECONDS} s per level\n`);
    console.log('concurrent  activations/s   p50 ms   p99 ms');
    for (const concurrency of [1, 16, 64]) {
      const r = await closedLoop(activateOnce, concurrency, SECONDS);
      console.log(
        `${String(concurrency).padStart(10)} ${r.rate.toFixed(0).padStart(14)} ${r.p50.padStart(8)} ${r.p99.padStart(8)}`,
      );
    }
    agent.destroy();
  } finally {
    await c.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
