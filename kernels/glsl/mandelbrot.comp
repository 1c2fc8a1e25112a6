// counts[py, px] = escape iteration of c = (x0 + px*dx, y0 + py*dy) in Q3.28 fixed point (value = bits / 2^28),
// integer arithmetic only so that every backend gives the same counts. One iteration n, from z = 0:
//   if x*x + y*y > 4 (exact, Q56 in 64 bits): stop, count = n;
//   x' = ((x*x - y*y) >> 28) + cx;  y' = ((x*y) >> 27) + cy   (arithmetic shifts: floor)
// count = max_iter if it never escapes. bind() keeps |cx|, |cy| <= 4, so x' and y' never overflow 32 bits.
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(std430, set = 0, binding = 0) writeonly buffer Counts { uint counts[]; };
layout(push_constant) uniform Scalars { int x0; int y0; int dx; int dy; uint width; uint height; uint max_iter; } p;

uint magnitude(int v) { return v < 0 ? 0u - uint(v) : uint(v); }  // |v|, also for v = -2^31

uint escape_count(int cx, int cy) {
  int x = 0, y = 0;
  uint n = 0;
  for (; n < p.max_iter; ++n) {
    uint xxh, xxl, yyh, yyl, carry, borrow;
    umulExtended(magnitude(x), magnitude(x), xxh, xxl);
    umulExtended(magnitude(y), magnitude(y), yyh, yyl);
    const uint sl = uaddCarry(xxl, yyl, carry);
    const uint sh = xxh + yyh + carry;  // x*x + y*y <= 2^63: no carry out
    if (sh > (1u << 26) || (sh == (1u << 26) && sl != 0u)) break;  // > 4.0 in Q56
    const uint dl = usubBorrow(xxl, yyl, borrow);
    const uint dh = xxh - yyh - borrow;
    int xyh, xyl;
    imulExtended(x, y, xyh, xyl);
    const int nx = int((dl >> 28) | (dh << 4)) + cx;                // bits 28..59 of x*x - y*y
    const int ny = int((uint(xyl) >> 27) | (uint(xyh) << 5)) + cy;  // bits 27..58 of x*y
    x = nx;
    y = ny;
  }
  return n;
}

void main() {
  const uint sx = gl_NumWorkGroups.x * gl_WorkGroupSize.x, sy = gl_NumWorkGroups.y * gl_WorkGroupSize.y;
  for (uint py = gl_GlobalInvocationID.y; py < p.height; py += sy) {
    for (uint px = gl_GlobalInvocationID.x; px < p.width; px += sx) {
      counts[py * p.width + px] = escape_count(p.x0 + int(px) * p.dx, p.y0 + int(py) * p.dy);
    }
  }
}
