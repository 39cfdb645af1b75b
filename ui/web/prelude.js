// Joined in front of each component's own file (ui/assets.py): the helpers every component draws with, and the
// one channel between the page's components. User text reaches the DOM only through textContent and
// attributes, never as HTML.

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

// Fills {name} placeholders in a translated string; an unknown name stays as it is.
function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));
}

// Writes only what changed, so a redraw after every keystroke touches few nodes.
function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

function setStyle(e, prop, value) {
  if (e.style.getPropertyValue(prop) !== value) e.style.setProperty(prop, value);
}

function codePoint(ch) {
  return `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
}

// How a character reads on screen: whitespace as the symbol in `map`, control characters as their code point.
function visible(ch, map) {
  if (ch in map) return map[ch];
  if (/^\p{C}$/u.test(ch)) return codePoint(ch);
  return ch;
}

// A WebSocket URL for one of the server's own routes (ui/fast.py, ui/train_feed.py): they sit beside the page,
// under the same base path (Streamlit's server.baseUrlPath, a host's prefix); `params` go in its query (a page's
// token lets the server check and bound the sockets one page holds).
function routeUrl(route, params) {
  const url = new URL(route, location.href.split(/[?#]/)[0].replace(/[^/]*$/, ""));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  return url;
}

// A frame from one of the server's own sockets, or null for one that is not JSON (the page then ignores it).
function frameOf(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

function pct(p) {
  return `${Math.round(p * 100)}%`;
}

// The page's text, shared between components: the live component owns the text box and publishes every
// change; the writer reads the latest text and listens for changes. Components v2 mount in the page's own
// document, so this is one object on `window`, made by whichever component loads first.
function textChannel() {
  if (!window.__unrolledTextChannel) {
    const channel = new EventTarget();
    channel.text = undefined;
    channel.publish = (text) => {
      if (channel.text === text) return;
      channel.text = text;
      channel.dispatchEvent(new Event("change"));
    };
    window.__unrolledTextChannel = channel;
  }
  return window.__unrolledTextChannel;
}
