// libFuzzer target: open() as AgentHello, the one self-certifying kind (its body is verified before any
// signature, check 4).
// Links ec_protocol_fuzzing, whose open() skips the signature check, so mutated inputs reach the readers.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ec::fuzz::open_and_walk(ec::protocol::message_kind::agent_hello, data, size);
}
