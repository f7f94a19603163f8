// The JobMonitor in Debian's Chromium against the real server, real Redis and real BullMQ:
// BullMQ is the oracle for every number and every effect of an action.
import { test, expect, signIn, bullmq, queueReport, screenshot } from './fixtures.mjs';

const row = (page, name) => page.locator(`tr[data-queue="${name}"]`);
const waitingOf = (report) => report.counts.waiting + report.counts.prioritized;

test('a job added with BullMQ shows up within 3 seconds, without reload', async ({ page, tokens }) => {
  await signIn(page, tokens.MODERATOR);
  await expect(page.locator('.monitor-bar [data-connection="live"]')).toBeVisible();
  const cell = row(page, 'e2e-live').locator('[data-state="waiting"]');
  await expect(cell).toHaveText(String(waitingOf(queueReport('e2e-live'))));

  bullmq('add', { queues: [{ name: 'e2e-live', count: 2 }] });
  const expected = waitingOf(queueReport('e2e-live'));
  await expect(cell).toHaveText(String(expected), { timeout: 3000 });
  await screenshot(page, 'dashboard');
});

test('pause from the UI makes BullMQ report the queue paused; resume undoes it', async ({ page, tokens }) => {
  await signIn(page, tokens.ADMIN);
  const emails = row(page, 'e2e-emails');
  await emails.getByRole('button', { name: 'Pause e2e-emails' }).click();
  await expect(page.getByRole('status')).toHaveText('Paused e2e-emails');
  expect(queueReport('e2e-emails').isPaused).toBe(true);
  await expect(emails.locator('.badge')).toHaveText('paused');

  // Keyboard: the same button, now Resume, from the keyboard.
  await emails.getByRole('button', { name: 'Resume e2e-emails' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toHaveText('Resumed e2e-emails');
  expect(queueReport('e2e-emails').isPaused).toBe(false);
  await expect(emails.locator('.badge')).toHaveText('running');
});

test('clear asks first, states how many jobs go, and removes exactly those', async ({ page, tokens }) => {
  const before = queueReport('e2e-clear');
  expect(before.counts.completed).toBeGreaterThan(0);
  await signIn(page, tokens.ADMIN);

  // Cancel (Escape) removes nothing.
  await row(page, 'e2e-clear').getByRole('button', { name: 'Clear e2e-clear…' }).click();
  const dialog = page.getByRole('alertdialog');
  await expect(dialog).toContainText(`Remove ${before.counts.completed} completed jobs from e2e-clear?`);
  await expect(dialog.getByRole('radio', { name: /^completed/ })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  expect(queueReport('e2e-clear').counts).toEqual(before.counts);

  // Confirm "all": completed and failed go, the waiting job stays.
  await row(page, 'e2e-clear').getByRole('button', { name: 'Clear e2e-clear…' }).click();
  await dialog.getByRole('radio', { name: /^all/ }).check();
  const all = before.counts.completed + before.counts.failed;
  await expect(dialog).toContainText(`Remove ${all} finished jobs (completed and failed) from e2e-clear?`);
  await screenshot(page, 'clear-confirmation');
  await dialog.getByRole('button', { name: `Remove ${all} jobs` }).click();
  await expect(page.getByRole('status')).toHaveText(
    `Removed ${all} jobs from e2e-clear (${before.counts.completed} completed, ${before.counts.failed} failed)`,
  );
  const after = queueReport('e2e-clear');
  expect(after.counts.completed).toBe(0);
  expect(after.counts.failed).toBe(0);
  expect(after.counts.waiting).toBe(before.counts.waiting);
  await expect(row(page, 'e2e-clear').locator('[data-state="completed"]')).toHaveText('0');
});

test('retry of a stuck job through the form creates the job in BullMQ with the overrides', async ({ page, tokens }) => {
  await signIn(page, tokens.ADMIN);
  const stuck = page.locator('.stuck-job', { hasText: 'e2e-stuck' });
  await expect(stuck).toContainText('worker still holds the lock');
  await expect(stuck).toContainText('old@example.com');
  const originalId = await stuck.getAttribute('data-job');
  await stuck.getByRole('button', { name: /^Retry job/ }).click();

  const form = page.getByRole('form', { name: `Retry job ${originalId} of e2e-stuck` });
  await form.getByLabel('Priority').fill('7');
  await form.getByLabel('Attempts').fill('2');
  await form.getByRole('combobox', { name: /^Back-off/ }).selectOption('fixed');
  await form.getByLabel('Back-off delay (ms)').fill('1500');

  // Invalid JSON is refused at the field; nothing is sent.
  let sent = 0;
  page.on('request', (request) => {
    if (request.url().endsWith('/api/fn/retry')) sent += 1;
  });
  const overrides = form.getByLabel(/Data overrides/);
  await overrides.fill('{"to": }');
  await form.getByRole('button', { name: 'Retry job' }).click();
  await expect(form.getByRole('alert')).toContainText('data overrides are not valid JSON');
  await expect(overrides).toHaveAttribute('aria-invalid', 'true');
  expect(sent).toBe(0);

  await overrides.fill('{"to": "ops@example.com", "attempt": 2}');
  await form.getByLabel(/Remove the original/).check();
  await screenshot(page, 'retry-form');
  await form.getByRole('button', { name: 'Retry job' }).click();
  const outcome = form.locator('.form-outcome');
  await expect(outcome).toContainText('the original was moved to failed');
  const newId = (await outcome.textContent()).match(/Retried as job (\S+);/)[1];
  expect(sent).toBe(1);

  const created = bullmq('job', { queue: 'e2e-stuck', id: newId });
  expect(created.missing).toBeUndefined();
  expect(created.data).toEqual({ to: 'ops@example.com', template: 'welcome', attempt: 2 });
  expect(created.opts.priority).toBe(7);
  expect(created.opts.attempts).toBe(2);
  expect(created.opts.backoff).toEqual({ type: 'fixed', delay: 1500 });
  expect(bullmq('job', { queue: 'e2e-stuck', id: originalId }).state).toBe('failed');
});

test('a moderator sees the data but no controls', async ({ page, tokens }) => {
  await signIn(page, tokens.MODERATOR);
  await expect(row(page, 'e2e-emails')).toBeVisible();
  await expect(page.locator('.stuck-job').first()).toBeVisible();
  await expect(page.getByRole('button', { name: /^(Pause|Resume|Clear|Retry)/ })).toHaveCount(0);
  await expect(page.locator('th', { hasText: 'Control' })).toHaveCount(0);
});

test('with the stream blocked the page polls, still updates, and goes back to the stream', async ({ page, tokens }) => {
  test.setTimeout(90000);
  const blocked = (route) => route.abort();
  const allQueuesStream = /\/api\/v1\/admin\/jobs\/live(\?.*)?$/;
  await page.route(allQueuesStream, blocked);
  await signIn(page, tokens.MODERATOR);
  const connection = page.locator('.monitor-bar .connection');
  await expect(connection).toHaveAttribute('data-connection', 'polling', { timeout: 15000 });

  bullmq('add', { queues: [{ name: 'e2e-live', count: 1 }] });
  const expected = waitingOf(queueReport('e2e-live'));
  // The server's default refresh interval is 5 s; an active job elsewhere keeps it at that.
  await expect(row(page, 'e2e-live').locator('[data-state="waiting"]')).toHaveText(String(expected), { timeout: 12000 });
  await expect(connection).toHaveAttribute('data-connection', 'polling');

  await page.unroute(allQueuesStream, blocked);
  await expect(connection).toHaveAttribute('data-connection', 'live', { timeout: 30000 });
});

test('trends per period from BullMQ\'s finished jobs, and the history chart from the monitor\'s own history', async ({ page, tokens, world }) => {
  await signIn(page, tokens.MODERATOR);
  const trends = page.locator('.trends');
  const emails = trends.locator('tr[data-trend="e2e-emails"]');
  await expect(emails.locator('[data-field="successful"]')).toHaveText(String(world.queues['e2e-emails'].counts.completed));
  await expect(emails.locator('[data-field="failed"]')).toHaveText(String(world.queues['e2e-emails'].counts.failed));
  await expect(emails.getByRole('img')).toHaveAttribute('aria-label', /successful, .* failed/);

  const week = trends.getByRole('button', { name: '7d' });
  await week.click();
  await expect(week).toHaveAttribute('aria-pressed', 'true');
  await expect(trends.getByRole('button', { name: '24h' })).toHaveAttribute('aria-pressed', 'false');
  await expect(emails.locator('[data-field="successful"]')).toHaveText(String(world.queues['e2e-emails'].counts.completed));

  // The chart comes from the monitor's own history, which read the world's jobs from BullMQ's
  // event streams: for one queue it equals BullMQ's own finished counts.
  const counts = world.queues['e2e-emails'].counts;
  const chart = trends.locator('.history-chart');
  await trends.getByLabel('Queue').selectOption('e2e-emails');
  await expect(async () => {
    // The collector may still be catching up: Refresh re-reads the chart and the trends.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(chart).toHaveAttribute('data-completed', String(counts.completed), { timeout: 1000 });
    // The world's streams hold every event of their queues, so once read, the history covers
    // any period and the trends come from it too (same numbers).
    await expect(trends.locator('[data-sources]')).toHaveAttribute('data-sources', 'collector', { timeout: 1000 });
  }).toPass({ timeout: 20000 });
  await expect(emails.locator('[data-field="successful"]')).toHaveText(String(counts.completed));
  await expect(chart).toHaveAttribute('data-failed', String(counts.failed));
  await expect(chart).toHaveAttribute('data-step', 'hour');
  await expect(chart).toHaveAttribute('aria-label', new RegExp(`Last 7d, per hour: ${counts.completed} completed, ${counts.failed} failed`));
  await expect(chart.locator('.column')).toHaveCount(169);
  const month = trends.getByRole('button', { name: '30d' });
  await month.click();
  await expect(chart).toHaveAttribute('data-step', 'day');
  await expect(chart).toHaveAttribute('data-completed', String(counts.completed));
  await expect(chart.locator('.column')).toHaveCount(31);
  await trends.scrollIntoViewIfNeeded();
  await screenshot(page, 'trends');
});

test('trends and the history chart follow the live numbers without Refresh', async ({ page, tokens }) => {
  test.setTimeout(60000);
  await signIn(page, tokens.MODERATOR);
  await expect(page.locator('.monitor-bar [data-connection="live"]')).toBeVisible();
  const trends = page.locator('.trends');
  const successful = trends.locator('tr[data-trend="e2e-trends"] [data-field="successful"]');
  const before = queueReport('e2e-trends').counts.completed;
  await expect(successful).toHaveText(String(before));
  const chart = trends.locator('.history-chart');
  await trends.getByLabel('Queue').selectOption('e2e-trends');

  // Real workers finish three more jobs; nobody presses Refresh.
  const done = bullmq('work', { queues: [{ name: 'e2e-trends', completed: 3 }] });
  expect(done.queues['e2e-trends'].completed).toBe(3);
  const after = queueReport('e2e-trends').counts.completed;
  expect(after).toBe(before + 3);
  await expect(row(page, 'e2e-trends').locator('[data-state="completed"]')).toHaveText(String(after), { timeout: 5000 });
  await expect(successful).toHaveText(String(after), { timeout: 30000 });
  await expect(chart).toHaveAttribute('data-completed', String(after), { timeout: 30000 });
});

test('queue detail follows the queue\'s own stream with its active jobs', async ({ page, tokens }) => {
  await signIn(page, tokens.MODERATOR);
  await page.getByRole('button', { name: 'Show details of e2e-emails' }).click();
  const detail = page.locator('.queue-detail[data-detail="e2e-emails"]');
  await expect(detail.locator('[data-connection="live"]')).toBeVisible();
  const report = queueReport('e2e-emails');
  await expect(detail.locator('[data-count="active"]')).toHaveText(String(report.counts.active));
  const job = detail.locator('table.active-jobs tbody tr').first();
  await expect(job).toContainText('hang');
  // Running time grows while we watch (live, not a one-off read).
  const runningFor = job.locator('[data-field="running-for"]');
  const first = await runningFor.textContent();
  await expect(runningFor).not.toHaveText(first, { timeout: 5000 });
  await screenshot(page, 'queue-detail');
  await detail.getByRole('button', { name: 'Close' }).click();
  await expect(detail).toHaveCount(0);
});

test('embedded with a bearer token: requests and the stream carry the Authorization header', async ({ browser, baseURL, tokens }) => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await page.addInitScript((token) => sessionStorage.setItem('monitor-token', token), tokens.MODERATOR);
  const seen = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/')) seen.push({ url: request.url(), headers: request.headers() });
  });
  await page.goto('/embed');
  await expect(page.locator('.monitor-bar [data-connection="live"]')).toBeVisible();
  await expect(row(page, 'e2e-emails').locator('[data-state="completed"]')).not.toHaveText('');
  expect((await context.cookies()).length).toBe(0);
  const stream = seen.find((r) => new URL(r.url).pathname === '/api/v1/admin/jobs/live');
  const metrics = seen.find((r) => r.url.endsWith('/api/fn/metrics'));
  expect(stream?.headers.authorization).toBe(`Bearer ${tokens.MODERATOR}`);
  expect(metrics?.headers.authorization).toBe(`Bearer ${tokens.MODERATOR}`);
  await context.close();
});

test('readable on a phone and in dark mode', async ({ browser, baseURL, tokens }) => {
  const context = await browser.newContext({ baseURL, viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  const page = await context.newPage();
  await signIn(page, tokens.ADMIN);
  await expect(row(page, 'e2e-emails')).toBeVisible();
  // Nothing wider than the screen: wide tables scroll inside their own box.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(background).toBe('rgb(18, 21, 28)');
  await screenshot(page, 'phone-dark');
  await context.close();
});
