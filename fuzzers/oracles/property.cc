#include "fuzzers/oracles/property.h"

#include <array>
#include <utility>


namespace nf::fuzz {

std::string_view PropertyName(Property p) {
  static constexpr std::array<std::string_view, kNumProperties + 1> kNames = {
      "", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11"};
  const int i = static_cast<int>(p);
  return i >= 0 && i <= kNumProperties ? kNames[i] : "";
}

Failure Violated(Property p, std::string_view what) {
  std::string text(PropertyName(p));
  text += ": ";
  text += what;
  return Failure{p, std::move(text)};
}

Failure NotAProperty(std::string_view what) {
  return Failure{Property::kNone, std::string(what)};
}

}  // namespace nf::fuzz
