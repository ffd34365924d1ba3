// tinyllm serve, endpoint by endpoint: /health answers 503 with an error object while the model loads
// (the load is held on a FIFO) and 200 after; /v1/models; /tokenize and /detokenize agree with
// `tinyllm tokenizer encode`; completions, chat (the task template, reproduced here from its spec)
// and /completion answer with the right usage and finish reasons; /v1/classify equals `tinyllm
// classify` (also for a task that rounds numbers, from a GGUF or a checkpoint + --task); bad
// requests get 4xx with OpenAI's error object naming the parameter; API keys, the
// Host check, body and depth limits, the queue bound and timeout, cancellation when the client
// leaves, /metrics totals equal to the responses' usage, the access log, and a clean SIGTERM exit.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { check, eq, done, encode, get, isError, makeModels, metrics, post, raw, sleep, startServer, until, workdir, run } from "./test_serve_lib.mjs";

const W = workdir("serve-api");
const M = makeModels(W);
const J = { "Content-Type": "application/json" };

// ---- /health while loading: a run directory whose manifest is a FIFO holds the load ----
{
  const rd = path.join(W, "run");
  fs.mkdirSync(rd);
  fs.copyFileSync(M.checkpoint, path.join(rd, "step_00000001.safetensors"));
  execFileSync("mkfifo", [path.join(rd, "latest")]);
  const srv = await startServer(["-m", rd, "--access-log", "none"], { ready: false });
  const h = await get(srv, "/health");
  eq(h.status, 503, "/health while loading");
  check(isError(h.json) && h.json.error.code === "model_loading", `/health while loading: error object: ${h.text}`);
  const c = await post(srv, "/v1/completions", { prompt: "x" });
  check(c.status === 503 && isError(c.json), `completions while loading: ${c.status} ${c.text}`);
  eq((await metrics(srv))["tinyllm_ready"], 0, "tinyllm_ready while loading");
  // release the load: write the manifest once the server has the FIFO open (never block on it)
  const fd = await until(() => { try { return fs.openSync(path.join(rd, "latest"), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK); } catch (e) { return null; } }, 10000);
  if (check(fd !== null, "the server never opened the FIFO manifest (has the checkpoint loader changed?)")) {
    fs.writeSync(fd, "step_00000001.safetensors\n");
    fs.closeSync(fd);
  }
  const ok = await until(async () => (await get(srv, "/health")).status === 200);
  check(ok, "/health never became 200 after the load");
  eq((await get(srv, "/health")).json, { status: "ok" }, "/health body when ready");
  eq((await metrics(srv))["tinyllm_ready"], 1, "tinyllm_ready after loading");
  eq(await srv.stop(), 0, "exit code after SIGTERM (FIFO server)");
}

// ---- the main server: the localisation task model, 2 slots, an access log ----
const LOG = path.join(W, "access.jsonl");
const srv = await startServer(["-m", M.loc, "-np", "2", "-t", "1", "--alias", "loc", "--access-log", LOG]);
let sent = 0; // requests to srv, for the access log
const P = async (u, b, h) => (sent++, post(srv, u, b, h));
const G = async (u, h) => (sent++, get(srv, u, h));
let usageSum = { p: 0, c: 0 };
const addUsage = (u) => { usageSum.p += u.prompt_tokens; usageSum.c += u.completion_tokens; };

// /v1/models
const models = await G("/v1/models");
eq(models.status, 200, "/v1/models status");
const mo = models.json.data[0];
eq([models.json.object, mo.id, mo.object, mo.owned_by], ["list", "loc", "model", "tinyllm"], "/v1/models fields");
eq([mo.meta.n_ctx, mo.meta.n_layer, mo.meta.n_embd, mo.meta.n_vocab, mo.meta.slots, mo.meta.type], [1024, 4, 128, 50257, 2, "q8_0"], "/v1/models meta");
eq([mo.meta.task.name, mo.meta.task.kind, mo.meta.task.labels], ["localisation", "classify", ["Charging Station", "Entrance", "Server Rack"]], "/v1/models task");
const INSTR = fs.readFileSync(path.join(process.env.TL_SRC, "tasks/localisation.task"), "utf8").match(/^instruction = (.*)$/m)[1];
eq(mo.meta.task.instruction, INSTR, "/v1/models task instruction = the spec's");
eq((await G("/v1/models/loc")).json.id, "loc", "/v1/models/loc");
const nf = await G("/v1/models/other");
check(nf.status === 404 && nf.json.error.code === "model_not_found", `/v1/models/other: ${nf.status} ${nf.text}`);

