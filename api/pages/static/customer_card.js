// The customer's card at /card: a phone's loyalty card in the browser, through the public API only.
//
// The device key is a non-extractable P-256 key made by WebCrypto and kept in IndexedDB with the
// device's session and its counter. Every stamp and redemption request carries the next counter,
// which is written to IndexedDB before the request leaves, under a Web Lock held until the answer
// comes, so that neither a reload nor a second tab can ever send a counter that goes back: to the
// server that is the sign of a cloned key, and it freezes the card (T3).
import {
  call,
  NoAnswer,
  Problem,
  newDeviceKey,
  proofMessage,
  publicJwk,
  redemptionRequestMessage,
  sign,
  stampRequestMessage,
} from "/contract/punchguard.js";

const DB = "punchguard-card";
const RENEW_BEFORE_MS = 4000; // a new stamp this long before the old one expires
const POLL_MS = 2500; // how often the card asks whether a punch arrived
const $ = (id) => document.getElementById(id);

// --- IndexedDB: one object store of named records ----------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("state");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function load(key) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const request = db.transaction("state").objectStore("state").get(key);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function save(key, value) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("state", "readwrite");
    tx.objectStore("state").put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

async function forget(key) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("state", "readwrite");
    tx.objectStore("state").delete(key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

// --- The device: key, session and counter ---------------------------------------------------------

/** The card's short code as the café's console shows it ("Card 7F3K"): base32 of the id's bytes. */
export function cardCode(cardId) {
  const hex = cardId.replace(/-/g, "");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (let i = 0; i < 4; i++) bits += parseInt(hex.slice(i * 2, i * 2 + 2), 16).toString(2).padStart(8, "0");
  return Array.from({ length: 4 }, (_, i) => alphabet[parseInt(bits.slice(i * 5, i * 5 + 5), 2)]).join("");
}

async function enroll(profile) {
  const keys = await newDeviceKey();
  const { data: challenge } = await call("POST", "/v1/challenges");
  const signature = await sign(keys.privateKey, proofMessage("enroll", challenge.challenge));
  const body = { challenge: challenge.challenge, public_key: await publicJwk(keys.publicKey), signature, ...profile };
  const { data: session } = await call("POST", "/v1/customers", { body });
  const device = {
    keys,
    customerId: session.customer_id,
    deviceId: session.device_id,
    token: session.session_token,
    tokenExpiresAt: session.expires_at,
    counter: 0,
  };
  await save("device", device);
  return device;
}

/** A fresh session for a bound phone: it signs a new challenge. Also how a phone picks up a move by the owner. */
async function resume(device) {
  const { data: challenge } = await call("POST", "/v1/challenges");
  const signature = await sign(device.keys.privateKey, proofMessage("session", challenge.challenge));
  const body = { device_id: device.deviceId, challenge: challenge.challenge, signature };
  const { data: session } = await call("POST", "/v1/customers/sessions", { body });
  Object.assign(device, {
    customerId: session.customer_id,
    token: session.session_token,
    tokenExpiresAt: session.expires_at,
  });
  const stored = await load("device");
  if (stored && stored.deviceId !== device.deviceId) {
    location.reload(); // another tab started a new card with a new key: that one is this browser's now
    throw new NoAnswer("another tab replaced this browser's key");
  }
  await save("device", device); // its counter is not read back: the "counter" record is (withNextCounter)
}

/** A call with the device's session, renewed first when it is about to end or when the server says it has. */
async function asCustomer(device, method, path, body) {
  if (Date.parse(device.tokenExpiresAt) - Date.now() < 60_000) await resume(device);
  try {
    return await call(method, path, { body, token: device.token });
  } catch (error) {
    if (!(error instanceof Problem) || error.status !== 401) throw error;
    await resume(device);
    return call(method, path, { body, token: device.token });
  }
}

/**
 * Sign `message(counter)` with the next counter and send it, one at a time across every tab of this
 * browser; null, sending nothing, when `wanted()` says no once the turn came. The counter is a record
 * of its own, which only this function writes, under the lock: a tab saving its session can never
 * put back a counter that another tab has passed.
 */
async function withNextCounter(device, path, message, wanted = () => true) {
  const run = async () => {
    if (!wanted()) return null;
    device.counter = Math.max(device.counter, (await load("counter")) ?? 0) + 1;
    await save("counter", device.counter); // written before it leaves: a reload never sends it again
    const signature = await sign(device.keys.privateKey, message(device.counter));
    return asCustomer(device, "POST", path, { counter: device.counter, signature });
  };
  return navigator.locks ? navigator.locks.request("punchguard-counter", run) : run();
}

// --- What the page shows ---------------------------------------------------------------------------

const state = { device: null, cardId: null, detail: null, stamp: null, redemption: null, skewMs: 0 };

function show(section) {
  for (const id of ["welcome", "join", "lost", "card"]) $(id).hidden = id !== section;
}

function say(text) {
  $("status").textContent = text;
  $("status").hidden = !text;
}

function drawQr(canvas, text) {
  const qr = globalThis.qrcode(0, "M");
  qr.addData(text, "Alphanumeric");
  qr.make();
  const modules = qr.getModuleCount();
  const quiet = 4;
  const scale = Math.floor(canvas.width / (modules + 2 * quiet));
  const offset = Math.floor((canvas.width - scale * modules) / 2);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#000";
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (qr.isDark(row, col)) ctx.fillRect(offset + col * scale, offset + row * scale, scale, scale);
    }
  }
  canvas.dataset.text = text; // what the QR says, for people and tests reading the page
}

