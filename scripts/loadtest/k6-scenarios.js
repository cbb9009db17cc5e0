// Two scenarios against a local static server; every tenth browse asks for a page that does
// not exist, so the summary has failed requests. The thresholds on `{scenario:...}` exist to
// make k6 report per-scenario sub-metrics; k6 summarizes a sub-metric only when a threshold
// names it.
import http from 'k6/http';
import { sleep } from 'k6';

const BASE = __ENV.BASE_URL;

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    checkout: { executor: 'shared-iterations', vus: 2, iterations: 40, exec: 'checkout', maxDuration: '30s' },
    browse: { executor: 'shared-iterations', vus: 2, iterations: 60, exec: 'browse', maxDuration: '30s' },
  },
  thresholds: {
    'http_req_duration{scenario:checkout}': ['p(95)<2000'],
    'http_reqs{scenario:checkout}': ['count>0'],
    'http_req_failed{scenario:checkout}': ['rate<1'],
    'http_req_duration{scenario:browse}': ['p(95)<2000'],
    'http_reqs{scenario:browse}': ['count>0'],
    'http_req_failed{scenario:browse}': ['rate<1'],
  },
};

export function checkout() {
  http.get(`${BASE}/index.html`);
  sleep(0.02);
}

export function browse() {
  const iteration = __ITER;
  http.get(iteration % 10 === 9 ? `${BASE}/missing.html` : `${BASE}/index.html`);
  sleep(0.01);
}

export function handleSummary(data) {
  return { [__ENV.HANDLE_SUMMARY_PATH]: JSON.stringify(data, null, 2) };
}
