// mandelbrot: ABI checks (ranges that keep 32-bit fixed point from overflowing) and hand-checkable counts.
#include "kernel_test_support.hpp"

namespace ec::kernels::test {
namespace {

const kernel_spec& k() { return *find_kernel("mandelbrot"); }
constexpr std::int64_t one = std::int64_t{1} << 28;

sample view(std::int64_t x0, std::int64_t y0, std::int64_t dx, std::int64_t dy, std::int64_t w, std::int64_t h,
            std::int64_t max_iter) {
  return {{i32_param("x0", x0), i32_param("y0", y0), i32_param("dx", dx), i32_param("dy", dy), u32_param("width", w),
           u32_param("height", h), u32_param("max_iter", max_iter)},
          {},
          {}};
}

std::vector<std::uint32_t> counts(const sample& s) { return values<std::uint32_t>(run(k(), s)[0]); }

TEST_CASE("mandelbrot rejects each missing param and a param of the wrong dtype by name") {
  for (const char* name : {"x0", "y0", "dx", "dy", "width", "height", "max_iter"}) {
    sample s = view(0, 0, 1, 1, 4, 4, 10);
    drop_param(s, name);
    CHECK(bind_error(k(), s) == "missing param '" + std::string(name) + "'");
  }
  sample s = view(0, 0, 1, 1, 4, 4, 10);
  set_param(s, u32_param("dx", 1));
  CHECK(bind_error(k(), s) == "param 'dx' must be i32, got u32");
  s = view(0, 0, 1, 1, 4, 4, 10);
  set_param(s, i32_param("width", 4));
  CHECK(bind_error(k(), s) == "param 'width' must be u32, got i32");
}

TEST_CASE("mandelbrot rejects zero or oversized tiles, max_iter 0 or above 65536, and any input tensor") {
  CHECK(bind_error(k(), view(0, 0, 1, 1, 0, 4, 10)).find("param 'width'") != std::string::npos);
  CHECK(bind_error(k(), view(0, 0, 1, 1, 4, 65537, 10)).find("param 'height'") != std::string::npos);
  CHECK(bind_error(k(), view(0, 0, 1, 1, 4, 4, 0)).find("param 'max_iter'") != std::string::npos);
  CHECK(bind_error(k(), view(0, 0, 1, 1, 4, 4, 65537)).find("param 'max_iter'") != std::string::npos);
  CHECK(bind_error(k(), view(0, 0, 1, 1, 65536, 65536, 10)).find("pixels (width*height)") != std::string::npos);
  sample s = view(0, 0, 1, 1, 4, 4, 10);
  s.inputs.push_back(abi_tensor_f32("x"));
  CHECK(bind_error(k(), s) == "unknown input tensor 'x'");
}

TEST_CASE("mandelbrot rejects a view whose first or last pixel leaves -4 <= x < 4 and accepts one ending at the edge") {
  CHECK(bind_error(k(), view(4 * one, 0, 1, 1, 4, 4, 10)).find("param 'x0'") != std::string::npos);
  CHECK(bind_error(k(), view(0, -4 * one - 1, 1, 1, 4, 4, 10)).find("param 'y0'") != std::string::npos);
  CHECK(bind_error(k(), view(0, 0, one, 1, 5, 4, 10)).find("real part of the last pixel") != std::string::npos);
  CHECK(bind_error(k(), view(0, 0, 1, -one, 4, 6, 10)).find("imaginary part of the last pixel") != std::string::npos);
  CHECK(bind(k(), view(-4 * one, 0, 2 * one - 1, -one, 5, 5, 10)).ok());                // x ends just below 4, y at -4
  CHECK(bind(k(), view(-4 * one, -4 * one, 8 * one - 1, 8 * one - 1, 2, 2, 10)).ok());  // both corners
}

TEST_CASE("mandelbrot counts max_iter inside the set and the escape iteration outside, by hand") {
  // c = -0.5 (main cardioid), -0.25i, -1.1 (period-2 bulb): never escape. c = 2.5: |c|^2 > 4 after one step;
  // c = 0.5: 0, .5, .75, 1.0625, 1.62890625, 3.15..., escapes when |z|^2 > 4: at n = 5.
  CHECK(counts(view(-one / 2, 0, 0, 0, 1, 1, 500)) == std::vector<std::uint32_t>{500});
  CHECK(counts(view(0, -one / 4, 0, 0, 1, 1, 500)) == std::vector<std::uint32_t>{500});
  CHECK(counts(view(-11 * one / 10, 0, 0, 0, 1, 1, 500)) == std::vector<std::uint32_t>{500});
  CHECK(counts(view(5 * one / 2, 0, 0, 0, 1, 1, 500)) == std::vector<std::uint32_t>{1});
  CHECK(counts(view(one / 2, 0, 0, 0, 1, 1, 500)) == std::vector<std::uint32_t>{5});
}

TEST_CASE("mandelbrot with max_iter 1 counts 1 everywhere, since z = 0 never escapes first") {
  const auto c = counts(view(-4 * one, -4 * one, one, one, 8, 8, 1));
  CHECK(c == std::vector<std::uint32_t>(64, 1));
}

TEST_CASE("mandelbrot over the whole legal square stays bounded: corners escape at once, counts <= max_iter") {
  const sample s = k().generate(std::vector<std::uint64_t>{33, 17}, 1, sample_data::adversarial);
  const auto c = values<std::uint32_t>(run(k(), s, uneven_for)[0]);
  REQUIRE(c.size() == 33 * 17);
  CHECK(c.front() == 1);
  CHECK(c.back() == 1);
  CHECK(std::all_of(c.begin(), c.end(), [](std::uint32_t v) { return v >= 1 && v <= 4096; }));
  CHECK(std::count(c.begin(), c.end(), 4096u) > 0);
}

TEST_CASE("mandelbrot lays counts out row-major as height x width and launches 16x16 groups") {
  auto b = bind(k(), view(0, 0, 1, 1, 17, 3, 10));
  REQUIRE(b.ok());
  CHECK(b->outputs[0].shape == std::vector<std::uint64_t>{3, 17});
  CHECK(b->groups == std::array<std::uint64_t, 2>{2, 1});
  // Row 0 is c = -2, -1 (inside); row 1 is c = -2+i (escapes at n = 1), -1+i (at n = 3, see the known answer).
  const auto c = counts(view(-2 * one, 0, one, one, 2, 2, 50));
  CHECK(c == std::vector<std::uint32_t>{50, 50, 1, 3});
}

}  // namespace
}  // namespace ec::kernels::test
