#include "k8s/micro_time.h"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace phaedo::k8s {

using namespace std::chrono;

MicroTime to_micro_time(system_clock::time_point t) {
  return floor<microseconds>(t);
}

std::string format_micro_time(MicroTime t) {
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> tod{t - day};
  char out[40];
  std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()), static_cast<long long>(tod.subseconds().count()));
  return out;
}

Result<MicroTime> parse_micro_time(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorKind::invalid_input, "not an RFC 3339 time: '" + std::string(text) + "'");
  };
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 20) return bad();
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > text.size()) return false;
    for (std::size_t i = pos; i < pos + len; ++i)
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!num(0, 4, y) || text[4] != '-' || !num(5, 2, mo) || text[7] != '-' || !num(8, 2, d) ||
      (text[10] != 'T' && text[10] != 't') || !num(11, 2, h) || text[13] != ':' || !num(14, 2, mi) ||
      text[16] != ':' || !num(17, 2, s)) {
    return bad();
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return bad();
  std::size_t pos = 19;
  long long micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0, om = 0;
    if (!num(pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' || !num(pos + 4, 2, om))
      return bad();
    offset = hours{oh} + minutes{om};
    if (text[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  return MicroTime{sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + microseconds{micros} - offset};
}

}  // namespace phaedo::k8s
