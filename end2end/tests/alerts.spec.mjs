// The alerts in Chromium against the real server (started with one rule: more than 5 jobs
// waiting in e2e-alerts) and real BullMQ: the bar shows the firing count, the panel the alert
// with its severity in words; an operator silences it and ends the silence; a real worker
// drains the queue and the alert resolves.
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
  await expect(alert.locator('.rule')).toHaveText('rule: more than 5 jobs waiting, prioritized or delayed');
  await expect(alert.getByRole('button', { name: 'Silence…' })).toHaveCount(0);

  // An operator silences it from the panel: with a reason, for an hour; then ends the silence.
  await signIn(page, tokens.ADMIN);
  await badge.click();
  await alert.getByRole('button', { name: 'Silence…' }).click();
  const form = alert.getByRole('form', { name: 'Silence this alert' });
  await form.getByLabel('Why').fill('planned migration');
  await form.getByRole('button', { name: 'Silence' }).click();
  await expect(panel.locator('.outcome')).toContainText('Silenced: alertname=E2eBacklog, queue=e2e-alerts until');
  await expect(alert).toHaveAttribute('data-silenced', 'true', { timeout: 15000 });
  const silence = panel.locator('li.silence');
  await expect(silence).toContainText('(ada: planned migration)');
  const listed = await page.request.get('/api/v1/admin/jobs/alerts/silences', {
    headers: { Authorization: `Bearer ${tokens.MODERATOR}` },
  });
  expect((await listed.json()).silences[0].matchers).toEqual({ alertname: 'E2eBacklog', queue: 'e2e-alerts' });
  await silence.getByRole('button', { name: 'End' }).click();
  await expect(silence).toHaveCount(0, { timeout: 15000 });
  await expect(alert).toHaveAttribute('data-silenced', 'false', { timeout: 15000 });

  // A real worker empties the queue: resolved.
  bullmq('drain', { queue });
  await expect(badge).toHaveText('No alert firing', { timeout: 30000 });
  await expect(panel.locator('.resolved-alerts li.alert').first()).toContainText('E2eBacklog', { timeout: 15000 });
  await expect(panel.locator('.active-alerts li.alert')).toHaveCount(0);
  // The drained jobs go again (BullMQ's clean): other tests sum the header's totals over the
  // shared world's queues only.
  expect(bullmq('clean', { queue, type: 'completed' }).removed).toBe(9);
});
