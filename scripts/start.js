#!/usr/bin/env node
// `npm start`: a coordinator in simulation mode with its data in .cloister/, the example manifest,
// and two unmodified example services that talk over mutual TLS with coordinator-issued
// certificates and share a generated secret. Everything goes through the real `cloister` command
// line; the coordinator keeps running until Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const home = join(repo, '.cloister');
const simDir = join(home, 'sim');
const rootPem = join(home, 'root.pem');
const client = process.env.CLOISTER_CLIENT_ADDR ?? 'localhost:4433';
const mesh = process.env.CLOISTER_MESH_ADDR ?? 'localhost:2001';
const children = [];
const say = (text) => console.log(`\n▸ ${text}`);

function start(args, { cwd = repo, prefix, onLine } = {}) {
  const child = spawn(process.execPath, [join(repo, 'bin/cloister.js'), ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop();
      for (const line of lines) {
        if (prefix) console.log(`  ${prefix} │ ${line}`);
        onLine?.(line);
      }
    });
  }
  return child;
}

function cloister(...args) {
  return new Promise((resolve, reject) => {
    let out = '';
    const child = start(args, { onLine: (l) => (out += `${l}\n`) });
    child.on('exit', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`cloister ${args[0]} ${args[1] ?? ''} failed:\n${out}`)),
    );
  });
}

function until(child, pattern, what) {
  return new Promise((resolve, reject) => {
    const check = (d) => pattern.test(String(d)) && resolve();
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready`)));
  });
}

function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('SIGINT', () => {
  console.log('\nstopping the example services and the coordinator');
  stopAll();
  process.exit(0);
});

try {
  mkdirSync(home, { recursive: true });
  say(
    `Starting the coordinator in SIMULATION mode (data in ${join(home, 'data')}; client API ${client}, mesh ${mesh})`,
  );
  const coordinator = start(
    [
      'coordinator',
      '--data-dir',
      join(home, 'data'),
      '--client-addr',
      client,
      '--mesh-addr',
      mesh,
      '--simulation',
      '--sim-dir',
      simDir,
    ],
    {
      onLine: (line) => {
        try {
          const e = JSON.parse(line);
          if (e.event === 'activated')
            console.log(
              `  coordinator │ activated ${e.service} (instance ${e.instance.slice(0, 8)}…): evidence verified, ${e.tcbStatus}${e.simulation ? ', simulation' : ''}`,
            );
          else if (e.level !== 'info' || e.event === 'manifest-set')
            console.log(`  coordinator │ ${e.event ?? e.code}: ${e.message ?? e.fingerprint ?? ''}`);
        } catch {
          console.log(`  coordinator │ ${line}`);
        }
      },
    },
  );
  await until(coordinator, /"event":"listening"/, 'the coordinator');

  say('Attesting the coordinator (fresh nonce) and pinning its root certificate, as any client would');
  console.log(
    `  ${await cloister('verify', '--coordinator', client, '--simulation', '--sim-dir', simDir, '--root-out', rootPem)}`,
  );

  say("Measuring the example services: the simulated MRENCLAVE is the SHA-256 of node and the service's code");
  const manifest = JSON.parse(readFileSync(join(repo, 'examples/manifest.json'), 'utf8'));
  const program = { backend: 'examples/backend/server.js', frontend: 'examples/frontend/client.js' };
  for (const [name, file] of Object.entries(program)) {
    manifest.Packages[name].UniqueID = await cloister(
      'sim',
      'measure',
      '--measure',
      join(repo, file),
      process.execPath,
    );
    console.log(`  ${name}: ${manifest.Packages[name].UniqueID}`);
  }
  const manifestFile = join(home, 'manifest.json');
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  const status = JSON.parse(await cloister('status', '--coordinator', client, '--root', rootPem, '--json'));
  if (status.status === 'AcceptingManifest') {
    say('Setting the manifest');
    console.log(`  ${await cloister('manifest', 'set', manifestFile, '--coordinator', client, '--root', rootPem)}`);
  } else {
    say('The coordinator already enforces a manifest (from an earlier run); checking it is this one');
    console.log(`  ${await cloister('manifest', 'verify', manifestFile, '--coordinator', client, '--root', rootPem)}`);
  }

  const run = (name) => {
    const cwd = join(home, 'services', name);
    mkdirSync(cwd, { recursive: true });
    return start(
      [
        'run',
        '--service',
        name,
        '--coordinator',
        mesh,
        '--sim-dir',
        simDir,
        '--root',
        rootPem,
        '--measure',
        join(repo, program[name]),
        '--',
        process.execPath,
        join(repo, program[name]),
      ],
      { cwd, prefix: name.padEnd(11) },
    );
  };
  say(
    'Starting the backend with `cloister run`: it attests, gets its certificate, the API key as a file, then runs unmodified',
  );
  const backend = run('backend');
  await until(backend, /listening/, 'the backend');
  say(
    'Starting the frontend: it attests, gets its certificate and the API key as an environment variable, and calls the backend over mutual TLS',
  );
  const frontend = run('frontend');
  const code = await new Promise((resolve) => frontend.on('exit', resolve));

  say(
    code === 0
      ? "What happened: the coordinator verified both services' evidence against the manifest, issued each a certificate from its CA,\n  and delivered one generated API key to both (a file for the backend, an environment variable for the frontend). The frontend\n  reached the backend over mutual TLS with those certificates and the backend accepted its key. Neither program knows about cloister."
      : 'The frontend could not complete its call (see above).',
  );
  console.log(
    `\n  Try: npx cloister status --coordinator ${client} --root ${rootPem}\n  The coordinator and the backend keep running; press Ctrl-C to stop.`,
  );
} catch (error) {
  console.error(`\nnpm start failed: ${error.message}`);
  stopAll();
  process.exit(1);
}
