// The AFL++ custom mutator (afl_mutator.cc) through its C entry points, as
// afl-fuzz calls them: an empty input becomes a multi-threaded program, every
// output fits max_size and decodes, the n-th output is a function of the input
// and AFL++'s seed, and a second input is sometimes crossed in.
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/mutator.h"
#include "fuzzers/program/program.h"
#include "gtest/gtest.h"

extern "C" {
void* afl_custom_init(void* afl, unsigned int seed);
size_t afl_custom_fuzz(void* data, uint8_t* buf, size_t buf_size, uint8_t** out_buf,
                       uint8_t* add_buf, size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void* data);
}

namespace nf::fuzz {
namespace {

constexpr size_t kMax = 600;  // concurrent_fuzzer.options: max_len

// The first n outputs of a mutator seeded with seed, each from the previous one
// (as AFL++ walks its queue), starting from `start`.
std::vector<std::vector<uint8_t>> Chain(unsigned seed, std::vector<uint8_t> start, int n,
                                        size_t max_size = kMax) {
  void* m = afl_custom_init(nullptr, seed);
  EXPECT_NE(m, nullptr);
  std::vector<std::vector<uint8_t>> outs;
  std::vector<uint8_t> cur = std::move(start);
  for (int i = 0; i < n; ++i) {
    uint8_t* out = nullptr;
    const size_t size =
        afl_custom_fuzz(m, cur.data(), cur.size(), &out, nullptr, 0, max_size);
    EXPECT_LE(size, max_size);
    cur.assign(out, out + size);
    outs.push_back(cur);
  }
  afl_custom_deinit(m);
  return outs;
}

TEST(AflMutator, AnEmptyInputBecomesAMultiThreadedProgram) {
  const auto outs = Chain(7, {}, 1);
  const Program p = Decode({outs[0].data(), outs[0].size()});
  EXPECT_GE(p.threads.size(), 2u);
  EXPECT_GE(p.num_ops(), kMinOpsToMutate);
}

TEST(AflMutator, OutputsFitAndTheSameSeedGivesTheSameChain) {
  const auto a = Chain(42, {}, 300, 64);
  const auto b = Chain(42, {}, 300, 64);
  EXPECT_EQ(a, b);
  std::set<std::vector<uint8_t>> distinct(a.begin(), a.end());
  EXPECT_GT(distinct.size(), 200u);  // it mutates, it does not repeat itself
  for (const auto& o : a) EXPECT_LE(o.size(), 64u);
  EXPECT_NE(Chain(43, {}, 1), Chain(42, {}, 1));
}

TEST(AflMutator, CrossesOverWithTheSecondInput) {
  void* m = afl_custom_init(nullptr, 1);
  std::vector<uint8_t> a = Chain(1, {}, 5).back(), b = Chain(2, {}, 5).back();
  // A thread of b in the child: some output holds an op sequence only b has.
  const Program pb = Decode({b.data(), b.size()});
  bool crossed = false;
  for (int i = 0; i < 200 && !crossed; ++i) {
    uint8_t* out = nullptr;
    const size_t n = afl_custom_fuzz(m, a.data(), a.size(), &out, b.data(), b.size(), kMax);
    const Program child = Decode({out, n});
    for (const auto& tb : pb.threads) {
      for (const auto& tc : child.threads) crossed |= !tb.empty() && tc == tb;
    }
  }
  afl_custom_deinit(m);
  EXPECT_TRUE(crossed);
}

}  // namespace
}  // namespace nf::fuzz
