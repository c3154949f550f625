/* Cross-checks roborl_frame.h against the TypeScript implementation (robots/serial/framed/protocol.test.ts):
   mode "state": prints the STATE frame for fixed values as hex;
   mode "command <hex>": decodes a COMMAND frame and prints "seq mode v0 v1 ...". */
#include <stdio.h>
#include <stdlib.h>
#include "roborl_frame.h"

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "state") == 0) {
    float q[3] = {0.5f, -1.25f, 3.0f}, qd[3] = {0.0f, 2.5f, -0.125f};
    uint8_t out[128];
    size_t n = rrl_encode_state(513, 123456789u, q, qd, 3, out);
    for (size_t i = 0; i < n; i++) printf("%02X%s", out[i], i + 1 < n ? " " : "\n");
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "command") == 0) {
    uint8_t frame[256]; size_t len = 0;
    for (const char *h = argv[2]; h[0] && h[1] && len < sizeof frame; h += (h[2] == ' ' ? 3 : 2)) frame[len++] = (uint8_t)strtol((char[]){h[0], h[1], 0}, NULL, 16);
    if (len > 0 && frame[len - 1] == 0) len--;
    uint8_t mode; float v[RRL_MAX_JOINTS]; uint16_t seq;
    int n = rrl_decode_command(frame, len, &mode, v, &seq);
    if (n < 0) { printf("invalid\n"); return 0; }
    printf("%u %u", seq, mode);
    for (int i = 0; i < n; i++) printf(" %g", v[i]);
    printf("\n");
    return 0;
  }
  fprintf(stderr, "usage: reference-check state | command <hex>\n");
  return 2;
}
