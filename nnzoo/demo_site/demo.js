// nnzoo demo: draw a digit (or pick a test image) and every shipped network answers, in the browser.
// The page reads manifest.json (written by `nnzoo demo --build`), loads each ONNX model lazily, smallest
// first, and runs it with ONNX Runtime Web's WebAssembly backend. ?sample=K shows the K-th official test
// image. Each answer is an element with data-network="NAME" and data-digit="D"; <body data-ready="true">
// once every network has answered the current image.
"use strict";

const SIDE = 28, BOX = 20;
const state = {manifest: null, sessions: new Map(), bytes: new Map(), input: null, generation: 0, samples: null,
               showcase: 0, started: performance.now(), timings: {}, queue: Promise.resolve()};
window.nnzooDemo = state;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function setStatus(text) { document.getElementById("status").textContent = text; }

// ---------------------------------------------------------------------------------------------- page

function renderZoo(manifest) {
  const zoo = document.getElementById("zoo");
  const chapters = [...new Set(manifest.networks.map((n) => n.chapter))].sort((a, b) => a - b);
  for (const chapter of chapters) {
    const title = manifest.chapters[chapter] || "";
    const group = el("section", {class: "chapter", "data-chapter": chapter},
                     el("h2", {}, `Chapter ${chapter}`, title ? `: ${title}` : ""));
    for (const net of manifest.networks.filter((n) => n.chapter === chapter)) group.append(renderNetwork(net));
    zoo.append(group);
  }
  const bytes = manifest.page_bytes / 1e6;
  document.getElementById("about").textContent =
    `${manifest.networks.length} networks; ${bytes.toFixed(1)} MB in all, models loaded as needed; ` +
    `runtime ${manifest.runtime.package} ${manifest.runtime.version}.`;
}

function renderNetwork(net) {
  const bars = el("div", {class: "bars"});
  for (let d = 0; d < 10; d++) {
    bars.append(el("div", {class: "bar", "data-class": d}, el("span", {class: "fill"}), el("span", {class: "label"}, `${d}`)));
  }
  const quantised = net.quantization === "int8"
    ? `int8 weights, the Keras digit on ${(100 * net.agreement).toFixed(2)}% of ${net.checked_images.toLocaleString("en")} test images`
    : `float32 weights (int8: the Keras digit on only ${(100 * net.int8_agreement).toFixed(2)}%)`;
  const card = el("article", {class: "network", id: `net-${net.name}`},
    el("header", {},
      el("output", {class: "answer", "data-network": net.name, title: "this network's digit"}, "…"),
      el("div", {},
        el("h3", {}, net.name),
        el("p", {class: "arch"}, net.architecture),
        el("p", {class: "scores"},
          el("span", {}, net.book_accuracy === null ? "book: no number" : `book: ${net.book_accuracy.toFixed(2)}%`), " · ",
          el("span", {}, `measured: ${net.accuracy.toFixed(2)}%`), " · ",
          el("a", {href: net.book_url, target: "_blank", rel: "noopener"}, net.experiment)))),
    bars,
    el("p", {class: "meta"}, `${net.params.toLocaleString("en")} parameters, ${(net.bytes / 1e6).toFixed(2)} MB; ${quantised}`));
  card.title = net.summary;
  if (net.members) card.append(el("p", {class: "votes", "data-votes": net.name}, "members' votes: …"));
  if (net.figure) {
    const image = el("img", {src: net.figure, alt: `figure for ${net.name}`, loading: "lazy"});
    card.append(el("details", {class: "figure"}, el("summary", {}, "figure"), el("a", {href: net.figure, target: "_blank"}, image)));
  }
  return card;
}

function showAnswer(net, probabilities, members) {
  const digit = argmax(probabilities);
  const answer = document.querySelector(`output[data-network="${net.name}"]`);
  answer.textContent = `${digit}`;
  answer.setAttribute("data-digit", `${digit}`);
  const total = net.members ? 1 : Math.max(1, probabilities.reduce((a, b) => a + b, 0));
  document.querySelectorAll(`#net-${net.name} .bar`).forEach((bar, d) => {
    const p = probabilities[d];
    bar.querySelector(".fill").style.height = `${Math.round(100 * Math.min(1, p / total))}%`;
    bar.classList.toggle("top", d === digit);
    bar.title = `${d}: ${p.toFixed(4)}`;
  });
  if (members) {
    const votes = members.map((m) => argmax(m));
    const votesNode = document.querySelector(`[data-votes="${net.name}"]`);
    votesNode.textContent = `members' votes: ${votes.join(", ")}`;
    votesNode.setAttribute("data-members", votes.join(","));
  }
}

