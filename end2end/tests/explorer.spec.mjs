// The job explorer in Chromium against the real server and real BullMQ: lists, search, a job's
// detail, logs and flow, and each action, with BullMQ as the oracle for members, order and
// effects. The queue, state, job and search live in the URL.
import { test, expect, signIn, bullmq, queueReport, screenshot, screenshotOf } from './fixtures.mjs';

const explorer = (page, name) => page.locator(`.queue-detail[data-detail="${name}"]`);
const rows = (page) => page.locator('#job-list table.jobs tbody tr');
const rowIds = (page) => rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.job));
const getJobs = (queue, state, extra = {}) => bullmq('getjobs', { queue, states: [state], ...extra }).byState[state];
const jobState = (queue, id) => bullmq('job', { queue, id });

/** Opens a queue's explorer from the queue table. */
async function openQueue(page, name) {
  await page.getByRole('button', { name: `Show details of ${name}` }).click();
  await expect(explorer(page, name)).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`[?&]queue=${name}(&|$)`));
}

/** Opens a job from the list and waits for its panel. */
async function openJob(page, id) {
  await rows(page).locator(`xpath=self::*[@data-job="${id}"]`).getByRole('button').click();
  const panel = page.locator(`.job-panel[data-job-panel="${id}"]`);
  await expect(panel.locator('.state-badge')).toBeVisible();
  return panel;
}

test('tabs count what BullMQ counts; lists and pages are BullMQ\'s getJobs, by cursor', async ({ page, tokens }) => {
  const name = 'e2e-explorer';
  await signIn(page, tokens.MODERATOR);
  await openQueue(page, name);
  const counts = queueReport(name).counts;
  const tabs = explorer(page, name).getByRole('tablist', { name: `Job states of ${name}` });
  for (const [state, count] of [['waiting', counts.waiting], ['prioritized', counts.prioritized],
    ['delayed', counts.delayed], ['completed', counts.completed], ['failed', counts.failed]]) {
    await expect(tabs.locator(`[data-count="${state}"]`)).toHaveText(String(count));
  }

  // Waiting, newest first: 50 rows, then the other 5 on the next page.
  const waiting = getJobs(name, 'waiting');
  expect(waiting.length).toBe(55);
  await expect(tabs.getByRole('tab', { name: /^Waiting \d/ })).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator('.page-note')).toHaveText('Jobs 1–50 of 55');
  expect(await rowIds(page)).toEqual(waiting.slice(0, 50));
  await screenshot(page, 'explorer-list');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('.page-note')).toHaveText('Jobs 51–55 of 55');
  expect(await rowIds(page)).toEqual(waiting.slice(50));
  await page.getByRole('button', { name: 'Previous' }).click();
  await expect(page.locator('.page-note')).toHaveText('Jobs 1–50 of 55');

  // Keyboard: End opens the last tab (Failed) and moves the focus to it.
  await tabs.getByRole('tab', { name: /^Waiting \d/ }).focus();
  await page.keyboard.press('End');
  const failedTab = tabs.getByRole('tab', { name: /^Failed/ });
  await expect(failedTab).toBeFocused();
  await expect(failedTab).toHaveAttribute('aria-selected', 'true');
  await expect(page).toHaveURL(/state=failed/);
  await expect(rows(page)).toHaveCount(3);
  expect(await rowIds(page)).toEqual(getJobs(name, 'failed'));
  await expect(rows(page).first().locator('code.failure')).toContainText('fixture failure');

  // Every other state equals getJobs too.
  for (const [label, state] of [['Completed', 'completed'], ['Delayed', 'delayed'], ['Prioritized', 'prioritized']]) {
    await tabs.getByRole('tab', { name: new RegExp(`^${label}`) }).click();
    await expect(page).toHaveURL(new RegExp(`state=${state}`));
    const expected = getJobs(name, state);
    await expect(rows(page)).toHaveCount(expected.length);
    expect(await rowIds(page)).toEqual(expected);
  }
  // The Prioritized tab shows its histogram: the waiting list's jobs (priority 0, they run
  // first), then one job at each of priorities 1 to 4.
  const bars = page.locator('table.priority-bars tbody tr');
  await expect(bars).toHaveCount(5);
  expect(await bars.evaluateAll((trs) => trs.map((tr) => [tr.dataset.priority, tr.querySelector('.bar-count').textContent])))
    .toEqual([['0', '55'], ['1', '1'], ['2', '1'], ['3', '1'], ['4', '1']]);
  await screenshot(page, 'explorer-priorities');

  // The URL is the explorer's state: Back returns to the previous tab.
  await page.goBack();
  await expect(page).toHaveURL(/state=delayed/);
  await expect(tabs.getByRole('tab', { name: /^Delayed/ })).toHaveAttribute('aria-selected', 'true');
});

