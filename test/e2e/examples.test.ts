import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hex } from '../../src/lib/bytes.js';
import { importSimState } from '../../src/attest/sim/index.js';
import { activate } from '../../src/run/activate.js';
import { simEvidence } from '../../src/evidence/sim.js';
import { measure } from '../../src/run/measure.js';
import { call, parseAddress } from '../../src/cli/net.js';
import { BIN, cloister, freePort, startCoordinator, tempDir, type RunningCoordinator, pinRoot } from './harness.js';

/**
 * The example services of `npm start`: two unmodified programs that talk over mutual TLS with
 * coordinator-issued certificates, checked with Node's TLS stack and with `openssl s_client`.
 */

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const dir = tempDir('examples');
const simDir = join(dir, 'sim');
const files = {
  backend: join(repo, 'examples/backend/server.js'),
  frontend: join(repo, 'examples/frontend/client.js'),
};
let c: RunningCoordinator;
const rootFile = join(dir, 'root.pem');
let backend: ChildProcess;
let port: number;

function runService(name: 'backend' | 'frontend'): ChildProcess {
  return spawn(
    process.execPath,
    [
      BIN,
      'run',
      '--service',
      name,
      '--coordinator',
      c.mesh,
      '--sim-dir',
      simDir,
      '--root',
      rootFile,
      '--measure',
      files[name],
      '--',
      process.execPath,
      files[name],
    ],
    { cwd: dir },
  );
}

describe('example services over mutual TLS', () => {
  before(async () => {
    c = await startCoordinator(join(dir, 'data'), simDir);
    assert.equal((await pinRoot(c, simDir, rootFile)).code, 0);
    port = await freePort();
    const m = JSON.parse(readFileSync(join(repo, 'examples/manifest.json'), 'utf8')) as {
      Packages: Record<string, { UniqueID: string }>;
      Marbles: Record<string, { Parameters: { Env: Record<string, string> } }>;
    };
    for (const name of ['backend', 'frontend'] as const)
      (m.Packages[name] as { UniqueID: string }).UniqueID = hex(measure(process.execPath, [files[name]]));
    (m.Marbles['backend'] as { Parameters: { Env: Record<string, string> } }).Parameters.Env['LISTEN_PORT'] =
      String(port);
    (m.Marbles['frontend'] as { Parameters: { Env: Record<string, string> } }).Parameters.Env['BACKEND_URL'] =
      `https://localhost:${port}/`;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    const set = await cloister([
      'manifest',
      'set',
      join(dir, 'manifest.json'),
      '--coordinator',
      c.client,
      '--root',
      rootFile,
    ]);
    assert.equal(set.code, 0, set.stderr);
    backend = runService('backend');
    await new Promise<void>((resolve, reject) => {
      backend.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
      backend.on('exit', (code) => reject(new Error(`backend exited ${code}`)));
    });
  });
  after(async () => {
    backend.kill('SIGTERM');
    await c.stop();
  });

  it('the frontend reaches the backend with its certificate and the shared API key', async () => {
    const frontend = runService('frontend');
    let out = '';
    frontend.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => frontend.on('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /answered 200: .*hello frontend/);
  });

  it('openssl s_client: a coordinator certificate is accepted, none is refused', async () => {
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const mesh = parseAddress(c.mesh, 'mesh');
    const a = await activate(
      { post: async (path, body) => (await call(mesh, 'POST', path, { body: JSON.stringify(body) })).json() },
      simEvidence(platform, { mrEnclave: measure(process.execPath, [files.frontend]) }),
      { service: 'frontend' },
    );
    writeFileSync(join(dir, 'chain.pem'), a.certChain);
    writeFileSync(join(dir, 'key.pem'), a.privateKey);
    writeFileSync(join(dir, 'ca.pem'), a.rootCa);
    const http = `GET / HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${a.rendered.env['API_KEY']}\r\nConnection: close\r\n\r\n`;
    const s = spawnSync(
      'openssl',
      [
        's_client',
        '-connect',
        `localhost:${port}`,
        '-servername',
        'localhost',
        '-CAfile',
        join(dir, 'ca.pem'),
        '-cert',
        join(dir, 'chain.pem'),
        '-cert_chain',
        join(dir, 'chain.pem'),
        '-key',
        join(dir, 'key.pem'),
        '-verify_return_error',
        '-verify_hostname',
        'localhost',
        '-ign_eof',
      ],
      { input: http, encoding: 'utf8', timeout: 20_000 },
    );
    if (s.error && (s.error as NodeJS.ErrnoException).code === 'ENOENT') return assert.fail('openssl is not installed');
    assert.match(s.stdout, /Verify return code: 0 \(ok\)/);
    assert.match(s.stdout, /HTTP\/1\.1 200/, s.stderr);
    // Node's TLS stack without a client certificate: the backend refuses the handshake.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = request({ host: 'localhost', port, ca: a.rootCa, path: '/' }, resolve);
        req.on('error', reject);
        req.end();
      }),
    );
  });
});
