/* b12dx questionnaire: one question at a time, driven by POST /v1/interview.
 *
 * The interview API is stateless: every call sends the whole case so far (age, sex, the opening
 * complaint and every answer) and gets back the next question, the current triage and whether
 * to stop. This script keeps the answers in order (so Back can change one) and in
 * sessionStorage (so a reload or the browser's Back from the result page loses nothing). The
 * finished case is posted to /questionnaire/result, which the server renders. */
(function () {
  "use strict";

  var app = document.getElementById("q-app");
  if (!app) { return; }
  app.hidden = false;

  var STORE = "b12dx.questionnaire.v1";
  var EMERGENCY = { emergency_ambulance: true, emergency: true };
  var ANSWER_LABELS = { present: "Yes", absent: "No", unknown: "I don't know" };
  var parseOn = app.getAttribute("data-parse") === "on";
  var minAge = parseInt(app.getAttribute("data-min-age") || "16", 10);
  var layNames = {};
  try { layNames = JSON.parse(document.getElementById("lay-names").textContent); } catch (e) { /* none */ }
  var maxQuestions = parseInt(app.getAttribute("data-max-questions") || "0", 10) || null;

  if (/[?&]new=1/.test(window.location.search)) {
    try { sessionStorage.removeItem(STORE); } catch (e) { /* private mode */ }
    if (window.history && history.replaceState) { history.replaceState(null, "", window.location.pathname); }
  }
  var state = load() || { about: null, initial: [], history: [], current: null, confirmed: null };

  function $(id) { return document.getElementById(id); }
  function save() { try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode */ } }
  function load() {
    try { var raw = sessionStorage.getItem(STORE); return raw ? JSON.parse(raw) : null; } catch (e) { return null; }
  }
  function announce(text) { $("q-status").textContent = text; }

  function show(step) {
    ["step-about", "step-confirm", "step-question", "step-busy", "step-failed"].forEach(function (id) {
      $(id).hidden = id !== step;
    });
  }

  function setError(id, message) {
    var el = $(id + "-error");
    var input = $(id);
    if (!el) { return; }
    el.textContent = message || "";
    el.hidden = !message;
    var wrap = $("wrap-" + id);
    if (wrap) { wrap.classList.toggle("has-error", !!message); }
    if (input) { input.setAttribute("aria-invalid", message ? "true" : "false"); }
  }

  /* ---- the case so far --------------------------------------------------------------- */

  function buildCase() {
    var a = state.about;
    var evidence = [];
    var seen = {};
    function add(item) {
      if (seen[item.id]) { return; }
      seen[item.id] = true;
      evidence.push(item);
    }
    state.initial.forEach(function (id) { add({ id: id, state: "present", initial: true, source: "questionnaire" }); });
    (state.confirmed && state.confirmed.evidence || []).forEach(function (e) {
      add({ id: e.id, state: e.state || "present", source: "text" });
    });
    state.history.forEach(function (h) {
      add({ id: h.question.id, state: h.state, source: "interview" });
    });
    var c = { age: a.age, sex: a.sex, pregnant: !!a.pregnant, evidence: evidence };
    var extra = state.confirmed || {};
    if (extra.medications && extra.medications.length) { c.medications = extra.medications; }
    if (extra.labs && extra.labs.length) { c.labs = extra.labs; }
    return c;
  }

  /* ---- step 1: about you ------------------------------------------------------------- */

  function restoreAbout() {
    var a = state.about;
    if (!a) { return; }
    $("age").value = a.age != null ? String(a.age) : "";
    document.querySelectorAll("input[name=sex]").forEach(function (r) { r.checked = r.value === a.sex; });
    $("pregnant").checked = !!a.pregnant;
    document.querySelectorAll("input[name=complaint]").forEach(function (c) {
      c.checked = state.initial.indexOf(c.value) >= 0;
    });
    $("description").value = a.description || "";
    syncPregnant();
  }

  function syncPregnant() {
    var female = document.querySelector("input[name=sex][value=female]").checked;
    $("wrap-pregnant").hidden = !female;
    if (!female) { $("pregnant").checked = false; }
  }

  function readAbout() {
    var ok = true;
    var ageText = $("age").value.trim();
    var age = Number(ageText);
    setError("age", ""); setError("sex", ""); setError("complaint", "");
    if (!ageText || !isFinite(age) || Math.floor(age) !== age) {
      setError("age", "Enter your age as a whole number of years, for example 52."); ok = false;
    } else if (age < minAge) {
      setError("age", "b12dx is for adults aged " + minAge + " and over. Please ask a doctor, nurse or pharmacist about cramps in children."); ok = false;
    } else if (age > 120) {
      setError("age", "Enter an age between " + minAge + " and 120."); ok = false;
    }
    var sex = document.querySelector("input[name=sex]:checked");
    if (!sex) { setError("sex", "Choose female or male."); ok = false; }
    var complaints = Array.prototype.map.call(document.querySelectorAll("input[name=complaint]:checked"), function (c) { return c.value; });
    if (!complaints.length) { setError("complaint", "Tick at least one."); ok = false; }
    if (!ok) {
      var first = document.querySelector(".has-error input, .has-error textarea");
      if (first) { first.focus(); }
      return null;
    }
    return {
      about: { age: age, sex: sex.value, pregnant: $("pregnant").checked, description: $("description").value.trim() },
      initial: complaints
    };
  }

  function onAbout(ev) {
    ev.preventDefault();
    var read = readAbout();
    if (!read) { return; }
    var changed = JSON.stringify(read) !== JSON.stringify({ about: state.about, initial: state.initial });
    state.about = read.about;
    state.initial = read.initial;
    if (changed) { state.history = []; state.current = null; state.confirmed = null; }
    save();
    if (parseOn && read.about.description) {
      parseDescription(read.about.description);
    } else {
      state.confirmed = null;
      save();
      nextQuestion();
    }
  }

  /* ---- step 2: confirm what the description said ------------------------------------- */

  function parseDescription(text) {
    show("step-busy");
    post("/v1/parse", { text: text }).then(function (res) {
      if (res.status === 404) {           // the free-text extra is not part of this server
        parseOn = false;
        $("wrap-description").hidden = true;
        state.confirmed = null; save();
        nextQuestion();
        return null;
      }
      if (!res.ok) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          show("step-about");
          setError("description", problemText(body) || "We could not read the description; you can leave it empty.");
          $("description").focus();
        });
      }
      return res.json().then(showConfirm);
    }).catch(function () { failed("The server could not be reached. Check your connection and try again.", function () { parseDescription(text); }); });
  }

  /* /v1/parse returns every mention (with its phrase and ConText attributes); the person
   * confirms one line per finding: present beats absent, "unknown" mentions are left out. */
  function parsedItems(body) {
    var items = [];
    var byId = {};
    var rank = { present: 2, absent: 1 };
    (body.evidence || []).forEach(function (e) {
      if (!rank[e.state]) { return; }
      var prev = byId[e.id];
      if (prev && rank[prev.state] >= rank[e.state]) { return; }
      var item = { kind: "evidence", id: e.id, state: e.state,
                   label: layNames[e.id] || e.id.replace(/_/g, " "), phrase: e.phrase || "" };
      if (prev) { items[items.indexOf(prev)] = item; } else { items.push(item); }
      byId[e.id] = item;
    });
    (body.medications || []).forEach(function (m) {
      if (m.state && m.state !== "present") { return; }
      var med = m.name ? { name: m.name } : { drug_class: m.drug_class };
      if (m.years != null) { med.years = m.years; }
      var what = m.name || layNames[m.drug_class] || m.drug_class || "a medicine";
      items.push({ kind: "medication", med: med, phrase: m.phrase || "",
                   label: "You take " + what + (m.years != null ? " (for " + m.years + " years)" : "") });
    });
    (body.labs || []).forEach(function (l) {
      if (!l.unit) { return; }
      items.push({ kind: "lab", lab: { test: l.test, value: l.value, unit: l.unit }, phrase: l.phrase || "",
                   label: "Test result: " + (layNames[l.test] || l.test) + " " + l.value + " " + l.unit });
    });
    return items;
  }

  function showConfirm(body) {
    var items = parsedItems(body || {});
    var list = $("confirm-list");
    list.textContent = "";
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox"; box.checked = true; box.value = String(i); box.name = "keep";
      label.appendChild(box);
      var text = item.label;
      if (item.kind === "evidence") { text = (item.state === "absent" ? "No: " : "Yes: ") + item.label; }
      label.appendChild(document.createTextNode(" " + text));
      if (item.phrase) {
        var q = document.createElement("span");
        q.className = "muted"; q.textContent = " (“" + item.phrase + "”)";
        label.appendChild(q);
      }
      li.appendChild(label);
      list.appendChild(li);
    });
    $("confirm-empty").hidden = items.length > 0;
    state.pending = items; save();
    show("step-confirm");
    $("confirm-title").focus();
  }

  function onConfirm(ev) {
    ev.preventDefault();
    var keep = {};
    document.querySelectorAll("#confirm-list input[name=keep]:checked").forEach(function (b) { keep[b.value] = true; });
    var confirmed = { evidence: [], medications: [], labs: [] };
    (state.pending || []).forEach(function (item, i) {
      if (!keep[String(i)]) { return; }
      if (item.kind === "evidence") { confirmed.evidence.push({ id: item.id, state: item.state }); }
      if (item.kind === "medication") { confirmed.medications.push(item.med); }
      if (item.kind === "lab") { confirmed.labs.push(item.lab); }
    });
    state.confirmed = confirmed; state.history = []; state.current = null; delete state.pending;
    save();
    nextQuestion();
  }

  /* ---- step 3: the interview --------------------------------------------------------- */

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin"
    });
  }

  function problemText(body) {
    if (!body) { return ""; }
    if (typeof body.detail === "string") { return body.detail; }
    if (body.detail && body.detail.length && body.detail[0].msg) { return body.detail[0].msg; }
    return body.title || "";
  }

  /* Accept the interview response in the shape the service documents, tolerating the
   * obvious variants (a nested or flat question, options as strings or objects). */
  function readQuestion(body) {
    var q = body.question || body.next_question || null;
    if (!q) { return null; }
    var opts = q.options || q.answers || q.choices || ["present", "absent", "unknown"];
    opts = opts.map(function (o) {
      if (typeof o === "string") { return { state: o, label: ANSWER_LABELS[o] || o }; }
      var st = o.state || o.value || o.id;
      return { state: st, label: o.label || o.text || ANSWER_LABELS[st] || st };
    });
    return {
      id: q.id || q.evidence || q.finding,
      text: q.text || q.question || q.lay_name || q.id,
      help: q.kind === "red_flag" ? "First, a few warning signs that would need urgent care." : "",
      why: q.rationale || q.why || body.rationale || "",
      kind: q.kind || q.type || "",
      options: opts
    };
  }

  /* The interview stops as soon as it is confident, so the total is an upper bound. */
  function progressOf() {
    var asked = state.history.length;
    return { asked: asked, max: maxQuestions, pct: maxQuestions ? 100 * asked / maxQuestions : null };
  }

  function nextQuestion() {
    show("step-busy");
    var c = buildCase();
    var answered = state.history.map(function (h) { return h.question.id; });
    post("/v1/interview", { case: c, answered: answered }).then(function (res) {
      if (res.status === 422) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          failed(problemText(body) || "The answers could not be used.", null);
        });
      }
      if (!res.ok) { throw new Error("HTTP " + res.status); }
      return res.json().then(function (body) {
        var level = body.triage && body.triage.level;
        var q = readQuestion(body);
        if (EMERGENCY[level] || body.should_stop || !q) { finish(); return; }
        state.current = { question: q, progress: progressOf() };
        save();
        renderQuestion(null);
      });
    }).catch(function () {
      failed("The server could not be reached. Your answers are kept; try again.", nextQuestion);
    });
  }

  function renderQuestion(selected) {
    var cur = state.current;
    var q = cur.question;
    var p = cur.progress || { asked: state.history.length };
    $("question-text").textContent = q.text;
    $("question-form").setAttribute("data-question-id", q.id);
    $("question-form").setAttribute("data-asked", String(state.history.length));
    $("question-help").textContent = q.help || "";
    $("question-help").hidden = !q.help;
    $("why-text").textContent = q.why || "";
    $("why").hidden = !q.why;
    $("why").open = false;
    // warning signs are never skipped: the shortcut to the result appears after them
    $("finish-now").hidden = q.kind === "red_flag";
    var n = state.history.length + 1;
    $("progress-label").textContent = "Question " + n + (p.max ? " of at most " + p.max : "");
    var pct = p.pct != null ? p.pct : Math.min(95, 100 * (1 - Math.pow(0.88, n - 1)));
    $("progress").value = Math.round(pct);
    var box = $("answers");
    box.textContent = "";
    q.options.forEach(function (o, i) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio"; input.name = "answer"; input.value = o.state; input.id = "answer-" + i;
      if (selected === o.state) { input.checked = true; }
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + o.label));
      box.appendChild(label);
    });
    $("answer-error").hidden = true;
    $("question-back").textContent = "Back";
    show("step-question");
    $("question-text").focus();
    announce("Question " + n + ": " + q.text);
  }

  function onAnswer(ev) {
    ev.preventDefault();
    var picked = document.querySelector("#answers input[name=answer]:checked");
    if (!picked) {
      $("answer-error").textContent = "Choose an answer, or “I don't know”.";
      $("answer-error").hidden = false;
      var first = document.querySelector("#answers input");
      if (first) { first.focus(); }
      return;
    }
    state.history.push({ question: state.current.question, progress: state.current.progress, state: picked.value });
    state.current = null;
    save();
    nextQuestion();
  }

  function onBack() {
    if (!state.history.length) {
      state.current = null; save();
      if (state.confirmed && state.about && state.about.description && parseOn) {
        showConfirmFromState();
      } else {
        restoreAbout(); show("step-about"); $("age").focus();
      }
      return;
    }
    var last = state.history.pop();
    state.current = { question: last.question, progress: last.progress };
    save();
    renderQuestion(last.state);
  }

  function showConfirmFromState() {
    restoreAbout(); show("step-about"); $("description").focus();
  }

  function failed(message, retry) {
    $("failed-text").textContent = message;
    $("retry").hidden = !retry;
    $("retry").onclick = retry;
    show("step-failed");
    $("retry").focus();
  }

  function finish() {
    $("result-case").value = JSON.stringify(buildCase());
    save();
    $("result-form").submit();
  }

  /* ---- wiring ------------------------------------------------------------------------- */

  $("about-form").addEventListener("submit", onAbout);
  $("confirm-form").addEventListener("submit", onConfirm);
  $("confirm-back").addEventListener("click", function () { restoreAbout(); show("step-about"); $("description").focus(); });
  $("question-form").addEventListener("submit", onAnswer);
  $("question-back").addEventListener("click", onBack);
  $("finish-now").addEventListener("click", finish);
  document.querySelectorAll("input[name=sex]").forEach(function (r) { r.addEventListener("change", syncPregnant); });

  // a page restored from the back-forward cache would still say "Working out…": start afresh
  window.addEventListener("pageshow", function (ev) { if (ev.persisted) { window.location.reload(); } });

  if (!parseOn) { $("wrap-description").hidden = true; }
  restoreAbout();
  if (state.about && state.current) {
    renderQuestion(null);            // reloaded in the middle of the questions
  } else if (state.about && state.history.length) {
    onBack();                        // came back from the result: offer the last answer again
  } else {
    show("step-about");
  }
})();
