/* The session page: status actions, chairside entries, reschedule and cancel.
 * Every change goes to /api/v1/ through Chairside.api; a refusal is shown next to
 * the field it names and nothing typed is lost. After a change the page's regions
 * ([data-region]) are re-read from the server, so the header, ladder, vitals due,
 * chart and timeline are always the server's rendering; forms ([data-keeps-input])
 * are only replaced when the status changed. */
(function () {
  "use strict";

  const page = document.getElementById("session-page");
  if (!page) return;
  const C = window.Chairside;
  const zone = page.dataset.zone;
  const offsets = JSON.parse(document.getElementById("zone-offsets").textContent);

  const REASONS = {
    chair_busy: "The chair is booked at that time.",
    patient_busy: "The patient has another session at that time.",
    outside_hours: "The session would run outside the center's opening hours.",
    center_closed: "The center is closed that day.",
    nurse_capacity: "Not enough nurses on duty for one more patient then.",
  };

  const DONE = {
    check_in: "Checked in.",
    start: "Infusion started: log the first rate.",
    confirm: "Confirmed.",
    no_show: "Marked as a no-show; the chair is free.",
  };

  function notice() { return document.getElementById("session-notice"); }

  /* The UTC offset of a local wall-clock time "YYYY-MM-DDTHH:MM" in the center's zone,
   * from the transitions the server lists; the API refuses a time that does not exist. */
  function offsetFor(local) {
    let chosen = offsets[0].offset;
    for (const change of offsets) {
      if (change.from <= local) chosen = change.offset; else break;
    }
    return chosen;
  }

  function instant(date, time) {
    const local = date + "T" + time.slice(0, 5);
    return local + ":00" + offsetFor(local);
  }

  /* "2027-01-04T09:45:00-05:00" -> "09:45 America/New_York" (the API answers in the center's zone). */
  function clock(iso) { return iso ? iso.slice(11, 16) + " " + zone : ""; }

  /* Re-read the page and swap its regions; success messages are shown after this, so a
   * message on screen means the page already shows the change. */
  async function refresh(options) {
    const replaceForms = options && options.forms;
    page.setAttribute("aria-busy", "true");
    let fresh = null;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (response.ok) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        fresh = doc.getElementById("session-page");
      }
    } catch (error) { fresh = null; }
    if (!fresh) { window.location.reload(); return; }
    const statusChanged = fresh.dataset.status !== page.dataset.status;
    for (const region of fresh.querySelectorAll("[data-region]")) {
      const current = document.getElementById(region.id);
      if (!current) continue;
      if (region.hasAttribute("data-keeps-input") && !replaceForms && !statusChanged) continue;
      current.replaceWith(document.importNode(region, true));
    }
    for (const name of ["status", "chair", "entryDate"]) page.dataset[name] = fresh.dataset[name];
    page.removeAttribute("aria-busy");
  }

  function busy(button, on) { if (button) button.disabled = on; }

  // -- status actions ----------------------------------------------------------------

  /* The complete action answers with the grams infused and any warning (more than 5% off the plan). */
  function completedText(data) {
    const warnings = data.infusion_warnings || [];
    const parts = ["Session completed."];
    if (warnings.length) return parts.concat(warnings).join(" ");
    if (data.grams_infused !== null && data.grams_infused !== undefined) parts.push(data.grams_infused + " g infused by the rate log.");
    return parts.join(" ");
  }

  async function statusAction(button) {
    busy(button, true);
    const label = button.textContent.trim();
    const result = await C.api("POST", page.dataset.apiSession + button.dataset.path + "/");
    busy(button, false);
    if (!result.ok) {
      C.announce(notice(), label + " was refused: " + C.messageOf(result.data), "error");
      notice().focus();
      return;
    }
    await refresh({ forms: true });
    if (button.dataset.action === "complete") {
      const warned = (result.data.infusion_warnings || []).length > 0;
      C.announce(notice(), completedText(result.data), warned ? "warn" : "ok");
    } else {
      C.announce(notice(), DONE[button.dataset.action] || label + ": done.", "ok");
    }
    notice().focus();
  }

  // -- chairside entries -----------------------------------------------------------------

  const BODIES = {
    reaction: function (form) {
      const values = C.formValues(form);
      delete values.symptoms;
      values.symptoms = Array.from(form.querySelectorAll('input[name="symptoms"]:checked'), (box) => box.value);
      return values;
    },
    premedication: function (form) {
      const values = C.formValues(form);
      if (values.at) values.at = instant(page.dataset.entryDate, values.at);
      return values;
    },
  };

  function savedText(kind, data) {
    const at = clock(data.at);
    if (kind === "rate") return "Logged " + Number(data.rate_ml_per_hour).toFixed(1) + " mL/h at " + at + ".";
    if (kind === "reaction") {
      const c = data.consequences || {};
      const parts = ["Reaction recorded at " + at + "."];
      if (c.session_completed) parts.push("The infusion was stopped and the session completed.");
      else if (c.paused) parts.push("The infusion is paused: the next rate restarts the ladder.");
      if (c.tolerated_cap_mg_kg_min !== null && c.tolerated_cap_mg_kg_min !== undefined) parts.push("The patient's tolerated cap is now " + c.tolerated_cap_mg_kg_min + " mg/kg/min.");
      if ((c.flagged_sessions || []).length) parts.push(c.flagged_sessions.length + " later session(s) need rebooking.");
      return parts.join(" ");
    }
    const names = { vitals: "Vitals", premedication: "Premedication", lot: "Lot" };
    return names[kind] + " logged at " + at + ".";
  }

  async function saveEntry(form) {
    const kind = form.dataset.entry;
    const submit = form.querySelector('button[type="submit"]');
    const status = form.querySelector("[data-form-status]");
    C.announce(status, "");
    busy(submit, true);
    const body = (BODIES[kind] || C.formValues)(form);
    const result = await C.api("POST", form.dataset.url, body);
    busy(submit, false);
    if (!result.ok) {
      C.showErrors(form, result.data);
      const invalid = form.querySelector('[aria-invalid="true"]');
      if (invalid) invalid.focus();
      return;
    }
    C.clearErrors(form);
    form.reset();
    C.announce(notice(), "");  // the last status message is out of date once an entry is saved
    const completed = kind === "reaction" && result.data.consequences && result.data.consequences.session_completed;
    await refresh({ forms: completed });
    const current = document.getElementById(form.id);
    if (current) {
      C.announce(current.querySelector("[data-form-status]"), savedText(kind, result.data), "ok");
      current.querySelector("input, select, textarea").focus();
    } else {
      C.announce(notice(), savedText(kind, result.data), "ok");
      notice().focus();
    }
  }

  // -- reschedule and cancel -------------------------------------------------------------

  function hhmm(minutes) {
    const h = Math.floor(minutes / 60), m = minutes % 60;
    return String(h).padStart(2, "0") + ":" + String(m).padStart(2, "0");
  }

  function alternativeButton(form, date, start, chair) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = "Use " + start + " in " + chair.name;
    button.addEventListener("click", () => {
      form.elements.date.value = date;
      form.elements.time.value = start;
      form.elements.chair.value = String(chair.chair) === page.dataset.chair ? "" : String(chair.chair);
      form.elements.time.focus();
    });
    return button;
  }

  async function showAlternatives(form, date) {
    const box = document.getElementById("reschedule-alternatives");
    const minutes = Number(page.dataset.chairMinutes);
    const query = "?center=" + page.dataset.center + "&date=" + encodeURIComponent(date) + "&minutes=" + minutes +
      "&session=" + page.dataset.session;  // its own time is free, the patient's other sessions are not
    const result = await C.api("GET", page.dataset.apiAvailability + query);
    box.replaceChildren();
    box.hidden = false;
    const heading = document.createElement("p");
    box.append(heading);
    if (!result.ok) { heading.textContent = "Free times could not be read: " + C.messageOf(result.data); return; }
    const windows = result.data.chairs.flatMap((chair) => chair.windows.map((w) => ({ chair: chair, window: w })));
    if (!windows.length) { heading.textContent = "No chair has " + minutes + " free minutes on " + date + "."; return; }
    heading.textContent = "Free on " + date + " for " + minutes + " minutes (" + zone + "):";
    const list = document.createElement("ul");
    for (const { chair, window: w } of windows) {
      const start = w.start.slice(11, 16);
      const end = w.end.slice(11, 16).split(":").map(Number);
      const last = hhmm(end[0] * 60 + end[1] - minutes);
      const item = document.createElement("li");
      item.append(chair.name + ": any start from " + start + " to " + last + " ");
      item.append(alternativeButton(form, date, start, chair));
      list.append(item);
    }
    box.append(list);
  }

  async function reschedule(form) {
    const submit = form.querySelector('button[type="submit"]');
    const values = C.formValues(form);
    document.getElementById("reschedule-alternatives").hidden = true;
    if (!values.date || !values.time) {
      C.showErrors(form, { start: ["Give the new date and time."] });
      return;
    }
    const body = { start: instant(values.date, values.time) };
    if (values.chair) body.chair = Number(values.chair);
    busy(submit, true);
    const result = await C.api("PATCH", page.dataset.apiSession, body);
    busy(submit, false);
    if (result.status === 409) {
      const reasons = (result.data.reasons || []).map((code) => REASONS[code] || code);
      C.showErrors(form, { detail: [result.data.detail].concat(reasons) });
      await showAlternatives(form, values.date);
      return;
    }
    if (!result.ok) { C.showErrors(form, result.data); return; }
    await refresh({ forms: true });
    C.announce(notice(), "Rescheduled to " + values.date + " " + clock(result.data.start) + ". The patient is told.", "ok");
    notice().focus();
  }

  function cancelPanel(open) {
    const panel = document.getElementById("cancel-confirm");
    const opener = document.querySelector("[data-cancel-open]");
    panel.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    (open ? panel.querySelector("[data-cancel-confirm]") : opener).focus();
  }

  async function cancelSession(button) {
    busy(button, true);
    const result = await C.api("POST", page.dataset.apiSession + "cancel/");
    busy(button, false);
    if (!result.ok) {
      C.announce(notice(), "Cancelling was refused: " + C.messageOf(result.data), "error");
      notice().focus();
      return;
    }
    await refresh({ forms: true });
    C.announce(notice(), "The session is cancelled; its chair is free.", "ok");
    notice().focus();
  }

  /* The prompt was rendered with its due time: turn it into "Vitals due now" when that time comes. */
  function vitalsClock() {
    const prompt = document.getElementById("vitals-due");
    if (!prompt || !prompt.dataset.dueAt || prompt.dataset.dueNow === "true") return;
    if (Date.now() < Date.parse(prompt.dataset.dueAt)) return;
    prompt.querySelector("strong").textContent = "Vitals due now";
    prompt.querySelector("[data-due-when]").textContent = "(due from " + prompt.dataset.dueClock + ", " + zone + ")";
    prompt.dataset.dueNow = "true";
    prompt.classList.add("notice-warn");
  }
  window.setInterval(vitalsClock, 30000);

  // Delegated: regions are replaced after each change.
  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target || !page.contains(target)) return;
    if (target.dataset.action) statusAction(target);
    else if (target.hasAttribute("data-cancel-open")) cancelPanel(true);
    else if (target.hasAttribute("data-cancel-keep")) cancelPanel(false);
    else if (target.hasAttribute("data-cancel-confirm")) cancelSession(target);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!page.contains(form)) return;
    if (form.dataset.entry) { event.preventDefault(); saveEntry(form); }
    else if (form.id === "reschedule-form") { event.preventDefault(); reschedule(form); }
  });
})();
