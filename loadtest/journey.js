// The real participant flow at a steady arrival rate of new participants (RATE per second for
// DURATION), with think time between answers. Fails on any failed request or check, or when a
// request kind's p99 passes 100 ms.
import { journey } from './lib.js';

const rate = Number(__ENV.RATE || 300);

export const options = {
  scenarios: {
    journey: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '2m',
      // An iteration lasts about 2 s (5 answers with think time), so rate * 2 VUs carry it;
      // more would only cost k6 memory and garbage collection.
      preAllocatedVUs: Math.max(10, rate * 2),
      maxVUs: Math.max(50, rate * 4),
    },
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    'http_req_duration{kind:register}': ['p(95)<50', 'p(99)<100'],
    'http_req_duration{kind:start}': ['p(95)<50', 'p(99)<100'],
    'http_req_duration{kind:save}': ['p(95)<50', 'p(99)<100'],
    'http_req_duration{kind:submit}': ['p(95)<50', 'p(99)<100'],
    'http_req_duration{kind:me}': ['p(95)<50', 'p(99)<100'],
    'http_req_duration{kind:board}': ['p(95)<50', 'p(99)<100'],
    'http_req_duration{kind:units}': ['p(95)<50', 'p(99)<100'],
  },
};

export default function () {
  journey(Number(__ENV.THINK || 0.3));
}
