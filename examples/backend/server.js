// An ordinary HTTPS service, unmodified for cloister: it reads its TLS identity from the
// environment MarbleRun-style services use, and its API key from a file. Only clients with a
// certificate from the same coordinator, and the key, get an answer.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';

const apiKey = Buffer.from(readFileSync(process.env.API_KEY_FILE, 'utf8').trim());
const server = createServer(
  {
    cert: process.env.MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN,
    key: process.env.MARBLE_PREDEFINED_PRIVATE_KEY,
    ca: process.env.MARBLE_PREDEFINED_ROOT_CA,
    requestCert: true,
    rejectUnauthorized: true,
  },
  (req, res) => {
    const presented = Buffer.from(String(req.headers['x-api-key'] ?? ''));
    const ok = presented.length === apiKey.length && timingSafeEqual(presented, apiKey);
    const peer = req.socket.getPeerCertificate();
    res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        ok ? { greeting: `hello ${peer.subject.CN}, from the backend`, mutualTls: true } : { error: 'wrong API key' },
      ),
    );
  },
);
server.listen(Number(process.env.LISTEN_PORT ?? 8443), 'localhost', () =>
  console.log(`backend: listening on https://localhost:${server.address().port} (mutual TLS)`),
);
