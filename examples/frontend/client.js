// An ordinary HTTPS client, unmodified for cloister: it calls the backend with its own
// coordinator-issued certificate and the API key from its environment, and checks that the
// backend's certificate comes from the same coordinator.
import { request } from 'node:https';

const req = request(
  process.env.BACKEND_URL,
  {
    cert: process.env.MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN,
    key: process.env.MARBLE_PREDEFINED_PRIVATE_KEY,
    ca: process.env.MARBLE_PREDEFINED_ROOT_CA,
    headers: { 'x-api-key': process.env.API_KEY },
  },
  (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => {
      console.log(`frontend: backend answered ${res.statusCode}: ${body}`);
      process.exit(res.statusCode === 200 ? 0 : 1);
    });
  },
);
req.on('error', (e) => {
  console.error(`frontend: ${e.message}`);
  process.exit(1);
});
req.end();
