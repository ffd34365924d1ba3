// tinyllm serve's web page in headless Chromium (Debian's chromium, driven by npm playwright-core,
// a fresh profile): the page loads with no console errors and shows the model; a prompt submitted
// streams its text in (the text grows over several updates before the request ends, and equals the
// API's for the same seed); the sensor classify box draws one bar per label with the API's
// probabilities; chat mode goes through the task template. Screenshots go to $TL_TESTS/serve_web/.
import fs from "node:fs";
import path from "node:path";
import { check, done, eq, makeModels, need, post, skip, startServer, workdir } from "./test_serve_lib.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} missing (Debian package chromium; scripts/install-deps installs it)`);
const { chromium } = need("playwright-core");
const W = workdir("serve-web");
const OUT = path.join(process.env.TL_TESTS || W, "serve_web");
fs.mkdirSync(OUT, { recursive: true });
const M = makeModels(W);
// scalar kernels: slow enough that a 96-token answer visibly streams
const srv = await startServer(["-m", M.loc, "-t", "1", "--kernels", "scalar", "--access-log", "none"]);

const profile = fs.mkdtempSync(path.join(W, "profile-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1100, height: 900 },
});
const page = ctx.pages()[0] || (await ctx.newPage());
const problems = [];
page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
page.on("pageerror", (e) => problems.push(String(e)));
try {
  await page.goto(srv.url + "/");
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 20000 });
  await page.waitForFunction(() => /localisation\.gguf/.test(document.getElementById("model").textContent), null, { timeout: 20000 });
  check(/Charging Station/.test(await page.textContent("#task")), "the page shows the model's task labels");

  // a completion, streamed: record the generated text at every change
  const prompt = "The robot reached the server rack and";
  await page.fill("#prompt", prompt);
  await page.fill("#max", "96");
  await page.fill("#temp", "0.9");
  await page.fill("#seed", "5");
  await page.evaluate(() => {
    window.__updates = [];
    new MutationObserver(() => window.__updates.push(document.getElementById("generated").textContent.length))
      .observe(document.getElementById("out"), { subtree: true, childList: true, characterData: true });
  });
  await page.click("#go");
  await page.waitForFunction(() => (document.getElementById("generated") || {}).textContent, null, { timeout: 20000 });
  await page.screenshot({ path: path.join(OUT, "streaming.png") });
  await page.waitForFunction(() => /finish: /.test(document.getElementById("stats").textContent), null, { timeout: 60000 });
  const updates = await page.evaluate(() => window.__updates);
  const grown = updates.filter((n, i) => i > 0 && n > updates[i - 1]).length;
  check(grown >= 3, `the text arrived in pieces (${grown} growing updates: ${JSON.stringify(updates.slice(0, 20))})`);
  const shown = await page.textContent("#generated");
  const api = await post(srv, "/v1/completions", { prompt, max_tokens: 96, temperature: 0.9, seed: 5 });
  eq(shown, api.json.choices[0].text, "the page's streamed text = the API's for the same seed");
  check(/96 tokens/.test(await page.textContent("#stats")) && /finish: length/.test(await page.textContent("#stats")), `stats line: ${await page.textContent("#stats")}`);

  // sensor classify: one bar per label, widths = the API's probabilities
  const input = "1013.2, 45.1, 22.3, 44.9, 120, 130, 90, 55";
  await page.fill("#input", input);
  await page.click("#classify");
  await page.waitForSelector("#bars .bar", { timeout: 20000 });
  const bars = await page.$$eval("#bars .bar", (rows) => rows.map((r) => ({ name: r.querySelector(".name").textContent, pct: r.querySelector(".pct").textContent,
                                                                       best: r.classList.contains("best") })));
  const want = (await post(srv, "/v1/classify", { input })).json;
  eq(bars.map((b) => b.name).sort(), Object.keys(want.probs).sort(), "one bar per label");
  check(bars.every((b) => b.pct === (100 * want.probs[b.name]).toFixed(1) + "%"), `bar percentages = the API's: ${JSON.stringify(bars)} vs ${JSON.stringify(want.probs)}`);
  eq(bars.filter((b) => b.best).map((b) => b.name), [want.label], "the best label is highlighted");
  await page.screenshot({ path: path.join(OUT, "page.png"), fullPage: true });

  // chat mode: the input goes through the task template, and streams the same way
  await page.check("#mode-chat");
  await page.fill("#prompt", input);
  await page.fill("#max", "8");
  await page.click("#go");
  await page.waitForFunction(() => /finish: /.test(document.getElementById("stats").textContent), null, { timeout: 60000 });
  const chatApi = await post(srv, "/v1/chat/completions", { messages: [{ role: "user", content: input }], max_tokens: 8, temperature: 0.9, seed: 5 });
  eq(await page.textContent("#generated"), chatApi.json.choices[0].message.content, "chat mode: the page's text = the API's");
  check(new RegExp(`prompt ${chatApi.json.usage.prompt_tokens} tokens`).test(await page.textContent("#stats")), "chat mode: the template's prompt tokens");
  await page.check("input[value=completion]");

  eq(problems, [], "console errors");
  // an error from the API shows in the page, not as an exception
  await page.fill("#max", "100000");
  await page.click("#go");
  await page.waitForSelector("#out .error", { timeout: 20000 });
  check(/max_tokens/.test(await page.textContent("#out .error")), "a 400 shows its message");
} finally {
  await ctx.close();
}
check(fs.statSync(path.join(OUT, "page.png")).size > 10000, "screenshot written");
console.log(`screenshots: ${OUT}/streaming.png, ${OUT}/page.png`);
eq(await srv.stop(), 0, "exit code after SIGTERM");
done("test_serve_web");
