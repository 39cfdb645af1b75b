// The guessing game's board (ui/guess.py builds its payload). Each key typed in "Your guess" is one guess,
// sent to the server, which judges it: the answer is not in the browser until it is revealed. Keys typed
// while a guess is out wait their turn. Text reaches the DOM only through textContent.

const COLORS = ["#000000", "#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00"]; // Okabe-Ito
const BLOCK = 25; // revealed characters per row of the rank table

function fmt(x, digits = 2) {
  return x === null || x === undefined ? "–" : x.toFixed(digits);
}

function countColor(n, max) {
  // 1 guess: pale green; the cap: deep orange (a sequential scale readable with colour blindness)
  const t = (n - 1) / (max - 1);
  const a = [237, 248, 233],
    b = [230, 85, 13];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * t)).join(",")})`;
}

function rankTables(data) {
  const box = el("div", "ranks-box");
  for (let start = 0; start < data.record.length; start += BLOCK) {
    const rows = data.record.slice(start, start + BLOCK);
    const table = el("table", "ranks");
    const caption = el(
      "caption",
      "",
      fill(data.strings["guess.ranks_caption"], { from: start + 1, to: start + rows.length }),
    );
    caption.className = "visually-hidden";
    table.append(caption);
    const head = el("tr");
    const corner = el("th", "", data.strings["guess.col_player"]);
    corner.scope = "col";
    head.append(corner);
    rows.forEach((r) => {
      const th = el("th", "", r.ch);
      th.scope = "col";
      head.append(th);
    });
    table.append(head);
    data.players.forEach((name, p) => {
      const tr = el("tr");
      const th = el("th", "", name);
      th.scope = "row";
      tr.append(th);
      rows.forEach((r) => {
        const n = r.counts[p];
        const td = el("td", "", String(n));
        td.style.background = countColor(n, data.max_wrong + 1);
        if (n > 0.6 * (data.max_wrong + 1)) td.style.color = "#ffffff";
        tr.append(td);
      });
      table.append(tr);
    });
    box.append(table);
  }
  return box;
}

function scoreTable(data) {
  const table = el("table", "scores");
  const S = data.strings;
  table.append(el("caption", "", S["guess.scores_caption"]));
  const head = el("tr");
  [S["guess.col_player"], S["guess.col_gpc"], S["guess.col_lower"], S["guess.col_upper"], S["guess.col_xent"]].forEach(
    (h) => {
      const th = el("th", "", h);
      th.scope = "col";
      head.append(th);
    },
  );
  table.append(head);
  data.scores.forEach((s) => {
    const tr = el("tr");
    const th = el("th", "", s.name);
    th.scope = "row";
    const cells = [s.guesses_per_char, s.lower, s.upper, s.bits].map((x) => el("td", "", fmt(x)));
    tr.append(th, ...cells);
    table.append(tr);
  });
  return table;
}

function chart(data) {
  // Grouped bars: for each guess count 1..11, the share of characters that took it, one bar per player.
  const wrap = el("figure", "chart");
  const players = data.players.length;
  const groups = data.max_wrong + 1;
  const W = 640,
    H = 230,
    left = 40,
    bottom = 30,
    top = 10;
  const gw = (W - left - 10) / groups,
    bw = (gw - 6) / players;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const S = data.strings;
  const summary = data.players
    .map((name, p) => fill(S["guess.chart_first"], { name, p: Math.round(data.dists[p][0] * 100) }))
    .join("; ");
  root.setAttribute("aria-label", fill(S["guess.chart_aria"], { summary }));
  const y = (v) => H - bottom - v * (H - bottom - top);
  [0, 0.25, 0.5, 0.75, 1].forEach((v) => {
    root.append(svg("line", { x1: left, x2: W - 10, y1: y(v), y2: y(v), stroke: "#e4e6eb" }));
    root.append(svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, `${v * 100}%`));
  });
  for (let g = 0; g < groups; g++) {
    const x0 = left + g * gw + 3;
    data.dists.forEach((q, p) => {
      const v = q[g];
      const rect = svg("rect", {
        x: x0 + p * bw,
        y: y(v),
        width: Math.max(1, bw - 1),
        height: Math.max(0, y(0) - y(v)),
        fill: COLORS[p % COLORS.length],
      });
      const n = g + 1 === groups ? fill(S["guess.gave_up"], { n: groups }) : g + 1;
      rect.append(svg("title", {}, fill(S["guess.chart_bar"], { name: data.players[p], p: (v * 100).toFixed(0), n })));
      root.append(rect);
    });
    root.append(
      svg(
        "text",
        { x: x0 + gw / 2 - 3, y: H - bottom + 16, "text-anchor": "middle", class: "axis" },
        g + 1 === groups ? `${groups}*` : String(g + 1),
      ),
    );
  }
  root.append(
    svg(
      "text",
      { x: left + (W - left) / 2, y: H - 2, "text-anchor": "middle", class: "axis" },
      fill(S["guess.chart_axis"], { n: groups }),
    ),
  );
  const legend = el("figcaption");
  data.players.forEach((name, p) => {
    const sw = el("span", "swatch");
    sw.style.background = COLORS[p % COLORS.length];
    legend.append(sw, document.createTextNode(name));
  });
  wrap.append(root, legend);
  return wrap;
}

// Who this page is, kept in the browser: a random player id (a reload, a second tab or a phone that lost its
// connection is the same player) and the teacher keys of the rooms this browser opened. Never in a link.
const PLAYER_ITEM = "unrolled-player";
const KEY_ITEM = "unrolled-room-key-";
const memory = {}; // where localStorage is refused (a private window): this tab only

function kept(name) {
  try {
    return window.localStorage.getItem(name);
  } catch {
    return memory[name] ?? null;
  }
}

function keep(name, value) {
  memory[name] = value;
  try {
    window.localStorage.setItem(name, value);
  } catch {
    // the tab's memory holds it
  }
}

function playerId() {
  let id = kept(PLAYER_ITEM);
  if (!id) {
    // crypto.getRandomValues works on a plain http:// address too (randomUUID needs a secure context)
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    keep(PLAYER_ITEM, id);
  }
  return id;
}

function introduce(state) {
  const data = state.data;
  if (data.remember) keep(KEY_ITEM + data.remember.code, data.remember.key);
  if (!data.room || state.introduced === data.room) return;
  state.introduced = data.room;
  const key = kept(KEY_ITEM + data.room);
  state.setStateValue("who", { player: playerId(), keys: key ? { [data.room]: key } : {} });
}

function draw(state) {
  const data = state.data;
  const S = data.strings;
  state.title.textContent = fill(S[data.room ? "guess.title_room" : "guess.title_line"], {
    number: data.number,
    of: data.of,
    play: data.play,
    shown: Array.from(data.shown).length,
    length: data.length,
    seed: data.seed,
    room: data.room,
  });
  state.message.textContent = data.message || (data.done ? S["guess.finished"] : "");
  state.label.textContent = data.label;
  state.show.textContent = S["guess.show"];
  state.fresh.textContent = S["guess.new"];
  state.hint.textContent = S["guess.hint"];
  state.passage.setAttribute("aria-label", S["guess.passage_aria"]);
  state.passage.replaceChildren(document.createTextNode(data.shown));
  if (!data.done) state.passage.append(el("span", "cursor", " "));
  state.tried.textContent = data.wrong.length ? fill(S["guess.tried"], { chars: data.wrong.join("  ") }) : "";
  state.input.disabled = data.done;
  state.show.disabled = data.done;
  state.fresh.hidden = !data.can_new;
  state.results.replaceChildren(rankTables(data), scoreTable(data), chart(data));
  state.root.dataset.shown = data.shown;
}

function setup(parentElement, data) {
  const root = el("div", "game");
  const title = el("p", "hint");
  const controls = el("div", "controls");
  const field = el("div", "field");
  const label = el("label", "", data.label);
  const input = el("input", "guess-box");
  input.id = "unrolled-guess";
  label.htmlFor = input.id;
  input.autocomplete = "off";
  input.spellcheck = false;
  input.setAttribute("aria-describedby", "unrolled-guess-hint");
  field.append(label, input);
  const show = el("button", "", "");
  show.type = "button";
  const fresh = el("button", "", "");
  fresh.type = "button";
  controls.append(field, show, fresh);
  const hint = el("p", "hint", "");
  hint.id = "unrolled-guess-hint";
  const message = el("p", "message");
  message.setAttribute("role", "status");
  const passage = el("div", "passage text-block");
  passage.setAttribute("role", "region");
  const tried = el("p", "tried");
  const results = el("div", "results");
  root.append(title, controls, hint, message, passage, tried, results);
  parentElement.append(root);
  return {
    root,
    title,
    label,
    input,
    show,
    fresh,
    hint,
    message,
    passage,
    tried,
    results,
    queue: [],
    out: null,
    seq: data.seq,
  };
}

function pump(state) {
  if (state.out !== null || !state.queue.length) return;
  state.seq += 1;
  state.out = state.seq;
  state.setStateValue("typed", { guess: state.queue.shift(), seq: state.seq });
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let state = parentElement.__unrolled;
  if (!state) {
    state = parentElement.__unrolled = setup(parentElement, data);
    const submit = (value) => {
      state.queue.push(value);
      pump(state);
    };
    state.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        submit("\n");
      }
    });
    state.input.addEventListener("input", () => {
      const value = state.input.value;
      state.input.value = "";
      if (value) submit(value); // the server says so if it is more than one character
    });
    state.show.addEventListener("click", () => state.setTriggerValue("show", true));
    state.fresh.addEventListener("click", () => state.setTriggerValue("new", true));
  }
  state.data = data;
  state.setStateValue = setStateValue;
  state.setTriggerValue = setTriggerValue;
  if (state.out !== null && data.seq >= state.out) state.out = null;
  if (data.seq > state.seq) state.seq = data.seq;
  draw(state);
  introduce(state);
  pump(state);
}
