/* Chairside pages change data only through the REST API at /api/v1/.
 * Chairside.api(method, url, body) sends JSON with the session's CSRF token and
 * resolves to {ok, status, data}; it never throws, so a page can always say
 * what happened. Chairside.showErrors(form, data) puts the API's refusal next
 * to the field it names (or at the top of the form) and keeps what was typed. */
(function () {
  "use strict";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function api(method, url, body) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      return { ok: false, status: 0, data: { detail: "The server could not be reached. Nothing was saved; please try again." } };
    }
    let data = null;
    if ((response.headers.get("Content-Type") || "").includes("json")) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    if (!response.ok && (data === null || typeof data !== "object")) {
      data = { detail: "The server answered " + response.status + ". Nothing was saved." };
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function messageOf(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (Array.isArray(value)) return value.map(messageOf).filter(Boolean).join(" ");
    if (typeof value === "object") {
      if (value.detail) return messageOf(value.detail);
      if (value.message) return messageOf(value.message);
      return Object.entries(value).map(([key, inner]) => key + ": " + messageOf(inner)).join(" ");
    }
    return String(value);
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error[data-generated]").forEach((node) => node.remove());
    form.querySelectorAll("[data-error-for]").forEach((node) => { node.textContent = ""; node.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    const top = form.querySelector("[data-form-error]");
    if (top) { top.textContent = ""; top.hidden = true; }
  }

  /* data: DRF's {field: [messages]} or {detail: "..."}; unplaced keys go to the top. */
  function showErrors(form, data) {
    clearErrors(form);
    const loose = [];
    const entries = data && typeof data === "object" && !Array.isArray(data) ? Object.entries(data) : [["detail", data]];
    for (const [key, value] of entries) {
      const text = messageOf(value);
      if (!text) continue;
      const input = form.querySelector('[name="' + CSS.escape(key) + '"]');
      let slot = form.querySelector('[data-error-for="' + CSS.escape(key) + '"]');
      if (!slot && input) {
        slot = document.createElement("p");
        slot.className = "field-error";
        slot.dataset.generated = "1";
        slot.id = (input.id || key) + "-error";
        input.insertAdjacentElement("afterend", slot);
      }
      if (!slot || ["detail", "non_field_errors"].includes(key)) { loose.push(text); continue; }
      slot.textContent = text;
      slot.hidden = false;
      slot.setAttribute("role", "alert");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", slot.id || "");
      }
    }
    if (loose.length) {
      let top = form.querySelector("[data-form-error]");
      if (!top) {
        top = document.createElement("p");
        top.className = "form-error";
        top.dataset.formError = "1";
        top.setAttribute("role", "alert");
        form.prepend(top);
      }
      top.textContent = loose.join(" ");
      top.hidden = false;
    }
  }

  /* The form's named fields as an object; empty fields are left out, numbers stay strings
   * (the API parses and refuses them with a message). */
  function formValues(form) {
    const values = {};
    for (const element of form.elements) {
      if (!element.name || element.disabled) continue;
      if (element.type === "checkbox") { values[element.name] = element.checked; continue; }
      if ((element.type === "radio") && !element.checked) continue;
      if (element.value === "") continue;
      values[element.name] = element.value;
    }
    return values;
  }

  /* A short status line for a page region (role=status, polite). */
  function announce(node, text, kind) {
    if (!node) return;
    node.textContent = text;
    node.className = "notice" + (kind ? " notice-" + kind : "");
    node.hidden = !text;
  }

  window.Chairside = { api: api, showErrors: showErrors, clearErrors: clearErrors, formValues: formValues, announce: announce, messageOf: messageOf };
})();
