// The main page's live loop (ui/live.py builds its replies; ui/protocol.py names every field and constant).
// It owns the text box, draws each model's top guesses, surprisal strip and unrolled network, and keeps them in
// step with every keystroke:
// - a key typed at the end is drawn at once from the lookahead the last reply carried (the top guesses after
//   each of the likeliest next characters), before the server has seen it; a text seen before is drawn from a
//   cache; any other key waits for the server's reply;
// - the server is asked about one text at a time: keys typed while a request is out go together in the next
//   one, so a busy server gets fewer requests instead of a queue of stale ones;
// - requests go over the fast path, a WebSocket to the server's own route (ui/fast.py) answered without a
//   Streamlit script rerun. Until it has answered once, and whenever it cannot be reached (a proxy that
//   forwards only Streamlit's paths, a blocked WebSocket) or drops, they go as this component's state, one
//   fragment rerun each: slower, but the same replies. `data-transport` on the root says which is in use.

const CACHE_LIMIT = 256; // texts whose views are kept (backspace, retyping)
const RESEND_MS = 4000; // a request with no reply by then is sent again
const FAST_OPEN_MS = 3000; // a fast path that has not answered its first request by then is given up
const FAST_RETRY_MS = 15000; // after the fast path closes, it is tried again this much later
const FAST_TRIES = 3; // connections tried in a row before the page stays on the rerun path
const OR_RD = ["#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#b30000", "#7f0000"];

function bitsColor(bits, maxBits) {
  const t = Math.min(1, Math.max(0, bits / maxBits)) * (OR_RD.length - 1);
  const i = Math.min(OR_RD.length - 2, Math.floor(t));
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  const [a, b] = [OR_RD[i], OR_RD[i + 1]].map((c) => [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16)));
  return `rgb(${a.map((v, k) => mix(v, b[k], t - i)).join(",")})`;
}

// ---- views: what is drawn for one text, from a reply or derived from the view one character shorter.
// A view's `models` maps a model id to {top, bits, steps} (and, from a reply, `ahead`).

function viewFromReply(reply) {
  return { text: reply.text, unknown: reply.unknown, models: reply.views, derivable: true };
}

// The lookahead row of each model for key `ch`, or null when some model's lookahead does not cover it (it
// covers the likeliest next characters only: the page then waits for the server).
function aheadRows(prev, ch, cards) {
  const rows = cards.map((card) => prev.models[card.id].ahead.keys.indexOf(card.index.get(ch) ?? card.unk_id));
  return rows.includes(-1) ? null : rows;
}

function derive(prev, ch, cards, known, stepsShown, rows) {
  const models = {};
  for (const [n, card] of cards.entries()) {
    const m = prev.models[card.id];
    const top = { ids: m.ahead.ids[rows[n]], p: m.ahead.p[rows[n]] };
    models[card.id] = {
      top,
      bits: m.bits.concat([m.ahead.bits[rows[n]]]),
      steps: {
        chars: m.steps.chars.concat([ch]).slice(-stepsShown),
        guess: m.steps.guess.concat([top.ids[0]]).slice(-stepsShown),
        p: m.steps.p.concat([top.p[0]]).slice(-stepsShown),
      },
    };
  }
  const unknown = known.has(ch) || prev.unknown.includes(ch) ? prev.unknown : prev.unknown.concat([ch]).sort();
  return { text: prev.text + ch, unknown, models, derivable: false };
}

// ---- drawing

function buildColumns(root, cards, S, topK) {
  const grid = root.querySelector(".models");
  grid.replaceChildren();
  return cards.map((card) => {
    const col = el("section", "model");
    col.setAttribute("aria-label", card.name);
    const head = el("div", "card");
    const title = el("div", "title");
    title.append(el("strong", "", card.name), el("span", "muted", ` · ${card.kind}`));
    head.append(title, el("div", "facts", card.facts));
    const bars = el("div", "bars");
    bars.setAttribute("role", "list");
    bars.setAttribute("aria-label", fill(S["live.bars_aria"], { name: card.name }));
    const rows = [];
    for (let j = 0; j < topK; j++) {
      const row = el("div", "bar-row");
      row.setAttribute("role", "listitem");
      const label = el("span", "bar-char");
      const track = el("span", "bar-track");
      const bar = el("span", "bar-fill");
      track.append(bar);
      const value = el("span", "bar-value");
      row.append(label, track, value);
      bars.append(row);
      rows.push({ row, label, bar, value });
    }
    col.append(head, bars);
    grid.append(col);
    return { rows };
  });
}

