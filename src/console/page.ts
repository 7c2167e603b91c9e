/**
 * The console's one page: HTML, CSS and the script that draws it, served as is (no build step, no
 * framework). The allocation map is a canvas per device with one cell per 2 MiB unit, or, when a
 * device has more units than the canvas has pixels, one pixel per group of units (a file wins over
 * free space, so small files stay visible). The page exposes `window.famfsConsole` (its state and
 * layout) so tests and the screenshot script can find a unit's pixel.
 */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>famfs console</title>
<link rel="icon" href="data:,">
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #d8dde6; --bg: #f6f7f9; --accent: #2f6fdd; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 16px; align-items: baseline; padding: 10px 16px; background: #1d2330; color: white; }
  header h1 { font-size: 16px; margin: 0; }
  header .muted { color: #aab3c5; }
  #live { margin-left: auto; font-size: 12px; }
  #live.on::before { content: "\\25CF "; color: #48c774; }
  #live.off::before { content: "\\25CF "; color: #e55; }
  main { display: grid; grid-template-columns: minmax(560px, 1fr) minmax(300px, 400px); gap: 12px; padding: 12px 16px; }
  section { background: white; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
  h2 { font-size: 13px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eef0f4; white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; }
  .bar { display: inline-block; width: 160px; height: 10px; background: #e8e8e8; border-radius: 3px; vertical-align: middle; overflow: hidden; }
  .bar > i { display: block; height: 100%; background: var(--accent); }
  .problem { color: #b42318; }
  .device { margin-bottom: 12px; }
  .device h3 { font-size: 13px; margin: 4px 0; font-weight: 600; }
  canvas { display: block; image-rendering: pixelated; border: 1px solid var(--line); cursor: crosshair; }
  .legend span { display: inline-block; margin-right: 12px; color: var(--muted); }
  .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; border: 1px solid #0002; }
  #mounts-body { overflow-x: auto; }
  #mounts-body td.mnt { white-space: normal; word-break: break-all; }
  #tree { max-height: 360px; overflow: auto; font-family: ui-monospace, monospace; font-size: 12px; }
  #tree ul { list-style: none; margin: 0; padding-left: 14px; }
  #tree li { white-space: nowrap; }
  #tree .file { cursor: pointer; }
  #tree .file:hover, #tree .file.sel { background: #e7efff; }
  #tree .size { color: var(--muted); margin-left: 6px; }
  #detail { margin-top: 8px; font-size: 12px; }
  #detail code { font-size: 12px; }
  #tip { position: fixed; pointer-events: none; background: #1d2330ee; color: white; padding: 6px 8px; border-radius: 4px; font-size: 12px; display: none; max-width: 420px; z-index: 10; }
  .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; vertical-align: -1px; }
</style>
</head>
<body>
<header><h1>famfs console</h1><span id="fsid" class="muted"></span><span id="live" class="off">connecting</span></header>
<main>
  <div>
    <section id="summary"><h2>File system</h2><div id="summary-body">loading…</div></section>
    <section id="maps" style="margin-top:12px"><h2>Allocation map (one cell per 2 MiB unit)</h2>
      <div class="legend"><span><i style="background:rgb(20,20,20)"></i>superblock</span><span><i style="background:rgb(96,96,96)"></i>log</span><span><i style="background:rgb(232,232,232)"></i>free</span><span><i style="background:rgb(255,200,0)"></i>allocated, no file</span><span>files: one color each</span></div>
      <div id="map-list"></div>
    </section>
  </div>
  <div>
    <section id="mounts"><h2>Mounts on this machine</h2><div id="mounts-body"></div></section>
    <section id="browser" style="margin-top:12px"><h2>Files</h2><div id="tree"></div><div id="detail"></div></section>
  </div>
</main>
<div id="tip"></div>
<script>
"use strict";
(function () {
  var UNIT = 2 * 1024 * 1024;
  /** Up to this many files the tree starts fully open; beyond, only its first level. */
  var OPEN_TREE_FILES = 500;
  /** Files listed per directory: a DOM node each, so a directory of 100,000 files lists the first ones. */
  var MAX_LISTED = 1000;
  var MAP_WIDTH = 720, MAP_MAX_HEIGHT = 360, MAX_CELL = 16;
  var FREE = -1, SUPERBLOCK = -2, LOG = -3, ORPHAN = -4;
  var token = new URLSearchParams(location.search).get("token");
  var state = { status: null, files: [], directories: [], owners: [], layouts: [], selected: null, drawn: 0, updates: 0, through: -1 };
  window.famfsConsole = state;

  function api(path) {
    var u = new URL(path, location.href);
    if (token) u.searchParams.set("token", token);
    return u.toString();
  }
  function getJson(path) {
    return fetch(api(path)).then(function (r) { if (!r.ok) throw new Error(path + ": HTTP " + r.status); return r.json(); });
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function size(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)) + " " + u[i];
  }
  function bar(f) { return '<span class="bar"><i style="width:' + Math.min(100, Math.max(0, f * 100)).toFixed(1) + '%"></i></span>'; }
  function modeText(m) {
    var s = "";
    for (var i = 8; i >= 0; i--) s += (m >> i) & 1 ? "rwx"[(8 - i) % 3] : "-";
    return s + " (" + m.toString(8).padStart(4, "0") + ")";
  }

  // Colors, packed as the canvas stores them (RGBA bytes, little-endian uint32).
  function pack(r, g, b) { return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0; }
  var SPECIAL = {};
  SPECIAL[FREE] = pack(232, 232, 232); SPECIAL[SUPERBLOCK] = pack(20, 20, 20); SPECIAL[LOG] = pack(96, 96, 96); SPECIAL[ORPHAN] = pack(255, 200, 0);
  var fileColors = [];
  function hsl(h, s, l) {
    var a = s * Math.min(l, 1 - l);
    function f(n) { var k = (n + h / 30) % 12; return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)))); }
    return [f(0), f(8), f(4)];
  }
  /** A file's color: hues a golden angle apart, two lightness bands, so neighbours differ. */
  function colorOf(id) {
    var c = fileColors[id];
    if (c === undefined) {
      var rgb = hsl((id * 137.508) % 360, 0.65, id % 2 ? 0.45 : 0.6);
      c = fileColors[id] = pack(rgb[0], rgb[1], rgb[2]);
    }
    return c;
  }
  state.colorOf = colorOf;

  /** Cells of cell x cell pixels, cols per row; each cell stands for per units. */
  function layout(units) {
    var cell = Math.max(1, Math.min(MAX_CELL, Math.floor(Math.sqrt((MAP_WIDTH * MAP_MAX_HEIGHT) / Math.max(1, units)))));
    var per = cell > 1 ? 1 : Math.max(1, Math.ceil(units / (MAP_WIDTH * MAP_MAX_HEIGHT)));
    var cols = Math.floor(MAP_WIDTH / cell);
    var cells = Math.ceil(units / per);
    var rows = Math.max(1, Math.ceil(cells / cols));
    return { units: units, cell: cell, per: per, cols: cols, cells: cells, width: cols * cell, height: rows * cell };
  }
  state.layout = layout;
  /** The pixel at the center of the cell holding unit u. */
  state.pixelOf = function (dev, u) {
    var L = state.layouts[dev], c = Math.floor(u / L.per);
    return { x: (c % L.cols) * L.cell + (L.cell >> 1), y: Math.floor(c / L.cols) * L.cell + (L.cell >> 1) };
  };

  /** The owner a cell shows: the first file among its units, else the first marked region, else free. */
  function cellOwner(owners, first, end) {
    var mark = FREE;
    for (var u = first; u < end; u++) {
      var o = owners[u];
      if (o >= 0) return o;
      if (mark === FREE) mark = o;
    }
    return mark;
  }

  function drawDevice(dev) {
    var owners = state.owners[dev];
    var L = state.layouts[dev] = layout(owners.length);
    var canvas = document.getElementById("map-" + dev);
    canvas.width = L.width; canvas.height = L.height;
    canvas.style.width = L.width + "px"; canvas.style.height = L.height + "px";
    canvas.dataset.cell = L.cell; canvas.dataset.per = L.per; canvas.dataset.cols = L.cols;
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    var img = ctx.createImageData(L.width, L.height);
    var px = new Uint32Array(img.data.buffer);
    var blank = pack(255, 255, 255);
    px.fill(blank);
    for (var c = 0; c < L.cells; c++) {
      var first = c * L.per, o = cellOwner(owners, first, Math.min(owners.length, first + L.per));
      var color = o >= 0 ? colorOf(o) : SPECIAL[o];
      var x0 = (c % L.cols) * L.cell, y0 = Math.floor(c / L.cols) * L.cell;
      if (L.cell === 1) { px[y0 * L.width + x0] = color; continue; }
      // A one-pixel gap between cells, so units read as units.
      var inner = L.cell > 3 ? L.cell - 1 : L.cell;
      for (var y = 0; y < inner; y++) {
        var row = (y0 + y) * L.width + x0;
        for (var x = 0; x < inner; x++) px[row + x] = color;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  function ensureCanvases(devices) {
    var list = document.getElementById("map-list");
    if (list.children.length === devices.length) return;
    list.innerHTML = devices.map(function (d) {
      return '<div class="device"><h3 id="map-title-' + d.index + '"></h3><canvas id="map-' + d.index + '" data-device="' + d.index + '"></canvas></div>';
    }).join("");
    devices.forEach(function (d) {
      var c = document.getElementById("map-" + d.index);
      c.addEventListener("mousemove", function (e) { hover(d.index, e); });
      c.addEventListener("mouseleave", function () { tip.style.display = "none"; });
      c.addEventListener("click", function (e) { var u = unitAt(d.index, e); if (u) select(u.owner >= 0 ? u.owner : null); });
    });
  }

  function fetchMap(index) {
    return fetch(api("/api/map?device=" + index)).then(function (r) {
      if (!r.ok) throw new Error("map " + index + ": HTTP " + r.status);
      return r.arrayBuffer();
    });
  }

  /** first: device 0's map, already asked for while the status was on its way. */
  function loadMaps(devices, first) {
    ensureCanvases(devices);
    return Promise.all(devices.map(function (d) {
      return (d.index === 0 && first ? first : fetchMap(d.index)).then(function (buf) {
        state.owners[d.index] = new Int32Array(buf);
        drawDevice(d.index);
        document.getElementById("map-title-" + d.index).textContent = "device " + d.index + "  " + (d.path || "NOT FOUND") + "  " + size(d.size) +
          ", " + (state.owners[d.index].length) + " units" + (state.layouts[d.index].per > 1 ? ", " + state.layouts[d.index].per + " per pixel" : "");
      });
    }));
  }

  function renderSummary(s) {
    document.getElementById("fsid").textContent = "file system " + s.fsUuid + " · master " + s.masterSystemUuid + " · this host: " + s.role;
    var h = "<table>";
    h += "<tr><th>log</th><td>" + bar(s.log.entriesUsed / s.log.slots) + " " + s.log.entriesUsed + " / " + s.log.slots + " entries</td></tr>";
    h += "<tr><th>files</th><td id=\\"count-files\\">" + s.files + "</td></tr><tr><th>directories</th><td>" + s.directories + "</td></tr>";
    s.devices.forEach(function (d) {
      h += "<tr><th>device " + d.index + "</th><td>" + bar(d.capacity ? d.allocated / d.capacity : 0) + " " + size(d.allocated) + " of " + size(d.capacity) +
        " · largest free run " + size(d.largestFreeRun) + "</td></tr>";
    });
    h += "</table>";
    if (s.problems.length) h += "<p class=\\"problem\\">" + s.problems.map(function (p) { return esc(p.kind + ": " + p.message + (p.fix ? " — fix: " + p.fix : "")); }).join("<br>") + "</p>";
    else h += "<p>No problems.</p>";
    document.getElementById("summary-body").innerHTML = h;
    var m = "<table><tr><th>mount</th><th>role</th><th>pid</th><th>lag</th><th>req/s</th></tr>";
    s.mounts.forEach(function (x) {
      m += '<tr><td class="mnt">' + esc(x.mountpoint) + "</td><td>" + x.role + "</td><td>" + x.pid + (x.daemonAlive ? "" : " <b class=problem>dead</b>") + "</td><td>" +
        (x.followLag ? x.followLag.entries + " / " + x.followLag.ms + " ms" : "?") + "</td><td>" + (x.requestsPerSecond === null ? "?" : x.requestsPerSecond.toFixed(1)) + "</td></tr>";
    });
    document.getElementById("mounts-body").innerHTML = s.mounts.length ? m + "</table>" : "<p>none</p>";
  }

  function renderTree() {
    var root = { dirs: {}, files: [] };
    function dirOf(path) {
      var n = root;
      if (path === "") return n;
      path.split("/").forEach(function (part) { n = n.dirs[part] || (n.dirs[part] = { dirs: {}, files: [] }); });
      return n;
    }
    state.directories.forEach(dirOf);
    state.files.forEach(function (f, id) {
      var cut = f.path.lastIndexOf("/");
      dirOf(cut < 0 ? "" : f.path.slice(0, cut)).files.push(id);
    });
    function html(n, depth) {
      var out = "<ul>";
      Object.keys(n.dirs).sort().forEach(function (name) {
        out += "<li><details" + (depth < 1 || state.files.length <= OPEN_TREE_FILES ? " open" : "") + "><summary>" + esc(name) + "/</summary>" + html(n.dirs[name], depth + 1) + "</details></li>";
      });
      n.files.slice(0, MAX_LISTED).forEach(function (id) {
        var f = state.files[id], name = f.path.slice(f.path.lastIndexOf("/") + 1);
        var sw = state.colorOf(id);
        out += '<li class="file' + (state.selected === id ? " sel" : "") + '" data-id="' + id + '" data-path="' + esc(f.path) + '"><span class="swatch" style="background:rgb(' +
          (sw & 255) + "," + ((sw >> 8) & 255) + "," + ((sw >> 16) & 255) + ')"></span>' + esc(name) + '<span class="size">' + size(f.size) + "</span></li>";
      });
      if (n.files.length > MAX_LISTED) out += '<li class="size">… ' + (n.files.length - MAX_LISTED) + " more files (hover the map to find them)</li>";
      return out + "</ul>";
    }
    document.getElementById("tree").innerHTML = html(root, 0);
  }

  function extentRows(f) {
    return f.extents.map(function (e, i) {
      return "<tr><td>" + (f.kind === "interleaved" ? "strip " : "extent ") + i + "</td><td>dev " + e.devIndex + "</td><td>0x" + e.offset.toString(16) +
        "</td><td>" + size(e.len) + "</td><td>units " + Math.floor(e.offset / UNIT) + "–" + (Math.ceil((e.offset + e.len) / UNIT) - 1) + "</td></tr>";
    }).join("");
  }

  function select(id) {
    state.selected = id;
    document.querySelectorAll("#tree .file").forEach(function (li) { li.classList.toggle("sel", Number(li.dataset.id) === id); });
    var d = document.getElementById("detail");
    if (id === null || !state.files[id]) { d.innerHTML = ""; return; }
    var f = state.files[id];
    d.innerHTML = "<b>" + esc(f.path) + "</b><br>" + size(f.size) + " (" + f.size + " bytes) · " + modeText(f.mode) + " · uid " + f.uid + " gid " + f.gid +
      " · log entry " + f.logIndex + "<br>" + (f.kind === "interleaved" ? "interleaved: " + f.extents.length + " strips, chunk " + size(f.chunkSize) : "simple: " + f.extents.length + " extent(s)") +
      "<table>" + extentRows(f) + "</table>";
  }
  document.getElementById("tree").addEventListener("click", function (e) {
    var li = e.target.closest(".file");
    if (li) select(Number(li.dataset.id));
  });

  var tip = document.getElementById("tip");
  function unitAt(dev, e) {
    var L = state.layouts[dev], owners = state.owners[dev];
    if (!L) return null;
    var r = e.target.getBoundingClientRect();
    var c = Math.floor((e.clientY - r.top) / L.cell) * L.cols + Math.floor((e.clientX - r.left) / L.cell);
    if (c < 0 || c >= L.cells) return null;
    var first = c * L.per, end = Math.min(owners.length, first + L.per);
    return { first: first, end: end, owner: cellOwner(owners, first, end) };
  }
  function hover(dev, e) {
    var u = unitAt(dev, e);
    if (!u) { tip.style.display = "none"; return; }
    var where = "device " + dev + ", unit " + u.first + (u.end - u.first > 1 ? "–" + (u.end - 1) : "") + " (0x" + (u.first * UNIT).toString(16) + ")";
    var text;
    if (u.owner >= 0 && state.files[u.owner]) {
      var f = state.files[u.owner], part = "";
      f.extents.forEach(function (x, i) {
        if (x.devIndex === dev && x.offset < u.end * UNIT && x.offset + x.len > u.first * UNIT) part = (f.kind === "interleaved" ? "strip " : "extent ") + i + " of " + f.extents.length;
      });
      text = "<b>" + esc(f.path) + "</b><br>" + size(f.size) + " · " + f.kind + (f.kind === "interleaved" ? ", chunk " + size(f.chunkSize) : "") + "<br>" + part + "<br>" + where;
    } else {
      text = ({ "-1": "free", "-2": "superblock", "-3": "log", "-4": "allocated, no file" })[u.owner] + "<br>" + where;
    }
    tip.innerHTML = text;
    tip.style.display = "block";
    tip.style.left = (e.clientX + 14) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  }

  var loading = null, again = false;
  /** Loads everything; a log event during a load loads again after it. */
  function refresh() {
    if (loading) { again = true; return loading; }
    var t0 = performance.now();
    // Every file system has a device 0: its map is fetched alongside the status.
    var first = fetchMap(0);
    first.catch(function () {});
    loading = getJson("/api/status").then(function (s) {
      state.status = s;
      renderSummary(s);
      // The maps first: the file list of a large file system is megabytes the picture does not need.
      return loadMaps(s.devices, first).then(function () {
        // Milliseconds since navigation began until every device's map was first drawn (bench/console.mjs).
        if (state.mapMs === undefined) state.mapMs = performance.now();
        return getJson("/api/files");
      }).then(function (f) {
        state.files = f.files; state.directories = f.directories; state.through = f.through;
        renderTree();
        if (state.selected !== null) select(state.selected);
      });
    }).then(function () {
      state.drawn++;
      state.lastDrawMs = performance.now() - t0;
      document.body.dataset.drawn = String(state.drawn);
    }).catch(function (err) {
      document.getElementById("summary-body").textContent = "error: " + err.message;
    }).then(function () {
      loading = null;
      if (again) { again = false; refresh(); }
    });
    return loading;
  }
  state.refresh = refresh;

  var live = document.getElementById("live");
  var events = new EventSource(api("/api/events"));
  events.addEventListener("hello", function () { live.className = "on"; live.textContent = "live"; });
  events.addEventListener("log", function () { state.updates++; refresh(); });
  events.onerror = function () { live.className = "off"; live.textContent = "reconnecting"; };
  refresh();
})();
</script>
</body>
</html>
`;
