#include "sandbox/docker/scope_proxy.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sandbox/docker/detached.h"
#include "transport/curl_http_client.h"

namespace phaedo::sandbox::docker {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = std::chrono::seconds(10);

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > 400) s = "…" + s.substr(s.size() - 400);
  return s.empty() ? "(nothing)" : s;
}

// Image references as the proxy records them: nothing that could leave the path.
bool plain_ref(const std::string& ref) {
  return !ref.empty() && ref.find("..") == std::string::npos &&
         ref.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/@-") ==
             std::string::npos;
}

}  // namespace

ScopePaths ScopePaths::of(const std::string& state_dir, const std::string& key) {
  ScopePaths p;
  p.dir = state_dir + "/dockerscope/" + key;
  p.sock_dir = p.dir + "/sock";
  p.socket = p.sock_dir + "/docker.sock";
  p.images = p.dir + "/images.json";
  p.log = p.dir + "/proxy.log";
  return p;
}

std::string ScopeProxy::docker_host() const {
  return "unix://" + scope_.profile.docker.api_socket_dir + "/docker.sock";
}

Result<std::string> ScopeProxy::binary() const {
  std::string path = scope_.profile.docker.dockerscope_binary;
  if (path.empty()) {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return make_error(ErrorKind::io, "cannot resolve /proc/self/exe: " + ec.message());
    path = (self.parent_path() / "phaedo-dockerscope").string();
  }
  if (::access(path.c_str(), X_OK) != 0) {
    return make_error(ErrorKind::not_found, "docker.dockerscope_binary " + path + " is not an executable file");
  }
  return path;
}

std::vector<std::string> ScopeProxy::argv(const std::string& binary, const std::string& cgroup_parent) const {
  const auto& d = scope_.profile.docker;
  std::vector<std::string> a = {binary,          "--socket=" + paths_.socket, "--socket-mode", "0666",
                                "--upstream",    d.socket,                    "--job",         names_.key,
                                "--runner",      names_.runner,               "--network",     names_.network,
                                "--images",      paths_.images,               "--log-file",    scope_.profile.log_file};
  if (d.memory_bytes) {
    for (const char* flag : {"--memory", "--memory-swap"}) a.insert(a.end(), {flag, std::to_string(*d.memory_bytes)});
  }
  if (d.cpus) a.insert(a.end(), {"--nano-cpus", std::to_string(static_cast<std::int64_t>(*d.cpus * 1e9))});
  if (d.pids_limit) a.insert(a.end(), {"--pids", std::to_string(*d.pids_limit)});
  for (const auto& cap : d.cap_add) a.insert(a.end(), {"--cap-allow", cap});
  if (!cgroup_parent.empty()) a.insert(a.end(), {"--cgroup-parent", cgroup_parent});
  return a;
}

Status ScopeProxy::make_dir(journal::Journal& journal) {
  if (paths_.socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return make_error(ErrorKind::invalid_input, "state_dir " + scope_.profile.state_dir +
                                                    " is too long for the job's Docker API socket " + paths_.socket);
  }
  if (auto s = journal.intend(kScopeDirKind, paths_.dir); !s) return s;
  std::error_code ec;
  fs::create_directories(fs::path(paths_.dir).parent_path(), ec);
  for (const auto& [path, mode] : {std::pair{paths_.dir, 0700}, std::pair{paths_.sock_dir, 0755}}) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return make_error(ErrorKind::io, "cannot create " + path + ": " + std::strerror(errno));
    }
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return make_error(ErrorKind::io, "cannot chmod " + path + ": " + std::strerror(errno));
    }
  }
  return journal.created(kScopeDirKind, paths_.dir);
}

Status ScopeProxy::start(journal::Journal& journal, const std::string& cgroup_parent) {
  auto program = binary();
  if (!program) return program.error();
  if (auto s = make_dir(journal); !s) return s;
  auto helper = spawn_detached(argv(*program, cgroup_parent), paths_.log, [&](const ProcessIdentity& who) {
    return journal.intend(kScopeProcessKind, std::to_string(who.pid), {{"start", who.start}, {"socket", paths_.socket}});
  });
  if (!helper) return helper.error().context("phaedo-dockerscope: ");
  if (auto s = wait_ready(helper->pid); !s) return s;
  if (auto s = journal.created(kScopeProcessKind, std::to_string(helper->pid)); !s) return s;
  scope_.log.admin(log::Level::info, "started the scoped Docker API",
                   {{"pid", std::to_string(helper->pid)}, {"socket", paths_.socket}});
  return {};
}