test('search finds jobs by qualifier across states, says what it scanned, and points at syntax errors', async ({ page, tokens }) => {
  const name = 'e2e-explorer';
  await signIn(page, tokens.MODERATOR);
  await openQueue(page, name);
  const box = page.getByRole('searchbox', { name: `Search jobs in ${name}` });
  await box.fill('data.kind:fail');
  await box.press('Enter');
  await expect(page).toHaveURL(/q=data\.kind%3Afail/);
  const failed = getJobs(name, 'failed');
  await expect(rows(page)).toHaveCount(failed.length);
  expect([...(await rowIds(page))].sort()).toEqual([...failed].sort());
  await expect(page.locator('.page-note')).toContainText('3 matches in 67 jobs scanned of 67');
  await expect(page.locator('.page-note')).toContainText('the search reached the end');
  // Syntax help is one click away.
  await page.getByText('Search syntax').click();
  await expect(page.locator('.search-help')).toContainText('failed:"connection refused"');
  await screenshot(page, 'explorer-search');

  // A qualifier on another field, and a state narrowing it.
  await box.fill('name:lat* state:delayed');
  await box.press('Enter');
  await expect(rows(page)).toHaveCount(2);
  for (const id of await rowIds(page)) expect(jobState(name, id).state).toBe('delayed');

  // A syntax error is the server's 400, saying where.
  await box.fill('failed:"never closed');
  await box.press('Enter');
  await expect(page.getByRole('alert')).toContainText('column');

  // The search lives in the URL: a shared link runs it again.
  await box.fill('data.kind:ok');
  await box.press('Enter');
  await expect(rows(page)).toHaveCount(3);
  const url = page.url();
  await page.goto(url);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole('searchbox', { name: `Search jobs in ${name}` })).toHaveValue('data.kind:ok');
  await expect(rows(page)).toHaveCount(3);
});

test('a job\'s detail: error, data, options and timeline as BullMQ has them; a link opens it; Escape closes it', async ({ page, tokens }) => {
  const name = 'e2e-explorer';
  await signIn(page, tokens.MODERATOR);
  await openQueue(page, name);
  await explorer(page, name).getByRole('tab', { name: /^Failed/ }).click();
  const id = getJobs(name, 'failed')[0];
  const bull = bullmq('jobjson', { queue: name, id });
  const panel = await openJob(page, id);
  await expect(page).toHaveURL(new RegExp(`job=${id}`));
  await expect(rows(page).locator(`xpath=self::*[@data-job="${id}"]`)).toHaveAttribute('aria-current', 'true');
  // A failed job opens on its error: the reason and one stack trace per attempt, newest first.
  await expect(panel.getByRole('tab', { name: 'Error' })).toHaveAttribute('aria-selected', 'true');
  await expect(panel.locator('[data-field="failedReason"]')).toContainText(bull.failedReason);
  await expect(panel.locator('.stacktraces li')).toHaveCount(bull.stacktrace.length);
  expect(bull.stacktrace.length).toBe(2);
  await expect(panel.locator('.state-badge').first()).toHaveText('Failed');
  await screenshot(page, 'explorer-detail');
  await screenshotOf(explorer(page, name), 'explorer-panel');

  await panel.getByRole('tab', { name: 'Data' }).click();
  await expect(panel.locator('pre.json').first()).toContainText(`"kind": "fail"`);
  await panel.getByRole('tab', { name: 'Options' }).click();
  await expect(panel.locator('pre.json')).toContainText('"attempts": 2');
  await panel.getByRole('tab', { name: 'Timeline' }).click();
  await expect(panel.locator('.timeline')).toContainText('Added');
  await expect(panel.locator('.timeline')).toContainText('Started');
  await expect(panel.locator('.timeline')).toContainText('Failed');
  await expect(panel.locator('.facts')).toContainText(`Attempts made${bull.attemptsMade}`);

  // The link opens the same job for someone else.
  await page.goto(page.url());
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  const again = page.locator(`.job-panel[data-job-panel="${id}"]`);
  await expect(again.locator('[data-field="failedReason"]')).toContainText(bull.failedReason);
  // Escape closes the job, not the queue.
  await again.getByRole('tab', { name: 'Error' }).focus();
  await page.keyboard.press('Escape');
  await expect(again).toHaveCount(0);
  await expect(explorer(page, name)).toBeVisible();
  await expect(page).not.toHaveURL(/job=/);
  // A moderator is offered no action.
  await openJob(page, id);
  await expect(page.locator('.job-actions')).toHaveCount(0);
});

