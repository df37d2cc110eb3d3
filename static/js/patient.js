/* The patient page: "Record weight" posts to /api/v1/patients/<id>/weights/ and,
 * once saved, reloads so the trend chart and table include it. A refusal is
 * shown next to the field and the typed values stay. */
(function () {
  "use strict";

  const form = document.getElementById("weight-form");
  if (!form) return;
  const status = form.querySelector("[data-status]");
  const button = form.querySelector("button[type=submit]");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Chairside.clearErrors(form);
    Chairside.announce(status, "Saving…");
    button.disabled = true;
    const result = await Chairside.api("POST", form.dataset.url, Chairside.formValues(form));
    button.disabled = false;
    if (!result.ok) {
      Chairside.announce(status, "");
      Chairside.showErrors(form, result.data);
      return;
    }
    Chairside.announce(status, "Weight " + result.data.weight_kg + " kg recorded for " + result.data.measured_on + ".", "ok");
    window.location.reload();
  });
})();
