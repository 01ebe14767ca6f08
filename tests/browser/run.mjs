// Browser tests of the participant pages: Debian's chromium, headless, driven by playwright-core
// (never a browser download), on a phone-sized viewport with WeChat's user agent, against the
// real service with real Redis (started by the Rust test that runs this script).
//
//   node run.mjs <scenario> <base-url> [args]   scenario: journey | reload | timeout
//   node run.mjs practice|winner <base-url> <token> <participant id> <masked name> [attempt id]
//   node run.mjs organizer <base-url> <username> <one-time password>
//   node run.mjs accessibility <base-url>   (axe-core, text scaling, touch targets; a draw done)
//   node run.mjs sector <base-url> <province organizer> <one-time password>   (issue 18; asks the
//     Rust test for the answer key and the certificate window on stdout, answered on stdin)
//
// Screenshots of every step go to tests/artifacts/browser/ (git-ignored). Exits 1 with the
// reason on the first failed check.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';

const [scenario, base, ...rest] = process.argv.slice(2);
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

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: join(artifacts, `${scenario}-${name}.png`), fullPage });
}

// Registers through the pages: 地区 → 北京市 → 东城区, then name and phone.
async function register(page, name, number) {
  await page.goto(`${base}/c/safety-month/`);
  await page.getByRole('link', { name: '地区参赛' }).click();
  await page.locator('#unit-0').selectOption('110000');
  await page.locator('#unit-1').selectOption('110101');
  await page.getByLabel('姓名').fill(name);
  await page.getByLabel('手机号').fill(number);
  // The personal-information notice (docs/privacy.md) is shown with an unticked box, which
  // registration requires.
  await page.locator('#notice h2', { hasText: '个人信息处理告知' }).waitFor();
  const consent = page.getByLabel('我已阅读并同意上述个人信息处理告知');
  assert.equal(await consent.isChecked(), false, 'the consent box starts unticked');
  await page.getByRole('button', { name: '报名并开始答题' }).click();
  await page.locator('#consent-error', { hasText: '勾选同意' }).waitFor();
  await consent.check();
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
  // Screen readers hear the warning once, from the assertive region, not the clock every second.
  await page.locator('#announce', { hasText: /还剩\d+秒/ }).waitFor();
  await shot(page, 'last-seconds');
  // Nobody touches the page again: at the deadline it submits and shows the result.
  await page.locator('#score').waitFor({ timeout: 30000 });
  assert.match(await page.locator('.card').first().textContent(), /用时 \d+ 秒/);
  assert.match(await page.locator('#announce').textContent(), /时间到，系统已自动交卷/);
  await shot(page, 'submitted-at-deadline');
}


// A participant of `unit` plays one attempt through the API (another phone, not this page):
// registers, answers each question with its first option, submits. Returns the result.
async function playThroughApi(name, number, unit) {
  const call = async (method, path, token, body) => {
    const response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const { token } = await call('POST', '/campaigns/safety-month/participants', null, { name, phone: number, unit_id: unit, consent: true });
  const attempt = await call('POST', '/campaigns/safety-month/attempts', token);
  const answers = Object.fromEntries(attempt.questions.map((q) => [String(q.index), [q.options[0].key]]));
  return call('POST', `/attempts/${attempt.attempt_id}/submit`, token, { answers });
}

// The text of a cell of the unit table's row of `unit`, e.g. cellOf(page, '130102', 'attempts').
async function cellOf(page, unit, key) {
  const cell = page.locator(`tr[data-unit="${unit}"] .${key}`);
  await cell.waitFor();
  return (await cell.textContent()).trim();
}

// Keeps doing `act` until `check` holds (the SQL record trails the live figures by the flush).
async function retryUntil(what, act, check, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    await act();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function downloadOf(page, selector) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator(selector).first().click()]);
  const path = join(artifacts, `${scenario}-${download.suggestedFilename()}`);
  await download.saveAs(path);
  return { name: download.suggestedFilename(), bytes: readFileSync(path) };
}

// Logs in with a one-time password and replaces it, on a fresh phone.
async function organizerPhone(username, oneTime, password) {
  const page = await (await browser.newContext({ ...phone, acceptDownloads: true })).newPage();
  await page.goto(`${base}/organizer/`);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(oneTime);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByLabel('初始密码').fill(oneTime);
  await page.getByLabel('新密码', { exact: true }).fill(password);
  await page.getByLabel('再次输入新密码').fill(password);
  await page.getByRole('button', { name: '保存新密码' }).click();
  await page.locator('#live', { hasText: '实时' }).waitFor();
  return page;
}

