import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { importSimState, simQuote } from '../src/attest/sim/index.js';
import { BIN, freePort, tempDir } from '../test/e2e/harness.js';
import { closedLoop } from './load.js';

/**
 * Attestations per second through the MAA-compatible HTTPS API of a real `cloister
 * attestation-service` process (simulated platform, real clock), with the request shape of
 * `@azure/attestation`'s attestSgxEnclave: `{ quote, runtimeData: { data, dataType: "Binary" } }`
 * (base64url), api-version 2020-10-01, keep-alive connections. Each request's quote is verified
 * (two P-256 signatures, collateral prepared once), its runtime data binding checked, the policy
 * applied and an RS256 token signed. There is no runnable peer: Azure Attestation exists only as
 * a cloud service.
 */

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);

/** CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

export async function benchMaa(): Promise<void> {
  const dir = tempDir('bench-maa');
  const listen = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [
    ...(process.env['CLOISTER_PROFILE'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['CLOISTER_PROFILE']] : []),
    BIN,
    'attestation-service',
    '--data-dir',
    join(dir, 'data'),
    '--listen',
    listen,
    '--simulation',
    '--sim-dir',
    join(dir, 'sim'),
  ]);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('"event":"listening"')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`attestation-service exited with ${code}: ${log}`)));
  });
  try {
    const platform = importSimState(JSON.parse(readFileSync(join(dir, 'sim', 'platform.json'), 'utf8')));
    // 256 distinct requests: quotes binding distinct runtime data, as enclaves send them.
    const bodies = Array.from({ length: 256 }, (_, i) => {
      const data = Buffer.from(`runtime data ${i}`);
      const quote = simQuote(platform, {
        mrEnclave: new Uint8Array(32).fill(7),
        mrSigner: new Uint8Array(32).fill(9),
        isvProdId: 1,
        isvSvn: 1,
        reportData: createHash('sha256').update(data).digest(),
      });
      return JSON.stringify({
        quote: Buffer.from(quote).toString('base64url'),
        runtimeData: { data: data.toString('base64url'), dataType: 'Binary' },
      });
    });
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 64,
      ca: readFileSync(join(dir, 'data', 'tls-root.pem'), 'utf8'),
    });
    const [host, port] = listen.split(':') as [string, string];
    let next = 0;
    const attest = () =>
      new Promise<void>((resolve, reject) => {
        const body = bodies[next++ % bodies.length] as string;
        const req = https.request(
          {
            host,
            port: Number(port),
            path: '/attest/SgxEnclave?api-version=2020-10-01',
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json; charset=utf-8',
              accept: 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () =>
              res.statusCode === 200
                ? resolve()
                : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(parts).toString()}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    for (let i = 0; i < 200; i++) await attest();

    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    console.log(
      `\nMAA-compatible attestation (POST /attest/SgxEnclave, simulated SGX quote + binary runtime data, RS256 token) over HTTPS, ${SECONDS} s per level`,
    );
    console.log(`peer: none runnable (Azure Attestation is a cloud service only); load average at start: ${load}\n`);
    // Server CPU per attestation does not depend on what else runs on the machine; the rate does.
    console.log('concurrent  attestations/s   p50 ms   p99 ms   server CPU ms/attestation');
    for (const concurrency of [1, 16, 64]) {
      const cpu = cpuSeconds(child.pid);
      const r = await closedLoop(attest, concurrency, SECONDS);
      const cpuMs = ((cpuSeconds(child.pid) - cpu) * 1000) / r.count;
      console.log(
        `${String(concurrency).padStart(10)} ${r.rate.toFixed(0).padStart(15)} ${r.p50.padStart(8)} ${r.p99.padStart(8)} ${cpuMs.toFixed(2).padStart(13)}`,
      );
    }
    agent.destroy();
  } finally {
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
