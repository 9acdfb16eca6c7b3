#include "process/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/fd.h"

namespace phaedo::process {
namespace {

// Async-signal-safe helpers for the code between fork and exec.
void write_decimal(int fd, long value) {
  char buf[24];
  int i = sizeof buf;
  if (value == 0) buf[--i] = '0';
  while (value > 0 && i > 0) {
    buf[--i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  [[maybe_unused]] auto n = ::write(fd, buf + i, sizeof buf - static_cast<size_t>(i));
}

[[noreturn]] void child_fail(int report_fd, int stage) {
  int err[2] = {stage, errno};
  [[maybe_unused]] auto n = ::write(report_fd, err, sizeof err);
  ::_exit(127);
}

}  // namespace

ExitStatus decode_wait_status(int status) {
  if (WIFEXITED(status)) return ExitStatus{WEXITSTATUS(status), 0};
  if (WIFSIGNALED(status)) return ExitStatus{0, WTERMSIG(status)};
  return ExitStatus{1, 0};
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(std::move(o.status_)) {}

Child& Child::operator=(Child&& o) noexcept {
  Child incoming(std::move(o));
  std::swap(pid_, incoming.pid_);
  std::swap(status_, incoming.status_);
  return *this;  // `incoming` now owns (and kills) what this held before
}

Child::~Child() {
  if (pid_ > 0 && !status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

std::optional<ExitStatus> Child::try_wait() {
  if (status_ || pid_ <= 0) return status_;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = decode_wait_status(st);
  return status_;
}

void Child::signal_group(int sig) const {
  if (pid_ <= 0) return;
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
}

Fd Child::exit_notifier() const {
  if (!running()) return Fd();
#ifdef SYS_pidfd_open
  // O_CLOEXEC is implied for pidfds.
  return Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
#else
  return Fd();
#endif
}

Result<Child> spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return make_error(ErrorKind::internal, "spawn: empty argv");
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.envp) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return make_error(ErrorKind::io, std::string("spawn: pipe failed: ") + std::strerror(errno));
  }
  Fd report_read(report[0]);
  Fd report_write(report[1]);

  pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorKind::io, std::string("spawn: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::sigaction(sig, &dfl, nullptr);
    if (!options.cgroup_procs.empty()) {
      int fd = ::open(options.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) child_fail(report_write.get(), 1);
      write_decimal(fd, ::getpid());
      ::close(fd);
    }
    if (options.new_process_group && ::setpgid(0, 0) != 0) child_fail(report_write.get(), 2);
    if (options.null_stdin) {
      int fd = ::open("/dev/null", O_RDONLY);
      if (fd < 0 || ::dup2(fd, STDIN_FILENO) < 0) child_fail(report_write.get(), 3);
      if (fd != STDIN_FILENO) ::close(fd);
    }
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) child_fail(report_write.get(), 4);
    ::execve(argv[0], argv.data(), envp.data());
    child_fail(report_write.get(), 5);
  }
  // Parent. Also set the group here: whichever runs first wins, and no signal can
  // be sent to a group that does not exist yet.
  if (options.new_process_group) ::setpgid(pid, pid);
  report_write.reset();
  int err[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report_read.get(), err, sizeof err);
  } while (n < 0 && errno == EINTR);
  Child child(pid);
  if (n == static_cast<ssize_t>(sizeof err)) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    child.set_reaped(decode_wait_status(st));
    static const char* what[] = {"", "join cgroup", "setpgid", "open /dev/null", "chdir to", "exec"};
    std::string target = err[0] == 4 ? " " + options.cwd : err[0] == 5 ? " " + options.argv[0] : "";
    return make_error(ErrorKind::io, std::string("cannot ") + what[err[0]] + target + ": " + std::strerror(err[1]));
  }
  return child;
}

}  // namespace phaedo::process
