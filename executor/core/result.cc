#include "core/result.h"

namespace phaedo {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input: return "invalid_input";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::io: return "io";
    case ErrorKind::peer: return "peer";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::rejected: return "rejected";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

}  // namespace phaedo