function clearAnswers() {
  document.querySelectorAll("output[data-network]").forEach((answer) => {
    answer.textContent = "…";
    answer.removeAttribute("data-digit");
  });
  document.querySelectorAll(".bar .fill").forEach((fill) => { fill.style.height = "0"; });
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------- models

// A model's bytes: fetched once; main() starts every fetch at once, so the downloads overlap the first runs.
function modelBytes(net) {
  if (!state.bytes.has(net.name)) {
    state.bytes.set(net.name, fetch(net.file).then((response) => {
      if (!response.ok) throw new Error(`${net.file}: HTTP ${response.status}`);
      return response.arrayBuffer();
    }).then((buffer) => new Uint8Array(buffer)));
  }
  return state.bytes.get(net.name);
}

function session(net) {
  if (!state.sessions.has(net.name)) {
    const t0 = performance.now();
    // disable_quant_qdq lets the graph optimiser fold the int8 weights' DequantizeLinear into float32 constants
    // once, at load (else every run dequantises them again: the ensemble runs 5x slower).
    const options = {executionProviders: ["wasm"], extra: {session: {disable_quant_qdq: "1"}}};
    state.sessions.set(net.name, modelBytes(net).then((bytes) => ort.InferenceSession.create(bytes, options)).then((s) => {
      state.timings[`load ${net.name}`] = performance.now() - t0;
      return s;
    }));
  }
  return state.sessions.get(net.name);
}

// One run at a time: a new drawing starts while the last one's runs may still be in flight.
function runExclusive(task) {
  const result = state.queue.then(task);
  state.queue = result.catch(() => undefined);
  return result;
}

async function classify(input) {
  const generation = ++state.generation;
  state.input = input;
  document.body.setAttribute("data-ready", "false");
  clearAnswers();
  const started = performance.now();
  const order = [...state.manifest.networks].sort((a, b) => a.bytes - b.bytes);
  let answered = 0;
  for (const net of order) {
    const s = await session(net);
    if (generation !== state.generation) return;
    const feeds = {image: new ort.Tensor("float32", input, [1, SIDE, SIDE, 1])};
    const outputs = await runExclusive(() => s.run(feeds));
    if (generation !== state.generation) return;
    const probabilities = Array.from(outputs.probabilities.data);
    let members = null;
    if (outputs.members) {
      const k = outputs.members.dims[1], data = outputs.members.data;
      members = Array.from({length: k}, (_, i) => Array.from(data.slice(10 * i, 10 * i + 10)));
    }
    showAnswer(net, probabilities, members);
    answered++;
    if (answered === 1 && state.timings.first_answer_ms === undefined) {
      state.timings.first_answer_ms = performance.now() - state.started;
    }
    setStatus(`${answered} of ${order.length} networks answered`);
  }
  const elapsed = performance.now() - started;
  if (state.timings.all_answers_ms === undefined) state.timings.all_answers_ms = performance.now() - state.started;
  state.timings.last_run_ms = elapsed;
  setStatus(`All ${order.length} networks answered in ${(elapsed / 1000).toFixed(2)} s.`);
  document.body.setAttribute("data-ready", "true");
}

// ---------------------------------------------------------------------------------------------- samples

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  let bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {  // still gzipped (a host that did not decode it)
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  return bytes;
}

async function samples() {
  if (!state.samples) {
    const s = state.manifest.samples;
    state.samples = Promise.all([fetchBytes(s.images), fetchBytes(s.labels)]);
  }
  return state.samples;
}

async function showSample(k) {
  const [images, labels] = await samples();
  const count = labels.length;
  if (!Number.isInteger(k) || k < 0 || k >= count) {
    setStatus(`No test image ${k}: expected ?sample=K with K an integer in [0, ${count - 1}].`);
    return;
  }
  const pixels = images.subarray(k * SIDE * SIDE, (k + 1) * SIDE * SIDE);
  const input = new Float32Array(SIDE * SIDE);
  for (let i = 0; i < input.length; i++) input[i] = pixels[i] / 255;
  paintPad(input);
  drawPreview(input);
  const hard = state.manifest.samples.hard.includes(k) ? " (one the best networks get wrong)" : "";
  document.getElementById("caption").textContent = `Official test image ${k}, labelled ${labels[k]}${hard}.`;
  document.body.setAttribute("data-sample", `${k}`);
  await classify(input);
}

// ---------------------------------------------------------------------------------------------- drawing

const pad = () => document.getElementById("pad");

function paintPad(input) {
  const ctx = pad().getContext("2d");
  const small = new ImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(255 * input[i]);
    small.data.set([v, v, v, 255], 4 * i);
  }
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = SIDE;
  canvas.getContext("2d").putImageData(small, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(canvas, 0, 0, pad().width, pad().height);
  state.drawn = false;
}

function drawPreview(input) {
  const ctx = document.getElementById("preview").getContext("2d");
  const image = new ImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(255 * input[i]);
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

function clearPad() {
  const ctx = pad().getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad().width, pad().height);
  state.drawn = false;
}

// MNIST's preprocessing: the ink's bounding box scaled (keeping its aspect ratio, area-averaged) to fit
// 20x20, then placed in 28x28 with its centre of mass at the centre; grey levels in [0, 1].
function preprocess(canvas) {
  const {width, height} = canvas;
  const rgba = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  const ink = new Float32Array(width * height);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = rgba[4 * (y * width + x)] / 255;
      ink[y * width + x] = v;
      if (v > 0.05) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
  }
  const out = new Float32Array(SIDE * SIDE);
  if (x1 < 0) return out;
  const w = x1 - x0 + 1, h = y1 - y0 + 1, scale = BOX / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * scale)), th = Math.max(1, Math.round(h * scale));
  const box = new Float32Array(tw * th);
  for (let ty = 0; ty < th; ty++) {  // area average of the source pixels under each target pixel
    for (let tx = 0; tx < tw; tx++) {
      const sx0 = x0 + tx * w / tw, sx1 = x0 + (tx + 1) * w / tw;
      const sy0 = y0 + ty * h / th, sy1 = y0 + (ty + 1) * h / th;
      let sum = 0, area = 0;
      for (let sy = Math.floor(sy0); sy < Math.ceil(sy1); sy++) {
        const fy = Math.min(sy + 1, sy1) - Math.max(sy, sy0);
        for (let sx = Math.floor(sx0); sx < Math.ceil(sx1); sx++) {
          const f = fy * (Math.min(sx + 1, sx1) - Math.max(sx, sx0));
          sum += f * ink[sy * width + sx];
          area += f;
        }
      }
      box[ty * tw + tx] = sum / area;
    }
  }
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
    const v = box[y * tw + x];
    mass += v; mx += v * x; my += v * y;
  }
  // The centre of mass at pixel (14, 14), as in MNIST's files: their own digits come back unchanged.
  const ox = Math.round(SIDE / 2 - mx / mass), oy = Math.round(SIDE / 2 - my / mass);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
    const X = x + ox, Y = y + oy;
    if (X >= 0 && X < SIDE && Y >= 0 && Y < SIDE) out[Y * SIDE + X] = Math.min(1, box[y * tw + x]);
  }
  return out;
}

