// The renewer: a detached process per held lease, started by prepare, stopped by
// cleanup (or by itself when the lease is no longer its job's).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/cancel.h"
#include "k8s/micro_time.h"
#include "lease/internal.h"

namespace phaedo::lease {
namespace {

constexpr const char* kRenewCommand = "lease-renew";

std::vector<std::string> cmdline_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
  return args;
}

bool is_renewer_of(pid_t pid, const std::string& holder) {
  auto args = cmdline_of(pid);
  bool command = false, ours = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == kRenewCommand) command = true;
    if (args[i] == "--holder" && i + 1 < args.size() && args[i + 1] == holder) ours = true;
  }
  return command && ours;
}

std::vector<pid_t> renewers_of(const std::string& holder) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid != ::getpid() && is_renewer_of(pid, holder)) out.push_back(pid);
  }
  return out;
}

}  // namespace

void stop_renewers(const std::string& holder, log::Logger& log) {
  auto pids = renewers_of(holder);
  for (pid_t p : pids) ::kill(p, SIGTERM);
  auto until = Clock::now() + std::chrono::seconds(2);
  while (!pids.empty() && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pids = renewers_of(holder);
  }
  for (pid_t p : pids) ::kill(p, SIGKILL);
  if (!pids.empty()) log.admin(log::Level::warn, "renewer killed", {{"holder", holder}});
}

Result<pid_t> spawn_renewer(const JobRef& job, const std::string& node) {
  std::string admin = job.renewer;
  if (admin.empty()) {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return make_error(ErrorKind::io, "cannot find the driver's own path: " + std::string(std::strerror(errno)));
    self[n] = '\0';
    admin = std::filesystem::path(self).parent_path() / "phaedo-admin";
  }
  if (::access(admin.c_str(), X_OK) != 0) return make_error(ErrorKind::not_found, admin + " not found (the lease renewer)");
  std::vector<std::string> args = {admin, "--profile", job.profile_path, kRenewCommand, "--node", node, "--holder", job.key};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(ErrorKind::io, std::string("pipe: ") + std::strerror(errno));
  pid_t first = ::fork();
  if (first < 0) return make_error(ErrorKind::io, std::string("fork: ") + std::strerror(errno));
  if (first == 0) {
    // Own session, no terminal, stdio on /dev/null (the runner waits for its pipes to close).
    ::setsid();
    pid_t second = ::fork();
    if (second != 0) {
      if (second > 0) (void)!::write(fds[1], &second, sizeof second);
      ::_exit(second > 0 ? 0 : 1);
    }
    int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != fds[1]) ::close(fd);
    }
    ::close(fds[1]);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGHUP, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  pid_t renewer = 0;
  ssize_t got = ::read(fds[0], &renewer, sizeof renewer);
  ::close(fds[0]);
  int st = 0;
  ::waitpid(first, &st, 0);
  if (got != sizeof renewer || renewer <= 0) return make_error(ErrorKind::io, "could not start the lease renewer");
  return renewer;
}

int run_renewer(const profile::KubernetesSettings& settings, const std::string& node, const std::string& holder,
                log::Logger& log) {
  log.set_field("job", holder);
  log.set_field("node", node);
  const auto period = std::chrono::milliseconds(std::max<std::int64_t>(1000, settings.lease_duration.count() * 1000 / 3));
  std::optional<Api> api;
  log.admin(log::Level::info, "renewer started", {{"pid", std::to_string(::getpid())}});
  auto next = Clock::now();
  while (!CancelToken::requested()) {
    if (!api) {
      auto connected = connect(settings, true);
      if (connected) api.emplace(std::move(*connected));
    }
    if (api) {
      auto lease = (*api)->get_lease(settings.lease_namespace, node);
      if (!lease && lease.error().kind == ErrorKind::not_found) break;
      if (lease) {
        std::string phase = annotation(*lease, kPhaseAnnotation);
        if (holder_of(*lease) != holder || phase == kPhaseTeardown || phase == kPhaseReleased) break;
        lease->spec.renew_time = k8s::to_micro_time(std::chrono::system_clock::now());
        auto written = (*api)->update_lease(*lease);
        if (written) {
          next = Clock::now() + period;
        } else if (k8s::is_conflict(written.error())) {
          continue;  // someone wrote (a phase change): re-read now
        } else {
          log.admin(log::Level::warn, "renew failed", {{"error", written.error().message}});
          next = Clock::now() + std::chrono::seconds(1);
        }
      } else {
        log.admin(log::Level::warn, "renew failed", {{"error", lease.error().message}});
        next = Clock::now() + std::chrono::seconds(1);
      }
    } else {
      next = Clock::now() + std::chrono::seconds(1);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    if (left.count() > 0 && !sleep_for(left * 4 / 5)) break;
  }
  log.admin(log::Level::info, "renewer stopped");
  return 0;
}

}  // namespace phaedo::lease
