/* The status page, kept current: /status once a second, each service's row updated in
 * place (text only, through textContent, so nothing a service says becomes markup),
 * rows added and removed as the table changes, the restart timeline redrawn.  The
 * page without this script is the table as of its loading (kernel/page.c). */
"use strict";
(function () {
	var SVG = "http://www.w3.org/2000/svg";
	var HOUR = 3600000, W = 120, H = 14;
	var COLS = ["state", "name", "pid", "uptime", "restarts", "rtt", "timeline", "reason"];

	/* As the kernel writes a duration: 4.2s, 1m19s, 2h05m. */
	function duration(ms) {
		if (ms < 0) return "-";
		if (ms < 60000) return Math.floor(ms / 1000) + "." + Math.floor((ms % 1000) / 100) + "s";
		var two = function (n) { return (n < 10 ? "0" : "") + n; };
		if (ms < HOUR) return Math.floor(ms / 60000) + "m" + two(Math.floor((ms % 60000) / 1000)) + "s";
		return Math.floor(ms / HOUR) + "h" + two(Math.floor((ms % HOUR) / 60000)) + "m";
	}

	function svgEl(name, attrs) {
		var e = document.createElementNS(SVG, name);
		for (var k in attrs) e.setAttribute(k, attrs[k]);
		return e;
	}

	function timeline(cell, times, now) {
		var recent = (times || []).filter(function (t) { return now - t <= HOUR; });
		var svg = svgEl("svg", {"class": "tl", viewBox: "0 0 " + W + " " + H, width: W, height: H,
			role: "img", "aria-label": recent.length + " restart" + (recent.length === 1 ? "" : "s") +
			" in the last hour"});
		svg.appendChild(svgEl("line", {x1: 0, y1: H / 2, x2: W, y2: H / 2}));
		recent.forEach(function (t) {
			var x = W - 2 - (now - t) * (W - 2) / HOUR;
			svg.appendChild(svgEl("rect", {x: x.toFixed(1), y: 1, width: 2, height: H - 2}));
		});
		cell.replaceChildren(svg);
	}

	function newRow(name) {
		var tr = document.createElement("tr");
		tr.dataset.service = name;
		COLS.forEach(function (c) {
			var td = document.createElement("td");
			td.className = c;
			tr.appendChild(td);
		});
		var badge = document.createElement("span");
		tr.cells[0].appendChild(badge);
		return tr;
	}

	/* An opened row shows the service's last lines of output, as the kernel put them in
	 * the page (ron-httpd reads no files): read from a fresh copy of it, as text. */
	function toggle(tr) {
		var next = tr.nextElementSibling;
		if (next && next.classList.contains("more")) {
			next.remove();
			tr.classList.remove("open");
			return;
		}
		var more = document.createElement("tr"), td = document.createElement("td");
		more.className = "more";
		td.colSpan = COLS.length;
		td.appendChild(document.createElement("pre"));
		more.appendChild(td);
		tr.after(more);
		tr.classList.add("open");
		tails();
	}

	function tails() {
		if (!document.querySelector("tr.more")) return;
		fetch("/", {cache: "no-store"}).then(function (r) { return r.text(); }).then(function (html) {
			var doc = new DOMParser().parseFromString(html, "text/html");
			document.querySelectorAll("tr.more").forEach(function (more) {
				var tr = more.previousElementSibling, name = tr.dataset.service;
				var src = null;
				doc.querySelectorAll("tr[data-service]").forEach(function (r) {
					if (r.dataset.service === name) src = r.querySelector("details.tail pre");
				});
				more.querySelector("pre").textContent = src ? src.textContent :
					"no output yet; all of it: ron-kernel logs " + name;
			});
		}).catch(function () {});
	}

	function fill(tr, s, now, age) {
		var st = s.state || "starting", badge = tr.cells[0].firstElementChild || tr.cells[0];
		badge.className = "badge st-" + st;
		badge.textContent = st;
		tr.cells[1].textContent = s.service;
		tr.cells[2].textContent = s.pid > 0 ? String(s.pid) : "-";
		tr.cells[3].textContent = s.pid > 0 ? duration(s.uptime_ms + age) : "-";
		tr.cells[4].textContent = String(s.restarts);
		tr.cells[5].textContent = s.pid > 0 && s.rtt_us > 0 ?
			Math.floor(s.rtt_us / 1000) + "." + String(s.rtt_us % 1000).padStart(3, "0") + " ms" : "-";
		timeline(tr.cells[6], s.restart_times_ms, now);
		var why = tr.cells[7].querySelector(".why");
		if (!why) {
			why = document.createElement("span");
			why.className = "why";
			tr.cells[7].prepend(why);
		}
		why.textContent = s.reason || "";
	}

	/* age: how old the snapshot was when it was served, ms (ron-httpd says). */
	function render(status, age) {
		age = age > 0 ? age : 0;
		var summary = document.getElementById("summary");
		summary.textContent = status.summary;
		/* As /healthz judges: healthy, or down because it was stopped by hand. */
		var ok = status.state === "running" && status.services.every(function (s) {
			return s.state === "healthy" || (s.state === "down" && s.want_down);
		});
		summary.className = ok ? "ok" : "bad";
		document.title = status.summary + " \u00b7 ron-kernel";
		var meta = document.getElementById("meta");
		meta.className = "";
		meta.textContent = "ron-kernel pid " + status.kernel_pid + ", " + status.state + "; last change " + status.updated;
		var body = document.querySelector("#services tbody"), seen = {};
		var rows = {};
		Array.prototype.forEach.call(body.querySelectorAll("tr[data-service]:not(.more)"), function (tr) {
			rows[tr.dataset.service] = tr;
		});
		var prev = null;
		status.services.forEach(function (s) {
			var tr = rows[s.service] || newRow(s.service);
			seen[s.service] = true;
			fill(tr, s, status.updated_ms + age, age);
			var at = prev ? prev.nextElementSibling : body.firstElementChild;
			if (at && at.classList.contains("more")) at = at.nextElementSibling;
			if (tr !== at) body.insertBefore(tr, at);
			prev = tr.nextElementSibling && tr.nextElementSibling.classList.contains("more") ? tr.nextElementSibling : tr;
		});
		Object.keys(rows).forEach(function (n) {
			if (seen[n]) return;
			var next = rows[n].nextElementSibling;
			if (next && next.classList.contains("more")) next.remove();
			rows[n].remove();
		});
	}

	function stale(why) {
		var meta = document.getElementById("meta");
		meta.className = "stale";
		meta.textContent = "not updating: " + why;
	}

	function tick() {
		fetch("/status", {cache: "no-store"}).then(function (r) {
			if (!r.ok) throw new Error("/status answered " + r.status);
			var age = Number(r.headers.get("X-Snapshot-Age-Ms"));
			return r.json().then(function (st) { render(st, age); tails(); });
		}).catch(function (e) { stale(e.message); }).finally(function () {
			setTimeout(tick, 1000);
		});
	}

	/* The folded lines are for a page without this script: here a row opens them. */
	document.querySelectorAll("details.tail").forEach(function (d) { d.remove(); });
	document.querySelector("#services tbody").addEventListener("click", function (e) {
		var tr = e.target.closest("tr[data-service]");
		if (tr) toggle(tr);
	});
	window.ronPage = {render: render};
	tick();
})();
