// Shared by the tests/test_serve_*.mjs tests (not a test itself): tools and skips, the model files
// (random GPT-2 weights from bench_models, with task metadata added by export), starting and stopping
// `tinyllm serve`, HTTP helpers, checks, and the RSS of a process.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

export const TINYLLM = process.env.TINYLLM;
export const TL_SRC = process.env.TL_SRC;
export const TL_BUILD = process.env.TL_BUILD;
const DATA = process.env.TINYLLM_DATA || path.join(os.homedir(), ".cache/tinyllm");
export const NODE_MODULES = path.join(DATA, "node/node_modules");

export function skip(why) {
  console.log("skip: " + why);
  process.exit(77);
}

/* An npm package from the data directory (scripts/install-deps puts them there), or a skip. */
export function need(pkg) {
  try {
    return createRequire(NODE_MODULES + "/")(pkg);
  } catch (e) {
    skip(`npm package ${pkg} missing from ${NODE_MODULES} (run scripts/install-deps)`);
  }
}

if (!TINYLLM || !TL_SRC || !TL_BUILD) skip("run through ctest (TINYLLM, TL_SRC, TL_BUILD unset)");
if (!fs.existsSync(path.join(DATA, "gpt2/vocab.bpe"))) skip("GPT-2 tokenizer files missing (run scripts/install-deps)");

let failures = 0, checks = 0;
export function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.log("FAIL: " + what);
  }
  return ok;
}
export function eq(a, b, what) {
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  return check(sa === sb, `${what}: ${sa.slice(0, 300)} != ${sb.slice(0, 300)}`);
}
export function done(name) {
  console.log(`${name}: ${checks - failures}/${checks} checks passed`);
  process.exit(failures ? 1 : 0);
}

export function workdir(name) {
  const w = fs.mkdtempSync(path.join(os.tmpdir(), `tinyllm-${name}-`));
  process.on("exit", () => fs.rmSync(w, { recursive: true, force: true }));
  return w;
}

export function run(args, opts = {}) {
  return execFileSync(TINYLLM, args, { encoding: opts.encoding === undefined ? "utf8" : opts.encoding, stdio: ["ignore", "pipe", "pipe"], ...opts });
}

/* The test models: plain (no task), localisation (fixed instruction) and gesture (instruction in the
 * data), all 4 layers x 128 with GPT-2's vocabulary and random weights. */
export function makeModels(w) {
  const bm = path.join(TL_BUILD, "bench/bench_models");
  if (!fs.existsSync(bm)) throw new Error(`${bm} is not built (cmake --build builds it)`);
  execFileSync(bm, [w, "4x4x128"], { stdio: "ignore" });
  const f32 = path.join(w, "gpt2-4x4x128-f32.gguf");
  run(["import", f32, "-o", path.join(w, "m.safetensors")]);
  for (const t of ["localisation", "gesture"])
    run(["export", "-m", path.join(w, "m.safetensors"), "--task", path.join(TL_SRC, `tasks/${t}.task`), "--type", "q8_0", "-o", path.join(w, `${t}.gguf`)]);
  return { plain: path.join(w, "gpt2-4x4x128-q8_0.gguf"), f32, checkpoint: path.join(w, "m.safetensors"),
           loc: path.join(w, "localisation.gguf"), gesture: path.join(w, "gesture.gguf") };
}

/* Starts `tinyllm serve --port 0 ARGS` and resolves once it listens (and, unless ready is false,
 * once the model is up). stop() sends SIGTERM and resolves with the exit code. */
export function startServer(args, { ready = true, env } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(TINYLLM, ["serve", "--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
    let err = "", port = 0, settled = false;
    const exited = new Promise((res) => p.on("exit", (code, sig) => res(code === null ? `signal ${sig}` : code)));
    const srv = {
      proc: p, pid: p.pid,
      get stderr() { return err; },
      get url() { return `http://127.0.0.1:${port}`; },
      get port() { return port; },
      exited,
      async stop() {
        p.kill("SIGTERM");
        const t = setTimeout(() => p.kill("SIGKILL"), 30000);
        const code = await exited;
        clearTimeout(t);
        return code;
      },
    };
    p.stderr.on("data", (d) => {
      err += d;
      if (settled) return;
      const m = /serve: listening on http:\/\/\S+:(\d+)/.exec(err);
      if (m) port = Number(m[1]);
      if (port && (!ready || /serve: ready/.test(err))) {
        settled = true;
        resolve(srv);
      }
    });
    exited.then((code) => { if (!settled) { settled = true; reject(new Error(`serve exited (${code}) before it was ready: ${err}`)); } });
  });
}

