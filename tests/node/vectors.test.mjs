// mobile_contract/stamp_vectors.json, checked by a second implementation: WebCrypto, as a web app has it.
//
// Only Node's own node:test, node:assert and WebCrypto, globalThis.crypto.subtle (plus node:fs to
// read the file): no library of ours and no package. Every signature in the file is verified (the phone's
// over stamp requests, redemption requests and proofs, in Ed25519 and P-256; the server's over
// stamp bodies), the JWKs are imported (WebCrypto's exported spellings too) and exported again,
// RFC 7638 thumbprints are recomputed, stamps are decoded from base32 and their layout checked,
// the signed messages are rebuilt from their inputs, and the P-256 signatures the server refuses
// are refused here. Run with `node --test tests/node/` (make test-node).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const V = JSON.parse(readFileSync(new URL("../../mobile_contract/stamp_vectors.json", import.meta.url), "utf8"));
// Global since Node 19; Node 18 (Debian 12's nodejs) has the same WebCrypto as node:crypto's webcrypto.
const subtle = globalThis.crypto?.subtle ?? (await import("node:crypto")).webcrypto.subtle;
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ED25519 = { name: "Ed25519" };
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };

// --- encodings, written out here rather than borrowed -------------------------------------

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(text) {
  assert.match(text, /^([0-9a-f]{2})*$/, `not lowercase hex: ${text}`);
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function fromB64u(text) {
  assert.match(text, /^[A-Za-z0-9_-]*$/, `not unpadded base64url: ${text}`);
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function toB64u(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** RFC 4648 base32, upper case, no padding; refuses any other character and a tail that is not zero bits. */
function base32Decode(text) {
  const out = [];
  let value = 0;
  let bits = 0;
  for (const ch of text) {
    const digit = BASE32.indexOf(ch);
    if (digit < 0) throw new Error(`not base32: ${JSON.stringify(ch)}`);
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
    value &= (1 << bits) - 1;
  }
  if (bits >= 5 || value !== 0) throw new Error("not canonical base32: stray bits at the end");
  return Uint8Array.from(out);
}

function base32Encode(bytes) {
  let out = "";
  let value = 0;
  let bits = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(value >>> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return bits ? out + BASE32[(value << (5 - bits)) & 31] : out;
}

const utf8 = (text) => new TextEncoder().encode(text);
const concat = (...parts) => Uint8Array.from(parts.flatMap((part) => Array.from(part)));
const uuidBytes = (uuid) => fromHex(uuid.replace(/-/g, ""));
const bigint = (bytes) => (bytes.length ? BigInt(`0x${hex(bytes)}`) : 0n);

/** Strict DER `SEQUENCE { INTEGER r, INTEGER s }` to 64-byte r||s; null for anything else (BER included). */
function derToRaw(der) {
  if (der.length < 8 || der[0] !== 0x30 || der[1] > 0x7f || der[1] !== der.length - 2) return null;
  const raw = new Uint8Array(64);
  let at = 2;
  for (const slot of [0, 1]) {
    const length = der[at + 1];
    if (der[at] !== 0x02 || !(length >= 1 && length <= 33) || at + 2 + length > der.length) return null;
    const value = der.subarray(at + 2, at + 2 + length);
    if (value[0] & 0x80) return null; // negative
    if (length > 1 && value[0] === 0 && !(value[1] & 0x80)) return null; // a leading zero it does not need
    const digits = value[0] === 0 ? value.subarray(1) : value;
    if (digits.length > 32) return null;
    raw.set(digits, 32 * (slot + 1) - digits.length);
    at += 2 + length;
  }
  return at === der.length ? raw : null;
}

/** The server's reading of a P-256 signature: 64 bytes are r||s, anything else strict DER; r, s in [1, n-1]. */
async function serverAcceptsP256(key, signature, message) {
  const raw = signature.length === 64 ? signature : derToRaw(signature);
  if (raw === null) return false;
  for (const half of [raw.subarray(0, 32), raw.subarray(32)]) {
    const n = bigint(half);
    if (n < 1n || n >= P256_N) return false;
  }
  return subtle.verify(ES256, key, raw, message);
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, no white space. */
async function thumbprint(jwk) {
  const members =
    jwk.kty === "OKP" ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  const canonical = `{${Object.keys(members)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${JSON.stringify(members[name])}`)
    .join(",")}}`;
  return toB64u(new Uint8Array(await subtle.digest("SHA-256", utf8(canonical))));
}

const importEd25519 = (jwk) => subtle.importKey("jwk", jwk, ED25519, true, ["verify"]);
const importP256 = (jwk) => subtle.importKey("jwk", jwk, ECDSA_P256, true, ["verify"]);

/** Each signed message with the bytes it must be, rebuilt from its inputs. */
function signedMessages() {
  return [
    ...V.stamp_requests.map((v) => [v, `punchguard-stamp-request-v1\n${v.card_id}\n${v.counter}`]),
    ...V.redemption_requests.map((v) => [v, `punchguard-redemption-request-v1\n${v.card_id}\n${v.counter}`]),
    ...V.proofs.map((v) => [v, `punchguard-proof-v1\n${v.purpose}\n${v.challenge}`]),
  ];
}

function flipped(bytes, at = bytes.length - 1) {
  const copy = Uint8Array.from(bytes);
  copy[at] ^= 1;
  return copy;
}

// --- the messages ----------------------------------------------------------------------------

test("each signed message is the text built from its inputs, byte for byte", () => {
  const messages = signedMessages();
  assert.equal(messages.length, 6);
  for (const [vector, text] of messages) {
    assert.equal(vector.message_text, text);
    assert.equal(vector.message_hex, hex(utf8(text)), `bytes of ${JSON.stringify(text)}`);
    assert.ok(Number.isSafeInteger(vector.counter ?? 0), "a counter a JavaScript number holds exactly");
  }
  assert.equal(V.p256_signatures.message_hex, V.stamp_requests[0].message_hex);
});

// --- the phone's signatures ----------------------------------------------------------------

test("every Ed25519 device signature verifies under the device JWK, and a changed one does not", async () => {
  const key = await importEd25519(V.device_key.public_jwk);
  for (const [vector] of signedMessages()) {
    const message = fromHex(vector.message_hex);
    const signature = fromB64u(vector.signature_b64u);
    assert.equal(signature.length, 64);
    assert.ok(await subtle.verify(ED25519, key, signature, message), `Ed25519 over ${vector.message_text}`);
    assert.equal(await subtle.verify(ED25519, key, flipped(signature), message), false);
    assert.equal(await subtle.verify(ED25519, key, signature, flipped(message)), false);
  }
});

test("every P-256 device signature verifies as WebCrypto's r||s, and its DER spelling is the same signature", async () => {
  const key = await importP256(V.p256_device_key.public_jwk);
  for (const [vector] of signedMessages()) {
    const message = fromHex(vector.message_hex);
    const raw = fromB64u(vector.p256_signature_b64u);
    assert.equal(raw.length, 64);
    assert.ok(await subtle.verify(ES256, key, raw, message), `P-256 over ${vector.message_text}`);
    assert.equal(await subtle.verify(ES256, key, flipped(raw), message), false);
    assert.equal(await subtle.verify(ES256, key, raw, flipped(message)), false);
    assert.deepEqual(derToRaw(fromB64u(vector.p256_signature_der_b64u)), raw, "DER decodes to the same r||s");
  }
});

test("the P-256 key is RFC 6979's A.2.5 key: its own signatures of 'sample' and 'test' verify", async () => {
  const key = await importP256(V.p256_device_key.public_jwk);
  const texts = V.p256_device_key.rfc6979.map((entry) => entry.message_text);
  assert.deepEqual(texts, ["sample", "test"]);
  for (const entry of V.p256_device_key.rfc6979) {
    const raw = fromB64u(entry.signature_b64u);
    assert.equal(hex(raw), entry.r_hex + entry.s_hex);
    assert.ok(await subtle.verify(ES256, key, raw, utf8(entry.message_text)), entry.message_text);
  }
});

test("a fresh WebCrypto P-256 signature differs from the file's but verifies: compare by verifying", async () => {
  const pair = await subtle.generateKey(ECDSA_P256, true, ["sign", "verify"]);
  const message = fromHex(V.stamp_requests[0].message_hex);
  const one = new Uint8Array(await subtle.sign(ES256, pair.privateKey, message));
  const two = new Uint8Array(await subtle.sign(ES256, pair.privateKey, message));
  assert.equal(one.length, 64, "WebCrypto signs r||s, 64 bytes");
  assert.notEqual(hex(one), hex(two), "ECDSA is randomized in WebCrypto");
  assert.ok(await serverAcceptsP256(pair.publicKey, one, message));
  assert.ok(await serverAcceptsP256(pair.publicKey, two, message));
});

test("each P-256 signature spelling is accepted or refused as the file says", async () => {
  const key = await importP256(V.p256_device_key.public_jwk);
  const message = fromHex(V.p256_signatures.message_hex);
  const cases = V.p256_signatures.cases;
  assert.ok(cases.some((c) => c.outcome === "accepted") && cases.some((c) => c.outcome === "refused"));
  for (const c of cases) {
    const signature = fromB64u(c.signature_b64u);
    assert.equal(signature.length, c.length, c.description);
    const accepted = c.outcome === "accepted";
    assert.equal(await serverAcceptsP256(key, signature, message), accepted, c.description);
    if (derToRaw(signature) === null) {
      // Not DER: WebCrypto itself, given the bytes as r||s, must decide as the server does.
      assert.equal(await subtle.verify(ES256, key, signature, message), accepted, `WebCrypto: ${c.description}`);
    }
    if (!accepted) assert.equal(c.problem, "/problems/invalid-proof");
  }
});

// --- the keys ------------------------------------------------------------------------------

test("WebCrypto exports each vector key as the file's first WebCrypto spelling", async () => {
  const ed = await subtle.exportKey("jwk", await importEd25519(V.device_key.public_jwk));
  assert.deepEqual(ed, V.device_key.webcrypto_public_jwks[0]);
  const p256 = await subtle.exportKey("jwk", await importP256(V.p256_device_key.public_jwk));
  assert.deepEqual(p256, V.p256_device_key.webcrypto_public_jwks[0]);
});

test("every WebCrypto spelling imports, verifies the same signatures and has the same thumbprint", async () => {
  for (const [name, importer, field, algorithm] of [
    ["device_key", importEd25519, "signature_b64u", ED25519],
    ["p256_device_key", importP256, "p256_signature_b64u", ES256],
  ]) {
    const entry = V[name];
    assert.equal(await thumbprint(entry.public_jwk), entry.thumbprint, `${name} thumbprint`);
    for (const jwk of entry.webcrypto_public_jwks) {
      assert.equal(jwk.ext, true);
      assert.deepEqual(jwk.key_ops, ["verify"]);
      assert.equal(await thumbprint(jwk), entry.thumbprint, `${name}: the export members do not count`);
      const key = await importer(jwk);
      for (const [vector] of signedMessages()) {
        assert.ok(await subtle.verify(algorithm, key, fromB64u(vector[field]), fromHex(vector.message_hex)));
      }
    }
  }
});

test("the server key's JWK, thumbprint and kid", async () => {
  const server = V.server_key;
  assert.deepEqual(server.public_jwk, { kty: "OKP", crv: "Ed25519", x: server.public_key_b64u });
  assert.equal(await thumbprint(server.public_jwk), server.thumbprint);
  assert.equal(server.kid, server.thumbprint.slice(0, 8));
});

// --- the stamps ----------------------------------------------------------------------------

function parseStamp(text) {
  if (text.length !== V.stamp_text_length) throw new Error(`a stamp is ${V.stamp_text_length} characters`);
  const raw = base32Decode(text);
  if (raw.length !== 108) throw new Error("a stamp is 108 bytes");
  const body = raw.subarray(0, 44);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return {
    body,
    signature: raw.subarray(44),
    version: body[0],
    kid: body.subarray(1, 7),
    card: body.subarray(7, 23),
    deviceRef: body.subarray(23, 31),
    stampId: body.subarray(31, 39),
    issuedAt: view.getUint32(39, false), // unsigned: the third stamp is beyond 2^31
    lifetime: body[43],
  };
}

test("each stamp decodes from base32 to the documented layout, and the server's signature verifies", async () => {
  const server = await importEd25519(V.server_key.public_jwk);
  const context = fromHex(V.signing_context_hex);
  assert.equal(new TextDecoder().decode(context), "punchguard-stamp-v1\n");
  assert.equal(V.stamps.length, 3);
  for (const vector of V.stamps) {
    const stamp = parseStamp(vector.stamp);
    assert.equal(stamp.version, V.format_version);
    assert.deepEqual(stamp.kid, fromB64u(V.server_key.kid));
    assert.deepEqual(stamp.card, uuidBytes(vector.card_id));
    assert.deepEqual(stamp.deviceRef, uuidBytes(vector.device_id).subarray(0, 8));
    assert.equal(hex(stamp.deviceRef), vector.device_ref_hex);
    assert.equal(hex(stamp.stampId), vector.stamp_id_hex);
    assert.equal(stamp.issuedAt, vector.issued_at);
    assert.equal(stamp.lifetime, vector.lifetime_s);
    assert.equal(stamp.issuedAt + stamp.lifetime, vector.expires_at);
    assert.equal(hex(stamp.body), vector.body_hex);
    assert.equal(hex(stamp.signature), vector.signature_hex);
    const signed = concat(context, stamp.body);
    assert.equal(hex(signed), vector.signed_message_hex);
    assert.ok(await subtle.verify(ED25519, server, stamp.signature, signed), "the server's signature");
    assert.equal(await subtle.verify(ED25519, server, stamp.signature, flipped(signed)), false);
    assert.equal(base32Encode(concat(stamp.body, stamp.signature)), vector.stamp, "re-encodes to the same text");
  }
});

test("each invalid stamp is refused: malformed ones by the decoder, forged ones by the signature", async () => {
  const server = await importEd25519(V.server_key.public_jwk);
  const context = fromHex(V.signing_context_hex);
  for (const c of V.invalid_stamps) {
    if (c.outcome === "malformed") {
      assert.throws(() => parseStamp(c.stamp), Error, c.description);
    } else {
      assert.equal(c.outcome, "forged");
      const stamp = parseStamp(c.stamp);
      assert.equal(await subtle.verify(ED25519, server, stamp.signature, concat(context, stamp.body)), false);
    }
  }
});

// --- redemption codes ----------------------------------------------------------------------

test("redemption codes: R1 and the base32 of 16 random bytes; the malformed ones are not codes", () => {
  const codes = V.redemption_codes;
  const pattern = new RegExp(codes.pattern);
  assert.equal(codes.alphabet, BASE32);
  assert.equal(codes.well_formed.length, 3);
  for (const example of codes.well_formed) {
    assert.equal(example.code.length, codes.length);
    assert.ok(pattern.test(example.code), example.code);
    assert.equal(example.code.slice(0, 2), codes.prefix);
    assert.equal(hex(base32Decode(example.code.slice(2))), example.random_hex);
    assert.equal(codes.prefix + base32Encode(fromHex(example.random_hex)), example.code);
  }
  // The server's reading: white space at either end trimmed, letters in either case.
  const read = (text) => text.trim().toUpperCase();
  for (const spelling of codes.read_as_the_same_code) {
    assert.equal(read(spelling.code), codes.well_formed[0].code, spelling.description);
  }
  for (const c of codes.malformed) {
    assert.ok(c.code.length > 64 || !pattern.test(read(c.code)), c.description);
    assert.equal(c.problem, c.code.length > 64 ? "/problems/invalid-request" : "/problems/redemption-code-invalid");
    assert.equal(c.status, 400);
  }
});