const when = (iso) =>
  new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

function renderCard(detail) {
  state.detail = detail;
  $("card-program").textContent = detail.program_name;
  $("card").dataset.cardId = detail.id;
  $("card-code").textContent = cardCode(detail.id);
  $("card-code-again").textContent = cardCode(detail.id);
  const dots = $("progress");
  dots.replaceChildren();
  for (let i = 0; i < detail.punches_per_reward; i++) {
    const dot = document.createElement("span");
    dot.className = i < detail.balance ? "dot punched" : i < detail.balance + detail.under_review ? "dot review" : "dot";
    dots.append(dot);
  }
  const shown = Math.min(detail.balance, detail.punches_per_reward);
  let words = `${shown} of ${detail.punches_per_reward} punches toward a ${detail.reward_name}`;
  if (detail.under_review) words += ` · ${detail.under_review} more waiting for the café’s check`;
  $("progress-words").textContent = words;

  let notice = "";
  const previous = localStorage.getItem("punchguard-card-previous");
  if (previous && previous !== cardCode(detail.id)) {
    notice = `Moving from card ${previous}? Show the café this card’s number, ${cardCode(detail.id)}: the owner moves your punches over after checking.`;
  }
  if (detail.status === "frozen") notice = "Your card is frozen while the café checks something. Ask at the counter.";
  else if (detail.status === "closed") notice = "This card is closed.";
  else if (detail.reward_status === "pending_review") notice = `Your ${detail.reward_name} waits for the café’s check.`;
  $("card-notice").textContent = notice;
  $("card-notice").hidden = !notice;

  const rewardReady = detail.status === "active" && detail.reward_available && !state.redemption;
  $("reward").hidden = !rewardReady;
  if (rewardReady) {
    $("reward-words").textContent = `Your card is full: a ${detail.reward_name} is yours.`;
    $("reward-button").textContent = `Get my ${detail.reward_name}`;
  }

  const items = detail.history.map((item) => {
    const li = document.createElement("li");
    const what = item.kind === "punch" ? "Punch" : item.kind === "redeem" ? `${detail.reward_name} given` : "Refund";
    let text = `${what}${item.store_name ? ` · ${item.store_name}` : ""} · ${when(item.at)}`;
    if (item.voided) text += " · refunded, does not count";
    if (item.under_review) text += " · being checked by the café";
    li.textContent = text;
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.textContent = "No punches yet: show your code at the till when you pay.";
    items.push(li);
  }
  $("history").replaceChildren(...items.reverse());
}

function tick() {
  const now = Date.now() + state.skewMs;
  if (state.redemption) {
    const left = Math.max(0, Math.ceil((Date.parse(state.redemption.expires_at) - now) / 1000));
    $("redemption-countdown").textContent = left ? `Show this to the cashier · ${left} s` : "Expired";
    if (!left) endRedemption();
  } else if (state.stamp) {
    const leftMs = Date.parse(state.stamp.expires_at) - now;
    $("stamp-countdown").textContent = `Show this to the cashier · new code in ${Math.max(0, Math.ceil(leftMs / 1000))} s`;
    if (leftMs < RENEW_BEFORE_MS) renewStamp();
  }
}

let renewing = false;
async function renewStamp() {
  const detail = state.detail;
  if (renewing || !detail || detail.status !== "active" || state.redemption || document.hidden) return;
  renewing = true;
  try {
    const path = `/v1/me/cards/${detail.id}/stamps`;
    const wanted = () => !state.redemption && state.detail?.id === detail.id; // not once a code is asked for
    const answered = await withNextCounter(state.device, path, (n) => stampRequestMessage(detail.id, n), wanted);
    if (!answered) return;
    const { data } = answered;
    state.skewMs = Date.parse(data.issued_at) - Date.now();
    state.stamp = data;
    drawQr($("stamp-qr"), data.stamp);
    $("stamp").hidden = false;
    if (state.trouble) say(""); // a stamp came: the trouble told is over (good news stays)
    state.trouble = false;
  } catch (error) {
    state.stamp = null;
    $("stamp").hidden = true;
    await explain(error);
  } finally {
    renewing = false;
  }
}

async function askForReward() {
  const detail = state.detail;
  try {
    const path = `/v1/me/cards/${detail.id}/redemptions`;
    const { data } = await withNextCounter(state.device, path, (n) => redemptionRequestMessage(detail.id, n));
    state.redemption = data;
    state.stamp = null;
    $("stamp").hidden = true;
    $("reward").hidden = true;
    drawQr($("redemption-qr"), data.code);
    $("redemption-code").textContent = data.code;
    $("redemption").hidden = false;
    if (data.reward_status === "pending_review") say(`The café checks your card before giving the ${data.reward_name}.`);
  } catch (error) {
    await explain(error);
  }
}

function endRedemption() {
  state.redemption = null;
  $("redemption").hidden = true;
  renderCard(state.detail);
  renewStamp();
}

/** Ask whether a punch or the free item arrived; a used stamp is replaced at once. */
async function poll() {
  if (!state.device || !state.cardId || document.hidden) return;
  try {
    const before = state.detail;
    const { data } = await asCustomer(state.device, "GET", `/v1/me/cards/${state.cardId}`);
    renderCard(data);
    const count = (d, kind) => d.history.filter((item) => item.kind === kind).length;
    if (before && count(data, "redeem") > count(before, "redeem")) {
      say(`Enjoy your ${data.reward_name}!`);
      endRedemption();
    } else if (before && count(data, "punch") > count(before, "punch")) {
      say(`Punch added: ${Math.min(data.balance, data.punches_per_reward)} of ${data.punches_per_reward}.`);
      state.stamp = null;
      renewStamp();
    } else if (data.status !== "active") {
      state.stamp = null;
      $("stamp").hidden = true;
      // Closed just now: perhaps the owner moved this phone to the customer's old card (open() looks).
      if (data.status === "closed" && before && before.status !== "closed") await open(state.cardId);
    } else if (!state.stamp && !state.redemption) {
      renewStamp();
    }
  } catch (error) {
    // The card is no longer this phone's (the owner moved the phone to the customer's old card):
    // open whichever card the phone holds now.
    if (error instanceof Problem && error.slug === "not-found") return open(null);
    await explain(error);
  }
}

async function explain(error) {
  state.trouble = true;
  if (error instanceof NoAnswer) return say("No connection. Your code comes back as soon as you are online.");
  if (!(error instanceof Problem)) return say(String(error));
  if (["invalid-proof", "device-not-bound", "invalid-token", "unauthenticated"].includes(error.slug)) {
    return lost("The café’s server no longer knows this browser’s key, so it cannot show this card.");
  }
  if (["card-frozen", "counter-regressed"].includes(error.slug)) {
    if (state.detail) renderCard({ ...state.detail, status: "frozen" });
    return say(error.message);
  }
  say(error.message);
}

function lost(why) {
  $("lost-why").textContent = why;
  const code = localStorage.getItem("punchguard-card-code");
  $("lost-old-code").textContent = code ? `(it was ${code})` : "";
  show("lost");
  say("");
}

// --- Joining and opening ---------------------------------------------------------------------------

async function offerJoin(businessId, programId) {
  const { data: programs } = await call("GET", `/v1/businesses/${businessId}/programs`);
  const program = programs.find((p) => p.id === programId);
  if (!program) {
    show("welcome");
    return say("This café’s link names a program that is not open any more. Ask the café for its current link.");
  }
  localStorage.setItem("punchguard-card-join", `/card?business=${businessId}&program=${programId}`);
  $("join-title").textContent = `Join ${program.name}`;
  $("join-offer").textContent = `A ${program.reward_name} after ${program.punches_per_reward} punches. Your card lives in this browser: no app, no account.`;
  show("join");
  say("");
  $("join-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if ($("join-button").hasAttribute("aria-busy")) return; // one enrollment at a time, however often tapped
    $("join-button").setAttribute("aria-busy", "true");
    $("join-error").hidden = true;
    try {
      const form = new FormData(event.target);
      const profile = Object.fromEntries([...form].filter(([, value]) => String(value).trim()));
      state.device = state.device || (await enroll(profile));
      // Ask the browser not to clear the key to save space; it may still say no (then the note below stands).
      const kept = navigator.storage?.persist ? await navigator.storage.persist() : false;
      const card = await joined(programId);
      history.replaceState(null, "", `/card?card=${card.id}`);
      await open(card.id);
      if (!kept) say("Tip: your browser may clear this card’s key when it runs short of space. Your punches stay safe with the café.");
    } catch (error) {
      $("join-error").textContent = error.message;
      $("join-error").hidden = false;
    } finally {
      $("join-button").removeAttribute("aria-busy");
    }
  });
}

