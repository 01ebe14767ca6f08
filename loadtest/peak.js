// A whole enterprise told to answer at 9:00: the arrival rate of new participants ramps up until
// the service bends. Read the knee from the per-kind latencies of each stage; the run aborts once
// p99 passes 500 ms, which marks the knee's far side.
import { journey } from './lib.js';

const top = Number(__ENV.TOP || 600);

export const options = {
  scenarios: {
    peak: {
      executor: 'ramping-arrival-rate',
      startRate: 20,
      timeUnit: '1s',
      preAllocatedVUs: 200,
      maxVUs: 2000,
      stages: [
        { target: Math.round(top / 4), duration: '30s' },
        { target: Math.round(top / 2), duration: '30s' },
        { target: top, duration: '30s' },
        { target: top, duration: '30s' },
      ],
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{kind:submit}': [{ threshold: 'p(99)<500', abortOnFail: true, delayAbortEval: '10s' }],
  },
};

export default function () {
  journey(0);
}
