// The per-job socket: accepts connections from the job, passes each request
// through the Gate and relays permitted ones to the daemon.
//
// One thread per client connection (the docker CLI opens a handful; attach and
// exec hold one each for their lifetime). Each forwarded request gets its own
// upstream connection, so a request is never sent on a connection the daemon has
// already hijacked or closed. Bodies stream in both directions; hijacked
// connections (101 Switching Protocols, or a raw stream without framing) become a
// byte relay in both directions with half-closes passed on.
//
// Refusals and gate errors are answered as JSON {"message": …}, which the docker
// CLI prints after "Error response from daemon:". When a refused request still has
// an unread body, the answer carries "Connection: close" and the connection ends.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/fd.h"
#include "core/result.h"
#include "dockerscope/gate.h"

namespace phaedo::dockerscope {

struct ServerOptions {
  std::string socket_path;         // created here; an existing socket file is replaced
  mode_t socket_mode = 0660;
  std::string upstream_socket = "/var/run/docker.sock";
  std::size_t inspected_body_limit = 8 << 20;  // create bodies; the seccomp profile is the largest
};

// Called for every refusal or gate error: method, target, HTTP status, message.
using RefusalLog = std::function<void(const std::string& method, const std::string& target, int status,
                                      const std::string& message)>;

class Server {
 public:
  // Binds and listens. io when the socket cannot be created.
  static Result<std::unique_ptr<Server>> listen(ServerOptions options, Gate& gate, RefusalLog log = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until stop(); then closes the listening socket, removes its file, ends
  // every open connection and returns when their threads are done.
  void run();
  // Thread-safe. From a signal handler, write a byte to stop_fd() instead.
  void stop();
  [[nodiscard]] int stop_fd() const { return stop_write_.get(); }

 private:
  Server(ServerOptions options, Gate& gate, RefusalLog log) : options_(std::move(options)), gate_(&gate), log_(std::move(log)) {}
  void serve(Fd client);
  // One request on `client`; false when the connection must end.
  bool exchange(Conn& client);
  Result<Conn> connect_upstream() const;
  void track(int fd, bool add);

  ServerOptions options_;
  Gate* gate_;
  RefusalLog log_;
  Fd listen_;
  Fd stop_read_;
  Fd stop_write_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::set<int> open_fds_;
  std::size_t active_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace phaedo::dockerscope