function drawBars(col, top, card, map) {
  col.rows.forEach((r, j) => {
    const shown = j < top.ids.length;
    setStyle(r.row, "visibility", shown ? "visible" : "hidden");
    if (!shown) return;
    setText(r.label, visible(card.vocab[top.ids[j]], map));
    setStyle(r.bar, "width", `${(top.p[j] * 100).toFixed(1)}%`);
    setText(r.value, pct(top.p[j]));
  });
}

function drawStrip(strip, text, bits, map, S, P) {
  const chars = Array.from(text);
  const cells = strip.cells;
  while (cells.length > chars.length) cells.pop().remove();
  while (cells.length < chars.length) {
    const cell = el("span", "cell");
    strip.grid.append(cell);
    cells.push(cell);
  }
  const known = (b) => b !== null && b !== undefined;
  chars.forEach((ch, i) => {
    const b = bits[i];
    const cell = cells[i];
    const drawn = `${ch}|${b}`;
    if (cell.drawn === drawn) return; // most cells are as the last key left them: no DOM reads or writes
    cell.drawn = drawn;
    const shown = visible(ch, map);
    setText(cell, shown);
    setStyle(cell, "background", known(b) ? bitsColor(b, P.max_bits) : "#eeeeee");
    setStyle(cell, "color", known(b) && b > P.light_text_above * P.max_bits ? "#ffffff" : "#000000");
    const title = known(b)
      ? fill(S["live.cell_bits"], { ch: shown, bits: b.toFixed(2) })
      : fill(S["live.first_char"], { ch: shown });
    if (cell.title !== title) cell.title = title;
  });
  const finite = bits.filter(known);
  const mean = finite.length ? (finite.reduce((a, b) => a + b, 0) / finite.length).toFixed(2) : null;
  const caption =
    mean === null
      ? fill(S["live.type_two"], { name: strip.name })
      : fill(S["live.mean_bits"], { name: strip.name, bits: mean });
  setText(strip.caption, caption);
  const top = chars
    .map((ch, i) => [visible(ch, map), bits[i]])
    .filter(([, b]) => known(b))
    .sort((x, y) => y[1] - x[1])
    .slice(0, 3)
    .map(([ch, b]) => `${ch} ${b.toFixed(1)}`)
    .join(", ");
  const label = fill(S["live.strip_aria"], { name: strip.name, top: top || "–" });
  if (strip.grid.getAttribute("aria-label") !== label) strip.grid.setAttribute("aria-label", label);
}

function buildStrips(root, cards, P) {
  const box = root.querySelector(".strips");
  box.replaceChildren();
  box.style.setProperty("--strip-row", P.strip_row);
  return cards.map((card) => {
    const caption = el("div", "strip-caption");
    const grid = el("div", "strip");
    grid.setAttribute("role", "img");
    box.append(caption, grid);
    return { name: card.name, caption, grid, cells: [] };
  });
}

// The network's drawing for n steps: built when n changes (the first characters typed), then only its labels
// change from key to key (rebuilding ~50 SVG nodes per model on every key was most of a keystroke's script).
// The unrolled network's geometry, in SVG units: one column per step, bottom to top the input character's box,
// the hidden state's circle and the top guess's box, with its probability under it.
const NET = {
  column: 66, // a step's width
  height: 190,
  margin: 5, // left and right of the columns
  input: { top: 150, width: 40, height: 30, label: 170 }, // the character read at this step
  hidden: { y: 100, r: 16, label: 104 }, // the state's circle, and its label
  guess: { top: 12, width: 52, height: 42, label: 30, p: 47 }, // the top guess and its probability
  gap: 2, // between an arrow's tip and the box it points at
};

