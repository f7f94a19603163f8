// Starts what the browser tests run against: a world built by real BullMQ under a fresh prefix,
// and the real server binary on a free port (LEPTOS_SITE_ADDR=127.0.0.1:0; the address is read
// from its log). Returns the teardown, which stops both and deletes the prefix's keys.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';

const here = path.dirname(fileURLToPath(import.meta.url));
const end2end = path.resolve(here, '..');
const root = path.resolve(end2end, '..');

/** The world every browser test sees. */
export const WORLD = [
  { name: 'e2e-emails', bullmq: 6, completed: 4, failed: 2, waiting: 3, active: 1, delayed: 1 },
  { name: 'e2e-legacy', bullmq: 5, completed: 1, waiting: 2, paused: true },
  // Cleared by the clear test.
  { name: 'e2e-clear', bullmq: 6, completed: 3, failed: 2, waiting: 1 },
  // Its hanging job is retried through the form.
  { name: 'e2e-stuck', bullmq: 6, active: 1, activeData: { to: 'old@example.com', template: 'welcome' } },
  // Jobs are added to it while the page watches.
  { name: 'e2e-live', bullmq: 6, waiting: 1 },
  // Workers finish more of its jobs while the page watches the trends.
  { name: 'e2e-trends', bullmq: 6, completed: 2 },
  // The job explorer reads it (never changed: lists, search, detail). 55 waiting: two pages.
  { name: 'e2e-explorer', bullmq: 6, completed: 3, failed: 3, failedAttempts: 2, delayed: 2, prioritized: 4, waiting: 55 },
  // The explorer's actions change it.
  { name: 'e2e-actions', bullmq: 6, completed: 2, failed: 3, delayed: 2 },
  // Its page shows a scheduler (made below), no worker while jobs wait, and limits set there.
  { name: 'e2e-setup', bullmq: 6, waiting: 2 },
];

/** The job scheduler BullMQ makes in e2e-setup. */
export const SETUP_SCHEDULERS = [
  { id: 'nightly', repeat: { pattern: '0 3 * * *', tz: 'UTC' }, template: { name: 'report', data: { day: 1 } } },
];

function firstLineMatching(stream, pattern, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      const match = line.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

function deletePrefix(redisUrl, prefix) {
  const keys = execFileSync('redis-cli', ['-u', redisUrl, '--scan', '--pattern', `${prefix}:*`])
    .toString()
    .split('\n')
    .filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) {
    execFileSync('redis-cli', ['-u', redisUrl, 'DEL', ...keys.slice(i, i + 500)]);
  }
}

export default async function globalSetup() {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = `e2e-${process.pid}-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(24).toString('hex');
  const serverBin = process.env.SERVER_BIN || path.join(root, 'target/debug/server');
  const siteRoot = process.env.SITE_ROOT || path.join(root, 'target/site');

  const world = spawn('node', ['fixtures/world.mjs', 'build', JSON.stringify({ redis: redisUrl, prefix, queues: WORLD })], {
    cwd: end2end,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [report] = await firstLineMatching(world.stdout, /^\{.*\}$/, 60000, 'the BullMQ world');
  execFileSync('node', ['fixtures/world.mjs', 'schedulers', JSON.stringify({
    redis: redisUrl, prefix, queues: [{ name: 'e2e-setup', schedulers: SETUP_SCHEDULERS }],
  })], { cwd: end2end });

  // One alert rule the alerts test makes true (dashboard only: no channel).
  const alertsFile = path.join(os.tmpdir(), `${prefix}-alerts.toml`);
  fs.writeFileSync(alertsFile, [
    '[[rules]]',
    'name = "E2eBacklog"',
    'condition = { kind = "backlog", above = 5 }',
    'queues = ["e2e-alerts"]',
    'severity = "critical"',
    'summary = "{queue} has {value} jobs waiting"',
    '',
  ].join('\n'));
  const env = {
    ...process.env,
    ALERTS_FILE: alertsFile,
    ALERTS_INTERVAL: '300ms',
    REDIS_URL: redisUrl,
    BULLMQ_PREFIX: prefix,
    // The monitor's own keys (audit trail) stay under the test's prefix too, and are deleted.
    MONITOR_PREFIX: `${prefix}-monitor`,
    JWT_SECRET: secret,
    LEPTOS_SITE_ADDR: '127.0.0.1:0',
    LEPTOS_SITE_ROOT: siteRoot,
    LOG_FORMAT: 'text',
    LIVE_INTERVAL_MS: '500',
    STUCK_AFTER_MS: '1000',
    RUST_LOG: 'info',
    NO_COLOR: '1',
  };
  const server = spawn(serverBin, [], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const [, address] = await firstLineMatching(server.stdout, /listening on (http:\/\/\S+)/, 30000, 'the server to listen');
  server.stdout.resume();

  const token = (role, sub) =>
    execFileSync(serverBin, ['token', '--role', role, '--sub', sub, '--ttl', '1h'], { env }).toString().trim();
  process.env.BASE_URL = address;
  process.env.E2E_PREFIX = prefix;
  process.env.E2E_REDIS = redisUrl;
  process.env.E2E_WORLD = report;
  process.env.TOKEN_MODERATOR = token('MODERATOR', 'maud');
  process.env.TOKEN_ADMIN = token('ADMIN', 'ada');

  return async () => {
    server.kill('SIGTERM');
    world.stdin.end();
    world.kill('SIGTERM');
    await Promise.all([
      new Promise((resolve) => server.once('exit', resolve)),
      new Promise((resolve) => world.once('exit', resolve)),
    ]);
    deletePrefix(redisUrl, prefix);
    deletePrefix(redisUrl, `${prefix}-monitor`);
    fs.rmSync(alertsFile, { force: true });
  };
}
