#include "mosquitto_broker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ec::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Asks the kernel for a free loopback port. Another process may take it before mosquitto binds it: the caller
// detects that from mosquitto's exit and log ("Address already in use") and tries another one.
std::uint16_t pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket(): " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot pick a port: " + err);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool tcp_accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& output) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

}  // namespace

std::string acl_text(std::string_view region, std::span<const std::string> aggregators) {
  const std::string p = "ec/v1/" + std::string(region);
  std::string out;
  out += "# edgecompute ACL for region '" + std::string(region) +
         "' (protocol.md, \"Topics (MQTT v5) and broker ACLs\").\n";
  out +=
      "# `pattern` lines apply to every authenticated user; %u is the username, which for an agent is its agent_id.\n";
  out += "# Agents publish only their own hello (also their will), WorkRequests and ResultBatches...\n";
  out += "pattern write " + p + "/agents/%u/hello\n";
  out += "pattern write " + p + "/work\n";
  out += "pattern write " + p + "/results\n";
  out += "# ...and read only their own tasks, receipts and control, and the region-wide control.\n";
  out +=
      "# Nothing grants an agent read on " + p + "/work or " + p + "/results, so $share/... delivers nothing to it.\n";
  out += "pattern read " + p + "/agents/%u/tasks\n";
  out += "pattern read " + p + "/agents/%u/receipts\n";
  out += "pattern read " + p + "/agents/%u/control\n";
  out += "pattern read " + p + "/control\n";
  for (const auto& name : aggregators) {
    out += "\n# Aggregator '" + name + "': the shared work and result queues, every agent's hello, and the\n";
    out += "# agent-bound topics.\n";
    out += "user " + name + "\n";
    out += "topic read $share/aggregators/" + p + "/work\n";
    out += "topic read $share/aggregators/" + p + "/results\n";
    out += "topic read " + p + "/work\n";
    out += "topic read " + p + "/results\n";
    out += "topic read " + p + "/agents/+/hello\n";
    out += "topic write " + p + "/agents/+/tasks\n";
    out += "topic write " + p + "/agents/+/receipts\n";
    out += "topic write " + p + "/agents/+/control\n";
    out += "topic write " + p + "/control\n";
  }
  return out;
}

