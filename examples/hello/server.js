// An ordinary, unmodified service: cloister measures it (its simulated MRENCLAVE is the SHA-256 of this file).
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
createServer((req, res) => res.end('hello from a confidential service\n')).listen(port, '127.0.0.1');