// /tokenize, /detokenize
const TEXT = "Sensor 17 read 22.5 °C at 07:30 — ok 👍";
const ids = encode(TEXT, W);
eq((await P("/tokenize", { content: TEXT })).json.tokens, ids, "/tokenize = tinyllm tokenizer encode");
eq((await P("/tokenize", { content: TEXT, add_special: true })).json.tokens, [50256, ...ids], "/tokenize add_special puts <|endoftext|> first");
const wp = (await P("/tokenize", { content: "Hello world", with_pieces: true })).json.tokens;
eq(wp, [{ id: 15496, piece: "Hello" }, { id: 995, piece: " world" }], "/tokenize with_pieces");
const emoji = (await P("/tokenize", { content: "👍", with_pieces: true })).json.tokens;
check(emoji.some((t) => Array.isArray(t.piece)), `a piece that is part of a character comes as bytes: ${JSON.stringify(emoji)}`);
eq((await P("/detokenize", { tokens: ids })).json.content, TEXT, "/detokenize(/tokenize(text)) = text");
const partial = emoji.filter((t) => Array.isArray(t.piece)).map((t) => t.id).slice(0, 1);
eq((await P("/detokenize", { tokens: partial })).json.content, "\uFFFD", "/detokenize of part of a character = U+FFFD");

// ill-formed UTF-8 becomes U+FFFD exactly as WHATWG's TextDecoder replaces it: byte sequences sent as
// GPT-2's 256 byte tokens (id i is byte bs[i], GPT-2's bytes_to_unicode order) through /detokenize
{
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  const id = new Map(bs.map((b, i) => [b, i]));
  eq((await P("/detokenize", { tokens: [...Buffer.from("Az~ \n")].map((b) => id.get(b)) })).json.content, "Az~ \n", "byte tokens: the mapping");
  const cases = ["c0 80", "e0 80 80", "ed a0 80", "f4 90 80 80", "f5 80", "ff", "80", "e2 82", "e2 82 41", "f0 9f 98", "f0 9f 98 80", "c3", "41 e2 28 a1",
                 "f0 28 8c bc", "e1 80 e2 f0 91 92 f1 bf 41"].map((h) => Buffer.from(h.replace(/ /g, ""), "hex"));
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const pool = [0x41, 0x20, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff];
  for (let k = 0; k < 200; k++) cases.push(Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => pool[Math.floor(rnd() * pool.length)])));
  let bad = 0;
  for (const c of cases) {
    const got = (await P("/detokenize", { tokens: [...c].map((b) => id.get(b)) })).json.content;
    if (got !== new TextDecoder().decode(c) && bad++ < 5) console.log(`FAIL: bytes ${c.toString("hex")}: ${JSON.stringify(got)} vs ${JSON.stringify(new TextDecoder().decode(c))}`);
  }
  eq(bad, 0, `byte sequences cleaned unlike TextDecoder (of ${cases.length})`);
}

// /v1/completions
const PROMPT = "The kitchen sensor read";
const np = 1 + encode(PROMPT, W).length;
let r = await P("/v1/completions", { prompt: PROMPT, max_tokens: 12, temperature: 0 });
eq(r.status, 200, "completion status");
eq([r.json.object, r.json.model, r.json.choices.length, r.json.choices[0].index, r.json.choices[0].finish_reason], ["text_completion", "loc", 1, 0, "length"], "completion fields");
eq(r.json.usage, { prompt_tokens: np, completion_tokens: 12, total_tokens: np + 12 }, "completion usage (prompt: 1 + tokenizer encode)");
check(/^cmpl-/.test(r.json.id) && Number.isInteger(r.json.created), "completion id / created");
addUsage(r.json.usage);
const greedy = r.json.choices[0].text;
r = await P("/v1/completions", { prompt: PROMPT, max_tokens: 12, temperature: 0, echo: true });
eq(r.json.choices[0].text, PROMPT + greedy, "echo puts the prompt before the text");
addUsage(r.json.usage);
// a stop string inside the greedy text ends it there, finish "stop"
const half = Math.floor(greedy.length / 2), cut = greedy.slice(half, half + 3);
if (check(cut.length === 3, `the greedy text '${greedy}' is too short for a stop string`)) {
  r = await P("/v1/completions", { prompt: PROMPT, max_tokens: 12, temperature: 0, stop: [cut, "zzqx"] });
  eq([r.json.choices[0].text, r.json.choices[0].finish_reason], [greedy.slice(0, greedy.indexOf(cut)), "stop"], "stop string");
  addUsage(r.json.usage);
}
// top_p 0 keeps only the best token (llama.cpp's reading): the greedy text at any temperature
r = await P("/v1/completions", { prompt: PROMPT, max_tokens: 12, temperature: 1.5, top_p: 0, seed: 9 });
eq(r.json.choices[0].text, greedy, "top_p 0 = greedy");
addUsage(r.json.usage);
// max_tokens omitted: the server's --max-tokens (512), within the context
r = await P("/v1/completions", { prompt: PROMPT, temperature: 0 });
eq([r.json.usage.completion_tokens, r.json.choices[0].finish_reason], [512, "length"], "max_tokens omitted: up to --max-tokens");
addUsage(r.json.usage);

