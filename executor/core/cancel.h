// Turns SIGTERM/SIGINT into something a loop can poll.
//
// install() sets sigaction handlers that only set a flag and write one byte to a
// self-pipe (async-signal-safe). Stage loops poll `fd()` together with their own
// descriptors, or call `requested()`. Install once per process, before spawning.
#pragma once

#include "core/result.h"

namespace phaedo {

class CancelToken {
 public:
  // Installs handlers for SIGTERM, SIGINT and SIGHUP. Idempotent.
  static Status install();
  // True once a terminating signal arrived (or request() was called).
  static bool requested();
  // The signal that arrived, or 0.
  static int signal_number();
  // Readable once a signal arrived; -1 before install().
  static int fd();
  // Marks cancellation from code (tests, deadlines).
  static void request();
};

}  // namespace phaedo
