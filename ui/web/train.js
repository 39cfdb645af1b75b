// The Train page's live charts (ui/train.py mounts it; ui/train_feed.py names every field of what it is fed).
// The browser keeps each model's series and draws them, so the server sends only what is new:
// - a page run mounts it with a snapshot of the job so far (binned to a few hundred points per model);
// - while the job runs it opens the feed, a WebSocket to the server's own route, which pushes a frame of the
//   steps since the last one a few times a second and nothing when nothing is new; a frame applies only on top
//   of exactly the messages it follows, and the feed says when the job has ended (the page then runs once more
//   for the outcome);
// - a feed that cannot open, or drops, sends the page back to reading snapshots from its script
//   (`data-transport` on the root says which is in use).
// User-facing words come translated from the page; samples are the models' text, drawn as text only.

const OPEN_MS = 3000; // a feed that has not opened by then is given up
const COLORS = ["#0072B2", "#009E73", "#D55E00", "#CC79A7"]; // Okabe-Ito, by the order of data.models
const VIRIDIS = ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"];
const SERIES_KEYS = ["step", "loss", "norm", "clipped", "cpu_ms"];

function emptyState(job) {
  return { job, to: 0, series: {}, clipped: {}, counted: {}, heat: [], latest: {}, evaluations: [], samples: {} };
}

// Adds frame `f` to the series `s` holds; false when `f` does not follow what `s` holds.
function apply(s, f) {
  if (f.job !== s.job || f.since !== s.to) return false;
  for (const [arch, cols] of Object.entries(f.series)) {
    if (!s.series[arch]) s.series[arch] = Object.fromEntries(SERIES_KEYS.map((k) => [k, []]));
    const mine = s.series[arch];
    for (const k of SERIES_KEYS) mine[k].push(...cols[k]);
  }
  for (const [arch, n] of Object.entries(f.clipped)) s.clipped[arch] = (s.clipped[arch] || 0) + n;
  for (const [arch, n] of Object.entries(f.counted)) s.counted[arch] = (s.counted[arch] || 0) + n;
  s.heat.push(...f.heat);
  Object.assign(s.latest, f.latest);
  s.evaluations.push(...f.evaluations);
  Object.assign(s.samples, f.samples);
  if (f.to > f.since || f.since === 0) Object.assign(s, { step: f.step, elapsed: f.elapsed, share: f.share });
  Object.assign(s, { slowed: f.slowed, got: f.got, state: f.state, to: f.to });
  return true;
}

// ---- drawing: line charts and a heatmap in SVG, sized to the box they are drawn in

