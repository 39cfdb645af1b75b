// The main page's live loop (ui/live.py builds its payload). It owns the text box, draws each model's top
// guesses, surprisal strip and unrolled network, and keeps them in step with every keystroke:
// - a key typed at the end is drawn at once from the lookahead the last reply carried (the top guesses after
//   every possible next character), before the server has seen it; a text seen before is drawn from a cache;
// - the server is asked about one text at a time: keys typed while a request is out go together in the next
//   one, so a busy server gets fewer requests instead of a queue of stale ones;
// - user text reaches the DOM only through textContent and attributes, never as HTML.

const CACHE_LIMIT = 256; // texts whose views are kept (backspace, retyping)
const RESEND_MS = 4000; // a request with no reply by then is sent again
const ROW = 40; // cells per row of a surprisal strip
const OR_RD = ["#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#b30000", "#7f0000"];
const MAX_BITS = 8;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

function setStyle(e, prop, value) {
  if (e.style.getPropertyValue(prop) !== value) e.style.setProperty(prop, value);
}

function visible(ch, map) {
  if (ch in map) return map[ch];
  if (/^\p{C}$/u.test(ch)) return "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
  return ch;
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));
}

function pct(p) {
  return `${Math.round(p * 100)}%`;
}

function bitsColor(bits) {
  const t = Math.min(1, Math.max(0, bits / MAX_BITS)) * (OR_RD.length - 1);
  const i = Math.min(OR_RD.length - 2, Math.floor(t));
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  const [a, b] = [OR_RD[i], OR_RD[i + 1]].map((c) => [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16)));
  return `rgb(${a.map((v, k) => mix(v, b[k], t - i)).join(",")})`;
}

// ---- views: what is drawn for one text, from a reply or derived from the view one character shorter

function viewFromReply(data) {
  return { text: data.text, unknown: data.unknown, models: data.views, derivable: true };
}

function derive(prev, ch, cards, known, stepsShown) {
  const models = prev.models.map((m, n) => {
    const card = cards[n];
    const id = card.index.get(ch) ?? card.unk_id;
    const top = m.ahead_ids[id].map((g, j) => [g, m.ahead_p[id][j]]);
    const bits = m.next_bits[id];
    return {
      top,
      bits: m.bits.concat([bits]),
      steps: m.steps.concat([[ch, top[0][0], top[0][1]]]).slice(-stepsShown),
    };
  });
  const unknown = known.has(ch) || prev.unknown.includes(ch) ? prev.unknown : prev.unknown.concat([ch]).sort();
  return { text: prev.text + ch, unknown, models, derivable: false };
}

// ---- drawing

function buildColumns(root, cards, S) {
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
    for (let j = 0; j < 5; j++) {
      const row = el("div", "bar-row");
      row.setAttribute("role", "listitem");
      const label = el("span", "bar-char");
      const track = el("span", "bar-track");
      const fill = el("span", "bar-fill");
      track.append(fill);
      const value = el("span", "bar-value");
      row.append(label, track, value);
      bars.append(row);
      rows.push({ row, label, fill, value });
    }
    col.append(head, bars);
    grid.append(col);
    return { rows };
  });
}

function drawBars(col, top, card, map) {
  col.rows.forEach((r, j) => {
    const guess = top[j];
    setStyle(r.row, "visibility", guess ? "visible" : "hidden");
    if (!guess) return;
    setText(r.label, visible(card.vocab[guess[0]], map));
    setStyle(r.fill, "width", `${(guess[1] * 100).toFixed(1)}%`);
    setText(r.value, pct(guess[1]));
  });
}

function drawStrip(strip, text, bits, map, S) {
  const chars = Array.from(text);
  const cells = strip.cells;
  while (cells.length > chars.length) cells.pop().remove();
  while (cells.length < chars.length) {
    const cell = el("span", "cell");
    strip.grid.append(cell);
    cells.push(cell);
  }
  chars.forEach((ch, i) => {
    const b = bits[i];
    const cell = cells[i];
    setText(cell, visible(ch, map));
    setStyle(cell, "background", b === null || b === undefined ? "#eeeeee" : bitsColor(b));
    setStyle(cell, "color", b !== null && b > 0.65 * MAX_BITS ? "#ffffff" : "#000000");
    const shown = visible(ch, map);
    const title = b === null || b === undefined ? fill(S["live.first_char"], { ch: shown }) : fill(S["live.cell_bits"], { ch: shown, bits: b.toFixed(2) });
    if (cell.title !== title) cell.title = title;
  });
  const finite = bits.filter((b) => b !== null && b !== undefined);
  const mean = finite.length ? (finite.reduce((a, b) => a + b, 0) / finite.length).toFixed(2) : null;
  setText(strip.caption, mean === null ? fill(S["live.type_two"], { name: strip.name }) : fill(S["live.mean_bits"], { name: strip.name, bits: mean }));
  const top = chars
    .map((ch, i) => [visible(ch, map), bits[i]])
    .filter(([, b]) => b !== null && b !== undefined)
    .sort((x, y) => y[1] - x[1])
    .slice(0, 3)
    .map(([ch, b]) => `${ch} ${b.toFixed(1)}`)
    .join(", ");
  const label = fill(S["live.strip_aria"], { name: strip.name, top: top || "–" });
  if (strip.grid.getAttribute("aria-label") !== label) strip.grid.setAttribute("aria-label", label);
}

