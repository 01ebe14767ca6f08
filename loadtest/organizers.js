// Organizers and big screens while participants answer: boards read every second, screens
// holding the live stream open (each request reads the stream for 10 s, then reconnects, as a
// browser would after a dropped connection), and organizers on the back-office progress page,
// which polls live progress every 5 s and the SQL figures of one day every 30 s. ACCOUNTS is
// `username:one-time-password,...` as `safequiz organizer add` printed them (loadtest/run makes
// them); setup() replaces each one-time password, as the page makes an organizer do.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { BASE, CAMPAIGN } from './lib.js';

const API = `${BASE}/api/v1/campaigns/${CAMPAIGN}`;

export const options = {
  scenarios: {
    boards: { executor: 'constant-vus', vus: 20, duration: __ENV.DURATION || '2m', exec: 'boards' },
    screens: { executor: 'constant-vus', vus: 10, duration: __ENV.DURATION || '2m', exec: 'screens' },
    backoffice: { executor: 'constant-vus', vus: 40, duration: __ENV.DURATION || '2m', exec: 'backoffice' },
  },
  thresholds: {
    'http_req_duration{kind:progress}': ['p(95)<100', 'p(99)<200'],
    'http_req_duration{kind:figures}': ['p(95)<500'],
    'checks{kind:backoffice}': ['rate==1'],
    'http_req_duration{kind:board}': ['p(95)<50', 'p(99)<100'],
    'checks{kind:board}': ['rate==1'],
    'checks{kind:stream}': ['rate==1'],
  },
};

const parents = ['region', '110000', '130000', '440000', 'enterprise'];

export function boards() {
  const parent = parents[Math.floor(Math.random() * parents.length)];
  const units = http.get(`${API}/leaderboards/units?parent=${parent}&sort=points`, { tags: { kind: 'board' } });
  check(units, { 'unit board 200': (r) => r.status === 200 }, { kind: 'board' });
  const people = http.get(`${API}/leaderboards/participants?limit=20`, { tags: { kind: 'board' } });
  check(people, { 'individual board 200': (r) => r.status === 200 }, { kind: 'board' });
  sleep(1);
}

export function screens() {
  // The stream never ends by itself; the timeout ends the read and keeps what arrived.
  const stream = http.get(`${API}/leaderboards/stream?board=units&parent=region`, {
    timeout: '10s',
    tags: { kind: 'stream' },
    responseCallback: http.expectedStatuses(200, 0),
  });
  check(stream, { 'stream sent a board': (r) => (r.body || '').indexOf('event: board') >= 0 }, { kind: 'stream' });
}

const ORGANIZER = `${BASE}/api/v1/organizer`;

export function setup() {
  const sessions = [];
  for (const account of (__ENV.ACCOUNTS || '').split(',').filter(Boolean)) {
    const [username, oneTime] = account.split(':');
    const json = { headers: { 'Content-Type': 'application/json' } };
    const login = http.post(`${ORGANIZER}/login`, JSON.stringify({ username, password: oneTime }), json);
    const first = login.json('token');
    const changed = http.put(
      `${ORGANIZER}/password`,
      JSON.stringify({ current_password: oneTime, new_password: `${username}2026anquan` }),
      { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${first}` } },
    );
    check(changed, { 'password replaced': (r) => r.status === 200 }, { kind: 'backoffice' });
    sessions.push({ username, token: changed.json('token') });
  }
  return { sessions };
}

// One organizer's progress page: a poll every 5 s, the day's figures every sixth poll.
export function backoffice(data) {
  if (!data.sessions.length) return;
  const session = data.sessions[__VU % data.sessions.length];
  const params = (kind) => ({ headers: { Authorization: `Bearer ${session.token}` }, tags: { kind } });
  const progress = http.get(`${ORGANIZER}/progress`, params('progress'));
  check(progress, { 'progress 200': (r) => r.status === 200 }, { kind: 'backoffice' });
  if (__ITER % 6 === 0) {
    const today = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10); // Beijing
    const figures = http.get(`${ORGANIZER}/figures?from=${today}&to=${today}`, params('figures'));
    check(figures, { 'figures 200': (r) => r.status === 200 }, { kind: 'backoffice' });
  }
  sleep(5);
}