async function organizer() {
  const [username, oneTime, countyUsername, countyOneTime] = rest;
  const context = await browser.newContext({ ...phone, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  // Refused requests (a wrong password, another subtree) are expected; script errors are not.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text());
  });

  // Login: a wrong password is refused in Chinese, the one-time password forces a new one.
  await page.goto(`${base}/organizer/`);
  await page.getByRole('heading', { name: '组织者登录' }).waitFor();
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill('wrong-password-1');
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByText('用户名或密码错误').waitFor();
  await shot(page, '1-login-refused', false);
  await page.getByLabel('密码').fill(oneTime);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('heading', { name: '请先设置新密码' }).waitFor();
  await page.getByLabel('初始密码').fill(oneTime);
  await page.getByLabel('新密码', { exact: true }).fill('hebei2026anquan');
  await page.getByLabel('再次输入新密码').fill('hebei2027anquan');
  await page.getByRole('button', { name: '保存新密码' }).click();
  await page.getByText('两次输入的新密码不一致').waitFor();
  await page.getByLabel('再次输入新密码').fill('hebei2026anquan');
  await page.getByRole('button', { name: '保存新密码' }).click();
  await shot(page, '2-password-changed', false);

  // Live progress of the province and its cities.
  await page.getByRole('heading', { level: 1, name: '河北省' }).waitFor();
  await page.locator('#live', { hasText: '实时' }).waitFor();
  const before = Number(await cellOf(page, '130100', 'attempts'));
  const totalBefore = Number((await page.locator('#totals .attempts dd').textContent()).replace(/,/g, ''));
  assert.match(await page.locator('#not-started').textContent(), /石家庄市/, '石家庄市 has not started yet');
  await shot(page, '3-progress-before', false);

  // 长安区's own organizer watches the county's totals on another phone.
  const county = await organizerPhone(countyUsername, countyOneTime, 'changan2026anquan');
  await county.getByRole('heading', { level: 1, name: '长安区' }).waitFor();
  assert.equal(await county.locator('#totals .attempts dd').textContent(), '0');
  assert.match(await county.locator('#children').textContent(), /没有下级单位/);

  // Another phone finishes an attempt in 长安区 of 石家庄市; both pages move without a reload.
  const result = await playThroughApi('赵六', '13900006666', '130102');
  await page.waitForFunction(
    ([attempts]) => Number(document.querySelector('tr[data-unit="130100"] .attempts')?.textContent) === attempts,
    [before + 1],
    { timeout: 15000 },
  );
  assert.equal(Number(await cellOf(page, '130100', 'participants')), 1);
  assert.equal(Number(await cellOf(page, '130100', 'points')), result.score);
  assert.equal(Number((await page.locator('#totals .attempts dd').textContent()).replace(/,/g, '')), totalBefore + 1);
  assert.doesNotMatch(await page.locator('#not-started').textContent(), /石家庄市/, '石家庄市 has started');
  await shot(page, '4-progress-live', false);
  await county.waitForFunction(() => document.querySelector('#totals .attempts dd')?.textContent === '1', null, { timeout: 15000 });
  assert.equal(await county.locator('#totals .points dd').textContent(), String(result.score));
  // Today's figures come from SQL and follow within a few polls once the live ones moved
  // (today's or, if midnight passed since the attempt started, yesterday's).
  await county.waitForFunction(
    () => ['today', 'yesterday']
      .map((day) => Number(document.querySelector(`#today tr[data-figure="attempts"] .${day}`)?.textContent))
      .reduce((a, b) => a + b) === 1,
    null,
    { timeout: 20000 },
  );
  await shot(county, '4-county-live', false);
  await county.context().close();

  // Down to the city: its counties, with the way back up.
  await page.locator('tr[data-unit="130100"] a').click();
  await page.getByRole('heading', { level: 1, name: '石家庄市' }).waitFor();
  assert.equal(Number(await cellOf(page, '130102', 'attempts')), 1);
  assert.ok(await page.locator('.crumbs a', { hasText: '河北省' }).isVisible(), 'the path back to the province');
  // A reload (or a shared link) keeps the path: the server names it.
  await page.reload();
  await page.locator('.crumbs a', { hasText: '河北省' }).waitFor();
  // The path can show before the children's table is filled; scroll it once its rows are there.
  await page.locator('#children tr[data-unit="130102"]').waitFor();
  // The live refresh keeps the table where it was scrolled to sideways.
  const scrolled = await page.locator('#children .scroll').evaluate((el) => {
    el.scrollLeft = 60;
    return el.scrollLeft;
  });
  assert.ok(scrolled > 0, 'the table is wider than the phone');
  const stamp = await page.locator('#live').textContent();
  await page.waitForFunction((before) => document.querySelector('#live').textContent !== before, stamp, { timeout: 15000 });
  assert.equal(await page.locator('#children .scroll').evaluate((el) => el.scrollLeft), scrolled, 'still scrolled after a refresh');

  // Sorting by a column puts 长安区, the only county with an attempt, first.
  await page.locator('th button[data-sort="attempts"]').click();
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending');
  assert.equal(await page.locator('table.units tbody tr').first().getAttribute('data-unit'), '130102');

  // Another subtree is refused.
  await page.goto(`${base}/organizer/#/progress/110000`);
  await page.getByRole('alert').waitFor();
  assert.doesNotMatch(await page.locator('main').textContent(), /东城区/);
  await shot(page, '5-out-of-scope', false);

  // The participant appears in the search once the record has it; the attempt is there too.
  await page.goto(`${base}/organizer/#/people/130100`);
  await page.getByLabel('姓名').fill('赵');
  await retryUntil(
    'the participant in the search',
    () => page.getByRole('button', { name: '查询' }).click(),
    async () => (await page.locator('#total').textContent().catch(() => '')) === '共 1 人',
  );
  await page.locator('li[data-participant] .name', { hasText: '赵六' }).waitFor();
  assert.match(await page.locator('li[data-participant]').textContent(), /139\*\*\*\*6666/);
  await shot(page, '6-people', false);
  await page.locator('li[data-participant] a').click();
  await page.getByRole('heading', { name: '赵六 的答题记录' }).waitFor();
  await page.locator('summary').first().click();
  assert.equal(await page.locator('.attempt .review').count(), 5, 'the five questions as answered');
  assert.match(await page.locator('.attempt h2').textContent(), new RegExp(`${result.score} 分`));
  await shot(page, '7-attempts', false);

  // The figures and the downloads: CSV with a BOM and codes kept as text, XLSX, Chinese names.
  await page.getByRole('link', { name: '统计报表' }).click();
  await page.locator('#period').waitFor();
  assert.equal(await cellOf(page, '130102', 'participants'), '1');
  await shot(page, '8-figures', false);
  const csv = await downloadOf(page, 'a[data-export="units.csv"]');
  assert.match(csv.name, /^单位统计-石家庄市-.*\.csv$/);
  const text = csv.bytes.toString('utf8');
  assert.equal(text.charCodeAt(0), 0xfeff, 'a UTF-8 BOM for Excel');
  assert.match(text, /单位代码,单位,参与人数,参与人次/);
  assert.match(text, /"=""130102""",长安区,1,1,/, "the code is kept as text");
  const xlsx = await downloadOf(page, 'a[data-export="units.xlsx"]');
  assert.match(xlsx.name, /^单位统计-石家庄市-.*\.xlsx$/);
  assert.equal(xlsx.bytes.subarray(0, 2).toString('latin1'), 'PK', 'an XLSX (zip) file');
  const people = await downloadOf(page, 'a[data-export="participants.csv"]');
  assert.match(people.bytes.toString('utf8'), /赵六/);
  // A year typed wrong (0026 for 2026) is refused on the page in Chinese, before any request.
  const typo = [];
  const watchTypo = (request) => { if (request.url().includes('0026-06-01')) typo.push(request.url()); };
  page.on('request', watchTypo);
  await page.locator('#from').fill('0026-06-01');
  await page.getByRole('button', { name: '查询' }).click();
  await page.locator('form.filters .error', { hasText: '超出范围' }).waitFor();
  assert.match(await page.locator('form.filters .error').textContent(), /1900-01-01 至 9999-12-31/);
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
  page.off('request', watchTypo);
  assert.deepEqual(typo, [], 'no request carries the bad date');
  await page.locator('#from').fill('');

  // The question analysis lists the five questions drawn. The figures page, left while its
  // answer is slow, does not take the page back when the answer comes.
  await page.getByRole('link', { name: '参与人员' }).click();
  await page.locator('#total').waitFor();
  await page.route('**/api/v1/organizer/figures?unit=130100', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await route.continue();
  });
  const slow = page.waitForResponse((r) => r.url().endsWith('/api/v1/organizer/figures?unit=130100'));
  await page.getByRole('link', { name: '统计报表' }).click();
  await page.getByRole('link', { name: '题目分析' }).click();
  await page.locator('.question').first().waitFor();
  await (await slow).finished();
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  await page.unroute('**/api/v1/organizer/figures?unit=130100');
  assert.equal(await page.locator('#period').count(), 0, 'the late figures did not replace the page');
  assert.equal(await page.locator('.question').count(), 5);
  const categories = readFileSync(join(here, '..', '..', 'question-banks', 'categories.toml'), 'utf8');
  const category = (await page.locator('.question .muted').first().textContent()).split(' · ')[2];
  assert.ok(categories.includes(`name = "${category}"`), `the category is named in Chinese (${category})`);
  await shot(page, '9-questions', false);

  // A headcount set on its page turns into a participation rate on the live page.
  await page.getByRole('link', { name: '应参与人数' }).click();
  await page.getByLabel('长安区应参与人数').fill('4');
  await page.getByLabel('长安区应参与人数').blur();
  await page.locator('tr[data-unit="130102"] .state', { hasText: '已保存' }).waitFor();
  await shot(page, '10-headcounts', false);
  // A CSV upload: one bad row refuses the whole file, a good file updates its rows.
  await page.locator('#upload').setInputFiles({
    name: 'headcounts.csv', mimeType: 'text/csv', buffer: Buffer.from('\ufeff单位代码,应参与人数\r\n130104,12\r\n130105,-3\r\n'),
  });
  await page.locator('#upload-result .problems li', { hasText: '第 3 行' }).waitFor();
  await page.locator('#upload').setInputFiles({
    name: 'headcounts.csv', mimeType: 'text/csv', buffer: Buffer.from('\ufeff单位代码,应参与人数\r\n130104,12\r\n130105,30\r\n'),
  });
  await page.locator('#upload-result', { hasText: '已导入 2 个单位' }).waitFor();
  await page.getByRole('button', { name: '刷新列表' }).click();
  await page.waitForFunction(() => document.querySelector('input[aria-label="新华区应参与人数"]')?.value === '30');
  // Typed the way people type: "1,200" is saved as 1200; "120人" is refused, not read as empty.
  const mine = page.getByLabel('井陉矿区应参与人数');
  await mine.fill('1,200');
  await mine.blur();
  await page.locator('tr[data-unit="130107"] .state', { hasText: '已保存' }).waitFor();
  await mine.fill('120人');
  await mine.blur();
  await page.locator('tr[data-unit="130107"] .state', { hasText: '请填写整数' }).waitFor();
  await page.getByRole('link', { name: '应参与人数' }).click();
  await page.reload();
  await page.waitForFunction(() => document.querySelector('input[aria-label="井陉矿区应参与人数"]')?.value === '1200');
  await page.getByRole('link', { name: '实时进度' }).click();
  await page.waitForFunction(() => document.querySelector('tr[data-unit="130102"] .rate')?.textContent === '25.0%');

  // On a desk: the same pages, wider.
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(page, '11-desk-progress', false);
  await page.getByRole('link', { name: '统计报表' }).click();
  await page.locator('#period').waitFor();
  await shot(page, '12-desk-figures', false);
  await page.setViewportSize(phone.viewport);

  // Logging out ends the session: the pages ask for a login again.
  await page.getByRole('button', { name: '退出' }).click();
  await page.getByRole('heading', { name: '组织者登录' }).waitFor();
  await page.goto(`${base}/organizer/#/progress`);
  await page.getByRole('heading', { name: '组织者登录' }).waitFor();
  assert.deepEqual(problems, [], 'no script errors');
}

