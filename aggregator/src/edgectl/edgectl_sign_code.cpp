// edgectl sign-code: signs custom kernel code with an operator's code key (protocol.md, "Custom kernels"), offline
// and without the region database. Prints the two fields a custom task carries, as hex.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "ec/protocol/code_signature.hpp"
#include "ec/protocol/mbedtls_signer.hpp"
#include "edgectl/edgectl_commands.hpp"

namespace ec::aggregator::edgectl {
namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int fail_with(const std::string& why) {
  std::fprintf(stderr, "edgectl sign-code: %s\n", why.c_str());
  return 1;
}

}  // namespace

int sign_code(const std::string& key_file, const std::string& spirv_file, const std::string& opencl_file,
              const std::string& entry) {
  std::string spirv, opencl;
  if (!spirv_file.empty() && !read_file(spirv_file, spirv)) return fail_with("cannot read " + spirv_file);
  if (!opencl_file.empty() && !read_file(opencl_file, opencl)) return fail_with("cannot read " + opencl_file);
  if (spirv.empty() && opencl.empty()) return fail_with("give --spirv and/or --opencl");
  if (spirv.size() % 4 != 0) return fail_with(spirv_file + " is not a whole number of 32-bit words");
  auto key = protocol::private_key::load(key_file);
  if (!key) return fail_with(key_file + ": " + key.err().what());
  const protocol::mbedtls_signer signer(std::move(*key));
  const auto sig = protocol::sign_code({protocol::as_bytes(spirv), opencl, entry}, signer);
  if (!sig) return fail_with(sig.err().what());
  std::printf("code_key_id %s\ncode_signature %s\n", protocol::to_hex(signer.key().id()).c_str(),
              protocol::to_hex(*sig).c_str());
  return 0;
}

}  // namespace ec::aggregator::edgectl
