// Organizers and big screens while participants answer: boards read every second, and screens
// holding the live stream open (each request reads the stream for 10 s, then reconnects, as a
// browser would after a dropped connection).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { BASE, CAMPAIGN } from './lib.js';

const API = `${BASE}/api/v1/campaigns/${CAMPAIGN}`;

export const options = {
  scenarios: {
    boards: { executor: 'constant-vus', vus: 20, duration: __ENV.DURATION || '2m', exec: 'boards' },
    screens: { executor: 'constant-vus', vus: 10, duration: __ENV.DURATION || '2m', exec: 'screens' },
  },
  thresholds: {
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