// A participant's page as the service left it for `token` (registered by the Rust test).
async function signedIn(token, pid, nameMasked) {
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  page.on('dialog', (dialog) => dialog.accept());
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  await page.goto(`${base}/c/safety-month/`);
  await page.evaluate(([t, p, n]) => localStorage.setItem('safequiz:safety-month',
    JSON.stringify({ token: t, pid: Number(p), unit: '110101', nameMasked: n })), [token, pid, nameMasked]);
  await page.goto(`${base}/c/safety-month/#/`);
  await page.reload();
  return { page, problems };
}

// The practice room, then a real attempt: practice is reviewed at once, listed in the day's
// history and counted nowhere; the real attempt's result follows. Prints the attempt id.
async function practice() {
  const [token, pid, nameMasked] = rest;
  const { page, problems } = await signedIn(token, pid, nameMasked);
  await page.locator('#practice-entry').click();
  await page.getByRole('heading', { name: '练功房' }).waitFor();
  assert.match(await page.locator('#practice-history').textContent(), /还没有练习记录/);
  await shot(page, '1-room');
  await page.locator('#practice-start').click();
  await page.locator('.option').first().waitFor();
  assert.match(await page.locator('.timer').textContent(), /练习/);
  await shot(page, '2-question');
  for (let i = 0; i < 5; i++) {
    await page.locator('.option').first().click();
    if (i < 4) await page.getByRole('button', { name: '下一题' }).click();
  }
  await page.locator('#practice-submit').click();
  await page.locator('#practice-score').waitFor();
  assert.equal(await page.locator('.review').count(), 5, 'the review follows the submit at once');
  assert.match(await page.locator('.review').first().textContent(), /解析：/);
  await shot(page, '3-review');
  await page.locator('#practice-back').click();
  await page.locator('#practice-history tbody tr').first().waitFor();
  assert.equal(await page.locator('#practice-history tbody tr').count(), 1, "today's history lists it");
  await shot(page, '4-history');

  // Practice did not use today's attempt: the real one starts.
  await page.getByRole('link', { name: '开始今日正式答题' }).click();
  await page.locator('.dot').first().waitFor();
  for (let i = 0; i < 5; i++) await answer(page, i, 0);
  await page.getByRole('button', { name: '交卷' }).click();
  await page.locator('#score').waitFor();
  await shot(page, '5-real-result');
  const result = await page.evaluate(() => location.hash);
  await page.getByRole('link', { name: '查看排名' }).click();
  await page.locator('#my-points').waitFor();
  assert.match(await page.locator('#my-points').textContent(), /答题 1 次/, 'only the real attempt counts');
  assert.deepEqual(problems, [], 'no script errors');
  console.log(`attempt ${result}`);
}

// After the draw: the winner's pages say so, and the public list shows them masked.
async function winner() {
  const [token, pid, nameMasked, attemptId] = rest;
  const { page, problems } = await signedIn(token, pid, nameMasked);
  await page.locator('#prize-notice .prize-won').waitFor();
  assert.match(await page.locator('#prize-notice').textContent(), /恭喜您获得个人优胜奖/);
  await shot(page, '1-landing');
  await page.goto(`${base}/c/safety-month/#/result/${attemptId}`);
  await page.locator('#score').waitFor();
  await page.locator('#prize-notice .prize-won').waitFor();
  await shot(page, '2-result');
  await page.getByRole('link', { name: '查看获奖名单' }).click();
  await page.getByRole('heading', { name: '获奖名单' }).waitFor();
  const list = await page.locator('main').textContent();
  assert.ok(list.includes(nameMasked), 'the winner is listed, masked');
  assert.match(list, /\d{3}\*\*\*\*\d{4}/, 'phones are masked');
  assert.match(list, /名单 SHA-256：[0-9a-f]{64}/);
  await shot(page, '3-winners');
  // Someone else, not registered, sees the public list from the landing page.
  const other = await (await browser.newContext(phone)).newPage();
  await other.goto(`${base}/c/safety-month/`);
  await other.getByRole('link', { name: '获奖名单' }).click();
  await other.getByRole('heading', { name: '获奖名单' }).waitFor();
  assert.deepEqual(problems, [], 'no script errors');
}

