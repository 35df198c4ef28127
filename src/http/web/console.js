// The console's one script (served from /assets/console.js; CSP script-src 'self').
// Release pages only: a copy button for a revealed password, and the MFA
// code's countdown, renewed each period by re-POSTing the page's form
// (with its CSRF token) for JSON. Every renewal is a release the vault audits.
"use strict";

(function () {
  document.querySelectorAll("[data-action=copy]").forEach(function (button) {
    var source = document.querySelector('[data-field="' + button.dataset.copy + '"]');
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
      });
    });
  });

  var code = document.querySelector('[data-field="mfa-code"]');
  var seconds = document.querySelector('[data-field="seconds-left"]');
  var form = document.querySelector("form[data-refresh=mfa-code]");
  var error = document.querySelector('[data-field="error"]');
  if (!code || !seconds || !form) return;
  var left = parseInt(seconds.dataset.seconds, 10) || 0;
  var busy = false;

  function stop(message) {
    clearInterval(timer);
    if (error) {
      error.textContent = message;
      error.hidden = false;
    }
  }

  function renew() {
    busy = true;
    fetch(form.action, {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          busy = false;
          if (response.ok) {
            code.textContent = body.code;
            left = body.valid_for_seconds;
            seconds.textContent = left;
          } else if (response.status === 401) {
            var back = form.action.replace(/\/mfa-code$/, "");
            window.location.assign("/auth/reauth?return_to=" + encodeURIComponent(new URL(back).pathname));
          } else {
            stop(body.error && body.error.message ? body.error.message : "No further code.");
          }
        });
      })
      .catch(function () {
        stop("The service could not be reached; use the button to try again.");
      });
  }

  var timer = setInterval(function () {
    if (busy) return;
    left -= 1;
    seconds.textContent = Math.max(left, 0);
    if (left <= 0) renew();
  }, 1000);
})();
