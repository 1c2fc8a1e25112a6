// Versions, status names and the per-thread error message (like errno: the last failed call on this thread).
#include <string>

#include "c_api_instance.hpp"

namespace ec::agent::c_api {
namespace {

thread_local std::string last_error_message;

}  // namespace

edge_agent_status fail_call(edge_agent_status status, std::string message) {
  last_error_message = std::move(message);
  return status;
}

edge_agent_status ok_call() {
  last_error_message.clear();
  return EDGE_AGENT_OK;
}

edge_agent_status status_of(const error& e, edge_agent_status otherwise) {
  switch (e.code) {
    case error_code::invalid_key:
    case error_code::bad_signature:
    case error_code::crypto_error:
      return EDGE_AGENT_ERR_SIGNER;
    default:
      return otherwise;
  }
}

}  // namespace ec::agent::c_api

extern "C" {

unsigned edge_agent_api_version(void) { return EDGE_AGENT_API_VERSION; }

unsigned edge_agent_abi_version(void) { return EDGE_AGENT_ABI_VERSION; }

const char* edge_agent_status_name(edge_agent_status status) {
  switch (status) {
    case EDGE_AGENT_OK:
      return "EDGE_AGENT_OK";
    case EDGE_AGENT_ERR_INVALID_ARGUMENT:
      return "EDGE_AGENT_ERR_INVALID_ARGUMENT";
    case EDGE_AGENT_ERR_CONFIG:
      return "EDGE_AGENT_ERR_CONFIG";
    case EDGE_AGENT_ERR_ALREADY_EXISTS:
      return "EDGE_AGENT_ERR_ALREADY_EXISTS";
    case EDGE_AGENT_ERR_STATE:
      return "EDGE_AGENT_ERR_STATE";
    case EDGE_AGENT_ERR_SIGNER:
      return "EDGE_AGENT_ERR_SIGNER";
    case EDGE_AGENT_ERR_START:
      return "EDGE_AGENT_ERR_START";
    case EDGE_AGENT_ERR_IN_CALLBACK:
      return "EDGE_AGENT_ERR_IN_CALLBACK";
    case EDGE_AGENT_ERR_INTERNAL:
      return "EDGE_AGENT_ERR_INTERNAL";
    case EDGE_AGENT_STATUS_FORCE_INT_:
      break;
  }
  return "EDGE_AGENT_ERR_UNKNOWN";
}

const char* edge_agent_last_error(void) { return ec::agent::c_api::last_error_message.c_str(); }

}  // extern "C"