test('logs are BullMQ\'s getJobLogs, a hundred lines a page', async ({ page, tokens }) => {
  const name = 'e2e-actions';
  const { id } = bullmq('logjob', { queue: name, lines: 130 });
  await signIn(page, tokens.MODERATOR);
  await page.goto(`/?queue=${name}&state=waiting&job=${id}`);
  const panel = page.locator(`.job-panel[data-job-panel="${id}"]`);
  await panel.getByRole('tab', { name: 'Logs (130)' }).click();
  const expected = bullmq('getlogs', { queue: name, id, start: 0, end: 99, asc: true });
  await expect(panel.locator('.page-note')).toHaveText(`Lines 1–100 of ${expected.count}`);
  const lines = panel.locator('ol.logs li');
  await expect(lines).toHaveCount(100);
  expect(await lines.allTextContents()).toEqual(expected.logs);
  await screenshot(page, 'explorer-logs');
  await panel.getByRole('button', { name: 'Later lines' }).click();
  const rest = bullmq('getlogs', { queue: name, id, start: 100, end: 199, asc: true });
  await expect(lines).toHaveCount(30);
  expect(await lines.allTextContents()).toEqual(rest.logs);
  await expect(panel.getByRole('button', { name: 'Later lines' })).toBeDisabled();
});

test('a flow: the tree from any of its jobs, as getFlow; a node opens its job in its own queue', async ({ page, tokens }) => {
  const { ids } = bullmq('flows', {
    run: false,
    flows: [{
      name: 'e2e-report', queue: 'e2e-flow-top',
      children: [
        { name: 'e2e-render', queue: 'e2e-flow-work', children: [{ name: 'e2e-fetch', queue: 'e2e-flow-work' }] },
        { name: 'e2e-mail', queue: 'e2e-flow-work' },
      ],
    }],
  });
  const oracle = bullmq('getflow', { queue: 'e2e-flow-top', id: ids['e2e-report'] });
  await signIn(page, tokens.MODERATOR);
  await page.goto(`/?queue=e2e-flow-work&job=${ids['e2e-fetch']}`);
  const panel = page.locator(`.job-panel[data-job-panel="${ids['e2e-fetch']}"]`);
  await panel.getByRole('tab', { name: 'Flow' }).click();
  const tree = panel.getByRole('tree', { name: 'Flow' });
  // Every node of getFlow's tree is shown, each under its parent; the job asked for is marked.
  const shown = async (node) => {
    const item = tree.locator(`li[data-node="${node.id}"]`);
    await expect(item).toContainText(`${node.name} #${node.id} in ${node.queue}`);
    for (const child of node.children) {
      await expect(item.locator(`:scope > ul > li[data-node="${child.id}"]`)).toHaveCount(1);
      await shown(child);
    }
  };
  await shown(oracle);
  await expect(tree.locator('li[aria-current="true"]')).toHaveAttribute('data-node', ids['e2e-fetch']);
  await screenshot(page, 'explorer-flow');
  // The root opens in its own queue.
  await tree.locator(`li[data-node="${ids['e2e-report']}"] > button`).click();
  await expect(page).toHaveURL(new RegExp(`queue=e2e-flow-top&job=${ids['e2e-report']}`));
  const root = page.locator(`.job-panel[data-job-panel="${ids['e2e-report']}"]`);
  await expect(root.locator('.state-badge').first()).toHaveText('Waiting children');
});

