/* The plan form and the plan page.
 *
 * Form: products follow the chosen indication; every change to a dose input
 * asks POST /api/v1/dose-calculations/ for a preview (debounced), and "Save
 * plan" posts to /api/v1/plans/, then opens the new plan. Plan page: "Book
 * series" posts to /api/v1/plans/<id>/book/; a 409 lists each course that
 * failed with its alternatives as radio buttons, and "Book with these times"
 * sends the picks as `choices`. Refusals stay next to their fields and
 * nothing typed is lost. */
(function () {
  "use strict";

  const PREVIEW_DELAY_MS = 300;

  function pageData(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  /* "Mon 1 Mar 2027, 09:00 EST" in the given IANA zone. */
  function localTime(iso, zone) {
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
    });
    const parts = {};
    for (const part of format.formatToParts(new Date(iso))) parts[part.type] = part.value;
    return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
  }

  /* "Mon 29 Mar 2027" for a calendar date (no zone: it is the center's own date). */
  function calendarDate(isoDate) {
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric",
    });
    const parts = {};
    for (const part of format.formatToParts(new Date(isoDate + "T12:00:00Z"))) parts[part.type] = part.value;
    return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}`;
  }

  function hoursAndMinutes(minutes) {
    const whole = Math.round(minutes);
    const hours = Math.floor(whole / 60);
    if (!hours) return `${whole} min`;
    return whole % 60 ? `${hours} h ${whole % 60} min` : `${hours} h`;
  }

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -- the plan form ---------------------------------------------------------------

  function planForm(form, data) {
    const status = form.querySelector("[data-status]");
    const product = form.elements.product;
    const indication = form.elements.indication;
    const productHint = document.getElementById("plan-product-hint");
    const productHintText = productHint.textContent;
    const intervalDays = form.querySelector("[data-interval-days]");
    const rows = form.querySelector("[data-premed-rows]");
    const rowTemplate = document.getElementById("premed-row");
    const preview = document.getElementById("dose-preview");
    const previewStatus = preview.querySelector("[data-preview-status]");
    const previewBody = preview.querySelector("[data-preview-body]");
    const previewFields = ["product", "indication", "dose_g_per_kg", "days_per_course", "dosing_weight_method", "center"];
    let previewTimer = null;
    let previewRequest = 0;
    let premedCount = 0;

    /* Only products with a confirmed protocol for the indication can be chosen. */
    function filterProducts() {
      const chosen = product.selectedOptions[0];
      for (const option of product.options) {
        const fits = option.dataset.indications.split(" ").includes(indication.value);
        option.hidden = !fits;
        option.disabled = !fits;
      }
      productHint.textContent = productHintText;
      if (chosen && chosen.disabled) {
        const first = Array.from(product.options).find((option) => !option.disabled);
        const indicationName = indication.selectedOptions[0].textContent;
        if (first) {
          product.value = first.value;
          productHint.textContent = `${chosen.textContent} has no protocol for ${indicationName}: ${first.textContent} is chosen instead.`;
        } else {
          product.value = "";
          productHint.textContent = `No product has a confirmed protocol for ${indicationName}.`;
        }
      }
    }

    function showProductNote() {
      const chosen = product.selectedOptions[0];
      form.querySelector("[data-product-note]").textContent = chosen ? chosen.dataset.note : "";
    }

    function toggleIntervalDays() {
      const needed = form.elements.interval.value === "every_n_days";
      intervalDays.hidden = !needed;
      form.elements.interval_days.disabled = !needed;
    }

    function showCenterZone() {
      const center = data.centers[form.elements.center.value];
      form.querySelector("[data-center-zone]").textContent = center ? center.zone : "";
    }

    function addPremedication() {
      premedCount += 1;
      const row = rowTemplate.content.firstElementChild.cloneNode(true);
      for (const input of row.querySelectorAll("[data-field]")) {
        input.id = `premed-${premedCount}-${input.dataset.field}`;
        row.querySelector(`label[data-for="${input.dataset.field}"]`).htmlFor = input.id;
      }
      row.querySelector("[data-remove-premed]").setAttribute("aria-label", `Remove premedication ${premedCount}`);
      rows.append(row);
      row.querySelector("input").focus();
    }

    function premedicationOrders() {
      const orders = [];
      for (const row of rows.querySelectorAll("[data-premed-row]")) {
        const order = {};
        for (const input of row.querySelectorAll("[data-field]")) {
          if (input.value !== "") order[input.dataset.field] = input.value;
        }
        if (order.drug || order.dose) orders.push(order);
      }
      return orders;
    }

    /* DRF keys premedication errors by the order's position; say which order each is about. */
    function readablePremedicationErrors(data) {
      const errors = data && data.premedication;
      if (!errors || typeof errors !== "object") return data;
      if (Array.isArray(errors) && errors.every((error) => typeof error === "string")) return data;
      const lines = Object.entries(errors).map(([index, problem]) => {
        const text = Chairside.messageOf(problem);
        return /^\d+$/.test(index) ? `Premedication ${Number(index) + 1}: ${text}` : text;
      });
      return Object.assign({}, data, { premedication: lines.filter(Boolean).join(" ") });
    }

    // The preview ------------------------------------------------------------------

    function clearPreviewErrors() {
      for (const slot of form.querySelectorAll("[data-preview-error-for]")) {
        slot.textContent = "";
        slot.hidden = true;
      }
    }

    /* Refusals go next to the field they name; the rest into the preview's status line. */
    function showPreviewErrors(errors) {
      const loose = [];
      for (const [key, value] of Object.entries(errors || {})) {
        const field = key === "days" ? "days_per_course" : key;
        const slot = form.querySelector(`[data-preview-error-for="${CSS.escape(field)}"]`);
        const text = Chairside.messageOf(value);
        if (slot) {
          slot.textContent = `Preview: ${text}`;
          slot.hidden = false;
        } else {
          loose.push(text);
        }
      }
      const why = loose.length ? loose.join(" ") : "see the message by the field.";
      Chairside.announce(previewStatus, `No preview: ${why}`, "error");
      previewBody.hidden = true;
    }

    function previewBodyOf(values) {
      const body = {
        patient: data.patient,
        product: values.product,
        indication: values.indication,
        dose_g_per_kg: values.dose_g_per_kg,
        days: values.days_per_course,
        dosing_weight_method: values.dosing_weight_method,
        center: values.center,
      };
      for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
      return body;
    }

    function out(name) {
      return preview.querySelector(`[data-out="${name}"]`);
    }

    function renderPreview(dose, values) {
      out("dosing_weight").textContent = `${dose.dosing_weight_kg} kg`;
      const exact = dose.grams_per_day_exact !== dose.grams_per_day ? ` (${dose.grams_per_day_exact} g before rounding to vials)` : "";
      out("grams").textContent = `${dose.grams_per_day} g${exact}`;
      out("volume").textContent = `${dose.volume_ml_per_day} mL`;
      out("vials").textContent = dose.vials.map((vial) => `${vial.count} × ${vial.grams} g`).join(", ");
      out("max_rate").textContent = `${dose.max_rate_ml_per_hour} mL/h (${dose.max_rate_mg_kg_min} mg/kg/min)`;
      out("infusion_minutes").textContent = `${dose.infusion_minutes} min (${hoursAndMinutes(dose.infusion_minutes)})`;
      out("chair_minutes").textContent = `${dose.chair_minutes} min (${hoursAndMinutes(dose.chair_minutes)})`;
      const steps = out("steps");
      steps.replaceChildren(...dose.steps.map((step, index) => {
        const row = element("tr");
        for (const value of [index + 1, step.start_minute, step.minutes, step.rate_mg_kg_min, step.rate_ml_per_hour]) {
          row.append(element("td", {}, String(value)));
        }
        return row;
      }));
      const warnings = [...dose.warnings];
      const long = data.long_observation[values.product];
      const center = data.centers[values.center];
      if (long && center) {
        warnings.push(`Long observation: ${center.after_first} min after the infusion (${long}), included in the chair time.`);
      }
      out("warnings").replaceChildren(...warnings.map((text) => element("li", { class: "notice notice-warn" }, text)));
      Chairside.announce(previewStatus, `${dose.grams_per_day} g a day, ${dose.chair_minutes} chair minutes.`, "ok");
      previewBody.hidden = false;
    }

    async function refreshPreview() {
      const values = Chairside.formValues(form);
      const request = ++previewRequest;
      Chairside.announce(previewStatus, "Working out the dose…");
      const result = await Chairside.api("POST", form.dataset.previewUrl, previewBodyOf(values));
      if (request !== previewRequest) return; // a newer preview is on its way
      clearPreviewErrors();
      if (!result.ok) {
        showPreviewErrors(result.data);
        return;
      }
      renderPreview(result.data, values);
    }

    function previewSoon(event) {
      if (!previewFields.includes(event.target.name)) return;
      clearTimeout(previewTimer);
      previewTimer = setTimeout(refreshPreview, PREVIEW_DELAY_MS);
    }

    // Saving -----------------------------------------------------------------------

    async function save(event) {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      Chairside.clearErrors(form);
      Chairside.announce(status, "Saving…");
      button.disabled = true;
      const body = Chairside.formValues(form);
      body.premedication = premedicationOrders();
      const result = await Chairside.api("POST", form.dataset.url, body);
      button.disabled = false;
      if (!result.ok) {
        Chairside.showErrors(form, readablePremedicationErrors(result.data));
        Chairside.announce(status, "Not saved: see the messages above.", "error");
        return;
      }
      Chairside.announce(status, `Plan ${result.data.id} saved. Opening it…`, "ok");
      window.location.assign(data.plan_url.replace("/0/", `/${result.data.id}/`) + "?saved=1");
    }

    indication.addEventListener("change", () => { filterProducts(); showProductNote(); });
    product.addEventListener("change", showProductNote);
    form.elements.interval.addEventListener("change", toggleIntervalDays);
    form.elements.center.addEventListener("change", showCenterZone);
    form.querySelector("[data-add-premed]").addEventListener("click", addPremedication);
    rows.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove-premed]");
      if (remove) remove.closest("[data-premed-row]").remove();
    });
    form.addEventListener("input", previewSoon);
    form.addEventListener("change", previewSoon);
    form.addEventListener("submit", save);
    filterProducts();
    showProductNote();
    toggleIntervalDays();
    showCenterZone();
    refreshPreview();
  }

  // -- the plan page: booking ------------------------------------------------------------

  function planPage(data) {
    const bookButton = document.getElementById("book-series");
    const status = document.getElementById("book-status");
    const conflictsForm = document.getElementById("book-conflicts");
    const conflictList = conflictsForm.querySelector("[data-conflict-list]");
    const booked = document.getElementById("booked-result");
    let kept = []; // choices already sent whose course days the server did not refuse
    let offered = {}; // radio name -> {course, day, alternatives}

    function chairName(id) {
      return data.chairs[String(id)] || `chair ${id}`;
    }

    function sessionLink(session) {
      const item = element("li");
      const link = element(
        "a",
        { href: data.session_url.replace("/0/", `/${session.id}/`) },
        `Course ${session.course}, day ${session.day}: ${localTime(session.start, data.zone)}`,
      );
      item.append(link, " ", element("span", { class: "zone" }, data.zone), ` · ${chairName(session.chair)} · ${session.status.replace("_", " ")}`);
      return item;
    }

    async function refreshSessionsCard() {
      // The page renders the plan's sessions; read it again rather than rebuild the table here.
      try {
        const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (!response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("plan-sessions");
        const card = document.getElementById("plan-sessions");
        if (fresh && card) card.replaceWith(fresh);
      } catch (error) {
        // The list below still shows what was booked.
      }
    }

    function showBooked(sessions) {
      conflictsForm.hidden = true;
      if (bookButton) bookButton.hidden = true;
      document.getElementById("booked-sessions").replaceChildren(...sessions.map(sessionLink));
      booked.hidden = false;
      refreshSessionsCard();
      const badge = document.querySelector("[data-testid=plan-status]");
      if (badge) badge.textContent = "Active";
      const remaining = document.getElementById("remaining-courses");
      if (remaining) remaining.textContent = "Every course is booked now; the list below shows the new sessions.";
      Chairside.announce(status, `Booked ${sessions.length} session${sessions.length === 1 ? "" : "s"}.`, "ok");
    }

    function conflictFieldset(conflict, index) {
      const name = `conflict-${conflict.course}-${conflict.day}`;
      offered[name] = conflict;
      const fieldset = element("fieldset", { class: "conflict", "data-testid": "conflict" });
      fieldset.append(element("legend", {}, `Course ${conflict.course}, day ${conflict.day}: ${calendarDate(conflict.date)}`));
      const reasons = element("ul", { class: "reasons" });
      for (const code of conflict.reasons) reasons.append(element("li", {}, data.reasons[code] || code.replace(/_/g, " ")));
      fieldset.append(reasons);
      if (!conflict.alternatives.length) {
        fieldset.append(element("p", {}, "No free time within two weeks of this date: change the plan's start, window or center."));
        return fieldset;
      }
      fieldset.append(element("p", { class: "hint" }, "Book it at:"));
      conflict.alternatives.forEach((alternative, position) => {
        const id = `${name}-${position}`;
        const radio = element("input", { type: "radio", name: name, id: id, value: String(position) });
        radio.checked = position === 0;
        const label = element("label", { for: id, class: "choice" });
        label.append(radio, ` ${localTime(alternative.start, data.zone)} (${data.zone}), ${chairName(alternative.chair)}`);
        fieldset.append(label);
      });
      if (index === 0) requestAnimationFrame(() => fieldset.querySelector("input").focus());
      return fieldset;
    }

    function showConflicts(body, sent) {
      const refused = new Set(body.conflicts.map((c) => `${c.course}-${c.day}`));
      kept = sent.filter((choice) => !refused.has(`${choice.course}-${choice.day}`));
      offered = {};
      conflictList.replaceChildren(
        element("p", {}, "Pick a time for each course below, then book again."),
        ...body.conflicts.map(conflictFieldset),
      );
      Chairside.clearErrors(conflictsForm);
      conflictsForm.hidden = false;
      if (bookButton) bookButton.hidden = true;  // "Book with these times" takes over
      Chairside.announce(status, body.detail + " Nothing was booked.", "warn");
    }

    function picks() {
      const chosen = [];
      for (const [name, conflict] of Object.entries(offered)) {
        const radio = conflictsForm.querySelector(`input[name="${name}"]:checked`);
        if (!radio) continue;
        const alternative = conflict.alternatives[Number(radio.value)];
        chosen.push({ course: conflict.course, day: conflict.day, start: alternative.start, chair: alternative.chair });
      }
      return chosen;
    }

    async function book(choices) {
      const buttons = [bookButton, document.getElementById("book-with-choices")].filter(Boolean);
      buttons.forEach((button) => { button.disabled = true; });
      Chairside.announce(status, "Booking…");
      const result = await Chairside.api("POST", data.book_url, choices.length ? { choices: choices } : undefined);
      buttons.forEach((button) => { button.disabled = false; });
      if (result.status === 201) {
        showBooked(result.data);
      } else if (result.status === 409 && result.data.conflicts && result.data.conflicts.length) {
        showConflicts(result.data, choices);
      } else if (!conflictsForm.hidden) {
        Chairside.showErrors(conflictsForm, result.data);
        Chairside.announce(status, "Not booked: " + Chairside.messageOf(result.data), "error");
      } else {
        Chairside.announce(status, "Not booked: " + Chairside.messageOf(result.data), "error");
      }
    }

    if (bookButton) bookButton.addEventListener("click", () => book([]));
    conflictsForm.addEventListener("submit", (event) => {
      event.preventDefault();
      book([...kept, ...picks()]);
    });
  }

  const form = document.getElementById("plan-form");
  if (form) planForm(form, pageData("plan-form-data"));
  const plan = pageData("plan-page-data");
  if (plan && document.getElementById("book-conflicts")) planPage(plan);
})();
