import assert from "node:assert/strict";
import {
  decodeBase64Node,
  decodeBase64Portable,
  encodeBase64Node,
  encodeBase64Portable,
  fromBase64,
  toBase64,
} from "../session/base64.ts";

/** The reference: `btoa` over the bytes as a binary string. */
function reference(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

Deno.test("base64: the lookup-table encoder, the runtime's and btoa agree on every byte and every padding", () => {
  const samples = [new Uint8Array(0), Uint8Array.from({ length: 256 }, (_, i) => i)];
  for (let length = 1; length <= 7; length++) samples.push(crypto.getRandomValues(new Uint8Array(length)));
  samples.push(Uint8Array.from({ length: 100_001 }, (_, i) => (i * 7919) % 256));
  for (const bytes of samples) {
    const expected = reference(bytes);
    assert.equal(encodeBase64Portable(bytes), expected, `length ${bytes.length}`);
    assert.equal(encodeBase64Node?.(bytes), expected, `node:buffer, length ${bytes.length}`);
    const view = new Uint8Array([0xff, ...bytes, 0xfe]).subarray(1, bytes.length + 1);
    assert.equal(encodeBase64Node?.(view), expected, `node:buffer on a view, length ${bytes.length}`);
    assert.equal(toBase64(bytes), expected, `length ${bytes.length}`);
    assert.deepEqual(fromBase64(expected), bytes, `length ${bytes.length}`);
    const decoded = decodeBase64Node?.(expected);
    assert.deepEqual(decoded, bytes, `node:buffer decode, length ${bytes.length}`);
    assert.equal(decoded?.byteOffset, 0, "node:buffer decode is a copy owning its buffer");
    assert.equal(decoded?.buffer.byteLength, bytes.length, "node:buffer decode is a copy owning its buffer");
  }
});

Deno.test("base64: node:buffer decodes only canonical text; the rest goes to atob, as before", () => {
  assert.notEqual(decodeBase64Node, null, "Deno has node:buffer");
  // Text atob reads but that is not what the encoder writes: no padding, nonzero trailing bits, whitespace.
  for (const text of ["QQ", "QR==", "QU JD", "QUJD\n"]) {
    assert.equal(decodeBase64Node!(text), null, text);
    const binary = atob(text);
    assert.deepEqual(Array.from(decodeBase64Portable(text)), Array.from(binary, (c) => c.charCodeAt(0)), text);
  }
  // Text node:buffer would read (base64url, stray characters) but atob refuses.
  for (const text of ["ab-_", "ab!c", "QUJD$"]) {
    assert.equal(decodeBase64Node!(text), null, text);
    assert.throws(() => decodeBase64Portable(text), text);
  }
});

Deno.test("base64: text that is not base64 is refused, not decoded into other bytes", () => {
  for (const text of ["a", "ab!c", "abc$"]) assert.throws(() => fromBase64(text), text);
});