int run_command(const std::vector<std::string>& argv, const fs::path& output) {
  pid_t pid = -1;
  try {
    pid = spawn(argv, output);
  } catch (const std::exception&) {
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return exit_status(status);
}

std::pair<fs::path, fs::path> test_pki::client(std::string_view name) const {
  return {dir / (std::string(name) + ".crt"), dir / (std::string(name) + ".key")};
}

namespace {

void run_openssl(const fs::path& dir, const std::vector<std::string>& argv) {
  const fs::path log = dir / "openssl.log";
  if (run_command(argv, log) != 0) throw std::runtime_error("openssl failed:\n" + read_file(log));
}

// A key and a certificate for CN=name signed by the PKI's CA, with the given X.509 v3 extensions.
std::pair<fs::path, fs::path> issue_certificate(const test_pki& pki, const std::string& name, const std::string& ext) {
  const fs::path& dir = pki.dir;
  const fs::path key = dir / (name + ".key");
  const fs::path csr = dir / (name + ".csr");
  const fs::path crt = dir / (name + ".crt");
  const fs::path extfile = dir / (name + ".ext");
  write_file(extfile, ext);
  run_openssl(dir, {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key.string(), "-out", csr.string(), "-subj", "/CN=" + name});
  run_openssl(dir, {"openssl", "x509", "-req", "-in", csr.string(), "-CA", pki.ca_cert.string(), "-CAkey",
                    (dir / "ca.key").string(), "-CAcreateserial", "-out", crt.string(), "-days", "2", "-extfile",
                    extfile.string()});
  return {crt, key};
}

}  // namespace

void issue_client_certificate(const test_pki& pki, const std::string& name) {
  issue_certificate(pki, name,
                    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
}

test_pki make_test_pki(const fs::path& dir, const std::vector<std::string>& client_names) {
  fs::create_directories(dir);
  test_pki pki;
  pki.dir = dir;
  pki.ca_cert = dir / "ca.crt";
  run_openssl(dir, {"openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    (dir / "ca.key").string(),
                    "-out",
                    pki.ca_cert.string(),
                    "-days",
                    "2",
                    "-subj",
                    "/CN=edgecompute test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign"});
  const auto server = issue_certificate(pki, "server",
                                        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  pki.server_cert = server.first;
  pki.server_key = server.second;
  for (const auto& name : client_names) issue_client_certificate(pki, name);
  return pki;
}

mosquitto_broker::mosquitto_broker(broker_options options) : options_(std::move(options)) {
  std::string templ = (fs::temp_directory_path() / "ec-mosquitto-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  dir_ = templ;
  write_file(dir_ / "acl", acl_text(options_.region, options_.aggregators));
}

mosquitto_broker::~mosquitto_broker() {
  try {
    stop();
  } catch (...) {
  }
  if (std::getenv("EC_KEEP_BROKER_DIR") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void mosquitto_broker::add_user(const std::string& name, const std::string& password) {
  const fs::path file = dir_ / "passwd";
  std::vector<std::string> argv = {"mosquitto_passwd", "-b"};
  if (users_.empty()) argv.emplace_back("-c");
  argv.insert(argv.end(), {file.string(), name, password});
  if (run_command(argv, dir_ / "mosquitto_passwd.log") != 0) {
    throw std::runtime_error("mosquitto_passwd failed:\n" + read_file(dir_ / "mosquitto_passwd.log"));
  }
  users_.push_back(name);
}

void mosquitto_broker::write_config() const {
  std::string c;
  c += "# written by ec::test::mosquitto_broker\n";
  c += "listener " + std::to_string(port_) + " 127.0.0.1\n";
  if (options_.tls) {
    c += "cafile " + options_.tls->ca_file + "\n";
    c += "certfile " + options_.tls->cert_file + "\n";
    c += "keyfile " + options_.tls->key_file + "\n";
    c += std::string("require_certificate ") + (options_.tls->require_certificate ? "true" : "false") + "\n";
    c += std::string("use_identity_as_username ") + (options_.tls->use_identity_as_username ? "true" : "false") + "\n";
  }
  c += "allow_anonymous false\n";
  if (!users_.empty()) c += "password_file " + (dir_ / "passwd").string() + "\n";
  c += "acl_file " + (dir_ / "acl").string() + "\n";
  c += "persistence false\n";
  // stderr is unbuffered; stdout redirected to a file is block-buffered and loses lines on SIGKILL.
  c += "log_dest stderr\n";
  c += "log_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_type subscribe\n";
  c += "connection_messages true\n";
  c += "max_packet_size " + std::to_string(options_.max_packet_size) + "\n";
  c += "max_inflight_messages " + std::to_string(options_.max_inflight_messages) + "\n";
  c += "max_queued_messages " + std::to_string(options_.max_queued_messages) + "\n";
  // Without it Nagle's algorithm holds small packets back for the peer's delayed ACK: ~44 ms per hop on loopback.
  c += "set_tcp_nodelay true\n";
  // See the header: as root, mosquitto would switch to `mosquitto` before reading the password and ACL files.
  if (::geteuid() == 0) c += "user root\n";
  write_file(dir_ / "mosquitto.conf", c);
}

bool mosquitto_broker::spawn_and_wait() {
  write_config();
  const fs::path log = dir_ / "mosquitto.log";
  std::error_code ec;
  const auto offset = fs::exists(log) ? fs::file_size(log, ec) : 0;
  pid_ = spawn({"mosquitto", "-c", (dir_ / "mosquitto.conf").string()}, log);

  // Ready = our child logged "running" (listeners are open) and the port accepts TCP connections.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      const std::string text = read_file(log).substr(offset);
      if (text.find("Address already in use") != std::string::npos) return false;
      throw std::runtime_error("mosquitto exited with status " + std::to_string(exit_status(status)) + ":\n" + text);
    }
    const std::string text = read_file(log);
    if (text.size() > offset && text.find(" running", offset) != std::string::npos && tcp_accepts(port_)) return true;
    std::this_thread::sleep_for(5ms);  // bounded poll for process start-up
  }
  signal_and_reap(SIGKILL);
  throw std::runtime_error("mosquitto did not start within 10 s:\n" + read_file(log));
}

void mosquitto_broker::start() {
  if (running()) return;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = pick_free_port();
    if (spawn_and_wait()) return;
  }
  throw std::runtime_error("no free port for mosquitto after 20 attempts");
}

void mosquitto_broker::restart() {
  stop();
  if (!spawn_and_wait()) {
    throw std::runtime_error("port " + std::to_string(port_) + " was taken while the broker was down");
  }
}

void mosquitto_broker::signal_and_reap(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(2ms);  // bounded poll for process exit
  }
  pid_ = -1;
}

void mosquitto_broker::stop() { signal_and_reap(SIGTERM); }

void mosquitto_broker::kill() { signal_and_reap(SIGKILL); }

std::string mosquitto_broker::url() const {
  return (options_.tls ? "mqtts://localhost:" : "mqtt://127.0.0.1:") + std::to_string(port_);
}

std::string mosquitto_broker::log_text() const { return read_file(dir_ / "mosquitto.log"); }

}  // namespace ec::test
