// What a browser downloads: the first visit gets compressed, content-hashed files; a second
// visit downloads and revalidates nothing but the page itself. Measured with Chromium's own
// network events (CDP), against the release build the suite runs on.
import { test, expect, signIn } from './fixtures.mjs';

/** The first-paint wasm may not grow past this many compressed bytes (issue 17's goal; README
 * gives the figure). */
const WASM_BUDGET = 200_000;

/** The wasm chunk a dashboard loads once it is hydrated (the live feed, the firing count, stuck
 * jobs, trends: `components::deferred`); everything else (queue detail and explorer, dialogs,
 * retry form, failures, alerts panel, pause and clear) waits for the operator. */
const AFTER_HYDRATION = ['load_deferred'];

/** The lazy function a split chunk holds (`split_<name>_<id>.<hash>.wasm`), else null. */
const splitName = (url) => path(url).match(/\/split_([a-z_]+?)_\d+\./)?.[1] ?? null;

/** Records every request the page makes: URL, whether the network answered, bytes on the wire. */
async function recordNetwork(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const byId = new Map();
  cdp.on('Network.requestWillBeSent', ({ requestId, request }) => {
    byId.set(requestId, { url: request.url, cached: false, status: 0, bytes: 0, encoding: '' });
  });
  cdp.on('Network.requestServedFromCache', ({ requestId }) => {
    const entry = byId.get(requestId);
    if (entry) entry.cached = true;
  });
  cdp.on('Network.responseReceived', ({ requestId, response }) => {
    const entry = byId.get(requestId);
    if (!entry) return;
    entry.status = response.status;
    entry.cached ||= response.fromDiskCache || response.fromPrefetchCache || response.fromServiceWorker;
    const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    entry.encoding = headers['content-encoding'] ?? '';
    entry.cacheControl = headers['cache-control'] ?? '';
  });
  cdp.on('Network.loadingFinished', ({ requestId, encodedDataLength }) => {
    const entry = byId.get(requestId);
    if (entry) entry.bytes = encodedDataLength;
  });
  return {
    entries: () => [...byId.values()],
    reset: () => byId.clear(),
  };
}

const path = (url) => new URL(url).pathname;

/** Waits until the chunks a dashboard loads after hydration, and every static file asked for
 * so far, have been answered (from the network or the cache). */
async function chunksLoaded(network) {
  await expect.poll(() => {
    const entries = network.entries().filter((e) => isStatic(e.url));
    const answered = entries.filter((e) => e.status > 0 && (e.bytes > 0 || e.cached));
    const missing = AFTER_HYDRATION.filter((name) => !answered.some((e) => splitName(e.url) === name));
    return [...missing, ...entries.filter((e) => !answered.includes(e)).map((e) => e.url)];
  }, { message: 'the chunks of what is on screen load once the page is hydrated' }).toEqual([]);
}
const isStatic = (url) => path(url).startsWith('/pkg/') || path(url) === '/favicon.svg';

test('the first visit downloads compressed, hashed files; a second one nothing but the page', async ({ browser, baseURL, tokens }) => {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const network = await recordNetwork(page);
  await signIn(page, tokens.MODERATOR);
  await chunksLoaded(network);

  const first = network.entries();
  const files = first.filter((e) => isStatic(e.url));
  const wasm = files.find((e) => /^\/pkg\/monitor\./.test(path(e.url)) && path(e.url).endsWith('.wasm'));
  expect(wasm, 'the page loads its wasm').toBeTruthy();
  // Hashed names (monitor.<hash>.wasm), brotli on the wire, cached for good.
  expect(path(wasm.url)).toMatch(/^\/pkg\/monitor\.[\w-]+\.wasm$/);
  expect(wasm.encoding).toBe('br');
  expect(wasm.cacheControl).toBe('public, max-age=31536000, immutable');
  expect(wasm.bytes).toBeLessThanOrEqual(WASM_BUDGET);
  for (const file of files.filter((e) => path(e.url).startsWith('/pkg/'))) {
    expect(file.encoding, file.url).toBe('br');
    expect(file.cacheControl, file.url).toBe('public, max-age=31536000, immutable');
  }
  // After hydration, only the chunks of what is on screen; the explorer, the dialogs and the
  // retry form are not part of the first visit.
  const chunks = files.filter((e) => path(e.url).endsWith('.wasm') && e !== wasm);
  const named = chunks.map((e) => splitName(e.url)).filter(Boolean);
  expect(named.filter((name) => !AFTER_HYDRATION.includes(name))).toEqual([]);
  const pages = first.filter((e) => !isStatic(e.url) && !path(e.url).endsWith('/live'));
  const firstPaint = [...files.filter((e) => !chunks.includes(e)), ...pages];
  const total = firstPaint.reduce((sum, e) => sum + e.bytes, 0);
  const later = chunks.reduce((sum, e) => sum + e.bytes, 0);
  console.log(`first visit: ${total} bytes on the wire until interactive (wasm ${wasm.bytes}), ` +
    `${firstPaint.length} requests; then ${later} bytes of wasm in ${chunks.length} chunks once hydrated`);

  // A second visit: only the page (and live data) go to the network.
  network.reset();
  await page.goto('/');
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await chunksLoaded(network);
  const second = network.entries();
  const fetched = second.filter((e) => isStatic(e.url) && !e.cached);
  expect(fetched.map((e) => `${e.status} ${e.url}`)).toEqual([]);
  expect(second.filter((e) => isStatic(e.url)).length).toBeGreaterThan(0);
  const document = second.find((e) => path(e.url) === '/');
  expect(document.cached).toBe(false);
  expect(document.encoding).toBe('br');
  await context.close();
});

/** Records, in each new document, when the page turned interactive (`data-hydrated="true"`). */
async function watchInteractive(context) {
  await context.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector('[data-hydrated="true"]')) {
        window.__interactiveAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-hydrated'] });
  });
}

/** Milliseconds from the current document's navigation start until it was interactive. */
async function interactiveAfter(page) {
  const handle = await page.waitForFunction(() => window.__interactiveAt);
  return Math.round(await handle.jsonValue());
}

// Prints the figures README quotes; a page that never turns interactive fails it.
test('time until interactive, cold and warm cache', async ({ browser, baseURL, tokens }) => {
  const context = await browser.newContext({ baseURL });
  await watchInteractive(context);
  const page = await context.newPage();
  await page.goto('/login');
  const cold = await interactiveAfter(page);
  await signIn(page, tokens.MODERATOR);
  const dashboard = await interactiveAfter(page);
  await page.goto('/');
  const warm = await interactiveAfter(page);
  for (const ms of [cold, dashboard, warm]) expect(ms).toBeGreaterThan(0);
  console.log(`interactive after: ${cold} ms cold (sign-in page, nothing cached), ` +
    `${dashboard} ms for the dashboard after signing in, ${warm} ms warm (dashboard again)`);
  await context.close();
});
