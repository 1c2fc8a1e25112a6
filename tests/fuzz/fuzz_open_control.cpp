// libFuzzer target: open() as Control, which an agent opens to pause, drain or cancel.
// Links ec_protocol_fuzzing, whose open() skips the signature check, so mutated inputs reach the readers.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ec::fuzz::open_and_walk(ec::protocol::message_kind::control, data, size);
}
