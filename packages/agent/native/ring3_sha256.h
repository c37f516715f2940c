// SHA-256 (FIPS 180-4) for the exec guard: the decision thread hashes executables itself, so a verdict never
// waits for JavaScript.
#ifndef RING3_SHA256_H
#define RING3_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t state[8];
  uint64_t length;  // bytes hashed so far
  uint8_t block[64];
  size_t used;  // bytes in block
} ring3_sha256_t;

void ring3_sha256_init(ring3_sha256_t* ctx);
void ring3_sha256_update(ring3_sha256_t* ctx, const uint8_t* data, size_t length);
void ring3_sha256_final(ring3_sha256_t* ctx, uint8_t digest[32]);

#endif
