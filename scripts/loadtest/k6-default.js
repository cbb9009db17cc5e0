// One unnamed scenario (k6's "default"), with k6's default summary statistics (no p(99)).
import http from 'k6/http';

const BASE = __ENV.BASE_URL;

export const options = { vus: 2, iterations: 30 };

export default function () {
  http.get(`${BASE}/index.html`);
}
