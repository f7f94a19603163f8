import { test, expect, signIn, bullmq } from './fixtures.mjs';

test('a signed-out visitor is sent to the sign-in page', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
});

test('a bad token is refused with a reason', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/error=invalid_token/);
  await expect(page.getByRole('alert')).toContainText('was not accepted');
});

test('signing in shows the queues with BullMQ\'s own counts, and the page hydrates', async ({ page, tokens, world }) => {
  await signIn(page, tokens.MODERATOR);
  await expect(page.locator('.role')).toHaveText('MODERATOR');

  const emails = world.queues['e2e-emails'].counts;
  const row = page.locator('tr[data-queue="e2e-emails"]');
  await expect(row.locator('[data-state="completed"]')).toHaveText(String(emails.completed));
  await expect(row.locator('[data-state="failed"]')).toHaveText(String(emails.failed));
  await expect(row.locator('[data-state="active"]')).toHaveText(String(emails.active));
  await expect(row.locator('[data-state="delayed"]')).toHaveText(String(emails.delayed));
  await expect(row.locator('[data-state="waiting"]')).toHaveText(String(emails.waiting + emails.prioritized));
  await expect(page.locator('tr[data-queue="e2e-legacy"] .badge')).toHaveText('paused');

  // Hydrated: Refresh runs in the browser and re-reads through the server function.
  const stamp = page.locator('time.timestamp');
  const before = await stamp.textContent();
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(stamp).not.toHaveText(before, { timeout: 1000 });
  }).toPass({ timeout: 10000 });
});

test('signing out ends the session', async ({ page, tokens }) => {
  await signIn(page, tokens.ADMIN);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/error=signed_out/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('the dashboard follows the live stream without a click', async ({ page, tokens, world }) => {
  await signIn(page, tokens.MODERATOR);
  await expect(page.locator('[data-connection="live"]')).toBeVisible();
  const stamp = page.locator('time.timestamp');
  const first = await stamp.textContent();
  await expect(stamp).not.toHaveText(first);

  // The header's totals are the sums of BullMQ's own counts (now: other tests change them).
  const now = bullmq('counts', { queues: Object.entries(world.queues).map(([name, q]) => ({ name, bullmq: q.bullmq })) });
  const completed = Object.values(now.queues).reduce((sum, q) => sum + q.counts.completed, 0);
  await expect(page.locator('[data-total="completed"]')).toHaveText(String(completed));
  await expect(page.locator('[data-total="success-rate"]')).toContainText('%');
});

test('a moderator sees the data and the stuck job, without controls', async ({ page, tokens }) => {
  await signIn(page, tokens.MODERATOR);
  await expect(page.locator('tr[data-queue="e2e-emails"]')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Pause' })).toHaveCount(0);
  const stuck = page.locator('.stuck-job', { hasText: 'e2e-emails' });
  await expect(stuck).toContainText('worker still holds the lock');
});
