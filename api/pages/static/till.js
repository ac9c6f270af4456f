// The till at /till: the cashier's scanner in the browser, through the public API only.
//
// Paired once with a scanner the owner registered in the console (its id and secret, kept in this
// browser's localStorage), it signs the cashier in at that scanner (POST /v1/auth/login), reads
// the customer's code with the camera (jsQR, vendored) or typed in, and tells a stamp from a
// redemption code by its form (the contract's patterns). A stamp is posted with the receipt
// (POST /v1/scans), a redemption code on its own (POST /v1/redemptions). When no answer comes,
// the very same body is sent again until one does: the server answers a repeat with its first
// answer, so a lost answer never costs a punch nor makes a second one.
import { call, NoAnswer, Problem, REDEMPTION_CODE_PATTERN, STAMP_PATTERN } from "/contract/punchguard.js";

const PAIRING = "punchguard-till-pairing"; // {scanner_id, scanner_secret}
const NUMBERING = "punchguard-till-receipt"; // the till's own receipt number, the last one used
const SESSION = "punchguard-till-session"; // the cashier's tokens, for this tab's life only
const FRAME_MS = 150; // how often a camera frame is decoded
const RESTART_MS = 2500; // how long a refusal stays before the camera looks for another code
const MAX_AMOUNT = 100000; // the contract's most, in the till's currency (10,000,000 cents)
const UNANSWERED = "punchguard-till-unanswered"; // bodies sent that never got an answer here
const RETRY_MS = [1000, 2000, 4000, 8000, 15000];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const $ = (id) => document.getElementById(id);

const show = (id) => {
  for (const section of ["pair", "sign-in", "scan"]) $(section).hidden = section !== id;
  $("status").textContent = "";
};
const say = (id, text) => {
  $(id).textContent = text;
  $(id).hidden = !text;
};
const readJson = (store, key) => {
  try {
    return JSON.parse(store.getItem(key) || "null");
  } catch {
    return null;
  }
};

// --- Pairing and the cashier's session -------------------------------------------------------------

const pairing = () => readJson(localStorage, PAIRING);

/** The pairing the console's QR code carries (JSON with the scanner's id and secret), or null. */
function pairingFrom(text) {
  try {
    const { scanner_id, scanner_secret } = JSON.parse(text);
    if (UUID.test(scanner_id) && typeof scanner_secret === "string" && scanner_secret.length > 0) {
      return { scanner_id: scanner_id.toLowerCase(), scanner_secret };
    }
  } catch {
    /* not a pairing code */
  }
  return null;
}

function pair(found) {
  localStorage.setItem(PAIRING, JSON.stringify(found));
  stopCamera();
  openSignIn();
}

function openPair() {
  show("pair");
  startCamera($("pair-video"), (text) => {
    const found = pairingFrom(text);
    if (found) return pair(found);
    say("pair-error", "That is not a pairing code: show the code the console displays after registering a scanner.");
    return "again";
  });
}

function openSignIn() {
  const paired = pairing();
  show("sign-in");
  $("paired-as").textContent = `Paired with scanner ${paired.scanner_id.slice(0, 8)}…`;
  $("sign-in-form").elements.email.focus();
}

const session = () => readJson(sessionStorage, SESSION);

function keep(tokens) {
  sessionStorage.setItem(SESSION, JSON.stringify(tokens));
  $("who").textContent = `· ${tokens.role} at scanner ${tokens.scanner_id.slice(0, 8)}`;
  $("sign-out").hidden = false;
}

/** A fresh access token: the kept one, refreshed when it ends within half a minute (or `now`,
 * when the server said it has ended). Only a refusal of the refresh token itself signs the cashier
 * out; a refresh that got no answer, was rate limited or found the server busy is tried again. */
async function accessToken({ now = false } = {}) {
  const tokens = session();
  if (!tokens) throw new SignedOut();
  if (!now && Date.parse(tokens.access_expires_at) - Date.now() > 30000) return tokens.access_token;
  try {
    const { data } = await call("POST", "/v1/auth/refresh", { body: { refresh_token: tokens.refresh_token } });
    keep(data);
    return data.access_token;
  } catch (error) {
    if (error instanceof Problem && error.status === 401) throw new SignedOut();
    throw new NoAnswer(error.message);
  }
}

/** A call as the cashier: on a 401 (an access token the server counts as ended), refreshed once. */
async function asCashier(path, body) {
  try {
    return await call("POST", path, { body, token: await accessToken() });
  } catch (error) {
    if (!(error instanceof Problem) || error.status !== 401) throw error;
    return call("POST", path, { body, token: await accessToken({ now: true }) });
  }
}

