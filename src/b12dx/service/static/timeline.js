/* The timeline page: reads the records API with the user's Bearer token.
 * Data is written with textContent only (no HTML parsing); the token stays in sessionStorage. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var tokenBox = $("token"), personBox = $("person"), status = $("status");
  var urls = [];
  tokenBox.value = sessionStorage.getItem("b12dx-token") || "";

  function say(text) { status.textContent = text; }
  function api(path, asBlob) {
    var token = tokenBox.value.trim();
    sessionStorage.setItem("b12dx-token", token);
    return fetch(path, { headers: { "Authorization": "Bearer " + token } }).then(function (r) {
      if (!r.ok) {
        return r.json().then(function (p) { throw new Error(p.detail || r.statusText); },
                             function () { throw new Error(r.statusText); });
      }
      return asBlob ? r.blob() : r.json();
    });
  }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }
  function fill(tableId, items, columns) {
    var body = $(tableId).querySelector("tbody");
    body.textContent = "";
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      columns.forEach(function (c) { cell(tr, c.get(item), c.num ? "num" : ""); });
      body.appendChild(tr);
    });
  }
  function col(key, num) { return { get: function (x) { return x[key]; }, num: num }; }

  function loadPeople() {
    say("Loading people…");
    api("/v1/people").then(function (people) {
      personBox.textContent = "";
      people.forEach(function (p) {
        var o = document.createElement("option");
        o.value = p.ref; o.textContent = p.ref; personBox.appendChild(o);
      });
      personBox.disabled = people.length === 0;
      say(people.length ? people.length + " people." : "No people recorded yet.");
    }).catch(function (e) { say("Could not load people: " + e.message); });
  }

  function show(ev) {
    if (ev) { ev.preventDefault(); }
    var ref = personBox.value;
    if (!ref) { say("Choose a person first."); return; }
    var base = "/v1/people/" + encodeURIComponent(ref);
    var asOf = $("as-of").value;
    var q = asOf ? "?as_of=" + encodeURIComponent(asOf) : "";
    say("Loading " + ref + "…");
    Promise.all([api(base + "/timeline"), api(base + "/review" + q),
                 api(base + "/plot.svg" + q, true), api(base + "/plot.png" + q, true)])
      .then(function (res) {
        var tl = res[0], rv = res[1];
        urls.forEach(function (u) { URL.revokeObjectURL(u); });
        var svg = URL.createObjectURL(res[2]), png = URL.createObjectURL(res[3]);
        urls = [svg, png];
        $("plot").src = svg;
        $("download-svg").href = svg; $("download-svg").download = ref + "-timeline.svg";
        $("download-png").href = png; $("download-png").download = ref + "-timeline.png";
        fill("labs-table", tl.labs, [col("date"), col("test"), col("value", true), col("unit")]);
        fill("symptoms-table", tl.symptoms, [col("date"), col("cramps_per_week", true),
          col("worst_severity", true), col("tightness", true), col("tingling_numbness", true),
          col("balance", true), col("fatigue", true), col("note")]);
        fill("treatments-table", tl.treatments, [col("started_on"), col("stopped_on"),
          col("route"), col("product"), col("dose"), col("frequency")]);
        var c = rv.course;
        $("course").textContent = c ? ("Course: " + c.product + " " + c.dose + " " + c.frequency +
          " (" + c.route + ") since " + c.started_on + ". Review due " + c.review_due +
          (c.reviewed_on ? ", held " + c.reviewed_on : c.overdue ? " — OVERDUE" : "") + ".")
          : "No treatment recorded.";
        $("response").textContent = "Response: " + rv.response.replace("_", " ") +
          " (from " + rv.response_basis.replace("_", " ") + ").";
        var list = $("flags");
        list.textContent = "";
        rv.flags.forEach(function (f) {
          var li = document.createElement("li");
          var strong = document.createElement("strong");
          strong.textContent = f.level.toUpperCase() + ": ";
          li.appendChild(strong);
          li.appendChild(document.createTextNode(f.text + " — " + f.reason + " "));
          var cite = document.createElement("span");
          cite.className = "cite";
          cite.textContent = "(" + f.sources.join(", ") + ")";
          li.appendChild(cite);
          li.setAttribute("data-level", f.level);
          list.appendChild(li);
        });
        ["review", "plot-section", "tables"].forEach(function (id) { $(id).hidden = false; });
        say("Showing " + ref + ".");
      }).catch(function (e) { say("Could not load " + ref + ": " + e.message); });
  }

  $("load-people").addEventListener("click", loadPeople);
  $("timeline-form").addEventListener("submit", show);
  if (tokenBox.value) { loadPeople(); }
})();
