#include "dockerscope/service.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>

#include "dockerscope/server.h"
#include "log/logger.h"
#include "dockerscope/upstream_client.h"

namespace phaedo::dockerscope {
namespace {

volatile std::sig_atomic_t g_stop_fd = -1;

extern "C" void on_stop_signal(int /*sig*/) {
  // Only a write to the self-pipe: the accept loop notices it.
  if (g_stop_fd >= 0) (void)!::write(g_stop_fd, "s", 1);
}

void install_handlers(int stop_fd) {
  g_stop_fd = stop_fd;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, nullptr);
}

}  // namespace

int run_service(const ServiceOptions& options) {
  log::Logger logger("dockerscope", options.log_file);
  logger.set_field("job", options.scope.job_key);
  logger.set_field("runner", options.scope.runner_id);

  auto fail = [&](const std::string& message) {
    logger.job(log::Level::error, "dockerscope: " + message);
    return 1;
  };
  UnixHttpClient http(options.upstream_socket);
  Result<std::unique_ptr<ImageRecord>> images = ImageRecord::open(options.image_record);
  if (!images) return fail(images.error().message);
  Gate gate(options.scope, http, **images);

  std::mutex log_mutex;
  RefusalLog refusals = [&](const std::string& method, const std::string& target, int status,
                            const std::string& message) {
    std::lock_guard lock(log_mutex);
    logger.admin(log::Level::warn, "dockerscope: refused",
                 {{"method", method}, {"target", target}, {"status", std::to_string(status)}, {"reason", message}});
  };
  ServerOptions server_options{options.socket_path, options.socket_mode, options.upstream_socket};
  Result<std::unique_ptr<Server>> server = Server::listen(server_options, gate, refusals);
  if (!server) return fail(server.error().message);
  install_handlers((*server)->stop_fd());
  logger.admin(log::Level::info, "dockerscope: serving", {{"socket", options.socket_path}});
  (*server)->run();
  logger.admin(log::Level::info, "dockerscope: stopped", {{"socket", options.socket_path}});
  return 0;
}

}  // namespace phaedo::dockerscope
