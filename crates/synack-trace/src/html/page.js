(function () {
  "use strict";
  var errs = [];
  window.addEventListener("error", function (e) {
    errs.push(String(e.message));
    document.body.setAttribute("data-errors", errs.join(" | "));
  });
  var D = JSON.parse(document.getElementById("trace").textContent);
  var N = D.length, k = -1, drawn = null, playing = false, speed = 1, timer = 0, anim = 0;
  var $ = function (id) { return document.getElementById(id); };
  document.documentElement.classList.add("js");
  var rows = [], i, d;
  for (i = 0; i < N; i++) rows.push($("r" + i));
  // Each side's state and last transition after each line.
  var init = [null, null], cur, last = [-1, -1], st = [[], []], tr = [[], []];
  for (i = 0; i < N; i++) { d = D[i]; if (d.k === "m" && init[d.c] === null) init[d.c] = d.from; }
  cur = [init[0], init[1]];
  for (i = 0; i < N; i++) {
    d = D[i];
    if (d.k === "m") { cur[d.c] = d.to; last[d.c] = i; }
    st[0].push(cur[0]); st[1].push(cur[1]); tr[0].push(last[0]); tr[1].push(last[1]);
  }
  var ms = function (us) { return (us / 1000).toFixed(3) + " ms"; };
  var esc = function (s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  };
  function clock(t) {
    $("clock").textContent = "t = " + ms(t);
    var pl = document.querySelectorAll("svg.pl");
    for (var j = 0; j < pl.length; j++) {
      var s = pl[j].dataset, c = pl[j].querySelector(".cursor");
      var f = Math.max(0, Math.min(1, (t - s.t0) / (s.t1 - s.t0)));
      var x = +s.x0 + f * (s.x1 - s.x0);
      c.setAttribute("x1", x); c.setAttribute("x2", x);
    }
  }
  function box(svg, name) {
    var r = svg.querySelector('g[data-s="' + name + '"] rect');
    return r ? { x: +r.getAttribute("x"), y: +r.getAttribute("y"), w: +r.getAttribute("width"), h: +r.getAttribute("height") } : null;
  }
  function edge(a, b) {
    var ax = a.x + a.w / 2, ay = a.y + a.h / 2, dx = b.x + b.w / 2 - ax, dy = b.y + b.h / 2 - ay;
    var s = Math.min(dx ? (a.w / 2 + 2) / Math.abs(dx) : 1e9, dy ? (a.h / 2 + 2) / Math.abs(dy) : 1e9);
    return [ax + dx * s, ay + dy * s];
  }
  function diagram(side) {
    var svg = $("sd" + side), s = k >= 0 ? st[side][k] : init[side], t = k >= 0 ? tr[side][k] : -1;
    var g = svg.querySelectorAll("g.sn");
    for (var j = 0; j < g.length; j++) g[j].classList.toggle("on", g[j].dataset.s === s);
    var hot = svg.querySelectorAll(".se.hot");
    for (j = 0; j < hot.length; j++) hot[j].classList.remove("hot");
    var tk = $("tk" + side), cap = $("cause" + side);
    if (t < 0) { tk.classList.add("hidden"); cap.textContent = s || ""; return; }
    var e = D[t], a = box(svg, e.from), b = box(svg, e.to);
    var se = svg.querySelector('.se[data-e="' + e.from + ">" + e.to + '"]');
    if (se) se.classList.add("hot");
    if (a && b) {
      var p = edge(a, b), q = edge(b, a);
      tk.setAttribute("x1", p[0]); tk.setAttribute("y1", p[1]);
      tk.setAttribute("x2", q[0]); tk.setAttribute("y2", q[1]);
    }
    tk.classList.remove("hidden");
    tk.classList.toggle("now", t === k);
    cap.textContent = e.from + " → " + e.to + ": " + e.cs;
  }
  function panel() {
    var f = $("fields");
    if (k < 0) { f.innerHTML = ""; return; }
    d = D[k];
    var h = "";
    if (d.k === "s") {
      var F = FIELDS, sc = d.sc ? "×" + Math.pow(2, d.sc) + " (shift " + d.sc + ")" : "—";
      var v = [d.f, d.q, d.Q, d.ha ? d.a : "—", d.ha ? d.A : "—", d.w, sc, d.wb, d.l, d.o || "—", d.r || "—"];
      h = "<table>";
      for (var j = 0; j < F.length; j++) h += "<tr><th>" + esc(F[j]) + "</th><td>" + esc(v[j]) + "</td></tr>";
      h += "</table><p>" + esc(d.ex) + "</p>" + (d.n ? '<p class="note">' + esc(d.n) + "</p>" : "");
    } else if (d.k === "c") {
      h = "<p><b>" + esc(d.lb) + "</b> " + esc(d.ex) + "</p>";
    } else if (d.k === "m") {
      h = "<p><b>" + esc(d.from + " → " + d.to) + "</b></p><p>" + esc(d.ex) + "</p>";
    } else {
      h = "<p>" + esc(d.ex) + "</p>";
    }
    f.innerHTML = h;
  }
  function travel(j) {
    var ln = rows[j].querySelector("line.a");
    if (!ln) return;
    var L = ln.getTotalLength(), dur = 700 / speed, t0 = null, d0 = D[j];
    var mk = ln.getAttribute("marker-end");
    if (mk) ln.removeAttribute("marker-end");
    var xs = rows[j].querySelectorAll(".x,.why");
    for (var m = 0; m < xs.length; m++) xs[m].style.visibility = "hidden";
    ln.style.strokeDasharray = L + " " + L;
    ln.style.strokeDashoffset = L;
    cancelAnimationFrame(anim);
    var done = function () {
      ln.style.strokeDasharray = ""; ln.style.strokeDashoffset = "";
      if (mk) ln.setAttribute("marker-end", mk);
      for (var m = 0; m < xs.length; m++) xs[m].style.visibility = "";
    };
    var frame = function (now) {
      if (t0 === null) t0 = now;
      var p = Math.min(1, (now - t0) / dur);
      ln.style.strokeDashoffset = L * (1 - p);
      if (d0.ta !== null) clock(d0.t + p * (d0.ta - d0.t));
      if (p < 1 && k === j) anim = requestAnimationFrame(frame); else done();
    };
    anim = requestAnimationFrame(frame);
  }
  function show(n, animate, scroll) {
    cancelAnimationFrame(anim);
    k = Math.max(-1, Math.min(N - 1, n));
    // Only the lines between the old and the new position change.
    var a = drawn === null ? 0 : Math.max(0, Math.min(drawn, k));
    var b = drawn === null ? N - 1 : Math.min(N - 1, Math.max(drawn, k));
    for (var j = a; j <= b; j++) {
      rows[j].classList.toggle("fut", j > k);
      rows[j].classList.toggle("cur", j === k);
    }
    drawn = k;
    diagram(0); diagram(1); panel();
    clock(k >= 0 ? D[k].t : (N ? D[0].t : 0));
    $("scrub").value = k + 1;
    $("count").textContent = (k + 1) + " / " + N;
    if (scroll && k >= 0 && rows[k].scrollIntoView) rows[k].scrollIntoView({ block: "nearest" });
    if (animate && k >= 0 && D[k].k === "s") travel(k);
  }
  function stop() { playing = false; clearTimeout(timer); $("b-play").textContent = "▶"; }
  function tick() {
    if (!playing) return;
    if (k >= N - 1) { stop(); return; }
    show(k + 1, true, true);
    // A long wait in virtual time (an RTO, TIME_WAIT) is a longer pause,
    // up to 1.5 s more; a segment's flight takes its animation.
    var gap = k + 1 < N ? (D[k + 1].t - D[k].t) / 1000 : 0;
    timer = setTimeout(tick, ((D[k].k === "s" ? 900 : 450) + Math.min(1500, 2 * gap)) / speed);
  }
  function play() {
    if (playing) { stop(); return; }
    if (k >= N - 1) show(-1);
    playing = true; $("b-play").textContent = "❚❚"; tick();
  }
  var FIELDS = JSON.parse($("fields").getAttribute("data-names"));
  $("scrub").max = N;
  $("b-first").onclick = function () { stop(); show(-1); };
  $("b-prev").onclick = function () { stop(); show(k - 1, false, true); };
  $("b-next").onclick = function () { stop(); show(k + 1, true, true); };
  $("b-last").onclick = function () { stop(); show(N - 1, false, true); };
  $("b-play").onclick = play;
  $("scrub").oninput = function () { stop(); show(this.value - 1); };
  $("speed").onchange = function () { speed = +this.value; };
  rows.forEach(function (r, j) { r.addEventListener("click", function () { stop(); show(j, true); }); });
  var speeds = ["0.5", "1", "2", "4"];
  document.addEventListener("keydown", function (e) {
    if (e.target && /INPUT|SELECT|BUTTON/.test(e.target.tagName) && e.key === " ") return;
    var s = speeds.indexOf($("speed").value);
    switch (e.key) {
      case " ": play(); break;
      case "ArrowRight": stop(); show(k + 1, true, true); break;
      case "ArrowLeft": stop(); show(k - 1, false, true); break;
      case "Home": stop(); show(-1); break;
      case "End": stop(); show(N - 1, false, true); break;
      case "+": case "=": s = Math.min(3, s + 1); $("speed").value = speeds[s]; speed = +speeds[s]; break;
      case "-": s = Math.max(0, s - 1); $("speed").value = speeds[s]; speed = +speeds[s]; break;
      default: return;
    }
    e.preventDefault();
  });
  // On a narrow screen the ladder scrolls sideways: start with both
  // lifelines in view (the time column and the client's calls are to the left).
  var sc = document.querySelector(".scroll"), lad = $("ladder");
  if (sc && lad && sc.scrollWidth > sc.clientWidth) {
    sc.scrollLeft = sc.scrollWidth * lad.dataset.focus / lad.viewBox.baseVal.width;
  }
  var h = location.hash.slice(1);
  if (h === "play") { show(-1); play(); } else if (/^\d+$/.test(h)) show(+h - 1); else show(-1);
})();