function buildStrips(root, cards) {
  const box = root.querySelector(".strips");
  box.replaceChildren();
  return cards.map((card) => {
    const caption = el("div", "strip-caption");
    const grid = el("div", "strip");
    grid.setAttribute("role", "img");
    box.append(caption, grid);
    return { name: card.name, caption, grid, cells: [] };
  });
}

function drawUnrolled(holder, steps, card, map, S) {
  // One column per step: input character (bottom) -> hidden state -> top guess (top); arrows from each hidden
  // state to the next only for recurrent nets.
  const W = 66, H = 190;
  const key = JSON.stringify(steps);
  if (holder.dataset.key === key) return;
  holder.dataset.key = key;
  const root = svg("svg", { viewBox: `0 0 ${Math.max(1, steps.length) * W + 10} ${H}`, role: "img" });
  const chars = steps.map(([ch, guess]) => `${visible(ch, map)}→${visible(card.vocab[guess], map)}`).join(" ");
  root.setAttribute("aria-label", fill(S[card.recurrent ? "live.net_aria_recurrent" : "live.net_aria_ff"], { name: card.name, n: steps.length, steps: chars }));
  const defs = svg("defs");
  const marker = svg("marker", { id: `arrow-${card.id}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "context-stroke" }));
  defs.append(marker);
  root.append(defs);
  const arrow = (x1, y1, x2, y2, cls) => root.append(svg("line", { x1, y1, x2, y2, class: cls, "marker-end": `url(#arrow-${card.id})` }));
  steps.forEach(([ch, guess, p], t) => {
    const cx = 5 + t * W + W / 2;
    arrow(cx, 148, cx, 116, "edge");
    arrow(cx, 84, cx, 56, "edge");
    if (card.recurrent && t < steps.length - 1) arrow(cx + 17, 100, cx + W - 17, 100, "edge recurrent");
    root.append(svg("rect", { x: cx - 20, y: 150, width: 40, height: 30, rx: 4, class: "node-x" }));
    root.append(svg("text", { x: cx, y: 170, class: "node-label" }, visible(ch, map)));
    root.append(svg("circle", { cx, cy: 100, r: 16, class: card.recurrent ? "node-h" : "node-h ff" }));
    root.append(svg("text", { x: cx, y: 104, class: "node-label small" }, `h${t + 1}`));
    root.append(svg("rect", { x: cx - 26, y: 12, width: 52, height: 42, rx: 4, class: "node-y" }));
    root.append(svg("text", { x: cx, y: 30, class: "node-label" }, visible(card.vocab[guess], map)));
    root.append(svg("text", { x: cx, y: 47, class: "node-label small" }, pct(p)));
  });
  holder.replaceChildren(root);
}

function buildUnrolled(root, cards) {
  const box = root.querySelector(".unrolled");
  box.replaceChildren();
  return cards.map((card) => {
    const fig = el("figure", "net");
    const cap = el("figcaption", "", card.name);
    const holder = el("div", "net-svg");
    fig.append(cap, holder);
    box.append(fig);
    return holder;
  });
}

// ---- the component

function setup(parentElement, data) {
  const S = data.strings;
  const root = el("div", "live");
  const label = el("label", "box-label", data.label);
  const input = el("input", "box");
  input.id = "unrolled-text";
  label.htmlFor = input.id;
  input.type = "text";
  input.maxLength = data.max_chars;
  input.autocomplete = "off";
  input.spellcheck = false;
  input.value = data.text;
  const note = el("div", "note");
  note.setAttribute("role", "status");
  const body = el("div", "body");
  const surprisal = el("section", "surprisal");
  surprisal.append(
    el("h2", "", S["live.surprise_title"]),
    el("p", "caption", S["live.surprise_caption"]),
    legend(S),
    el("div", "strips"),
  );
  const unrolled = el("section", "unrolled-section");
  unrolled.append(el("h2", "", S["live.unrolled_title"]), el("div", "unrolled"));
  // The box, the notes and the top guesses stay together (and, on a phone, on screen while scrolling).
  const head = el("div", "head");
  const models = el("div", "models");
  head.append(label, input, note, models);
  body.append(surprisal, unrolled);
  root.append(head, body);
  parentElement.append(root);
  return { root, input, note, models, body, cache: new Map(), seq: 0, inflight: null, cards: null, cardsKey: null };
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
  if (prev && prev.derivable && prev.models.length) {
    view = derive(prev, chars[chars.length - 1], state.cards, state.known, state.data.unrolled_steps);
    remember(state, view);
  }
  return view;
}

function show(state, data) {
  const text = current(state);
  const S = data.strings;
  const notes = [];
  if (data.cut) notes.push(fill(S["live.cut"], { n: data.max_chars.toLocaleString("en") }));
  if (data.error && data.text === text) {
    notes.push(data.error);
  }
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
    const listed = view.unknown.map((c) => `"${c}" (U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")})`).join(" ");
    notes.push(fill(S["live.unknown"], { chars: listed }));
  }
  setText(state.note, notes.join(" "));
  view.models.forEach((m, n) => {
    const card = state.cards[n];
    drawBars(state.columns[n], m.top, card, data.visible);
    drawStrip(state.strips[n], view.text, m.bits, data.visible, S);
    drawUnrolled(state.nets[n], m.steps, card, data.visible, S);
  });
  state.root.dataset.shown = view.text; // for tests and benchmarks: which text the panels show
}

function ask(state, setStateValue) {
  const text = current(state);
  const now = performance.now();
  if (state.inflight && now - state.inflight.at < RESEND_MS) return;
  if (state.inflight === null && state.confirmed === text) return;
  state.seq += 1;
  state.inflight = { seq: state.seq, text, at: now };
  setStateValue("typed", { text, seq: state.seq, has: state.staticKey });
  setTimeout(() => {
    if (state.inflight && state.inflight.seq === state.seq) ask(state, setStateValue);
  }, RESEND_MS + 10);
}

export default function (component) {
  const { parentElement, setStateValue } = component;
  // The static parts (cards, vocabularies, words) come once; every reply carries only what changes.
  const held = parentElement.__unrolledStatic;
  if (component.data.static) parentElement.__unrolledStatic = { key: component.data.static_key, ...component.data.static };
  const fixed = parentElement.__unrolledStatic;
  if (!fixed || fixed.key !== component.data.static_key) {
    // a page that lost them (mounted anew) asks for them again
    setStateValue("typed", { text: component.data.text, seq: (component.data.seq || 0) + 1, has: held ? held.key : null });
    return;
  }
  const data = { ...component.data, ...fixed };
  let state = parentElement.__unrolled;
  if (!state) {
    state = parentElement.__unrolled = setup(parentElement, data);
    state.seq = data.seq;
    state.input.addEventListener("input", () => {
      const text = current(state);
      window.__unrolledText = text;
      window.dispatchEvent(new CustomEvent("unrolled:text", { detail: text }));
      show(state, state.data);
      ask(state, state.setStateValue);
    });
  }
  state.data = data;
  state.staticKey = fixed.key;
  state.setStateValue = setStateValue;
  const cardsKey = JSON.stringify([data.models.map((c) => [c.id, c.name, c.kind, c.facts]), data.strings]);
  if (cardsKey !== state.cardsKey) {
    state.cardsKey = cardsKey;
    state.cards = data.models.map((c) => ({ ...c, index: new Map(c.vocab.map((t, i) => [t, i]).filter(([t]) => Array.from(t).length === 1)) }));
    state.known = new Set(state.cards.flatMap((c) => [...c.index.keys()]));
    state.columns = buildColumns(state.root, state.cards, data.strings);
    state.root.querySelector(".box-label").textContent = data.label;
    state.root.querySelector(".surprisal h2").textContent = data.strings["live.surprise_title"];
    state.root.querySelector(".surprisal .caption").textContent = data.strings["live.surprise_caption"];
    state.root.querySelector(".legend").replaceWith(legend(data.strings));
    state.root.querySelector(".unrolled-section h2").textContent = data.strings["live.unrolled_title"];
    state.strips = buildStrips(state.root, state.cards);
    state.nets = buildUnrolled(state.root, state.cards);
    state.cache.clear();
  }
  if (state.inflight && data.seq >= state.inflight.seq) state.inflight = null;
  if (data.views.length && !data.error) {
    remember(state, viewFromReply(data));
    state.confirmed = data.text;
  }
  window.__unrolledText = current(state);
  show(state, data);
  if (current(state) !== data.text) ask(state, setStateValue);
}
