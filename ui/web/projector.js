// A class room's projector view (ui/projector.py builds its data, views/projector.py refreshes it every second):
// large type for the back of a classroom, the join code, the students' link and its QR code, and the class's
// figures beside the models'. Each refresh stamps "as of hh:mm:ss"; when none has come for data.stale seconds,
// the figures grey out, so a stale figure never passes for a current one. Text reaches the DOM only through
// textContent. The teacher's key comes from this browser's localStorage (the page that opened the room kept it)
// or from the URL's fragment (#key=..., for another computer), which is stripped at once; it is never shown.

const ROOM_KEY_ITEM = "unrolled-room-key-";

function teacherKey(code) {
  const found = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (found) {
    const key = decodeURIComponent(found[1]);
    try {
      window.localStorage.setItem(ROOM_KEY_ITEM + code, key);
    } catch {
      // kept for this tab only, by the server's session
    }
    history.replaceState(null, "", location.pathname + location.search); // off the address bar at once
    return key;
  }
  try {
    return window.localStorage.getItem(ROOM_KEY_ITEM + code);
  } catch {
    return null;
  }
}

function qrCode(rows, label) {
  const n = rows.length;
  const root = svg("svg", { viewBox: `0 0 ${n} ${n}`, role: "img", "shape-rendering": "crispEdges" });
  root.setAttribute("aria-label", label);
  root.append(svg("rect", { x: 0, y: 0, width: n, height: n, fill: "#ffffff" }));
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) {
      if (row[x] === "1") root.append(svg("rect", { x, y, width: 1, height: 1, fill: "#000000" }));
    }
  });
  return root;
}

function bits(x, interval) {
  if (x === null || x === undefined) return "–";
  return x.toFixed(2) + (interval ? ` (${interval[0].toFixed(2)}–${interval[1].toFixed(2)})` : "");
}

function figures(summary, S) {
  const table = el("table", "figures");
  table.append(el("caption", "", S["proj.figures_caption"]), scoreHead(S));
  summary.table.forEach((row) => {
    const tr = el("tr");
    const th = el("th", "", row.name);
    th.scope = "row";
    tr.append(
      th,
      el("td", "", row.guesses_per_char.toFixed(2)),
      el("td", "", bits(row.lower, row.lower_interval)),
      el("td", "", bits(row.upper, row.upper_interval)),
      el("td", "", bits(row.bits, null)),
    );
    table.append(tr);
  });
  return table;
}

function strip(summary, S) {
  // Each character of the passage: blue where the class needed fewer guesses than the LSTM's rank, orange where
  // the LSTM did better, grey where nobody has played it yet.
  const wrap = el("figure", "strip");
  const line = el("div", "strip-cells");
  let ahead = 0,
    behind = 0;
  summary.strip.forEach((c) => {
    const cell = el("span", "cell", c.ch);
    if (c.mean !== null && c.lstm !== null) {
      const diff = c.lstm - c.mean;
      if (diff > 0) ahead += 1;
      if (diff < 0) behind += 1;
      cell.classList.add(diff > 0 ? "ahead" : diff < 0 ? "behind" : "even");
      cell.title = fill(S["proj.cell"], { ch: c.ch, mean: c.mean.toFixed(1), lstm: c.lstm, n: c.players });
    }
    line.append(cell);
  });
  line.setAttribute("role", "img");
  line.setAttribute("aria-label", fill(S["proj.strip_alt"], { ahead, behind }));
  wrap.append(el("figcaption", "", S["proj.strip_caption"]), line);
  return wrap;
}

function progress(summary, S) {
  const list = el("ul", "progress");
  list.setAttribute("aria-label", S["proj.progress_caption"]);
  summary.progress.forEach((p) => {
    const item = el("li");
    const bar = el("span", "bar");
    const filled = el("span", "filled");
    filled.style.width = `${Math.round((100 * p.done) / summary.length)}%`;
    bar.append(filled);
    item.append(el("span", "who", p.name), bar, el("span", "count", `${p.done}/${summary.length}`));
    list.append(item);
  });
  return list;
}

function draw(state) {
  const { data } = state;
  const S = data.strings;
  state.root.dataset.recorded = data.summary ? String(data.summary.recorded) : "0";
  state.code.textContent = data.code;
  state.link.textContent = data.link || S["proj.no_link"];
  state.qr.replaceChildren(data.qr.length ? qrCode(data.qr, fill(S["proj.qr_alt"], { link: data.link })) : "");
  if (!data.summary) {
    state.count.textContent = data.problem || "";
    state.body.replaceChildren();
    return;
  }
  const s = data.summary;
  state.count.textContent = fill(S["proj.players"], { n: s.players, most: s.max_players, number: s.number });
  state.body.replaceChildren(
    figures(s, S),
    distributionChart(s.dist_names, s.dists, s.max_wrong + 1, S),
    strip(s, S),
    progress(s, S),
  );
}

function stamp(state) {
  const S = state.data.strings;
  const age = (Date.now() - state.arrived) / 1000;
  const stale = age > state.data.stale;
  state.root.classList.toggle("stale", stale);
  state.asOf.textContent = fill(S[stale ? "proj.stale" : "proj.as_of"], {
    time: new Date(state.arrived).toLocaleTimeString([], { hour12: false }),
  });
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let state = parentElement.__unrolled;
  if (!state) {
    const root = el("div", "projector");
    const top = el("div", "top");
    const join = el("div", "join");
    const code = el("p", "code");
    const link = el("p", "link");
    const count = el("p", "count");
    const asOf = el("p", "as-of");
    asOf.setAttribute("role", "status");
    join.append(el("p", "join-label", data.strings["proj.join"]), code, link, count, asOf);
    const qr = el("div", "qr");
    top.append(join, qr);
    const body = el("div", "body");
    root.append(top, body);
    parentElement.append(root);
    state = parentElement.__unrolled = { root, code, link, count, asOf, qr, body, tick: null, arrived: Date.now() };
    state.timer = setInterval(() => stamp(state), 1000);
    const key = teacherKey(data.code);
    if (key) setStateValue("key", key);
  }
  state.data = data;
  if (data.tick !== state.tick) {
    // a refresh came: stamp it; redraw only what moved (the room's version), so the wall never flickers
    state.tick = data.tick;
    state.arrived = Date.now();
    const drawn = `${data.summary ? data.summary.version : "-"}|${data.lang}|${data.link}|${data.problem}`;
    if (drawn !== state.drawn) {
      state.drawn = drawn;
      draw(state);
    }
  }
  stamp(state);
}
