// The guessing game's board (ui/guess.py builds its payload). Each key typed in "Your guess" is one guess,
// sent to the server, which judges it: the answer is not in the browser until it is revealed. Keys typed
// while a guess is out wait their turn. Text reaches the DOM only through textContent.

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
  table.append(el("caption", "", S["guess.scores_caption"]), scoreHead(S));
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
  state.results.replaceChildren(
    rankTables(data),
    scoreTable(data),
    distributionChart(data.players, data.dists, data.max_wrong + 1, data.strings),
  );
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
