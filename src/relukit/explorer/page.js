// The explorer's script. It evaluates no activation: every number it shows or draws was
// computed by relukit when the page was written (relukit/explorer/_data.py) and is read
// here from the packed arrays; moving a control only picks other precomputed arrays.
"use strict";

(async function explorer() {
  const t0 = performance.now();
  const META = JSON.parse(document.getElementById("rk-meta").textContent);
  const BUF = await unpack(document.getElementById("rk-blob").textContent.trim());
  const arr = (ref) => BUF.subarray(ref[0], ref[0] + ref[1]);
  const GRID = arr(META.grid);
  const ENTRIES = new Map(META.entries.map((e) => [e.name, e]));
  const FIG = META.figures;
  const $ = (id) => document.getElementById(id);

  const state = {
    shown: META.start.shown.slice(),
    lo: META.start.xlim[0],
    hi: META.start.xlim[1],
    atKink: META.start.atKink,
    cursor: nearest(GRID, -1.0),
    sliders: Object.fromEntries(META.entries.map((e) => [e.name, e.sliders.map((s) => s.start)])),
    mean: META.dying.means.indexOf(0),
    spread: META.dying.spreads.indexOf(1),
    focus: META.start.shown[0],
  };

  // ---- the packed numbers: base64 of gzip of little-endian float64 ---------------------
  async function unpack(b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Float64Array(await new Response(stream).arrayBuffer());
  }

  // A number as Python's repr writes it (the shortest text that reads back to the same
  // float, as relukit's command line prints): 0.01, 1e-05, -0.0, 1.0, nan, inf.
  function pyrepr(v) {
    if (v === null || Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
    const [mant, e] = v.toExponential().split("e"); // shortest round-trip digits
    const exp = Number(e);
    if (exp < -4 || exp >= 16) {
      return mant + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
    }
    const s = String(v); // fixed notation, the same digits, for these exponents
    return s.includes(".") ? s : s + ".0";
  }

  function nearest(xs, x) {
    let best = 0;
    for (let i = 1; i < xs.length; i++) if (Math.abs(xs[i] - x) < Math.abs(xs[best] - x)) best = i;
    return best;
  }

  // ---- which precomputed numbers are current ----------------------------------------
  function comboOf(name) {
    const e = ENTRIES.get(name);
    let index = 0;
    e.sliders.forEach((s, k) => {
      index = index * s.values.length + state.sliders[name][k];
    }); // row-major, as itertools.product wrote them
    return e.combos[index];
  }
  const colorOf = (name) => META.colors[state.shown.indexOf(name) % META.colors.length];
  const lookOf = (name) => META.looks[state.shown.length - 1][state.shown.indexOf(name)];
  const inRange = (x) => Number.isNaN(x) || (x >= state.lo && x <= state.hi);

  function slice(xs, ys) {
    const x = [], y = [];
    for (let i = 0; i < xs.length; i++) {
      if (inRange(xs[i])) {
        x.push(xs[i]);
        y.push(ys[i]);
      }
    }
    return { x, y };
  }

  function kinkAtCursor(combo) {
    const x = GRID[state.cursor];
    return combo.kinks.find((k) => !k.far && k.x === x);
  }

  // ---- the curves ---------------------------------------------------------------------
  function drawCurves() {
    const traces = [];
    const shapes = [];
    const atLabel = META.atKink[state.atKink].label;
    state.shown.forEach((name, i) => {
      const c = comboOf(name);
      if (c.error) return;
      const color = colorOf(name), look = lookOf(name);
      const line = { color, width: look.width, dash: look.dash };
      traces.push({ ...FIG.styles.value, ...slice(arr(c.vx), arr(c.vy)), name, line, legendgroup: name });
      traces.push({ ...FIG.styles.derivative, ...slice(arr(c.dx), arr(c.dy)), name: name + "′", line, legendgroup: name });
      const shown = c.kinks.filter((k) => !k.far && k.show[state.atKink] && inRange(k.x));
      if (shown.length) {
        const open = { ...FIG.styles.limits.marker, size: look.size, line: { width: 2, color } };
        traces.push({ ...FIG.styles.limits, name: name + ": one-sided limits", legendgroup: name,
          x: shown.flatMap((k) => [k.x, k.x]), y: shown.flatMap((k) => [k.left, k.right]), marker: open });
        traces.push({ ...FIG.styles.used, name: name + ": used at the kink", legendgroup: name,
          x: shown.map((k) => k.x), y: shown.map((k) => k.used[state.atKink]),
          marker: { color, size: look.size - 3 } });
      }
      c.zero.forEach(([a, b]) => {
        const x0 = Math.max(a, state.lo), x1 = Math.min(b, state.hi);
        if (x1 <= x0) return;
        for (const yref of ["y domain", "y2 domain"]) {
          shapes.push({ type: "rect", xref: "x", yref, x0, x1, y0: 0, y1: 1, layer: "below",
            fillcolor: color, opacity: 0.1, line: { width: 0 },
            label: yref === "y2 domain" ? { text: "no gradient: " + name, textposition:
              ["top center", "middle center", "bottom center"][i % 3], font: { size: 11, color } } : undefined });
        }
      });
    });
    // two legend entries that explain the markers, as the static plots have
    const anyKink = traces.some((t) => t.name.endsWith(": used at the kink"));
    if (anyKink) {
      traces.push({ ...FIG.styles.limits, x: [null], y: [null], showlegend: true, name: "one-sided limits",
        marker: { ...FIG.styles.limits.marker, size: 10, line: { width: 2, color: "#444" } } });
      traces.push({ ...FIG.styles.used, x: [null], y: [null], showlegend: true,
        name: "derivative used at the kink (" + atLabel + ")", marker: { color: "#444", size: 9 } });
    }
    const x = GRID[state.cursor];
    shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
      line: { color: "#555", width: 1, dash: "dot" } });
    const layout = { ...FIG.curves, shapes, xaxis: { ...FIG.curves.xaxis, range: [state.lo, state.hi] } };
    Plotly.react("rk-curves", traces, layout, { displaylogo: false, responsive: true });
  }

  // ---- the read-out at the cursor -------------------------------------------------------
  function drawReadout() {
    const x = GRID[state.cursor];
    $("rk-cursor").value = state.cursor;
    $("rk-cursor-x").textContent = pyrepr(x);
    const body = $("rk-readout").tBodies[0];
    body.replaceChildren();
    let atKinkNote = false;
    for (const name of state.shown) {
      const c = comboOf(name);
      const tr = body.insertRow();
      tr.dataset.name = name;
      const th = document.createElement("th");
      th.innerHTML = `<span class="rk-swatch" style="background:${colorOf(name)}"></span>${name}`;
      tr.appendChild(th);
      if (c.error) {
        tr.insertCell().textContent = "—";
        tr.insertCell().textContent = "—";
        continue;
      }
      const k = kinkAtCursor(c);
      const d = k ? k.used[state.atKink] : arr(c.rd)[state.cursor];
      const cv = tr.insertCell(), cd = tr.insertCell();
      cv.className = "rk-value";
      cd.className = "rk-derivative";
      cv.textContent = pyrepr(arr(c.rv)[state.cursor]);
      cd.textContent = pyrepr(d) + (k ? " *" : "");
      atKinkNote ||= Boolean(k);
    }
    const label = META.atKink[state.atKink].label;
    $("rk-readout-note").textContent = atKinkNote
      ? `* x is a kink: the derivative used there, at_kink = ${label}.` : "";
  }

  // ---- one card per activation shown: formula, sliders, kinks, conventions --------------
  function buildCards() {
    const box = $("rk-cards");
    box.replaceChildren();
    for (const name of state.shown) {
      const e = ENTRIES.get(name);
      const card = document.createElement("article");
      card.className = "rk-card";
      card.dataset.name = name;
      card.style.borderTopColor = colorOf(name);
      card.innerHTML = `<h3>${e.title} <code>rk.${e.signature}</code></h3><p>${esc(e.summary)}</p>
        <div class="rk-formula" data-latex="value"></div><div class="rk-formula" data-latex="derivative"></div>
        <div class="rk-sliders"></div><p class="rk-error" hidden></p>
        <table class="rk-kinks"></table><div class="rk-conventions"></div>`;
      katex.render(e.latex, card.querySelector('[data-latex="value"]'), { displayMode: true, throwOnError: false });
      katex.render(e.derivativeLatex, card.querySelector('[data-latex="derivative"]'), { displayMode: true, throwOnError: false });
      const sliders = card.querySelector(".rk-sliders");
      e.sliders.forEach((s, k) => {
        const row = document.createElement("label");
        row.className = "rk-slider";
        row.innerHTML = `<span class="rk-param">${s.name}</span>
          <input type="range" min="0" max="${s.values.length - 1}" step="1" value="${state.sliders[name][k]}"
            data-param="${s.name}" aria-label="${name} ${s.name}">
          <output>${s.labels[state.sliders[name][k]]}</output><small>${esc(s.doc)}</small>`;
        row.querySelector("input").addEventListener("input", (ev) => {
          state.sliders[name][k] = Number(ev.target.value);
          row.querySelector("output").textContent = s.labels[state.sliders[name][k]];
          updateCard(name);
          drawCurves();
          drawReadout();
          drawDying();
        });
        sliders.appendChild(row);
      });
      for (const f of e.fixed) {
        const p = document.createElement("p");
        p.className = "rk-note";
        p.textContent = `${f.name} = ${f.value} (fixed here: ${f.doc})`;
        sliders.appendChild(p);
      }
      card.querySelector(".rk-conventions").innerHTML = conventionsHtml(e);
      box.appendChild(card);
      updateCard(name);
    }
  }

  function conventionsHtml(e) {
    let h = `<p>PyTorch: <code>${e.torch || "—"}</code>; JAX: <code>${e.jax || "—"}</code>.`;
    if (e.differences) h += ` ${esc(e.differences)}`;
    h += "</p>";
    if (e.conventions.length) {
      const libs = META.libraries;
      h += `<table class="rk-convention"><caption>The convention table, measured when this page was
        written</caption><tr><th>question</th>${libs.map((l) => `<th>${l}</th>`).join("")}</tr>`;
      for (const row of e.conventions) {
        h += `<tr><td>${esc(row.question)}</td>${libs.map((l) => `<td>${esc(row[l])}</td>`).join("")}</tr>`;
      }
      h += "</table>";
    }
    return h;
  }

  function updateCard(name) {
    const e = ENTRIES.get(name);
    const card = document.querySelector(`.rk-card[data-name="${name}"]`);
    if (!card) return;
    const c = comboOf(name);
    const err = card.querySelector(".rk-error");
    err.hidden = !c.error;
    err.textContent = c.error ? `These parameters are refused: ${c.error}` : "";
    const table = card.querySelector(".rk-kinks");
    if (c.error || !c.kinks.length) {
      table.innerHTML = c.error ? "" : "<caption>No kinks: the derivative is continuous.</caption>";
      return;
    }
    const label = META.atKink[state.atKink].label;
    let h = `<caption>Kinks (for these parameters)</caption><tr><th>x</th><th>left limit</th>
      <th>right limit</th><th>used there (${esc(label)})</th><th>relukit's default, and why</th></tr>`;
    c.kinks.forEach((k, i) => {
      const note = e.kinkNotes[i] ? esc(e.kinkNotes[i].note) : "";
      const used = k.far ? "(outside the page's range)" : pyrepr(k.used[state.atKink]);
      const dflt = k.far ? "" : pyrepr(k.default) + ": ";
      h += `<tr><td>${pyrepr(k.x)}</td><td>${pyrepr(k.left)}</td><td>${pyrepr(k.right)}</td>
        <td class="rk-used">${used}</td><td>${dflt}${note}</td></tr>`;
    });
    table.innerHTML = h;
  }

  function esc(text) {
    const d = document.createElement("span");
    d.textContent = text == null ? "" : String(text);
    return d.innerHTML;
  }

  // ---- the dying-unit view --------------------------------------------------------------
  function drawDying() {
    const D = META.dying;
    const k = state.mean * D.spreads.length + state.spread;
    $("rk-mean").value = state.mean;
    $("rk-spread").value = state.spread;
    $("rk-mean-out").textContent = pyrepr(D.means[state.mean]);
    $("rk-spread-out").textContent = pyrepr(D.spreads[state.spread]);
    const nb = D.centers.length;
    const counts = arr(D.counts).subarray(k * nb, (k + 1) * nb);
    const [lo, hi] = D.ranges[k];
    const shapes = [];
    if (state.shown.includes(state.focus)) {
      const c = comboOf(state.focus);
      for (const [a, b] of c.error ? [] : c.zero) {
        const x0 = Math.max(a, lo), x1 = Math.min(b, hi);
        if (x1 > x0) {
          shapes.push({ type: "rect", xref: "x", yref: "paper", x0, x1, y0: 0, y1: 1, layer: "below",
            fillcolor: colorOf(state.focus), opacity: 0.15, line: { width: 0 },
            label: { text: `${state.focus}: no gradient`, textposition: "top center",
              font: { size: 12, color: colorOf(state.focus) } } });
        }
      }
    }
    const layout = { ...FIG.dying, shapes, xaxis: { ...FIG.dying.xaxis, range: [lo, hi] } };
    const trace = { ...FIG.styles.histogram, x: D.centers, y: Array.from(counts), width: 0.25 };
    Plotly.react("rk-dying-plot", [trace], layout, { displaylogo: false, responsive: true });
    const body = $("rk-dying-readout").tBodies[0];
    body.replaceChildren();
    for (const name of state.shown) {
      const c = comboOf(name);
      const tr = body.insertRow();
      tr.dataset.name = name;
      tr.innerHTML = `<th><span class="rk-swatch" style="background:${colorOf(name)}"></span>${name}</th>`;
      const dead = tr.insertCell(), none = tr.insertCell();
      dead.className = "rk-dead";
      none.className = "rk-nograd";
      if (c.error) {
        dead.textContent = none.textContent = "—";
        continue;
      }
      const share = arr(c.dead)[k];
      dead.textContent = `${(100 * share).toFixed(1)} % (${Math.round(share * D.units)} of ${D.units})`;
      dead.dataset.share = pyrepr(share);
      none.textContent = `${(100 * arr(c.noGrad)[k]).toFixed(1)} %`;
    }
    drawMeasured();
  }

  function drawMeasured() {
    const M = META.metrics;
    if (!M) return;
    $("rk-measured").hidden = false;
    const traces = [];
    const body = $("rk-measured-table").tBodies[0];
    body.replaceChildren();
    const names = Object.keys(M.variants);
    for (const variant of names) {
      const v = M.variants[variant];
      const base = variant.split("+")[0];
      const tr = body.insertRow();
      tr.insertCell().textContent = variant + (base === "leaky_relu" ? ` (negative_slope=${pyrepr(M.negativeSlope)})` : "");
      tr.insertCell().textContent = v.finalMean === null ? "—"
        : `${(100 * v.finalMean).toFixed(1)} % ± ${(100 * v.finalStd).toFixed(1)}`;
      tr.classList.toggle("rk-selected", state.shown.includes(base));
      if (!state.shown.includes(base)) continue;
      const color = colorOf(base);
      Object.entries(v.layers).forEach(([layer, s], j) => {
        traces.push({ ...FIG.styles.measured, x: v.steps, y: s.mean.map((f) => 100 * f),
          name: `${variant}, ${layer}`, line: { color, dash: META.looks[3][j % 4].dash,
            width: variant.includes("+") ? 1.2 : 2.2 } });
      });
    }
    $("rk-measured-text").textContent = `Dead units per hidden layer during training (mean over
      seeds ${M.seeds.join(", ")}) on ${M.dataset}, ${M.optimizer} lr=${pyrepr(M.lr)}, ${M.epochs}
      epochs; shown for the activations selected above that the run trained
      (${names.join(", ")}).`;
    Plotly.react("rk-measured-plot", traces, FIG.measured, { displaylogo: false, responsive: true });
  }

  // ---- controls -----------------------------------------------------------------------------
  function buildControls() {
    const pick = $("rk-pick");
    for (const e of META.entries) {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" value="${e.name}"> ${e.title} <code>${e.name}</code>`;
      const box = label.querySelector("input");
      box.checked = state.shown.includes(e.name);
      box.addEventListener("change", () => {
        const picked = [...pick.querySelectorAll("input:checked")].map((b) => b.value);
        state.shown = META.entries.map((x) => x.name).filter((n) => picked.includes(n));
        if (!state.shown.includes(state.focus)) state.focus = state.shown[0];
        refreshFocus();
        buildCards();
        drawAll();
      });
      pick.appendChild(label);
    }
    const atk = $("rk-atkink");
    META.atKink.forEach((a, i) => {
      const label = document.createElement("label");
      label.innerHTML = `<input type="radio" name="rk-atkink" value="${i}"> ${esc(a.label)}`;
      const r = label.querySelector("input");
      r.checked = i === state.atKink;
      r.addEventListener("change", () => {
        state.atKink = i;
        state.shown.forEach(updateCard);
        drawCurves();
        drawReadout();
      });
      atk.appendChild(label);
    });
    for (const [id, key] of [["rk-lo", "lo"], ["rk-hi", "hi"]]) {
      const input = $(id);
      input.min = META.span[0];
      input.max = META.span[1];
      input.value = state[key];
      input.addEventListener("change", () => {
        const v = Number(input.value);
        const next = { ...state, [key]: v };
        if (!Number.isFinite(v) || v < META.span[0] || v > META.span[1] || next.lo >= next.hi) {
          input.value = state[key]; // refused: the range must stay inside the sampled span
          return;
        }
        state[key] = v;
        drawCurves();
      });
    }
    const cursor = $("rk-cursor");
    cursor.max = GRID.length - 1;
    cursor.addEventListener("input", () => {
      state.cursor = Number(cursor.value);
      drawCurves();
      drawReadout();
    });
    $("rk-units").textContent = META.dying.units;
    $("rk-inputs").textContent = META.dying.inputs;
    $("rk-mean").max = META.dying.means.length - 1;
    $("rk-spread").max = META.dying.spreads.length - 1;
    $("rk-mean").addEventListener("input", (ev) => { state.mean = Number(ev.target.value); drawDying(); });
    $("rk-spread").addEventListener("input", (ev) => { state.spread = Number(ev.target.value); drawDying(); });
    $("rk-focus").addEventListener("change", (ev) => { state.focus = ev.target.value; drawDying(); });
    refreshFocus();
  }

  function refreshFocus() {
    const sel = $("rk-focus");
    sel.innerHTML = state.shown.map((n) => `<option value="${n}">${n}</option>`).join("");
    sel.value = state.focus || "";
  }

  function drawAll() {
    drawCurves();
    drawReadout();
    drawDying();
  }

  $("rk-loading").hidden = true;
  $("rk-main").hidden = false;
  buildControls();
  buildCards();
  drawAll();
  // the plot's hover moves the cursor to the nearest x of the read-out grid
  $("rk-curves").on("plotly_hover", (ev) => {
    const x = ev.points && ev.points.length ? ev.points[0].x : null;
    if (x === null || x === undefined) return;
    const i = nearest(GRID, x);
    if (i !== state.cursor) {
      state.cursor = i;
      drawReadout();
      const last = document.getElementById("rk-curves").layout.shapes.length - 1; // the cursor line
      Plotly.relayout("rk-curves", { [`shapes[${last}].x0`]: GRID[i], [`shapes[${last}].x1`]: GRID[i] });
    }
  });
  // for tests and the curious: the state, and how long the page took to become usable
  window.relukitExplorer = { state, readyMs: performance.now(), scriptMs: performance.now() - t0, pyrepr };
})();
