// PunchGuard's contract in the language of the web: the JavaScript reference client.
//
// What a phone or a till sends and how it reads the answers, with nothing but the browser's own
// fetch, WebCrypto and TextEncoder: the signed messages (mobile_contract/customers.py, stamps.py,
// redemptions.py), the public key as the contract wants it (only kty, crv, x and y), signatures as
// raw r‖s in unpadded base64url, the forms of a stamp and a redemption code (VECTORS.md), and
// RFC 9457 problems switched on their `type`. The customer's card (/card) and the till (/till)
// import it; tests/node/ checks it against stamp_vectors.json. Served at /contract/punchguard.js.

export const STAMP_PATTERN = /^[A-Z2-7]{173}$/;
export const REDEMPTION_CODE_PATTERN = /^R1[A-Z2-7]{26}$/;
export const P256 = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };
const utf8 = (text) => new TextEncoder().encode(text);

/** Unpadded base64url, as every binary field of the contract is written. */
export function b64u(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** What a phone signs to prove it holds its key: purpose "enroll" or "session" and the server's challenge. */
export function proofMessage(purpose, challenge) {
  return utf8(`punchguard-proof-v1\n${purpose}\n${challenge}`);
}

/** What a phone signs to ask for a stamp: the card and a counter that only ever rises. */
export function stampRequestMessage(cardId, counter) {
  return utf8(`punchguard-stamp-request-v1\n${cardId}\n${counter}`);
}

/** What a phone signs to ask for a redemption code; the same rising counter as stamps. */
export function redemptionRequestMessage(cardId, counter) {
  return utf8(`punchguard-redemption-request-v1\n${cardId}\n${counter}`);
}

/** A new device key: the private half can sign but never leave the browser (non-extractable). */
export function newDeviceKey() {
  return crypto.subtle.generateKey(P256, false, ["sign", "verify"]);
}

/** The public key as the contract takes it: WebCrypto's export carries `ext` and `key_ops`, which are left out. */
export async function publicJwk(publicKey) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
  return { kty, crv, x, y };
}

/** A P-256 signature over `message`, raw r‖s (64 bytes, WebCrypto's own form), in base64url. */
export async function sign(privateKey, message) {
  return b64u(await crypto.subtle.sign(ES256, privateKey, message));
}

/** An RFC 9457 answer: `type` (e.g. "/problems/card-frozen") is what to switch on; `detail` is for people. */
export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.type = body.type || "about:blank";
    this.slug = this.type.replace(/^\/problems\//, "");
    this.body = body;
  }
}

/** No answer from the server (offline, the answer lost, or a proxy's 502 or 504): the same request may be sent again. */
export class NoAnswer extends Error {}

/**
 * One call to the JSON API. Resolves to the answer's JSON (with `replayed` true when the server
 * answered a retry with its first answer); throws Problem for an error answer and NoAnswer when none came.
 */
export async function call(method, path, { body, token, timeoutMs = 15000 } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  let text;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text(); // the connection may still drop while the answer is read
  } catch (error) {
    throw new NoAnswer(String(error));
  }
  // A proxy's "bad gateway" or "timed out" says nothing of whether the server acted: no answer.
  if ([502, 504].includes(response.status)) throw new NoAnswer(`HTTP ${response.status} from a proxy`);
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new Problem(response.status, data);
  return { data, replayed: response.headers.get("Idempotent-Replayed") === "true" };
}
