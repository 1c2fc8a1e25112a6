// Custom-kernel test code that outlasts any test deadline. It cannot loop forever on lavapipe: llvmpipe's shader
// compiler caps loops (gallivm's loop limiter ends a loop nest after 65,535 iterations, its guard against hung
// shaders; a `while (true)` of atomic adds returned at once with y = 65535). So each of those iterations does a
// long chain of dependent sines: ~65,535 x 512 sines per invocation, minutes of CPU, far beyond the deadline.
#version 450
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) buffer Y { uint y[]; };

#define S2(v) v = sin(v) + 1.0; v = sin(v) + 1.0;
#define S8(v) S2(v) S2(v) S2(v) S2(v)
#define S32(v) S8(v) S8(v) S8(v) S8(v)
#define S128(v) S32(v) S32(v) S32(v) S32(v)
#define S512(v) S128(v) S128(v) S128(v) S128(v)

void main() {
  const uint i = gl_GlobalInvocationID.x;
  float v = x[i];
  // A bound the compiler cannot know, so the loop is neither folded nor unrolled; the limiter ends it on lavapipe.
  const uint n = floatBitsToUint(x[i]) | 0x7fffffffu;
  for (uint a = 0u; a < n; ++a) {
    S512(v)
    atomicAdd(y[i], 1u);
  }
  y[i] += floatBitsToUint(v) & 1u;
}