class SignedOut extends Error {}

function signOut({ keepWaiting = false } = {}) {
  if (!keepWaiting && sending) {
    clearTimeout(sending.retry);
    sending = null;
  }
  sessionStorage.removeItem(SESSION);
  $("who").textContent = "";
  $("sign-out").hidden = true;
  stopCamera();
  openSignIn();
}

// --- The camera ---------------------------------------------------------------------------------

let stream = null;
let timer = null;
let generation = 0; // each start of the camera; a start that a stop overtook must not go on

/** Decode the camera's frames until `onCode` is handed a text; the camera then stops. */
async function startCamera(video, onCode) {
  stopCamera();
  const mine = generation;
  const state = video.id === "video" ? $("camera-state") : $("pair-error");
  try {
    const opened = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    if (mine !== generation) {
      // Stopped while the camera was opening (a typed code, an answer, a sign-out): not now.
      for (const track of opened.getTracks()) track.stop();
      return;
    }
    stream = opened;
  } catch (error) {
    if (mine !== generation) return;
    const why = window.isSecureContext
      ? `The camera is not available (${error.name}): type the code instead.`
      : "The camera needs this page over HTTPS: type the code instead.";
    say(state.id, why);
    return;
  }
  if (state.id === "camera-state") state.textContent = "Looking for a code…";
  video.srcObject = stream;
  await video.play().catch(() => {});
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const look = () => {
    if (mine !== generation) return;
    if (video.videoWidth > 0) {
      const scale = Math.min(1, 800 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = globalThis.jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
      // `onCode` answers "again" to go on looking (a code it has just dealt with); else the camera stops.
      if (found && found.data && onCode(found.data) !== "again") return;
    }
    timer = setTimeout(look, FRAME_MS);
  };
  look();
}

function stopCamera() {
  generation += 1;
  clearTimeout(timer);
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  for (const video of document.querySelectorAll("video")) video.srcObject = null;
}

// --- The receipt ----------------------------------------------------------------------------------

/** The till's own receipt numbers: T, the scanner's first four characters, and a number that rises. */
function nextReceipt() {
  const last = Number(localStorage.getItem(NUMBERING) || "0");
  return `T${pairing().scanner_id.slice(0, 4).toUpperCase()}-${String(last + 1).padStart(6, "0")}`;
}

function freshReceipt() {
  $("receipt-reference").value = nextReceipt();
  $("receipt-amount").value = "";
}

/** The till's own number in the receipt field, if it is one this browser has used since (in another
 * tab of the till), is moved on to the next: two sales never share a number. A typed one is kept. */
function currentReceipt() {
  const field = $("receipt-reference");
  const own = field.value.match(/^T[0-9A-F]{4}-(\d{6})$/);
  if (own && Number(own[1]) <= Number(localStorage.getItem(NUMBERING) || "0")) field.value = nextReceipt();
}

/** The receipt as the contract takes it, or a sentence saying what is wrong with it. */
function receipt() {
  const reference = $("receipt-reference").value.trim();
  if (!/^[\x21-\x7e]{1,64}$/.test(reference)) {
    return "The receipt reference is letters, digits and signs without spaces: type it again.";
  }
  const amount = $("receipt-amount").value.trim().replace(",", ".");
  if (!amount) return { reference };
  if (!/^\d{1,6}(\.\d{1,2})?$/.test(amount) || Number(amount) > MAX_AMOUNT) {
    return `The amount is a number such as 4.50, at most ${MAX_AMOUNT}: type it again.`;
  }
  return { reference, amount_cents: Math.round(Number(amount) * 100) };
}

function receiptUsed(reference) {
  if (reference === nextReceipt()) {
    localStorage.setItem(NUMBERING, String(Number(localStorage.getItem(NUMBERING) || "0") + 1));
  }
}

// --- Scanning -------------------------------------------------------------------------------------

let sending = null; // the request waiting for its answer: {path, body, attempt}
let lastText = null;
let restartTimer = null;

function answer(kind, head, detail = "") {
  const box = $("answer");
  box.className = `answer ${kind}`;
  $("answer-head").textContent = head;
  $("answer-detail").textContent = detail;
}

/** What the cashier is told of a refusal: one line, switched on the problem's type. */
function refusal(problem) {
  const detail = problem.body.detail || problem.body.title || "";
  switch (problem.slug) {
    case "stamp-already-used":
    case "redemption-code-used":
      return ["refused", "This code was already used", detail];
    case "reward-held":
      return ["held", `Held for the owner: ${detail}`, (problem.body.reasons || []).join(" ")];
    case "card-frozen":
    case "counter-regressed":
      return ["refused", `Card frozen: ${detail}`, "Give no free item; the owner reviews the card in the console."];
    case "stamp-expired":
    case "redemption-code-expired":
    case "stamp-malformed":
    case "redemption-code-invalid":
      return ["refused", "Ask for the code again", detail, true];
    case "receipt-already-punched":
      return ["refused", "This receipt already earned a punch", detail];
    default:
      return ["refused", problem.body.title || "Refused", detail];
  }
}

function punched(data, reference) {
  const counts = `${data.balance} of ${data.punches_per_reward} punches count`;
  const waiting = data.under_review ? `, ${data.under_review} wait for the owner’s review` : "";
  const full = data.reward_available ? " The card is full: the customer can ask for the free item." : "";
  if (data.flagged) {
    return ["held", "Held for the owner: the punch is recorded, and the owner reviews it before it counts", `Receipt ${reference}. ${counts}${waiting}.`];
  }
  return ["ok", `Punch ${data.balance} of ${data.punches_per_reward}`, `Receipt ${reference}. ${counts}${waiting}.${full}`];
}

// The bodies this till sent and never saw answered (kept for this tab's life): when the same body
// comes back answered `Idempotent-Replayed`, that is the answer the till lost, not a second scan.
const keyOf = (request) => `${request.path} ${JSON.stringify(request.body)}`;
const unanswered = () => new Set(readJson(sessionStorage, UNANSWERED) || []);
function markUnanswered(request, lost) {
  const keys = unanswered();
  if (lost) keys.add(keyOf(request));
  else keys.delete(keyOf(request));
  sessionStorage.setItem(UNANSWERED, JSON.stringify([...keys].slice(-50)));
}

/** Send the request until an answer comes, then show it (unless the cashier moved on meanwhile). */
async function send() {
  const request = sending;
  request.retry = null;
  try {
    const { data, replayed } = await asCashier(request.path, request.body);
    if (sending !== request) return;
    const lostBefore = request.attempt > 0 || unanswered().has(keyOf(request));
    markUnanswered(request, false);
    if (request.path === "/v1/scans") receiptUsed(request.body.receipt.reference);
    if (replayed && !lostBefore) {
      // The server's first answer to this very body, given again, and not to a resend of this
      // till's: the code was scanned and answered here before. Nothing new happened.
      answer("refused", "This code was already used", request.path === "/v1/scans"
        ? `Its punch, receipt ${request.body.receipt.reference}, was recorded before: no new punch.`
        : `The ${data.reward_name} was given for it before: give nothing.`);
    } else if (request.path === "/v1/scans") {
      answer(...punched(data, request.body.receipt.reference));
    } else {
      answer("ok", `${data.reward_name}: give it`, data.message);
    }
    done();
  } catch (error) {
    if (sending !== request) return;
    if (error instanceof SignedOut) {
      // The request stays, to be sent again once a cashier signs in.
      say("sign-in-error", "The cashier's sign-in ended: sign in again, and the waiting scan is sent.");
      signOut({ keepWaiting: true });
      return;
    }
    if (!(error instanceof Problem)) {
      markUnanswered(request, true);
      const wait = RETRY_MS[Math.min(request.attempt, RETRY_MS.length - 1)];
      request.attempt += 1;
      say("offline", navigator.onLine
        ? "No answer from the server: the same scan is being sent again, and cannot count twice."
        : "Offline: this till has no network. The scan is sent again when it comes back, and cannot count twice.");
      answer("waiting", "Sending…", `Attempt ${request.attempt + 1}; keep the customer a moment.`);
      $("give-up").hidden = false;
      request.retry = setTimeout(() => sending === request && send(), wait);
      return;
    }
    markUnanswered(request, false);
    if (request.path === "/v1/scans" && error.slug === "receipt-already-punched") receiptUsed(request.body.receipt.reference);
    const [kind, head, detail, another] = refusal(error);
    answer(kind, head, detail);
    done({ lookAgainSoon: another });
  }
}

/** An answer is shown. The camera waits for the cashier's "Next customer" (a new sale, a new
 * receipt): a customer still holding up their phone, which shows its next stamp after a punch,
 * must not earn a second punch. Only when the customer has another code to show does it look again. */
function done({ lookAgainSoon = false } = {}) {
  sending = null;
  $("camera-state").textContent = lookAgainSoon
    ? "The camera looks again in a moment."
    : "Camera paused: tap Next customer for the next sale.";
  say("offline", "");
  $("give-up").hidden = true;
  freshReceipt();
  clearTimeout(restartTimer);
  if (lookAgainSoon) restartTimer = setTimeout(lookAgain, RESTART_MS);
}

/** A code read or typed: a stamp, a redemption code, or something to tell the cashier about. */
function handle(raw) {
  if (sending) return;
  const text = raw.trim().replace(/\s+/g, "").toUpperCase();
  stopCamera();
  lastText = text;
  if (STAMP_PATTERN.test(text)) {
    currentReceipt();
    const given = receipt();
    if (typeof given === "string") {
      answer("refused", "Check the receipt", given);
      return;
    }
    sending = { path: "/v1/scans", body: { stamp: text, receipt: given }, attempt: 0 };
  } else if (REDEMPTION_CODE_PATTERN.test(text)) {
    sending = { path: "/v1/redemptions", body: { code: text }, attempt: 0 };
  } else {
    answer("refused", "This is not a PunchGuard code", "Ask the customer to open their card and show its code.");
    done({ lookAgainSoon: true });
    return;
  }
  answer("waiting", "Sending…");
  send();
}

/** The camera looks for the next customer's code (a code just answered is not sent again). */
function lookAgain() {
  clearTimeout(restartTimer);
  if (sending || $("scan").hidden) return;
  startCamera($("video"), (text) => {
    if (text.trim().replace(/\s+/g, "").toUpperCase() !== lastText) return handle(text);
    $("camera-state").textContent = "Still the code just answered: show another one.";
    return "again";
  });
}

function openScan() {
  show("scan");
  if (sending) {
    // A scan was waiting when the sign-in ended: the same body goes now.
    answer("waiting", "Sending…");
    send();
    return;
  }
  freshReceipt();
  answer("idle", "Show me the customer’s code");
  lookAgain();
}

// --- Wiring ---------------------------------------------------------------------------------------

$("pair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target.elements;
  const found = pairingFrom(
    JSON.stringify({ scanner_id: form.scanner_id.value.trim(), scanner_secret: form.scanner_secret.value.trim() }),
  );
  if (found) pair(found);
  else say("pair-error", "The scanner id is the long id the console shows, such as 0f8e…-…: type it again.");
});

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target.elements;
  say("sign-in-error", "");
  const body = { email: form.email.value.trim(), password: form.password.value, ...pairing() };
  try {
    const { data } = await call("POST", "/v1/auth/login", { body });
    keep(data);
    form.password.value = "";
    openScan();
  } catch (error) {
    if (error instanceof NoAnswer) say("sign-in-error", "No answer from the server: check the network and try again.");
    else if (error.slug === "invalid-credentials") {
      say("sign-in-error", "Wrong e-mail or password, or this scanner was revoked in the console.");
    } else say("sign-in-error", error.message);
  }
});

