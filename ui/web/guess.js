// The guessing game's board (ui/guess.py builds its payload). Each key typed in "Your guess" is one guess,
// sent to the server, which judges it: the answer is not in the browser until it is revealed. Keys typed
// while a guess is out wait their turn. Text reaches the DOM only through textContent.
//
// A move ({guess} or {show}, numbered by seq) goes over the game's socket (ui/guess_path.py), answered without a
// script run, once the socket has answered once; until then, or when it cannot open, closes or leaves a move
// unanswered, it goes as the component's state, which reruns the board's fragment. The server applies a seq once,
// whichever way it came, so a move sent again the other way is not counted twice.

const BLOCK = 25; // revealed characters per row of the rank table
const LINK_OPEN_MS = 4000; // a socket that has not answered by then is given up (a proxy may swallow it)
const LINK_ANSWER_MS = 4000; // a move unanswered this long goes again through a rerun
const LINK_TRIES = 3; // sockets tried in a row before the page stays on reruns
const LINK_RETRY_MS = 2000;

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

function playerId(offer) {
  let id = kept(PLAYER_ITEM);
  if (!id && /^[0-9a-f]{32}$/.test(offer ?? "")) {
    // the id the server's first run drew the room for: taking it spares the page a run (ui/room.py offer)
    id = offer;
    keep(PLAYER_ITEM, id);
  } else if (!id) {
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
  state.setStateValue("who", { player: playerId(data.offer), keys: key ? { [data.room]: key } : {} });
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
    queue: [], // moves not sent yet: {guess} or {show}
    out: null, // the seq of the move out, if any
    seq: data.seq,
    // the game's socket: off, connecting or open; the move it holds ({move, seq}) until its board comes back
    link: { socket: null, mode: "off", tries: 0, token: null, wait: null, timer: null, move: null },
  };
}

function pump(state) {
  if (state.out !== null || !state.queue.length) return;
  state.seq += 1;
  state.out = state.seq;
  send(state, state.queue.shift(), state.seq);
}

function send(state, move, seq) {
  const link = state.link;
  if (link.mode === "open") {
    link.socket.send(JSON.stringify({ ...move, seq }));
    link.move = { move, seq };
    clearTimeout(link.wait);
    link.wait = setTimeout(() => {
      if (state.out === seq) dropLink(state); // an open socket that stopped answering: the rerun path takes over
    }, LINK_ANSWER_MS);
  } else {
    state.setStateValue("typed", { ...move, seq });
  }
}

// Whatever happens to the socket, a move it held goes again through a rerun, with the same seq.
function dropLink(state) {
  const link = state.link;
  if (link.socket) {
    const socket = link.socket;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close();
  }
  clearTimeout(link.wait);
  link.socket = null;
  link.mode = "off";
  state.root.dataset.transport = "rerun";
  const held = link.move;
  link.move = null;
  if (held && state.out === held.seq) send(state, held.move, held.seq);
  if (link.tries < LINK_TRIES) link.timer = setTimeout(() => connect(state), LINK_RETRY_MS);
}

function connect(state) {
  const link = state.link;
  const target = state.data.link;
  if (!target || link.socket || link.tries >= LINK_TRIES || typeof WebSocket === "undefined") return;
  link.tries += 1;
  link.token = target.token;
  let socket;
  try {
    socket = new WebSocket(routeUrl(target.route, { token: target.token }));
  } catch {
    return; // a page whose URL cannot take a WebSocket stays on reruns
  }
  link.socket = socket;
  link.mode = "connecting";
  const giveUp = setTimeout(() => dropLink(state), LINK_OPEN_MS);
  socket.onopen = () => socket.send(JSON.stringify({ seq: state.seq })); // no move: the board as it is
  socket.onmessage = (event) => {
    const frame = frameOf(event);
    if (!frame) return;
    if (frame.type === "board") {
      clearTimeout(giveUp);
      if (link.mode !== "open") {
        link.mode = "open";
        link.tries = 0;
        state.root.dataset.transport = "socket";
      }
      if (link.move && frame.board.seq >= link.move.seq) {
        link.move = null;
        clearTimeout(link.wait);
      }
      receive(state, frame.board);
      // the page around the board changes (the passage ended in a room, or the room closed): a run of the
      // board's fragment redraws the whole page
      if (frame.rerun) state.setStateValue("synced", frame.board.seq);
    } else if (frame.type === "error") {
      console.warn("unrolled guess socket:", frame.problem);
      if (link.move && frame.seq === link.move.seq && state.out === frame.seq) {
        link.move = null; // refused: the move is not applied, and the next may go
        state.out = null;
        pump(state);
      }
    }
  };
  socket.onclose = () => {
    clearTimeout(giveUp);
    dropLink(state);
  };
}

function receive(state, data) {
  state.data = data.link ? data : { ...data, link: state.data?.link }; // a socket's board does not repeat the link
  if (state.out !== null && data.seq >= state.out) state.out = null;
  if (data.seq > state.seq) state.seq = data.seq;
  draw(state);
  introduce(state);
  pump(state);
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let state = parentElement.__unrolled;
  if (!state) {
    state = parentElement.__unrolled = setup(parentElement, data);
    const submit = (move) => {
      state.queue.push(move);
      pump(state);
    };
    state.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        submit({ guess: "\n" });
      }
    });
    state.input.addEventListener("input", () => {
      const value = state.input.value;
      state.input.value = "";
      if (value) submit({ guess: value }); // the server says so if it is more than one character
    });
    state.show.addEventListener("click", () => submit({ show: true }));
    state.fresh.addEventListener("click", () => state.setTriggerValue("new", true));
  }
  state.setStateValue = setStateValue;
  state.setTriggerValue = setTriggerValue;
  const link = data.link ?? state.data?.link;
  // a run's board is drawn unless the socket has already drawn a later one (a run that started before it)
  if (!state.data || data.seq >= state.data.seq) receive(state, { ...data, link });
  else if (data.remember) keep(KEY_ITEM + data.remember.code, data.remember.key);
  if (link && state.link.token !== link.token) {
    state.link.tries = 0; // a new session (the server restarted): its token, its game
    if (state.link.socket) dropLink(state);
  }
  connect(state);
}
