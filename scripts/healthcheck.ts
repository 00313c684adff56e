// The containers' health check, without curl in the image: exits 0 when the URL answers 2xx in time.
//   node dist/scripts/healthcheck.js http://127.0.0.1:4002/ready   (default: the gateway's /ready)
const url = process.argv[2] ?? 'http://127.0.0.1:4000/ready';

fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (response) => process.exit(response.ok ? 0 : 1),
  () => process.exit(1),
);
