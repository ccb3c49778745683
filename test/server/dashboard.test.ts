import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { hex } from '../../src/lib/bytes.js';
import { importSimState } from '../../src/attest/sim/index.js';
import { activate } from '../../src/run/activate.js';
import { simEvidence } from '../../src/run/evidence.js';
import { call, parseAddress, type Endpoint } from '../../src/cli/net.js';
import { pinRoot, startCoordinator, tempDir, type RunningCoordinator } from '../e2e/harness.js';
import { REPO, suiteUnless } from '../k8s/cluster.js';

/**
 * The coordinator's dashboard in a real headless Chromium (Debian's, installed by
 * scripts/install-chromium.sh, driven by playwright-core) against a real coordinator over HTTPS:
 * it shows what the API says and what `cloister verify` pinned, labels the simulation in every
 * view, updates after an activation, requests nothing from elsewhere, and renders a hostile
 * manifest as text under a policy that blocks injected script.
 */

/** The browser from the project's installer, or why there is none (CI sets CLOISTER_REQUIRE_CHROMIUM: no skipping there). */
function chromiumPath(): { path: string } | { skip: string } {
  try {
    const out = execFileSync('sh', [join(REPO, 'scripts/install-chromium.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
    return { path: out.trim().split('\n').pop() as string };
  } catch (error) {
    const reason = `no Chromium: scripts/install-chromium.sh failed (${String((error as { stderr?: string }).stderr ?? error).trim()})`;
    if (process.env['CLOISTER_REQUIRE_CHROMIUM']) throw new Error(reason, { cause: error });
    return { skip: reason };
  }
}

const CHROMIUM = chromiumPath();
/** The flags that work on this machine's Chromium (headless, no sandbox as root, no network of its own). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const dir = tempDir('dashboard');
const simDir = join(dir, 'sim');
const MRENCLAVE = new Uint8Array(32).fill(0x11);

interface Running {
  coordinator: RunningCoordinator;
  client: Endpoint;
  ca: string;
  /** What `cloister verify --json` printed. */
  verified: Record<string, unknown>;
}

async function coordinatorWith(name: string, manifest: unknown): Promise<Running> {
  const coordinator = await startCoordinator(join(dir, name), simDir);
  const rootFile = join(dir, `${name}-root.pem`);
  const pinned = await pinRoot(coordinator, simDir, rootFile, ['--json']);
  assert.equal(pinned.code, 0, pinned.stderr);
  const ca = readFileSync(rootFile, 'utf8');
  const client = parseAddress(coordinator.client, 'client');
  await call(client, 'POST', '/api/v1/manifest', { body: JSON.stringify(manifest), ca });
  // Attested again (the same root pinned): now `cloister verify` names the manifest too.
  const verified = await pinRoot(coordinator, simDir, rootFile, ['--json']);
  assert.equal(verified.code, 0, verified.stderr);
  return { coordinator, client, ca, verified: JSON.parse(verified.stdout) as Record<string, unknown> };
}

/** The base64 SHA-256 of the serving certificate's key, for Chromium's --ignore-certificate-errors-spki-list (a pin, not "ignore all"). */
function servingKeyPin(r: { client: Endpoint; ca: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: r.client.host, port: r.client.port, ca: r.ca, servername: 'localhost' }, () => {
      const spki = socket.getPeerX509Certificate()?.publicKey.export({ type: 'spki', format: 'der' });
      socket.end();
      if (!spki) return reject(new Error('no peer certificate'));
      resolve(createHash('sha256').update(spki).digest('base64'));
    });
    socket.on('error', reject);
  });
}

async function open(
  browser: Browser,
  r: { coordinator: { client: string } },
): Promise<{ page: Page; requests: string[]; problems: string[]; headers: Record<string, string> }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A 404 or 409 of an API the page asks (no manifest yet, no update pending, no history) is logged as a failed load.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      problems.push(message.text());
  });
  const response = await page.goto(`https://${r.coordinator.client}/dashboard`);
  assert.equal(response?.status(), 200);
  // Playwright's locators wait from their own world: code of the test's own would be script the policy refuses.
  await page.locator('body[data-loaded]').waitFor({ state: 'attached' });
  return { page, requests, problems, headers: response?.headers() ?? {} };
}

const field = (page: Page, name: string, within = 'body') =>
  page.locator(`${within} [data-field="${name}"]`).first().textContent();

let browser: Browser | undefined;
let main: Running | undefined;
let hostile: Running | undefined;

