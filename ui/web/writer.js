// Each model's continuation of the text (ui/live.py, writer_payload). It is shown only while the box still
// holds the text it continues: the live component publishes every change of the box on the page's text channel
// (prelude.js), and once typing pauses (data.pause_ms) this asks the server for a continuation of the new text.

function draw(state) {
  const data = state.data;
  const fresh = state.text === data.for_text;
  state.list.hidden = !fresh;
  state.waiting.hidden = fresh;
  state.waiting.textContent = data.waiting;
  state.root.dataset.shownFor = fresh ? data.for_text : "";
  if (!fresh) return;
  state.list.replaceChildren(
    ...data.written.map((w) => {
      const block = el("div", "continuation");
      const pre = el("pre", "text-block");
      pre.append(el("span", "prompt", (data.cut_before ? "…" : "") + data.prompt_tail), el("span", "written", w.text));
      block.append(el("div", "who", w.name), pre);
      return block;
    }),
  );
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let state = parentElement.__unrolled;
  if (!state) {
    const root = el("div", "writer");
    const waiting = el("p", "waiting", data.waiting);
    waiting.setAttribute("role", "status");
    const list = el("div", "list");
    root.append(waiting, list);
    parentElement.append(root);
    const channel = textChannel();
    state = parentElement.__unrolled = {
      root,
      waiting,
      list,
      timer: null,
      text: channel.text ?? data.for_text,
      data,
      setTriggerValue,
    };
    channel.addEventListener("change", () => {
      state.text = channel.text;
      draw(state);
      clearTimeout(state.timer);
      state.timer = null;
      if (state.text !== state.data.for_text && state.text) {
        state.timer = setTimeout(() => state.setTriggerValue("write", state.text), state.data.pause_ms);
      }
    });
  }
  state.data = data;
  state.setTriggerValue = setTriggerValue;
  draw(state);
  if (state.text && state.text !== data.for_text && !state.timer) {
    state.timer = setTimeout(() => state.setTriggerValue("write", state.text), state.data.pause_ms);
  }
}