function buildNet(holder, n, card) {
  const { column: W, input: X, hidden: Hn, guess: Y, gap } = NET;
  const root = svg("svg", { viewBox: `0 0 ${Math.max(1, n) * W + 2 * NET.margin} ${NET.height}`, role: "img" });
  const defs = svg("defs");
  const marker = svg("marker", {
    id: `arrow-${card.id}`,
    viewBox: "0 0 10 10",
    refX: 9,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: "auto-start-reverse",
  });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "context-stroke" }));
  defs.append(marker);
  root.append(defs);
  const arrow = (x1, y1, x2, y2, cls) =>
    root.append(svg("line", { x1, y1, x2, y2, class: cls, "marker-end": `url(#arrow-${card.id})` }));
  const columns = [];
  for (let t = 0; t < n; t++) {
    // One column per step: input character (bottom) -> hidden state -> top guess (top); arrows from each
    // hidden state to the next only for recurrent nets.
    const cx = NET.margin + t * W + W / 2;
    arrow(cx, X.top - gap, cx, Hn.y + Hn.r, "edge");
    arrow(cx, Hn.y - Hn.r, cx, Y.top + Y.height + gap, "edge");
    // a step to the next, from just outside one circle to just outside the next
    if (card.recurrent && t < n - 1) arrow(cx + Hn.r + 1, Hn.y, cx + W - Hn.r - 1, Hn.y, "edge recurrent");
    const input = svg("text", { x: cx, y: X.label, class: "node-label" });
    const guess = svg("text", { x: cx, y: Y.label, class: "node-label" });
    const p = svg("text", { x: cx, y: Y.p, class: "node-label small" });
    root.append(
      svg("rect", { x: cx - X.width / 2, y: X.top, width: X.width, height: X.height, rx: 4, class: "node-x" }),
      input,
    );
    root.append(svg("circle", { cx, cy: Hn.y, r: Hn.r, class: card.recurrent ? "node-h" : "node-h ff" }));
    root.append(svg("text", { x: cx, y: Hn.label, class: "node-label small" }, `h${t + 1}`));
    root.append(
      svg("rect", { x: cx - Y.width / 2, y: Y.top, width: Y.width, height: Y.height, rx: 4, class: "node-y" }),
      guess,
      p,
    );
    columns.push({ input, guess, p });
  }
  holder.replaceChildren(root);
  return { root, n, columns };
}

function drawUnrolled(holder, steps, card, map, S) {
  const n = steps.chars.length;
  if (holder.net?.n !== n) holder.net = buildNet(holder, n, card);
  const net = holder.net;
  steps.chars.forEach((ch, t) => {
    const column = net.columns[t];
    setText(column.input, visible(ch, map));
    setText(column.guess, visible(card.vocab[steps.guess[t]], map));
    setText(column.p, pct(steps.p[t]));
  });
  const pairs = steps.chars.map((ch, t) => `${visible(ch, map)}→${visible(card.vocab[steps.guess[t]], map)}`);
  const aria = fill(S[card.recurrent ? "live.net_aria_recurrent" : "live.net_aria_ff"], {
    name: card.name,
    n,
    steps: pairs.join(" "),
  });
  if (net.root.getAttribute("aria-label") !== aria) net.root.setAttribute("aria-label", aria);
}

function buildUnrolled(root, cards) {
  const box = root.querySelector(".unrolled");
  box.replaceChildren();
  return cards.map((card) => {
    const fig = el("figure", "net");
    const holder = el("div", "net-svg");
    fig.append(el("figcaption", "", card.name), holder);
    box.append(fig);
    return holder;
  });
}

function legend(S) {
  const box = el("div", "legend");
  const bar = el("span", "legend-bar");
  bar.style.background = `linear-gradient(to right, ${OR_RD.join(",")})`;
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", `${S["live.legend_low"]} → ${S["live.legend_high"]}`);
  box.append(el("span", "", S["live.legend_low"]), bar, el("span", "", S["live.legend_high"]));
  return box;
}

// ---- the component's state: every field is made here

function setup(parentElement, fixed, seq) {
  const root = el("div", "live");
  const label = el("label", "box-label");
  const input = el("input", "box");
  input.id = "unrolled-text";
  label.htmlFor = input.id;
  input.type = "text";
  input.autocomplete = "off";
  input.spellcheck = false;
  const note = el("div", "note");
  note.setAttribute("role", "status");
  const surprisal = el("section", "surprisal");
  surprisal.append(el("h2"), el("p", "caption"), el("div", "legend"), el("div", "strips"));
  const unrolled = el("section", "unrolled-section");
  unrolled.append(el("h2"), el("div", "unrolled"));
  // The box, the notes and the top guesses stay together (and, on a phone, on screen while scrolling).
  const head = el("div", "head");
  const models = el("div", "models");
  head.append(label, input, note, models);
  const body = el("div", "body");
  body.append(surprisal, unrolled);
  root.append(head, body);
  parentElement.append(root);
  return {
    root,
    input,
    note,
    models,
    body,
    fixed, // the static parts: cards, words, protocol constants
    cardsKey: null,
    cards: [], // fixed.models, each with an index from character to token id
    known: new Set(), // characters some model knows
    columns: [],
    strips: [],
    nets: [],
    reply: null, // the last reply: cut, problem
    cache: new Map(), // text -> view
    seq, // the last request's number
    inflight: null, // {seq, text, at, fast}: the request out, if any
    confirmed: null, // the last text a reply drew
    setStateValue: null, // the rerun path
    fast: { socket: null, mode: "off", tries: 0, timer: null }, // the fast path: off, connecting or open
  };
}

