// mobile_contract/web/punchguard.js, the JavaScript reference client that /card and /till import,
// checked against mobile_contract/stamp_vectors.json: the messages it builds are the vectors' bytes,
// the key it sends carries only kty, crv, x and y, its signatures verify as raw r‖s P-256, and the
// stamps and redemption codes of the vectors (and none of the malformed ones) match its patterns.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { webcrypto } from "node:crypto";

globalThis.crypto ??= webcrypto;
const client = await import("../../mobile_contract/web/punchguard.js");
const V = JSON.parse(readFileSync(new URL("../../mobile_contract/stamp_vectors.json", import.meta.url), "utf8"));
const hex = (bytes) => Buffer.from(bytes).toString("hex");

test("the signed messages are the vectors' bytes", () => {
  for (const r of V.stamp_requests) assert.equal(hex(client.stampRequestMessage(r.card_id, r.counter)), r.message_hex);
  for (const r of V.redemption_requests) {
    assert.equal(hex(client.redemptionRequestMessage(r.card_id, r.counter)), r.message_hex);
  }
  for (const p of V.proofs) assert.equal(hex(client.proofMessage(p.purpose, p.challenge)), p.message_hex);
});

test("a new device key is P-256, its private half not extractable, its JWK only kty, crv, x and y", async () => {
  const keys = await client.newDeviceKey();
  assert.equal(keys.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("jwk", keys.privateKey));
  const jwk = await client.publicJwk(keys.publicKey);
  assert.deepEqual(Object.keys(jwk).sort(), ["crv", "kty", "x", "y"]);
  assert.equal(jwk.kty, "EC");
  assert.equal(jwk.crv, "P-256");
  assert.match(jwk.x, /^[A-Za-z0-9_-]{43}$/);
});

test("its signatures are raw r‖s in base64url and verify over the message", async () => {
  const keys = await client.newDeviceKey();
  const message = client.stampRequestMessage(V.stamp_requests[0].card_id, 7);
  const signature = await client.sign(keys.privateKey, message);
  assert.match(signature, /^[A-Za-z0-9_-]{86}$/); // 64 bytes, unpadded
  const raw = Buffer.from(signature, "base64url");
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, raw, message);
  assert.equal(ok, true);
  const other = client.stampRequestMessage(V.stamp_requests[0].card_id, 8);
  assert.equal(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, raw, other), false);
});

test("stamps and redemption codes are told apart by their form", () => {
  for (const s of V.stamps) {
    assert.match(s.stamp, client.STAMP_PATTERN);
    assert.doesNotMatch(s.stamp, client.REDEMPTION_CODE_PATTERN);
  }
  for (const c of V.redemption_codes.well_formed) {
    assert.match(c.code, client.REDEMPTION_CODE_PATTERN);
    assert.doesNotMatch(c.code, client.STAMP_PATTERN);
  }
  assert.equal(String(client.REDEMPTION_CODE_PATTERN), `/${V.redemption_codes.pattern}/`);
  for (const bad of ["", "r1" + "A".repeat(26), "R1" + "A".repeat(25), V.stamps[0].stamp + "A"]) {
    assert.doesNotMatch(bad, client.STAMP_PATTERN);
    assert.doesNotMatch(bad, client.REDEMPTION_CODE_PATTERN);
  }
});

test("b64u is unpadded base64url", () => {
  assert.equal(client.b64u(Uint8Array.from([0xfb, 0xff])), "-_8");
  assert.equal(client.b64u(new Uint8Array(0)), "");
});
