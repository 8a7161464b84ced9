/* b12dx clinician form: search-as-you-type over the KB's findings and synonyms, rows for
 * medicines and labs, unit drop-downs that follow the chosen test. The form itself is plain
 * HTML and is submitted normally; the server re-renders it with the result or the errors. */
(function () {
  "use strict";

  var form = document.getElementById("case-form");
  if (!form) { return; }
  document.documentElement.classList.add("js");
  var catalogue = JSON.parse(document.getElementById("catalogue").textContent);
  var labsById = {};
  catalogue.labs.forEach(function (t) { labsById[t.id] = t; });

  function $(id) { return document.getElementById(id); }

  function nextIndex(tbody, prefix) {
    var max = -1;
    tbody.querySelectorAll("[name^='" + prefix + "-']").forEach(function (el) {
      var m = el.name.match(/^\w+-(\d+)-/);
      if (m) { max = Math.max(max, parseInt(m[1], 10)); }
    });
    return max + 1;
  }

  /* ---- findings: an ARIA 1.2 combobox with a listbox popup ----------------------------- */

  var search = $("finding-search");
  var listbox = $("finding-options");
  var rows = $("findings-rows");
  var active = -1;
  var matches = [];

  function norm(s) { return (s || "").toLowerCase().replace(/[_\-]+/g, " "); }

  catalogue.evidence.forEach(function (e) {
    e.haystack = [e.name, e.lay, e.id].concat(e.synonyms || []).map(norm);
  });

  function chosen() {
    var ids = {};
    rows.querySelectorAll("tr.finding-row").forEach(function (tr) { ids[tr.getAttribute("data-id")] = true; });
    return ids;
  }

  function find(query) {
    var q = norm(query).trim();
    if (q.length < 2) { return []; }
    var taken = chosen();
    var scored = [];
    catalogue.evidence.forEach(function (e) {
      if (taken[e.id]) { return; }
      var best = -1, hit = "";
      e.haystack.forEach(function (h, i) {
        var at = h.indexOf(q);
        if (at < 0) { return; }
        var score = (at === 0 ? 2 : 1) + (i === 0 ? 1 : 0);
        if (score > best) { best = score; hit = i >= 3 ? e.synonyms[i - 3] : ""; }
      });
      if (best >= 0) { scored.push({ e: e, score: best, hit: hit }); }
    });
    scored.sort(function (a, b) { return b.score - a.score || a.e.name.localeCompare(b.e.name); });
    return scored.slice(0, 12);
  }

  function renderOptions() {
    listbox.textContent = "";
    matches.forEach(function (m, i) {
      var li = document.createElement("li");
      li.id = "finding-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.setAttribute("data-id", m.e.id);
      li.textContent = m.e.name;
      if (m.hit) {
        var s = document.createElement("span");
        s.className = "muted"; s.textContent = " (“" + m.hit + "”)";
        li.appendChild(s);
      }
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); pick(i); });
      listbox.appendChild(li);
    });
    var open = matches.length > 0;
    listbox.hidden = !open;
    search.setAttribute("aria-expanded", open ? "true" : "false");
    if (active >= 0) {
      search.setAttribute("aria-activedescendant", "finding-option-" + active);
      var el = $("finding-option-" + active);
      if (el && el.scrollIntoView) { el.scrollIntoView({ block: "nearest" }); }
    } else {
      search.removeAttribute("aria-activedescendant");
    }
  }

  function close() { matches = []; active = -1; renderOptions(); }

  function addFinding(e, state) {
    var tpl = $("finding-row-template").content.firstElementChild.cloneNode(true);
    var i = nextIndex(rows, "findings");
    tpl.setAttribute("data-id", e.id);
    var hidden = tpl.querySelector("[data-name=id]");
    hidden.name = "findings-" + i + "-id"; hidden.id = "findings-" + i + "-id"; hidden.value = e.id;
    tpl.querySelectorAll("[data-name=state]").forEach(function (r) {
      r.name = "findings-" + i + "-state";
      r.checked = r.value === (state || "present");
    });
    tpl.querySelector(".finding-name").textContent = e.name;
    tpl.querySelector(".finding-code").textContent = e.id;
    tpl.querySelector("legend").textContent = e.name;
    tpl.querySelector(".remove-row").setAttribute("aria-label", "Remove " + e.name);
    rows.appendChild(tpl);
    $("findings-empty").hidden = true;
  }

  function pick(i) {
    var m = matches[i];
    if (!m) { return; }
    addFinding(m.e, "present");
    search.value = "";
    close();
    search.focus();
    $("finding-status").textContent = m.e.name + " added as present.";
  }

  var status = document.createElement("p");
  status.id = "finding-status"; status.className = "visually-hidden";
  status.setAttribute("role", "status"); status.setAttribute("aria-live", "polite");
  search.parentNode.appendChild(status);

  search.addEventListener("input", function () {
    matches = find(search.value); active = matches.length ? 0 : -1; renderOptions();
    status.textContent = matches.length ? matches.length + " matches" : "";
  });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowDown" && matches.length) { active = (active + 1) % matches.length; renderOptions(); ev.preventDefault(); }
    else if (ev.key === "ArrowUp" && matches.length) { active = (active - 1 + matches.length) % matches.length; renderOptions(); ev.preventDefault(); }
    else if (ev.key === "Enter") { if (matches.length && active >= 0) { pick(active); } ev.preventDefault(); }
    else if (ev.key === "Escape") { close(); }
  });
  search.addEventListener("blur", function () { setTimeout(close, 100); });

  /* ---- rows: remove, add medicine, add lab ---------------------------------------------- */

  form.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest(".remove-row") : null;
    if (!btn) { return; }
    var tr = btn.closest("tr");
    tr.parentNode.removeChild(tr);
    $("findings-empty").hidden = rows.querySelectorAll("tr").length > 0;
  });

  function addMed() {
    var tbody = $("meds-rows");
    var i = nextIndex(tbody, "meds");
    var tr = document.createElement("tr");
    tr.className = "med-row";
    tr.innerHTML =
      '<td><label class="visually-hidden" for="meds-' + i + '-name">Medicine ' + (i + 1) + '</label>' +
      '<input id="meds-' + i + '-name" name="meds-' + i + '-name" list="medicine-names" autocomplete="off"></td>' +
      '<td><label class="visually-hidden" for="meds-' + i + '-years">Years taking medicine ' + (i + 1) + '</label>' +
      '<input id="meds-' + i + '-years" name="meds-' + i + '-years" inputmode="decimal" size="4"></td>' +
      '<td><button type="button" class="link-button remove-row">Remove</button></td>';
    tbody.appendChild(tr);
    tr.querySelector("input").focus();
  }

  function fillUnits(select, testId, keep) {
    var t = labsById[testId];
    select.textContent = "";
    (t ? t.units : [""]).forEach(function (u) {
      var o = document.createElement("option");
      o.value = u; o.textContent = u || "—";
      if (u === keep) { o.selected = true; }
      select.appendChild(o);
    });
  }

  function addLab() {
    var tbody = $("labs-rows");
    var i = nextIndex(tbody, "labs");
    var tr = document.createElement("tr");
    tr.className = "lab-row";
    var opts = '<option value="">choose a test…</option>' + catalogue.labs.map(function (t) {
      var o = document.createElement("option"); o.value = t.id; o.textContent = t.name; return o.outerHTML;
    }).join("");
    tr.innerHTML =
      '<td><label class="visually-hidden" for="labs-' + i + '-test">Test ' + (i + 1) + '</label>' +
      '<select id="labs-' + i + '-test" name="labs-' + i + '-test" class="lab-test">' + opts + '</select></td>' +
      '<td><label class="visually-hidden" for="labs-' + i + '-value">Value ' + (i + 1) + '</label>' +
      '<input id="labs-' + i + '-value" name="labs-' + i + '-value" inputmode="decimal" size="7" autocomplete="off"></td>' +
      '<td><label class="visually-hidden" for="labs-' + i + '-unit">Unit ' + (i + 1) + '</label>' +
      '<select id="labs-' + i + '-unit" name="labs-' + i + '-unit" class="lab-unit"><option value="">—</option></select></td>' +
      '<td><button type="button" class="link-button remove-row">Remove</button></td>';
    tbody.appendChild(tr);
    tr.querySelector("select").focus();
  }

  form.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el.classList && el.classList.contains("lab-test")) {
      var unit = el.closest("tr").querySelector(".lab-unit");
      fillUnits(unit, el.value, unit.value);
    }
  });

  $("add-med").addEventListener("click", addMed);
  $("add-lab").addEventListener("click", addLab);

  var summary = $("error-summary");
  if (summary) { summary.focus(); }
})();
