// Drive the system's Chromium over a built nnzoo demo site and print what the page answered, as JSON.
//
//   node check_site.mjs URL [--samples K,K,...] [--draw] [--screenshot FILE.png] [--timeout MS] [--bench N]
//                                   [--viewport WxH] [--reprocess]
//
// For each K, opens URL/index.html?sample=K and waits for <body data-ready="true">; with --draw, draws the
// digits 0, 1 and 3 with mouse events on the pad (after pressing Clear) and waits for the answers. Prints
// {"samples": {K: {NAME: digit}}, "drawn": {D: {NAME: digit}}, "timings": ..., "errors": [...]}, where
// errors lists every console error, page error and failed request. CHROMIUM overrides the browser's path.
// --reprocess returns each sample preprocessed again from the pad, as a drawing is ("reprocessed": {K: 784 grey levels}).
// --bench N times N single-image runs of every network (after the samples) into "images_per_s".
import fs from "node:fs";
import {chromium} from "playwright-core";

const args = process.argv.slice(2);
const url = args[0].replace(/\/?$/, "/");
const option = (name) => { const i = args.indexOf(name); return i < 0 ? null : args[i + 1]; };
const samples = (option("--samples") || "").split(",").filter((k) => k !== "").map(Number);
const timeout = Number(option("--timeout") || 120000);
const candidates = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean);
const executablePath = candidates.find((path) => fs.existsSync(path));
if (!executablePath) {
  console.error(`No Chromium found (tried ${candidates.join(", ")}): apt-get install chromium, or set CHROMIUM.`);
  process.exit(3);
}

// Strokes in the pad's 280x280 coordinates.
const circle = (cx, cy, rx, ry, from = 0, to = 2 * Math.PI, n = 40) =>
  Array.from({length: n + 1}, (_, i) => { const t = from + (to - from) * i / n; return [cx + rx * Math.sin(t), cy - ry * Math.cos(t)]; });
const DIGITS = {
  0: [circle(140, 140, 60, 95)],
  1: [[[150, 40], [145, 140], [140, 240]]],
  3: [circle(135, 92, 55, 50, -1.3, Math.PI, 30), circle(135, 190, 60, 50, 0, Math.PI + 1.3, 30)],
};

const errors = [];
const browser = await chromium.launch({executablePath, args: ["--no-sandbox"]});
const [width, height] = (option("--viewport") || "1280x900").split("x").map(Number);
const page = await browser.newPage({viewport: {width, height}});
page.on("console", (message) => { if (message.type() === "error") errors.push(`console: ${message.text()}`); });
page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
page.on("requestfailed", (request) => errors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
page.on("response", (response) => { if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`); });

async function answers() {  // once the page is ready; at once when it reports an error
  for (const start = Date.now(); !(await page.$('body[data-ready="true"]'));) {
    if (errors.length) throw new Error("the page reported errors");
    if (Date.now() - start > timeout) throw new Error(`the page was not ready in ${timeout} ms`);
    await page.waitForTimeout(50);
  }
  return page.$$eval("[data-network][data-digit]", (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.getAttribute("data-network"), Number(n.getAttribute("data-digit"))])));
}

const result = {samples: {}, drawn: {}, errors};
try {
  for (const k of samples) {
    await page.goto(`${url}index.html?sample=${k}`);
    result.samples[k] = await answers();
    result.votes = result.votes || {};
    result.votes[k] = await page.$eval("[data-votes]", (n) => n.getAttribute("data-members")).catch(() => null);
    if (result.timings === undefined) result.timings = await page.evaluate(() => window.nnzooDemo.timings);
  }
  // --reprocess: each sample as the pad shows it (28x28 scaled to 280x280), preprocessed again as a drawing.
  if (args.includes("--reprocess")) {
    result.reprocessed = {};
    for (const k of samples) {
      await page.goto(`${url}index.html?sample=${k}`);
      await answers();
      result.reprocessed[k] = await page.evaluate(() => Array.from(preprocess(document.getElementById("pad"))));
    }
  }
  if (args.includes("--draw")) {
    if (!samples.length) await page.goto(`${url}index.html`);
    const box = await page.locator("#pad").boundingBox();
    for (const [digit, strokes] of Object.entries(DIGITS)) {
      await page.click("#clear");
      for (const stroke of strokes) {
        await page.mouse.move(box.x + stroke[0][0], box.y + stroke[0][1]);
        await page.mouse.down();
        for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x, box.y + y, {steps: 2});
        await page.mouse.up();
      }
      await page.waitForFunction(() => document.body.getAttribute("data-ready") === "false" ||
                                       document.querySelectorAll("[data-digit]").length > 0, null, {timeout});
      result.drawn[digit] = await answers();
    }
  }
  const bench = Number(option("--bench") || 0);
  if (bench) {
    result.images_per_s = await page.evaluate(async (n) => {
      const speeds = {}, image = new ort.Tensor("float32", new Float32Array(784), [1, 28, 28, 1]);
      for (const [name, session] of window.nnzooDemo.sessions) {
        const s = await session;
        await s.run({image});
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await s.run({image});
        speeds[name] = Math.round(1000 * n / (performance.now() - t0));
      }
      return speeds;
    }, bench);
  }
  const screenshot = option("--screenshot");
  if (screenshot) await page.screenshot({path: screenshot, fullPage: false});
} catch (error) {
  errors.push(`driver: ${error.message}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