function niceTicks(lo, hi, log) {
  if (log) {
    const ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
    const inside = ticks.filter((v) => v >= lo * 0.999 && v <= hi * 1.001);
    const every = Math.ceil(inside.length / 6); // a vanishing gradient spans tens of decades
    if (inside.length >= 3) return inside.filter((_, i) => (inside.length - 1 - i) % every === 0);
    return ticks.flatMap((v) => [v, 2 * v, 5 * v]).filter((v) => v >= lo * 0.999 && v <= hi * 1.001);
  }
  const raw = (hi - lo) / 5 || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

function tickLabel(v) {
  if (v !== 0 && (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2)) return v.toExponential(0).replace("e+", "e");
  return String(+v.toPrecision(4));
}

// At most `points` points per line: the mean (or `how`) of each bin, flagged if any step in it was.
function thin(xs, ys, flags, points, how) {
  if (xs.length <= points) return { xs, ys, flags };
  const size = Math.ceil(xs.length / points);
  const out = { xs: [], ys: [], flags: [] };
  for (let i = 0; i < xs.length; i += size) {
    const chunk = ys.slice(i, i + size);
    out.xs.push(xs[Math.min(i + size, xs.length) - 1]);
    out.ys.push(how(chunk));
    out.flags.push(flags ? flags.slice(i, i + size).some(Boolean) : false);
  }
  return out;
}

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const max = (a) => Math.max(...a);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// lines: [{name, color, xs, ys, flags?}]; opts: {width, height, logY, rule, xTitle, yTitle, points, label}
function lineChart(lines, opts) {
  const W = Math.max(280, opts.width),
    H = opts.height || 260;
  const m = { left: 58, right: 12, top: 30, bottom: 40 };
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": opts.label });
  const ok = (v) => Number.isFinite(v) && (!opts.logY || v > 0);
  const all = lines.flatMap((l) => l.ys.filter(ok)).concat(opts.rule ? [opts.rule] : []);
  const xsAll = lines.flatMap((l) => l.xs);
  if (!all.length || !xsAll.length) return root;
  let [ylo, yhi] = [Math.min(...all), Math.max(...all)];
  if (ylo === yhi) [ylo, yhi] = opts.logY ? [ylo / 2, yhi * 2] : [ylo - 1, yhi + 1];
  let [xlo, xhi] = [Math.min(...xsAll), Math.max(...xsAll)];
  if (xlo === xhi) [xlo, xhi] = [xlo - 1, xhi + 1];
  const f = opts.logY ? Math.log10 : (v) => v;
  const x = (v) => m.left + ((v - xlo) / (xhi - xlo)) * (W - m.left - m.right);
  const y = (v) => H - m.bottom - ((f(v) - f(ylo)) / (f(yhi) - f(ylo))) * (H - m.top - m.bottom);
  for (const v of niceTicks(ylo, yhi, opts.logY)) {
    if (v < ylo * 0.999 || v > yhi * 1.001) continue;
    root.append(svg("line", { x1: m.left, x2: W - m.right, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: m.left - 5, y: y(v) + 4, "text-anchor": "end", class: "axis" }, tickLabel(v)));
  }
  for (const v of niceTicks(xlo, xhi, false)) {
    if (v < xlo || v > xhi) continue;
    root.append(svg("text", { x: x(v), y: H - m.bottom + 15, "text-anchor": "middle", class: "axis" }, tickLabel(v)));
  }
  root.append(
    svg("text", { x: (m.left + W - m.right) / 2, y: H - 6, "text-anchor": "middle", class: "title" }, opts.xTitle),
  );
  const yt = svg(
    "text",
    { x: 12, y: (m.top + H - m.bottom) / 2, "text-anchor": "middle", class: "title" },
    opts.yTitle,
  );
  yt.setAttribute("transform", `rotate(-90 12 ${(m.top + H - m.bottom) / 2})`);
  root.append(yt);
  if (opts.rule) {
    const r = y(opts.rule);
    root.append(svg("line", { x1: m.left, x2: W - m.right, y1: r, y2: r, class: "rule" }));
  }
  let lx = m.left;
  for (const l of lines) {
    const pts = l.xs.map((v, i) => [v, l.ys[i], l.flags?.[i]]).filter((p) => ok(p[1]));
    const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    const path = svg("path", { d, fill: "none", stroke: l.color, "stroke-width": 2 });
    path.append(svg("title", {}, l.name));
    root.append(path);
    for (const p of pts) {
      if (opts.points) root.append(svg("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: l.color }));
      if (p[2]) {
        const [cx, cy] = [x(p[0]), y(p[1])];
        const tri = `${cx},${cy - 5} ${cx - 4.5},${cy + 3.5} ${cx + 4.5},${cy + 3.5}`;
        root.append(svg("polygon", { points: tri, fill: l.color, stroke: "white", "stroke-width": 0.5 }));
      }
    }
    root.append(svg("rect", { x: lx, y: 8, width: 12, height: 12, fill: l.color }));
    const name = svg("text", { x: lx + 16, y: 18, class: "legend" }, l.name);
    root.append(name);
    lx += 28 + 6.5 * [...l.name].reduce((n, ch) => n + (ch.codePointAt(0) > 0x2e80 ? 2 : 1), 0); // CJK: wide
  }
  return root;
}

function rgb(hex) {
  return [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
}

function viridisRgb(t) {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const [a, b] = [rgb(VIRIDIS[i]), rgb(VIRIDIS[i + 1])];
  return a.map((v, k) => Math.round(v + (b[k] - v) * (u - i)));
}

// rows: [{step, model, norms}] -> one panel per model: distance back in time across, steps down (latest on
// top). Each panel is a canvas of one pixel per cell, scaled up without smoothing: thousands of cells redrawn
// several times a second cost the browser little this way, where as many SVG rectangles did not.
function heatmap(rows, models, names, opts) {
  const wrap = el("div", "heat");
  wrap.setAttribute("role", "img");
  wrap.setAttribute("aria-label", opts.label);
  const logs = rows.flatMap((r) => r.norms.filter((v) => v > 0).map(Math.log10));
  if (!logs.length) return wrap;
  const [lo, hi] = [Math.min(...logs), Math.max(...logs)];
  const panels = el("div", "panels");
  for (const arch of models.filter((a) => rows.some((r) => r.model === a))) {
    const mine = rows.filter((r) => r.model === arch).sort((a, b) => b.step - a.step);
    const T = Math.max(...mine.map((r) => r.norms.length));
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [T, mine.length];
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(T, mine.length);
    mine.forEach((r, i) => {
      const n = r.norms.length;
      for (let t = 0; t < T; t++) {
        const v = t < n ? r.norms[n - 1 - t] : 0; // distance t back from the end
        const [red, green, blue] = v > 0 ? viridisRgb((Math.log10(v) - lo) / (hi - lo || 1)) : [217, 217, 217];
        image.data.set([red, green, blue, 255], (i * T + t) * 4);
      }
    });
    ctx.putImageData(image, 0, 0);
    const panel = el("div", "panel");
    panel.append(el("div", "panel-title", names[arch]), canvas, el("div", "axis-title", opts.xTitle));
    panels.append(panel);
  }
  const legend = el("div", "heat-legend");
  const ramp = el("span", "ramp");
  ramp.style.background = `linear-gradient(to right, ${VIRIDIS.join(", ")})`;
  legend.append(ramp, document.createTextNode(`log10 ||dL/dh||: ${tickLabel(lo)} … ${tickLabel(hi)}`));
  wrap.append(panels, legend);
  return wrap;
}

// ---- the page

function lastValues(lines, fmt) {
  return lines
    .filter((l) => l.ys.length)
    .map((l) => `${l.name} ${fmt(l.ys[l.ys.length - 1])}`)
    .join(", ");
}

function seriesLines(state, data, key, how, withFlags) {
  return data.models
    .filter((a) => state.series[a])
    .map((a, i) => {
      const s = state.series[a];
      const t = thin(s.step, s[key], withFlags ? s.clipped : null, data.max_points, how);
      return { name: data.names[a], color: COLORS[i % COLORS.length], xs: t.xs, ys: t.ys, flags: t.flags };
    });
}

// At most `rows` heat rows per model, spread evenly over the run.
function thinHeat(heat, models, rows) {
  const out = [];
  for (const a of models) {
    const mine = heat.filter((r) => r.model === a);
    const keep = Math.min(rows, mine.length);
    const picked = new Set(
      Array.from({ length: keep }, (_, k) => Math.round((k * (mine.length - 1)) / Math.max(1, keep - 1))),
    );
    out.push(...[...picked].map((i) => mine[i]));
  }
  return out;
}

function section(parent, cls) {
  const e = el("div", cls);
  parent.append(e);
  return e;
}

function chartBox(parent, label) {
  const box = el("div", "chart");
  box.setAttribute("aria-label", label);
  parent.append(box);
  return box;
}

function draw(st) {
  const { data, root } = st;
  const s = st.series;
  const S = data.strings;
  const width = Math.max(300, root.clientWidth || 900);
  const half = width >= 760 ? (width - 24) / 2 : width;
  const body = el("div", "train-body");
  const capShare = Math.min(1, Math.max((s.step || 0) / data.max_steps, (s.elapsed || 0) / data.max_seconds));
  const words = fill(S.progress, {
    step: s.step || 0,
    steps: data.max_steps,
    seconds: (s.elapsed || 0).toFixed(0),
    cap: data.max_seconds,
  });
  const bar = section(body, "progress");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", words);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(Math.round(capShare * 100)));
  const fillBar = section(bar, "fill");
  fillBar.style.width = `${(capShare * 100).toFixed(1)}%`;
  body.append(el("p", "progress-text", words));
  if (!Object.keys(s.series).length) {
    body.append(el("p", "soon", S.starting)); // no step yet: no empty charts
    root.replaceChildren(body);
    return;
  }
  if (s.slowed && !data.ended) body.append(el("p", "slowed", fill(S.slowed, { share: (s.got || 0).toFixed(2) })));
  const top = section(body, "row");
  const loss = seriesLines(s, data, "loss", mean, false);
  const lossText = fill(S.loss_alt, { summary: lastValues(loss, (v) => v.toFixed(2)) });
  chartBox(top, lossText).append(
    lineChart(loss, { width: half, xTitle: S.step, yTitle: S.loss_bits, label: lossText }),
  );
  const evalTitle = data.text_task ? S.heldout_bits : S.accuracy;
  if (s.evaluations.length) {
    const evals = data.models
      .filter((a) => s.evaluations.some((e) => e.model === a))
      .map((a, i) => {
        const mine = s.evaluations.filter((e) => e.model === a);
        const ys = mine.map((e) => e.score);
        return { name: data.names[a], color: COLORS[i % COLORS.length], xs: mine.map((e) => e.step), ys };
      });
    const evalText = fill(S.eval_alt, { what: evalTitle, summary: lastValues(evals, (v) => v.toFixed(2)) });
    const points = s.evaluations.length < 60 * data.models.length;
    chartBox(top, evalText).append(
      lineChart(evals, { width: half, xTitle: S.step, yTitle: evalTitle, label: evalText, points }),
    );
  } else top.append(el("p", "soon", S.eval_soon));
  body.append(el("h3", "", S.through_time), el("p", "help", S.through_time_help));
  const dh = data.models
    .filter((a) => s.latest[a])
    .map((a, i) => {
      const norms = [...s.latest[a]].reverse();
      return { name: data.names[a], color: COLORS[i % COLORS.length], xs: norms.map((_, j) => j), ys: norms };
    });
  if (dh.length) {
    const ratios = dh.map((l) => {
      const first = l.ys[l.ys.length - 1],
        last = l.ys[0];
      return `${l.name} ${(last > 0 ? first / last : 0).toExponential(1)}`;
    });
    const dhText = fill(S.dh_alt, { summary: ratios.join(", ") });
    chartBox(body, dhText).append(
      lineChart(dh, { width, logY: true, xTitle: S.distance, yTitle: S.grad_norm_t, label: dhText }),
    );
    const heat = thinHeat(s.heat, data.models, data.heat_rows);
    chartBox(body, S.heat_alt).append(
      heatmap(heat, data.models, data.names, { width, xTitle: S.distance, label: S.heat_alt }),
    );
  }
  body.append(el("h3", "", S.clipping_title));
  const bottom = section(body, "row");
  const left = section(bottom, "col");
  const norms = seriesLines(s, data, "norm", max, true);
  const clipped = Object.values(s.clipped).reduce((a, b) => a + b, 0);
  const total = Object.values(s.counted).reduce((a, b) => a + b, 0);
  const normText = fill(S.norm_alt, { clipped, total, summary: lastValues(norms, (v) => v.toPrecision(3)) });
  chartBox(left, normText).append(
    lineChart(norms, {
      width: half,
      logY: true,
      rule: data.clip,
      xTitle: S.step,
      yTitle: S.norm_before,
      label: normText,
    }),
  );
  left.append(el("p", "help", data.clip ? fill(S.clipped, { clipped, total }) : S.no_clip));
  const right = section(bottom, "col");
  const ms = seriesLines(s, data, "cpu_ms", median, false);
  const msText = fill(S.ms_alt, { summary: lastValues(ms, (v) => v.toFixed(1)), unroll: data.unroll });
  chartBox(right, msText).append(lineChart(ms, { width: half, xTitle: S.step, yTitle: S.ms, label: msText }));
  if (data.cost.length) {
    const cost = data.models
      .filter((a) => data.cost.some((c) => c.model === a))
      .map((a, i) => {
        const mine = data.cost.filter((c) => c.model === a);
        return {
          name: data.names[a],
          color: COLORS[i % COLORS.length],
          xs: mine.map((c) => c.T),
          ys: mine.map((c) => c.ms),
        };
      });
    const costText = fill(S.cost_alt, {
      summary: data.cost.map((c) => `${data.names[c.model]} T=${c.T} ${c.ms.toFixed(1)} ms`).join(", "),
    });
    chartBox(right, costText).append(
      lineChart(cost, { width: half, height: 180, xTitle: S.unroll_axis, yTitle: S.ms, label: costText, points: true }),
    );
  }
  const samples = data.models.filter((a) => s.samples[a]);
  if (data.text_task && samples.length) {
    body.append(el("h3", "", S.samples));
    for (const a of samples) {
      body.append(el("p", "", fill(S.sample_of, { model: data.names[a], step: s.samples[a].step })));
      body.append(el("pre", "sample", s.samples[a].text));
    }
  }
  root.replaceChildren(body);
}

function drawn(st) {
  draw(st);
  const { root } = st,
    s = st.series;
  root.dataset.to = String(s.to);
  root.dataset.step = String(s.step || 0);
  root.dataset.elapsed = String(s.elapsed || 0);
}

function schedule(st) {
  if (st.pending) return;
  st.pending = true;
  requestAnimationFrame(() => {
    st.pending = false;
    drawn(st);
  });
}

// ---- the feed

function closeFeed(st) {
  clearTimeout(st.openTimer);
  if (!st.socket) return;
  const socket = st.socket;
  socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
  st.socket = null;
  try {
    socket.close();
  } catch (_) {}
}

function fallBack(st) {
  closeFeed(st);
  st.root.dataset.transport = "snapshots";
  if (!st.fellBack) {
    st.fellBack = true;
    st.setTriggerValue("fallback", true);
  }
}

function openFeed(st) {
  const { data } = st;
  if (st.socket || st.fellBack || typeof WebSocket === "undefined") return;
  let socket;
  try {
    socket = new WebSocket(routeUrl(data.route, { token: data.token, since: st.series.to }));
  } catch (_) {
    fallBack(st);
    return;
  }
  st.socket = socket;
  st.openTimer = setTimeout(() => fallBack(st), OPEN_MS);
  socket.onopen = () => {
    clearTimeout(st.openTimer);
    st.root.dataset.transport = "feed";
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "ended") {
      closeFeed(st);
      st.setTriggerValue("ended", message.job);
    } else if (apply(st.series, message)) schedule(st);
    else fallBack(st); // a gap: the page's script sends whole snapshots from here on
  };
  socket.onclose = socket.onerror = () => fallBack(st);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let st = parentElement.__unrolledTrain;
  if (!st) {
    const root = el("div", "train-live");
    parentElement.append(root);
    st = parentElement.__unrolledTrain = { root, series: emptyState(data.job), socket: null, fellBack: false };
    let width = 0;
    new ResizeObserver(() => {
      if (root.clientWidth !== width && st.data) schedule(st); // a redraw changes the height, never the width
      width = root.clientWidth;
    }).observe(root);
  }
  st.data = data;
  st.setTriggerValue = setTriggerValue;
  if (st.series.job !== data.job) {
    closeFeed(st);
    st.fellBack = false;
  }
  if (st.series.job !== data.job || data.snapshot.to >= st.series.to) {
    st.series = emptyState(data.job);
    apply(st.series, data.snapshot);
    closeFeed(st); // an open feed goes on from where the snapshot ends
  }
  if (data.live) openFeed(st);
  else {
    closeFeed(st);
    st.root.dataset.transport = data.ended ? "ended" : "snapshots";
  }
  schedule(st);
}
