// The call page: draws the stereo waveform (caller and agent lanes) with turns, redacted
// spans and barge-in cuts, and seeks the player when a turn, a span or the waveform is clicked.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("call-data").textContent);
  const player = document.getElementById("player");
  const box = document.getElementById("waveform");

  function seek(ms) {
    if (!player) return;
    player.currentTime = ms / 1000;
    const playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  }

  document.querySelectorAll("[data-start-ms]").forEach(function (el) {
    el.addEventListener("click", function () { seek(parseFloat(el.dataset.startMs)); });
    el.addEventListener("keydown", function (e) { if (e.key === "Enter") seek(parseFloat(el.dataset.startMs)); });
  });

  function node(name, attrs, parent) {
    const el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(el);
    return el;
  }

  function draw(peaks) {
    const W = 1000, H = 180, laneH = 80, top = { caller: 8, agent: 96 };
    const total = peaks.duration_ms || data.duration_ms || 1;
    const x = function (ms) { return Math.max(0, Math.min(W, ms / total * W)); };
    const svg = node("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    ["caller", "agent"].forEach(function (lane) {
      const y0 = top[lane], mid = y0 + laneH / 2, values = peaks[lane], step = W / values.length;
      data.turns.filter(function (t) { return t.speaker === lane; }).forEach(function (t) {
        node("rect", { class: "turn-" + lane, x: x(t.start_ms), y: y0, width: Math.max(1, x(t.end_ms) - x(t.start_ms)),
                       height: laneH, "data-start-ms": t.start_ms }, svg);
      });
      values.forEach(function (v, i) {
        const h = Math.max(0.5, v * laneH);
        node("rect", { class: "bar-" + lane, x: i * step, y: mid - h / 2, width: Math.max(0.6, step * 0.8), height: h }, svg);
      });
      node("text", { class: "lane-label", x: 4, y: y0 + 11 }, svg).textContent = lane;
    });
    data.spans.forEach(function (s) {
      const lane = s.channel === "agent" ? "agent" : "caller";
      const r = node("rect", { class: "redaction", x: x(s.start_ms), y: top[lane], height: laneH,
                               width: Math.max(2, x(s.end_ms) - x(s.start_ms)), "data-type": s.type,
                               "data-start-ms": s.start_ms }, svg);
      node("title", {}, r).textContent = "[" + s.type + "] " + (s.start_ms / 1000).toFixed(2) + " s";
    });
    data.cuts.forEach(function (c) {
      node("line", { class: "cut", x1: x(c.at_ms), x2: x(c.at_ms), y1: top.agent, y2: top.agent + laneH,
                     "data-response": c.response_id }, svg);
    });
    const head = node("line", { class: "playhead", x1: 0, x2: 0, y1: 0, y2: H }, svg);
    svg.addEventListener("click", function (e) {
      const target = e.target.closest("[data-start-ms]");
      if (target && target.classList.contains("redaction")) { seek(parseFloat(target.dataset.startMs)); return; }
      const rect = svg.getBoundingClientRect();
      seek((e.clientX - rect.left) / rect.width * total);
    });
    if (player) {
      player.addEventListener("timeupdate", function () {
        const px = x(player.currentTime * 1000);
        head.setAttribute("x1", px); head.setAttribute("x2", px);
      });
    }
    box.appendChild(svg);
    box.dataset.ready = "1";
  }

  if (box) {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("waveform: HTTP " + r.status); return r.json(); })
      .then(draw)
      .catch(function (err) { box.textContent = String(err); box.dataset.ready = "error"; });
  }
})();
