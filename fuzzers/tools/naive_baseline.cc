// fuzzers/tools/naive_baseline.cc: the naive baseline of `./nf mutants`. Random op
// programs (the shared codec over seeded random bytes) run on OS threads
// (threaded.h): no coverage guidance, no schedule control. It answers "what would
// a plain random stress test find in the same time?".
//
//   NF_SEED=<n> (default 1)  NF_BUDGET_SECONDS=<s> (default 60)  naive_baseline
//
// The byte stream is a pure function of the seed; the interleavings are the OS's,
// so a failure is not reproducible by seed alone (that is the point of the
// comparison). The clock only ends the search; it never decides a result. A
// violation or a sanitizer report aborts the process, as in the fuzzers.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fuzzers/program/codec.h"
#include "fuzzers/executors/threaded.h"

namespace {

// The same bound as sequential_fuzzer's max_len: longer programs only run longer.
constexpr size_t kMaxInputBytes = 400;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

int main() {
  const uint64_t seed = EnvOr("NF_SEED", 1);
  const uint64_t budget = EnvOr("NF_BUDGET_SECONDS", 60);
  std::printf("naive_baseline: seed %llu, budget %llu s\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(budget));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> bytes;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(budget);
  uint64_t executions = 0;
  while (std::chrono::steady_clock::now() < end) {
    bytes.resize(1 + rng() % kMaxInputBytes);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
    nf::fuzz::RunThreaded(nf::fuzz::Decode({bytes.data(), bytes.size()}));
    ++executions;
  }
  std::printf("executions: %llu, no failure\n", static_cast<unsigned long long>(executions));
  return 0;
}
