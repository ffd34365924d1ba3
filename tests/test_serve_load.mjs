// tinyllm serve under load: 64 concurrent clients x 20 completions each (autocannon) against 2 slots
// and a queue of 16. Every request completes (200, a well-formed completion) or is turned away
// cleanly (429 queue_full / 503 queue_timeout, with an error object): no socket errors, no timeouts;
// /metrics counted the same answers; the server is healthy afterwards and exits 0. Throughput and
// latency are printed (docs/serve.md has the figures), never asserted.
import { check, done, encode, eq, get, isError, makeModels, metrics, need, startServer, workdir } from "./test_serve_lib.mjs";

const autocannon = need("autocannon");
const W = workdir("serve-load");
const M = makeModels(W);
const srv = await startServer(["-m", M.plain, "-np", "2", "-t", "1", "--queue", "16", "--queue-timeout", "30", "--access-log", "none"]);
const CLIENTS = 64, EACH = 20, MAX = 16, PROMPT = "The sensor on the kitchen wall read";
const NP = 1 + encode(PROMPT, W).length;
const seen = {};
let malformed = 0;
const res = await autocannon({
  url: srv.url + "/v1/completions",
  connections: CLIENTS,
  amount: CLIENTS * EACH,
  maxConnectionRequests: EACH,
  timeout: 120,
  method: "POST",
  headers: { "Content-Type": "application/json" },
  // greedy: the random test weights give flat distributions, on which sampling's sort costs more
  // than the model (docs/serve.md)
  body: JSON.stringify({ prompt: PROMPT, max_tokens: MAX, temperature: 0 }),
  requests: [{
    onResponse: (status, body) => {
      seen[status] = (seen[status] || 0) + 1;
      let j = null;
      try { j = JSON.parse(body); } catch (e) { /* counted below */ }
      const ok = status === 200
        ? j && j.choices && j.choices.length === 1 && typeof j.choices[0].text === "string" && j.usage.prompt_tokens === NP &&
          (j.choices[0].finish_reason === "length" ? j.usage.completion_tokens === MAX : j.usage.completion_tokens < MAX)
        : (status === 429 && isError(j) && j.error.code === "queue_full") || (status === 503 && isError(j) && j.error.code === "queue_timeout");
      if (!ok && malformed++ < 5) console.log(`FAIL: ${status} ${String(body).slice(0, 200)}`);
    },
  }],
});
const total = Object.values(seen).reduce((a, b) => a + b, 0);
console.log(`answers: ${JSON.stringify(seen)}; ${res.requests.average} req/s on average, latency p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms`);
eq([res.errors, res.timeouts], [0, 0], "socket errors and timeouts");
eq(total, CLIENTS * EACH, "every request answered");
check(Object.keys(seen).every((s) => ["200", "429", "503"].includes(s)), `statuses other than 200 / 429 / 503: ${JSON.stringify(seen)}`);
check(seen[200] > 0, "some requests completed");
eq(malformed, 0, "answers that are not a well-formed completion or a clean rejection");
const m = await metrics(srv);
const count = (code) => m[`tinyllm_http_requests_total{endpoint="/v1/completions",code="${code}"}`] || 0;
eq([count(200), count(429), count(503)], [seen[200] || 0, seen[429] || 0, seen[503] || 0], "/metrics counted the same answers");
eq(m["tinyllm_rejected_total{reason=\"queue_full\"}"], seen[429] || 0, "queue_full rejections counted");
eq(m["tinyllm_requests_in_flight"] + m["tinyllm_requests_queued"], 0, "nothing left running or queued");
eq((await get(srv, "/health")).status, 200, "healthy after the load");
eq(await srv.stop(), 0, "exit code after SIGTERM");
done("test_serve_load");
