// counts[py, px] = escape iteration of c = (x0 + px*dx, y0 + py*dy) in Q3.28 fixed point; the iteration, its
// 32x32->64-bit products (mul_hi + low product) and its shifts are exactly those of mandelbrot.comp.
uint magnitude(int v) { return v < 0 ? 0u - (uint)v : (uint)v; }

uint escape_count(int cx, int cy, uint max_iter) {
  int x = 0, y = 0;
  uint n = 0;
  for (; n < max_iter; ++n) {
    const uint ax = magnitude(x), ay = magnitude(y);
    const uint xxh = mul_hi(ax, ax), xxl = ax * ax, yyh = mul_hi(ay, ay), yyl = ay * ay;
    const uint sl = xxl + yyl;
    const uint sh = xxh + yyh + (sl < xxl ? 1u : 0u);
    if (sh > (1u << 26) || (sh == (1u << 26) && sl != 0u)) break;  // x*x + y*y > 4.0 in Q56
    const uint dl = xxl - yyl;
    const uint dh = xxh - yyh - (xxl < yyl ? 1u : 0u);
    const uint xyh = (uint)mul_hi(x, y), xyl = (uint)x * (uint)y;
    const int nx = (int)((dl >> 28) | (dh << 4)) + cx;
    const int ny = (int)((xyl >> 27) | (xyh << 5)) + cy;
    x = nx;
    y = ny;
  }
  return n;
}

__kernel void mandelbrot(__global uint* counts, int x0, int y0, int dx, int dy, uint width, uint height,
                         uint max_iter) {
  const uint sx = (uint)get_global_size(0), sy = (uint)get_global_size(1);
  for (uint py = (uint)get_global_id(1); py < height; py += sy)
    for (uint px = (uint)get_global_id(0); px < width; px += sx)
      counts[py * width + px] = escape_count(x0 + (int)px * dx, y0 + (int)py * dy, max_iter);
}
