#include "core/cancel.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace phaedo {
namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_requested{false};
int g_pipe[2] = {-1, -1};

void on_signal(int sig) {
  int saved = errno;
  g_signal.store(sig);
  g_requested.store(true);
  if (g_pipe[1] >= 0) {
    char b = 1;
    [[maybe_unused]] auto n = ::write(g_pipe[1], &b, 1);
  }
  errno = saved;
}

}  // namespace

Status CancelToken::install() {
  if (g_pipe[0] >= 0) return {};
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return make_error(ErrorKind::io, std::string("cannot create signal pipe: ") + std::strerror(errno));
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    if (::sigaction(sig, &sa, nullptr) != 0) {
      return make_error(ErrorKind::io, std::string("sigaction failed: ") + std::strerror(errno));
    }
  }
  return {};
}

bool CancelToken::requested() { return g_requested.load(); }
int CancelToken::signal_number() { return g_signal.load(); }
int CancelToken::fd() { return g_pipe[0]; }

void CancelToken::request() {
  g_requested.store(true);
  if (g_pipe[1] >= 0) {
    char b = 1;
    [[maybe_unused]] auto n = ::write(g_pipe[1], &b, 1);
  }
}

}  // namespace phaedo
