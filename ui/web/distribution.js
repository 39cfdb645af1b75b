// What the game's board (guess.js) and a room's projector view (projector.js) draw alike, drawn one way: the
// score table's header, and the guess-count distributions side by side (for each count 1..groups, the share of
// characters that took it, one bar per player, in the Okabe-Ito palette). S holds the guess.col_*,
// guess.chart_* and guess.gave_up strings.

const DIST_COLORS = ["#000000", "#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00"]; // Okabe-Ito

function scoreHead(S) {
  const head = el("tr");
  for (const key of ["guess.col_player", "guess.col_gpc", "guess.col_lower", "guess.col_upper", "guess.col_xent"]) {
    const th = el("th", "", S[key]);
    th.scope = "col";
    head.append(th);
  }
  return head;
}

function distributionChart(players, dists, groups, S) {
  const wrap = el("figure", "chart");
  const W = 640,
    H = 230,
    left = 40,
    bottom = 30,
    top = 10;
  const gw = (W - left - 10) / groups,
    bw = (gw - 6) / Math.max(1, players.length);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const summary = players
    .map((name, p) => fill(S["guess.chart_first"], { name, p: Math.round(dists[p][0] * 100) }))
    .join("; ");
  root.setAttribute("aria-label", fill(S["guess.chart_aria"], { summary }));
  const y = (v) => H - bottom - v * (H - bottom - top);
  [0, 0.25, 0.5, 0.75, 1].forEach((v) => {
    root.append(svg("line", { x1: left, x2: W - 10, y1: y(v), y2: y(v), stroke: "#e4e6eb" }));
    root.append(svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, `${v * 100}%`));
  });
  for (let g = 0; g < groups; g++) {
    const x0 = left + g * gw + 3;
    dists.forEach((q, p) => {
      const v = q[g];
      const rect = svg("rect", {
        x: x0 + p * bw,
        y: y(v),
        width: Math.max(1, bw - 1),
        height: Math.max(0, y(0) - y(v)),
        fill: DIST_COLORS[p % DIST_COLORS.length],
      });
      const n = g + 1 === groups ? fill(S["guess.gave_up"], { n: groups }) : g + 1;
      rect.append(svg("title", {}, fill(S["guess.chart_bar"], { name: players[p], p: (v * 100).toFixed(0), n })));
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
  players.forEach((name, p) => {
    const sw = el("span", "swatch");
    sw.style.background = DIST_COLORS[p % DIST_COLORS.length];
    legend.append(sw, document.createTextNode(name));
  });
  wrap.append(root, legend);
  return wrap;
}