// Static parts, new or changed (a language switch): rebuild what they label.
function adopt(state, fixed) {
  state.fixed = fixed;
  const cardsKey = JSON.stringify([fixed.models.map((c) => [c.id, c.name, c.kind, c.facts]), fixed.strings]);
  if (cardsKey === state.cardsKey) return;
  const S = fixed.strings;
  const P = fixed.protocol;
  const single = (token) => Array.from(token).length === 1;
  state.cardsKey = cardsKey;
  state.cards = fixed.models.map((c) => ({
    ...c,
    index: new Map(c.vocab.map((t, i) => [t, i]).filter(([t]) => single(t))),
  }));
  state.known = new Set(state.cards.flatMap((c) => [...c.index.keys()]));
  state.columns = buildColumns(state.root, state.cards, S, P.top_k);
  state.input.maxLength = P.max_chars;
  const root = state.root;
  root.querySelector(".box-label").textContent = fixed.label;
  root.querySelector(".surprisal h2").textContent = S["live.surprise_title"];
  root.querySelector(".surprisal .caption").textContent = S["live.surprise_caption"];
  root.querySelector(".legend").replaceWith(legend(S));
  root.querySelector(".unrolled-section h2").textContent = S["live.unrolled_title"];
  state.strips = buildStrips(root, state.cards, P);
  state.nets = buildUnrolled(root, state.cards);
  state.cache.clear();
}

function current(state) {
  return state.input.value.normalize("NFC");
}

function remember(state, view) {
  state.cache.delete(view.text);
  state.cache.set(view.text, view);
  if (state.cache.size > CACHE_LIMIT) state.cache.delete(state.cache.keys().next().value);
}

function viewFor(state, text) {
  let view = state.cache.get(text);
  if (view || !text) return view;
  const chars = Array.from(text);
  const prev = state.cache.get(chars.slice(0, -1).join(""));
  const ch = chars[chars.length - 1];
  const rows = prev?.derivable && state.cards.length ? aheadRows(prev, ch, state.cards) : null;
  if (rows) {
    view = derive(prev, ch, state.cards, state.known, state.fixed.protocol.unrolled_steps, rows);
    remember(state, view);
  }
  return view;
}

function show(state) {
  const text = current(state);
  const { strings: S, visible: map, protocol: P } = state.fixed;
  const reply = state.reply;
  const notes = [];
  if (reply?.cut) notes.push(fill(S["live.cut"], { n: P.max_chars.toLocaleString("en") }));
  if (reply?.problem && reply.text === text) notes.push(fill(S["error.unreadable"], { problem: reply.problem }));
  if (!text) {
    notes.push(S["live.type_prompt"]);
    setText(state.note, notes.join(" "));
    setStyle(state.body, "display", "none");
    setStyle(state.models, "display", "none");
    return;
  }
  const view = viewFor(state, text);
  if (!view) {
    state.root.classList.add("pending");
    setText(state.note, notes.join(" "));
    return;
  }
  state.root.classList.remove("pending");
  setStyle(state.body, "display", "");
  setStyle(state.models, "display", "");
  if (view.unknown.length) {
    const listed = view.unknown.map((c) => `"${c}" (${codePoint(c)})`).join(" ");
    notes.push(fill(S["live.unknown"], { chars: listed }));
  }
  setText(state.note, notes.join(" "));
  state.cards.forEach((card, n) => {
    const m = view.models[card.id];
    drawBars(state.columns[n], m.top, card, map);
    drawStrip(state.strips[n], view.text, m.bits, map, S, P);
    drawUnrolled(state.nets[n], m.steps, card, map, S);
  });
  state.root.dataset.shown = view.text; // for tests and benchmarks: which text the panels show
}

