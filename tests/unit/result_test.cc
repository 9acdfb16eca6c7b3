#include "core/result.h"

#include <gtest/gtest.h>

namespace phaedo {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return make_error(ErrorKind::invalid_input, "odd: " + std::to_string(x));
  return x / 2;
}

TEST(Result, CarriesValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(bad.error().message, "odd: 3");
  EXPECT_EQ(bad.error().context("half: ").message, "half: odd: 3");
}

}  // namespace
}  // namespace phaedo
