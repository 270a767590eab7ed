// The usage page's chart: tokens per day as bars, audio minutes per day as a line, in SVG.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const days = JSON.parse(document.getElementById("usage-data").textContent);
  const box = document.getElementById("chart");
  function node(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(el);
    return el;
  }
  const W = 1000, H = 260, left = 56, right = 56, top = 12, bottom = 34;
  const svg = node("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
  const plotW = W - left - right, plotH = H - top - bottom;
  const maxTokens = Math.max(1, ...days.map(function (d) { return d.total_tokens; }));
  const maxMinutes = Math.max(0.01, ...days.map(function (d) { return d.audio_minutes; }));
  node("line", { class: "axis", x1: left, x2: W - right, y1: top + plotH, y2: top + plotH }, svg);
  node("text", { x: 4, y: top + 10 }, svg).textContent = maxTokens + " tok";
  node("text", { x: W - right + 4, y: top + 10 }, svg).textContent = maxMinutes.toFixed(1) + " min";
  const slot = plotW / Math.max(1, days.length);
  const points = [];
  const labelEvery = Math.max(1, Math.ceil(days.length / 12));
  days.forEach(function (d, i) {
    const h = d.total_tokens / maxTokens * plotH;
    const width = Math.max(1, Math.min(slot * 0.7, 48));
    const bar = node("rect", { class: "tokens", x: left + i * slot + (slot - width) / 2, y: top + plotH - h,
                               width: width, height: h, "data-day": d.key }, svg);
    node("title", {}, bar).textContent = d.key + ": " + d.total_tokens + " tokens, " + d.audio_minutes + " min, " + d.calls + " calls";
    const px = left + i * slot + slot / 2, py = top + plotH - d.audio_minutes / maxMinutes * plotH;
    points.push(px + "," + py);
    node("circle", { class: "dot", cx: px, cy: py, r: 3 }, svg);
    if (i % labelEvery === 0) node("text", { x: px - 30, y: H - 12 }, svg).textContent = d.key;
  });
  if (points.length) node("polyline", { class: "minutes", points: points.join(" ") }, svg);
  box.appendChild(svg);
  box.dataset.ready = "1";
})();