// ---------------------------------------------------------------- accessibility (issue 21)

// Text scaling as WeChat's and Android's font settings apply it: every font size multiplied.
// The pages size all text in rem/em from the root (app.css, checked below: no font size in px),
// so a root of 150% or 200% multiplies every font size exactly as WeChat's text zoom (the
// WebView's `setTextZoom`) does. `--force-device-scale-factor` is not used: it changes the device
// pixels per CSS pixel, so the 360 px layout and the text in it stay as they were.
const TEXT_SCALES = [100, 150, 200];

async function setTextScale(page, percent) {
  await page.evaluate(() => document.querySelectorAll('style[data-text-scale]').forEach((el) => el.remove()));
  if (percent === 100) return;
  const style = await page.addStyleTag({ content: `html{font-size:${percent}%}` });
  await style.evaluate((el) => el.setAttribute('data-text-scale', ''));
}

// What a phone user would hit on the page as it is laid out now: sideways overflow, touch
// targets under 44 px, text under `minText` px, body text under `minBody` px.
async function layoutProblems(page, minText, minBody) {
  return page.evaluate(([minText, minBody, width]) => {
    const problems = [];
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden' && !el.closest('.sr, [hidden]');
    };
    const name = (el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 16)}"`;
    if (document.documentElement.scrollWidth > width) problems.push(`scrolls sideways: ${document.documentElement.scrollWidth} px wide`);
    for (const el of document.body.querySelectorAll('*')) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.right > width + 1 || r.left < -1) problems.push(`overflows: ${name(el)} at ${Math.round(r.left)}..${Math.round(r.right)} px`);
    }
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea, [role="tab"], [tabindex="0"]')) {
      if (!visible(el)) continue;
      // A checkbox is tapped through the label around it.
      const target = /^(checkbox|radio)$/.test(el.type) && el.closest('label') ? el.closest('label') : el;
      const r = target.getBoundingClientRect();
      if (r.width < 43.5 || r.height < 43.5) problems.push(`touch target ${Math.round(r.width)}×${Math.round(r.height)} px: ${name(el)}`);
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const el = walker.currentNode.parentElement;
      if (!walker.currentNode.textContent.trim() || !el || !visible(el) || el.closest('noscript')) continue;
      const size = parseFloat(getComputedStyle(el).fontSize);
      if (size < minText - 0.01) problems.push(`text ${size} px < ${minText} px: ${name(el)}`);
    }
    const body = parseFloat(getComputedStyle(document.body).fontSize);
    if (body < minBody) problems.push(`body text ${body} px < ${minBody} px`);
    return problems;
  }, [minText, minBody, phone.viewport.width]);
}

// Headings in order: the page starts at one h1 and never skips a level going down.
async function headingProblems(page) {
  return page.evaluate(() => {
    const levels = [...document.querySelectorAll('main h1, main h2, main h3, main h4')].map((el) => Number(el.tagName[1]));
    const problems = [];
    if (levels.filter((l) => l === 1).length !== 1 || levels[0] !== 1) problems.push(`headings ${levels.join(' ')}: not one h1 first`);
    levels.forEach((l, i) => { if (i > 0 && l > levels[i - 1] + 1) problems.push(`headings ${levels.join(' ')}: h${levels[i - 1]} then h${l}`); });
    return problems;
  });
}

// axe-core (tests/browser/package.json pins it) on the page as it is: WCAG 2.0 A and AA rules.
async function axeViolations(page, axeSource) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
    resultTypes: ['violations'],
  }));
  return result.violations;
}

// The large-text switch on the page: on or off, as a participant taps it.
async function setLargeText(page, on) {
  const toggle = page.getByRole('button', { name: '大字模式' });
  if ((await toggle.getAttribute('aria-pressed')) !== String(on)) await toggle.click();
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('big')), on, 'large-text mode switched');
}

