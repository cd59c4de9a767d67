// Corral's placeholder page: logs in through the API and shows the answer.
"use strict";

function showResult(text) {
  document.getElementById("result").textContent = text;
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = new URLSearchParams();
  body.set("username", form.get("username"));
  body.set("password", form.get("password"));
  showResult("logging in...");
  try {
    const resp = await fetch("/api2/json/access/ticket", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin",
    });
    const json = await resp.json().catch(() => null);
    if (resp.ok && json && json.data) {
      showResult("logged in as " + json.data.username + "\n" + JSON.stringify(json.data.cap, null, 2));
    } else {
      showResult("login failed (" + resp.status + ")" + (json && json.message ? ": " + json.message : ""));
    }
  } catch (err) {
    showResult("request failed: " + err);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", login);
});