async function joined(programId) {
  try {
    const { data } = await asCustomer(state.device, "POST", "/v1/me/cards", { program_id: programId });
    return data;
  } catch (error) {
    if (!(error instanceof Problem) || error.slug !== "already-joined") throw error;
    const { data: cards } = await asCustomer(state.device, "GET", "/v1/me/cards");
    return cards.find((card) => card.program_id === programId);
  }
}

async function open(cardId) {
  let { data: cards } = await asCustomer(state.device, "GET", "/v1/me/cards");
  if (!cards.some((card) => card.status !== "closed")) {
    // Perhaps the owner moved this phone to the customer's old card: a new session says where it belongs now.
    await resume(state.device);
    ({ data: cards } = await asCustomer(state.device, "GET", "/v1/me/cards"));
  }
  const open = cards.filter((card) => card.status !== "closed");
  const card = open.find((c) => c.id === cardId) || open[open.length - 1] || cards[cards.length - 1];
  if (!card) {
    show("welcome");
    return say("This browser has no card yet. Ask the café for its join link or QR code.");
  }
  state.cardId = card.id;
  localStorage.setItem("punchguard-card-code", cardCode(card.id));
  await save("card", card.id);
  const others = open.filter((c) => c.id !== card.id);
  $("other-cards").hidden = !others.length;
  $("other-cards").replaceChildren(
    "Your other cards: ",
    ...others.flatMap((c, i) => {
      const a = document.createElement("a");
      a.href = `/card?card=${c.id}`;
      a.textContent = c.program_name;
      return i ? [", ", a] : [a];
    }),
  );
  show("card");
  const { data } = await asCustomer(state.device, "GET", `/v1/me/cards/${card.id}`);
  renderCard(data);
  say("");
  await renewStamp();
}

