// Shared test fixtures: the server's address as baseURL, tokens per role, BullMQ's own report of
// the world, and page helpers that wait for hydration instead of sleeping.
import { test as base, expect } from '@playwright/test';

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
