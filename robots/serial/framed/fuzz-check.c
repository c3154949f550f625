/* Fuzzes roborl_frame.h under AddressSanitizer and UBSan (built by robots/serial/framed/protocol.test.ts):
   COMMAND decoding of frames of every length from 0 to well past the decode buffer — all-0x01
   frames (the longest decoding for their length), all-0xFF, random bytes, and valid frames with
   random byte flips — and STATE encoding for every joint count up to past RRL_MAX_JOINTS.
   Any out-of-bounds access aborts the program; it prints the counts when done. */
#include <stdio.h>
#include <stdlib.h>
#include "roborl_frame.h"

static uint32_t rng_state = 12345u;
static uint32_t next_u32(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 17; rng_state ^= rng_state << 5; return rng_state; }

/* Decodes exactly len bytes from a heap copy, so ASan sees any read past the frame too. */
static int decode(const uint8_t *src, size_t len) {
  uint8_t *frame = malloc(len ? len : 1);
  memcpy(frame, src, len);
  uint8_t mode; float v[RRL_MAX_JOINTS]; uint16_t seq;
  int n = rrl_decode_command(frame, len, &mode, v, &seq);
  free(frame);
  return n;
}

int main(int argc, char **argv) {
  size_t max_len = argc > 1 ? (size_t)atoi(argv[1]) : 400;
  long decoded = 0, refused = 0;
  uint8_t buf[1024];
  for (size_t len = 0; len <= max_len && len <= sizeof buf; len++) {
    memset(buf, 0x01, len); (decode(buf, len) >= 0 ? decoded++ : refused++);
    memset(buf, 0xFF, len); (decode(buf, len) >= 0 ? decoded++ : refused++);
    for (int trial = 0; trial < 200; trial++) {
      for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(next_u32() % 4 == 0 ? 0xFF : next_u32() | 1);
      (decode(buf, len) >= 0 ? decoded++ : refused++);
    }
  }
  /* Valid COMMAND frames for every joint count, with and without a flipped byte. */
  for (int count = 0; count <= RRL_MAX_JOINTS; count++) {
    uint8_t body[2 + 4 * RRL_MAX_JOINTS]; body[0] = 0; body[1] = (uint8_t)count;
    for (int i = 0; i < count; i++) rrl_put_f32(body + 2 + 4 * i, (float)i * 0.5f);
    uint8_t out[2 + 4 * RRL_MAX_JOINTS + 16];
    size_t n = rrl_frame(RRL_COMMAND, 7, body, 2 + 4 * (size_t)count, out);
    if (n == 0 || decode(out, n - 1) != count) { printf("valid frame with %d joints not decoded\n", count); return 1; }
    decoded++;
    for (int trial = 0; trial < 100; trial++) {
      memcpy(buf, out, n - 1);
      buf[next_u32() % (n - 1)] ^= (uint8_t)(1u << (next_u32() % 8));
      (decode(buf, n - 1) >= 0 ? decoded++ : refused++);
    }
  }
  /* STATE encoding: up to RRL_MAX_JOINTS joints encode; more are refused. */
  float q[RRL_MAX_JOINTS + 8] = {0}, qd[RRL_MAX_JOINTS + 8] = {0};
  uint8_t state[5 + 8 * RRL_MAX_JOINTS + 16 + 8];
  for (int n = 0; n <= RRL_MAX_JOINTS + 8; n++) {
    size_t k = rrl_encode_state(1, 2, q, qd, (uint8_t)n, state);
    if ((n <= RRL_MAX_JOINTS) != (k > 0)) { printf("state with %d joints: length %zu\n", n, k); return 1; }
  }
  printf("decoded %ld refused %ld\n", decoded, refused);
  return 0;
}
