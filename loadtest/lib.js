// Shared steps of the k6 scenarios: one participant's whole journey, as the pages make it.
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';

export const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
export const CAMPAIGN = __ENV.CAMPAIGN || 'safety-month';
const API = `${BASE}/api/v1/campaigns/${CAMPAIGN}`;
const UNITS = ['110101', '130102', '440106', '510104', '660100', 'CE001'];
const JSON_HEADERS = { 'Content-Type': 'application/json' };

function auth(token) {
  return { headers: Object.assign({ Authorization: `Bearer ${token}` }, JSON_HEADERS) };
}

// Bodies k6 need not read are discarded ('none'): on 2 cores k6's own CPU and garbage collector,
// not the service, otherwise set the latencies it reports.
function tagged(params, kind, keepBody) {
  const extra = { tags: { kind } };
  if (!keepBody) extra.responseType = 'none';
  return Object.assign({}, params, extra);
}

// Registers a new participant (a phone unique in the whole test run), plays one attempt with
// `think` seconds between answers, submits, reads the standing and a board. Logs
// `SUBMIT <attempt> <score>` so loadtest/run can check that SQL has every result.
export function journey(think) {
  const n = exec.scenario.iterationInTest + Number(__ENV.PHONE_OFFSET || 0) + exec.vu.idInTest * 0;
  const phone = `13${String(500000000 + n).padStart(9, '0')}`;
  const unit = UNITS[n % UNITS.length];

  const units = http.get(`${API}/units?entry=region`, tagged({}, 'units'));
  check(units, { 'units 200': (r) => r.status === 200 });

  const registered = http.post(`${API}/participants`,
    JSON.stringify({ name: '压测者', phone, unit_id: unit, consent: true }), tagged({ headers: JSON_HEADERS }, 'register', true));
  if (!check(registered, { 'register 201': (r) => r.status === 201 })) return;
  const token = registered.json('token');

  const started = http.post(`${API}/attempts`, null, tagged(auth(token), 'start', true));
  if (!check(started, { 'start 201': (r) => r.status === 201 })) return;
  const attempt = started.json();
  attempt.questions.forEach((question, index) => {
    if (think > 0) sleep(think * (0.5 + Math.random()));
    const saved = http.put(`${BASE}/api/v1/attempts/${attempt.attempt_id}/answers/${index}`,
      JSON.stringify({ choices: [question.options[0].key], ticket: attempt.save_ticket }), tagged(auth(token), 'save'));
    check(saved, { 'save 204': (r) => r.status === 204 });
  });
  const submitted = http.post(`${BASE}/api/v1/attempts/${attempt.attempt_id}/submit`, null, tagged(auth(token), 'submit', true));
  if (check(submitted, { 'submit 200': (r) => r.status === 200 && r.json('status') === 'final' })) {
    console.log(`SUBMIT ${attempt.attempt_id} ${submitted.json('score')}`);
  }
  const me = http.get(`${API}/me`, tagged(auth(token), 'me', true));
  check(me, { 'me 200': (r) => r.status === 200 && r.json('attempts') === 1 });
  const board = http.get(`${API}/leaderboards/units?parent=region`, tagged({}, 'board'));
  check(board, { 'board 200': (r) => r.status === 200 });
}
