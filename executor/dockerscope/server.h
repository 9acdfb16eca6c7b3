// The per-job socket: accepts connections from the job, passes each request
// through the Gate and relays permitted ones to the daemon.
//
// One thread per client connection (the docker CLI opens a handful; attach and
// exec hold one each for their lifetime). Each client connection has at most one
// upstream connection, opened at its first forwarded request and kept for the next
// ones while both sides keep alive: it is dropped after a hijack, a raw stream, an
// answer with "Connection: close" or any error, and not reused when the daemon has
// closed it meanwhile (checked before each request). Bodies stream in both directions; hijacked
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
#include <optional>
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
  // The upstream connection of one client connection; registered with the server
  // while open, so stop() can end a relay that waits on the daemon.
  class Upstream {
   public:
    explicit Upstream(Server& server) : server_(&server) {}
    ~Upstream() { drop(); }
    Upstream(const Upstream&) = delete;
    Upstream& operator=(const Upstream&) = delete;
    // The open connection if the daemon has not closed it, else a new one.
    // `reused` says which.
    Result<Conn*> get(bool& reused);
    // Unregistered first, then closed: stop() never shuts down a reused fd number.
    void drop();

   private:
    Server* server_;
    std::optional<Conn> conn_;
  };

  void serve(Fd client);
  // One request on `client`; false when the connection must end.
  bool exchange(Conn& client, Upstream& upstream);
  // Sends the request head (and a body read whole) upstream; on a reused
  // connection that turns out closed, once more on a new one.
  Result<Conn*> send_upstream(Upstream& upstream, const std::string& bytes);
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
