import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { CloisterError, type ErrorCode } from '../../src/lib/errors.js';
import { createCa, pemCert } from '../../src/pki/index.js';
import { router, requestUrl, type Handler } from '../../src/server/http.js';
import { SERVER_TIMEOUTS, httpsServer, listen, servingIdentity } from '../../src/server/listen.js';

/**
 * The HTTP layer over real TLS: routing, body limits (declared and chunked), RFC 9457 problem
 * details, and slow clients cut off by the server's timeouts (small ones, injected as options).
 */

/** The body limit of the servers under test: small, so that going over it is cheap. */
const LIMIT = 64;

/** What the handlers were given: a refused request must leave this unchanged. */
const handled: string[] = [];
const logged: Array<Record<string, unknown>> = [];
/** The last log entry about `path`. */
const lastLogged = (path: string) => [...logged].reverse().find((e) => e['path'] === path);
/** The slow handler tells when it has started, and answers when released. */
let slowStarted: () => void = () => {};
let release: () => void = () => {};

const ROUTES: Record<string, Handler> = {
  'GET /thing': () => ({ json: { thing: true } }),
  'POST /thing': (req) => {
    handled.push(`POST /thing ${req.body.length}`);
    return { json: { size: req.body.length } };
  },
  'POST /json': (req) => {
    const value = req.json();
    handled.push('POST /json');
    return { json: { value } };
  },
  'GET /forbidden': () => {
    throw new CloisterError('FORBIDDEN', 'not for you');
  },
  'GET /broken': () => {
    throw new Error('an internal detail no client may see');
  },
  'GET /private-code': () => {
    throw new CloisterError('DER_MALFORMED', 'a parser failure inside the server');
  },
  'GET /slow': () =>
    new Promise((resolve) => {
      release = () => resolve({ json: { slow: true } });
      slowStarted();
    }),
};

interface Served {
  port: number;
  ca: string;
  close(): Promise<void>;
}

async function serve(options: https.ServerOptions): Promise<Served> {
  const now = Date.now() / 1000;
  const ca = await createCa({ now, name: 'http test' });
  const tls = await servingIdentity(ca, 'http test', [], now);
  const server = httpsServer(
    { ...tls, requestCert: true, rejectUnauthorized: false, ...options },
    router(ROUTES, (entry) => logged.push(entry), LIMIT),
  );
  await listen(server, '127.0.0.1', 0);
  return {
    port: (server.address() as { port: number }).port,
    ca: pemCert(ca.rootCert),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function request(at: Served, method: string, path: string, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: at.port, method, path, ca: at.ca, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A connection driven byte by byte: what it received, and whether the server closed it (it never closes itself). */
interface Raw {
  socket: Socket;
  /** Everything received, once the server has closed the connection. */
  closed: Promise<string>;
}

function watch(socket: Socket): Raw {
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  // A server that closes while the client still writes may reset the connection: still its close.
  socket.on('error', () => {});
  return { socket, closed: new Promise((resolve) => socket.once('close', () => resolve(received))) };
}

/** A TLS connection (handshake done) to `at`. */
function tlsRaw(at: Served): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: at.port, ca: at.ca }, () => resolve(watch(socket)));
    socket.once('error', reject);
  });
}

/** One request over a fresh connection, as raw bytes; resolves with everything received until the server closes. */
async function rawExchange(at: Served, bytes: string): Promise<string> {
  const raw = await tlsRaw(at);
  raw.socket.write(bytes);
  return raw.closed;
}

const statusOf = (received: string): number => Number(/^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1]);
const bodyOf = (received: string): Record<string, unknown> =>
  JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

/** An RFC 9457 problem of `status` and `code`: its media type and the members of §3.1, and no others. */
function assertProblem(
  type: string | undefined,
  problem: Record<string, unknown>,
  status: number,
  code: ErrorCode | 'INTERNAL',
) {
  assert.equal(type, 'application/problem+json');
  assert.deepEqual(Object.keys(problem).sort(), ['code', 'detail', 'status', 'title', 'type']);
  assert.deepEqual([problem['status'], problem['code'], problem['title']], [status, code, code]);
  assert.equal(typeof problem['detail'], 'string');
  assert.equal(new URL(problem['type'] as string).protocol, 'https:');
}

function assertAnswer(answer: Answer, status: number, code: ErrorCode | 'INTERNAL') {
  assert.equal(answer.status, status, answer.text);
  assertProblem(answer.headers['content-type'], JSON.parse(answer.text) as Record<string, unknown>, status, code);
}

