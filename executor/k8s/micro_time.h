// metav1.MicroTime on the wire: "2026-11-28T22:26:39.123456Z" — UTC, exactly six
// fractional digits (the API server parses layout 2006-01-02T15:04:05.000000Z07:00
// and refuses other precisions in some fields).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"
#include "k8s/types.h"

namespace phaedo::k8s {

[[nodiscard]] std::string format_micro_time(MicroTime t);
// Truncates a system-clock time point to microseconds.
[[nodiscard]] MicroTime to_micro_time(std::chrono::system_clock::time_point t);
// Parses RFC 3339 as the server writes it: "Z" or a ±hh:mm offset, zero to nine
// fractional digits (extra digits are truncated). invalid_input naming the text.
[[nodiscard]] Result<MicroTime> parse_micro_time(std::string_view text);

}  // namespace phaedo::k8s
