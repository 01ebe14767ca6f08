// Browser tests of the participant pages: Debian's chromium, headless, driven by playwright-core
// (never a browser download), on a phone-sized viewport with WeChat's user agent, against the
// real service with real Redis (started by the Rust test that runs this script).
//
//   node run.mjs <scenario> <base-url>      scenario: journey | reload | timeout
//
// Screenshots of every step go to tests/artifacts/browser/ (git-ignored). Exits 1 with the
// reason on the first failed check.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const [scenario, base] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, '..', 'artifacts', 'browser');
mkdirSync(artifacts, { recursive: true });

const phone = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  timezoneId: 'Asia/Shanghai',
  userAgent:
    'Mozilla/5.0 (Linux; Android 10; Redmi 8A) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5061 MMWEBSDK/20230202 ' +
    'MicroMessenger/8.0.33.2320(0x28002137) WeChat/arm64 Weixin NetType/4G Language/zh_CN',
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${scenario}-${name}.png`), fullPage: true });
}

// Registers through the pages: 地区 → 北京市 → 东城区, then name and phone.
async function register(page, name, number) {
  await page.goto(`${base}/c/safety-month/`);
  await page.getByRole('link', { name: '地区参赛' }).click();
  await page.locator('#unit-0').selectOption('110000');
  await page.locator('#unit-1').selectOption('110101');
  await page.getByLabel('姓名').fill(name);
  await page.getByLabel('手机号').fill(number);
  await shot(page, 'register');
  await page.getByRole('button', { name: '报名并开始答题' }).click();
  await page.locator('.option').first().waitFor();
}

// Answers question `index` (0-based) with its option at `position`, through the progress dots.
async function answer(page, index, position) {
  await page.locator('.dot').nth(index).click();
  await page.locator('.option').nth(position).click();
  await page.waitForFunction(() => document.querySelector('.status')?.textContent === '已保存');
}

async function pointsOf(page, unit) {
  const cell = page.locator(`tr[data-unit="${unit}"] td.points`);
  await cell.waitFor();
  return Number(await cell.textContent());
}

async function journey() {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  page.on('dialog', (dialog) => dialog.accept());
  await page.goto(`${base}/c/safety-month/`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  assert.match(await page.locator('h1').textContent(), /安全生产月/);
  assert.match(await page.locator('.rules').textContent(), /150 秒/);
  await shot(page, '1-landing');

  await register(page, '张三', '13800001111');
  await shot(page, '2-attempt');
  const count = await page.locator('.dot').count();
  assert.equal(count, 5, 'five questions');
  for (let i = 0; i < count; i++) await answer(page, i, 0);
  // Go back to the first question and change the answer.
  await page.locator('.dot').nth(0).click();
  const changedText = await page.locator('.option').nth(1).locator('span').nth(1).textContent();
  await page.locator('.option').nth(1).click();
  await page.waitForFunction(() => document.querySelector('.status')?.textContent === '已保存');
  await page.locator('.dot').nth(0).click();
  assert.equal(await page.locator('.option').nth(1).getAttribute('aria-checked'), 'true', 'the changed answer is shown');
  assert.equal(await page.locator('.dots .answered').count(), 5, 'every dot shows an answer');
  await shot(page, '3-changed');

  // A second page, someone else's phone, watches the ranking live.
  const watcher = await (await browser.newContext(phone)).newPage();
  await watcher.goto(`${base}/c/safety-month/#/rank`);
  const before = await pointsOf(watcher, '110000');
  await shot(watcher, '4-ranking-before');

  await page.getByRole('button', { name: '交卷' }).click();
  await page.locator('#score').waitFor();
  const score = Number((await page.locator('#score').textContent()).split('/')[0].trim());
  assert.equal(await page.locator('.review').count(), 5, 'the review lists every question');
  const first = await page.locator('.review').first().textContent();
  assert.ok(first.includes(`${changedText}（你的选择）`), 'the review shows the changed answer');
  assert.match(first, /解析：/);
  assert.match(first, /出处：/);
  assert.match(await page.locator('.notice').first().textContent(), /欢迎 .* 后再来/);
  await shot(page, '5-result');

  if (score > 0) {
    await watcher.waitForFunction(
      ([unit, points]) => Number(document.querySelector(`tr[data-unit="${unit}"] td.points`)?.textContent) === points,
      ['110000', before + score],
      { timeout: 15000 },
    );
  }
  assert.equal(await pointsOf(watcher, '110000'), before + score, 'the ranking moved without a reload');
  await shot(watcher, '6-ranking-live');

  await page.getByRole('link', { name: '查看排名' }).click();
  await page.locator('#my-points').waitFor();
  assert.match(await page.locator('#my-points').textContent(), new RegExp(`累计积分 ${score} 分`));
  await page.locator('.ranks li').first().waitFor();
  await shot(page, '7-my-rank');

  // The big screen, as a projector shows it.
  const screen = await (await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' })).newPage();
  await screen.goto(`${base}/c/safety-month/#/screen`);
  await screen.locator('tr[data-unit="110000"]').waitFor();
  assert.equal(await pointsOf(screen, '110000'), before + score);
  await screen.screenshot({ path: join(artifacts, `${scenario}-8-big-screen.png`) });
}

async function reload() {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  await register(page, '李四', '13800002222');
  await answer(page, 0, 0);
  await answer(page, 1, 1);
  const seconds = async () => {
    const [m, s] = (await page.locator('.clock').textContent()).replace('剩余 ', '').split(':');
    return Number(m) * 60 + Number(s);
  };
  const before = await seconds();
  await shot(page, 'before-reload');

  await page.reload();
  await page.locator('.option').first().waitFor();
  await page.locator('.dot').nth(1).click();
  assert.equal(await page.locator('.option').nth(1).getAttribute('aria-checked'), 'true', 'answer 2 survived');
  await page.locator('.dot').nth(0).click();
  assert.equal(await page.locator('.option').nth(0).getAttribute('aria-checked'), 'true', 'answer 1 survived');
  assert.equal(await page.locator('.dots .answered').count(), 2);
  const after = await seconds();
  assert.ok(after <= before && after > before - 30, `the countdown continued (${before} s → ${after} s)`);
  await shot(page, 'after-reload');
}

async function timeout() {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  await register(page, '王五', '13800003333');
  await answer(page, 0, 0);
  await page.locator('.timer.warn').waitFor({ timeout: 5000 });
  await shot(page, 'last-seconds');
  // Nobody touches the page again: at the deadline it submits and shows the result.
  await page.locator('#score').waitFor({ timeout: 30000 });
  assert.match(await page.locator('.card').first().textContent(), /用时 \d+ 秒/);
  await shot(page, 'submitted-at-deadline');
}

const scenarios = { journey, reload, timeout };
try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  await scenarios[scenario]();
  console.log(`browser scenario ${scenario}: passed`);
} catch (error) {
  console.error(`browser scenario ${scenario} failed: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