// The checks of one page in its current state, each problem pushed to `found`: at 100%, 150% and
// 200% text no sideways scrolling or overflow, 44 px targets and text at least 16 px times the
// scale (body text 18 px at 100%); headings in order; no serious or critical axe-core violation;
// then the same in large-text mode, where the page has the switch (`largeText`). Screenshots:
// tests/artifacts/browser/<scenario>-<state>-<100|150|200|large>.png.
async function checkPage(page, state, axeSource, found, { largeText = true } = {}) {
  for (const scale of TEXT_SCALES) {
    await setTextScale(page, scale);
    for (const problem of await layoutProblems(page, 16 * scale / 100, scale === 100 ? 18 : 0)) found.push(`${state} at ${scale}%: ${problem}`);
    await shot(page, `${state}-${scale}`);
  }
  await setTextScale(page, 100);
  for (const problem of await headingProblems(page)) found.push(`${state}: ${problem}`);
  const serious = (violations) => violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of serious(await axeViolations(page, axeSource))) {
    found.push(`${state}: axe ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  if (!largeText) return;
  await setLargeText(page, true);
  for (const problem of await layoutProblems(page, 24, 24)) found.push(`${state} in large-text mode: ${problem}`);
  for (const v of serious(await axeViolations(page, axeSource))) {
    found.push(`${state} in large-text mode: axe ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  await shot(page, `${state}-large`);
  await setLargeText(page, false);
}

// Every participant page and state: axe-core finds no serious or critical violation (normal and
// large text), and at 100%, 150% and 200% text on the 360 px phone nothing scrolls sideways or
// overflows, touch targets are 44 px and text is at least 16 px times the scale (24 px in
// large-text mode). Screenshots: tests/artifacts/browser/accessibility-<state>-<scale>.png.
// Lists every problem found before failing.
async function accessibility() {
  const axeSource = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const css = readFileSync(join(here, '..', '..', 'crates', 'safequiz-server', 'web', 'app.css'), 'utf8');
  assert.doesNotMatch(css, /font-size:\s*[\d.]+px/, 'app.css sizes text in rem/em only, so text scaling reaches all of it');
  assert.doesNotMatch(css, /text-size-adjust:\s*(100%|none)/, 'nothing in app.css stops text scaling');
  const found = [];
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  page.on('dialog', (dialog) => dialog.accept());
  page.on('pageerror', (error) => found.push(`script error: ${error.message}`));

  const check = (state) => checkPage(page, state, axeSource, found);

  // Landing, not registered; the large-text choice is remembered across a reload.
  await page.goto(`${base}/c/safety-month/`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.locator('main').count(), 1, 'a main landmark');
  assert.ok(await page.locator('nav').count() >= 1, 'a nav landmark');
  await setLargeText(page, true);
  await page.reload();
  await page.getByRole('heading', { level: 1 }).waitFor();
  assert.equal(await page.getByRole('button', { name: '大字模式' }).getAttribute('aria-pressed'), 'true', 'large text remembered');
  assert.ok(await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize)) >= 24, 'large body text');
  await setLargeText(page, false);
  // A keyboard user sees where the focus is.
  await page.keyboard.press('Tab');
  const ring = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return { tag: document.activeElement.tagName, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
  });
  assert.ok(ring.tag !== 'BODY' && ring.outline !== 'none' && ring.width >= 2, `a visible focus ring: ${JSON.stringify(ring)}`);
  await check('landing');

  // Registration with the notice, after a refused submit (the errors shown).
  await page.getByRole('link', { name: '地区参赛' }).click();
  await page.locator('#unit-0').selectOption('110000');
  await page.locator('#unit-1').selectOption('110101');
  await page.locator('#notice h2', { hasText: '个人信息处理告知' }).waitFor();
  await page.getByRole('button', { name: '报名并开始答题' }).click();
  await page.locator('#consent-error', { hasText: '勾选同意' }).waitFor();
  await check('register');
  await page.getByLabel('姓名').fill('孙七');
  await page.getByLabel('手机号').fill('13800007777');
  await page.getByLabel('我已阅读并同意上述个人信息处理告知').check();
  await page.getByRole('button', { name: '报名并开始答题' }).click();

  // The question page: the countdown is a timer that does not speak every second; the spoken
  // warnings go to an assertive region that stays across pages.
  await page.locator('.option').first().waitFor();
  assert.equal(await page.locator('[role="timer"]').getAttribute('aria-live'), 'off');
  assert.equal(await page.locator('#announce').getAttribute('aria-live'), 'assertive');
  assert.equal(await page.locator('#app').getAttribute('aria-live'), null, 'the page does not read out every change');
  await check('question');
  const count = await page.locator('.dot').count();
  for (let i = 0; i < count; i++) await answer(page, i, 0);
  await check('question-answered');
  await page.getByRole('button', { name: '交卷' }).click();
  await page.locator('#score').waitFor();

  // The review marks right and wrong in words and symbols, not colour alone.
  const verdicts = await page.locator('.review .verdict').allTextContents();
  assert.ok(verdicts.every((v) => /^✓ .*回答正确$|^✗ .*回答错误$/.test(v)), `verdicts in words: ${verdicts}`);
  assert.equal(await page.locator('.review .right .mark', { hasText: '✓ 正确答案' }).count(), await page.locator('.review .right').count());
  assert.equal(await page.locator('.review .wrong .mark', { hasText: '✗ 错选' }).count(), await page.locator('.review .wrong').count());
  await check('result');

  await page.getByRole('link', { name: '查看排名' }).click();
  await page.locator('#my-points').waitFor();
  await page.locator('#board tr[data-unit]').first().waitFor();
  await page.locator('#people tr').first().waitFor();
  await check('boards');

  await page.goto(`${base}/c/safety-month/#/`);
  await page.getByRole('link', { name: '开始今日答题' }).waitFor();
  await check('start');

  await page.locator('#practice-entry').click();
  await page.locator('#practice-start').waitFor();
  await check('practice');
  await page.locator('#practice-start').click();
  await page.locator('.option').first().waitFor();
  await check('practice-question');
  await page.locator('#practice-submit').click();
  await page.locator('#practice-score').waitFor();
  await check('practice-review');

  await page.goto(`${base}/c/safety-month/#/privacy`);
  await page.locator('#held').waitFor();
  await page.locator('#delete-submit').click();
  await page.locator('#delete-error', { hasText: '请勾选确认' }).waitFor();
  await check('my-info');

  await page.goto(`${base}/c/safety-month/#/winners`);
  await page.getByRole('heading', { name: '获奖名单' }).waitFor();
  await check('prizes');

  assert.deepEqual(found, [], `accessibility problems:\n${found.join('\n')}`);
}

// ---------------------------------------------------------------- the sector journey (issue 18)

const WATER = 'water-six-mechanisms';
// A 1×1 PNG: an authorization letter as a phone photographs it (the server checks the bytes).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

// Requests to the Rust test that runs this script (tests/it/browser.rs): one line
// `@test <request>` on standard output, answered with one line on standard input.
let testInput = null;
let testReplies = null;
async function askTest(request) {
  if (!testInput) {
    testInput = createInterface({ input: process.stdin, crlfDelay: Infinity });
    testReplies = testInput[Symbol.asyncIterator]();
  }
  console.log(`@test ${request}`);
  const { value, done } = await testReplies.next();
  if (done) throw new Error(`the test did not answer "${request}"`);
  return value;
}