// ---- asking the server, and what it answers

function receive(state, reply) {
  if (state.inflight && reply.seq >= state.inflight.seq) state.inflight = null;
  if (Object.keys(reply.views).length && !reply.problem) {
    remember(state, viewFromReply(reply));
    state.confirmed = reply.text;
  }
  state.reply = reply;
  show(state);
  if (current(state) !== reply.text) ask(state);
}

function ask(state) {
  const text = current(state);
  const now = performance.now();
  if (state.inflight && now - state.inflight.at < RESEND_MS) return;
  if (state.inflight === null && state.confirmed === text) return;
  state.seq += 1;
  const seq = state.seq;
  const fast = state.fast.mode === "open";
  state.inflight = { seq, text, at: now, fast };
  if (fast) state.fast.socket.send(JSON.stringify({ text, seq }));
  else state.setStateValue("typed", { text, seq, has: state.fixed.key });
  setTimeout(() => {
    if (state.inflight?.seq !== seq) return;
    if (fast) dropFast(state); // an open socket that stopped answering: the rerun path takes over
    ask(state);
  }, RESEND_MS + 10);
}

// The fast path is given up at once, without waiting for a closing handshake a silent server never answers.
function dropFast(state) {
  const f = state.fast;
  if (!f.socket) return;
  const socket = f.socket;
  socket.onopen = socket.onmessage = socket.onclose = null;
  socket.close();
  f.socket = null;
  f.mode = "off";
  state.root.dataset.transport = "rerun";
  if (state.inflight?.fast) state.inflight = null;
  if (f.tries < FAST_TRIES) f.timer = setTimeout(() => connectFast(state), FAST_RETRY_MS);
}

function connectFast(state) {
  const f = state.fast;
  if (f.socket || f.tries >= FAST_TRIES || typeof WebSocket === "undefined") return;
  f.tries += 1;
  let socket;
  try {
    socket = new WebSocket(routeUrl(state.fixed.protocol.fast_route, { token: state.fixed.token }));
  } catch {
    return; // a page whose URL cannot take a WebSocket (or a policy that blocks it) stays on the rerun path
  }
  f.socket = socket;
  f.mode = "connecting";
  // Until the socket has answered once, requests keep going over reruns: a socket that opens and then hears
  // nothing (a proxy that swallows it) costs the page nothing but this timer.
  const giveUp = setTimeout(() => dropFast(state), FAST_OPEN_MS);
  socket.onopen = () => {
    state.seq += 1; // a real request: the box's text now, answered like any other
    socket.send(JSON.stringify({ text: current(state), seq: state.seq }));
  };
  socket.onmessage = (event) => {
    const frame = frameOf(event);
    if (!frame) return;
    if (frame.type === "reply") {
      clearTimeout(giveUp);
      f.mode = "open";
      f.tries = 0;
      state.root.dataset.transport = "fast";
      receive(state, frame);
    } else if (frame.type === "error") {
      console.warn("unrolled fast path:", frame.problem);
      if (state.inflight?.fast && frame.seq === state.inflight.seq) state.inflight = null;
    }
  };
  socket.onclose = () => {
    clearTimeout(giveUp);
    dropFast(state);
    ask(state); // whatever was out goes again, on the rerun path
  };
}

export default function (component) {
  const { parentElement, setStateValue, data } = component;
  // The static parts (cards, vocabularies, words, constants) come once; every reply carries only what changes.
  const held = parentElement.__unrolledStatic;
  if (data.static) parentElement.__unrolledStatic = { key: data.static_key, ...data.static };
  const fixed = parentElement.__unrolledStatic;
  if (!fixed || fixed.key !== data.static_key) {
    // a page that lost them (mounted anew) asks for them again
    setStateValue("typed", { text: data.text, seq: (data.seq || 0) + 1, has: held ? held.key : null });
    return;
  }
  let state = parentElement.__unrolled;
  if (!state) {
    state = parentElement.__unrolled = setup(parentElement, fixed, data.seq);
    state.input.value = data.text;
    state.root.dataset.transport = "rerun";
    state.input.addEventListener("input", () => {
      textChannel().publish(current(state));
      show(state);
      ask(state);
    });
  }
  state.setStateValue = setStateValue;
  adopt(state, fixed);
  textChannel().publish(current(state));
  receive(state, data);
  connectFast(state);
}
