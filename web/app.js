// tinyllm serve's page: streams completions / chat over server-sent events and draws classify
// probabilities as bars. No framework; text from the server only ever goes into textContent.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null;
let abort = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

async function errorText(res) {
  try {
    const j = await res.json();
    return `${res.status}: ${j.error ? j.error.message : JSON.stringify(j)}`;
  } catch (e) {
    return `${res.status} ${res.statusText}`;
  }
}

async function refresh() {
  const st = $("status");
  try {
    const h = await fetch("/health");
    st.textContent = h.ok ? "ready" : "loading";
    st.className = "pill " + (h.ok ? "ok" : "bad");
    if (!h.ok) return setTimeout(refresh, 1000);
    const m = await fetch("/v1/models", { headers: headers() });
    if (!m.ok) {
      $("model").textContent = await errorText(m);
      return;
    }
    model = (await m.json()).data[0];
    const meta = model.meta;
    $("model").textContent = `${model.id} · ${meta.n_layer}×${meta.n_embd} ${meta.type} · context ${meta.n_ctx} · ${meta.slots} slot(s)`;
    const t = meta.task;
    $("task").textContent = t
      ? `Task “${t.name}” (${t.kind}${t.labels.length ? ": " + t.labels.join(", ") : ""}). ${t.instruction || ""}`
      : "This model carries no task: give labels (and the whole prompt as input).";
    $("mode-chat").disabled = !t;
  } catch (e) {
    st.textContent = "offline";
    st.className = "pill bad";
    setTimeout(refresh, 2000);
  }
}

// Reads a text/event-stream body, calling onData with each "data:" payload.
async function readEvents(res, onData) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of ev.split("\n")) if (line.startsWith("data: ")) onData(line.slice(6));
    }
  }
}

async function generate() {
  const chat = document.querySelector("input[name=mode]:checked").value === "chat";
  const text = $("prompt").value;
  const out = $("out");
  out.textContent = "";
  out.className = "";
  $("stats").textContent = "";
  const body = {
    max_tokens: Number($("max").value),
    temperature: Number($("temp").value),
    stream: true,
    stream_options: { include_usage: true },
  };
  const seed = Number($("seed").value);
  if (seed >= 0) body.seed = seed;
  if (chat) body.messages = [{ role: "user", content: text }];
  else {
    body.prompt = text;
    const p = document.createElement("span");
    p.className = "prompt";
    p.textContent = text;
    out.append(p);
  }
  const gen = document.createElement("span");
  gen.id = "generated";
  out.append(gen);
  abort = new AbortController();
  $("go").disabled = true;
  $("stop").disabled = false;
  const t0 = performance.now();
  let finish = null, usage = null, first = null;
  try {
    const res = await fetch(chat ? "/v1/chat/completions" : "/v1/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(body), signal: abort.signal,
    });
    if (!res.ok) throw new Error(await errorText(res));
    await readEvents(res, (data) => {
      if (data === "[DONE]") return;
      const j = JSON.parse(data);
      if (j.error) throw new Error(j.error.message);
      if (j.usage) usage = j.usage;
      const c = j.choices && j.choices[0];
      if (!c) return;
      const piece = chat ? (c.delta && c.delta.content) || "" : c.text || "";
      if (piece) {
        if (first === null) first = performance.now();
        gen.textContent += piece;
      }
      if (c.finish_reason) finish = c.finish_reason;
    });
    const s = (performance.now() - t0) / 1000;
    const n = usage ? usage.completion_tokens : 0;
    const ttft = first === null ? "" : ` · first text after ${Math.round(first - t0)} ms`;
    $("stats").textContent = `${n} tokens in ${s.toFixed(2)} s (${(n / s).toFixed(1)} tok/s)${ttft} · prompt ${usage ? usage.prompt_tokens : "?"} tokens · finish: ${finish}`;
  } catch (e) {
    if (e.name === "AbortError") $("stats").textContent = "stopped";
    else {
      const err = document.createElement("div");
      err.className = "error";
      err.textContent = String(e.message || e);
      out.append(err);
    }
  } finally {
    $("go").disabled = false;
    $("stop").disabled = true;
    abort = null;
  }
}

async function classify() {
  const bars = $("bars");
  bars.replaceChildren();
  $("cstats").textContent = "";
  const body = { input: $("input").value };
  const labels = $("labels").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (labels.length) body.labels = labels;
  $("classify").disabled = true;
  try {
    const res = await fetch("/v1/classify", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!res.ok) throw new Error(await errorText(res));
    const j = await res.json();
    const sorted = Object.entries(j.probs).sort((a, b) => b[1] - a[1]);
    for (const [name, p] of sorted) {
      const row = document.createElement("div");
      row.className = "bar" + (name === j.label ? " best" : "");
      const n = document.createElement("span");
      n.className = "name";
      n.textContent = name;
      const track = document.createElement("div");
      track.className = "track";
      const fill = document.createElement("div");
      fill.className = "fill";
      fill.style.width = (100 * p).toFixed(1) + "%";
      track.append(fill);
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = (100 * p).toFixed(1) + "%";
      row.append(n, track, pct);
      bars.append(row);
    }
    $("cstats").textContent = `label: ${j.label} · ${j.latency_ms.toFixed(1)} ms on the model · ${j.usage.prompt_tokens} prompt tokens`;
  } catch (e) {
    const err = document.createElement("div");
    err.className = "error";
    err.textContent = String(e.message || e);
    bars.append(err);
  } finally {
    $("classify").disabled = false;
  }
}

$("go").addEventListener("click", generate);
$("stop").addEventListener("click", () => abort && abort.abort());
$("classify").addEventListener("click", classify);
$("key").addEventListener("change", refresh);
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate();
});
refresh();
