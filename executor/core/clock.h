// Time helpers shared by the logs and the journal.
#pragma once

#include <chrono>
#include <string>

namespace phaedo {

// Now, as RFC 3339 UTC with microseconds: 2026-11-28T22:26:39.123456Z.
[[nodiscard]] std::string utc_now_string();
// Any time point of the system clock in the same format.
[[nodiscard]] std::string utc_string(std::chrono::system_clock::time_point t);

}  // namespace phaedo
