// A queue's page shows its workers, job schedulers and limits, as BullMQ's getWorkers(),
// getJobSchedulers(), getGlobalConcurrency() and getGlobalRateLimit() read them; an ADMIN
// changes the limits there and BullMQ reads the new ones.
import { test, expect, signIn, bullmq, screenshot } from './fixtures.mjs';

const name = 'e2e-setup';
const setupOf = (page) => page.locator(`.queue-detail[data-detail="${name}"] .queue-setup`);
const utc = (ms) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

async function openSetup(page) {
  await page.getByRole('button', { name: `Show details of ${name}` }).click();
  const setup = setupOf(page);
  await expect(setup.getByRole('heading', { name: 'Workers, schedulers and limits' })).toBeVisible();
  return setup;
}

test('workers, schedulers and limits read as BullMQ reads them; an admin sets the limits', async ({ page, tokens }) => {
  await signIn(page, tokens.ADMIN);

  // Two jobs wait and no worker is connected: the queue table's workers cell marks it...
  const report = bullmq('counts', { queues: [{ name }] }).queues[name];
  expect(report.workers).toEqual([]);
  const cell = page.locator(`tr[data-queue="${name}"] td[data-state="workers"]`);
  await expect(cell).toHaveText('0 ⚠');
  await expect(cell).toHaveAttribute('title', /No worker is connected/);

  // ...and the queue's page says so.
  const setup = await openSetup(page);
  await expect(setup.getByRole('heading', { name: 'Workers (0)' })).toBeVisible();
  await expect(setup.locator('[data-finding="no-workers"]')).toContainText('No worker is connected');

  // The scheduler, with BullMQ's own next run.
  const theirs = bullmq('schedulers', { queues: [{ name }] }).queues[name].schedulers;
  expect(theirs.map((s) => s.key)).toEqual(['nightly']);
  const row = setup.locator('tr[data-scheduler="nightly"]');
  await expect(row).toContainText('report');
  await expect(row).toContainText('cron 0 3 * * * (UTC)');
  await expect(row).toContainText(utc(theirs[0].next));
  await screenshot(page, 'queue-setup');

  // Limits: set, read by BullMQ, refused when half a rate limit, removed.
  await expect(setup.locator('[data-field="limits"]')).toHaveText('Global concurrency: none. Rate limit: none.');
  await setup.getByLabel('Concurrency (all workers)').fill('2');
  await setup.getByLabel('Jobs per period').fill('10');
  await setup.getByLabel('Period (ms)').fill('1000');
  await setup.getByRole('button', { name: 'Save limits' }).click();
  await expect(setup.locator('[data-field="limits"]')).toHaveText('Global concurrency: 2 jobs at once. Rate limit: 10 jobs per 1 s.');
  let now = bullmq('counts', { queues: [{ name }] }).queues[name];
  expect(now.globalConcurrency).toBe(2);
  expect(now.globalRateLimit).toEqual({ max: 10, duration: 1000 });

  await setup.getByLabel('Jobs per period').fill('');
  await setup.getByRole('button', { name: 'Save limits' }).click();
  await expect(setup.getByRole('alert')).toContainText('needs both');
  now = bullmq('counts', { queues: [{ name }] }).queues[name];
  expect(now.globalRateLimit).toEqual({ max: 10, duration: 1000 });

  await setup.getByLabel('Concurrency (all workers)').fill('');
  await setup.getByLabel('Period (ms)').fill('');
  await setup.getByRole('button', { name: 'Save limits' }).click();
  await expect(setup.locator('[data-field="limits"]')).toHaveText('Global concurrency: none. Rate limit: none.');
  now = bullmq('counts', { queues: [{ name }] }).queues[name];
  expect(now.globalConcurrency).toBeNull();
  expect(now.globalRateLimit).toBeNull();
});

test('a moderator sees the setup but no limits form', async ({ page, tokens }) => {
  await signIn(page, tokens.MODERATOR);
  const setup = await openSetup(page);
  await expect(setup.locator('tr[data-scheduler="nightly"]')).toBeVisible();
  await expect(setup.locator('[data-field="limits"]')).toBeVisible();
  await expect(setup.getByRole('button', { name: 'Save limits' })).toHaveCount(0);
});
