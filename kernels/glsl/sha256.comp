// digests[i] = SHA-256 of msgs[i] (FIPS 180-4), count messages of len bytes each; one invocation per message,
// grid-stride over a 2-D launch. Vulkan 1.1 core has no 8-bit storage: the u8 tensors are read and written as
// uint words (little-endian bytes); the backend binds the input rounded up to a multiple of 4 bytes.
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(std430, set = 0, binding = 0) readonly buffer Msgs { uint msgs[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Digests { uint digests[]; };
layout(push_constant) uniform Scalars { uint count; uint len; } p;

const uint k[64] = uint[](
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u);

uint rotr(uint v, uint s) { return (v >> s) | (v << (32 - s)); }
uint byteswap(uint v) { return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24); }

// Byte q of the padded message that starts at byte `base`: data, then 0x80, then zeros (length added later).
uint padded_byte(uint base, uint q) {
  if (q < p.len) return (msgs[(base + q) >> 2] >> (((base + q) & 3u) * 8u)) & 0xffu;
  return q == p.len ? 0x80u : 0u;
}

void compress(inout uint h[8], uint w[16]) {
  uint s[8] = h;
  for (uint t = 0; t < 64; ++t) {
    if (t >= 16) {
      const uint w1 = w[(t + 1) & 15u], w14 = w[(t + 14) & 15u];
      w[t & 15u] += (rotr(w1, 7) ^ rotr(w1, 18) ^ (w1 >> 3)) + w[(t + 9) & 15u] +
                    (rotr(w14, 17) ^ rotr(w14, 19) ^ (w14 >> 10));
    }
    const uint t1 = s[7] + (rotr(s[4], 6) ^ rotr(s[4], 11) ^ rotr(s[4], 25)) + ((s[4] & s[5]) ^ (~s[4] & s[6])) +
                    k[t] + w[t & 15u];
    const uint t2 = (rotr(s[0], 2) ^ rotr(s[0], 13) ^ rotr(s[0], 22)) + ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
    s[7] = s[6]; s[6] = s[5]; s[5] = s[4]; s[4] = s[3] + t1;
    s[3] = s[2]; s[2] = s[1]; s[1] = s[0]; s[0] = t1 + t2;
  }
  for (uint i = 0; i < 8; ++i) h[i] += s[i];
}

void digest(uint m) {
  uint h[8] = uint[](0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au, 0x510e527fu, 0x9b05688cu, 0x1f83d9abu,
                     0x5be0cd19u);
  const uint base = m * p.len;
  const uint blocks = (p.len + 9 + 63) / 64;
  for (uint blk = 0; blk < blocks; ++blk) {
    uint w[16];
    for (uint j = 0; j < 16; ++j) {
      const uint q = blk * 64 + j * 4;
      w[j] = (padded_byte(base, q) << 24) | (padded_byte(base, q + 1) << 16) | (padded_byte(base, q + 2) << 8) |
             padded_byte(base, q + 3);
    }
    if (blk + 1 == blocks) {  // the message length in bits, big-endian, in the last 8 bytes
      w[14] = p.len >> 29;
      w[15] = p.len << 3;
    }
    compress(h, w);
  }
  for (uint i = 0; i < 8; ++i) digests[m * 8 + i] = byteswap(h[i]);  // big-endian digest bytes
}

void main() {
  const uint width = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  const uint stride = width * gl_NumWorkGroups.y * gl_WorkGroupSize.y;
  for (uint m = gl_GlobalInvocationID.y * width + gl_GlobalInvocationID.x; m < p.count; m += stride) digest(m);
}
