// tinyllm serve through the official OpenAI SDK (npm openai): completions and chat completions,
// streamed and not, parse; finish_reason is "length" or "stop" as it should be; usage equals the
// prompt's tokens counted by `tinyllm tokenizer encode` (+ the leading <|endoftext|>) and the
// tokens `tinyllm run` generates with the same settings, whose text the server's also equals; a
// stream concatenates to the non-streamed text; the same seed gives the same text on 1 and on 2
// slots, under concurrent load; ill-formed UTF-8 from hot sampling comes out as TextDecoder decodes
// it; the SDK's typed errors carry our status, code and param.
import { check, cliRun, done, encode, eq, makeModels, need, startServer, workdir } from "./test_serve_lib.mjs";

const { OpenAI } = need("openai");
const W = workdir("serve-openai");
const M = makeModels(W);
const KEY = "test-key-1234";

const s1 = await startServer(["-m", M.loc, "-np", "1", "-t", "1", "--api-key", KEY, "--access-log", "none"]);
const s2 = await startServer(["-m", M.loc, "-np", "2", "-t", "1", "--api-key", KEY, "--access-log", "none"]);
const client = (srv, opts = {}) => new OpenAI({ baseURL: srv.url + "/v1", apiKey: KEY, maxRetries: 0, ...opts });
const c1 = client(s1), c2 = client(s2);

const PROMPT = "At 07:30 the kitchen sensor read";
const NP = 1 + encode(PROMPT, W).length;

async function streamText(stream, chat) {
  let text = "", finish = null, usage = null, n = 0, ids = new Set();
  for await (const ch of stream) {
    ids.add(ch.id);
    if (ch.usage) usage = ch.usage;
    const c = ch.choices[0];
    if (!c) continue;
    n++;
    text += chat ? c.delta.content || "" : c.text;
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { text, finish, usage, n, ids: ids.size };
}

// ---- completions: non-streamed, against the CLI ----
for (const [temp, seed] of [[0, 1], [0.8, 42], [1.2, 7]]) {
  const r = await c1.completions.create({ model: "loc", prompt: PROMPT, max_tokens: 16, temperature: temp, seed });
  const ref = cliRun(M.loc, PROMPT, { n: 16, temp, seed });
  eq(r.choices[0].text, ref.text, `completion text = tinyllm run's (temp ${temp}, seed ${seed})`);
  eq([r.object, r.choices[0].finish_reason], ["text_completion", "length"], "completion object / finish_reason");
  eq(r.usage, { prompt_tokens: NP, completion_tokens: ref.n_gen, total_tokens: NP + ref.n_gen }, "completion usage = tokenizer encode + 1, tinyllm run's count");
  eq(ref.n_gen, 16, "tinyllm run generated max_tokens");
  // streamed: the same text, the same usage
  const st = await streamText(await c1.completions.create({ model: "loc", prompt: PROMPT, max_tokens: 16, temperature: temp, seed, stream: true,
                                                            stream_options: { include_usage: true } }), false);
  eq([st.text, st.finish, st.usage, st.ids], [r.choices[0].text, "length", r.usage, 1], `stream = non-stream (temp ${temp}): text, finish, usage, one id`);
  check(st.n > 2, `the stream came in pieces (${st.n} chunks)`);
}
// hot sampling from the random weights gives tokens that are parts of characters: the server's text
// (U+FFFD for ill-formed bytes), streamed or not, equals tinyllm run's bytes decoded by TextDecoder
{
  let withFFFD = 0;
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const p = { prompt: "Hi", max_tokens: 40, temperature: 2, top_k: 0, top_p: 1, min_p: 0, seed };
    const r = await c1.completions.create(p);
    const st = await streamText(await c1.completions.create({ ...p, stream: true }), false);
    const ref = cliRun(M.loc, "Hi", { n: 40, temp: 2, seed, extra: ["--top-k", "0", "--top-p", "1", "--min-p", "0"] });
    eq([r.choices[0].text, st.text], [ref.text, ref.text], `hot sampling, seed ${seed}: text = tinyllm run's, streamed too`);
    withFFFD += r.choices[0].text.includes("\uFFFD");
  }
  check(withFFFD > 0, "no ill-formed UTF-8 in 8 hot samples: the comparison above tested nothing special");
}
// a stop string: finish "stop", the text cut before it, as tinyllm run --stop cuts it
{
  const full = (await c1.completions.create({ prompt: PROMPT, max_tokens: 24, temperature: 0.9, seed: 3 })).choices[0].text;
  const stop = full.slice(10, 13);
  const r = await c1.completions.create({ prompt: PROMPT, max_tokens: 24, temperature: 0.9, seed: 3, stop: [stop] });
  const ref = cliRun(M.loc, PROMPT, { n: 24, temp: 0.9, seed: 3, stop: [stop] });
  eq([r.choices[0].text, r.choices[0].finish_reason], [ref.text, "stop"], "stop: text = tinyllm run --stop's, finish_reason stop");
  check(r.choices[0].text === full.slice(0, full.indexOf(stop)), "stop: the text ends where the stop string began");
  eq(r.usage.completion_tokens, ref.n_gen, "stop: completion_tokens = tinyllm run's count");
  const st = await streamText(await c1.completions.create({ prompt: PROMPT, max_tokens: 24, temperature: 0.9, seed: 3, stop: [stop], stream: true }), false);
  eq([st.text, st.finish, st.usage], [r.choices[0].text, "stop", null], "stop, streamed (no usage chunk unless asked)");
}

