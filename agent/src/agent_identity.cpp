// Keys are made once, on the device, and the private half is only ever read by the agent itself.
#include "ec/agent/agent_identity.hpp"

#include "ec/protocol/mbedtls_signer.hpp"

namespace ec::agent {

result<protocol::public_key> ensure_identity(const std::filesystem::path& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return fail(error_code::io_error, "cannot create " + state_dir.string() + ": " + ec.message());
  const auto key_path = state_dir / private_key_file;
  if (std::filesystem::exists(key_path)) {
    auto key = protocol::private_key::load(key_path);
    if (!key) return key.err();
    return key->public_half();
  }
  auto key = protocol::private_key::generate();
  if (!key) return key.err();
  if (auto r = key->save(key_path); !r) return r.err();
  if (auto r = protocol::save_public_key(key->public_half(), state_dir / public_key_file); !r) return r.err();
  return key->public_half();
}

result<std::unique_ptr<protocol::signer>> load_signer(const std::filesystem::path& state_dir) {
  auto key = protocol::private_key::load(state_dir / private_key_file);
  if (!key) return key.err();
  return std::unique_ptr<protocol::signer>(std::make_unique<protocol::mbedtls_signer>(std::move(*key)));
}

result<protocol::public_key> load_public_key(const std::filesystem::path& state_dir) {
  auto key = protocol::private_key::load(state_dir / private_key_file);
  if (!key) return key.err();
  return key->public_half();
}

}  // namespace ec::agent
