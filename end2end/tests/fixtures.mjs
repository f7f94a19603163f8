// Shared test fixtures: the server's address as baseURL, tokens per role, BullMQ's own report of
// the world, page helpers that wait for hydration instead of sleeping, real BullMQ as the
// oracle (`bullmq`), and screenshots of the main views (`screenshot`).
import { test as base, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const end2end = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOTS = path.join(end2end, 'screenshots');

export const test = base.extend({
  baseURL: async ({}, use) => use(process.env.BASE_URL),
  world: async ({}, use) => use(JSON.parse(process.env.E2E_WORLD)),
  tokens: async ({}, use) =>
    use({ MODERATOR: process.env.TOKEN_MODERATOR, ADMIN: process.env.TOKEN_ADMIN }),
});

export { expect };

/** Signs in through the login form and waits until the dashboard is hydrated. */
export async function signIn(page, token) {
  await page.goto('/login');
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
}

/**
 * Runs a fixtures/world.mjs command (`counts`, `add`, `job`) with real BullMQ against the test's
 * Redis and prefix, and returns its JSON report.
 */
export function bullmq(command, spec) {
  const full = { redis: process.env.E2E_REDIS, prefix: process.env.E2E_PREFIX, ...spec };
  const out = execFileSync('node', ['fixtures/world.mjs', command, JSON.stringify(full)], { cwd: end2end });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

/** BullMQ's counts and paused flag of one v6 queue. */
export function queueReport(name, bullmqVersion = 6) {
  return bullmq('counts', { queues: [{ name, bullmq: bullmqVersion }] }).queues[name];
}

/** Saves a full-page screenshot as end2end/screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Saves a screenshot of one element as end2end/screenshots/<name>.png (for the README). */
export async function screenshotOf(locator, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await locator.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
