/*
 * roborl_frame.h — reference implementation of roborl's compact serial protocol (version 1)
 * for microcontroller firmware. Header-only, C99, no allocation. Spec: docs/serial-protocol.md.
 *
 *   frame  = COBS(packet) 0x00
 *   packet = version:u8 (=1) | type:u8 | seq:u16 | body... | crc:u16   (little-endian)
 *   crc    = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over version..body
 *
 * Typical Arduino loop: read bytes into a buffer until 0x00, call rrl_decode_command(); send
 * state with rrl_encode_state() at the control rate; on a stale command, stop the motors.
 */
#ifndef ROBORL_FRAME_H
#define ROBORL_FRAME_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define RRL_VERSION 1
#define RRL_STATE 0x01
#define RRL_COMMAND 0x02
#define RRL_RESET 0x03
#define RRL_ACK 0x04
#define RRL_ESTOP 0x05
#define RRL_HEARTBEAT 0x06
#define RRL_ERROR 0x7F
#define RRL_MAX_JOINTS 32

static inline uint16_t rrl_crc16(const uint8_t *p, size_t n) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)p[i] << 8;
    for (int k = 0; k < 8; k++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

/* COBS-encodes n bytes into out (room for n + n/254 + 2) and appends the 0x00 delimiter.
   Returns the frame length. */
static inline size_t rrl_cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
  size_t code_at = 0, o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == 0) {
      out[code_at] = code; code_at = o++; code = 1;
      continue;
    }
    out[o++] = in[i];
    if (++code == 0xFF) { out[code_at] = code; code_at = o++; code = 1; }
  }
  out[code_at] = code;
  out[o++] = 0;
  return o;
}

/* Decodes one COBS block (without the delimiter) into out, which holds cap bytes. Returns the
   decoded length, or -1 for a malformed block or one that would not fit in cap bytes (every
   write is checked against cap: the decoded length of a block is only known once decoded). */
static inline int rrl_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = in[i++];
    if (code == 0 || i + code - 1 > n) return -1;
    for (uint8_t k = 1; k < code; k++) {
      if (in[i] == 0 || o >= cap) return -1;
      out[o++] = in[i++];
    }
    if (code != 0xFF && i < n) {
      if (o >= cap) return -1;
      out[o++] = 0;
    }
  }
  return (int)o;
}

static inline void rrl_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void rrl_put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void rrl_put_f32(uint8_t *p, float f) { uint32_t v; memcpy(&v, &f, 4); rrl_put_u32(p, v); }
static inline float rrl_get_f32(const uint8_t *p) {
  uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
  float f; memcpy(&f, &v, 4); return f;
}

/* Frames a packet body: adds version, type, seq and CRC, then COBS. out needs len + 16 bytes.
   Returns the frame length, or 0 for a body longer than the largest message. */
static inline size_t rrl_frame(uint8_t type, uint16_t seq, const uint8_t *body, size_t len, uint8_t *out) {
  uint8_t packet[4 + 5 + 8 * RRL_MAX_JOINTS + 2];
  if (len > sizeof(packet) - 6) return 0;
  packet[0] = RRL_VERSION; packet[1] = type; rrl_put_u16(packet + 2, seq);
  memcpy(packet + 4, body, len);
  rrl_put_u16(packet + 4 + len, rrl_crc16(packet, 4 + len));
  return rrl_cobs_encode(packet, 4 + len + 2, out);
}

/* STATE: timestamp (µs), n joint positions q and velocities qd. Returns the frame length. */
static inline size_t rrl_encode_state(uint16_t seq, uint32_t t_us, const float *q, const float *qd, uint8_t n, uint8_t *out) {
  uint8_t body[5 + 8 * RRL_MAX_JOINTS];
  if (n > RRL_MAX_JOINTS) return 0;
  rrl_put_u32(body, t_us); body[4] = n;
  for (uint8_t i = 0; i < n; i++) { rrl_put_f32(body + 5 + 4 * i, q[i]); rrl_put_f32(body + 5 + 4 * (n + i), qd[i]); }
  return rrl_frame(RRL_STATE, seq, body, 5 + 8 * (size_t)n, out);
}

/* Decodes a COMMAND frame (bytes before the 0x00). Returns n values, or -1 for anything else. */
static inline int rrl_decode_command(const uint8_t *frame, size_t len, uint8_t *mode, float *values, uint16_t *seq) {
  uint8_t p[4 + 2 + 4 * RRL_MAX_JOINTS + 2];
  int n = rrl_cobs_decode(frame, len, p, sizeof(p));
  if (n < 8 || p[0] != RRL_VERSION || p[1] != RRL_COMMAND) return -1;
  uint16_t crc = (uint16_t)(p[n - 2] | (p[n - 1] << 8));
  if (crc != rrl_crc16(p, (size_t)n - 2)) return -1;
  uint8_t count = p[5];
  if (n != 4 + 2 + 4 * count + 2 || count > RRL_MAX_JOINTS) return -1;
  *seq = (uint16_t)(p[2] | (p[3] << 8));
  *mode = p[4];
  for (uint8_t i = 0; i < count; i++) values[i] = rrl_get_f32(p + 6 + 4 * i);
  return count;
}

#endif /* ROBORL_FRAME_H */