// ---- chat: the task template; non-streamed and streamed ----
{
  const instr = (await c1.models.retrieve("localisation.gguf")).meta.task.instruction;
  const input = "1013.2, 45.1, 22.3, 44.9, 120, 130, 90, 55";
  const tpl = `### Instruction:\n${instr}\n\n### Input:\n${input}\n\n### Response:\n`;
  const msgs = [{ role: "user", content: input }];
  for (const [temp, seed] of [[0, 1], [0.9, 5]]) {
    const r = await c1.chat.completions.create({ model: "loc", messages: msgs, max_tokens: 12, temperature: temp, seed });
    eq([r.object, r.choices[0].message.role], ["chat.completion", "assistant"], "chat object / role");
    const ref = cliRun(M.loc, tpl, { n: 12, temp, seed, stop: ["\n\n### End", "### End"] });
    eq(r.choices[0].message.content, ref.text, `chat content = tinyllm run's on the template (temp ${temp})`);
    eq(r.choices[0].finish_reason, ref.n_gen < 12 ? "stop" : "length", "chat finish_reason");
    eq(r.usage, { prompt_tokens: 1 + encode(tpl, W).length, completion_tokens: ref.n_gen, total_tokens: 1 + encode(tpl, W).length + ref.n_gen }, "chat usage");
    const st = await streamText(await c1.chat.completions.create({ model: "loc", messages: msgs, max_tokens: 12, temperature: temp, seed, stream: true,
                                                                  stream_options: { include_usage: true } }), true);
    eq([st.text, st.finish, st.usage], [r.choices[0].message.content, r.choices[0].finish_reason, r.usage], `chat stream = non-stream (temp ${temp})`);
  }
  // the first chunk carries the role, as OpenAI's do
  const s = await c1.chat.completions.create({ messages: msgs, max_tokens: 2, stream: true });
  let first = null;
  for await (const ch of s) if (!first) first = ch;
  eq([first.object, first.choices[0].delta.role], ["chat.completion.chunk", "assistant"], "chat stream: first chunk has the role");
}

// ---- models ----
{
  const list = await c1.models.list();
  const ids = [];
  for await (const m of list) ids.push(m.id);
  eq(ids, ["localisation.gguf"], "models.list");
  eq((await c1.models.retrieve("localisation.gguf")).object, "model", "models.retrieve");
}

// ---- the SDK's typed errors ----
async function throws(f) {
  try { await f(); return null; } catch (e) { return e; }
}
{
  let e = await throws(() => c1.completions.create({ prompt: "x", max_tokens: 2, frobnicate: true }));
  check(e && e.status === 400 && e.code === "unknown_parameter" && e.param === "frobnicate" && e.type === "invalid_request_error",
        `unknown parameter: ${e && [e.constructor.name, e.status, e.code, e.param]}`);
  e = await throws(() => c1.completions.create({ prompt: "hello ".repeat(1000), max_tokens: 200 }));
  check(e && e.status === 400 && e.code === "context_length_exceeded", `context exceeded: ${e && e.message}`);
  e = await throws(() => client(s1, { apiKey: "wrong" }).completions.create({ prompt: "x", max_tokens: 1 }));
  check(e && e.status === 401 && e.constructor.name === "AuthenticationError", `wrong key: ${e && e.constructor.name} ${e && e.status}`);
  e = await throws(() => c1.models.retrieve("nope"));
  check(e && e.status === 404 && e.constructor.name === "NotFoundError", `unknown model: ${e && e.constructor.name}`);
}

// ---- same seed, same text: 1 slot sequentially vs 2 slots under concurrent load ----
{
  const seeds = [11, 12, 13, 14, 15, 16, 17, 18];
  const req = (seed) => ({ prompt: PROMPT, max_tokens: 24, temperature: 0.9, seed });
  const one = [];
  for (const s of seeds) one.push((await c1.completions.create(req(s))).choices[0].text);
  check(new Set(one).size > 1, "different seeds give different texts");
  // all at once on 2 slots, with greedy requests mixed in as load
  const load = Array.from({ length: 6 }, () => c2.completions.create({ prompt: PROMPT, max_tokens: 40, temperature: 0 }));
  const two = await Promise.all(seeds.map((s) => c2.completions.create(req(s)).then((r) => r.choices[0].text)));
  const greedy = await Promise.all(load);
  eq(two, one, "same seed -> same text on 1 slot and on 2 slots under load");
  check(greedy.every((g) => g.choices[0].text === greedy[0].choices[0].text), "greedy texts agree under concurrency");
  eq(greedy[0].choices[0].text.slice(0, 10), (await c1.completions.create({ prompt: PROMPT, max_tokens: 40, temperature: 0 })).choices[0].text.slice(0, 10),
     "greedy text is the same on either server");
  // the chat path too, streamed on 2 slots
  const chats = await Promise.all([1, 2, 3].map((s) => c2.chat.completions.create({ messages: [{ role: "user", content: "20.1, 44" }], max_tokens: 10, temperature: 1, seed: s, stream: true })
                                              .then((st) => streamText(st, true))));
  for (const [i, s] of [1, 2, 3].entries()) {
    const r = await c1.chat.completions.create({ messages: [{ role: "user", content: "20.1, 44" }], max_tokens: 10, temperature: 1, seed: s });
    eq(chats[i].text, r.choices[0].message.content, `chat seed ${s}: 2-slot stream = 1-slot`);
  }
}

eq(await s1.stop(), 0, "exit code (1 slot)");
eq(await s2.stop(), 0, "exit code (2 slots)");
done("test_serve_openai");
