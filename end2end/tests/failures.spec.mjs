// The Failures panel in Chromium against the real server and real BullMQ: failures of real
// workers grouped by cause, and "Retry N" on one group — its dry-run number in the
// confirmation, its progress, and BullMQ seeing exactly that group's jobs back in line.
import { test, expect, signIn, bullmq, queueReport, screenshotOf } from './fixtures.mjs';

test('failures are grouped by cause; retrying a group retries exactly its jobs', async ({ page, tokens }) => {
  const queue = 'e2e-failures';
  const report = bullmq('fail', {
    queue,
    causes: [
      { count: 30, name: 'charge', message: 'card declined for order {i} ({uuid})' },
      { count: 12, name: 'charge', message: 'connect ECONNREFUSED 10.0.0.{i}:5432' },
    ],
  });
  expect(report.counts.failed).toBe(42);
  // The server finds the new queue at once instead of at its next discovery.
  const refreshed = await page.request.post('/api/v1/admin/jobs/queues/refresh', {
    headers: { Authorization: `Bearer ${tokens.ADMIN}` },
  });
  expect(refreshed.status()).toBe(200);

  await signIn(page, tokens.ADMIN);
  await page.getByRole('button', { name: 'Show failures by cause' }).click();
  const panel = page.locator('section.failures');
  const refused = panel.locator('li.group', { hasText: 'connect ECONNREFUSED <n>:<n>' });
  const declined = panel.locator('li.group', { hasText: 'card declined for order <n> (<uuid>)' });
  await expect(refused.locator('.count')).toHaveText('12', { timeout: 30000 });
  await expect(declined.locator('.count')).toHaveText('30');
  await expect(refused.locator('.retained')).toHaveText('12 kept');
  await expect(refused.locator('.queues')).toHaveText(`${queue} (12)`);
  await screenshotOf(panel, 'failures');

  await refused.getByRole('button', { name: `Retry 12 in ${queue}` }).click();
  const confirm = panel.getByRole('alertdialog');
  await expect(confirm).toContainText(`Retry 12 failed jobs of this cause in ${queue}?`);
  await confirm.getByRole('button', { name: 'Retry 12' }).click();
  await expect(panel.locator('.operation[data-state="done"]').first())
    .toContainText(`retry in ${queue}: 12 of 12 retried (done)`, { timeout: 30000 });

  // BullMQ: the 12 are waiting (no worker runs on this queue), the 30 others still failed.
  const states = bullmq('states', { queue, ids: report.failed['1'] }).states;
  expect(Object.values(states)).toEqual(Array(12).fill('waiting'));
  const counts = queueReport(queue).counts;
  expect([counts.waiting, counts.failed]).toEqual([12, 30]);
  // The group keeps its count and holds no job now.
  await expect(refused.locator('.retained')).toHaveText('0 kept', { timeout: 30000 });
  await expect(refused.getByRole('button', { name: /Retry/ })).toHaveCount(0);
});

test('a moderator sees the groups but no bulk action', async ({ page, tokens }) => {
  await signIn(page, tokens.MODERATOR);
  await page.getByRole('button', { name: 'Show failures by cause' }).click();
  const panel = page.locator('section.failures');
  await expect(panel.locator('li.group').first()).toBeVisible({ timeout: 30000 });
  await expect(panel.getByRole('button', { name: /^(Retry|Remove) / })).toHaveCount(0);
});

test('in the explorer, ticked jobs and then all matching are acted on in bulk', async ({ page, tokens }) => {
  const queue = 'e2e-bulk';
  const report = bullmq('fail', { queue, causes: [{ count: 8, name: 'sync', message: 'sync failed for item {i}' }] });
  expect(report.counts.failed).toBe(8);
  const refreshed = await page.request.post('/api/v1/admin/jobs/queues/refresh', {
    headers: { Authorization: `Bearer ${tokens.ADMIN}` },
  });
  expect(refreshed.status()).toBe(200);
  await signIn(page, tokens.ADMIN);
  await page.getByRole('button', { name: `Show details of ${queue}` }).click();
  await page.locator(`.queue-detail[data-detail="${queue}"]`).getByRole('tab', { name: /^Failed/ }).click();
  const rows = page.locator('#job-list table.jobs tbody tr');
  await expect(rows).toHaveCount(8);
  const listed = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.job));

  // Two ticked jobs retried: the dry run's number in the confirmation, then the progress.
  const two = listed.slice(0, 2);
  for (const id of two) await page.getByRole('checkbox', { name: `Select job ${id}` }).check();
  const bar = page.getByRole('group', { name: 'Bulk actions' });
  await expect(bar.locator('.picked')).toHaveText('2 selected');
  await bar.getByRole('button', { name: 'Retry', exact: true }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Confirm the bulk action' });
  await expect(confirm).toContainText('Retry 2 selected jobs?');
  await confirm.getByRole('button', { name: 'Retry 2' }).click();
  await expect(page.locator('.bulk-outcome')).toContainText(`retry in ${queue}: 2 of 2 retried (done)`, { timeout: 30000 });
  const states = bullmq('states', { queue, ids: two }).states;
  expect(Object.values(states)).toEqual(['waiting', 'waiting']);

  // One ticked job retried with changes: a new job from it (priority 3, data overridden), the
  // original kept failed.
  await expect(rows).toHaveCount(6, { timeout: 15000 });
  const third = listed[2];
  await page.getByRole('checkbox', { name: `Select job ${third}` }).check();
  await bar.getByRole('button', { name: 'Retry with changes…' }).click();
  const form = page.getByRole('form', { name: `Retry the selected jobs of ${queue} with changes` });
  await form.getByLabel('Priority').fill('3');
  await form.getByLabel(/Data overrides/).fill('{"fixed": true}');
  await form.getByRole('button', { name: 'Count the jobs' }).click();
  await expect(confirm).toContainText('Retry 1 selected job with changes?');
  await confirm.getByRole('button', { name: 'Retry 1 with changes' }).click();
  await expect(page.locator('.bulk-outcome'))
    .toContainText(`retry-with-changes in ${queue}: 1 of 1 retried with changes (done)`, { timeout: 30000 });
  expect(bullmq('states', { queue, ids: [third] }).states[third]).toBe('failed');
  const copies = bullmq('getjobs', { queue, states: ['prioritized'] }).byState.prioritized;
  expect(copies).toHaveLength(1);
  const copy = bullmq('jobjson', { queue, id: copies[0] });
  const parsed = (value) => (typeof value === 'string' ? JSON.parse(value) : value);
  expect(copy.state).toBe('prioritized');
  expect([parsed(copy.data).fixed, parsed(copy.opts).priority, parsed(copy.opts).retriedFrom.jobId])
    .toEqual([true, 3, third]);

  // Then every failed job left, by "select all".
  await expect(rows).toHaveCount(6, { timeout: 15000 });
  await bar.getByRole('button', { name: 'Select all 6' }).click();
  await expect(bar.locator('.picked')).toHaveText('all 6 selected');
  await bar.getByRole('button', { name: 'Remove' }).click();
  await expect(confirm).toContainText('Remove 6 matching jobs?');
  await confirm.getByRole('button', { name: 'Remove 6' }).click();
  await expect(page.locator('.bulk-outcome')).toContainText(`remove in ${queue}: 6 of 6 removed (done)`, { timeout: 30000 });
  const counts = queueReport(queue).counts;
  expect([counts.failed, counts.waiting, counts.prioritized]).toEqual([0, 2, 1]);
});