// /completion (llama-server's native endpoint)
r = await P("/completion", { prompt: PROMPT, n_predict: 12, temperature: 0, seed: 7 });
eq([r.status, r.json.content, r.json.stop, r.json.tokens_predicted, r.json.tokens_evaluated, r.json.stopped_limit, r.json.stop_type],
   [200, greedy, true, 12, np, true, "limit"], "/completion fields");
eq([r.json.generation_settings.seed, r.json.generation_settings.temperature, r.json.generation_settings.top_p], [7, 0, 0.95], "/completion generation_settings");
addUsage({ prompt_tokens: r.json.tokens_evaluated, completion_tokens: r.json.tokens_predicted });
r = await P("/completion", { prompt: PROMPT, n_predict: 6, temperature: 0, stream: true });
const events = r.text.split("\n\n").filter(Boolean);
check(events.every((e) => e.startsWith("data: ")) && !r.text.includes("[DONE]"), "native stream: data: events, no [DONE] (llama-server's)");
const nev = events.map((e) => JSON.parse(e.slice(6)));
eq(nev.map((e) => e.content).join(""), greedy.slice(0, nev.map((e) => e.content).join("").length), "native stream text");
eq([nev.at(-1).stop, nev.at(-1).tokens_predicted], [true, 6], "native stream ends with stop: true and the counts");
addUsage({ prompt_tokens: nev.at(-1).tokens_evaluated, completion_tokens: nev.at(-1).tokens_predicted });

// /v1/chat/completions: the template built here from the task spec, counted by the CLI tokenizer
const INPUT = "1013.2, 45.1, 22.3, 44.9, 120, 130, 90, 55";
const tpl = (instr, input) => `### Instruction:\n${instr}\n\n### Input:\n${input}\n\n### Response:\n`;
r = await P("/v1/chat/completions", { messages: [{ role: "user", content: INPUT }], max_tokens: 5, temperature: 0 });
eq(r.status, 200, `chat status ${r.text}`);
eq([r.json.object, r.json.choices[0].message.role, r.json.choices[0].finish_reason], ["chat.completion", "assistant", "length"], "chat fields");
eq(r.json.usage.prompt_tokens, 1 + encode(tpl(INSTR, INPUT), W).length, "chat prompt = the task template around the user message");
addUsage(r.json.usage);
const conv = [{ role: "system", content: "Name the room." }, { role: "user", content: "a" }, { role: "assistant", content: "Entrance" }, { role: "user", content: [{ type: "text", text: "b" }] }];
r = await P("/v1/chat/completions", { messages: conv, max_tokens: 3, temperature: 0 });
eq(r.json.usage.prompt_tokens, 1 + encode(tpl("Name the room.", "a") + "Entrance\n\n### End\n\n" + tpl("Name the room.", "b"), W).length,
   "chat: system = instruction, earlier turns = whole examples, text parts");
addUsage(r.json.usage);