async function start() {
  const params = new URLSearchParams(location.search);
  const businessId = params.get("business");
  const programId = params.get("program");
  if (!window.isSecureContext || !globalThis.crypto?.subtle) {
    show("welcome");
    return say("This card needs a secure connection: open the café’s link as it is given, starting with https://.");
  }
  try {
    state.device = (await load("device")) || null;
    if (!state.device) {
      if (localStorage.getItem("punchguard-card-code") && !(businessId && programId)) {
        return lost("This browser had a card here, but its key is gone: the browser’s data was cleared.");
      }
      if (businessId && programId) return await offerJoin(businessId, programId);
      show("welcome");
      return say("");
    }
    if (businessId && programId) {
      const card = await joined(programId);
      history.replaceState(null, "", `/card?card=${card.id}`);
      return await open(card.id);
    }
    await open(params.get("card") || (await load("card")));
  } catch (error) {
    await explain(error);
    // Nothing came to show (offline on opening): try again, rather than wait for a reload.
    if (error instanceof NoAnswer && !state.cardId) setTimeout(start, 5000);
  }
}

$("reward-button").addEventListener("click", askForReward);
$("start-over").addEventListener("click", async () => {
  const old = localStorage.getItem("punchguard-card-code");
  if (old) localStorage.setItem("punchguard-card-previous", old);
  await forget("device");
  await forget("card");
  localStorage.removeItem("punchguard-card-code");
  location.assign(localStorage.getItem("punchguard-card-join") || "/card");
});
document.addEventListener("visibilitychange", () => !document.hidden && poll());
setInterval(tick, 250);
setInterval(poll, POLL_MS);
start();
