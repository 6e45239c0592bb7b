/** Keyboard use, labelled controls and a narrow screen. */
import t from 'tap';
import type { Page } from 'playwright-core';
import { harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { launchBrowser, openDashboard, row, waitRow } from './browser.js';

/** Controls without an accessible name (label, aria-label, aria-labelledby or text). */
function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll<HTMLElement>('input, select, textarea, button, a[href], [role=tab]')]
    .filter((el) => el.offsetParent !== null || el.closest('dialog[open]'))
    .filter((el) => {
      const labels = (el as HTMLInputElement).labels;
      const named = (labels && labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.textContent ?? '').trim();
      return !named && !(el as HTMLInputElement).type?.match(/^(hidden|radio)$/);
    })
    .map((el) => el.outerHTML.slice(0, 120)));
}

t.test('keyboard, labels, narrow screen', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: {
      web: { id: 'web', name: 'Web Agent', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
      idle: { id: 'idle', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, h.url);
  await waitRow(page, 'web', 'running', 'healthy');
  t.same(await unlabelled(page), [], 'every control of the list view has a name');

  // Tab from the top of the page to the first service link, then open it with Enter.
  let reached = false;
  for (let i = 0; i < 30 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-id') === 'idle');
  }
  t.ok(reached, 'Tab reaches the rows');
  await page.keyboard.press('Enter');
  await page.locator('aside[data-service="idle"]').waitFor();
  t.equal(await page.evaluate(() => document.activeElement?.id), 'detail-title', 'focus moves to the panel heading');
  t.same(await unlabelled(page), [], 'every control of the panel has a name');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Start', 'Tab goes on to the panel buttons');
  await page.keyboard.press('Enter');
  await waitRow(page, 'idle', 'running');
  t.pass('Enter on Start starts the service');
  await page.keyboard.press('Escape');
  await page.locator('aside.drawer').waitFor({ state: 'detached' });
  t.equal(await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-id')), 'idle', 'Escape closes it and focus is back on the row');

  await page.getByRole('link', { name: 'Register service' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'Register a service' }).waitFor();
  t.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name), 'id', 'the form starts at the ID field');
  t.same(await unlabelled(page), [], 'every control of the form has a name');
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await page.waitForFunction(() => location.hash === '#/');
  t.pass('Escape closes the dialog');

  // A phone-sized screen: no sideways scrolling, the panel takes the width.
  await page.setViewportSize({ width: 375, height: 740 });
  const overflow = () => page.evaluate(() => {
    const s = document.querySelector('.table-scroll')!;
    return { table: s.scrollWidth - s.clientWidth, page: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  });
  t.same(await overflow(), { table: 0, page: 0 }, 'the table fits 375 px');
  await page.locator(`${row('web')} a`).click();
  const drawer = page.locator('aside[data-service="web"]');
  await drawer.waitFor();
  const box = (await drawer.boundingBox())!;
  t.ok(box.x <= 1 && box.width >= 370, 'the panel uses the whole width');
  t.ok(await drawer.getByRole('button', { name: 'Restart' }).isVisible(), 'its buttons are reachable');
  t.equal((await overflow()).page, 0, 'still no sideways scrolling');
  t.same(problems, [], 'no errors in the page');
});
