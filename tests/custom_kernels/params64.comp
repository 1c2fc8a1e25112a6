// Custom-kernel test code: 8-byte params as push constants at std430 offsets. The block is u32 a (offset 0),
// f64 b (8, after a 4-byte gap), u32 c (16), u64 d (24, after another gap); one invocation writes the bit
// patterns it reads, and 2 * b computed in double, into y[0..7], so a wrong offset shows as a wrong word.
#version 450
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
layout(local_size_x = 1) in;
layout(std430, set = 0, binding = 0) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform Params {
  uint a;
  double b;
  uint c;
  uint64_t d;
} p;

void main() {
  y[0] = p.a;
  const uvec2 b = unpackDouble2x32(p.b);
  y[1] = b.x;
  y[2] = b.y;
  y[3] = p.c;
  y[4] = uint(p.d & 0xffffffffUL);
  y[5] = uint(p.d >> 32);
  const uvec2 twice = unpackDouble2x32(2.0LF * p.b);
  y[6] = twice.x;
  y[7] = twice.y;
}
