// The sign-in, when the service has an API token: a Sign out control while signed in, and back
// to the sign-in form (with a message) as soon as the session has ended, whether it expired,
// was signed out in another tab, or the service stopped taking it. Without a token the service
// has no /session route, and none of this shows.

import { apiFetch, onUnauthorized } from "./api.js";

const control = document.getElementById("session");
// Checked once more a little after the session should have expired (its TTL is whole seconds).
// A stream the service refuses falls back to polling (static/follow.js), whose 401 lands here.
const AFTER_EXPIRY_MS = 500;
let timer = null;
let leaving = false;

// To the sign-in form, which shows why (GET login?reason=...: a fixed text per reason).
function toSignIn(reason) {
  if (leaving) return;
  leaving = true;
  clearTimeout(timer);
  window.location.assign(`login?reason=${reason}`);
}

async function check() {
  let session;
  try {
    session = await apiFetch("session");
  } catch (error) {
    // 401 goes to the sign-in form (onUnauthorized below); 404: the service has no sign-in.
    // Anything else (the service unreachable) is the other requests' to show.
    if (error.status !== 401 && error.status !== 404 && error.status !== 0) {
      timer = setTimeout(check, 5000);
    }
    return;
  }
  if (typeof session.expires_in !== "number") return; // the bearer token: nothing to sign out of
  control.hidden = false;
  clearTimeout(timer);
  // setTimeout takes at most 2^31 - 1 ms (24.8 days); a longer session is checked again then.
  timer = setTimeout(check, Math.min(session.expires_in * 1000 + AFTER_EXPIRY_MS, 2 ** 31 - 1));
}

async function signOut() {
  clearTimeout(timer);
  control.querySelector("button").disabled = true;
  try {
    await fetch("logout", { method: "POST", redirect: "manual" });
  } finally {
    toSignIn("signed-out");
  }
}

export function watchSession() {
  // Every request the page makes goes through apiFetch: its first 401 ends the page's session.
  onUnauthorized(() => toSignIn("ended"));
  control.querySelector("button").addEventListener("click", signOut);
  // A tab that was asleep (a laptop's lid) may have missed its timer.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !control.hidden) check();
  });
  check();
}