function setUpDrawing() {
  const canvas = pad(), ctx = canvas.getContext("2d");
  clearPad();
  let last = null;
  const point = (event) => {
    const r = canvas.getBoundingClientRect();
    return [(event.clientX - r.left) * canvas.width / r.width, (event.clientY - r.top) * canvas.height / r.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    if (!state.drawn) {
      clearPad();
      document.body.removeAttribute("data-sample");
      document.getElementById("caption").textContent = "Your digit.";
    }
    state.drawn = true;
    last = point(event);
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    ctx.arc(last[0], last[1], 10, 0, 2 * Math.PI);
    ctx.fill();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    event.preventDefault();
    const p = point(event);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 20;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = null;
    const input = preprocess(canvas);
    drawPreview(input);
    classify(input);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  document.getElementById("clear").addEventListener("click", () => {
    clearPad();
    drawPreview(new Float32Array(SIDE * SIDE));
    document.body.removeAttribute("data-sample");
    document.getElementById("caption").textContent = "Draw a digit from 0 to 9 in the box.";
  });
  document.getElementById("sample").addEventListener("click", () => {
    const showcase = state.manifest.samples.showcase;
    const k = showcase[state.showcase++ % showcase.length];
    history.replaceState(null, "", `?sample=${k}`);
    showSample(k);
  });
}

// ---------------------------------------------------------------------------------------------- start

async function main() {
  ort.env.wasm.wasmPaths = new URL("vendor/", location.href).href;
  ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer needed: any static host works
  ort.env.logLevel = "error";
  const response = await fetch("manifest.json");
  state.manifest = await response.json();
  renderZoo(state.manifest);
  setUpDrawing();
  const bySize = [...state.manifest.networks].sort((a, b) => a.bytes - b.bytes);
  bySize.forEach(modelBytes);
  const sample = new URLSearchParams(location.search).get("sample");
  if (sample !== null) {
    await showSample(Number(sample));
  } else {
    setStatus("Draw a digit, or press Sample. The networks load as they are needed.");
    // Load the networks in the background, smallest first, so the first answers come at once.
    for (const net of bySize) await session(net);
    setStatus("Every network is loaded: draw a digit, or press Sample.");
  }
}

main().catch((error) => {
  setStatus(`Error: ${error.message}`);
  console.error(error);
});
