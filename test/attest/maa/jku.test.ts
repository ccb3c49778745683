import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { httpsJwksFetcher } from '../../../src/collateral/maa.js';
import { jwksFromJku, verifyMaaToken, verifyMaaTokenSync } from '../../../src/attest/maa/verify.js';
import {
  certificateFor,
  maaLikePayload,
  rejectsCode,
  signJws,
  testKey,
  tlsCertificate,
  type TestKey,
} from './helpers.js';

/**
 * Key sets fetched from a token's `jku`: only from allow-listed https URLs, from a local HTTPS
 * server that answers `GET /certs` as an MAA instance does (a JWKS whose keys carry only `x5c`).
 */

interface Instance {
  url: string;
  jku: string;
  tlsCa: string;
  /** Paths requested, in order. */
  requests: string[];
  /** Replace the answer to the next requests. */
  answer: (status: number, body: string | Buffer, headers?: Record<string, string>) => void;
  hang: () => void;
  close: () => Promise<void>;
}

async function startInstance(keys: readonly TestKey[]): Promise<Instance> {
  const tls = await tlsCertificate();
  const certs = {
    keys: await Promise.all(
      keys.map(async (k) => ({
        kid: k.kid,
        kty: k.jwk['kty'],
        x5c: [(await certificateFor(k.publicKey)).toString('base64')],
      })),
    ),
  };
  const requests: string[] = [];
  let reply: { status: number; body: string | Buffer; headers: Record<string, string> } | 'hang' = {
    status: 200,
    body: JSON.stringify(certs),
    headers: { 'content-type': 'application/json' },
  };
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    requests.push(req.url ?? '');
    if (reply === 'hang') return;
    if (req.url !== '/certs') return void res.writeHead(404).end();
    res.writeHead(reply.status, reply.headers).end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    jku: `${url}/certs`,
    tlsCa: tls.cert,
    requests,
    answer: (status, body, headers = {}) => void (reply = { status, body, headers }),
    hang: () => void (reply = 'hang'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const NOW = 1_750_000_000;

describe('MAA tokens: key sets from jku', () => {
  const key = testKey('rsa2048');
  let instance: Instance;
  let token: string;
  let fetchJwks: (url: string) => Promise<unknown>;
  const options = () => ({ jwks: undefined, now: NOW, issuer: instance.url, trustedJku: [instance.jku], fetchJwks });

  before(async () => {
    instance = await startInstance([testKey('p256'), key]);
    token = signJws(
      { alg: 'RS256', kid: key.kid, jku: instance.jku, typ: 'JWT' },
      maaLikePayload(instance.url, NOW),
      key.privateKey,
    );
    fetchJwks = httpsJwksFetcher({ tlsCa: instance.tlsCa, timeoutMs: 2000 });
  });
  after(async () => instance.close());

  test('a trusted jku served over HTTPS (keys as x5c only): the token verifies', async () => {
    instance.requests.length = 0;
    const v = await verifyMaaToken(token, options());
    assert.equal(v.claims['issuer'], instance.url);
    assert.equal(v.claims['mrenclave'], 'ab'.repeat(32));
    assert.deepEqual(instance.requests, ['/certs']);
  });

  test('fetched once with jwksFromJku, the set verifies many tokens synchronously', async () => {
    const keys = await jwksFromJku(token, options());
    assert.equal(keys.source, instance.jku);
    for (let i = 0; i < 3; i++) assert.equal(verifyMaaTokenSync(token, { now: NOW, jwks: keys }).tee, 'maa');
  });

  test('an untrusted jku: JKU_UNTRUSTED, and nothing is fetched', async () => {
    let calls = 0;
    const spy = async (url: string) => {
      calls++;
      return fetchJwks(url);
    };
    instance.requests.length = 0;
    for (const trustedJku of [[], undefined, ['https://other.attest.example/certs']]) {
      await rejectsCode(verifyMaaToken(token, { ...options(), trustedJku, fetchJwks: spy }), 'JKU_UNTRUSTED');
    }
    assert.equal(calls, 0);
    assert.deepEqual(instance.requests, []);
  });

  test('a jku that is only nearly on the list (slash, query, case, userinfo, http): JKU_UNTRUSTED', async () => {
    const port = new URL(instance.url).port;
    for (const jku of [
      `${instance.jku}/`,
      `${instance.jku}?x=1`,
      `${instance.url}/CERTS`,
      `https://a@127.0.0.1:${port}/certs`,
      `http://127.0.0.1:${port}/certs`,
      'certs',
      '',
    ]) {
      const t = signJws({ alg: 'RS256', kid: key.kid, jku }, maaLikePayload(instance.url, NOW), key.privateKey);
      await rejectsCode(verifyMaaToken(t, options()), 'JKU_UNTRUSTED');
    }
  });

  test('an http jku, even on the list: JKU_UNTRUSTED', async () => {
    const jku = instance.jku.replace('https:', 'http:');
    const t = signJws({ alg: 'RS256', kid: key.kid, jku }, maaLikePayload(instance.url, NOW), key.privateKey);
    await rejectsCode(verifyMaaToken(t, { ...options(), trustedJku: [jku] }), 'JKU_UNTRUSTED');
  });

  test("a trusted jku not of the expected issuer's origin: JKU_UNTRUSTED", async () => {
    await rejectsCode(
      verifyMaaToken(token, { ...options(), issuer: 'https://sharedwus.wus.attest.azure.net' }),
      'JKU_UNTRUSTED',
    );
  });

  test("without an expected issuer, iss must still be of the jku's origin: TOKEN_ISSUER_MISMATCH", async () => {
    const t = signJws(
      { alg: 'RS256', kid: key.kid, jku: instance.jku },
      maaLikePayload('https://sharedwus.wus.attest.azure.net', NOW),
      key.privateKey,
    );
    await rejectsCode(verifyMaaToken(t, { ...options(), issuer: undefined }), 'TOKEN_ISSUER_MISMATCH');
  });

  test('neither a key set nor a jku, or a jku but no fetcher: TOKEN_KEY_UNKNOWN', async () => {
    const t = signJws({ alg: 'RS256', kid: key.kid }, maaLikePayload(instance.url, NOW), key.privateKey);
    await rejectsCode(verifyMaaToken(t, options()), 'TOKEN_KEY_UNKNOWN');
    await rejectsCode(verifyMaaToken(token, { ...options(), fetchJwks: undefined }), 'TOKEN_KEY_UNKNOWN');
  });

  test('a key set given offline wins: the jku is not consulted', async () => {
    instance.requests.length = 0;
    const v = await verifyMaaToken(token, { ...options(), trustedJku: [], jwks: { keys: [key.jwk] } });
    assert.equal(v.tee, 'maa');
    assert.deepEqual(instance.requests, []);
  });

  test('the served set lacks the kid: TOKEN_KEY_UNKNOWN', async () => {
    const t = signJws(
      { alg: 'RS256', kid: 'rotated-away', jku: instance.jku },
      maaLikePayload(instance.url, NOW),
      key.privateKey,
    );
    await rejectsCode(verifyMaaToken(t, options()), 'TOKEN_KEY_UNKNOWN');
  });

  describe('the fetcher', () => {
    const restore = () => instance.answer(200, '', {});
    test('a non-200 answer, a redirect: JWKS_FETCH_FAILED', async () => {
      for (const [status, headers] of [
        [500, {}],
        [302, { location: 'https://evil.example/certs' }],
      ] as const) {
        instance.answer(status, '{}', headers);
        const e = await rejectsCode(verifyMaaToken(token, options()), 'JWKS_FETCH_FAILED');
        assert.equal(e.status, status);
      }
    });

    test('a body that is not JSON, or not a key set: JWKS_INVALID', async () => {
      instance.answer(200, '<html>');
      await rejectsCode(verifyMaaToken(token, options()), 'JWKS_INVALID');
      instance.answer(200, '{"keys":"none"}');
      await rejectsCode(verifyMaaToken(token, options()), 'JWKS_INVALID');
    });

    test('a body over the size limit: JWKS_FETCH_FAILED', async () => {
      instance.answer(200, Buffer.alloc(300 * 1024, 0x20));
      await rejectsCode(verifyMaaToken(token, options()), 'JWKS_FETCH_FAILED');
      instance.answer(200, Buffer.alloc(2048, 0x20));
      await rejectsCode(
        verifyMaaToken(token, {
          ...options(),
          fetchJwks: httpsJwksFetcher({ tlsCa: instance.tlsCa, maxResponseBytes: 1024 }),
        }),
        'JWKS_FETCH_FAILED',
      );
    });

    test('no answer in time: JWKS_FETCH_FAILED', async () => {
      instance.hang();
      await rejectsCode(
        verifyMaaToken(token, { ...options(), fetchJwks: httpsJwksFetcher({ tlsCa: instance.tlsCa, timeoutMs: 200 }) }),
        'JWKS_FETCH_FAILED',
      );
    });

    test('a server certificate the fetcher does not trust: JWKS_FETCH_FAILED', async () => {
      restore();
      await rejectsCode(verifyMaaToken(token, { ...options(), fetchJwks: httpsJwksFetcher() }), 'JWKS_FETCH_FAILED');
    });

    test('an http URL or one with credentials is not fetched at all; a fetcher that throws becomes JWKS_FETCH_FAILED', async () => {
      await rejectsCode(fetchJwks('http://127.0.0.1:1/certs'), 'JWKS_FETCH_FAILED');
      await rejectsCode(fetchJwks('https://u:p@127.0.0.1:1/certs'), 'JWKS_FETCH_FAILED');
      await rejectsCode(
        verifyMaaToken(token, {
          ...options(),
          fetchJwks: async () => {
            throw new Error('offline');
          },
        }),
        'JWKS_FETCH_FAILED',
      );
    });
  });
});
