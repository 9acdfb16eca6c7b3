#include "sandbox/docker/detached.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/fd.h"
#include "process/stopper.h"

namespace phaedo::sandbox::docker {
namespace {

std::string read_proc(pid_t pid, const char* what) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + what, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool has_argument(pid_t pid, const std::string& marker) {
  const std::string cmdline = read_proc(pid, "cmdline");
  std::size_t begin = 0;
  while (begin < cmdline.size()) {
    std::size_t end = cmdline.find('\0', begin);
    if (end == std::string::npos) end = cmdline.size();
    if (cmdline.compare(begin, end - begin, marker) == 0) return true;
    begin = end + 1;
  }
  return false;
}

Error os_error(const std::string& what) { return make_error(ErrorKind::io, what + ": " + std::strerror(errno)); }

// Only async-signal-safe calls: the parent may have threads.
[[noreturn]] void exec_helper(int go, int output, char* const* argv) {
  char byte = 0;
  if (::read(go, &byte, 1) != 1) ::_exit(126);  // the parent gave up: never run
  int null = ::open("/dev/null", O_RDONLY);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(output, 1) < 0 || ::dup2(output, 2) < 0) ::_exit(126);
  ::syscall(SYS_close_range, 3U, ~0U, 0U);  // the journal's lock among them
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
  ::execv(argv[0], argv);
  ::_exit(127);
}

}  // namespace

std::optional<std::string> process_start_time(pid_t pid) {
  const std::string stat = read_proc(pid, "stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field, state;
  fields >> state;  // field 3
  if (state == "Z" || state == "X") return std::nullopt;
  for (int n = 4; n <= 22 && fields >> field; ++n) {
    if (n == 22) return field;
  }
  return std::nullopt;
}

bool is_running(const ProcessIdentity& who, const std::string& marker) {
  if (who.pid <= 0) return false;
  auto start = process_start_time(who.pid);
  return start && *start == who.start && has_argument(who.pid, marker);
}

std::vector<ProcessIdentity> find_by_argument(const std::string& marker) {
  std::vector<ProcessIdentity> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid() || !has_argument(pid, marker)) continue;
    if (auto start = process_start_time(pid)) found.push_back({pid, *start});
  }
  return found;
}

Result<ProcessIdentity> spawn_detached(const std::vector<std::string>& argv, const std::string& output,
                                       const BeforeExec& before_exec) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Fd out(::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (out.get() < 0) return os_error("cannot open " + output);
  int ready[2], go[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return os_error("pipe");
  Fd ready_r(ready[0]), ready_w(ready[1]);
  if (::pipe2(go, O_CLOEXEC) != 0) return os_error("pipe");
  Fd go_r(go[0]), go_w(go[1]);

  const pid_t middle = ::fork();
  if (middle < 0) return os_error("fork");
  if (middle == 0) {
    ::setsid();
    const pid_t helper = ::fork();
    if (helper == 0) exec_helper(go_r.get(), out.get(), args.data());
    (void)!::write(ready_w.get(), &helper, sizeof helper);
    ::_exit(helper > 0 ? 0 : 1);
  }
  ready_w.reset();
  go_r.reset();
  pid_t helper = -1;
  ssize_t n;
  do {
    n = ::read(ready_r.get(), &helper, sizeof helper);
  } while (n < 0 && errno == EINTR);
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof helper) || helper <= 0) {
    return make_error(ErrorKind::io, "cannot start " + argv.front() + ": fork failed");
  }
  auto start = process_start_time(helper);
  if (!start) return make_error(ErrorKind::io, "cannot start " + argv.front() + ": it exited at once");
  ProcessIdentity who{helper, *start};
  if (Status s = before_exec(who); !s) {
    go_w.reset();  // EOF: the helper exits without running
    return s.error();
  }
  if (::write(go_w.get(), "g", 1) != 1) return os_error("cannot start " + argv.front());
  return who;
}

Status stop_detached(const ProcessIdentity& who, const std::string& marker, std::chrono::milliseconds grace) {
  auto source = [&]() -> std::vector<pid_t> {
    if (is_running(who, marker)) return {who.pid};
    return {};
  };
  // A helper this process started may be its child when it is a subreaper.
  auto reap = [&] { (void)::waitpid(who.pid, nullptr, WNOHANG); };
  return process::stop_processes(source, grace, reap);
}

}  // namespace phaedo::sandbox::docker