Status ScopeProxy::wait_ready(pid_t pid) {
  auto http = transport::CurlHttpClient::create({transport::UnixSocketEndpoint{paths_.socket}});
  if (!http) return http.error();
  const ProcessIdentity who{pid, process_start_time(pid).value_or("")};
  const auto deadline = Clock::now() + kReadyTimeout;
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    if (!is_running(who, "--socket=" + paths_.socket) && !process_start_time(pid)) {
      return make_error(ErrorKind::io, "phaedo-dockerscope exited before serving " + paths_.socket +
                                           "; its output (" + paths_.log + "): " + tail_of(paths_.log));
    }
    if (::access(paths_.socket.c_str(), F_OK) == 0) {
      transport::HttpRequest ping;
      ping.path = "/_ping";
      ping.timeout = std::chrono::milliseconds(2000);
      auto answer = (*http)->send(ping);
      if (answer && answer->status == 200) return {};
      last = answer ? "HTTP " + std::to_string(answer->status) : answer.error().message;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error(ErrorKind::io, "the job's Docker API " + paths_.socket + " did not answer GET /_ping within 10 s (" +
                                       last + "); its output (" + paths_.log + "): " + tail_of(paths_.log));
}

void ScopeProxy::stop(journal::Journal& journal, TeardownReport& report) {
  // The marker comes from state_dir and the key, never from the journal.
  const std::string marker = "--socket=" + paths_.socket;
  for (const auto& record : journal.live()) {
    if (record.kind != kScopeProcessKind) continue;
    const std::string what = "dockerscope process " + record.id;
    ProcessIdentity who;
    try {
      who.pid = static_cast<pid_t>(std::stol(record.id));
    } catch (const std::exception&) {
      who.pid = 0;  // not a pid: nothing to stop
    }
    auto start = record.attrs.find("start");
    if (start != record.attrs.end()) who.start = start->second;
    Status s = stop_detached(who, marker, scope_.profile.kill_grace);
    if (s) s = journal.removed(record.kind, record.id);
    if (s) {
      report.removed.push_back(what);
    } else {
      report.failed.push_back(what + ": " + s.error().message);
    }
  }
  for (const auto& who : find_by_argument(marker)) {
    const std::string what = "dockerscope process " + std::to_string(who.pid) + " (found by its socket)";
    if (Status s = stop_detached(who, marker, scope_.profile.kill_grace); s) {
      report.removed.push_back(what);
    } else {
      report.failed.push_back(what + ": " + s.error().message);
    }
  }
}

bool ScopeProxy::remove_images(transport::HttpClient& daemon, const std::string& api, TeardownReport& report) {
  const std::size_t failures = report.failed.size();
  std::ifstream in(paths_.images);
  if (!in) return true;  // the job made no image
  nlohmann::json record;
  try {
    in >> record;
  } catch (const nlohmann::json::exception& e) {
    report.failed.push_back("image record " + paths_.images + ": " + e.what());
    return false;
  }
  auto remove = [&](const std::string& kind, const std::string& ref) {
    const std::string what = kind + " " + ref;
    if (!plain_ref(ref)) {
      report.failed.push_back(what + ": not an image reference");
      return;
    }
    transport::HttpRequest request;
    request.method = transport::Method::del;
    request.path = api + "/images/" + ref;
    request.query = {{"noprune", "1"}};  // never force; parents are the shared cache
    request.timeout = std::chrono::seconds(60);
    auto answer = daemon.send(request);
    if (!answer) {
      report.failed.push_back(what + ": " + answer.error().message);
    } else if (answer->success() || answer->status == 404) {
      report.removed.push_back(what);
    } else if (answer->status == 409) {  // in use by a container or tagged by someone else: left
      scope_.log.admin(log::Level::warn, "left an image of the job that is still in use",
                       {{"image", ref}, {"daemon", answer->body.substr(0, 300)}});
      report.removed.push_back(what + " (left: in use)");
    } else {
      report.failed.push_back(what + ": HTTP " + std::to_string(answer->status) + " " + answer->body.substr(0, 300));
    }
  };
  try {
    for (const auto& ref : record.at("tags")) remove("image tag", ref.get<std::string>());
    for (const auto& id : record.at("images")) remove("image", id.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    report.failed.push_back("image record " + paths_.images + ": " + e.what());
  }
  return report.failed.size() == failures;
}

void ScopeProxy::remove_dir(journal::Journal& journal, TeardownReport& report) {
  std::error_code ec;
  fs::remove_all(paths_.dir, ec);
  if (ec) {
    report.failed.push_back("dockerscope dir " + paths_.dir + ": " + ec.message());
    return;
  }
  for (const auto& record : journal.live()) {
    if (record.kind != kScopeDirKind) continue;
    if (auto s = journal.removed(record.kind, record.id); !s) {
      report.failed.push_back("dockerscope dir " + record.id + ": " + s.error().message);
    } else {
      report.removed.push_back("dockerscope dir " + paths_.dir);
    }
  }
}

}  // namespace phaedo::sandbox::docker