export async function post(srv, url, body, headers = {}) {
  const res = await fetch(srv.url + url, {
    method: "POST", headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

export async function get(srv, url, headers = {}) {
  const res = await fetch(srv.url + url, { headers });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

/* One raw HTTP exchange over a fresh connection: the bytes given, everything read until the server
 * closes or `ms` pass. Returns {status, body, raw}. */
export function raw(srv, bytes, ms = 5000) {
  return new Promise((resolve) => {
    const s = net.connect(srv.port, "127.0.0.1");
    const chunks = [];
    const finish = () => {
      const all = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      const cut = all.indexOf("\r\n\r\n");
      let body = cut >= 0 ? all.slice(cut + 4) : "";
      if (/\r\ntransfer-encoding: chunked/i.test(all.slice(0, cut))) body = body.replace(/^[0-9a-f]+\r\n/i, "").replace(/\r\n0\r\n\r\n$/, "");
      resolve({ status: m ? Number(m[1]) : 0, body, raw: all });
    };
    const t = setTimeout(() => s.destroy(), ms);
    s.on("data", (d) => {
      chunks.push(d);
      // one response is enough: stop at the end of a Content-Length body
      const all = Buffer.concat(chunks).toString("latin1");
      const cut = all.indexOf("\r\n\r\n");
      const cl = /\r\ncontent-length: (\d+)/i.exec(all.slice(0, cut));
      if (cut >= 0 && cl && all.length - cut - 4 >= Number(cl[1])) s.destroy();
    });
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(t); finish(); });
    s.write(bytes);
  });
}

/* The OpenAI error object's shape. */
export function isError(j) {
  return !!(j && j.error && typeof j.error.message === "string" && typeof j.error.type === "string" && "param" in j.error && "code" in j.error);
}

/* Prometheus text -> {name{labels}: value}. */
export function parseMetrics(text) {
  const m = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    m[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return m;
}

export async function metrics(srv, headers = {}) {
  return parseMetrics((await get(srv, "/metrics", headers)).text);
}

/* Resident memory of a process in bytes (VmRSS of /proc/PID/status). */
export function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/* GPT-2 token ids of a text from the CLI (`tinyllm tokenizer encode`), independent of the server. */
export function encode(text, w) {
  const f = path.join(w, "encode.txt");
  fs.writeFileSync(f, text);
  const out = run(["tokenizer", "encode", "--file", f]).trim();
  return out ? out.split(/\s+/).map(Number) : [];
}

/* What `tinyllm run` generates for the same sampling settings: the text after the prompt (decoded as
 * the server decodes it: ill-formed UTF-8 as U+FFFD) and the token count it reports. */
export function cliRun(model, prompt, { n, temp, seed, stop = [], extra = [] }) {
  const args = ["run", "-m", model, "-p", prompt, "-n", String(n), "--temp", String(temp), "-s", String(seed), "-t", "1", ...extra];
  for (const s of stop) args.push("--stop", s);
  const r = spawnSync(TINYLLM, args, { stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`tinyllm ${args.join(" ")}: ${r.stderr}`);
  const text = new TextDecoder().decode(r.stdout.subarray(Buffer.byteLength(prompt), r.stdout.length - 1));
  const m = /generated (\d+) tokens/.exec(r.stderr.toString());
  return { text, n_gen: m ? Number(m[1]) : -1 };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn until it returns truthy or `ms` pass; returns its last value. */
export async function until(fn, ms = 20000, every = 50) {
  const end = Date.now() + ms;
  let v;
  while (!(v = await fn()) && Date.now() < end) await sleep(every);
  return v;
}
