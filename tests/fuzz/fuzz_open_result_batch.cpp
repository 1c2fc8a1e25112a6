// libFuzzer target: open() as ResultBatch, then every nested Result blob and the output digests
// the aggregator recomputes.
// Links ec_protocol_fuzzing, whose open() skips the signature check, so mutated inputs reach the readers.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ec::fuzz::open_and_walk(ec::protocol::message_kind::result_batch, data, size);
}