describe('the HTTP layer', () => {
  let at: Served;
  before(async () => {
    at = await serve({});
  });
  after(() => at.close());

  describe('routing', () => {
    it('an unknown path is 404 NOT_FOUND', async () => {
      assertAnswer(await request(at, 'GET', '/nothing'), 404, 'NOT_FOUND');
      assertAnswer(await request(at, 'GET', '/thing/'), 404, 'NOT_FOUND');
    });

    it('a known path with another method is 405 METHOD_NOT_ALLOWED, with Allow naming its methods', async () => {
      for (const method of ['DELETE', 'PUT', 'HEAD']) {
        const answer = await request(at, method, '/thing');
        assert.equal(answer.status, 405);
        assert.equal(answer.headers['allow'], 'GET, POST');
        if (method !== 'HEAD') assertAnswer(answer, 405, 'METHOD_NOT_ALLOWED');
      }
      assert.equal((await request(at, 'GET', '/json')).headers['allow'], 'POST');
    });

    it('the query does not change the route; the absolute form (RFC 9112 §3.2.2) is routed by its path', async () => {
      assert.equal((await request(at, 'GET', '/thing?x=1&y')).status, 200);
      const received = await rawExchange(
        at,
        'GET https://elsewhere.example/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      assert.equal(statusOf(received), 200);
      assert.deepEqual(bodyOf(received), { thing: true });
    });

    it('"//host/thing" is a path of its own, not a reference to /thing on another host', async () => {
      const received = await rawExchange(
        at,
        'GET //elsewhere.example/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      assert.equal(statusOf(received), 404);
      assertProblem('application/problem+json', bodyOf(received), 404, 'NOT_FOUND');
    });

    it('a request target that is no URL is 400 REQUEST_INVALID, and the server keeps serving', async () => {
      for (const target of [
        'http://[/thing',
        'https://elsewhere.example:99999/thing',
        '*',
        'ftp://elsewhere.example/thing',
      ]) {
        const received = await rawExchange(at, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(received), 400, `${target}: ${received}`);
        assertProblem('application/problem+json', bodyOf(received), 400, 'REQUEST_INVALID');
      }
      assert.equal((await request(at, 'GET', '/thing')).status, 200);
    });

    it('requestUrl: any text is a URL whose path is the target path, or REQUEST_INVALID', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), (target) => {
          try {
            assert.match(requestUrl(target).pathname, /^\//);
          } catch (error) {
            assert.ok(error instanceof CloisterError && error.code === 'REQUEST_INVALID', String(error));
          }
        }),
        { numRuns: 2000 },
      );
      // A plain origin-form path is kept as it is, leading slashes included.
      fc.assert(
        fc.property(fc.stringMatching(/^(\/[A-Za-z0-9_~-]*)+$/), (path) => {
          assert.equal(requestUrl(`${path}?q=1`).pathname, path);
        }),
      );
    });
  });

  describe('body limits, applied before any handler runs', () => {
    it('a body of exactly the limit is handled', async () => {
      const answer = await request(at, 'POST', '/thing', 'x'.repeat(LIMIT));
      assert.deepEqual([answer.status, JSON.parse(answer.text)], [200, { size: LIMIT }]);
    });

    it('a declared Content-Length over the limit: 413 REQUEST_TOO_LARGE, nothing handled, the connection closed', async () => {
      const before = handled.length;
      // The body is never sent: the answer comes from the headers alone.
      const received = await rawExchange(at, `POST /thing HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
      assert.equal(statusOf(received), 413);
      assert.match(received, /\r\nconnection: close\r\n/i);
      assertProblem('application/problem+json', bodyOf(received), 413, 'REQUEST_TOO_LARGE');
      assert.equal(handled.length, before);
    });

    it('a chunked body without Content-Length that grows over the limit: 413, nothing handled, the connection closed', async () => {
      const before = handled.length;
      const raw = await tlsRaw(at);
      raw.socket.write('POST /thing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      // Small chunks, none over the limit alone; the request is never finished by the client.
      for (let sent = 0; sent <= LIMIT; sent += 16) raw.socket.write(`10\r\n${'y'.repeat(16)}\r\n`);
      const received = await raw.closed;
      assert.equal(statusOf(received), 413, received);
      assertProblem('application/problem+json', bodyOf(received), 413, 'REQUEST_TOO_LARGE');
      assert.equal(handled.length, before);
    });

    it('a chunked body within the limit is handled', async () => {
      const received = await rawExchange(
        at,
        'POST /thing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      );
      assert.deepEqual([statusOf(received), bodyOf(received)], [200, { size: 5 }]);
    });
  });

  describe('error bodies: RFC 9457 problem details', () => {
    const cases: Array<[string, string, string, string | Buffer | undefined, number, ErrorCode | 'INTERNAL']> = [
      ['JSON that ends early', 'POST', '/json', '{"a":', 400, 'REQUEST_INVALID'],
      ['an empty body where JSON is expected', 'POST', '/json', '', 400, 'REQUEST_INVALID'],
      [
        'JSON with bytes that are not UTF-8',
        'POST',
        '/json',
        Buffer.from('{"a":"\xff"}', 'latin1'),
        400,
        'REQUEST_INVALID',
      ],
      ['a refusal with a public status', 'GET', '/forbidden', undefined, 403, 'FORBIDDEN'],
      ['an error without a public status', 'GET', '/private-code', undefined, 500, 'INTERNAL'],
      ['a failure that is not a CloisterError', 'GET', '/broken', undefined, 500, 'INTERNAL'],
    ];
    for (const [what, method, path, body, status, code] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        assertAnswer(await request(at, method, path, body), status, code);
      });
    }

    it('JSON is handled when it is JSON', async () => {
      const answer = await request(at, 'POST', '/json', '{"a":"é"}');
      assert.deepEqual(JSON.parse(answer.text), { value: { a: 'é' } });
    });

    it('a 500 tells the client nothing of the failure; the log has it, with its code', async () => {
      const answer = await request(at, 'GET', '/broken');
      assert.doesNotMatch(answer.text, /internal detail/);
      const entry = lastLogged('/broken');
      assert.deepEqual(
        [entry?.['level'], entry?.['code'], entry?.['message']],
        ['error', 'INTERNAL', 'an internal detail no client may see'],
      );
      assert.equal(lastLogged('/private-code')?.['code'], 'DER_MALFORMED');
    });
  });
});

describe('slow clients are cut off by the server', () => {
  it("the servers' timeouts are cloister's, not Node's defaults, unless options say otherwise", () => {
    const server = httpsServer({}, () => {});
    assert.deepEqual(
      [server.headersTimeout, server.requestTimeout, server.keepAliveTimeout],
      [SERVER_TIMEOUTS.headersTimeout, SERVER_TIMEOUTS.requestTimeout, SERVER_TIMEOUTS.keepAliveTimeout],
    );
    assert.equal(httpsServer({ requestTimeout: 60_000 }, () => {}).requestTimeout, 60_000);
  });

  // Small timeouts, so that the server's own clock ends each test; nothing here measures time.
  let strict: Served;
  before(async () => {
    strict = await serve({
      handshakeTimeout: 500,
      headersTimeout: 500,
      requestTimeout: 1000,
      connectionsCheckingInterval: 50,
    });
  });
  after(() => strict.close());

  it('a client that opens a connection and never starts the TLS handshake', async () => {
    const socket = tcpConnect(strict.port, '127.0.0.1');
    assert.equal(await watch(socket).closed, '');
  });

  it('slowloris: headers sent one byte at a time, never finished', async () => {
    const before = handled.length;
    const raw = await tlsRaw(strict);
    const bytes = `POST /thing HTTP/1.1\r\nHost: x\r\nX-Slow: ${'z'.repeat(1000)}`;
    let sent = 0;
    const drip = setInterval(() => {
      if (!raw.socket.destroyed) raw.socket.write(bytes[sent++ % bytes.length] as string);
    }, 10);
    const received = await raw.closed;
    clearInterval(drip);
    assert.equal(statusOf(received), 408, received);
    assert.equal(handled.length, before);
  });

  it('a body that stalls halfway: cut off, nothing handled, logged as the request failing', async () => {
    const before = handled.length;
    const received = await rawExchange(
      strict,
      `POST /thing HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT}\r\n\r\nhalf`,
    );
    assert.equal(statusOf(received), 408, received);
    assert.equal(handled.length, before);
    const entry = lastLogged('/thing');
    assert.deepEqual([entry?.['level'], entry?.['code']], ['warn', 'REQUEST_INVALID']);
  });

  it('a handler slower than the request timeout still answers: the timeout bounds receiving, not handling', async () => {
    const started = new Promise<void>((resolve) => (slowStarted = resolve));
    const slow = request(strict, 'GET', '/slow');
    await started;
    // Another request that stalls is cut off by the request timeout: by then the slow handler has run for longer.
    await rawExchange(strict, `POST /thing HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT}\r\n\r\n`);
    release();
    const answer = await slow;
    assert.deepEqual([answer.status, JSON.parse(answer.text)], [200, { slow: true }]);
  });
});