test('actions: retry, promote, remove (after asking) and retry with changes do what BullMQ would', async ({ page, tokens }) => {
  const name = 'e2e-actions';
  await signIn(page, tokens.ADMIN);
  await openQueue(page, name);
  const tabs = explorer(page, name).getByRole('tablist');

  // Retry a failed job in place: BullMQ sees it waiting again.
  await tabs.getByRole('tab', { name: /^Failed/ }).click();
  const [retried, changed] = getJobs(name, 'failed');
  let panel = await openJob(page, retried);
  await panel.getByRole('button', { name: 'Retry', exact: true }).click();
  await expect(panel.getByRole('status')).toHaveText(`Job ${retried} moved from failed to waiting`);
  expect(jobState(name, retried).state).toBe('waiting');
  // The list follows: the retried job leaves the failed list.
  await expect(rows(page).locator(`xpath=self::*[@data-job="${retried}"]`)).toHaveCount(0);

  // Retry with changes: a new job with the new priority; the original stays failed.
  panel = await openJob(page, changed);
  await panel.getByRole('button', { name: 'Retry with changes…' }).click();
  const form = panel.getByRole('form', { name: `Retry job ${changed} of ${name}` });
  await form.getByLabel('Priority').fill('7');
  await form.getByRole('button', { name: 'Retry job' }).click();
  const outcome = form.locator('.form-outcome .ok');
  await expect(outcome).toContainText('Retried as job');
  const newId = (await outcome.textContent()).match(/Retried as job (\S+);/)[1];
  const made = jobState(name, newId);
  expect(made.opts.priority).toBe(7);
  expect(made.state).toBe('prioritized');
  expect(jobState(name, changed).state).toBe('failed');

  // Promote a delayed job.
  await tabs.getByRole('tab', { name: /^Delayed/ }).click();
  const [promoted] = getJobs(name, 'delayed');
  panel = await openJob(page, promoted);
  await panel.getByRole('button', { name: 'Promote' }).click();
  await expect(panel.getByRole('status')).toHaveText(`Job ${promoted} moved from delayed to waiting`);
  expect(jobState(name, promoted).state).toBe('waiting');

  // Remove asks first; Escape keeps the job; confirming removes it.
  await tabs.getByRole('tab', { name: /^Completed/ }).click();
  const [removed] = getJobs(name, 'completed');
  panel = await openJob(page, removed);
  await panel.getByRole('button', { name: 'Remove…' }).click();
  const dialog = page.getByRole('alertdialog');
  await expect(dialog).toContainText(`Remove job ${removed} from ${name}?`);
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await screenshot(page, 'explorer-remove-confirmation');
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(panel).toBeVisible();
  expect(jobState(name, removed).state).toBe('completed');
  await panel.getByRole('button', { name: 'Remove…' }).click();
  await dialog.getByRole('button', { name: 'Remove job' }).click();
  await expect(panel.getByRole('status')).toHaveText(`Removed job ${removed} (it was completed), with its children`);
  expect(jobState(name, removed).missing).toBe(true);
  await expect(panel.locator('.state-badge').first()).toHaveText('Removed');

  // Every action is in the audit trail.
  const audit = await page.request.get('/api/v1/admin/jobs/audit', { headers: { authorization: `Bearer ${tokens.ADMIN}` } });
  const actions = (await audit.json()).entries.map((e) => `${e.action} ${e.queueName} ${e.jobId} ${e.subject}`);
  expect(actions).toEqual(expect.arrayContaining([
    `retry ${name} ${retried} ada`, `retry ${name} ${changed} ada`,
    `promote ${name} ${promoted} ada`, `remove ${name} ${removed} ada`,
  ]));
});

test('the open list follows the live stream and keeps the selection', async ({ page, tokens }) => {
  const name = 'e2e-live';
  await signIn(page, tokens.MODERATOR);
  await openQueue(page, name);
  const before = getJobs(name, 'waiting');
  const panel = await openJob(page, before[0]);
  // Rows are keyed by job: the open job's row stays the same element across re-reads.
  const openRow = rows(page).locator(`xpath=self::*[@data-job="${before[0]}"]`);
  await openRow.evaluate((tr) => { tr.dataset.marker = 'same-element'; });
  bullmq('add', { queues: [{ name, count: 2 }] });
  const after = getJobs(name, 'waiting');
  expect(after.length).toBe(before.length + 2);
  await expect(explorer(page, name).locator('[data-count="waiting"]')).toHaveText(String(after.length), { timeout: 3000 });
  await expect.poll(() => rowIds(page), { timeout: 5000 }).toEqual(after.slice(0, 50));
  await expect(openRow).toHaveAttribute('aria-current', 'true');
  await expect(openRow).toHaveAttribute('data-marker', 'same-element');
  await expect(panel).toBeVisible();
});
