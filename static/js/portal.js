/* The patient portal: confirm or cancel a session, reminder preferences, and the
 * private calendar link. Every change goes to the REST API (Chairside.api); a
 * refusal is shown where it happened and nothing typed is lost. */
(function () {
  "use strict";

  const statusLabels = JSON.parse(document.getElementById("session-statuses").textContent);

  /* -- sessions ------------------------------------------------------------- */

  function setBusy(row, busy) {
    row.querySelectorAll("button").forEach((button) => { button.disabled = busy; });
  }

  function showStatus(row, status) {
    const badge = row.querySelector(".badge");
    badge.className = "badge status-" + status;
    badge.textContent = statusLabels[status] || status;
    const confirm = row.querySelector('[data-action="confirm"]');
    if (confirm && status !== "scheduled") {
      const next = row.querySelector('[data-action="ask-cancel"]');
      confirm.remove();
      if (next) next.focus();
    }
    if (status === "cancelled") {
      row.classList.add("status-cancelled");
      row.querySelector("[data-actions]").remove();
      row.querySelector("[data-cancel-check]").remove();
    }
  }

  function askCancel(row, asking) {
    row.querySelector("[data-actions]").hidden = asking;
    const check = row.querySelector("[data-cancel-check]");
    check.hidden = !asking;
    const focus = asking ? check.querySelector('[data-action="keep"]') : row.querySelector('[data-action="ask-cancel"]');
    if (focus) focus.focus();
  }

  async function act(row, action) {
    const message = row.querySelector("[data-session-message]");
    setBusy(row, true);
    const result = await Chairside.api("POST", row.dataset[action + "Url"]);
    setBusy(row, false);
    if (!result.ok) {
      if (action === "cancel") askCancel(row, false);
      Chairside.announce(message, Chairside.messageOf(result.data), "error");
      return;
    }
    showStatus(row, result.data.status);
    const done = action === "confirm" ? "Confirmed. Thank you." : "Cancelled. The center has been told.";
    Chairside.announce(message, done, "ok");
  }

  document.querySelectorAll("tr[data-session]").forEach((row) => {
    row.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || button.disabled) return;
      const action = button.dataset.action;
      if (action === "ask-cancel") askCancel(row, true);
      else if (action === "keep") askCancel(row, false);
      else act(row, action);
    });
  });

  /* -- reminder preferences --------------------------------------------------- */

  const preferences = document.getElementById("preferences-form");

  /* Every field is sent, cleared ones too: an empty quiet-hours field turns the
   * quiet hours off (null), an empty phone or email removes it (""). */
  function preferenceValues(form) {
    const value = (name) => form.elements[name].value.trim();
    return {
      reminder_channel: value("reminder_channel"),
      quiet_hours_start: value("quiet_hours_start") || null,
      quiet_hours_end: value("quiet_hours_end") || null,
      phone: value("phone"),
      email: value("email"),
    };
  }

  preferences.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("preferences-status");
    const submit = preferences.querySelector('button[type="submit"]');
    Chairside.clearErrors(preferences);
    Chairside.announce(status, "", "");
    submit.disabled = true;
    const result = await Chairside.api("PATCH", preferences.dataset.url, preferenceValues(preferences));
    submit.disabled = false;
    if (!result.ok) {
      Chairside.showErrors(preferences, result.data);
      Chairside.announce(status, "Not saved: please check the highlighted fields.", "error");
      return;
    }
    Chairside.announce(status, "Preferences saved.", "ok");
  });

  /* -- calendar link ---------------------------------------------------------- */

  const calendar = document.getElementById("calendar");
  const urlInput = document.getElementById("calendar-url");
  const calendarStatus = document.getElementById("calendar-status");

  function showFeed(url) {
    urlInput.value = url || "";
    calendar.querySelector("[data-feed-on]").hidden = !url;
    calendar.querySelector("[data-feed-off]").hidden = Boolean(url);
  }

  async function changeFeed(method, button, done) {
    calendar.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const result = await Chairside.api(method, calendar.dataset.url);
    calendar.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    if (!result.ok) {
      Chairside.announce(calendarStatus, Chairside.messageOf(result.data), "error");
      button.focus();
      return;
    }
    showFeed(method === "POST" ? result.data.url : "");
    Chairside.announce(calendarStatus, done, "ok");
    (method === "POST" ? urlInput : document.getElementById("calendar-create")).focus();
  }

  document.getElementById("calendar-create").addEventListener("click", (event) => {
    changeFeed("POST", event.currentTarget, "Your calendar link is ready: copy it into your calendar app.");
  });
  document.getElementById("calendar-replace").addEventListener("click", (event) => {
    changeFeed("POST", event.currentTarget, "New link made. The old link no longer works.");
  });
  document.getElementById("calendar-off").addEventListener("click", (event) => {
    changeFeed("DELETE", event.currentTarget, "Calendar link turned off. The old link no longer works.");
  });

  document.getElementById("calendar-copy").addEventListener("click", async () => {
    urlInput.select();
    try {
      await navigator.clipboard.writeText(urlInput.value);
      Chairside.announce(calendarStatus, "Link copied.", "ok");
    } catch (error) {
      // No clipboard access (e.g. not a secure context): the link is selected for copying by hand.
      Chairside.announce(calendarStatus, "Press Ctrl+C (or ⌘C) to copy the selected link.", "warn");
    }
  });
})();