$("unpair").addEventListener("click", () => {
  localStorage.removeItem(PAIRING);
  openPair();
});
$("sign-out").addEventListener("click", () => signOut());
$("next").addEventListener("click", () => {
  if (sending) return;
  lastText = null;
  answer("idle", "Show me the customer’s code");
  lookAgain();
});
$("give-up").addEventListener("click", () => {
  if (!sending) return;
  clearTimeout(sending.retry);
  markUnanswered(sending, true); // scanned again, its first answer is this till's, not a second scan
  sending = null;
  answer("refused", "Not sent", "Not known whether it was recorded: scan the same code again once the network is back; it cannot count twice.");
  lastText = null;
  $("give-up").hidden = true;
});
$("manual-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("manual-code").value;
  $("manual-code").value = "";
  if (text.trim()) handle(text);
});
window.addEventListener("offline", () => say("offline", "Offline: this till has no network. Scans cannot be sent until it is back."));
window.addEventListener("online", () => {
  if (!sending) say("offline", "");
  else if (sending.retry) {
    clearTimeout(sending.retry); // waiting to resend: resend now rather than at the end of the wait
    send();
  }
});

// The shell, kept by the service worker: this page and the files it loaded (the worker starts
// only after they came, so the page names them), for the till to open without a network.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/till/sw.js", { scope: "/till" }).catch(() => {});
  navigator.serviceWorker.ready.then((registration) => {
    const loaded = performance.getEntriesByType("resource").map((entry) => entry.name);
    registration.active?.postMessage({ keep: [location.pathname, ...loaded] });
  });
}
if (!navigator.onLine) say("offline", "Offline: this till has no network. Scans cannot be sent until it is back.");

if (!pairing()) openPair();
else if (!session()) openSignIn();
else {
  keep(session());
  openScan();
}
