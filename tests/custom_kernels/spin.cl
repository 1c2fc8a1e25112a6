// Custom-kernel test code that never terminates: a constant-true loop with volatile stores.
__kernel void spin(__global const float* x, volatile __global float* y) {
  const size_t i = get_global_id(0);
  float v = x[i];
  for (;;) {
    v += 1.0f;
    y[i] = v;
  }
}
