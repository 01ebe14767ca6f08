// safequiz participant pages: landing, registration, the timed attempt, the result, rankings,
// a big-screen board, the practice room (练功房) and the prize winners. Plain ES2017 without a build step, so it runs in WeChat's built-in browser
// on old Android phones; no external requests. The server's clock decides every deadline: the
// countdown is `deadline - (local now + offset)`, the offset re-measured on every response.
(function () {
  'use strict';

  var app = document.getElementById('app');
  var S = {
    cid: null,
    campaign: null,
    offset: 0, // server time minus local time, ms
    timer: null,
    streams: [],
  };

  // ---------------------------------------------------------------- helpers

  var h = SQ.h;
  var duration = SQ.duration;
  var kindName = SQ.kindName;

  // A new page: screen readers start reading at its top (focus moves to `main`), rather than
  // `main` being a live region that would read out every change, the countdown included.
  function show(nodes) {
    stopTimer();
    closeStreams();
    document.body.classList.remove('screen');
    app.textContent = '';
    nodes.forEach(function (n) { if (n) app.appendChild(n); });
    window.scrollTo(0, 0);
    app.focus();
  }

  // Spoken at once by screen readers (`#announce`, aria-live assertive, outside `main` so it
  // survives a page change): the 30-second warning and the automatic submission.
  var announce = document.getElementById('announce');
  function say(text) {
    announce.textContent = '';
    setTimeout(function () { announce.textContent = text; }, 50);
  }

  // 大字模式 (large-text mode): remembered on this phone; the root font size grows by half, and
  // app.css sizes everything in rem/em, so all of the page grows with it.
  var bigToggle = document.getElementById('big-toggle');
  function setBig(on) {
    var root = document.documentElement.classList;
    if (on) root.add('big'); else root.remove('big');
    bigToggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    try {
      if (on) localStorage.setItem('safequiz.big', '1'); else localStorage.removeItem('safequiz.big');
    } catch (e) { /* storage refused: the mode lasts for this page */ }
  }
  try { setBig(localStorage.getItem('safequiz.big') === '1'); } catch (e) { setBig(false); }
  bigToggle.addEventListener('click', function () { setBig(!document.documentElement.classList.contains('big')); });

  // A table that a phone shows as one block per row (app.css `table.stack`): each cell is given
  // its column's name to show before it, except the unit or person it is about.
  function stacked(table) {
    var heads = [].map.call(table.querySelectorAll('thead th'), function (th) { return th.textContent; });
    [].forEach.call(table.querySelectorAll('tbody tr'), function (tr) {
      [].forEach.call(tr.children, function (td, i) {
        if (heads[i] && !/^(单位|姓名)$/.test(heads[i])) td.setAttribute('data-label', heads[i]);
      });
    });
    table.classList.add('stack');
    return table;
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function storageKey() { return 'safequiz:' + S.cid; }
  function me() {
    try { return JSON.parse(localStorage.getItem(storageKey()) || 'null'); } catch (e) { return null; }
  }
  function saveMe(value) {
    if (value) localStorage.setItem(storageKey(), JSON.stringify(value));
    else localStorage.removeItem(storageKey());
  }

  function now() { return Date.now() + S.offset; }

  function syncClock(serverTime, sentAt) {
    var server = Date.parse(serverTime);
    if (!isNaN(server)) S.offset = server - (sentAt + Date.now()) / 2;
  }

  // Fair play (docs/fair-play.md, disclosed in the notice), for a campaign that turns it on: a
  // random device token kept in localStorage, and the page-load token the campaign list
  // answered with, sent on every call.
  function deviceToken() {
    var key = 'safequiz:device', token = null;
    try { token = localStorage.getItem(key); } catch (e) { token = null; }
    if (!token || !/^[A-Za-z0-9_-]{16,64}$/.test(token)) {
      var bytes = new Uint8Array(16);
      (window.crypto || window.msCrypto).getRandomValues(bytes);
      token = Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
      try { localStorage.setItem(key, token); } catch (e) { /* private mode: a token per page */ }
    }
    return token;
  }

  // fetch with the participant's token; resolves {status, body}; rejects only on network failure.
  function api(method, path, body) {
    var headers = { 'Accept': 'application/json' };
    var who = me();
    if (who && who.token) headers['Authorization'] = 'Bearer ' + who.token;
    if (S.campaign && S.campaign.fair_play) {
      headers['X-Device'] = S.device || (S.device = deviceToken());
      if (S.page) headers['X-Page'] = S.page;
    }
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    var sentAt = Date.now();
    return fetch('/api/v1' + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    }).then(function (response) {
      var page = response.headers.get('X-Page-Token');
      if (page) S.page = page;
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (data && data.server_time) syncClock(data.server_time, sentAt);
        return { status: response.status, body: data };
      });
    });
  }

  function localTime(iso) {
    return SQ.localTime(iso, S.campaign && S.campaign.time_zone);
  }

  function clock(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var m = Math.floor(s / 60);
    s = s % 60;
    return (m < 10 ? '0' : '') + m + ':' + (s < 10 ? '0' : '') + s;
  }

  function failure(message, actions) {
    show([h('h1', { class: 'sr', text: '提示' }), h('div', { class: 'card' }, [h('p', { class: 'notice', role: 'alert', text: message })].concat(actions || []))]);
  }

  function homeButton() {
    return h('a', { class: 'btn secondary', href: '#/', text: '返回首页' });
  }

  function stopTimer() {
    if (S.timer) { clearInterval(S.timer); S.timer = null; }
  }

  function closeStreams() {
    S.streams.forEach(function (s) { s.close(); });
    S.streams = [];
  }

  // ---------------------------------------------------------------- landing

  function landing() {
    var c = S.campaign;
    var who = me();
    var p = c.points || { single: c.points_per_question, multiple: c.points_per_question, judge: c.points_per_question };
    var perQuestion = (p.single === p.multiple && p.multiple === p.judge)
      ? '每题 ' + p.single + ' 分'
      : '单选题每题 ' + p.single + ' 分、多选题每题 ' + p.multiple + ' 分、判断题每题 ' + p.judge + ' 分';
    var counted = { best: '以最好的一次成绩计分（得分高者优先，得分相同用时少者优先）。',
      last: '以最后一次答题的成绩计分。', sum: '每次答题的得分累计计入总成绩。' }[c.counted || 'sum'];
    var byUnit = c.entries.some(function (e) { return e.kind === 'organizations'; })
      ? '成绩计入您所在的单位；“五进”参与者的成绩单独计入所联系的单位。'
      : '成绩计入您所在的地区（省、市、县）或中央企业。';
    var rules = h('ul', { class: 'rules' }, [
      h('li', { text: (c.attempts_total ? '本次竞赛每人共可答题 ' + c.attempts_total + ' 次，每天至多 ' : '每人每天可答题 ')
        + c.attempts_per_day + ' 次。' }),
      h('li', { text: '每次随机抽取 ' + c.questions_per_attempt + ' 道题，' + perQuestion + '，满分 ' + c.max_score + ' 分。' }),
      h('li', { text: counted }),
      h('li', { text: '每次答题限时 ' + c.time_limit_secs + ' 秒，时间到系统自动交卷；交卷前可返回修改答案。' }),
      h('li', { text: byUnit }),
    ]);
    var actions;
    if (who && who.token) {
      actions = [
        h('p', { text: '欢迎回来，' + (who.nameMasked || '') + '。' }),
        h('a', { class: 'btn', href: '#/attempt', text: '开始今日答题' }),
        h('a', { class: 'btn secondary', href: '#/rank', text: '我的成绩与排名' }),
        h('a', { class: 'btn secondary', href: '#/practice', id: 'practice-entry', text: '练功房（练习不计成绩）' }),
        prizeNotice(),
        certificateNotice(),
        h('a', { class: 'btn ghost', href: '#/privacy', id: 'privacy-entry', text: '我的信息与注销' }),
        h('button', { class: 'btn ghost', type: 'button', text: '不是本人？重新报名', onclick: function () { saveMe(null); landing(); } }),
      ];
    } else {
      actions = c.entries.map(function (entry, i) {
        return h('a', { class: i === 0 ? 'btn' : 'btn secondary', href: '#/register/' + entry.id, text: entry.name + '参赛' });
      });
      actions.push(h('a', { class: 'btn ghost', href: '#/rank', text: '查看实时排名' }));
      actions.push(h('a', { class: 'btn ghost', href: '#/winners', text: '获奖名单' }));
    }
    show([
      h('h1', { text: c.title }),
      h('div', { class: 'card' }, [
        h('h2', { text: '竞赛规则' }),
        rules,
        h('p', { class: 'muted', text: '竞赛时间：' + localTime(c.opens_at) + ' 至 ' + localTime(c.closes_at) + '（北京时间）' }),
      ]),
      h('div', { class: 'card' }, actions),
    ]);
  }

  // ---------------------------------------------------------------- registration

  // The personal-information notice (issue 20), as shown above a registration form.
  function noticeNodes(notice) {
    var list = function (items) { return h('ul', {}, items.map(function (t) { return h('li', { text: t }); })); };
    return [h('h2', { text: '个人信息处理告知' }),
      h('p', { text: '处理者：' + notice.processor }),
      h('p', { text: '联系方式：' + notice.contact }),
      h('p', { text: '处理目的：' }), list(notice.purposes),
      h('p', { text: '收集的信息：' }), list(notice.data_kinds),
      h('p', { text: '保存期限：至 ' + notice.retain_until + '，期满后删除姓名与手机号。' }),
      h('p', { text: '您的权利：' + notice.rights }),
      h('p', { class: 'muted', text: '告知版本：' + notice.version }),
    ];
  }

  // A name masked as the boards mask it: 张*丰, 李*.
  function maskedName(name) {
    return name.length <= 1 ? name : name.charAt(0) + (name.length === 2 ? '*' : new Array(name.length - 1).join('*') + name.charAt(name.length - 1));
  }

  function register(entryId) {
    var entry = S.campaign.entries.filter(function (e) { return e.id === entryId; })[0];
    if (!entry) return go('#/');
    if (entry.kind === 'organizations') return orgRegister(entry);
    var levels = entryId === 'region'
      ? ['省（自治区、直辖市）', '市（地、州、盟）', '县（市、区）', '下级单位']
      : ['单位', '下级单位', '下级单位', '下级单位'];
    var chosen = null;
    var selects = h('div', {});
    var unitError = h('p', { class: 'error', id: 'unit-error', role: 'alert' });

    function addLevel(depth, units) {
      var id = 'unit-' + depth;
      var select = h('select', { id: id, 'aria-describedby': 'unit-error' },
        [h('option', { value: '', text: '请选择' })].concat(units.map(function (u) {
          return h('option', { value: u.id, 'data-children': u.has_children ? '1' : '', text: u.name });
        })));
      var wrap = h('div', { 'data-depth': depth }, [h('label', { for: id, text: levels[Math.min(depth, levels.length - 1)] }), select]);
      select.addEventListener('change', function () {
        while (selects.lastChild && selects.lastChild !== wrap) selects.removeChild(selects.lastChild);
        chosen = null;
        unitError.textContent = '';
        var option = select.options[select.selectedIndex];
        if (!option || !option.value) return;
        if (option.getAttribute('data-children')) {
          api('GET', '/campaigns/' + S.cid + '/units?parent=' + encodeURIComponent(option.value)).then(function (r) {
            if (r.status === 200) addLevel(depth + 1, r.body.items);
          });
        } else {
          chosen = option.value;
        }
      });
      selects.appendChild(wrap);
    }

    var name = h('input', { id: 'name', name: 'name', autocomplete: 'name', maxlength: '30', 'aria-describedby': 'name-error' });
    var nameError = h('p', { class: 'error', id: 'name-error', role: 'alert' });
    var phone = h('input', { id: 'phone', name: 'phone', type: 'tel', inputmode: 'numeric', autocomplete: 'tel', maxlength: '16', 'aria-describedby': 'phone-error' });
    var phoneError = h('p', { class: 'error', id: 'phone-error', role: 'alert' });
    var submit = h('button', { class: 'btn', type: 'submit', text: '报名并开始答题' });
    // The personal-information notice (issue 20): shown before the form, consent unticked.
    var notice = null;
    var noticeBox = h('div', { class: 'card notice', id: 'notice' });
    var consent = h('input', { id: 'consent', type: 'checkbox' });
    var consentError = h('p', { class: 'error', id: 'consent-error', role: 'alert' });
    var under14 = h('input', { id: 'under-14', type: 'checkbox' });
    var guardianName = h('input', { id: 'guardian-name', maxlength: '30' });
    var guardianConsent = h('input', { id: 'guardian-consent', type: 'checkbox' });
    var guardianBox = h('div', { id: 'guardian', hidden: true }, [
      h('label', { for: 'guardian-name', text: '监护人全名' }), guardianName,
      h('label', { class: 'check' }, [guardianConsent, h('span', { text: '我是该参赛者的监护人，已阅读上述告知，同意其报名参赛' })]),
    ]);
    var under14Box = h('div', { id: 'under-14-box', hidden: true }, [
      h('label', { class: 'check' }, [under14, h('span', { text: '我未满14周岁' })]),
      guardianBox,
    ]);
    under14.addEventListener('change', function () { guardianBox.hidden = !under14.checked; });
    var consentBox = h('div', { id: 'consent-box', hidden: true }, [
      h('label', { class: 'check' }, [consent, h('span', { text: '我已阅读并同意上述个人信息处理告知' })]),
      under14Box,
      consentError,
    ]);
    api('GET', '/campaigns/' + S.cid + '/notice').then(function (r) {
      notice = r.status === 200 ? r.body.notice : null;
      if (!notice) { noticeBox.hidden = true; return; }
      noticeNodes(notice).forEach(function (n) { noticeBox.appendChild(n); });
      consentBox.hidden = false;
      under14Box.hidden = notice.under_14 === 'refuse';
    });
    var form = h('form', { class: 'card', novalidate: true }, [
      selects, unitError,
      h('label', { for: 'name', text: '姓名' }), name, nameError,
      h('label', { for: 'phone', text: '手机号' }), phone, phoneError,
      h('p', { class: 'muted', text: '手机号仅用于识别本人，加密保存，不会公开显示。' }),
      consentBox,
      submit,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var ok = true;
      nameError.textContent = phoneError.textContent = unitError.textContent = consentError.textContent = '';
      if (notice && !consent.checked) { consentError.textContent = '请阅读个人信息处理告知并勾选同意'; ok = false; }
      if (notice && under14.checked && (!guardianName.value.trim() || !guardianConsent.checked)) {
        consentError.textContent = '未满14周岁须由监护人填写姓名并勾选同意'; ok = false;
      }
      if (!chosen) { unitError.textContent = '请选择到最后一级单位'; ok = false; }
      var nameValue = name.value.trim();
      if (!nameValue || nameValue.length > 30 || /[0-9<>]/.test(nameValue)) { nameError.textContent = '请填写真实姓名（1 至 30 个字）'; ok = false; }
      var digits = phone.value.replace(/[\s-]/g, '').replace(/^(\+86|0086)/, '');
      if (!/^1[3-9]\d{9}$/.test(digits)) { phoneError.textContent = '请填写 11 位手机号码'; ok = false; }
      if (!ok) return;
      submit.disabled = true;
      var body = { name: nameValue, phone: digits, unit_id: chosen };
      if (notice) {
        body.consent = consent.checked;
        body.notice_version = notice.version;
        if (under14.checked) {
          body.under_14 = true;
          body.guardian_name = guardianName.value.trim();
          body.guardian_consent = guardianConsent.checked;
        }
      }
      api('POST', '/campaigns/' + S.cid + '/participants', body).then(function (r) {
        submit.disabled = false;
        if (r.status === 200 || r.status === 201) {
          saveMe({ token: r.body.token, pid: r.body.participant_id, unit: r.body.unit_id, nameMasked: maskedName(nameValue) });
          go('#/attempt');
          return;
        }
        var code = r.body && r.body.error;
        var message = (r.body && r.body.message) || '报名失败，请稍后重试';
        if (code === 'invalid_name') nameError.textContent = message;
        else if (code === 'invalid_phone' || code === 'phone_taken') phoneError.textContent = message;
        else if (/consent|under_14/.test(code || '')) consentError.textContent = message;
        else unitError.textContent = message;
      }, function () {
        submit.disabled = false;
        unitError.textContent = '网络连接失败，请检查网络后重试';
      });
    });
    show([h('h1', { text: entry.name + '参赛报名' }), noticeBox, form]);
    api('GET', '/campaigns/' + S.cid + '/units?entry=' + encodeURIComponent(entryId)).then(function (r) {
      if (r.status === 200) addLevel(0, r.body.items);
    });
  }

  // ---------------------------------------------------------------- the attempt

  function attemptPage() {
    if (!(me() && me().token)) return go('#/');
    show([h('p', { class: 'loading', text: '正在准备试题…' })]);
    api('POST', '/campaigns/' + S.cid + '/attempts').then(function (r) {
      if (r.status === 200 || r.status === 201) return runAttempt(r.body);
      var code = r.body && r.body.error;
      if (code === 'unauthorized') { saveMe(null); return failure('登录已失效，请重新报名。', [homeButton()]); }
      if (code === 'daily_limit_reached') {
        return failure('今日答题次数已用完，请于 ' + localTime(r.body.next_attempt_at) + ' 后再来。',
          [h('a', { class: 'btn', href: '#/rank', text: '查看成绩与排名' }), homeButton()]);
      }
      failure((r.body && r.body.message) || '暂时无法开始答题，请稍后重试。', [homeButton()]);
    }, function () {
      failure('网络连接失败，请检查网络后重试。', [h('button', { class: 'btn', type: 'button', text: '重试', onclick: attemptPage }), homeButton()]);
    });
  }

  function runAttempt(attempt) {
    var id = attempt.attempt_id;
    var questions = attempt.questions;
    var deadline = Date.parse(attempt.deadline);
    var answers = {};
    Object.keys(attempt.answers || {}).forEach(function (k) { answers[k] = attempt.answers[k].slice(); });
    var unsaved = {}; // index -> true while a save is not confirmed
    var current = 0;
    var finished = false;
    var warned = false;
    var advance = null; // the pending move to the next question after a single answer

    // The countdown is a timer that screen readers do not read out every second (aria-live
    // off); the 30-second warning and the automatic submission are spoken through `say`.
    var clockEl = h('span', { class: 'clock', role: 'timer', 'aria-live': 'off', 'aria-atomic': 'true', 'aria-label': '剩余时间' });
    var status = h('span', { class: 'status', 'aria-live': 'polite' });
    var timerBar = h('div', { class: 'timer' }, [clockEl, status]);
    var dots = h('div', { class: 'dots', role: 'tablist', 'aria-label': '题目导航' });
    var card = h('div', { class: 'card' });
    var prev = h('button', { class: 'btn secondary', type: 'button', text: '上一题', onclick: function () { move(current - 1); } });
    var next = h('button', { class: 'btn secondary', type: 'button', text: '下一题', onclick: function () { move(current + 1); } });
    var submitButton = h('button', { class: 'btn', type: 'button', text: '交卷', onclick: function () { confirmSubmit(); } });
    var footer = h('div', { class: 'footer' }, [h('div', { class: 'row' }, [prev, next, submitButton])]);

    function remaining() { return deadline - now(); }

    function renderStatus() {
      var pending = Object.keys(unsaved).length;
      status.textContent = pending ? '保存中…' : '已保存';
    }

    function renderDots() {
      dots.textContent = '';
      questions.forEach(function (q, i) {
        var answered = answers[i] && answers[i].length > 0;
        dots.appendChild(h('button', {
          type: 'button', role: 'tab', 'aria-selected': i === current ? 'true' : 'false',
          class: 'dot' + (answered ? ' answered' : '') + (i === current ? ' current' : ''),
          'aria-label': '第 ' + (i + 1) + ' 题' + (answered ? '，已作答' : '，未作答'),
          text: String(i + 1), onclick: function () { move(i); },
        }));
      });
    }

    function renderQuestion() {
      var q = questions[current];
      var chosen = answers[current] || [];
      var multiple = q.kind === 'multiple';
      card.textContent = '';
      card.appendChild(h('span', { class: 'kind', text: kindName(q.kind) }));
      card.appendChild(h('h1', { class: 'qno', text: '第 ' + (current + 1) + ' / ' + questions.length + ' 题' + (multiple ? '（可选多项）' : '') }));
      card.appendChild(h('p', { class: 'stem', id: 'stem', text: q.stem }));
      var group = h('div', { role: multiple ? 'group' : 'radiogroup', 'aria-labelledby': 'stem' });
      q.options.forEach(function (option) {
        var selected = chosen.indexOf(option.key) >= 0;
        group.appendChild(h('button', {
          type: 'button', class: 'option', role: multiple ? 'checkbox' : 'radio',
          'aria-checked': selected ? 'true' : 'false', 'data-key': option.key,
          onclick: function () { choose(option.key); },
        }, [h('span', { class: 'key', 'aria-hidden': 'true', text: option.key === 'T' ? '✓' : option.key === 'F' ? '✗' : option.key }), h('span', { text: option.text })]));
      });
      card.appendChild(group);
      prev.disabled = current === 0;
      next.disabled = current === questions.length - 1;
      renderDots();
    }

    function move(i) {
      // Any navigation of the participant's own cancels a pending automatic move.
      if (advance) { clearTimeout(advance); advance = null; }
      if (i < 0 || i >= questions.length) return;
      current = i;
      renderQuestion();
    }

    function choose(key) {
      if (finished) return;
      var q = questions[current];
      var chosen = (answers[current] || []).slice();
      var at = chosen.indexOf(key);
      if (q.kind === 'multiple') {
        if (at >= 0) chosen.splice(at, 1); else chosen.push(key);
        chosen.sort();
      } else {
        chosen = [key];
      }
      answers[current] = chosen;
      save(current);
      renderQuestion();
      // A single answer moves on by itself, as on paper; the participant can always go back.
      if (advance) { clearTimeout(advance); advance = null; }
      if (q.kind !== 'multiple' && current < questions.length - 1) {
        var from = current;
        advance = setTimeout(function () {
          advance = null;
          if (!finished && current === from) move(from + 1);
        }, 300);
      }
    }

    // Saves question i's answer now, and again after a failure until it is confirmed or the
    // attempt is over; the latest choice always wins because it is what is sent each time.
    function save(i, delay) {
      unsaved[i] = true;
      renderStatus();
      setTimeout(function () {
        if (finished) return;
        var sent = (answers[i] || []).slice();
        // The ticket lets the server check the save without reading the attempt (cheaper at a peak).
        api('PUT', '/attempts/' + id + '/answers/' + i, { choices: sent, ticket: attempt.save_ticket }).then(function (r) {
          if (r.status === 204) {
            if ((answers[i] || []).join() === sent.join()) delete unsaved[i];
            renderStatus();
          } else if (r.status === 409) {
            finish();
          } else if (r.status >= 500) {
            save(i, 1000);
          } else {
            delete unsaved[i];
            renderStatus();
          }
        }, function () {
          status.textContent = '网络不稳定，正在重试…';
          save(i, Math.min((delay || 500) * 2, 4000));
        });
      }, delay || 0);
    }

    function confirmSubmit() {
      var missing = questions.filter(function (q, i) { return !(answers[i] && answers[i].length); }).length;
      var text = missing ? '还有 ' + missing + ' 道题未作答，确定交卷吗？' : '确定交卷吗？交卷后不能修改。';
      if (window.confirm(text)) submit();
    }

    function submit() {
      if (finished) return;
      submitButton.disabled = true;
      var body = { answers: {} };
      Object.keys(answers).forEach(function (k) { body.answers[k] = answers[k]; });
      api('POST', '/attempts/' + id + '/submit', body).then(function (r) {
        if (r.status === 200) { finished = true; stopTimer(); go('#/result/' + id); }
        else if (r.status === 409) finish();
        else { submitButton.disabled = false; status.textContent = (r.body && r.body.message) || '交卷失败，请重试'; }
      }, function () {
        status.textContent = '网络不稳定，正在重新交卷…';
        setTimeout(function () { submitButton.disabled = false; submit(); }, 1500);
      });
    }

    // Time is up (or the server says the attempt is closed): the server has the final word.
    function finish() {
      if (finished) return;
      finished = true;
      stopTimer();
      show([h('p', { class: 'loading', text: '正在交卷…' })]);
      var tries = 0;
      (function fetchResult() {
        api('GET', '/attempts/' + id).then(function (r) {
          if (r.status === 200 && r.body.status === 'final') go('#/result/' + id);
          else if (tries++ < 20) setTimeout(fetchResult, 1000);
          else failure('暂时无法获取成绩，请稍后在“我的成绩”中查看。', [homeButton()]);
        }, function () { setTimeout(fetchResult, 2000); });
      })();
    }

    function tick() {
      var left = remaining();
      clockEl.textContent = '剩余 ' + clock(left);
      if (left <= 30000 && !warned) {
        warned = true;
        timerBar.classList.add('warn');
        say('还剩' + Math.max(0, Math.ceil(left / 1000)) + '秒，请尽快交卷');
      }
      if (left <= 0) {
        // Send what is on screen with the submit: it arrives within the server's grace.
        stopTimer();
        say('时间到，系统已自动交卷');
        var body = { answers: {} };
        Object.keys(answers).forEach(function (k) { body.answers[k] = answers[k]; });
        api('POST', '/attempts/' + id + '/submit', body).then(function () { finish(); }, function () { finish(); });
      }
    }

    show([timerBar, dots, card, footer]);
    renderStatus();
    renderQuestion();
    tick();
    S.timer = setInterval(tick, 250);
    // Background tabs throttle timers; coming back re-checks the time at once.
    document.addEventListener('visibilitychange', function () { if (!document.hidden && !finished) tick(); });
  }

  // ---------------------------------------------------------------- the result

  function resultPage(id) {
    show([h('p', { class: 'loading', text: '正在加载成绩…' })]);
    Promise.all([api('GET', '/attempts/' + id), api('GET', '/campaigns/' + S.cid + '/me')]).then(function (rs) {
      var r = rs[0];
      var mine = rs[1].status === 200 ? rs[1].body : null;
      if (r.status !== 200 || r.body.status !== 'final') return failure('未找到该次答题成绩。', [homeButton()]);
      var a = r.body;
      var review = a.review.map(function (item) {
        return SQ.reviewCard(item, { chosen: '（你的选择）', answer: '你的答案' });
      });
      var next = mine && mine.today && mine.today.next_attempt_at
        ? h('p', { class: 'notice', text: '今天的答题已完成，欢迎 ' + localTime(mine.today.next_attempt_at) + ' 后再来！' })
        : null;
      show([
        h('div', { class: 'card' }, [
          h('h1', { text: '本次得分' }),
          h('p', { class: 'score', id: 'score', text: a.score + ' / ' + a.max_score + ' 分' }),
          h('p', { class: 'muted', text: '用时 ' + duration(a.time_used_ms) + (a.auto_submitted ? '（时间到，系统已自动交卷）' : '') }),
          next,
          prizeNotice(),
          certificateNotice(),
          h('a', { class: 'btn', href: '#/rank', text: '查看排名' }),
          homeButton(),
        ]),
        h('h2', { text: '答题解析' }),
      ].concat(review));
    }, function () { failure('网络连接失败，请稍后重试。', [homeButton()]); });
  }

  // ---------------------------------------------------------------- rankings

  function unitTable(board, onDrill) {
    var rows = board.items.map(function (item) {
      var attrs = { 'data-unit': item.unit_id };
      if (item.has_children && onDrill) {
        attrs.class = 'drill';
        attrs.tabindex = '0';
        attrs.onclick = function () { onDrill(item); };
        attrs.onkeydown = function (event) { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); onDrill(item); } };
      }
      return h('tr', attrs, [
        h('td', { text: String(item.rank) }), h('td', { text: item.name }),
        h('td', { class: 'points', text: String(item.points) }), h('td', { text: String(item.participants) }),
        h('td', { text: String(item.attempts) }),
      ]);
    });
    return stacked(h('table', { 'aria-label': board.parent_name + '排名' }, [
      h('thead', {}, [h('tr', {}, [h('th', { text: '名次' }), h('th', { text: '单位' }), h('th', { text: '积分' }), h('th', { text: '人数' }), h('th', { text: '人次' })])]),
      h('tbody', {}, rows),
    ]));
  }

  function peopleTable(board) {
    return stacked(h('table', { 'aria-label': '个人排名' }, [
      h('thead', {}, [h('tr', {}, [h('th', { text: '名次' }), h('th', { text: '姓名' }), h('th', { text: '积分' }), h('th', { text: '用时' })])]),
      h('tbody', {}, board.items.map(function (p) {
        return h('tr', {}, [h('td', { text: String(p.rank) }), h('td', { text: p.name_masked + ' · ' + p.unit_name }), h('td', { text: String(p.points) }), h('td', { text: duration(p.time_used_ms) })]);
      })),
    ]));
  }

  // The board of organizations (issue 18; docs/api.md).
  function organizationTable(board) {
    return stacked(h('table', { 'aria-label': board.parent_name + '单位排名' }, [
      h('thead', {}, [h('tr', {}, ['名次', '单位', '参与率', '参与职工/职工数', '平均分', '“五进”人数'].map(function (t) { return h('th', { text: t }); }))]),
      h('tbody', {}, board.items.map(function (o) {
        var rate = o.participation_rate;
        return h('tr', { 'data-unit': o.unit_id }, [o.rank, o.name, rate === null ? '—' : (rate * 100).toFixed(1) + '%',
          o.staff_participants + ' / ' + (o.staff === null ? '—' : o.staff), o.avg_points, o.public_participants].map(function (t) { return h('td', { text: String(t) }); }));
      })),
    ]));
  }

  // Follows one board over SSE; `render` gets every new board.
  function live(query, render, stamp) {
    var source = new EventSource('/api/v1/campaigns/' + S.cid + '/leaderboards/stream?' + query);
    source.addEventListener('board', function (event) {
      try { render(JSON.parse(event.data)); } catch (e) { return; }
      if (stamp) stamp.textContent = '实时更新 · ' + new Date().toLocaleTimeString('zh-CN', { hour12: false });
    });
    S.streams.push(source);
    return source;
  }

  // A ranking the campaign hides (public_rankings; docs/fair-play.md): a note in its place.
  function rankingHidden(kind, container) {
    var shown = S.campaign.public_rankings;
    if (!shown || shown[kind] !== false) return false;
    container.textContent = '';
    container.appendChild(h('p', { class: 'muted', text: kind === 'units' ? '本竞赛不公开单位排名' : '本竞赛不公开个人排名' }));
    return true;
  }

  function rankPage() {
    var who = me();
    var mineCard = h('div', { class: 'card', id: 'mine' });
    var tabs = h('div', { class: 'tabs', role: 'tablist' });
    var crumbs = h('div', { class: 'crumbs' });
    var stamp = h('span', { class: 'live', 'aria-live': 'off' });
    var board = h('div', { id: 'board' });
    var people = h('div', { id: 'people' });
    var orgs = h('div', { id: 'orgs' });
    var orgSorts = h('div', { class: 'tabs', role: 'tablist' });
    var orgCard = h('div', { class: 'card', id: 'org-board', hidden: true }, [h('h2', { text: '参赛单位排名' }), orgSorts, orgs]);
    var orgSort = 'rate';
    var orgStream = null;
    var path = [];
    var stream = null;
    var peopleStream = null;
    var entries = S.campaign.entries;
    var tab = entries[0].id;

    function renderTabs() {
      tabs.textContent = '';
      entries.forEach(function (entry) {
        tabs.appendChild(h('button', {
          type: 'button', role: 'tab', 'aria-selected': tab === entry.id ? 'true' : 'false',
          text: entry.name + '排名', onclick: function () { tab = entry.id; path = []; follow(); },
        }));
      });
    }

    function follow() {
      renderTabs();
      if (stream) stream.close();
      if (peopleStream) peopleStream.close();
      var parent = path.length ? path[path.length - 1].id : tab;
      crumbs.textContent = '';
      crumbs.appendChild(h('button', { type: 'button', text: tab === 'region' ? '全国' : '全部', onclick: function () { path = []; follow(); } }));
      path.forEach(function (p, i) {
        crumbs.appendChild(document.createTextNode(' › '));
        crumbs.appendChild(h('button', { type: 'button', text: p.name, onclick: function () { path = path.slice(0, i + 1); follow(); } }));
      });
      stream = rankingHidden('units', board) ? null : live('board=units&parent=' + encodeURIComponent(parent), function (b) {
        board.textContent = '';
        board.appendChild(unitTable(b, function (item) { path.push({ id: item.unit_id, name: item.name }); follow(); }));
      }, stamp);
      if (orgStream) orgStream.close();
      var entry = entries.filter(function (e) { return e.id === tab; })[0];
      orgCard.hidden = !(entry && entry.kind === 'organizations');
      if (!orgCard.hidden) {
        orgSorts.textContent = '';
        [['rate', '按参与率'], ['avg_points', '按平均分']].forEach(function (s) {
          orgSorts.appendChild(h('button', { type: 'button', role: 'tab', 'aria-selected': orgSort === s[0] ? 'true' : 'false', text: s[1], onclick: function () { orgSort = s[0]; follow(); } }));
        });
        orgStream = rankingHidden('units', orgs) ? null : live('board=organizations&sort=' + orgSort + '&parent=' + encodeURIComponent(parent), function (b) {
          orgs.textContent = '';
          orgs.appendChild(b.items.length ? organizationTable(b) : h('p', { class: 'muted', text: '暂无单位' }));
        });
      }
      // A campaign may keep individual boards down to a level (`individual_levels`): the
      // deepest board kept on the way down is shown.
      var levels = S.campaign.public_rankings.individual_levels;
      var kept = path.slice(0, levels == null ? path.length : levels);
      var unitQuery = kept.length ? '&unit=' + encodeURIComponent(kept[kept.length - 1].id) : '';
      peopleStream = rankingHidden('individuals', people) ? null : live('board=participants&limit=20' + unitQuery, function (b) {
        people.textContent = '';
        people.appendChild(b.items.length ? peopleTable(b) : h('p', { class: 'muted', text: '暂无成绩' }));
      });
    }

    show([
      h('h1', { text: '实时排名' }), mineCard, tabs, crumbs, stamp, h('div', { class: 'card' }, [board]), orgCard,
      h('h2', { text: '个人排名（前 20 名）' }), h('div', { class: 'card' }, [people]),
      h('a', { class: 'btn secondary', href: '#/screen', text: '大屏展示' }), homeButton(),
    ]);
    follow();
    if (who && who.token) {
      api('GET', '/campaigns/' + S.cid + '/me').then(function (r) {
        if (r.status !== 200) return;
        var m = r.body;
        mineCard.appendChild(h('h2', { text: '我的成绩' }));
        mineCard.appendChild(h('p', { id: 'my-points', text: (S.campaign.counted === 'best' || S.campaign.counted === 'last' ? '计分成绩 ' : '累计积分 ') + m.points + ' 分，答题 ' + m.attempts + ' 次，用时 ' + duration(m.time_used_ms) }));
        if (m.exclusion) mineCard.appendChild(h('p', { class: 'notice', role: 'status', text: m.exclusion.message }));
        mineCard.appendChild(h('ul', { class: 'ranks' }, m.ranks.map(function (rank) {
          return h('li', {}, [h('span', { text: rank.name }), h('span', { text: rank.rank ? '第 ' + rank.rank + ' 名' : '暂无排名' })]);
        })));
        if (m.today.next_attempt_at) mineCard.appendChild(h('p', { class: 'muted', text: '下次可答题时间：' + localTime(m.today.next_attempt_at) }));
        else mineCard.appendChild(h('a', { class: 'btn', href: '#/attempt', text: '开始今日答题' }));
      });
    } else {
      mineCard.appendChild(h('a', { class: 'btn', href: '#/', text: '报名参赛' }));
    }
  }

  // A projector view: the top units of an entry and the top participants, live.
  function screenPage(parent) {
    parent = parent || S.campaign.entries[0].id;
    var board = h('div', {});
    var people = h('div', {});
    var totals = h('p', { class: 'big' });
    var stamp = h('p', { class: 'live' });
    show([
      h('h1', { text: S.campaign.title }),
      totals,
      h('div', { class: 'grid' }, [h('div', { class: 'card' }, [board]), h('div', { class: 'card' }, [people])]),
      stamp,
    ]);
    document.body.classList.add('screen');
    live('board=units&parent=' + encodeURIComponent(parent), function (b) {
      totals.textContent = '参赛 ' + b.totals.participants + ' 人 · 答题 ' + b.totals.attempts + ' 人次 · 满分 ' + b.totals.full_marks + ' 人次';
      board.textContent = '';
      board.appendChild(unitTable(b, null));
    }, stamp);
    live('board=participants&limit=10', function (b) {
      people.textContent = '';
      people.appendChild(peopleTable(b));
    });
  }

  // ---------------------------------------------------------------- prizes

  // Whether the participant won, once the prizes are drawn; nothing before the draw.
  function prizeNotice() {
    var box = h('div', { id: 'prize-notice' });
    if (!(me() && me().token)) return box;
    api('GET', '/campaigns/' + S.cid + '/prizes/me').then(function (r) {
      if (r.status !== 200 || !r.body.drawn) return;
      if (r.body.prizes.length) {
        box.appendChild(h('p', { class: 'notice prize-won', role: 'status', text: '恭喜您获得' + r.body.prizes.map(function (p) {
          return p.award === p.prize ? p.prize : p.prize + '（' + p.award + '）';
        }).join('、') + '！奖品将按竞赛规则发放至您报名时填写的手机号。' }));
      } else {
        box.appendChild(h('p', { class: 'muted prize-none', text: '奖项已评出，很遗憾本次您未获奖，感谢参与！' }));
      }
      box.appendChild(h('a', { class: 'btn ghost', href: '#/winners', text: '查看获奖名单' }));
    });
    return box;
  }

  // ---------------------------------------------------------------- certificates

  // The study-hour certificate (学时证明) of a campaign that grants one: the download button
  // from the close while the score reaches the threshold, else why not; nothing otherwise.
  // Whatever the campaign, a token past its validity (`auth.participant_token_ttl_hours` after
  // registering, which can end before a certificate's window) asks to register again: the same
  // name and phone are the same participant, with their results.
  function certificateNotice() {
    var box = h('div', { id: 'certificate-notice' });
    if (!(me() && me().token)) return box;
    api('GET', '/campaigns/' + S.cid + '/certificate').then(function (r) {
      if (r.status === 401) {
        box.appendChild(h('p', { class: 'notice', role: 'status', text: '登录已过期，请用报名时的姓名和手机号重新报名，您的成绩仍然保留。' }));
        box.appendChild(h('button', { class: 'btn', type: 'button', text: '重新报名', onclick: function () { saveMe(null); go('#/'); } }));
        return;
      }
      if (r.status !== 200) return;
      var c = r.body;
      if (c.available) {
        var status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
        box.appendChild(h('button', { class: 'btn', type: 'button', id: 'certificate-download',
          text: '下载学时证明（' + c.hours + ' 学时）', onclick: function () { downloadCertificate(status); } }));
        box.appendChild(h('p', { class: 'muted', text: '下载期至 ' + localTime(c.available_until) + '。证书编号：' + c.serial }));
        box.appendChild(h('a', { class: 'btn ghost', href: '/verify/' + encodeURIComponent(c.serial), text: '查看证书核验页' }));
        box.appendChild(status);
      } else if (c.reason === 'certificate_not_yet_available') {
        box.appendChild(h('p', { class: 'muted', text: '竞赛结束后，计分成绩达到 ' + c.min_score + ' 分者可下载 ' + c.hours + ' 学时的学时证明。' }));
      } else if (c.reason === 'certificate_below_threshold') {
        box.appendChild(h('p', { class: 'muted', text: '您的计分成绩为 ' + c.score + ' 分，未达到获得学时证明所需的 ' + c.min_score + ' 分。' }));
      } else if (c.reason === 'certificate_expired') {
        box.appendChild(h('p', { class: 'muted', text: '学时证明的下载期已过。' }));
      }
    });
    return box;
  }

  // The PDF needs the participant's token, so it is fetched and handed to the browser as a file.
  function downloadCertificate(status) {
    var who = me();
    status.textContent = '正在生成学时证明…';
    fetch('/api/v1/campaigns/' + S.cid + '/certificate.pdf', {
      headers: { 'Authorization': 'Bearer ' + who.token }, cache: 'no-store',
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (e) { status.textContent = e.message || '下载失败，请稍后重试。'; });
      }
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = h('a', { href: url, download: '学时证明.pdf' });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        status.textContent = '学时证明已下载。';
      });
    }, function () { status.textContent = '网络连接失败，请稍后重试。'; });
  }

  function winnersPage() {
    show([h('p', { class: 'loading', text: '正在加载获奖名单…' })]);
    api('GET', '/campaigns/' + S.cid + '/prizes/winners').then(function (r) {
      if (r.status !== 200) return failure('暂时无法加载获奖名单，请稍后重试。', [homeButton()]);
      var w = r.body;
      if (!w.drawn) return failure('奖项尚未评出，竞赛结束后将公开抽奖并公布获奖名单。', [homeButton()]);
      var parts = [h('h1', { text: '获奖名单' })];
      w.prizes.forEach(function (prize) {
        parts.push(h('h2', { text: prize.prize + '（' + prize.winners.length + ' 名）' }));
        parts.push(h('div', { class: 'card' }, [stacked(h('table', { 'aria-label': prize.prize }, [
          h('thead', {}, [h('tr', {}, [h('th', { text: '奖级' }), h('th', { text: '姓名' }), h('th', { text: '手机号' }), h('th', { text: '单位' })])]),
          h('tbody', {}, prize.winners.map(function (winner) {
            return h('tr', {}, [h('td', { text: winner.award }), h('td', { text: winner.name }), h('td', { text: winner.phone }), h('td', { text: winner.unit })]);
          })),
        ]))]));
      });
      parts.push(h('div', { class: 'card audit' }, [
        h('h2', { text: '抽奖核验信息' }),
        h('p', { class: 'muted', text: '任何人可用公布的名单文件和以下数值，以 safequiz prizes verify 重算得到同样的结果。' }),
        h('p', { text: '随机数来源：' + w.seed_from }),
        h('p', { class: 'mono', text: '名单 SHA-256：' + w.list_digest }),
        h('p', { class: 'mono', text: '种子：' + w.seed }),
        h('p', { class: 'muted', text: '参与抽奖人数 ' + w.eligible + '，抽奖时间 ' + localTime(w.drawn_at) }),
      ]));
      parts.push(homeButton());
      show(parts);
    }, function () { failure('网络连接失败，请稍后重试。', [homeButton()]); });
  }

  // ---------------------------------------------------------------- the practice room (练功房)

  function practicePage() {
    if (!(me() && me().token)) return go('#/');
    show([h('p', { class: 'loading', text: '正在进入练功房…' })]);
    api('GET', '/campaigns/' + S.cid + '/practice').then(function (r) {
      if (r.status === 404) return failure('本竞赛未开放练功房。', [homeButton()]);
      if (r.status !== 200) return failure((r.body && r.body.message) || '暂时无法进入练功房，请稍后重试。', [homeButton()]);
      var room = r.body;
      var history = room.history.length
        ? stacked(h('table', { 'aria-label': '今日练习记录', id: 'practice-history' }, [
          h('thead', {}, [h('tr', {}, [h('th', { text: '次' }), h('th', { text: '交卷时间' }), h('th', { text: '得分' }), h('th', { text: '用时' })])]),
          h('tbody', {}, room.history.map(function (item, i) {
            return h('tr', {}, [
              h('td', { text: String(room.history.length - i) }),
              h('td', { text: SQ.clockTime(item.finished_at, S.campaign.time_zone) }),
              h('td', { text: item.correct_count + '/' + item.question_count + ' 题 · ' + item.score + ' 分' }),
              h('td', { text: duration(item.time_used_ms) }),
            ]);
          })),
        ]))
        : h('p', { class: 'muted', id: 'practice-history', text: '今天还没有练习记录。' });
      var startButton = room.open_now
        ? h('a', { class: 'btn', href: '#/practice/run', id: 'practice-start', text: room.open ? '继续练习' : '开始练习' })
        : h('p', { class: 'notice', text: '练功房开放时间：' + localTime(room.opens_at) + ' 至 ' + localTime(room.closes_at) });
      show([
        h('h1', { text: '练功房' }),
        h('div', { class: 'card' }, [
          h('p', { text: '练习题从竞赛题库中随机抽取，限时与正式答题相同，交卷后立即显示答案和解析。' }),
          h('p', { class: 'notice', text: '练习成绩不计入积分和排名，也不占用每日答题次数。' }),
          h('p', { class: 'muted', text: room.per_day ? '每天可练习 ' + room.per_day + ' 次。' : '练习次数不限。' }),
          startButton,
        ]),
        h('h2', { text: '今日练习记录' }),
        h('div', { class: 'card' }, [history]),
        h('a', { class: 'btn secondary', href: '#/attempt', text: '开始今日正式答题' }),
        homeButton(),
      ]);
    }, function () { failure('网络连接失败，请稍后重试。', [homeButton()]); });
  }

  function practiceRun() {
    if (!(me() && me().token)) return go('#/');
    show([h('p', { class: 'loading', text: '正在抽取练习题…' })]);
    api('POST', '/campaigns/' + S.cid + '/practice').then(function (r) {
      if (r.status === 200 || r.status === 201) return runPractice(r.body);
      if (r.body && r.body.error === 'daily_limit_reached') {
        return failure('今天的练习次数已用完，请于 ' + localTime(r.body.next_attempt_at) + ' 后再来。', [h('a', { class: 'btn', href: '#/practice', text: '返回练功房' })]);
      }
      failure((r.body && r.body.message) || '暂时无法开始练习，请稍后重试。', [h('a', { class: 'btn', href: '#/practice', text: '返回练功房' })]);
    }, function () { failure('网络连接失败，请稍后重试。', [homeButton()]); });
  }

  // One practice attempt: answers stay on the phone until the submit sends them all.
  function runPractice(attempt) {
    var questions = attempt.questions;
    var deadline = Date.parse(attempt.deadline);
    var answers = questions.map(function () { return []; });
    var current = 0;
    var sent = false;
    var warned = false;
    var clockEl = h('span', { class: 'clock', role: 'timer', 'aria-live': 'off', 'aria-atomic': 'true', 'aria-label': '剩余时间' });
    var timerBar = h('div', { class: 'timer practice' }, [clockEl, h('span', { class: 'status', text: '练习 · 不计成绩' })]);
    var card = h('div', { class: 'card' });
    var prev = h('button', { class: 'btn secondary', type: 'button', text: '上一题', onclick: function () { move(current - 1); } });
    var next = h('button', { class: 'btn secondary', type: 'button', text: '下一题', onclick: function () { move(current + 1); } });
    var submitButton = h('button', { class: 'btn', type: 'button', id: 'practice-submit', text: '交卷', onclick: function () { submit(); } });

    function move(i) {
      if (i < 0 || i >= questions.length) return;
      current = i;
      render();
    }

    function render() {
      var q = questions[current];
      var multiple = q.kind === 'multiple';
      card.textContent = '';
      card.appendChild(h('span', { class: 'kind', text: kindName(q.kind) }));
      card.appendChild(h('h1', { class: 'qno', text: '第 ' + (current + 1) + ' / ' + questions.length + ' 题' + (multiple ? '（可选多项）' : '') }));
      card.appendChild(h('p', { class: 'stem', id: 'stem', text: q.stem }));
      var group = h('div', { role: multiple ? 'group' : 'radiogroup', 'aria-labelledby': 'stem' });
      q.options.forEach(function (option) {
        var selected = answers[current].indexOf(option.key) >= 0;
        group.appendChild(h('button', {
          type: 'button', class: 'option', role: multiple ? 'checkbox' : 'radio',
          'aria-checked': selected ? 'true' : 'false', 'data-key': option.key,
          onclick: function () { choose(option.key); },
        }, [h('span', { class: 'key', 'aria-hidden': 'true', text: option.key === 'T' ? '✓' : option.key === 'F' ? '✗' : option.key }), h('span', { text: option.text })]));
      });
      card.appendChild(group);
      prev.disabled = current === 0;
      next.disabled = current === questions.length - 1;
    }

    function choose(key) {
      var q = questions[current];
      var chosen = answers[current].slice();
      var at = chosen.indexOf(key);
      if (q.kind === 'multiple') {
        if (at >= 0) chosen.splice(at, 1); else chosen.push(key);
        chosen.sort();
      } else {
        chosen = [key];
      }
      answers[current] = chosen;
      render();
    }

    function submit() {
      if (sent) return;
      sent = true;
      stopTimer();
      submitButton.disabled = true;
      api('POST', '/campaigns/' + S.cid + '/practice/submit', { answers: answers }).then(function (r) {
        if (r.status === 200) return practiceResult(r.body);
        sent = false;
        submitButton.disabled = false;
        failure((r.body && r.body.message) || '交卷失败，本次练习已结束。', [h('a', { class: 'btn', href: '#/practice', text: '返回练功房' })]);
      }, function () {
        sent = false;
        submitButton.disabled = false;
      });
    }

    function tick() {
      var left = deadline - now();
      clockEl.textContent = '剩余 ' + clock(left);
      if (left <= 30000 && !warned) { warned = true; say('还剩' + Math.max(0, Math.ceil(left / 1000)) + '秒，请尽快交卷'); }
      if (left <= 0) { say('时间到，系统已自动交卷'); submit(); }
    }

    show([timerBar, card, h('div', { class: 'footer' }, [h('div', { class: 'row' }, [prev, next, submitButton])])]);
    render();
    tick();
    S.timer = setInterval(tick, 250);
  }

  function practiceResult(result) {
    var review = result.review.map(function (item) {
      return SQ.reviewCard(item, { chosen: '（你的选择）', answer: '你的答案' });
    });
    show([
      h('div', { class: 'card' }, [
        h('h1', { text: '练习得分' }),
        h('p', { class: 'score', id: 'practice-score', text: result.score + ' / ' + result.max_score + ' 分' }),
        h('p', { class: 'muted', text: '用时 ' + duration(result.time_used_ms) + ' · 练习成绩不计入积分和排名' }),
        h('button', { class: 'btn', type: 'button', id: 'practice-again', text: '再练一次', onclick: practiceRun }),
        h('a', { class: 'btn secondary', href: '#/practice', id: 'practice-back', text: '返回练功房' }),
      ]),
      h('h2', { text: '答案与解析' }),
    ].concat(review));
  }

  // ---------------------------------------------------------------- my information (issue 20)

  // What is held about the participant, and the deletion of their registration, confirmed by
  // typing the phone again and ticking a box: name and phone are deleted, results stay anonymous.
  function privacyPage() {
    if (!(me() && me().token)) return go('#/');
    show([h('p', { class: 'loading', text: '正在读取…' })]);
    api('GET', '/campaigns/' + S.cid + '/me/privacy').then(function (r) {
      if (r.status !== 200) return failure((r.body && r.body.message) || '暂时无法读取，请稍后重试。', [homeButton()]);
      var b = r.body;
      var row = function (label, value) { return h('p', {}, [h('strong', { text: label + '：' }), h('span', { text: value == null || value === '' ? '—' : String(value) })]); };
      var phone = h('input', { id: 'delete-phone', type: 'tel', inputmode: 'numeric', maxlength: '16' });
      var sure = h('input', { id: 'delete-sure', type: 'checkbox' });
      var error = h('p', { class: 'error', id: 'delete-error', role: 'alert' });
      var button = h('button', { class: 'btn danger', type: 'submit', id: 'delete-submit', text: '注销报名' });
      var form = h('form', { class: 'card', novalidate: true }, [
        h('h2', { text: '注销报名' }),
        h('p', { text: '注销后，您的姓名和手机号将从系统中删除，无法恢复；已有成绩以匿名形式保留在单位统计和排名中。' }),
        h('label', { for: 'delete-phone', text: '请输入报名时的手机号以确认' }), phone,
        h('label', { class: 'check' }, [sure, h('span', { text: '我确认注销报名' })]),
        error, button,
      ]);
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        error.textContent = '';
        if (!sure.checked) { error.textContent = '请勾选确认'; return; }
        var digits = phone.value.replace(/[\s-]/g, '').replace(/^(\+86|0086)/, '');
        button.disabled = true;
        api('POST', '/campaigns/' + S.cid + '/me/deletion', { phone: digits }).then(function (d) {
          button.disabled = false;
          if (d.status === 204) {
            saveMe(null);
            return failure('您的报名已注销，姓名和手机号已删除。', [homeButton()]);
          }
          error.textContent = (d.body && d.body.message) || '注销失败，请稍后重试';
        }, function () { button.disabled = false; error.textContent = '网络连接失败，请检查网络后重试'; });
      });
      show([
        h('h1', { text: '我的信息' }),
        h('div', { class: 'card', id: 'held' }, [
          row('姓名', b.name), row('手机号', b.phone_masked), row('单位代码', b.unit_id),
          row('报名时间', b.registered_at && localTime(b.registered_at)),
          row('同意的告知版本', b.consent_version), row('监护人', b.guardian_name),
          row('手机号（加密保存，仅用于中奖通知）', b.phone_kept ? '已保存' : '未保存'),
          row('已保存的答题次数', b.attempts_recorded), row('保存期限至', b.retain_until),
          h('p', { class: 'muted', text: '我们保存：' + b.kept }),
        ]),
        form,
        homeButton(),
      ]);
    }, function () { failure('网络连接失败，请检查网络后重试。', [homeButton()]); });
  }

  // ---------------------------------------------------------------- organizations (issue 18)
  // An entry of kind `organizations`: find one's organization by a part of its name or its
  // pinyin initials, or register it (full name, 统一社会信用代码, region), then register under it
  // as staff, as a 五进 participant (counted in its 五进 group) or as its principal person; an
  // organization's administrator applies with a letter of authorization.

  var PUBLIC_KINDS = [['enterprise', '企业'], ['village', '农村'], ['community', '社区'], ['school', '学校'], ['family', '家庭']];

  // A cascade of region selects where any level may be chosen (organizations register at a
  // province, a city or a county).
  function regionPicker(onChange) {
    var box = h('div', { id: 'org-region' });
    function level(depth, units) {
      var select = h('select', { id: 'org-region-' + depth, 'aria-label': depth === 0 ? '所在地区' : '下级地区' },
        [h('option', { value: '', text: depth === 0 ? '请选择地区' : '（本级）' })].concat(units.map(function (u) {
          return h('option', { value: u.id, 'data-children': u.has_children ? '1' : '', text: u.name });
        })));
      var wrap = h('div', { 'data-depth': depth }, [select]);
      var parent = box.lastChild ? box.lastChild.firstChild.value : '';
      select.addEventListener('change', function () {
        while (box.lastChild && box.lastChild !== wrap) box.removeChild(box.lastChild);
        var option = select.options[select.selectedIndex];
        onChange(option && option.value ? option.value : (depth === 0 ? null : parent));
        if (option && option.value && option.getAttribute('data-children')) {
          api('GET', '/campaigns/' + S.cid + '/units?parent=' + encodeURIComponent(option.value)).then(function (r) {
            if (r.status === 200) level(depth + 1, r.body.items);
          });
        }
      });
      box.appendChild(wrap);
    }
    return { el: box, start: function (entryId) {
      api('GET', '/campaigns/' + S.cid + '/units?entry=' + encodeURIComponent(entryId)).then(function (r) {
        if (r.status === 200) level(0, r.body.items);
      });
    } };
  }

  function orgRegister(entry) {
    var chosen = null;
    var results = h('ul', { class: 'org-results', id: 'org-results', 'aria-live': 'polite' });
    var q = h('input', { id: 'org-q', type: 'search', maxlength: '60', placeholder: '输入单位名称关键字或拼音首字母' });
    var picked = h('p', { id: 'org-picked', class: 'muted', text: '尚未选择单位' });
    var orgError = h('p', { class: 'error', id: 'org-error', role: 'alert' });
    var timer = null;
    function searchNow() {
      var text = q.value.trim();
      api('GET', '/campaigns/' + S.cid + '/organizations?q=' + encodeURIComponent(text)).then(function (r) {
        results.textContent = '';
        var items = (r.body && r.body.items) || [];
        if (!items.length) results.appendChild(h('li', { class: 'muted', text: '没有找到，请换个关键字，或先注册单位' }));
        items.forEach(function (o) {
          results.appendChild(h('li', {}, [h('button', { type: 'button', class: 'btn ghost', 'data-unit': o.unit_id,
            text: o.name + '（' + o.region_path.join(' / ') + '）',
            onclick: function () {
              chosen = o;
              picked.textContent = '已选择：' + o.name;
              apply.hidden = false;
              apply.setAttribute('href', '#/org-apply/' + o.org_id);
            } })]));
        });
      });
    }
    q.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(searchNow, 300); });
    var apply = h('a', { class: 'btn ghost', id: 'org-apply-link', href: '#/', hidden: true, text: '申请成为本单位管理员' });
    var roleStaff = h('input', { type: 'radio', name: 'role', id: 'role-staff', value: 'staff', checked: true });
    var rolePublic = h('input', { type: 'radio', name: 'role', id: 'role-public', value: 'public' });
    var kind = h('select', { id: 'public-kind', 'aria-label': '“五进”类别' }, PUBLIC_KINDS.map(function (k) { return h('option', { value: k[0], text: k[1] }); }));
    var kindBox = h('div', { hidden: true }, [h('label', { for: 'public-kind', text: '“五进”类别' }), kind]);
    var principal = h('input', { type: 'checkbox', id: 'principal' });
    var post = h('input', { id: 'principal-post', maxlength: '30', placeholder: '如：局长' });
    var postBox = h('div', { hidden: true }, [h('label', { for: 'principal-post', text: '职务' }), post]);
    function roles() {
      kindBox.hidden = !rolePublic.checked;
      principalBox.hidden = rolePublic.checked;
      postBox.hidden = !principal.checked || rolePublic.checked;
    }
    var principalBox = h('label', { class: 'check' }, [principal, h('span', { text: '我是单位主要负责人' })]);
    [roleStaff, rolePublic, principal].forEach(function (i) { i.addEventListener('change', roles); });
    var name = h('input', { id: 'name', autocomplete: 'name', maxlength: '30' });
    var phone = h('input', { id: 'phone', type: 'tel', inputmode: 'numeric', autocomplete: 'tel', maxlength: '16' });
    var error = h('p', { class: 'error', id: 'register-error', role: 'alert' });
    var consent = h('input', { id: 'consent', type: 'checkbox' });
    var notice = null;
    var noticeBox = h('div', { class: 'card notice', id: 'notice', hidden: true });
    var consentBox = h('label', { class: 'check', hidden: true }, [consent, h('span', { text: '我已阅读并同意上述个人信息处理告知' })]);
    api('GET', '/campaigns/' + S.cid + '/notice').then(function (r) {
      notice = r.status === 200 ? r.body.notice : null;
      if (notice) noticeNodes(notice).forEach(function (n) { noticeBox.appendChild(n); });
      noticeBox.hidden = consentBox.hidden = !notice;
    });
    var submit = h('button', { class: 'btn', type: 'submit', text: '报名并开始答题' });
    var form = h('form', { class: 'card', novalidate: true }, [
      h('h2', { text: '第一步：选择您所在（或关联）的单位' }),
      h('label', { for: 'org-q', text: '搜索单位' }), q, results, picked, orgError,
      h('a', { class: 'btn secondary', id: 'org-new-link', href: '#/org-new/' + entry.id, text: '搜索不到？先注册单位' }),
      apply,
      h('h2', { text: '第二步：填写个人信息' }),
      h('label', { class: 'check' }, [roleStaff, h('span', { text: '本单位干部职工' })]),
      h('label', { class: 'check' }, [rolePublic, h('span', { text: '“五进”人员（企业、农村、社区、学校、家庭的群众，成绩计入关联单位）' })]),
      kindBox, principalBox, postBox,
      h('label', { for: 'name', text: '姓名（实名）' }), name,
      h('label', { for: 'phone', text: '手机号' }), phone,
      consentBox, error, submit,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      error.textContent = orgError.textContent = '';
      if (!chosen) { orgError.textContent = '请先搜索并选择单位'; return; }
      if (notice && !consent.checked) { error.textContent = '请阅读个人信息处理告知并勾选同意'; return; }
      var body = { name: name.value.trim(), phone: phone.value.replace(/[\s-]/g, ''), unit_id: chosen.unit_id };
      if (notice) { body.consent = true; body.notice_version = notice.version; }
      if (rolePublic.checked) body.public_kind = kind.value;
      else if (principal.checked) { body.principal = true; body.principal_post = post.value.trim(); }
      submit.disabled = true;
      api('POST', '/campaigns/' + S.cid + '/participants', body).then(function (r) {
        submit.disabled = false;
        if (r.status === 200 || r.status === 201) {
          saveMe({ token: r.body.token, pid: r.body.participant_id, unit: r.body.unit_id, nameMasked: maskedName(body.name) });
          go('#/attempt');
          return;
        }
        error.textContent = (r.body && r.body.message) || '报名失败，请稍后重试';
      }, function () { submit.disabled = false; error.textContent = '网络连接失败，请检查网络后重试'; });
    });
    show([h('h1', { text: entry.name + '参赛报名' }), noticeBox, form]);
    searchNow();
  }

  function orgNew(entryId) {
    var region = null;
    var picker = regionPicker(function (id) { region = id; });
    var name = h('input', { id: 'org-name', maxlength: '60' });
    var code = h('input', { id: 'org-code', maxlength: '18', autocapitalize: 'characters', autocomplete: 'off' });
    var staff = h('input', { id: 'org-staff', type: 'number', inputmode: 'numeric', min: '1', max: '1000000' });
    var error = h('p', { class: 'error', id: 'org-new-error', role: 'alert' });
    var submit = h('button', { class: 'btn', type: 'submit', text: '注册单位' });
    var form = h('form', { class: 'card', novalidate: true }, [
      h('label', { for: 'org-name', text: '单位全称' }), name,
      h('label', { for: 'org-code', text: '统一社会信用代码（18位）' }), code,
      h('label', { for: 'org-staff', text: '在职职工人数' }), staff,
      h('label', { text: '所在地区（可选到省、市或县）' }), picker.el,
      error, submit,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      error.textContent = '';
      if (!region) { error.textContent = '请选择单位所在地区'; return; }
      submit.disabled = true;
      api('POST', '/campaigns/' + S.cid + '/organizations', { name: name.value, credit_code: code.value, region_id: region, staff: Number(staff.value) || 0 }).then(function (r) {
        submit.disabled = false;
        if (r.status === 201) {
          show([h('h1', { text: '单位注册成功' }), h('div', { class: 'card' }, [
            h('p', { text: r.body.name + '（' + r.body.region_path.join(' / ') + '）已注册。' }),
            h('a', { class: 'btn', href: '#/register/' + entryId, text: '返回报名，搜索并选择本单位' }),
            h('a', { class: 'btn secondary', href: '#/org-apply/' + r.body.org_id, text: '申请成为本单位管理员' }),
          ])]);
          return;
        }
        error.textContent = (r.body && r.body.message) || '注册失败，请稍后重试';
      }, function () { submit.disabled = false; error.textContent = '网络连接失败，请检查网络后重试'; });
    });
    show([h('h1', { text: '注册单位' }), form]);
    picker.start(entryId);
  }

  function orgApply(orgId) {
    var name = h('input', { id: 'admin-name', maxlength: '30', autocomplete: 'name' });
    var phone = h('input', { id: 'admin-phone', type: 'tel', inputmode: 'numeric', maxlength: '16' });
    var file = h('input', { id: 'admin-file', type: 'file', accept: 'application/pdf,image/jpeg,image/png' });
    var error = h('p', { class: 'error', id: 'admin-error', role: 'alert' });
    var submit = h('button', { class: 'btn', type: 'submit', text: '提交申请' });
    var form = h('form', { class: 'card', novalidate: true }, [
      h('p', { class: 'muted', text: '每个单位可设1名管理员，由上级单位审核。请上传盖章的授权说明（PDF、JPG 或 PNG，不超过5MB）。' }),
      h('label', { for: 'admin-name', text: '姓名' }), name,
      h('label', { for: 'admin-phone', text: '手机号' }), phone,
      h('label', { for: 'admin-file', text: '授权文件' }), file,
      error, submit,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      error.textContent = '';
      var f = file.files && file.files[0];
      if (!f) { error.textContent = '请选择授权文件'; return; }
      if (f.size > 5 * 1024 * 1024) { error.textContent = '授权文件不能超过5MB'; return; }
      var data = new FormData();
      data.append('name', name.value.trim());
      data.append('phone', phone.value.replace(/[\s-]/g, ''));
      data.append('file', f);
      submit.disabled = true;
      fetch('/api/v1/campaigns/' + S.cid + '/organizations/' + encodeURIComponent(orgId) + '/admin-applications', { method: 'POST', body: data }).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; }, function () { return { status: response.status, body: null }; });
      }).then(function (r) {
        submit.disabled = false;
        if (r.status === 201) {
          show([h('h1', { text: '申请已提交' }), h('div', { class: 'card' }, [
            h('p', { id: 'admin-filed', text: '申请编号 ' + r.body.application_id + '，请等待上级单位审核；审核通过后，审核人会将登录账号和初始密码告知您。' }),
            homeButton(),
          ])]);
          return;
        }
        error.textContent = (r.body && r.body.message) || '提交失败，请稍后重试';
      }, function () { submit.disabled = false; error.textContent = '网络连接失败，请检查网络后重试'; });
    });
    show([h('h1', { text: '申请成为单位管理员' }), form]);
  }

  // ---------------------------------------------------------------- routing

  function route() {
    var parts = (location.hash || '#/').slice(2).split('/');
    switch (parts[0]) {
      case 'register': return register(parts[1]);
      case 'org-new': return orgNew(parts[1]);
      case 'org-apply': return orgApply(parts[1]);
      case 'attempt': return attemptPage();
      case 'result': return resultPage(parts[1]);
      case 'rank': return rankPage();
      case 'screen': return screenPage(parts[1]);
      case 'practice': return parts[1] === 'run' ? practiceRun() : practicePage();
      case 'winners': return winnersPage();
      case 'privacy': return privacyPage();
      default: return landing();
    }
  }

  function start() {
    var match = /^\/c\/([a-z0-9-]+)/.exec(location.pathname);
    api('GET', '/campaigns').then(function (r) {
      var items = (r.body && r.body.items) || [];
      S.campaign = items.filter(function (c) { return match && c.id === match[1]; })[0] || items[0];
      if (!S.campaign) return failure('当前没有进行中的竞赛。');
      S.cid = S.campaign.id;
      document.title = S.campaign.title;
      window.addEventListener('hashchange', route);
      route();
    }, function () {
      failure('网络连接失败，请检查网络后刷新页面。', [h('button', { class: 'btn', type: 'button', text: '重试', onclick: start })]);
    });
  }

  start();
})();