// One `POST` to the participant API from another phone; fails unless it succeeds.
async function apiPost(path, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const json = await response.json();
  assert.ok(response.status < 300, `POST ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

// The display keys of the right options of `question` (as the attempt's JSON shows it), from
// `answerKey`: question id → the texts of its right options, as the banks hold them.
function rightKeys(question, answerKey) {
  const texts = answerKey[question.id];
  assert.ok(texts, `the answer key has ${question.id}`);
  const keys = question.options.filter((option) => texts.includes(option.text)).map((option) => option.key);
  assert.equal(keys.length, texts.length, `every right option of ${question.id} is shown`);
  return keys;
}

// Answers question `index` (0-based) with `keys` through the progress dots and the options.
async function answerWith(page, index, keys) {
  await page.locator('.dot').nth(index).click();
  await page.locator('.qno', { hasText: `第 ${index + 1} / ` }).waitFor();
  for (const key of keys) await page.locator(`.option[data-key="${key}"]`).click();
  await page.waitForFunction(() => document.querySelector('.status')?.textContent === '已保存');
}

// Types `text` into the organization search; once the page lists the answer, returns the
// names found.
async function searchOrganizations(page, text) {
  const answered = page.waitForResponse((r) => {
    const url = new URL(r.url());
    return url.pathname === `/api/v1/campaigns/${WATER}/organizations` && url.searchParams.get('q') === text;
  });
  await page.getByLabel('搜索单位').fill(text);
  const names = (await (await answered).json()).items.map((o) => o.name);
  await page.waitForFunction((expected) => {
    const shown = [...document.querySelectorAll('#org-results li')].map((li) => li.textContent);
    return expected.length
      ? shown.length === expected.length && expected.every((name, i) => shown[i].startsWith(`${name}（`))
      : shown.length === 1 && shown[0].includes('没有找到');
  }, names);
  return names;
}

// The operators of a PDF content stream with their numeric and name operands (strings skipped).
function contentOps(content) {
  const ops = [];
  let operands = [];
  let i = 0;
  const delimiter = /[\s()<>[\]{}/%]/;
  while (i < content.length) {
    const c = content[i];
    if (/\s/.test(c)) { i += 1; continue; }
    if (c === '%') { while (i < content.length && content[i] !== '\n') i += 1; continue; }
    if (c === '(') {
      for (let depth = 0; i < content.length; i += 1) {
        if (content[i] === '\\') { i += 1; continue; }
        if (content[i] === '(') depth += 1;
        else if (content[i] === ')' && --depth === 0) { i += 1; break; }
      }
      operands.push(null);
      continue;
    }
    if (c === '<' && content[i + 1] !== '<') { i = content.indexOf('>', i) + 1; operands.push(null); continue; }
    if ('[]{}<>'.includes(c)) { i += 1; continue; }
    let j = i + 1;
    while (j < content.length && !delimiter.test(content[j])) j += 1;
    const word = content.slice(i, j);
    i = j;
    if (c === '/') operands.push(word);
    else if (/^[-+.\d]/.test(word)) operands.push(Number(word));
    else { ops.push({ op: word, args: operands }); operands = []; }
  }
  return ops;
}

// The rectangles a PDF viewer fills on the certificate's page (`re` … `f`), each with the gray
// it is filled in, read from the page's compressed content streams (an embedded font's, which
// has a `/Length1`, is left alone).
function filledRects(pdf) {
  const text = pdf.toString('latin1');
  const rects = [];
  for (const match of text.matchAll(/<<([^<>]*)>>\s*stream\r?\n/g)) {
    const dict = match[1];
    if (!dict.includes('/FlateDecode') || dict.includes('/Length1')) continue;
    const length = Number(/\/Length (\d+)/.exec(dict)[1]);
    const start = match.index + match[0].length;
    const content = inflateSync(pdf.subarray(start, start + length)).toString('latin1');
    let path = [];
    let gray = 0;
    for (const { op, args } of contentOps(content)) {
      if (op === 'g') gray = args[0];
      else if (op === 're') path.push({ x: args[0], y: args[1], w: args[2], h: args[3] });
      else if (op === 'f' || op === 'F' || op === 'f*') { rects.push(...path.map((r) => ({ ...r, gray }))); path = []; }
      else if (['S', 's', 'n', 'B', 'B*', 'b', 'b*'].includes(op)) path = [];
    }
  }
  return rects;
}

// What a phone's camera reads from the certificate's QR code: its white square and the black
// rectangles on it, painted at 4 pixels a point and decoded by jsQR. Null if nothing is read.
function readQr(pdf) {
  const rects = filledRects(pdf);
  const square = rects.find((r) => r.gray === 1 && r.w > 50 && Math.abs(r.w - r.h) < 0.01);
  assert.ok(square, 'the certificate has a white square for its QR code');
  const scale = 4;
  const size = Math.round(square.w * scale);
  const pixels = new Uint8ClampedArray(size * size * 4).fill(255);
  const inside = (r) => r.x >= square.x && r.y >= square.y
    && r.x + r.w <= square.x + square.w + 0.01 && r.y + r.h <= square.y + square.h + 0.01;
  for (const r of rects.filter((r) => r.gray === 0 && inside(r))) {
    const left = Math.round((r.x - square.x) * scale);
    const right = Math.round((r.x + r.w - square.x) * scale);
    const top = Math.round((square.y + square.h - r.y - r.h) * scale);
    const bottom = Math.round((square.y + square.h - r.y) * scale);
    for (let y = top; y < bottom; y += 1) {
      for (let x = left; x < right; x += 1) pixels.fill(0, (y * size + x) * 4, (y * size + x) * 4 + 3);
    }
  }
  const code = jsQR(pixels, size, size);
  return code ? code.data : null;
}

// The facts a verification page lists, label → value.
async function verifiedFacts(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('main dt')]
    .map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
}

// The water ministry's 六项机制 quiz as a sector runs it: an organization registers itself on the
// participant page, a participant finds it by a keyword and registers under it after the notice,
// answers two attempts scored under the campaign's policy (4 points a question, the best of 3
// counted), the organization's administrator applies with a letter of authorization, the
// province's organizer approves, the administrator signs in and exports their people; after the
// close the participant downloads the study-hour certificate, whose QR code opens the public
// verification page; an edited serial is not found. The new pages are checked as the
// `accessibility` scenario checks the others.
async function sector() {
  const [provinceUser, provinceOneTime] = rest;
  const axeSource = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  const answerKey = JSON.parse(await askTest('answer-key'));
  const water = `${base}/c/${WATER}/`;
  const ORG = '长治市上党区水务服务中心';
  const CODE = '91110108551385082Q';
  const found = []; // accessibility problems, all reported at the end
  const problems = []; // script errors on the participant pages
  const watch = (page) => page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));

  // Another county's organization has a participant: the administrator's export leaves them out.
  const other = await apiPost(`/campaigns/${WATER}/organizations`,
    { name: '太原市小店区水利局', credit_code: '9144030071526726XG', region_id: '140105', staff: 40 });
  await apiPost(`/campaigns/${WATER}/participants`,
    { name: '李四光', phone: '13900004444', unit_id: other.unit_id, consent: true });

  // The landing page states the campaign's policy; people enter through their organization.
  const page = await (await browser.newContext({ ...phone, acceptDownloads: true })).newPage();
  page.on('dialog', (dialog) => dialog.accept());
  watch(page);
  await page.goto(water);
  await page.getByRole('heading', { level: 1 }).waitFor();
  assert.match(await page.locator('h1').textContent(), /六项机制/);
  const rules = await page.locator('.rules').textContent();
  assert.match(rules, /共可答题 3 次/);
  assert.match(rules, /每题 4 分，满分 100 分/);
  assert.match(rules, /以最好的一次成绩计分/);
  await shot(page, '1-landing');

  // The organization is not found yet; it registers itself (a wrong check character first).
  await page.getByRole('link', { name: '单位参赛' }).click();
  await page.getByRole('heading', { name: '单位参赛报名' }).waitFor();
  assert.deepEqual(await searchOrganizations(page, '上党区水务'), []);
  await page.locator('#org-results li', { hasText: '没有找到' }).waitFor();
  await shot(page, '2-not-found');
  await page.getByRole('link', { name: '搜索不到？先注册单位' }).click();
  await page.getByRole('heading', { name: '注册单位' }).waitFor();
  await page.getByLabel('单位全称').fill(ORG);
  await page.getByLabel('统一社会信用代码（18位）').fill(`${CODE.slice(0, 17)}0`);
  await page.getByLabel('在职职工人数').fill('8');
  await page.locator('#org-region-0').selectOption('140000');
  await page.locator('#org-region-1').selectOption('140400');
  await page.locator('#org-region-2').selectOption('140404');
  await page.getByRole('button', { name: '注册单位' }).click();
  await page.locator('#org-new-error', { hasText: '校验位错误' }).waitFor();
  await checkPage(page, 'org-new', axeSource, found);
  await page.getByLabel('统一社会信用代码（18位）').fill(CODE);
  await page.getByRole('button', { name: '注册单位' }).click();
  await page.getByRole('heading', { name: '单位注册成功' }).waitFor();
  assert.match(await page.locator('main').textContent(), new RegExp(`${ORG}（山西省 / 长治市 / 上党区）已注册`));
  await shot(page, '3-org-registered');

  // A participant finds it by a keyword of its name and registers under it, after the notice.
  await page.getByRole('link', { name: '返回报名，搜索并选择本单位' }).click();
  assert.deepEqual(await searchOrganizations(page, '水务'), [ORG], 'the keyword finds this organization only');
  const hit = page.locator('#org-results button', { hasText: ORG });
  const applyLink = page.getByRole('link', { name: '申请成为本单位管理员' });
  assert.equal(await applyLink.isVisible(), false, 'no application before an organization is chosen');
  await page.locator('#notice h2', { hasText: '个人信息处理告知' }).waitFor();
  await checkPage(page, 'org-search', axeSource, found);
  await hit.click();
  await page.locator('#org-picked', { hasText: `已选择：${ORG}` }).waitFor();
  await applyLink.waitFor();
  // A 五进 participant picks a kind and is no principal person; back to the staff.
  const principal = page.getByLabel('我是单位主要负责人');
  await page.getByLabel(/“五进”人员/).check();
  await page.locator('#public-kind').waitFor();
  assert.equal(await principal.isVisible(), false, 'a 五进 participant is no principal person');
  await page.getByLabel('本单位干部职工').check();
  await principal.waitFor();
  assert.equal(await page.locator('#public-kind').isVisible(), false);
  await page.getByLabel('姓名（实名）').fill('张三丰');
  await page.getByLabel('手机号').fill('13800005555');
  await page.getByRole('button', { name: '报名并开始答题' }).click();
  await page.locator('#register-error', { hasText: '勾选同意' }).waitFor();
  await page.getByLabel('我已阅读并同意上述个人信息处理告知').check();
  await shot(page, '4-register');
  const registration = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/campaigns/${WATER}/participants`));
  let started = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/campaigns/${WATER}/attempts`));
  await page.getByRole('button', { name: '报名并开始答题' }).click();
  assert.equal((await registration).status(), 201, 'a new participant');
  const participantId = (await (await registration).json()).participant_id;
  let attempt = await (await started).json();
  await page.locator('.option').first().waitFor();

  // The first attempt: 25 questions, all right but two (single-choice or true/false ones).
  assert.equal(attempt.questions.length, 25);
  assert.equal(await page.locator('.dot').count(), 25);
  const wrong = attempt.questions.map((q, i) => [q, i]).filter(([q]) => q.kind !== 'multiple').slice(-2).map(([, i]) => i);
  assert.equal(wrong.length, 2, 'the draw has two single-answer questions');
  for (const [i, question] of attempt.questions.entries()) {
    const right = rightKeys(question, answerKey);
    const keys = wrong.includes(i) ? [question.options.find((o) => !right.includes(o.key)).key] : right;
    await answerWith(page, i, keys);
  }
  assert.equal(await page.locator('.dots .answered').count(), 25, 'every dot shows an answer');
  await shot(page, '5-attempt');
  await page.getByRole('button', { name: '交卷' }).click();
  await page.locator('#score').waitFor();
  assert.equal(await page.locator('#score').textContent(), '92 / 100 分', '23 right at 4 points each');
  assert.equal(await page.locator('.review').count(), 25, 'the review lists every question');
  // Before the close the certificate is announced, not offered.
  await page.locator('#certificate-notice', { hasText: '竞赛结束后，计分成绩达到 85 分者可下载 4 学时的学时证明' }).waitFor();
  await shot(page, '6-result');

  // A second, weaker attempt (one right answer, the rest left blank): the best one still counts.
  await page.getByRole('link', { name: '返回首页' }).click();
  started = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/campaigns/${WATER}/attempts`));
  await page.getByRole('link', { name: '开始今日答题' }).click();
  attempt = await (await started).json();
  await answerWith(page, 0, rightKeys(attempt.questions[0], answerKey));
  await page.getByRole('button', { name: '交卷' }).click();
  await page.locator('#score').waitFor();
  assert.equal(await page.locator('#score').textContent(), '4 / 100 分');
  await page.getByRole('link', { name: '查看排名' }).click();
  await page.locator('#my-points').waitFor();
  assert.match(await page.locator('#my-points').textContent(), /^计分成绩 92 分，答题 2 次/, 'the best attempt counts, not the sum or the last');
  // The board of organizations: one of the 8 staff took part (12.5%), none of the other
  // county's 40 yet (its one participant has not answered); by average, the counted 92.
  const orgRow = page.locator('#org-board tr', { hasText: ORG });
  await orgRow.locator('td', { hasText: '12.5%' }).waitFor();
  assert.match(await orgRow.textContent(), /^1/, 'first by participation rate');
  assert.match(await orgRow.textContent(), /1 \/ 8/);
  assert.match(await page.locator('#org-board tr', { hasText: '太原市小店区水利局' }).textContent(), /0\.0%/);
  await page.getByRole('tab', { name: '按平均分' }).click();
  await page.locator('#org-board tr', { hasText: ORG }).locator('td', { hasText: /^92$/ }).waitFor();
  await shot(page, '7-my-score');

  // The organization's administrator applies on their own phone, finding it by pinyin initials.
  const applicant = await (await browser.newContext(phone)).newPage();
  watch(applicant);
  await applicant.goto(`${water}#/register/organization`);
  assert.deepEqual(await searchOrganizations(applicant, 'czssdq'), [ORG], 'the initials find this organization only');
  await applicant.locator('#org-results button', { hasText: ORG }).click();
  await applicant.getByRole('link', { name: '申请成为本单位管理员' }).click();
  await applicant.getByRole('heading', { name: '申请成为单位管理员' }).waitFor();
  await applicant.getByLabel('姓名').fill('王管理');
  await applicant.getByLabel('手机号').fill('13900001111');
  await applicant.getByRole('button', { name: '提交申请' }).click();
  await applicant.locator('#admin-error', { hasText: '请选择授权文件' }).waitFor();
  await checkPage(applicant, 'org-apply', axeSource, found);
  await applicant.getByLabel('授权文件').setInputFiles({ name: '授权书.png', mimeType: 'image/png', buffer: PNG });
  await applicant.getByRole('button', { name: '提交申请' }).click();
  await applicant.locator('#admin-filed').waitFor();
  const applicationId = /申请编号 (\d+)/.exec(await applicant.locator('#admin-filed').textContent())[1];
  await shot(applicant, '8-applied');

  // The organizer of the province above approves it; the account's one-time password shows once.
  const province = await organizerPhone(provinceUser, provinceOneTime, 'shanxi2026anquan');
  await province.getByRole('link', { name: '管理员审核' }).click();
  const card = province.locator(`[data-application="${applicationId}"]`);
  await card.waitFor();
  const filed = await card.textContent();
  assert.ok(filed.includes(ORG) && filed.includes('王管理') && filed.includes('13900001111'), filed);
  await shot(province, '9-application-queue', false);
  await card.getByRole('button', { name: '通过' }).click();
  const approval = card.locator('.result', { hasText: '已创建管理员账号' });
  await approval.waitFor();
  const [, adminUser, adminOneTime] = /管理员账号 (\S+)，初始密码 ([^（\s]+)/.exec(await approval.textContent());
  await shot(province, '10-approved', false);
  await province.context().close();

  // The administrator signs in to their organization's back office and exports its people, and
  // nobody else's.
  const admin = await organizerPhone(adminUser, adminOneTime, 'shuiwu2026anquan');
  // Their pages are headed with the organization's name, which the record holds.
  await admin.getByRole('heading', { level: 1, name: ORG }).waitFor();
  assert.match(await admin.locator('#account .who').textContent(), new RegExp(`${adminUser} · ${ORG}`));
  await shot(admin, '11-administrator', false);
  await admin.getByRole('link', { name: '统计报表' }).click();
  await admin.locator('#period').waitFor();
  let exported = { name: '', text: '' };
  const rowOf = (name) => exported.text.split(/\r?\n/).find((line) => line.includes(name))?.split(',');
  // 参与者编号,姓名,手机号,单位,单位代码,参与次数,总分,…: once the record has both attempts.
  await retryUntil(
    'both attempts in the export',
    async () => {
      const file = await downloadOf(admin, 'a[data-export="participants.csv"]');
      exported = { name: file.name, text: file.bytes.toString('utf8') };
    },
    async () => rowOf('张三丰')?.[5] === '2',
  );
  assert.match(exported.name, new RegExp(`^参与人员-${ORG}-.*\\.csv$`));
  assert.match(exported.text, /参与者编号,姓名,手机号,单位,单位代码,参与次数,总分/);
  const row = rowOf('张三丰');
  assert.equal(row[3], ORG);
  assert.equal(row[2], '138****5555', 'the phone masked');
  // 总分 is the counted score, the best attempt's (docs/design.md §3.4), not the sum of both.
  assert.equal(row[6], '92');
  assert.ok(!exported.text.includes('李四光'), "another organization's people are not exported");
  await shot(admin, '12-export', false);
  await admin.context().close();

  // After the close, within the download window but past the validity of the token the phone
  // keeps (30 days from registering): the page asks to register again, and the same name and
  // phone are the same participant. The campaign is over, so no attempt starts.
  assert.equal(await askTest('certificate-window'), 'ok');
  await page.goto(`${water}#/`);
  await page.reload();
  await page.locator('#certificate-notice', { hasText: '登录已过期' }).waitFor();
  await shot(page, '13-token-expired');
  await page.locator('#certificate-notice').getByRole('button', { name: '重新报名' }).click();
  await page.getByRole('link', { name: '单位参赛' }).click();
  assert.deepEqual(await searchOrganizations(page, '水务'), [ORG]);
  await page.locator('#org-results button', { hasText: ORG }).click();
  await page.getByLabel('姓名（实名）').fill('张三丰');
  await page.getByLabel('手机号').fill('13800005555');
  await page.getByLabel('我已阅读并同意上述个人信息处理告知').check();
  const again = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/campaigns/${WATER}/participants`));
  await page.getByRole('button', { name: '报名并开始答题' }).click();
  assert.equal((await again).status(), 200, 'registered before');
  assert.equal((await (await again).json()).participant_id, participantId, 'the same participant');
  await page.locator('.notice', { hasText: '竞赛已于' }).waitFor();
  await page.getByRole('link', { name: '返回首页' }).click();

  // The certificate, and its QR code.
  await page.locator('#certificate-download').waitFor();
  const serial = /证书编号：([\w.-]+)/.exec(await page.locator('#certificate-notice p', { hasText: '证书编号' }).textContent())[1];
  await shot(page, '14-certificate-offered');
  const pdf = await downloadOf(page, '#certificate-download');
  await page.locator('#certificate-notice', { hasText: '学时证明已下载' }).waitFor();
  assert.equal(pdf.bytes.subarray(0, 5).toString('latin1'), '%PDF-', 'a PDF');
  assert.ok(pdf.bytes.length < 200_000, `${pdf.bytes.length} bytes`);
  const url = readQr(pdf.bytes);
  assert.equal(url, `${base}/verify/${serial}`, 'the QR code opens the verification page of its serial');

  // Someone scans it: the verification page shows the certificate's facts, the name masked.
  const scanner = await (await browser.newContext(phone)).newPage();
  await scanner.goto(url);
  await scanner.locator('.valid', { hasText: '该学时证明真实有效' }).waitFor();
  const facts = await verifiedFacts(scanner);
  assert.equal(facts['姓名'], '张*丰');
  assert.equal(facts['单位'], ORG);
  assert.equal(facts['成绩'], '92 分');
  assert.equal(facts['学时'], '4 学时');
  assert.equal(facts['证书编号'], serial);
  assert.match(facts['竞赛活动'], /六项机制/);
  assert.ok(!(await scanner.locator('body').textContent()).includes('张三丰'), 'no full name on a public page');
  await checkPage(scanner, 'verify', axeSource, found, { largeText: false });

  // An edited serial is not found.
  const forged = serial.slice(0, -1) + (serial.endsWith('0') ? '1' : '0');
  await scanner.goto(`${base}/verify/${forged}`);
  await scanner.locator('.invalid', { hasText: '未找到该证书' }).waitFor();
  assert.equal(await scanner.locator('.valid').count(), 0);
  assert.equal(await scanner.locator('dl').count(), 0, 'no facts for a forged serial');
  await checkPage(scanner, 'verify-not-found', axeSource, found, { largeText: false });

  assert.deepEqual(problems, [], 'no script errors');
  assert.deepEqual(found, [], `accessibility problems:\n${found.join('\n')}`);
}

const scenarios = { journey, reload, timeout, organizer, practice, winner, accessibility, sector };
try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  await scenarios[scenario]();
  console.log(`browser scenario ${scenario}: passed`);
} catch (error) {
  console.error(`browser scenario ${scenario} failed: ${error.stack || error}`);
  process.exitCode = 1;
} finally {
  testInput?.close();
  await browser.close();
}