// /v1/classify = tinyllm classify
r = await P("/v1/classify", { input: INPUT });
const cli = JSON.parse(run(["classify", "-m", M.loc, "-i", INPUT, "--json", "-t", "1"]));
eq([r.status, r.json.object, r.json.task, r.json.label], [200, "classification", "localisation", cli.label], "classify label = tinyllm classify's");
check(Object.keys(cli.probs).every((k) => Math.abs(r.json.probs[k] - cli.probs[k]) < 1e-9), `classify probs = tinyllm classify's: ${JSON.stringify(r.json.probs)} vs ${JSON.stringify(cli.probs)}`);
check(Math.abs(Object.values(r.json.probs).reduce((a, b) => a + b, 0) - 1) < 1e-9 && r.json.latency_ms > 0, "classify probs sum to 1, latency");
eq(r.json.usage.prompt_tokens, 1 + encode(tpl(INSTR, INPUT), W).length, "classify prompt tokens");
r = await P("/v1/classify", { input: INPUT, labels: ["Kitchen", "Garage"] });
eq(Object.keys(r.json.probs), ["Kitchen", "Garage"], "classify with the request's labels");

// ---- bad requests: status, code and param of each ----
const badCases = [
  [{ prompt: "x", foo: 1 }, 400, "unknown_parameter", "foo"],
  [{ prompt: "x", max_tokens: "3" }, 400, "invalid_type", "max_tokens"],
  [{ prompt: "x", max_tokens: -1 }, 400, "out_of_range", "max_tokens"],
  [{ prompt: "x", max_tokens: 513 }, 400, "out_of_range", "max_tokens"],
  [{ prompt: "x", max_tokens: 2.5 }, 400, "invalid_type", "max_tokens"],
  [{ prompt: "x", temperature: -1 }, 400, "out_of_range", "temperature"],
  [{ prompt: "x", temperature: "hot" }, 400, "invalid_type", "temperature"],
  [{ prompt: "x", top_p: 1.5 }, 400, "out_of_range", "top_p"],
  [{ prompt: "x", top_k: -3 }, 400, "out_of_range", "top_k"],
  [{ prompt: "x", min_p: 2 }, 400, "out_of_range", "min_p"],
  [{ prompt: "x", min_p: 1 }, 400, "out_of_range", "min_p"],
  [{ prompt: "x", repeat_penalty: 0 }, 400, "out_of_range", "repeat_penalty"],
  [{ prompt: "x", seed: 1.5 }, 400, "invalid_type", "seed"],
  [{ prompt: "x", stop: 5 }, 400, "invalid_type", "stop"],
  [{ prompt: "x", stop: [""] }, 400, "out_of_range", "stop"],
  [{ prompt: "x", stop: Array(15).fill("a") }, 400, "out_of_range", "stop"],
  [{ prompt: "x", stream: "yes" }, 400, "invalid_type", "stream"],
  [{ prompt: "x", stream_options: { include_usage: true } }, 400, "invalid_value", "stream_options"],
  [{ prompt: "x", n: 2 }, 400, "unsupported_value", "n"],
  [{ prompt: "x", presence_penalty: 0.5 }, 400, "unsupported_value", "presence_penalty"],
  [{ prompt: "x", logprobs: 3 }, 400, "unsupported_value", "logprobs"],
  [{ prompt: "x", logit_bias: { 50256: -100 } }, 400, "unsupported_value", "logit_bias"],
  [{ prompt: "x", suffix: "end" }, 400, "unsupported_value", "suffix"],
  [{ prompt: ["a", "b"] }, 400, "unsupported_value", "prompt"],
  [{ prompt: [1, 2, 3] }, 400, "unsupported_value", "prompt"],
  [{ prompt: 5 }, 400, "invalid_type", "prompt"],
  [{}, 400, "missing_required_parameter", "prompt"],
  [{ prompt: "hello ".repeat(1100) }, 400, "context_length_exceeded", "prompt"],
  [{ prompt: "hello ".repeat(1000), max_tokens: 100 }, 400, "context_length_exceeded", "max_tokens"],
];
for (const [body, st, code, param] of badCases) {
  const b = await P("/v1/completions", body);
  check(b.status === st && isError(b.json) && b.json.error.code === code && b.json.error.param === param,
        `${JSON.stringify(body).slice(0, 80)}: want ${st} ${code} ${param}, got ${b.status} ${b.text.slice(0, 200)}`);
}
// neutral values of unsupported parameters are fine
r = await P("/v1/completions", { prompt: "x", max_tokens: 2, n: 1, presence_penalty: 0, frequency_penalty: 0, logprobs: null, best_of: 1, user: "u", model: "any" });
eq(r.status, 200, `neutral values accepted: ${r.text}`);
addUsage(r.json.usage);
const chatBad = [
  [{ messages: [] }, "invalid_type", "messages"],
  [{}, "missing_required_parameter", "messages"],
  [{ messages: [{ role: "user" }] }, "missing_required_parameter", "messages[0].content"],
  [{ messages: [{ role: "user", content: "a", name: "x" }] }, "unknown_parameter", "messages[0].name"],
  [{ messages: [{ role: "tool", content: "a" }] }, "unsupported_value", "messages[0]"],
  [{ messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }] }, "invalid_value", "messages[1]"],
  [{ messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }] }, "invalid_value", "messages"],
  [{ messages: [{ role: "user", content: "a" }, { role: "system", content: "b" }] }, "invalid_value", "messages[1]"],
  [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }, "unsupported_value", "messages[0].content"],
  [{ messages: [{ role: "user", content: "a" }], tools: [{ type: "function" }] }, "unsupported_value", "tools"],
  [{ messages: [{ role: "user", content: "a" }], response_format: { type: "json_object" } }, "unsupported_value", "response_format"],
  [{ messages: [{ role: "user", content: "a" }], max_tokens: 2, max_completion_tokens: 2 }, "invalid_value", "max_completion_tokens"],
];
for (const [body, code, param] of chatBad) {
  const b = await P("/v1/chat/completions", body);
  check(b.status === 400 && isError(b.json) && b.json.error.code === code && b.json.error.param === param,
        `chat ${JSON.stringify(body).slice(0, 90)}: want ${code} ${param}, got ${b.status} ${b.text.slice(0, 200)}`);
}
const clsBad = [
  [{}, "missing_required_parameter", "input"],
  [{ input: 5 }, "invalid_type", "input"],
  [{ input: "x", labels: ["a"] }, "out_of_range", "labels"],
  [{ input: "x", labels: ["a", "a"] }, "invalid_value", "labels"],
  [{ input: "x", labels: ["a", 3] }, "invalid_type", "labels"],
  [{ input: "x", task: "gesture" }, "invalid_value", "task"],
  [{ input: "x", raw: true, instruction: "y" }, "invalid_value", "instruction"],
  [{ input: "x", extra: 1 }, "unknown_parameter", "extra"],
];
for (const [body, code, param] of clsBad) {
  const b = await P("/v1/classify", body);
  check(b.status === 400 && isError(b.json) && b.json.error.code === code && b.json.error.param === param,
        `classify ${JSON.stringify(body)}: want ${code} ${param}, got ${b.status} ${b.text.slice(0, 200)}`);
}
const other = [
  ["/tokenize", {}, "missing_required_parameter", "content"],
  ["/tokenize", { content: "x", parse_special: true }, "unsupported_value", "parse_special"],
  ["/detokenize", { tokens: [1, 50257] }, "out_of_range", "tokens"],
  ["/detokenize", { tokens: ["a"] }, "invalid_type", "tokens"],
  ["/completion", { prompt: "x", id_slot: 1 }, "out_of_range", "id_slot"],
  ["/completion", { prompt: "x", n_predict: -2 }, "out_of_range", "n_predict"],
];
for (const [u, body, code, param] of other) {
  const b = await P(u, body);
  check(b.status === 400 && isError(b.json) && b.json.error.code === code && b.json.error.param === param,
        `${u} ${JSON.stringify(body)}: want ${code} ${param}, got ${b.status} ${b.text.slice(0, 200)}`);
}
// HTTP-level faults
const httpBad = [
  [() => G("/nowhere"), 404, "unknown_url"],
  [() => G("/v1/completions"), 405, "method_not_allowed"],
  [() => P("/health", {}), 405, "method_not_allowed"],
  [() => P("/v1/completions", "{}", { "Content-Type": "text/plain" }), 415, "unsupported_media_type"],
  [() => P("/v1/completions", "{\"prompt\": \"x\""), 400, "invalid_json"],
  [() => P("/v1/completions", "[1, 2]"), 400, "invalid_json"],
  [() => P("/v1/completions", "{\"prompt\": \"a\", \"prompt\": \"b\"}"), 400, "invalid_json"],
  [() => P("/v1/completions", "{\"prompt\": \"a\\u0000b\"}"), 400, "invalid_json"],
  [() => P("/v1/completions", "{\"max_tokens\": 1e999}"), 400, "invalid_json"],
  [() => P("/v1/completions", "{\"seed\": 123456789012345678901234567890}"), 400, "invalid_json"],
  [() => P("/v1/completions", "{\"a\":" + "[".repeat(17) + "]".repeat(17) + "}"), 400, "json_too_deep"],
  [() => P("/v1/completions", "[".repeat(5000) + "]".repeat(5000)), 400, "invalid_json"],
  // over --max-body by its Content-Length: answered before the body is read
  [() => (sent++, raw(srv, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
                  .then((x) => ({ status: x.status, json: JSON.parse(x.body || "null") }))), 413, "request_too_large"],
];
for (const [f, st, code] of httpBad) {
  const res = await f();
  check(res.status === st && isError(res.json) && res.json.error.code === code, `want ${st} ${code}, got ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
}
const allow = await G("/v1/completions");
eq(allow.headers.get("allow"), "POST, OPTIONS", "405 names the allowed methods");
// a chunked body over --max-body (no Content-Length) is also a 413
{
  const body = JSON.stringify({ prompt: "x".repeat(1 << 20) });
  sent++;
  const res = await raw(srv, `POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
                              `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`);
  check(res.status === 413 && isError(JSON.parse(res.body || "null")), `chunked oversized body: ${res.status} ${res.body.slice(0, 100)}`);
}
// DNS rebinding: a page whose name resolves to 127.0.0.1 sends its own Host
{
  sent++;
  const res = await raw(srv, `GET /v1/models HTTP/1.1\r\nHost: evil.example:${srv.port}\r\nConnection: close\r\n\r\n`);
  check(res.status === 403 && JSON.parse(res.body).error.code === "host_not_allowed", `foreign Host header: ${res.status} ${res.body}`);
  sent++;
  const ok = await raw(srv, `GET /health HTTP/1.1\r\nHost: localhost:${srv.port}\r\nConnection: close\r\n\r\n`);
  eq(ok.status, 200, "Host: localhost is fine");
}
// the page and its files
const page = await G("/");
check(page.status === 200 && /text\/html/.test(page.headers.get("content-type")) && page.text.includes("Sensor classify"), "GET / serves the page");
check(/default-src 'self'/.test(page.headers.get("content-security-policy") || ""), "the page has a Content-Security-Policy");
for (const f of ["/app.js", "/style.css"]) eq((await G(f)).text, fs.readFileSync(path.join(process.env.TL_SRC, "web" + f), "utf8"), `${f} = web${f}`);

// ---- /metrics: totals equal what the responses reported ----
const mt = await metrics(srv);
sent++;
eq([mt["tinyllm_prompt_tokens_total"] >= usageSum.p, mt["tinyllm_generated_tokens_total"]], [true, usageSum.c], "generated tokens total = sum of completion_tokens");
check(mt["tinyllm_slots"] === 2 && mt["tinyllm_requests_in_flight"] === 0 && mt["tinyllm_requests_queued"] === 0, "slots / in flight / queued gauges");
check(mt['tinyllm_http_requests_total{endpoint="/v1/completions",code="400"}'] >= badCases.length, "per-endpoint status counters");
check(mt["tinyllm_generated_tokens_per_second"] > 0 && mt["process_resident_memory_bytes"] > 0, "rates and RSS");
eq(await srv.stop(), 0, "exit code after SIGTERM (main server)");
// the access log: one JSON line per request, with status and tokens
const lines = fs.readFileSync(LOG, "utf8").trim().split("\n").map((l) => JSON.parse(l));
eq(lines.length, sent, "access log lines = requests sent");
check(lines.every((l) => l.time && l.remote === "127.0.0.1" && l.method && l.path && Number.isInteger(l.status) && l.ms >= 0), "access log fields");
const l1 = lines.find((l) => l.path === "/v1/completions" && l.status === 200);
check(l1 && l1.slot >= 0 && l1.prompt_tokens === np && l1.completion_tokens === 12 && l1.finish === "length", `access log line of a completion: ${JSON.stringify(l1)}`);
check(lines.some((l) => l.status === 400 && l.error === "unknown_parameter"), "access log records the error code");

// ---- models without a template: chat is a 400, classify needs labels; instruction from data ----
{
  const s2 = await startServer(["-m", M.plain, "--timeout", "1", "--access-log", "none"]);
  // a client that stops half way through its headers (slowloris) is closed after --timeout
  const closed = await new Promise((resolve) => {
    const sock = net.connect(s2.port, "127.0.0.1", () => sock.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    const t = setTimeout(() => { sock.destroy(); resolve(false); }, 8000);
    sock.on("close", () => { clearTimeout(t); resolve(true); });
    sock.on("error", () => {});
  });
  check(closed, "a connection silent past --timeout is closed by the server");
  let b = await post(s2, "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }] });
  check(b.status === 400 && b.json.error.code === "no_prompt_template", `chat without a template: ${b.status} ${b.text}`);
  b = await post(s2, "/v1/classify", { input: "x" });
  check(b.status === 400 && b.json.error.param === "labels", `classify without task or labels: ${b.text}`);
  b = await post(s2, "/v1/classify", { input: "It is", labels: [" warm", " cold"], raw: true });
  check(b.status === 200 && b.json.task === null && [" warm", " cold"].includes(b.json.label), `raw classify with labels: ${b.text}`);
  eq(await s2.stop(), 0, "exit code (plain model)");
  const s3 = await startServer(["-m", M.gesture, "--access-log", "none"]);
  b = await post(s3, "/v1/chat/completions", { messages: [{ role: "user", content: "1, 2, 3" }], max_tokens: 2 });
  check(b.status === 400 && b.json.error.code === "missing_instruction", `gesture chat without a system message: ${b.text}`);
  b = await post(s3, "/v1/chat/completions", { messages: [{ role: "system", content: "Classify the gesture." }, { role: "user", content: "1, 2, 3" }], max_tokens: 2 });
  eq(b.status, 200, "gesture chat with the instruction as a system message");
  b = await post(s3, "/v1/classify", { input: "1, 2, 3", instruction: "Classify the gesture." });
  check(b.status === 200 && ["Tap", "Double", "Hold"].includes(b.json.label), `gesture classify with an instruction: ${b.text}`);
  eq(await s3.stop(), 0, "exit code (gesture model)");
}

// ---- a task that re-renders numbers (round:1): the server's prompts render them as tinyllm classify
// does, read from the GGUF's tinyllm.task.numbers (and from --task for a checkpoint) ----
{
  const spec = path.join(W, "rounded.task");
  fs.writeFileSync(spec, "name = rounded\ninstruction = Where is the robot?\ninput_column = input\noutput_column = output\nlabels = A, B\nnumbers = round:1\n");
  const gguf = path.join(W, "rounded.gguf");
  run(["export", "-m", M.checkpoint, "--task", spec, "--type", "q8_0", "-o", gguf]);
  const input = "1013.2468, 45.1111, 22.35, 7";
  for (const args of [["-m", gguf], ["-m", M.checkpoint, "--task", spec]]) {
    const cliR = JSON.parse(run(["classify", ...args, "-i", input, "--json", "-t", "1"]));
    const s6 = await startServer([...args, "--access-log", "none"]);
    const b = await post(s6, "/v1/classify", { input });
    check(b.status === 200 && ["A", "B"].every((k) => Math.abs(b.json.probs[k] - cliR.probs[k]) < 1e-9), `round:1 classify (${args.join(" ")}) = tinyllm classify's: ${b.text} vs ${JSON.stringify(cliR.probs)}`);
    const c = await post(s6, "/v1/chat/completions", { messages: [{ role: "user", content: input }], max_tokens: 1 });
    eq(c.json.usage.prompt_tokens, 1 + encode("### Instruction:\nWhere is the robot?\n\n### Input:\n1013.2, 45.1, 22.4, 7.0\n\n### Response:\n", W).length,
       `round:1 chat prompt (${args.join(" ")}): numbers rendered to 1 decimal`);
    eq(await s6.stop(), 0, "exit code (rounded task)");
  }
}

// ---- API keys: Bearer or 401; the page and /health stay open; keys never printed ----
{
  const kf = path.join(W, "keys");
  fs.writeFileSync(kf, "# keys\nsecret-one\n\nsecret-two\n", { mode: 0o600 });
  const s4 = await startServer(["-m", M.plain, "--api-key-file", kf, "--api-key", "third", "--access-log", "none"]);
  for (const [h, want] of [[{}, 401], [{ Authorization: "Bearer nope" }, 401], [{ Authorization: "secret-one" }, 401], [{ Authorization: "Bearer secret-one" }, 200],
                           [{ Authorization: "Bearer secret-two" }, 200], [{ Authorization: "Bearer third" }, 200], [{ Authorization: "Bearer secret-on" }, 401]]) {
    const b = await get(s4, "/v1/models", h);
    check(b.status === want && (want === 200 || (isError(b.json) && b.json.error.code === "invalid_api_key")), `key ${JSON.stringify(h)}: ${b.status} ${b.text.slice(0, 100)}`);
  }
  eq((await post(s4, "/v1/completions", { prompt: "x", max_tokens: 1 })).status, 401, "completions without a key");
  eq((await post(s4, "/v1/completions", { prompt: "x", max_tokens: 1 }, { Authorization: "Bearer secret-two" })).status, 200, "completions with a key");
  eq((await get(s4, "/metrics")).status, 401, "/metrics needs the key");
  eq([(await get(s4, "/health")).status, (await get(s4, "/")).status], [200, 200], "/health and / need no key");
  check(!/secret|third/.test(s4.stderr), "the keys are not printed");
  eq(await s4.stop(), 0, "exit code (keys)");
}

// ---- the queue: bound (429), timeout (503), and cancellation when the client leaves ----
{
  // scalar kernels, 1 slot: 512 tokens take seconds, long enough to fill the queue behind them
  const s5 = await startServer(["-m", M.plain, "-np", "1", "-t", "1", "--kernels", "scalar", "--queue", "1", "--queue-timeout", "0.5", "--access-log", "none"]);
  const long = { prompt: "x", max_tokens: 512, temperature: 0 };
  const ctlA = new AbortController();
  const A = fetch(s5.url + "/v1/completions", { method: "POST", headers: J, body: JSON.stringify(long), signal: ctlA.signal }).catch((e) => e);
  await until(async () => (await metrics(s5))["tinyllm_requests_in_flight"] === 1);
  const B = post(s5, "/v1/completions", long); // waits in the queue, then times out
  await until(async () => (await metrics(s5))["tinyllm_requests_queued"] === 1);
  const before = await metrics(s5);
  const C = await post(s5, "/v1/completions", long);
  const still = (await metrics(s5))["tinyllm_requests_in_flight"] === 1;
  if (before["tinyllm_requests_queued"] === 1 && still)
    check(C.status === 429 && C.json.error.code === "queue_full" && C.json.error.type === "rate_limit_error", `a full queue: ${C.status} ${C.text}`);
  const Bres = await B;
  if ((await metrics(s5))["tinyllm_requests_in_flight"] === 1) // A still running, so B really waited past its timeout
    check(Bres.status === 503 && Bres.json.error.code === "queue_timeout", `queue timeout: ${Bres.status} ${Bres.text}`);
  ctlA.abort(); // the client leaves: A stops at its next token
  await A;
  const after = await until(async () => { const m = await metrics(s5); return m["tinyllm_requests_in_flight"] === 0 && m["tinyllm_cancelled_total"] >= 1 && m; });
  check(after && after["tinyllm_generated_tokens_total"] < 512, `a non-streamed request stops when its client leaves: ${JSON.stringify(after)}`);
  // a stream: read the first event, then hang up
  const gen0 = after["tinyllm_generated_tokens_total"];
  await new Promise((resolve) => {
    const sock = net.connect(s5.port, "127.0.0.1", () => {
      const body = JSON.stringify({ ...long, stream: true });
      sock.write(`POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    sock.on("data", (d) => { if (d.toString().includes("data: ")) sock.destroy(); });
    sock.on("close", resolve);
    sock.on("error", resolve);
  });
  const after2 = await until(async () => { const m = await metrics(s5); return m["tinyllm_requests_in_flight"] === 0 && m["tinyllm_cancelled_total"] >= 2 && m; });
  check(after2 && after2["tinyllm_generated_tokens_total"] - gen0 < 512, `a stream stops when its client leaves: ${JSON.stringify(after2)}`);
  eq((await get(s5, "/health")).status, 200, "healthy after cancellations");
  // SIGTERM while a request runs: it is cancelled and the server exits 0
  const D = post(s5, "/v1/completions", long).catch((e) => e);
  await until(async () => (await metrics(s5))["tinyllm_requests_in_flight"] === 1);
  eq(await s5.stop(), 0, "exit code after SIGTERM during a request");
  await D;
}

done("test_serve_api");
