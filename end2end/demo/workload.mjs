// A realistic, continuous BullMQ workload for the demo, made with real BullMQ (v6, plus one v5
// queue): steady traffic with successes, failures and retries with back-off, delayed and
// prioritised jobs, progress updates and log lines, flows of parents waiting for children in
// other queues, one paused queue, one job that hangs so it becomes "stuck", named workers, a
// queue no worker serves, job schedulers and a queue with a global concurrency and rate limit.
// Run with:
//   REDIS_URL=redis://127.0.0.1:6379 BULLMQ_PREFIX=demo node demo/workload.mjs
// (READY_FILE=path: the file is written once every queue exists.)
// Ctrl-C (or SIGTERM) stops producers and workers. On start it obliterates its own queues under
// the prefix, so every demo starts from a clean slate; it never touches other prefixes.

import * as bullmq6 from 'bullmq';
import * as bullmq5 from 'bullmq5';
import { writeFileSync } from 'node:fs';
import { connectionFromUrl } from '../fixtures/world.mjs';

const connection = connectionFromUrl(process.env.REDIS_URL);
const prefix = process.env.BULLMQ_PREFIX || 'demo';
const running = { value: true };
const closers = [];
const timers = [];

const random = (min, max) => min + Math.random() * (max - min);
const pick = (items) => items[Math.floor(Math.random() * items.length)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Simulated work: progress steps over `ms`, failing with probability `failRate`. */
async function work(job, ms, failRate) {
  const steps = 4;
  for (let step = 1; step <= steps; step++) {
    await sleep(ms / steps);
    await job.updateProgress(Math.round((step / steps) * 100));
    await job.log(`step ${step} of ${steps} done after ${Math.round((ms / steps) * step)} ms`);
  }
  if (job.data.poison || Math.random() < failRate) {
    // Messages that differ from job to job in the parts a failure group ignores (numbers, ids,
    // addresses), so the Failures panel shows a handful of causes, not one line per job.
    const n = Math.floor(Math.random() * 10000);
    throw new Error(pick([
      `upstream timed out after ${3000 + (n % 5) * 500}ms`,
      `rate limited by provider (retry in ${n % 60}s)`,
      `invalid payload for user ${crypto.randomUUID()}`,
      `connect ECONNREFUSED 10.0.${n % 4}.${n % 250}:5432`,
    ]));
  }
  return { ok: true, tookMs: Math.round(ms) };
}

/** Calls `produce` at random intervals between `min` and `max` ms until stopped. */
function every(min, max, produce) {
  const tick = async () => {
    if (!running.value) return;
    try {
      await produce();
    } catch (error) {
      console.error(`producer error: ${error.message}`);
    }
    timers.push(setTimeout(tick, random(min, max)));
  };
  timers.push(setTimeout(tick, random(0, max)));
}

async function queue(lib, name) {
  const q = new lib.Queue(name, { connection, prefix });
  await q.waitUntilReady();
  await q.obliterate({ force: true });
  closers.push(() => q.close());
  return q;
}

function worker(lib, name, processor, options = {}) {
  const w = new lib.Worker(name, processor, { connection, prefix, ...options });
  w.on('error', (error) => console.error(`${name} worker: ${error.message}`));
  closers.unshift(() => w.close(true));
  return w;
}

const keep = { removeOnComplete: { count: 5000 }, removeOnFail: { count: 2000 } };

async function main() {
  // youtube-sync: steady traffic, some failures retried with exponential back-off.
  const sync = await queue(bullmq6, 'youtube-sync');
  worker(bullmq6, 'youtube-sync', (job) => work(job, random(300, 2500), 0.12), { concurrency: 3, name: 'sync-1' });
  every(300, 900, () =>
    sync.add('sync-band', {
      bandId: `band-${Math.floor(random(1, 500))}`,
      full: Math.random() < 0.1,
      // A few jobs fail on every attempt, so retries run out and failures pile up.
      poison: Math.random() < 0.05,
    }, {
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      ...keep,
    }));

  // email-send: bursts with priorities.
  const email = await queue(bullmq6, 'email-send');
  worker(bullmq6, 'email-send', (job) => work(job, random(100, 600), 0.05), { concurrency: 5, name: 'mailer-1' });
  worker(bullmq6, 'email-send', (job) => work(job, random(100, 600), 0.05), { concurrency: 5, name: 'mailer-2' });
  // The queue page shows a global limit and a scheduler (job schedulers, BullMQ >= 5.16).
  await email.setGlobalConcurrency(6);
  await email.setGlobalRateLimit(20, 1000);
  await email.upsertJobScheduler('digest-every-minute', { every: 60000 },
    { name: 'send-digest', data: { template: 'digest', to: 'team@example.com' } });
  every(1500, 4000, async () => {
    const burst = Math.floor(random(1, 8));
    for (let i = 0; i < burst; i++) {
      const kind = pick(['welcome', 'receipt', 'password-reset', 'digest']);
      const to = `user${Math.floor(random(1, 9999))}@example.com`;
      await email.add(`send-${kind}`, { to, template: kind, poison: Math.random() < 0.03 }, {
        priority: kind === 'password-reset' ? 1 : kind === 'digest' ? 10 : 5,
        attempts: 2,
        backoff: { type: 'fixed', delay: 2000 },
        ...keep,
      });
    }
  });

  // image-resize: delayed jobs, slower work.
  const images = await queue(bullmq6, 'image-resize');
  worker(bullmq6, 'image-resize', (job) => work(job, random(1000, 4000), 0.08), { concurrency: 2 });
  every(1000, 3000, () =>
    images.add('resize', { imageId: `img-${Math.floor(random(1, 1e6))}`, sizes: [64, 256, 1024] }, {
      delay: Math.round(random(2000, 30000)),
      attempts: 2,
      ...keep,
    }));

  // report-generate: occasional reports, and one that hangs forever (its worker keeps the lock),
  // so it becomes a stuck job after the stuck threshold.
  const reports = await queue(bullmq6, 'report-generate');
  await reports.add('monthly-report', { month: new Date().toISOString().slice(0, 7), hangs: true }, keep);
  worker(bullmq6, 'report-generate', (job) =>
    job.data.hangs ? new Promise(() => {}) : work(job, random(2000, 6000), 0.1), { concurrency: 2 });
  every(8000, 20000, () => reports.add('weekly-report', { team: pick(['sales', 'ops', 'support']) }, keep));
  await reports.upsertJobScheduler('nightly-report', { pattern: '0 3 * * *', tz: 'Europe/Berlin' },
    { name: 'nightly-report', data: { team: 'all' } });

  // Flows: a quarterly report (report-generate) waits for charts (image-resize), each waiting
  // for its figures (youtube-sync), so the explorer's Flow tab has trees across three queues.
  const flows = new bullmq6.FlowProducer({ connection, prefix });
  closers.push(() => flows.close());
  every(15000, 40000, () =>
    flows.add({
      name: 'quarterly-report',
      queueName: 'report-generate',
      data: { quarter: `Q${1 + Math.floor(random(0, 4))}`, team: pick(['sales', 'ops', 'support']) },
      opts: keep,
      children: ['revenue', 'churn', 'signups'].map((chart) => ({
        name: 'render-chart',
        queueName: 'image-resize',
        data: { chart },
        opts: keep,
        children: [{ name: 'fetch-figures', queueName: 'youtube-sync', data: { bandId: `band-${Math.floor(random(1, 500))}`, chart }, opts: keep }],
      })),
    }));

  // legacy-billing: a BullMQ v5 queue that is paused, so its jobs pile up.
  const billing = await queue(bullmq5, 'legacy-billing');
  await billing.pause();
  worker(bullmq5, 'legacy-billing', (job) => work(job, random(200, 800), 0.02), { concurrency: 1 });
  every(3000, 8000, () => billing.add('charge', { invoice: `inv-${Math.floor(random(1, 1e5))}` }, keep));

  // invoice-export: jobs arrive but its worker service is down (no worker connected), the
  // finding the queue table marks with "0 ⚠".
  const invoices = await queue(bullmq6, 'invoice-export');
  for (let i = 0; i < 3; i++) await invoices.add('export', { month: i + 1 }, keep);
  every(20000, 40000, () => invoices.add('export', { month: Math.floor(random(1, 13)) }, keep));

  console.log(`demo workload running under prefix "${prefix}": 6 queues (Ctrl-C stops it)`);
  // Tells scripts/demo.sh that the queues exist, so the monitor finds them on its first look.
  if (process.env.READY_FILE) writeFileSync(process.env.READY_FILE, 'ready\n');
}

async function stop() {
  if (!running.value) return;
  running.value = false;
  for (const timer of timers) clearTimeout(timer);
  for (const close of closers) {
    try {
      await close();
    } catch {
      // Closing is best effort on the way out.
    }
  }
  process.exit(0);
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
main().catch((error) => {
  console.error(`demo workload failed: ${error.stack || error}`);
  process.exit(1);
});
