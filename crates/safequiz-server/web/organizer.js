// safequiz organizer pages: login and the forced password change, live progress of the
// organizer's subtree (polled every few seconds), participants and their attempts, period
// figures with the per-day series and the downloads, the question analysis, and headcounts.
// Plain ES2017 without a build step, like the participant pages, so it runs in WeChat's built-in
// browser; no external requests.
//
// The session is the HttpOnly cookie the login sets: the script never holds the token. Every
// request carries `X-Requested-With`, which the server requires of cookie-authenticated
// changes. Figures arrive as the API gives them; the one figure computed here is the live
// participation rate, live participants (Redis) over the headcount (SQL, refreshed every 30 s).
(function () {
  'use strict';

  var h = SQ.h;
  var API = '/api/v1/organizer';
  var POLL_MS = 5000;
  // The progress page refreshes its SQL figures (headcounts, today and yesterday) every 30 s, or
  // after 10 s when the live figures moved, so that "today" follows without a query per poll.
  var FIGURES_MAX_AGE_MS = 30000;
  var FIGURES_MOVED_AGE_MS = 10000;
  var app = document.getElementById('app');
  var nav = document.getElementById('nav');
  var account = document.getElementById('account');
  var S = {
    me: null, // the account, as `GET /organizer/me` gives it
    zone: 'Asia/Shanghai',
    path: [], // [{id, name}] from the organizer's own unit down to the current one
    timers: [],
    generation: 0, // bumped by every page shown: a page's late answers and timers see it moved
    people: {}, // participant id → the search row last seen, for the attempts page's heading
    wanted: null, // the page asked for before a login got in the way
    period: {}, // {from, to} last chosen on the figures or questions page; their tabs keep it
  };
  // Rejection of a request the session answered (login page shown instead): nothing to report.
  var HANDLED = { handled: true };

  // ---------------------------------------------------------------- requests

  // A request that has not answered in this long counts as a network failure: on a weak phone
  // connection a fetch can hang for minutes, which would stall the live page without a word.
  var TIMEOUT_MS = 20000;

  // fetch with the session cookie; resolves {status, body, retryAfter}; rejects on network failure
  // or after TIMEOUT_MS.
  // `background`: a poll the page makes by itself, which does not count as the person's activity
  // for the idle logout (docs/privacy.md).
  function api(method, path, body, contentType, background) {
    var headers = { 'Accept': 'application/json', 'X-Requested-With': 'safequiz' };
    if (background) headers['X-Background'] = '1';
    var payload;
    if (body !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
      payload = contentType ? body : JSON.stringify(body);
    }
    var abort = typeof AbortController === 'function' ? new AbortController() : null;
    var request = fetch(path.indexOf('/api/') === 0 ? path : API + path, {
      method: method, headers: headers, body: payload, credentials: 'same-origin', cache: 'no-store',
      signal: abort ? abort.signal : undefined,
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: response.status, body: data, retryAfter: response.headers.get('Retry-After') };
      });
    });
    var timer;
    var timeout = new Promise(function (resolve, reject) {
      timer = setTimeout(function () {
        if (abort) abort.abort();
        reject(new TypeError('timeout'));
      }, TIMEOUT_MS);
    });
    return Promise.race([request, timeout]).then(function (r) {
      clearTimeout(timer);
      return r;
    }, function (e) {
      clearTimeout(timer);
      throw e;
    });
  }

  // Shows the login, and afterwards the page that was asked for.
  function toLogin() {
    var at = location.hash;
    if (at && at.indexOf('#/login') !== 0 && at.indexOf('#/password') !== 0) S.wanted = at;
    S.me = null;
    go('#/login');
  }

  // A request of a logged-in page: an ended session shows the login, a one-time password the
  // password change, and the promise rejects with HANDLED.
  function call(method, path, body, contentType, background) {
    return api(method, path, body, contentType, background).then(function (r) {
      if (r.status === 401) {
        toLogin();
        throw HANDLED;
      }
      if (r.status === 403 && r.body && (r.body.error === 'password_change_required' || r.body.error === 'password_expired')) {
        if (S.me) S.me.must_change_password = true;
        go('#/password');
        throw HANDLED;
      }
      if (r.status === 403 && r.body && r.body.error === 'totp_enrollment_required') {
        go('#/totp');
        throw HANDLED;
      }
      return r;
    });
  }

  function get(path) { return call('GET', path); }

  // "?a=1&b=2" from the non-empty values of `params`.
  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v !== undefined && v !== null && v !== '') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    });
    return parts.length ? '?' + parts.join('&') : '';
  }

  function messageOf(r, fallback) {
    return (r.body && r.body.message) || fallback;
  }

  // ---------------------------------------------------------------- page frame

  function stopTimers() {
    S.timers.forEach(function (t) { clearTimeout(t); });
    S.timers = [];
  }

  function show(nodes) {
    stopTimers();
    S.generation += 1;
    app.textContent = '';
    nodes.forEach(function (n) { if (n) app.appendChild(n); });
    window.scrollTo(0, 0);
  }

  // Wraps a page's callbacks so that they do nothing once another page is shown: a slow answer
  // must not replace the page the organizer has moved on to. Take it right after `show`.
  function whileShown() {
    var generation = S.generation;
    return function (callback) {
      return function (value) {
        if (generation === S.generation) return callback(value);
      };
    };
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // The page says what went wrong and offers to try again.
  // A refusal (4xx) is not retried: only the way back to the organizer's own unit is offered.
  // `back` ({href, text}) offers a way back besides the organizer's own unit.
  function failed(retry, back) {
    return function (error) {
      if (error === HANDLED) return;
      var refusal = error && error.status >= 400 && error.status < 500;
      var text = error && error.status ? error.message
        : error instanceof TypeError ? '网络连接失败，请检查网络后重试。' : '页面出错了，请刷新后重试。';
      show([h('div', { class: 'card' }, [
        h('p', { class: 'notice', role: 'alert', text: text }),
        refusal ? null : h('button', { class: 'btn', type: 'button', text: '重试', onclick: retry }),
        back ? h('a', { class: 'btn secondary', href: back.href, text: back.text }) : null,
        S.me ? h('a', { class: 'btn secondary', href: '#/progress/' + encodeURIComponent(S.me.unit_id), text: '返回本单位' }) : null,
      ])]);
    };
  }

  // A refused request's message as an Error, for `failed`.
  function refused(r) {
    var error = new Error(r.status === 404 ? '未找到，或不在您管辖的范围内。' : messageOf(r, '请求失败（' + r.status + '），请稍后重试。'));
    error.status = r.status;
    return error;
  }

  function loading(text) { show([h('p', { class: 'loading', text: text || '正在加载…' })]); }

  var TABS = [
    { page: 'progress', name: '实时进度' },
    { page: 'people', name: '参与人员' },
    { page: 'figures', name: '统计报表' },
    { page: 'questions', name: '题目分析' },
    { page: 'headcounts', name: '应参与人数' },
    { page: 'flags', name: '公平性核查' },
  ];

  // The header and tabs of a logged-in page about `unitId`; the period pages' tabs keep the
  // period last chosen.
  function frame(page, unitId) {
    nav.hidden = false;
    nav.textContent = '';
    var active = null;
    TABS.forEach(function (tab) {
      var period = tab.page === 'figures' || tab.page === 'questions' ? query(S.period) : '';
      var link = h('a', {
        href: '#/' + tab.page + '/' + encodeURIComponent(unitId) + period,
        'aria-current': tab.page === page ? 'page' : null,
        text: tab.name,
      });
      if (tab.page === page) active = link;
      nav.appendChild(link);
    });
    // Self-registered organizations (issue 18): their figures and the administrator queue.
    if (S.me.organizations) {
      [['orgs', '单位情况'], ['applications', '管理员审核']].forEach(function (t) {
        var link = h('a', { href: '#/' + t[0], 'aria-current': page === t[0] ? 'page' : null, text: t[1] });
        if (page === t[0]) active = link;
        nav.appendChild(link);
      });
    }
    // The audit trail: only for the organizer of the whole campaign.
    if (S.me.unit_id === '*') {
      var audit = h('a', { href: '#/audit', 'aria-current': page === 'audit' ? 'page' : null, text: '审计日志' });
      if (page === 'audit') active = audit;
      nav.appendChild(audit);
    }
    // On a narrow phone the last tabs are off screen: bring the current one into view.
    if (active) nav.scrollLeft = Math.max(0, active.offsetLeft - 24);
    account.textContent = '';
    account.appendChild(h('span', { class: 'who', text: S.me.username + ' · ' + S.me.unit_name }));
    account.appendChild(h('a', { href: '#/password', text: '修改密码' }));
    account.appendChild(h('a', { href: '#/totp', text: '双因素认证' }));
    account.appendChild(h('button', { type: 'button', text: '退出', onclick: logout }));
  }

  function bare() {
    nav.hidden = true;
    account.textContent = '';
  }

  function currentUnit() { return S.path[S.path.length - 1]; }

  // Makes `id` (just answered by the server, so within reach) the current unit: back up the
  // path when it is on it, else step down to it. Kept for the tab, so a reload keeps it.
  function enter(id, name) {
    var found = false;
    for (var i = 0; i < S.path.length && !found; i++) {
      if (S.path[i].id === id) {
        S.path = S.path.slice(0, i + 1);
        if (name) S.path[i].name = name;
        found = true;
      }
    }
    if (!found) S.path.push({ id: id, name: name || id });
    keepPath();
  }

  // The whole path as the server gives it (`/organizer/progress`): right after a shared link too.
  function setPath(steps) {
    S.path = steps.map(function (step) { return { id: step.unit_id, name: step.name }; });
    keepPath();
  }

  function keepPath() {
    try { sessionStorage.setItem('safequiz:organizer-path', JSON.stringify(S.path)); } catch (e) { return; }
  }

  // The path kept for this tab, when it starts at the organizer's own unit.
  function keptPath() {
    try {
      var path = JSON.parse(sessionStorage.getItem('safequiz:organizer-path') || '[]');
      if (path.length && path[0].id === S.me.unit_id) return path;
    } catch (e) {
      return [];
    }
    return [];
  }

  function crumbs(page) {
    if (S.path.length < 2) return null;
    return h('nav', { class: 'crumbs', 'aria-label': '单位层级' }, S.path.map(function (unit, i) {
      var last = i === S.path.length - 1;
      return h('span', {}, [
        last ? h('strong', { text: unit.name }) : h('a', { href: '#/' + page + '/' + encodeURIComponent(unit.id), text: unit.name }),
        last ? null : h('span', { class: 'sep', 'aria-hidden': 'true', text: ' › ' }),
      ]);
    }));
  }

  // ---------------------------------------------------------------- formats

  function num(n) { return n === null || n === undefined ? '—' : Number(n).toLocaleString('zh-CN'); }
  function avg(n) { return n === null || n === undefined ? '—' : Number(n).toFixed(2); }
  function rate(r) { return r === null || r === undefined ? '—' : (r * 100).toFixed(1) + '%'; }
  function time(iso) { return iso ? SQ.localTime(iso, S.zone) : '—'; }

  // Today's date (YYYY-MM-DD) in `zone`, by this device's clock.
  function dayIn(zone) {
    var parts = {};
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
        .formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    } catch (e) {
      return '';
    }
    return parts.year && parts.month && parts.day ? parts.year + '-' + parts.month + '-' + parts.day : '';
  }

  // A definition list of labelled figures: [[label, text, class]].
  function figureList(pairs) {
    return h('dl', { class: 'figures' }, pairs.map(function (p) {
      return h('div', { class: p[2] || null }, [h('dt', { text: p[0] }), h('dd', { text: p[1] })]);
    }));
  }

  // ---------------------------------------------------------------- unit tables

  // A table of units sortable by any column: `columns` are {key, name, value(item), text(item)};
  // `sort` ({key, desc}) is kept by the caller so that a live refresh keeps the order chosen.
  // `previous` maps unit id → {key: value} of the last refresh: changed cells flash.
  function unitTable(caption, items, columns, sort, onSort, linkOf, previous) {
    var order = items.map(function (item, i) { return { item: item, i: i }; });
    var column = columns.filter(function (c) { return c.key === sort.key; })[0] || columns[0];
    order.sort(function (a, b) {
      var x = column.value(a.item);
      var y = column.value(b.item);
      if (x === y || (x === null && y === null)) return a.i - b.i;
      if (x === null) return 1; // no figure: last either way
      if (y === null) return -1;
      var d = typeof x === 'string' ? x.localeCompare(y, 'zh-CN') : x - y;
      return (sort.desc ? -d : d) || a.i - b.i;
    });
    var head = h('tr', {}, columns.map(function (c) {
      var active = c.key === column.key;
      return h('th', { scope: 'col', 'aria-sort': active ? (sort.desc ? 'descending' : 'ascending') : null }, [
        h('button', {
          type: 'button',
          'data-sort': c.key,
          text: c.name + (active ? (sort.desc ? ' ↓' : ' ↑') : ''),
          onclick: function () {
            onSort({ key: c.key, desc: active ? !sort.desc : c.key !== 'name' });
          },
        }),
      ]);
    }));
    var rows = order.map(function (o) {
      var item = o.item;
      var before = previous && previous[item.unit_id];
      return h('tr', { 'data-unit': item.unit_id }, columns.map(function (c, ci) {
        var changed = before && before[c.key] !== undefined && before[c.key] !== c.value(item);
        var cls = c.key + (changed ? ' bump' : '');
        if (ci === 0) {
          var link = linkOf && linkOf(item);
          return h('th', { scope: 'row', class: cls }, [link ? h('a', { href: link, text: c.text(item) }) : c.text(item)]);
        }
        return h('td', { class: cls, text: c.text(item) });
      }));
    });
    return h('div', { class: 'scroll' }, [
      h('table', { class: 'units' }, [h('caption', { class: 'sr', text: caption }), h('thead', {}, [head]), h('tbody', {}, rows)]),
    ]);
  }

  function column(key, name, value, text) {
    return { key: key, name: name, value: value, text: text || function (item) { return num(value(item)); } };
  }

  var NAME = column('name', '单位', function (u) { return u.name; }, function (u) { return u.name; });

  // The columns every unit table has, as the exported files name them.
  function figureColumns() {
    return [
      NAME,
      column('participants', '参与人数', function (u) { return u.participants; }),
      column('attempts', '参与人次', function (u) { return u.attempts; }),
      column('points', '总分', function (u) { return u.points; }),
      column('full_marks', '满分次数', function (u) { return u.full_marks; }),
      column('avg_score', '平均分', function (u) { return u.attempts ? u.avg_score : null; }, function (u) { return u.attempts ? avg(u.avg_score) : '—'; }),
    ];
  }

  // Values of `columns` per unit, for the next refresh's comparison.
  function snapshot(items, columns) {
    var map = {};
    items.forEach(function (item) {
      var values = {};
      columns.forEach(function (c) { values[c.key] = c.value(item); });
      map[item.unit_id] = values;
    });
    return map;
  }

  // ---------------------------------------------------------------- login and password

  function login() {
    bare();
    var user = h('input', { id: 'username', name: 'username', autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false', required: true });
    var pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    var error = h('p', { class: 'error', role: 'alert' });
    var button = h('button', { class: 'btn', type: 'submit', text: '登录' });
    var code = h('input', { id: 'totp-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '9' });
    var codeBox = h('div', { id: 'totp-box', hidden: true }, [
      h('label', { for: 'totp-code', text: '动态验证码（或恢复码）' }), code,
    ]);
    var form = h('form', { class: 'card narrow', novalidate: true }, [
      h('h1', { text: '组织者登录' }),
      h('p', { class: 'muted', text: '账号由上级组织单位开通。首次登录请使用发给您的初始密码，登录后需设置新密码。' }),
      h('label', { for: 'username', text: '用户名' }), user,
      h('label', { for: 'password', text: '密码' }), pass,
      codeBox,
      error, button,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (!user.value.trim() || !pass.value) { error.textContent = '请输入用户名和密码'; return; }
      button.disabled = true;
      error.textContent = '';
      var body = { username: user.value.trim(), password: pass.value };
      if (!codeBox.hidden && code.value.trim()) body.totp_code = code.value.trim();
      api('POST', '/login', body).then(function (r) {
        button.disabled = false;
        if (r.status === 200) {
          S.me = r.body.organizer;
          S.me.must_change_password = r.body.must_change_password || r.body.password_expired;
          S.path = keptPath();
          var wanted = S.wanted || '#/progress';
          S.wanted = null;
          go(S.me.must_change_password ? '#/password' : r.body.totp_enrollment_required ? '#/totp' : wanted);
        } else if (r.status === 403 && r.body && r.body.error === 'totp_required') {
          codeBox.hidden = false;
          error.textContent = messageOf(r, '请输入动态验证码');
          code.focus();
        } else if (r.status === 401 && !codeBox.hidden) {
          error.textContent = messageOf(r, '动态验证码错误');
          code.value = '';
          code.focus();
        } else if (r.status === 401) {
          error.textContent = '用户名或密码错误';
          pass.value = '';
          pass.focus();
        } else {
          error.textContent = messageOf(r, '登录失败，请稍后重试');
        }
      }, function () {
        button.disabled = false;
        error.textContent = '网络连接失败，请检查网络后重试';
      });
    });
    show([form]);
    user.focus();
  }

  function password() {
    var forced = S.me.must_change_password;
    if (forced) bare();
    else frame('password', currentUnit().id);
    var current = h('input', { id: 'current', type: 'password', autocomplete: 'current-password', required: true });
    var fresh = h('input', { id: 'new', type: 'password', autocomplete: 'new-password', required: true, minlength: '10' });
    var again = h('input', { id: 'again', type: 'password', autocomplete: 'new-password', required: true });
    var error = h('p', { class: 'error', role: 'alert' });
    var button = h('button', { class: 'btn', type: 'submit', text: '保存新密码' });
    var form = h('form', { class: 'card narrow', novalidate: true }, [
      h('h1', { text: forced ? '请先设置新密码' : '修改密码' }),
      forced ? h('p', { class: 'notice', text: '初始密码只能用于首次登录，密码到期后也须更换。设置新密码后才能查看统计数据。' }) : null,
      h('label', { for: 'current', text: forced ? '初始密码' : '当前密码' }), current,
      h('label', { for: 'new', text: '新密码' }), fresh,
      h('p', { class: 'muted', text: '至少 10 个字符，须同时包含字母和数字，不能与用户名相同。修改后其他设备上的登录将失效。' }),
      h('label', { for: 'again', text: '再次输入新密码' }), again,
      error, button,
      forced ? h('button', { class: 'btn ghost', type: 'button', text: '退出登录', onclick: logout }) : null,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (!current.value || !fresh.value) { error.textContent = '请填写当前密码和新密码'; return; }
      if (fresh.value !== again.value) { error.textContent = '两次输入的新密码不一致'; return; }
      button.disabled = true;
      error.textContent = '';
      call('PUT', '/password', { current_password: current.value, new_password: fresh.value }).then(function (r) {
        button.disabled = false;
        if (r.status === 200) {
          S.me.must_change_password = false;
          var wanted = S.wanted || '#/progress';
          S.wanted = null;
          go(wanted);
        } else {
          error.textContent = messageOf(r, '修改失败，请稍后重试');
        }
      }, function (e) {
        button.disabled = false;
        if (e !== HANDLED) error.textContent = '网络连接失败，请检查网络后重试';
      });
    });
    show([form]);
    current.focus();
  }

  function logout() {
    api('POST', '/logout').then(done, done);
    function done() {
      S.me = null;
      S.path = [];
      S.wanted = null;
      keepPath();
      go('#/login');
    }
  }

  // ---------------------------------------------------------------- second factor and audit (issue 20)

  // Enrols a TOTP second factor: the secret for an authenticator app, a first code to confirm,
  // then the ten recovery codes, shown once.
  function totpPage() {
    frame('totp', currentUnit().id);
    var error = h('p', { class: 'error', role: 'alert' });
    var code = h('input', { id: 'totp-confirm', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6' });
    var secret = h('div', { id: 'totp-secret' });
    var confirm = h('button', { class: 'btn', type: 'submit', text: '确认绑定', disabled: true });
    var start = h('button', { class: 'btn secondary', type: 'button', text: '生成密钥', onclick: function () {
      error.textContent = '';
      call('POST', '/totp').then(function (r) {
        if (r.status !== 200) { error.textContent = messageOf(r, '生成失败，请稍后重试'); return; }
        secret.textContent = '';
        secret.appendChild(h('p', { text: '请在手机身份验证器（如 Microsoft Authenticator、Google 身份验证器、小程序“腾讯身份验证器”）中添加账号，输入以下密钥：' }));
        secret.appendChild(h('p', { class: 'mono', text: r.body.secret }));
        secret.appendChild(h('p', { class: 'muted', text: r.body.otpauth_uri }));
        confirm.disabled = false;
        code.focus();
      }, function (e) { if (e !== HANDLED) error.textContent = '网络连接失败，请检查网络后重试'; });
    } });
    var form = h('form', { class: 'card narrow', novalidate: true }, [
      h('h1', { text: '双因素认证（动态验证码）' }),
      h('p', { class: 'muted', text: '绑定后，登录时除密码外还须输入手机上显示的 6 位动态验证码。重新生成密钥会使原来的绑定失效。' }),
      start, secret,
      h('label', { for: 'totp-confirm', text: '验证器显示的 6 位验证码' }), code,
      error, confirm,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      error.textContent = '';
      call('POST', '/totp/confirm', { code: code.value.trim() }).then(function (r) {
        if (r.status !== 200) { error.textContent = messageOf(r, '验证码不正确'); return; }
        show([h('div', { class: 'card narrow' }, [
          h('h1', { text: '已开启双因素认证' }),
          h('p', { class: 'notice', text: '请抄写并妥善保管以下恢复码。手机丢失时，每个恢复码可代替动态验证码登录一次。本页关闭后不再显示。' }),
          h('ul', { class: 'mono', id: 'recovery-codes' }, r.body.recovery_codes.map(function (c) { return h('li', { text: c }); })),
          h('a', { class: 'btn', href: '#/progress', text: '继续' }),
        ])]);
      }, function (e) { if (e !== HANDLED) error.textContent = '网络连接失败，请检查网络后重试'; });
    });
    show([form]);
  }

  var AUDIT_ACTIONS = {
    login: '登录', logout: '退出', password_change: '修改密码', totp: '双因素认证', export: '导出',
    view_attempts: '查看答题记录', headcount: '修改应参与人数', self_deletion: '参赛者注销',
    purge: '清除个人信息', audit_read: '查看审计日志',
  };

  // The audit trail, newest first, a page at a time (organizer of the whole campaign only).
  function auditPage(params) {
    frame('audit', currentUnit().id);
    var rows = h('tbody', {});
    var more = h('button', { class: 'btn secondary', type: 'button', text: '更早的记录', hidden: true });
    var error = h('p', { class: 'error', role: 'alert' });
    var before = null;
    function load() {
      more.disabled = true;
      get('/audit' + query({ from: params.from, to: params.to, before: before, per_page: 100 })).then(whileShown()(function (r) {
        more.disabled = false;
        if (r.status !== 200) { error.textContent = messageOf(r, '无法读取审计日志'); return; }
        r.body.rows.forEach(function (row) {
          rows.appendChild(h('tr', {}, [
            h('td', { text: time(new Date(row.at_ms).toISOString()) }),
            h('td', { text: row.actor }),
            h('td', { text: AUDIT_ACTIONS[row.action] || row.action }),
            h('td', { text: row.scope }),
            h('td', { text: row.detail }),
            h('td', { text: row.address }),
            h('td', { text: row.outcome === 'ok' ? '成功' : row.outcome }),
          ]));
        });
        before = r.body.next;
        more.hidden = before === null;
      }), function (e) { more.disabled = false; if (e !== HANDLED) error.textContent = '网络连接失败，请检查网络后重试'; });
    }
    more.addEventListener('click', load);
    show([
      h('h1', { text: '审计日志' }),
      h('p', { class: 'muted', text: '登录、导出、查看答题记录、修改应参与人数、修改密码、参赛者注销等操作均留有记录，记录只增不改，至少保存 180 天。默认显示最近 30 天。' }),
      error,
      h('table', { class: 'table', id: 'audit' }, [
        h('thead', {}, [h('tr', {}, ['时间', '操作者', '操作', '范围', '内容', '来源地址', '结果'].map(function (t) { return h('th', { scope: 'col', text: t }); }))]),
        rows,
      ]),
      more,
    ]);
    load();
  }

  // ---------------------------------------------------------------- live progress

  var progressSort = { key: 'points', desc: true };

  function progress(unitId) {
    frame('progress', unitId);
    var live = h('p', { class: 'live', id: 'live', role: 'status', text: '正在连接…' });
    var heading = h('h1', { text: currentUnit().id === unitId ? currentUnit().name : '' });
    var path = h('div', {});
    var totals = h('div', { id: 'totals' });
    var days = h('div', { class: 'card', id: 'today' }, [h('p', { class: 'muted', text: '今日与昨日：正在加载…' })]);
    var children = h('div', { id: 'children' });
    var idle = h('div', { id: 'not-started' });
    show([path, h('div', { class: 'card' }, [heading, live, totals]), days, children, idle]);
    var generation = S.generation;

    var figures = null; // the SQL figures: headcounts, today and yesterday
    var last = null; // the last progress answer
    var previous = null;
    var figuresAt = 0; // when the SQL figures were last asked for (local clock)
    var moved = false; // the live figures changed since then
    var failures = 0;
    var columns = figureColumns().concat([
      column('rate', '参与率', function (u) { return liveRate(u.participants, headcountOf(u.unit_id)); }, function (u) { return rate(liveRate(u.participants, headcountOf(u.unit_id))); }),
    ]);

    var headcounts = {}; // unit id → headcount, from the figures

    function headcountOf(id) {
      return headcounts[id] === undefined ? null : headcounts[id];
    }

    function liveRate(participants, headcount) {
      return headcount ? participants / headcount : null;
    }

    function render() {
      if (!last) return;
      var p = last;
      heading.textContent = p.name;
      var t = p.totals;
      totals.textContent = '';
      totals.appendChild(figureList([
        ['参与人数', num(t.participants), 'participants'],
        ['参与人次', num(t.attempts), 'attempts'],
        ['总分', num(t.points), 'points'],
        ['满分次数', num(t.full_marks), 'full_marks'],
        ['平均分', t.attempts ? avg(t.avg_score) : '—', 'avg_score'],
        ['参与率', rate(liveRate(t.participants, headcountOf(p.unit_id))), 'rate'],
      ]));
      // The table is built anew: keep where it was scrolled to sideways and the focused
      // sort button, or a phone would jump back every 5 s.
      var scrolled = children.querySelector('.scroll');
      var scrollLeft = scrolled ? scrolled.scrollLeft : 0;
      var focused = document.activeElement && children.contains(document.activeElement)
        ? document.activeElement.getAttribute('data-sort') : null;
      children.textContent = '';
      idle.textContent = '';
      if (!p.items.length) {
        children.appendChild(h('p', { class: 'card muted', text: '本单位没有下级单位。每位参与者的成绩见「参与人员」。' }));
        return;
      }
      children.appendChild(h('h2', { text: '下级单位（' + p.items.length + ' 个）' }));
      children.appendChild(unitTable(p.name + '下级单位实时进度', p.items, columns, progressSort, function (sort) {
        progressSort = sort;
        render();
      }, function (item) {
        return item.has_children ? '#/progress/' + encodeURIComponent(item.unit_id) : null;
      }, previous));
      var table = children.querySelector('.scroll');
      if (table) table.scrollLeft = scrollLeft;
      var sortButton = focused && children.querySelector('button[data-sort="' + focused + '"]');
      if (sortButton) sortButton.focus();
      idle.appendChild(h('div', { class: 'card' }, p.not_started.length ? [
        h('h2', { text: '尚未开始答题的下级单位（' + p.not_started.length + ' 个）' }),
        h('p', { class: 'idle', text: p.not_started.join('、') }),
      ] : [h('p', { class: 'ok', text: '全部下级单位均已有人完成答题。' })]));
    }

    function renderDays() {
      if (!figures) return;
      days.textContent = '';
      var rows = [['', '今日', '昨日']];
      var today = figures.today;
      var yesterday = figures.yesterday;
      days.appendChild(h('h2', { text: '今日与昨日（' + today.date + '）' }));
      days.appendChild(h('table', { class: 'compare' }, [
        h('thead', {}, [h('tr', {}, rows[0].map(function (x) { return h('th', { scope: 'col', text: x }); }))]),
        h('tbody', {}, [
          ['participants', '参与人数', num(today.participants), num(yesterday.participants)],
          ['attempts', '参与人次', num(today.attempts), num(yesterday.attempts)],
          ['full_marks', '满分次数', num(today.full_marks), num(yesterday.full_marks)],
          ['avg_score', '平均分', today.attempts ? avg(today.avg_score) : '—', yesterday.attempts ? avg(yesterday.avg_score) : '—'],
        ].map(function (row) {
          return h('tr', { 'data-figure': row[0] }, [
            h('th', { scope: 'row', text: row[1] }),
            h('td', { class: 'today', text: row[2] }),
            h('td', { class: 'yesterday', text: row[3] }),
          ]);
        })),
      ]));
      days.appendChild(h('p', { class: 'muted', text: '今日、昨日的数字来自已保存的成绩，比上方的实时数字晚几秒。参与率 = 实时参与人数 ÷ 应参与人数。' }));
    }

    // Only the headcounts and today/yesterday are wanted here, which every period carries: a
    // one-day period keeps this refresh an index range scan, not the whole campaign's attempts.
    function loadFigures() {
      var today = dayIn(S.zone);
      call('GET', '/figures' + query({ unit: unitId, from: today, to: today }), undefined, undefined, true).then(function (r) {
        if (generation !== S.generation) return;
        if (r.status === 200) {
          figures = r.body;
          headcounts = {};
          headcounts[figures.unit_id] = figures.total.headcount;
          figures.children.forEach(function (c) { headcounts[c.unit_id] = c.headcount; });
          renderDays();
          render();
        }
      }, function () {
        // A missed refresh of these slower figures is retried on the next due poll.
        figuresAt = 0;
      });
    }

    function poll() {
      var age = Date.now() - figuresAt;
      var figuresDue = age >= FIGURES_MAX_AGE_MS || (moved && age >= FIGURES_MOVED_AGE_MS);
      if (figuresDue) {
        figuresAt = Date.now();
        moved = false;
        loadFigures();
      }
      call('GET', '/progress' + query({ unit: unitId }), undefined, undefined, !!last).then(function (r) {
        if (generation !== S.generation) return;
        if (r.status !== 200) throw refused(r);
        failures = 0;
        if (last) previous = snapshot(last.items, columns);
        if (last && last.totals.attempts !== r.body.totals.attempts) moved = true;
        if (!last) {
          setPath(r.body.path);
          path.appendChild(crumbs('progress') || h('span', {}));
        }
        last = r.body;
        render();
        live.className = 'live';
        live.textContent = '● 实时 · 更新于 ' + SQ.clockTime(last.at, S.zone) + '，每 ' + POLL_MS / 1000 + ' 秒刷新';
        schedule();
      }).catch(function (error) {
        if (error === HANDLED || generation !== S.generation) return;
        // A refusal (the unit is out of reach, the account ended) is not a network hiccup.
        if (!last || (error && error.status)) return failed(function () { progress(unitId); })(error);
        failures += 1;
        live.className = 'live warn';
        live.textContent = '网络不稳定，显示的是 ' + SQ.clockTime(last.at, S.zone) + ' 的数据，正在重试…';
        schedule();
      });
    }

    // The next poll, later after failures (up to 30 s), none while the page is hidden.
    function schedule() {
      var wait = Math.min(30000, POLL_MS * Math.pow(2, failures));
      S.timers.push(setTimeout(function () {
        if (!document.hidden) return poll();
        document.addEventListener('visibilitychange', function resume() {
          document.removeEventListener('visibilitychange', resume);
          if (generation === S.generation) poll();
        });
      }, wait));
    }

    poll();
  }

  // ---------------------------------------------------------------- figures, daily, downloads

  // What is wrong with a typed date, in Chinese, or '' for a day the reports cover: YYYY-MM-DD,
  // a real calendar day, 1900-01-01 to 9999-12-31 (the server refuses the rest with 400,
  // docs/api.md). Checked before asking, since a browser without a date picker, or a typo in
  // the year (0026), passes anything.
  function dateProblem(text) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (!m) return '日期请按 2026-06-01 的格式填写';
    var year = Number(m[1]);
    var month = Number(m[2]);
    var day = Number(m[3]);
    // Built in a leap year, then moved: Date.UTC reads years below 100 as 19xx.
    var date = new Date(Date.UTC(2000, month - 1, day));
    date.setUTCFullYear(year);
    if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
      return '没有 ' + text + ' 这一天，请检查月份和日期';
    }
    if (year < 1900) return '日期 ' + text + ' 超出范围（应在 1900-01-01 至 9999-12-31 之间），请检查年份';
    return '';
  }

  // The period form of the figures and question pages: `from` and `to`, empty for the campaign.
  function periodForm(page, unitId, params, extra) {
    var from = h('input', { id: 'from', type: 'date', value: params.from || '', placeholder: '2026-06-01' });
    var to = h('input', { id: 'to', type: 'date', value: params.to || '', placeholder: '2026-06-30' });
    var error = h('p', { class: 'error', role: 'alert' });
    var form = h('form', { class: 'card filters' }, [
      h('div', {}, [h('label', { for: 'from', text: '开始日期' }), from]),
      h('div', {}, [h('label', { for: 'to', text: '结束日期' }), to]),
      h('div', { class: 'actions' }, [
        h('button', { class: 'btn', type: 'submit', text: '查询' }),
        h('a', { class: 'btn ghost', href: '#/' + page + '/' + encodeURIComponent(unitId), text: '整个竞赛期间' }),
      ]),
      error,
      extra || null,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      // A browser without a date picker takes typed text: check it here, not at the server.
      var a = from.value.trim();
      var b = to.value.trim();
      var problem = (a && dateProblem(a)) || (b && dateProblem(b));
      if (problem) { error.textContent = problem; return; }
      if (a && b && a > b) { error.textContent = '开始日期不能晚于结束日期'; return; }
      go('#/' + page + '/' + encodeURIComponent(unitId) + query({ from: a, to: b }));
    });
    return form;
  }

  function download(kind, params, what) {
    var base = API + '/exports/' + kind;
    var q = query(params);
    return h('div', { class: 'download' }, [
      h('span', { text: what }),
      h('a', { class: 'btn secondary', href: base + '.xlsx' + q, download: '', 'data-export': kind + '.xlsx', text: 'Excel 表格' }),
      h('a', { class: 'btn secondary', href: base + '.csv' + q, download: '', 'data-export': kind + '.csv', text: 'CSV 文件' }),
    ]);
  }

  function downloadHint() {
    var wechat = /MicroMessenger/i.test(navigator.userAgent);
    return h('p', { class: wechat ? 'notice' : 'muted', text: wechat
      ? '微信内可能无法直接下载文件：请点右上角「…」，选择「在浏览器打开」（苹果手机为「在 Safari 中打开」），在浏览器中重新登录后即回到本页，再点下载。'
      : 'Excel 与 WPS 均可直接打开；CSV 为 UTF-8 编码，中文和单位代码不会乱码或变形。' });
  }

  var figureSort = { key: 'points', desc: true };

  function figuresPage(unitId, params) {
    S.period = { from: params.from, to: params.to };
    frame('figures', unitId);
    loading('正在统计…');
    var shown = whileShown();
    var period = { unit: unitId, from: params.from, to: params.to };
    Promise.all([get('/figures' + query(period)), get('/daily' + query(period))]).then(shown(function (rs) {
      var r = rs[0];
      var d = rs[1];
      if (r.status !== 200) throw refused(r);
      if (d.status !== 200) throw refused(d);
      var f = r.body;
      enter(f.unit_id, f.name);
      var t = f.total;
      var columns = figureColumns().concat([
        column('headcount', '应参与人数', function (u) { return u.headcount; }),
        column('participation_rate', '参与率', function (u) { return u.participation_rate; }, function (u) { return rate(u.participation_rate); }),
      ]);
      var table = h('div', {});
      function renderTable() {
        table.textContent = '';
        if (!f.children.length) return;
        table.appendChild(h('h2', { text: '下级单位' }));
        table.appendChild(unitTable(f.name + '下级单位统计', f.children, columns, figureSort, function (sort) {
          figureSort = sort;
          renderTable();
        }, function (item) {
          return '#/figures/' + encodeURIComponent(item.unit_id) + query(S.period);
        }, null));
      }
      renderTable();
      var exportPeriod = { unit: unitId, from: f.from, to: f.to };
      show([
        crumbs('figures'),
        periodForm('figures', unitId, params),
        h('div', { class: 'card' }, [
          h('h1', { text: f.name }),
          h('p', { class: 'muted', id: 'period', text: '统计期间：' + f.from + ' 至 ' + f.to + '（按答题开始的日期计）' }),
          figureList([
            ['参与人数', num(t.participants)],
            ['参与人次', num(t.attempts)],
            ['总分', num(t.points)],
            ['满分次数', num(t.full_marks)],
            ['平均分', t.attempts ? avg(t.avg_score) : '—'],
            ['应参与人数', num(t.headcount)],
            ['参与率', rate(t.participation_rate)],
          ]),
        ]),
        table,
        f.not_started.length ? h('div', { class: 'card' }, [
          h('h2', { text: '期间内无人答题的下级单位（' + f.not_started.length + ' 个）' }),
          h('p', { class: 'idle', text: f.not_started.join('、') }),
        ]) : null,
        dailyCard(d.body.days),
        h('div', { class: 'card', id: 'downloads' }, [
          h('h2', { text: '下载报表' }),
          download('units', exportPeriod, '单位统计'),
          download('daily', exportPeriod, '每日统计'),
          download('participants', { unit: unitId }, '参与人员名单'),
          downloadHint(),
        ]),
      ]);
    })).catch(shown(failed(function () { figuresPage(unitId, params); }, {
      href: '#/figures/' + encodeURIComponent(unitId), text: '查看整个竞赛期间',
    })));
  }

  var SHOWN_DAYS = 31;

  // The per-day series as bars of attempts, with participants and attempts written out; the
  // last month of the period first (a whole year's window would be a long scroll on a phone).
  function dailyCard(days) {
    var most = days.reduce(function (m, day) { return Math.max(m, day.attempts); }, 0);
    var list = h('ol', { class: 'daily' });
    var card = h('div', { class: 'card' }, [h('h2', { text: '每日参与情况' }), list]);
    function render(count) {
      list.textContent = '';
      days.slice(Math.max(0, days.length - count)).forEach(function (day) { list.appendChild(dayRow(day, most)); });
      if (days.length > count) {
        var more = h('button', { class: 'btn ghost', type: 'button', text: '显示全部 ' + days.length + ' 天', onclick: function () { card.removeChild(more); render(days.length); } });
        card.appendChild(more);
      }
    }
    render(SHOWN_DAYS);
    return card;
  }

  function dayRow(day, most) {
    var bar = h('span', { class: 'meter-fill' });
    bar.style.width = most ? Math.max(day.attempts ? 2 : 0, Math.round(day.attempts / most * 100)) + '%' : '0';
    return h('li', { 'data-date': day.date }, [
      h('span', { class: 'date', text: day.date.slice(5) }),
      h('span', { class: 'meter', 'aria-hidden': 'true' }, [bar]),
      h('span', { class: 'nums', text: num(day.participants) + ' 人 / ' + num(day.attempts) + ' 人次' }),
    ]);
  }

  // ---------------------------------------------------------------- participants

  var PER_PAGE = 20;

  function peoplePage(unitId, params) {
    frame('people', unitId);
    var fields = {
      name: h('input', { id: 'q-name', value: params.name || '', maxlength: '30', autocomplete: 'off' }),
      phone: h('input', { id: 'q-phone', value: params.phone || '', inputmode: 'numeric', maxlength: '4', pattern: '[0-9]{1,4}', autocomplete: 'off' }),
      day: h('input', { id: 'q-day', type: 'date', value: params.day || '' }),
      min_points: h('input', { id: 'q-min', inputmode: 'numeric', maxlength: '6', value: params.min_points || '', autocomplete: 'off' }),
      max_points: h('input', { id: 'q-max', inputmode: 'numeric', maxlength: '6', value: params.max_points || '', autocomplete: 'off' }),
    };
    var error = h('p', { class: 'error', role: 'alert' });
    var form = h('form', { class: 'card filters', role: 'search' }, [
      h('div', {}, [h('label', { for: 'q-name', text: '姓名' }), fields.name]),
      h('div', {}, [h('label', { for: 'q-phone', text: '手机尾号（1-4 位）' }), fields.phone]),
      h('div', {}, [h('label', { for: 'q-day', text: '答题日期' }), fields.day]),
      h('div', {}, [h('label', { for: 'q-min', text: '最低总分' }), fields.min_points]),
      h('div', {}, [h('label', { for: 'q-max', text: '最高总分' }), fields.max_points]),
      h('div', { class: 'actions' }, [
        h('button', { class: 'btn', type: 'submit', text: '查询' }),
        h('a', { class: 'btn ghost', href: '#/people/' + encodeURIComponent(unitId), text: '清空条件' }),
      ]),
      error,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var next = {};
      Object.keys(fields).forEach(function (k) { next[k] = digitsOf(fields[k].value.trim()); });
      if (next.phone && !/^[0-9]{1,4}$/.test(next.phone)) { error.textContent = '手机尾号请填写 1 到 4 位数字'; return; }
      if (next.day && dateProblem(next.day)) { error.textContent = dateProblem(next.day); return; }
      if ((next.min_points && !/^[0-9]+$/.test(next.min_points)) || (next.max_points && !/^[0-9]+$/.test(next.max_points))) { error.textContent = '总分请填写整数'; return; }
      if (next.min_points && next.max_points && Number(next.min_points) > Number(next.max_points)) { error.textContent = '最低总分不能大于最高总分'; return; }
      go('#/people/' + encodeURIComponent(unitId) + query(next));
    });
    var results = h('div', { id: 'people' }, [h('p', { class: 'loading', text: '正在查询…' })]);
    var path = h('div', {});
    show([path, form, results]);
    var shown = whileShown();

    var filters = { unit: unitId, name: params.name, phone: params.phone, day: params.day, min_points: params.min_points, max_points: params.max_points };
    // Pages go by cursor: each answer names where the next page starts. The hash keeps the
    // cursors of every page up to this one (`after=c2,c3,...`), so a reload, a shared link and
    // 上一页 find the same page without the server counting what lies before it.
    var trail = params.after ? String(params.after).split(',') : [];
    var page = trail.length + 1;
    get('/participants' + query(Object.assign({ after: trail[trail.length - 1], per_page: PER_PAGE }, filters))).then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      var b = r.body;
      enter(b.unit_id, null);
      path.appendChild(crumbs('people') || h('span', {}));
      results.textContent = '';
      var count = b.more_than_total ? '超过 ' + num(b.total) + ' 人' : '共 ' + num(b.total) + ' 人';
      results.appendChild(h('p', { class: 'count', id: 'total', text: count + (params.day ? '（' + params.day + ' 当日参与答题）' : '') }));
      if (!b.items.length) {
        results.appendChild(h('p', { class: 'card muted', text: page > 1 ? '这一页没有参与人员了。' : '没有符合条件的参与人员。' }));
      } else {
        results.appendChild(h('ul', { class: 'people' }, b.items.map(function (p) {
          S.people[p.participant_id] = p;
          return h('li', { 'data-participant': String(p.participant_id) }, [
            h('a', { href: '#/person/' + p.participant_id }, [
              h('span', { class: 'name', text: p.name }),
              h('span', { class: 'phone', text: p.phone_masked }),
              h('span', { class: 'unit', text: p.unit_path.map(function (u) { return u.name; }).join(' / ') }),
              h('span', { class: 'stats', text: '总分 ' + num(p.points) + ' · 参与 ' + num(p.attempts) + ' 次 · 满分 ' + num(p.full_marks) + ' 次 · 用时 ' + SQ.duration(p.time_used_ms) }),
            ]),
          ]);
        })));
      }
      var link = function (cursors) {
        return '#/people/' + encodeURIComponent(unitId) + query(Object.assign({}, params, { after: cursors.length ? cursors.join(',') : undefined }));
      };
      if (page > 1 || b.next) {
        var pages = b.more_than_total ? '' : ' / ' + Math.max(page, Math.ceil(b.total / b.per_page));
        results.appendChild(h('div', { class: 'pager' }, [
          page > 1 ? h('a', { class: 'btn secondary', href: link(trail.slice(0, -1)), text: '上一页' }) : h('span', {}),
          h('span', { text: '第 ' + page + pages + ' 页' }),
          b.next ? h('a', { class: 'btn secondary', href: link(trail.concat([b.next])), text: '下一页' }) : h('span', {}),
        ]));
      }
      results.appendChild(h('div', { class: 'card' }, [
        h('h2', { text: '下载名单' }),
        download('participants', filters, '按当前条件（' + (b.more_than_total ? '超过 ' + num(b.total) : '全部 ' + num(b.total)) + ' 人）'),
        downloadHint(),
      ]));
    })).catch(shown(function (e) {
      if (e === HANDLED) return;
      results.textContent = '';
      results.appendChild(h('p', { class: 'notice', role: 'alert', text: e && e.status ? e.message
        : e instanceof TypeError ? '网络连接失败，请稍后重试。' : '页面出错了，请刷新后重试。' }));
    }));
  }

  // Full-width digits (１２０, as some Chinese keyboards type them) as ASCII; commas and spaces
  // inside a number ("1,200") dropped.
  function digitsOf(text) {
    var ascii = text.replace(/[\uff10-\uff19]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xfee0); });
    return /^[0-9][0-9, ]*$/.test(ascii) ? ascii.replace(/[, ]/g, '') : text;
  }

  function personPage(pid) {
    var unitId = currentUnit().id;
    frame('people', unitId);
    loading();
    var shown = whileShown();
    get('/participants/' + encodeURIComponent(pid) + '/attempts').then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      var seen = S.people[pid];
      var attempts = r.body.attempts;
      var words = { chosen: '（所选）', answer: '作答' };
      show([
        h('div', { class: 'card' }, [
          h('h1', { text: seen ? seen.name + ' 的答题记录' : '参与者 ' + pid + ' 的答题记录' }),
          seen ? h('p', { class: 'muted', text: seen.phone_masked + ' · ' + seen.unit_path.map(function (u) { return u.name; }).join(' / ') }) : null,
          seen ? h('p', { text: '累计总分 ' + num(seen.points) + ' 分，参与 ' + num(seen.attempts) + ' 次，用时 ' + SQ.duration(seen.time_used_ms) }) : null,
          h('a', { class: 'btn ghost', href: '#/people/' + encodeURIComponent(unitId), text: '返回名单' }),
        ]),
        attempts.length ? null : h('p', { class: 'card muted', text: '尚未完成答题。' }),
      ].concat(attempts.map(function (a) {
        return h('div', { class: 'card attempt' }, [
          h('h2', { text: a.date + ' · ' + a.score + ' 分（答对 ' + a.correct_count + ' 题）' }),
          h('p', { class: 'muted', text: '开始 ' + time(a.started_at) + '，用时 ' + SQ.duration(a.time_used_ms) + (a.auto_submitted ? '，时间到由系统自动交卷' : '') }),
          h('details', {}, [h('summary', { text: '查看每题作答' })].concat(a.questions.map(function (q) { return SQ.reviewCard(q, words); }))),
        ]);
      })));
    })).catch(shown(failed(function () { personPage(pid); })));
  }

  // ---------------------------------------------------------------- question analysis

  var SHOWN_QUESTIONS = 30;

  function questionsPage(unitId, params) {
    S.period = { from: params.from, to: params.to };
    frame('questions', unitId);
    loading('正在分析…');
    var shown = whileShown();
    get('/questions' + query({ unit: unitId, from: params.from, to: params.to })).then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      var b = r.body;
      enter(b.unit_id, b.name);
      var list = h('div', { id: 'questions' });
      function render(count) {
        list.textContent = '';
        b.items.slice(0, count).forEach(function (q) { list.appendChild(questionCard(q)); });
        if (b.items.length > count) {
          list.appendChild(h('button', { class: 'btn secondary', type: 'button', text: '显示全部 ' + b.items.length + ' 题', onclick: function () { render(b.items.length); } }));
        }
      }
      render(SHOWN_QUESTIONS);
      show([
        crumbs('questions'),
        periodForm('questions', unitId, params),
        h('div', { class: 'card' }, [
          h('h1', { text: b.name + ' · 题目分析' }),
          h('p', { class: 'muted', text: b.from + ' 至 ' + b.to + '，共抽到 ' + b.items.length + ' 道题。正确率低的排在前面：正确率异常低、或某个错误选项特别集中的题，可能题意不清或答案有误，请反馈给命题人员核查。' }),
        ].concat(b.pending_attempts > 0 ? [h('p', { class: 'muted', id: 'questions-pending', text: '另有 ' + b.pending_attempts + ' 份刚交的答卷正在汇总，稍后刷新即计入题目分析。' })] : [])),
        b.items.length ? list : h('p', { class: 'card muted', text: '期间内还没有完成的答题。' }),
      ]);
    })).catch(shown(failed(function () { questionsPage(unitId, params); }, {
      href: '#/questions/' + encodeURIComponent(unitId), text: '查看整个竞赛期间',
    })));
  }

  function questionCard(q) {
    var share = q.share_correct;
    var meter = h('span', { class: 'meter-fill' });
    meter.style.width = Math.round(share * 100) + '%';
    var wrong = q.most_chosen_wrong;
    return h('div', { class: 'card question', 'data-question': q.question_id }, [
      h('p', { class: 'muted', text: [q.question_id, SQ.kindName(q.kind), q.category_name].filter(Boolean).join(' · ') + (q.in_bank ? '' : ' · 题库中已无此题') }),
      h('p', { class: 'stem', text: q.stem || '（题库中已无此题）' }),
      h('p', { class: 'share' + (share < 0.5 ? ' low' : '') }, [
        h('span', { class: 'meter', 'aria-hidden': 'true' }, [meter]),
        '正确率 ' + rate(share) + '（抽到 ' + num(q.drawn) + ' 次，作答 ' + num(q.answered) + ' 次，答对 ' + num(q.correct) + ' 次）',
      ]),
      h('ul', { class: 'choices' }, q.options.map(function (o) {
        var right = q.correct_choices.indexOf(o.key) >= 0;
        return h('li', { class: right ? 'right' : null }, [
          h('span', { class: 'key', text: SQ.choiceLabel(o.key) }),
          h('span', { text: (o.text || '') + (right ? '（正确答案）' : '') }),
          h('span', { class: 'chosen', text: num(o.chosen) + ' 次' }),
        ]);
      })),
      wrong ? h('p', { class: 'wrong-most', text: '最常见的错误答案：' + wrong.choices.map(SQ.choiceLabel).join('、') + '（' + num(wrong.count) + ' 次）' }) : null,
    ]);
  }

  // ---------------------------------------------------------------- headcounts

  function headcountsPage(unitId) {
    frame('headcounts', unitId);
    loading();
    var shown = whileShown();
    get('/figures' + query({ unit: unitId, sort: 'unit' })).then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      var f = r.body;
      enter(f.unit_id, f.name);
      var rows = f.children.map(function (u) {
        // Text, not type=number: a number input reads "1,200" or "120人" as empty, which would
        // clear the saved headcount instead of saying what is wrong.
        var input = h('input', { inputmode: 'numeric', maxlength: '13', autocomplete: 'off', value: u.headcount === null ? '' : String(u.headcount), 'aria-label': u.name + '应参与人数' });
        var state = h('span', { class: 'state', role: 'status' });
        input.addEventListener('change', function () {
          var text = digitsOf(input.value.trim());
          if (text !== '' && !/^[0-9]+$/.test(text)) { state.textContent = '请填写整数，如 1200；未保存'; return; }
          state.textContent = '保存中…';
          call('PUT', '/units/' + encodeURIComponent(u.unit_id) + '/headcount', { headcount: text === '' ? null : Number(text) }).then(function (res) {
            state.textContent = res.status === 200 ? '已保存' : messageOf(res, '保存失败');
          }, function (e) { if (e !== HANDLED) state.textContent = '网络错误，未保存'; });
        });
        return h('tr', { 'data-unit': u.unit_id }, [
          h('th', { scope: 'row' }, [u.name, h('span', { class: 'code', text: u.unit_id })]),
          h('td', {}, [input, state]),
        ]);
      });
      var file = h('input', { id: 'upload', type: 'file', accept: '.csv,text/csv' });
      var result = h('div', { id: 'upload-result', role: 'status' });
      file.addEventListener('change', function () {
        if (!file.files || !file.files[0]) return;
        upload(file.files[0], result, function () { headcountsPage(unitId); });
        // Choosing the same file again (fixed in WPS, saved under the same name) must upload again.
        file.value = '';
      });
      show([
        crumbs('headcounts'),
        h('div', { class: 'card' }, [
          h('h1', { text: f.name + ' · 应参与人数' }),
          h('p', { class: 'muted', text: '应参与人数用于计算参与率（参与人数 ÷ 应参与人数）。' + (f.unit_id === '*'
            ? '全部单位的应参与人数是各下级单位之和' + (f.total.headcount === null ? '，需每个下级单位都设置后才有。' : '，目前为 ' + num(f.total.headcount) + ' 人。')
            : '您可以设置下级单位的应参与人数；本单位的应参与人数由上级设置' + (f.total.headcount === null ? '，目前尚未设置。' : '，目前为 ' + num(f.total.headcount) + ' 人。')) }),
        ]),
        rows.length ? h('div', { class: 'card' }, [
          h('h2', { text: '逐个填写' }),
          h('p', { class: 'muted', text: '填写后离开输入框即保存；清空表示不设置。' }),
          h('div', { class: 'scroll' }, [h('table', { class: 'headcounts' }, [
            h('thead', {}, [h('tr', {}, ['单位', '应参与人数'].map(function (x) { return h('th', { scope: 'col', text: x }); }))]),
            h('tbody', {}, rows),
          ])]),
        ]) : h('p', { class: 'card muted', text: '本单位没有下级单位。' }),
        rows.length ? h('div', { class: 'card' }, [
          h('h2', { text: '用表格批量导入' }),
          h('p', { class: 'muted', text: '第一列为单位代码，第二列为应参与人数，其余列不读取；可用 Excel 或 WPS 另存为 CSV（UTF-8 或 GBK 均可）。有任何一行出错时不会导入任何数据。' }),
          templateLink(f),
          downloadHint(),
          h('label', { for: 'upload', text: '选择 CSV 文件' }), file,
          result,
        ]) : null,
      ]);
    })).catch(shown(failed(function () { headcountsPage(unitId); })));
  }

  // A CSV of the children with their current headcounts, to fill in and upload again.
  function templateLink(f) {
    var lines = ['单位代码,应参与人数,单位名称'].concat(f.children.map(function (u) {
      return '="' + u.unit_id + '",' + (u.headcount === null ? '' : u.headcount) + ',' + u.name.replace(/[",]/g, ' ');
    }));
    var blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
    return h('a', { class: 'btn secondary', href: URL.createObjectURL(blob), download: '应参与人数-' + f.name + '.csv', text: '下载填写模板（含下级单位）' });
  }

  function upload(chosen, result, done) {
    result.textContent = '正在导入…';
    if (chosen.size > 1024 * 1024) { result.textContent = '文件超过 1 MB，请只保留单位代码和人数两列。'; return; }
    var reader = new FileReader();
    reader.onload = function () {
      call('POST', '/headcounts', reader.result, 'text/csv').then(function (r) {
        result.textContent = '';
        if (r.status === 200) {
          result.appendChild(h('p', { class: 'ok', text: '已导入 ' + r.body.updated + ' 个单位的应参与人数。' + (r.body.skipped.length ? '人数为空未修改的行：第 ' + r.body.skipped.join('、') + ' 行。' : '') }));
          result.appendChild(h('button', { class: 'btn secondary', type: 'button', text: '刷新列表', onclick: done }));
          return;
        }
        result.appendChild(h('p', { class: 'notice', role: 'alert', text: messageOf(r, '导入失败，未导入任何数据') }));
        if (r.body && r.body.rows) {
          result.appendChild(h('ul', { class: 'problems' }, r.body.rows.map(function (p) {
            return h('li', { text: '第 ' + p.row + ' 行：' + p.message });
          })));
        }
      }, function (e) { if (e !== HANDLED) result.textContent = '网络错误，未导入。'; });
    };
    reader.onerror = function () { result.textContent = '无法读取该文件。'; };
    reader.readAsArrayBuffer(chosen);
  }

  // ---------------------------------------------------------------- routing

  function parseHash() {
    var hash = (location.hash || '#/').slice(2);
    var q = hash.indexOf('?');
    var params = {};
    if (q >= 0) {
      hash.slice(q + 1).split('&').forEach(function (pair) {
        var kv = pair.split('=');
        if (kv[0]) params[decoded(kv[0])] = decoded((kv[1] || '').replace(/\+/g, ' '));
      });
      hash = hash.slice(0, q);
    }
    var parts = hash.split('/');
    return { page: parts[0] || 'progress', arg: parts[1] ? decoded(parts[1]) : '', params: params };
  }

  // A link mangled on its way (a bare `%` from a chat app) reads as empty, not as an exception.
  function decoded(text) {
    try { return decodeURIComponent(text); } catch (e) { return ''; }
  }

  // ---------------------------------------------------------------- organizations (issue 18)

  // Each organization within the scope: staff and 五进 apart, and its principal person.
  function orgsPage() {
    loading();
    var shown = whileShown();
    get('/organizations').then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      frame('orgs', currentUnit().id);
      var rows = r.body.items.map(function (o) {
        return h('tr', { 'data-unit': o.unit_id }, [
          h('td', { text: o.name }),
          h('td', { text: num(o.staff_took_part) + ' / ' + num(o.staff_registered) }),
          h('td', { text: num(o.staff_points) }),
          h('td', { text: num(o.public_took_part) + ' / ' + num(o.public_registered) }),
          h('td', { text: num(o.public_points) }),
          h('td', { text: o.principal_post ? o.principal_post + (o.principal_took_part ? '（已参赛）' : '（未参赛）') : '未登记' }),
        ]);
      });
      show([h('h1', { text: '单位情况' }), h('table', { class: 'units', id: 'orgs' }, [
        h('caption', { text: '职工与“五进”人员分列（参赛人数 / 报名人数）' }),
        h('thead', {}, [h('tr', {}, ['单位', '职工参赛', '职工总分', '“五进”参赛', '“五进”总分', '主要负责人'].map(function (t) { return h('th', { scope: 'col', text: t }); }))]),
        h('tbody', {}, rows),
      ])]);
    }), failed(orgsPage));
  }

  // The applications of organizations below the organizer: approve (the one-time password is
  // shown once) or refuse with a reason.
  function applicationsPage(status) {
    loading();
    var shown = whileShown();
    get('/admin-applications' + query({ status: status })).then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      frame('applications', currentUnit().id);
      var tabs = h('p', {}, [['pending', '待审核'], ['approved', '已通过'], ['refused', '已拒绝']].map(function (t) {
        return h('a', { class: 'btn ghost', href: '#/applications/' + t[0], 'aria-current': t[0] === status ? 'page' : null, text: t[1] });
      }));
      var list = r.body.items.map(function (a) {
        var result = h('p', { class: 'result', role: 'status' });
        var reason = h('input', { maxlength: '200', placeholder: '拒绝理由', 'aria-label': '拒绝理由' });
        var actions = a.status !== 'pending' ? [h('p', { text: a.status === 'approved' ? '已通过' : '已拒绝：' + (a.reason || '') })] : [
          h('button', { class: 'btn', type: 'button', 'data-approve': a.application_id, text: '通过', onclick: function () {
            call('POST', '/admin-applications/' + a.application_id + '/approval').then(function (x) {
              if (x.status === 201) {
                result.textContent = '已创建管理员账号 ' + x.body.username + '，初始密码 ' + x.body.one_time_password + '（仅显示一次，请告知申请人，首次登录须修改）';
              } else result.textContent = messageOf(x, '操作失败');
            });
          } }),
          reason,
          h('button', { class: 'btn secondary', type: 'button', text: '拒绝', onclick: function () {
            call('POST', '/admin-applications/' + a.application_id + '/refusal', { reason: reason.value }).then(function (x) {
              result.textContent = x.status === 204 ? '已拒绝' : messageOf(x, '操作失败');
            });
          } }),
        ];
        return h('div', { class: 'card', 'data-application': a.application_id }, [
          h('h2', { text: a.org_name }),
          h('p', { text: '申请人：' + a.applicant_name + '，手机 ' + a.phone + '，提交于 ' + time(new Date(a.submitted_at_ms).toISOString()) }),
          h('a', { href: '/api/v1/organizer/admin-applications/' + a.application_id + '/file', target: '_blank', rel: 'noopener', text: '查看授权文件（' + Math.ceil(a.file_size / 1024) + ' KB）' }),
        ].concat(actions, [result]));
      });
      show([h('h1', { text: '单位管理员审核' }), tabs].concat(list.length ? list : [h('p', { class: 'muted', text: '暂无申请' })]));
    }), failed(function () { applicationsPage(status); }));
  }

  // Fair play (docs/fair-play.md): flagged participants with reasons and evidence, each child
  // unit's share, and exclusion or its undo with a reason (each written to the audit trail).
  var REASONS = {
    shared_device: '同一设备多人使用', device_burst: '同一设备短时集中报名或答题',
    network_burst: '同一网段短时集中答题', chained_starts: '多个账号接力答题',
    same_start_minute: '每天同一分钟开始答题', regular_gaps: '作答间隔过于规律',
    no_page_load: '未打开答题页面即答题',
  };
  function evidenceText(e) {
    return Object.keys(e || {}).map(function (k) { return k + '=' + e[k]; }).join('，');
  }
  function flagsPage(unitId, after) {
    frame('flags', unitId);
    loading();
    var shown = whileShown();
    get('/flags' + query({ unit: unitId, after: after || '' })).then(shown(function (r) {
      if (r.status !== 200) throw refused(r);
      var f = r.body;
      var shares = h('table', { class: 'data' }, [
        h('caption', { text: '下级单位被标记的参与比例' }),
        h('tr', {}, ['单位', '参与人数', '被标记人数', '比例'].map(function (t) { return h('th', { scope: 'col', text: t }); })),
      ].concat(f.units.map(function (u) {
        return h('tr', { 'data-unit': u.unit_id }, [
          h('th', { scope: 'row', text: u.name }), h('td', { text: num(u.participants) }),
          h('td', { text: num(u.flagged) }), h('td', { text: rate(u.share) }),
        ]);
      })));
      var items = f.items.map(function (p) {
        var state = h('p', { class: 'state', role: 'status' });
        var reason = h('input', { maxlength: '200', autocomplete: 'off', 'aria-label': '原因', placeholder: '原因（必填）' });
        var excluded = !!p.exclusion;
        var button = h('button', { type: 'button', class: excluded ? 'secondary' : '', text: excluded ? '撤销排除' : '排除成绩', onclick: function () {
          if (!reason.value.trim()) { state.textContent = '请填写原因'; return; }
          state.textContent = '提交中…';
          call(excluded ? 'DELETE' : 'POST', '/participants/' + p.participant_id + '/exclusion', { reason: reason.value.trim() }).then(function (res) {
            if (res.status === 200) flagsPage(unitId, after);
            else state.textContent = messageOf(res, '操作失败');
          }, function (e) { if (e !== HANDLED) state.textContent = '网络错误，未保存'; });
        } });
        return h('div', { class: 'card', 'data-participant': String(p.participant_id) }, [
          h('h2', { text: (p.name || '（未同步姓名）') + ' · ' + p.unit_name + ' · 编号 ' + p.participant_id }),
          h('p', { text: '计入成绩：' + num(p.points) + ' 分，' + num(p.attempts) + ' 次' }),
          h('ul', {}, p.flags.map(function (flag) {
            return h('li', { text: (REASONS[flag.reason] || flag.reason) + '（' + evidenceText(flag.evidence) + '）' });
          })),
          p.exclusion ? h('p', { class: 'notice', text: '已排除：' + p.exclusion.reason + '（' + p.exclusion.by + '，' + time(p.exclusion.at) + '）' }) : null,
          reason, button, state,
        ]);
      });
      var more = f.next_after ? h('a', { class: 'btn secondary', href: '#/flags/' + encodeURIComponent(unitId) + '?after=' + f.next_after, text: '下一页' }) : null;
      show([h('h1', { text: '公平性核查' }), crumbs('flags'), h('p', { class: 'muted', text: '标记只是复核线索，不会自动扣分；排除成绩须填写原因，并记入审计日志。' }), shares]
        .concat(items.length ? items : [h('p', { class: 'muted', text: '暂无被标记的参与者' })], [more]));
    }), failed(function () { flagsPage(unitId, after); }));
  }

  function route() {
    stopTimers();
    var at = parseHash();
    if (at.page === 'login') return login();
    if (!S.me) return whoAmI();
    if (!S.path.length) S.path = [{ id: S.me.unit_id, name: S.me.unit_name }];
    if (at.page === 'password') return password();
    if (S.me.must_change_password) return go('#/password');
    if (at.page === 'totp') return totpPage();
    if (at.page === 'audit') return auditPage(at.params);
    if (at.page === 'person') return personPage(at.arg);
    if (at.page === 'orgs') return orgsPage();
    if (at.page === 'applications') return applicationsPage(at.arg || 'pending');
    // The unit joins the breadcrumbs once the server has answered for it.
    var unitId = at.arg || currentUnit().id;
    switch (at.page) {
      case 'people': return peoplePage(unitId, at.params);
      case 'figures': return figuresPage(unitId, at.params);
      case 'questions': return questionsPage(unitId, at.params);
      case 'headcounts': return headcountsPage(unitId);
      case 'flags': return flagsPage(unitId, at.params.after);
      default: return progress(unitId);
    }
  }

  // Asks who is logged in (the cookie may still hold a session), then routes.
  function whoAmI() {
    loading();
    api('GET', '/me').then(function (r) {
      if (r.status === 401) return toLogin();
      if (r.status !== 200) throw refused(r);
      S.me = r.body;
      S.path = keptPath();
      return api('GET', '/api/v1/campaigns').then(function (c) {
        var campaign = ((c.body && c.body.items) || []).filter(function (x) { return x.id === S.me.campaign_id; })[0];
        if (campaign) S.zone = campaign.time_zone;
        document.title = S.me.campaign_title + ' · 组织者后台';
        route();
      });
    }).catch(failed(whoAmI));
  }

  if (!window.fetch || !window.Promise || !Object.assign) {
    app.textContent = '';
    app.appendChild(h('p', { class: 'notice', role: 'alert', text: '当前浏览器版本过旧，无法使用组织者后台。请切换到浏览器的「极速模式」，或使用新版 Chrome、Edge、360、QQ 浏览器或手机微信打开。' }));
    return;
  }
  window.addEventListener('hashchange', route);
  route();
})();
