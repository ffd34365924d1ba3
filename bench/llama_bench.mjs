// Real llama.cpp (npm node-llama-cpp, its prebuilt CPU libraries) timed like `tinyllm bench`:
// pp = one batch of N random tokens, tg = N tokens decoded one at a time from an empty context.
// usage: node llama_bench.mjs NODE_MODULES MODEL.gguf THREADS N_PP N_TG REPS  -> one JSON line
const [nm, modelPath, threads, nPP, nTG, reps] = process.argv.slice(2);
const { getLlama } = await import(nm + "/node-llama-cpp/dist/index.js");
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: 0 });
const t0 = performance.now();
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const loadS = (performance.now() - t0) / 1000;
const n = Math.max(+nPP, +nTG);
const ctx = await model.createContext({ contextSize: Math.max(n, 128), batchSize: Math.max(+nPP, 1), threads: +threads });
const seq = ctx.getSequence();
let s = 1234n;
const toks = [];
for (let i = 0; i < n; i++) { s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n); toks.push(Number(s >> 33n) % model.tokens.count); }
async function once() {
  await seq.clearHistory();
  let a = performance.now();
  if (+nPP) await seq.evaluateWithoutGeneratingNewTokens(toks.slice(0, +nPP));
  const pp = (performance.now() - a) / 1000;
  await seq.clearHistory();
  a = performance.now();
  let k = 0;
  if (+nTG) for await (const t of seq.evaluate([toks[0]], { temperature: 0 })) { if (++k >= +nTG) break; }
  const tg = (performance.now() - a) / 1000;
  return [pp, tg];
}
await once(); // warm-up
const pp = [], tg = [];
for (let r = 0; r < +reps; r++) { const [a, b] = await once(); pp.push(+nPP / a); tg.push(+nTG / b); }
const med = (v) => { v = [...v].sort((x, y) => x - y); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
console.log(JSON.stringify({ llama_cpp: llama.llamaCppRelease.release, threads: ctx.currentThreads, pp: med(pp), tg: med(tg), pp_runs: pp, tg_runs: tg,
  load_s: loadS, rss_mb: process.memoryUsage().rss / 1e6 }));
await ctx.dispose(); await model.dispose(); await llama.dispose();
