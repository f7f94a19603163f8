// The demo's alert receiver: a webhook endpoint that checks each notification's HMAC signature
// (as a real receiver should) and prints one line per alert. Listens on a free port and writes
// it to process.env.PORT_FILE.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';

const secret = process.env.DEMO_WEBHOOK_SECRET ?? '';
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const timestamp = req.headers['x-monitor-timestamp'] ?? '';
    const expected = `sha256=${crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
    const signed = req.headers['x-monitor-signature'] === expected;
    try {
      const payload = JSON.parse(body);
      for (const alert of payload.alerts ?? []) {
        const status = (alert.endsAt ?? '').startsWith('0001') ? 'FIRING' : 'RESOLVED';
        console.log(`demo receiver: ${payload.status === 'resolved' ? 'RESOLVED' : status} ${alert.labels.alertname}`
          + ` [${alert.labels.severity}] ${alert.annotations.summary ?? ''}${signed ? '' : ' (BAD SIGNATURE)'}`);
      }
    } catch {
      console.log('demo receiver: a request that is not JSON');
    }
    res.writeHead(signed ? 200 : 401).end();
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(process.env.PORT_FILE, String(server.address().port));
});