suiteUnless('skip' in CHROMIUM ? CHROMIUM.skip : false, 'the dashboard in a real Chromium', () => {
  before(async () => {
    const packages = {
      frontend: { UniqueID: hex(MRENCLAVE), TEE: 'sim' },
      backend: { SignerID: '22'.repeat(32), ProductID: 3, SecurityVersion: 2, TEE: 'sim' },
    };
    main = await coordinatorWith('main', {
      Packages: packages,
      Marbles: {
        web: { Package: 'frontend', MaxActivations: 4 },
        api: { Package: 'backend' },
        worker: { Package: 'backend' },
      },
    });
    const name = '<img src=x onerror="window.pwned=1">';
    hostile = await coordinatorWith('hostile', {
      Packages: { [name]: { UniqueID: hex(MRENCLAVE), TEE: 'sim' } },
      Marbles: { [`<script>window.pwned=2</script>`]: { Package: name } },
    });
    const pins = await Promise.all([main, hostile].map(servingKeyPin));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: (CHROMIUM as { path: string }).path,
      args: [...FLAGS, `--ignore-certificate-errors-spki-list=${pins.join(',')}`],
    });
  });
  after(async () => {
    await browser?.close();
    for (const r of [main, hostile]) await r?.coordinator.stop();
  });

  it('loads over HTTPS with a strict policy, asks nothing of any other origin, and shows what the API and `cloister verify` say', async () => {
    const r = main as Running;
    const { page, requests, problems, headers } = await open(browser as Browser, r);
    assert.match(
      headers['content-security-policy'] ?? '',
      /^default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+';/,
    );
    assert.doesNotMatch(headers['content-security-policy'] ?? '', /unsafe/);
    assert.equal(headers['x-content-type-options'], 'nosniff');

    const api = async <T>(path: string) => (await call(r.client, 'GET', path, { ca: r.ca })).json<T>();
    const attestation = await api<{
      tcbStatus: string;
      tee: string;
      root: { sha256: string };
      identity: Record<string, string>;
    }>('/api/v1/attestation');
    const manifest = await api<{ fingerprint: string }>('/api/v1/manifest');
    // What cloister verify concluded and pinned.
    assert.equal(await field(page, 'attestation.tcbStatus'), r.verified['tcbStatus']);
    assert.equal(await field(page, 'attestation.tcbStatus'), attestation.tcbStatus);
    assert.equal(await field(page, 'attestation.identity.mrenclave'), r.verified['mrenclave']);
    assert.equal(await field(page, 'attestation.identity.mrsigner'), r.verified['mrsigner']);
    assert.equal(await field(page, 'attestation.root.sha256'), new X509Certificate(r.ca).fingerprint256);
    assert.match((await field(page, 'attestation.tee')) ?? '', new RegExp(`^${attestation.tee} \\(simulated platform`));
    assert.equal(
      await field(page, 'attestation.command'),
      `cloister verify --coordinator ${r.coordinator.client} --simulation`,
    );
    assert.equal(await field(page, 'manifest.fingerprint'), manifest.fingerprint);
    assert.equal(await field(page, 'manifest.fingerprint'), r.verified['manifestFingerprint']);
    for (const [service, pkg] of [
      ['web', 'frontend'],
      ['api', 'backend'],
      ['worker', 'backend'],
    ]) {
      assert.equal(await field(page, 'package', `[data-row="${service}"]`), pkg);
      assert.equal(await field(page, 'activations', `[data-row="${service}"]`), '0');
    }
    assert.equal(await field(page, 'maxActivations', '[data-row="web"]'), '4');
    assert.equal(await field(page, 'identity', '[data-row="frontend"]'), `UniqueID ${hex(MRENCLAVE)}`);
    assert.equal(
      await field(page, 'identity', '[data-row="backend"]'),
      `SignerID ${'22'.repeat(32)} ProductID 3 SecurityVersion 2`,
    );

    // The simulation label: the banner, the title, and every section shown.
    assert.ok(await page.locator('#banner').isVisible());
    assert.match(await page.title(), /SIMULATION/);
    for (const section of await page.locator('section:not([hidden])').all())
      assert.equal(await section.locator('[data-label="simulation"]').count(), 1, await section.innerText());

    // The history section is there exactly when the coordinator serves GET /api/v1/history.
    const history = await call(r.client, 'GET', '/api/v1/history', { ca: r.ca }).then(
      () => 200,
      (e: { status?: number }) => e.status,
    );
    assert.equal(await page.locator('#history').isVisible(), history === 200);

    assert.ok(requests.length > 0);
    for (const url of requests) assert.ok(url.startsWith(`https://${r.coordinator.client}/`), url);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('updates after an activation, to what the API says', async () => {
    const r = main as Running;
    const { page } = await open(browser as Browser, r);
    assert.equal(await field(page, 'activations', '[data-row="web"]'), '0');
    const platform = importSimState(JSON.parse(readFileSync(join(simDir, 'platform.json'), 'utf8')));
    const mesh = parseAddress(r.coordinator.mesh, 'mesh');
    await activate(
      { post: async (path, body) => (await call(mesh, 'POST', path, { body: JSON.stringify(body), ca: r.ca })).json() },
      simEvidence(platform, { mrEnclave: MRENCLAVE }),
      { service: 'web' },
    );
    await page.locator('[data-row="web"] [data-field="activations"]', { hasText: /^1$/ }).waitFor();
    const { activations } = (await call(r.client, 'GET', '/api/v1/activations', { ca: r.ca })).json<{
      activations: Record<string, number>;
    }>();
    assert.deepEqual(activations, { web: 1, api: 0, worker: 0 });
    assert.equal(await field(page, 'activations', '[data-row="api"]'), '0');
    // The picture in docs/dashboard.md (CLOISTER_DASHBOARD_SCREENSHOT=docs/dashboard.png).
    const screenshot = await page.screenshot({
      fullPage: true,
      path: process.env['CLOISTER_DASHBOARD_SCREENSHOT'] ?? join(dir, 'dashboard.png'),
    });
    assert.deepEqual([...screenshot.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    await page.close();
  });

  it('a hostile manifest is shown as text; script injected into the page does not run', async () => {
    const r = hostile as Running;
    const { page, problems } = await open(browser as Browser, r);
    const cells = await page.locator('td[data-field="service"], td[data-field="package"]').allTextContents();
    assert.ok(cells.includes('<script>window.pwned=2</script>'), cells.join(' | '));
    assert.ok(cells.includes('<img src=x onerror="window.pwned=1">'), cells.join(' | '));
    assert.equal(await page.locator('main img, main script').count(), 0);
    assert.deepEqual(problems, []);
    const outcome = (await page.evaluate(`(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      const attempts = {};
      const attempt = (name, inject) => {
        try {
          inject();
          attempts[name] = 'allowed';
        } catch (error) {
          attempts[name] = error.name;
        }
      };
      attempt('script text', () => {
        const script = document.createElement('script');
        script.textContent = 'window.injected = 1';
        document.body.append(script);
      });
      attempt('script text node', () => {
        const script = document.createElement('script');
        script.append(document.createTextNode('window.injected = 2'));
        document.body.append(script);
      });
      attempt('HTML string', () => document.body.insertAdjacentHTML('beforeend', '<img src=x onerror="window.injected=3">'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { pwned: window.pwned, injected: window.injected, attempts, violations };
    })()`)) as { pwned: unknown; injected: unknown; attempts: Record<string, string>; violations: string[] };
    assert.equal(outcome.pwned, undefined);
    assert.equal(outcome.injected, undefined);
    // Trusted Types refuse script text and HTML strings from the page's own code; what gets into the document anyway, script-src refuses.
    assert.deepEqual(outcome.attempts, {
      'script text': 'TypeError',
      'script text node': 'allowed',
      'HTML string': 'TypeError',
    });
    assert.ok(
      outcome.violations.some((d) => d.startsWith('script-src') || d === 'require-trusted-types-for'),
      outcome.violations.join(', '),
    );
    await page.close();
  });

  it('shows the history (GET /api/v1/history): newest first, as the API says, with its head', async () => {
    const r = main as Running;
    const { page, problems } = await open(browser as Browser, r);
    const history = (await call(r.client, 'GET', '/api/v1/history', { ca: r.ca })).json<{
      entries: Array<{ seq: number; time: number; kind: string; by: string[]; hash: string }>;
      head: { size: number; hash: string };
    }>();
    assert.ok(history.entries.length >= 1);
    assert.ok(await page.locator('#history').isVisible());
    assert.equal(await page.locator('#history [data-label="simulation"]').count(), 1);
    assert.equal(
      await field(page, 'history.count', '#history'),
      `${history.entries.length} entries, newest first; head ${history.head.hash.slice(0, 16)}… (check it with cloister history verify)`,
    );
    const rows = await page.locator('#history tbody tr').all();
    assert.equal(rows.length, history.entries.length);
    for (const [index, entry] of [...history.entries].reverse().entries()) {
      const cell = (name: string) => rows[index]?.locator(`[data-field="${name}"]`).textContent();
      assert.equal(await cell('seq'), String(entry.seq));
      assert.equal(await cell('time'), new Date(entry.time * 1000).toISOString());
      assert.equal(await cell('kind'), entry.kind);
      assert.equal(await cell('by'), entry.by.join(', ') || '—');
      assert.equal(await cell('hash'), `${entry.hash.slice(0, 16)}…`);
    }
    assert.equal(
      await page.locator('#history [data-field="prev"]').count(),
      0,
      'the link to the entry before is not shown',
    );
    assert.deepEqual(problems, []);
    await page.close();
  });
});
