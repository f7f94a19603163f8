// The alerts in Chromium against the real server (started with one rule: more than 5 jobs
// waiting in e2e-alerts) and real BullMQ: the bar shows the firing count, the panel the alert
// with its severity in words; a real worker drains the queue and the alert resolves.
import { test, expect, signIn, bullmq } from './fixtures.mjs';

test('a firing alert shows in the bar and the panel, and resolves when a worker drains the queue', async ({ page, tokens }) => {
  const queue = 'e2e-alerts';
  bullmq('add', { queues: [{ name: queue, count: 9 }] });
  const refreshed = await page.request.post('/api/v1/admin/jobs/queues/refresh', {
    headers: { Authorization: `Bearer ${tokens.ADMIN}` },
  });
  expect(refreshed.status()).toBe(200);

  await signIn(page, tokens.MODERATOR);
  const badge = page.locator('.monitor-bar button.firing');
  await expect(badge).toHaveText('1 alert firing (critical)', { timeout: 30000 });
  await expect(badge).toHaveAttribute('data-critical', 'true');
  await badge.click();
  const panel = page.locator('section.alerts');
  const alert = panel.locator('.active-alerts li.alert');
  await expect(alert).toHaveCount(1);
  await expect(alert).toHaveAttribute('data-severity', 'critical');
  await expect(alert.locator('.line')).toHaveText('critical · E2eBacklog · e2e-alerts: e2e-alerts has 9 jobs waiting');
  await expect(alert.locator('.when')).toContainText('firing since');

  // A real worker empties the queue: resolved.
  bullmq('drain', { queue });
  await expect(badge).toHaveText('No alert firing', { timeout: 30000 });
  await expect(panel.locator('.resolved-alerts li.alert').first()).toContainText('E2eBacklog', { timeout: 15000 });
  await expect(panel.locator('.active-alerts li.alert')).toHaveCount(0);
});
