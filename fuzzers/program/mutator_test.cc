// Tests of the structure-aware mutator (mutator.h): determinism, validity, size,
// what an empty input becomes, crossover, and the NF_MUTATOR=0 switch.
#include "fuzzers/program/mutator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/program.h"
#include "fuzzers/program/program_text.h"
#include "gtest/gtest.h"

// The hooks (mutator.cc), as libFuzzer sees them.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed);
extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2, uint8_t* out,
                                            size_t max_out_size, unsigned int seed);

// A stand-in for libFuzzer's byte mutator: it counts its calls and appends 0x42.
static int g_byte_mutations = 0;
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size) {
  ++g_byte_mutations;
  if (size < max_size) data[size++] = 0x42;
  return size;
}

namespace nf::fuzz {

// This binary's answer for the hooks (a program fuzzer says which it is).
MutatorTarget ProgramMutatorTarget() { return MutatorTarget::kConcurrent; }

namespace {

constexpr size_t kMax = 600;  // the concurrent fuzzer's max_len

// CustomMutate on a copy of in, in a buffer of max_size bytes.
std::vector<uint8_t> MutatedExact(MutatorTarget target, const std::vector<uint8_t>& in,
                                  size_t max_size, unsigned seed) {
  std::vector<uint8_t> buf(std::max(in.size(), max_size));
  std::copy(in.begin(), in.end(), buf.begin());
  buf.resize(CustomMutate(target, buf.data(), in.size(), max_size, seed));
  return buf;
}

bool RangesOverlap(const Op& a, const Op& b) {
  return a.page < b.page + b.pages && b.page < a.page + a.pages;
}

TEST(Mutator, SameSeedAndInputGiveTheSameOutput) {
  std::vector<uint8_t> input;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    for (const auto target : {MutatorTarget::kSequential, MutatorTarget::kConcurrent}) {
      const auto a = MutatedExact(target, input, kMax, seed);
      const auto b = MutatedExact(target, input, kMax, seed);
      ASSERT_EQ(a, b) << "seed " << seed;
      uint8_t out1[kMax], out2[kMax];
      const size_t n1 = CustomCrossOver(target, input.data(), input.size(), a.data(), a.size(),
                                        out1, kMax, seed);
      const size_t n2 = CustomCrossOver(target, input.data(), input.size(), a.data(), a.size(),
                                        out2, kMax, seed);
      ASSERT_EQ(n1, n2);
      ASSERT_EQ(0, std::memcmp(out1, out2, n1));
    }
    input = MutatedExact(MutatorTarget::kConcurrent, input, kMax, seed);
  }
}

TEST(Mutator, DifferentSeedsGiveDifferentPrograms) {
  std::set<std::vector<uint8_t>> seen;
  for (unsigned seed = 1; seed <= 50; ++seed) {
    seen.insert(MutatedExact(MutatorTarget::kConcurrent, {}, kMax, seed));
  }
  EXPECT_GT(seen.size(), 45u);
}

TEST(Mutator, AnEmptyInputBecomesAProgramOfSeveralThreadsStartingWithAnInsert) {
  for (unsigned seed = 1; seed <= 1000; ++seed) {
    const Program p = Decode(MutatedExact(MutatorTarget::kConcurrent, {}, kMax, seed));
    ASSERT_GE(p.threads.size(), 2u) << "seed " << seed;
    ASSERT_GE(p.num_ops(), 5u) << Print(p);
    int with_ops = 0;
    for (const auto& t : p.threads) with_ops += !t.empty();
    EXPECT_GE(with_ops, 2) << Print(p);
    bool first = true;
    ForEachOp(p, [&](int, size_t, const Op& op) {
      if (first) {
        EXPECT_EQ(op.code, OpCode::kInsert) << Print(p);
        EXPECT_EQ(op.shape, InsertShape::kNormal) << Print(p);
      }
      first = false;
    });
  }
}

TEST(Mutator, GeneratedRangesMostlyOverlapAnInsertedRange) {
  MutatorRng rng(7);
  int programs_with_overlap = 0;
  for (int i = 0; i < 200; ++i) {
    const Program p = GenerateProgram(rng, MutatorTarget::kSequential);
    ASSERT_TRUE(IsValid(p)) << Print(p);
    EXPECT_TRUE(p.schedule.empty()) << "the sequential fuzzer ignores schedules";
    std::vector<Op> inserts, ranges;
    ForEachOp(p, [&](int, size_t, const Op& op) {
      if (op.code == OpCode::kInsert && op.shape == InsertShape::kNormal) inserts.push_back(op);
      if (op.code == OpCode::kInvalidate || op.code == OpCode::kInvStart ||
          op.code == OpCode::kFault) {
        ranges.push_back(op);
      }
    });
    bool overlap = false;
    for (const Op& r : ranges) {
      for (const Op& in : inserts) overlap = overlap || RangesOverlap(r, in);
    }
    programs_with_overlap += overlap;
  }
  // Unbiased ranges would overlap too, but less often; the bias makes it most.
  EXPECT_GT(programs_with_overlap, 120);
}

TEST(Mutator, EveryOutputDecodesToAValidProgramWithinMaxSize) {
  // A chain of mutations, as libFuzzer applies them, with changing max sizes.
  for (const auto target : {MutatorTarget::kSequential, MutatorTarget::kConcurrent}) {
    std::vector<uint8_t> input;
    for (unsigned i = 1; i <= 2000; ++i) {
      const size_t max_size = 1 + (i * 37) % 1200;
      input.resize(std::min(input.size(), max_size));
      input = MutatedExact(target, input, max_size, i);
      ASSERT_LE(input.size(), max_size);
      const Program p = Decode(input);
      ASSERT_TRUE(IsValid(p));
    }
  }
}

TEST(Mutator, StructuralMutationsKeepProgramsValidAndRoundTrip) {
  MutatorRng rng(11);
  for (const auto target : {MutatorTarget::kSequential, MutatorTarget::kConcurrent}) {
    Program p = GenerateProgram(rng, target);
    for (int i = 0; i < 2000; ++i) {
      MutateProgram(&p, rng, target);
      ASSERT_TRUE(IsValid(p)) << "step " << i << "\n" << Print(p);
      ASSERT_EQ(Decode(Encode(p)), p) << Print(p);
      if (target == MutatorTarget::kSequential) {
        ASSERT_TRUE(p.schedule.empty());
      }
      if (p.num_ops() == 0 || i % 100 == 99) p = GenerateProgram(rng, target);
    }
  }
}

TEST(Mutator, EncodeWithinDropsOpsFromTheEndUntilItFits) {
  MutatorRng rng(3);
  Program p = GenerateProgram(rng, MutatorTarget::kConcurrent);
  while (p.num_ops() < 60) {
    const Program more = GenerateProgram(rng, MutatorTarget::kConcurrent);
    ForEachOp(more, [&](int t, size_t, const Op& op) {
      p.Append(t % static_cast<int>(p.threads.size()), op);
    });
  }
  p.schedule.assign(20, 1);
  const std::vector<uint8_t> full = Encode(p);
  for (size_t max_size : {size_t{1}, size_t{10}, size_t{50}, full.size() - 1, full.size()}) {
    const std::vector<uint8_t> bytes = EncodeWithin(p, max_size);
    ASSERT_LE(bytes.size(), max_size);
    const Program q = Decode(bytes);
    ASSERT_LE(q.num_ops(), p.num_ops());
    // What is left is a prefix of the program order.
    ASSERT_TRUE(std::equal(q.order.begin(), q.order.end(), p.order.begin()));
    if (max_size == full.size()) {
      ASSERT_EQ(bytes, full);
    }
  }
}

TEST(Mutator, CrossOverMixesThreadsOfBothParents) {
  MutatorRng rng(5);
  for (unsigned seed = 1; seed <= 200; ++seed) {
    const Program a = GenerateProgram(rng, MutatorTarget::kConcurrent);
    const Program b = GenerateProgram(rng, MutatorTarget::kConcurrent);
    const std::vector<uint8_t> ea = Encode(a), eb = Encode(b);
    std::vector<uint8_t> out(1200);
    const size_t n = CustomCrossOver(MutatorTarget::kConcurrent, ea.data(), ea.size(), eb.data(),
                                     eb.size(), out.data(), out.size(), seed);
    ASSERT_GT(n, 0u);
    out.resize(n);
    const Program c = Decode(out);
    ASSERT_TRUE(IsValid(c));
    auto has_thread_of = [&c](const Program& parent) {
      for (const auto& pt : parent.threads) {
        if (pt.empty()) continue;
        for (const auto& ct : c.threads) {
          if (ct == pt) return true;
        }
      }
      return false;
    };
    EXPECT_TRUE(has_thread_of(a)) << "seed " << seed << "\n" << Print(c);
    EXPECT_TRUE(has_thread_of(b)) << "seed " << seed << "\n" << Print(c);
    EXPECT_TRUE(c.schedule == a.schedule || c.schedule == b.schedule);
  }
}

TEST(Mutator, CrossOverOfEmptyParentsIsAGeneratedProgram) {
  const std::vector<uint8_t> empty;
  uint8_t out[kMax];
  const size_t n = CustomCrossOver(MutatorTarget::kSequential, empty.data(), 0, empty.data(), 0,
                                   out, kMax, 4);
  const Program p = Decode({out, n});
  EXPECT_GE(p.threads.size(), 2u);
  EXPECT_GE(p.num_ops(), 5u);
  EXPECT_TRUE(p.schedule.empty());
}

TEST(Mutator, OffSwitchIsPlainByteMutationAndNoCrossOver) {
  const std::vector<uint8_t> input = {0x01, 0x00, 0x00, 0x00, 0x00};
  ASSERT_EQ(setenv("NF_MUTATOR", "0", 1), 0);
  EXPECT_FALSE(MutatorEnabled());
  const int before = g_byte_mutations;
  const std::vector<uint8_t> out = MutatedExact(MutatorTarget::kConcurrent, input, kMax, 9);
  std::vector<uint8_t> want = input;
  want.push_back(0x42);
  EXPECT_EQ(out, want);
  EXPECT_EQ(g_byte_mutations, before + 1);
  uint8_t buf[kMax];
  EXPECT_EQ(CustomCrossOver(MutatorTarget::kConcurrent, input.data(), input.size(), input.data(),
                            input.size(), buf, kMax, 9),
            0u);
  // The hooks libFuzzer calls, too.
  std::copy(input.begin(), input.end(), buf);
  EXPECT_EQ(LLVMFuzzerCustomMutator(buf, input.size(), kMax, 9), input.size() + 1);
  EXPECT_EQ(buf[input.size()], 0x42);
  EXPECT_EQ(LLVMFuzzerCustomCrossOver(input.data(), input.size(), input.data(), input.size(), buf,
                                      kMax, 9),
            0u);
  // An empty input too stays byte-level: no generated program.
  EXPECT_EQ(MutatedExact(MutatorTarget::kConcurrent, {}, kMax, 9), std::vector<uint8_t>{0x42});
  ASSERT_EQ(unsetenv("NF_MUTATOR"), 0);
  EXPECT_TRUE(MutatorEnabled());
  EXPECT_GE(Decode(MutatedExact(MutatorTarget::kConcurrent, {}, kMax, 9)).num_ops(), 5u);
  EXPECT_GE(Decode({buf, LLVMFuzzerCustomMutator(buf, 0, kMax, 9)}).num_ops(), 5u);
}

TEST(Mutator, SomeMutationsAreByteLevel) {
  // About one in kByteLevelOneIn of the mutations of a non-trivial input.
  MutatorRng rng(13);
  const std::vector<uint8_t> input = Encode(GenerateProgram(rng, MutatorTarget::kSequential));
  const int before = g_byte_mutations;
  for (unsigned seed = 1; seed <= 500; ++seed) {
    MutatedExact(MutatorTarget::kSequential, input, kMax, seed);
  }
  const int byte_level = g_byte_mutations - before;
  EXPECT_GT(byte_level, 500 / kByteLevelOneIn / 2);
  EXPECT_LT(byte_level, 500 / kByteLevelOneIn * 2);
}

}  // namespace
}  // namespace nf::fuzz
