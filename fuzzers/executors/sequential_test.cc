// The sequential checker on hand-written programs and on a seeded random sweep.
// Each run aborts on any disagreement between the core and the reference model,
// so a passing test means every op's result, callbacks and state were predicted.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/program_text.h"
#include "fuzzers/executors/sequential.h"
#include "fuzzers/executors/sequential_steps.h"
#include "absl/strings/match.h"
#include "fuzzers/executors/report_json.h"
#include "gtest/gtest.h"

namespace nf::fuzz {
namespace {

// Regression: a model complaint that names a property was reported as "the core
// and the model differ: P3: ...", and a timeline titled it "P3: ... P3: ...".
TEST(ModelDiffers, NamesThePropertyOnceAndFirst) {
  const Failure p3 =
      ModelDiffers(Violated(Property::kP3, "a subscription was called twice in one walk: s1"));
  EXPECT_EQ(p3.text,
            "P3: the core and the model differ: a subscription was called twice in one walk: s1");
  EXPECT_EQ(p3.property, Property::kP3);
  const Failure p10 = ModelDiffers(Violated(Property::kP10, "x"));
  EXPECT_EQ(p10.text, "P10: the core and the model differ: x");
  EXPECT_EQ(p10.property, Property::kP10);
  const Failure state = ModelDiffers(NotAProperty("s1 seq: core 0x3, model 0x5"));
  EXPECT_EQ(state.text, "the core and the model differ: s1 seq: core 0x3, model 0x5");
  EXPECT_EQ(state.property, Property::kNone);
  // A text that names a property is not one: the property is the value's.
  const Failure named = ModelDiffers(NotAProperty("P3: x"));
  EXPECT_EQ(named.text, "the core and the model differ: P3: x");
  EXPECT_EQ(FailureVerdict(named).property, "model");
}

void RunText(const char* text) {
  const absl::StatusOr<Program> p = Parse(text, "test.nfp");
  ASSERT_TRUE(p.ok()) << p.status();
  TestOneInput(*p);
}

// Runs text and returns the callbacks each op made, one string per op step
// ("" for an op without callbacks), in program order (cleanup steps excluded).
std::vector<std::string> OpCallbacks(const char* text) { return StepTexts(text, false); }

TEST(Sequential, EmptyProgramReleasesAndFreesEverything) { RunText(""); }

TEST(Sequential, InsertCasesAndDeferredWork) {
  RunText(
      "threads 2\n"
      "T0: insert s0 0x0+0x4000\n"            // idle: seq - 1
      "T0: inv_start 0x1000+0x1000 block unmap\n"  // odd epoch
      "T0: insert s1 0x1000+0x1000\n"          // deferred insert
      "T0: remove s1\n"                         // pending insert: unlinked, no wait
      "T0: insert s2 0x2000+0x1000\n"          // deferred insert, applied by the end
      "T1: remove s0\n"                         // skipped: would wait for the epoch
      "T0: inv_end\n"
      "T0: inv_start 0x8000+0x1000 block clear\n"  // even epoch: overlaps nothing
      "T0: insert s3 0x8000+0x1000\n"          // active and even: seq |= 1
      "T0: read_begin s3\n"                     // skipped: being invalidated
      "T0: inv_end\n"
      "T0: read_begin s3\n"
      "T0: read_retry s3\n");
}

TEST(Sequential, FaultAndNonBlockingFailure) {
  RunText(
      "threads 2\n"
      "T0: insert s0 0x0+0x4000\n"
      "T0: insert s1 0x2000+0x4000\n"
      "T0: fault s0 0x0+0x4000\n"
      "T0: fault s1 0x0+0x8000\n"
      "T1: lock s1\n"
      "T0: invalidate 0x0+0x8000 nonblock unmap\n"  // s0 called, s1 busy: EAGAIN
      "T0: invalidate 0x0+0x8000 block unmap\n"     // skipped: s1's lock is held
      "T1: unlock s1\n"
      "T0: invalidate 0x3000+0x1000 block unmap\n"
      "T0: check_retry s0\n");
}

TEST(Sequential, ClassicPairingGetPutAndRelease) {
  RunText(
      "T0: register c0 release,start,end\n"
      "T0: register c1 start,fails\n"
      "T0: get release,selfput\n"
      "T0: get release,selfput\n"
      "T0: get start,end\n"
      "T0: insert s0 0x0+0x1000\n"
      "T0: invalidate 0x0+0x1000 nonblock migrate\n"  // c1 fails: c0 gets its end
      "T0: invalidate 0x0+0x1000 block migrate\n"
      "T0: put start,end\n"
      "T0: release\n"                                 // one RELEASE to s0
      "T0: unregister c0\n"                           // no second release
      "T0: insert s1 0x0+0x1000\n");                  // no user: FailedPrecondition
}

TEST(Sequential, MisuseWarnsAsPredicted) {
  RunText(
      "T0: insert s0 0x0+0x1000\n"
      "T0: insert s0 0x0+0x1000\n"    // insert twice
      "T0: insert s1 0x0+0\n"         // zero length
      "T0: insert s1 0xffffffffffff0000+0x11000\n"  // overflow
      "T0: remove s2\n"               // not inserted
      "T0: unregister c3\n"           // not registered
      "T0: put none\n"                // no reference
      "T0: inv_end\n"                 // no start anywhere
      "T0: register c0 none\n"
      "T0: register c0 none\n");      // register twice
}

TEST(Sequential, SeqWrapsAround) {
  RunText(
      "initial_seq near_wrap\n"
      "T0: insert s0 0x0+0x1000\n"
      "T0: invalidate 0x0+0x1000 block unmap\n"
      "T0: invalidate 0x0+0x1000 block unmap\n"
      "T0: insert s1 0x0+0x1000\n"
      "T0: read_begin s1\n"
      "T0: invalidate 0x0+0x1000 block unmap\n"
      "T0: read_retry s1\n");
}

// The boundary ops (program.h BoundaryRange). Each test pins the callback sets
// at a subscription boundary inside one page, so an off-by-one of one byte in
// the core's range arithmetic (the walk's [start, end - 1], the insert's
// start + length - 1, the tree's overlap test) fails it twice over: the model
// disagrees (the run aborts), and the expected callbacks below differ.

TEST(Sequential, RangeEndingOneByteBeforeAtAndAfterASubscriptionsStart) {
  const std::vector<std::string> cb = OpCallbacks(
      "T0: insert_at s0 0x1001+0xfff\n"             // [0x1001, 0x1fff]
      "T0: invalidate_at 0x0+0x1001 block unmap\n"  // last 0x1000: one byte before
      "T0: invalidate_at 0x0+0x1002 block unmap\n"  // last 0x1001: at the start
      "T0: invalidate_at 0x1+0x1001 block unmap\n"  // last 0x1001, from 0x1
      "T0: invalidate_at 0x1000+0x1 block unmap\n"  // [0x1000, 0x1000]: just before
      "T0: invalidate_at 0x1001+0x1 block unmap\n"  // [0x1001, 0x1001]: the first byte
      "T0: invalidate_at 0x1000+0x2 block unmap\n"  // [0x1000, 0x1001]: one byte after
  );
  ASSERT_EQ(cb.size(), 7u);
  EXPECT_EQ(cb[1], "");
  EXPECT_TRUE(absl::StrContains(cb[2], "invalidate s0 [0x0,0x1002)")) << cb[2];
  EXPECT_TRUE(absl::StrContains(cb[3], "invalidate s0 [0x1,0x1002)")) << cb[3];
  EXPECT_EQ(cb[4], "");
  EXPECT_TRUE(absl::StrContains(cb[5], "invalidate s0")) << cb[5];
  EXPECT_TRUE(absl::StrContains(cb[6], "invalidate s0")) << cb[6];
}

TEST(Sequential, RangeStartingOneByteBeforeAtAndAfterASubscriptionsLast) {
  const std::vector<std::string> cb = OpCallbacks(
      "T0: insert_at s0 0x1000+0xfff\n"             // [0x1000, 0x1ffe]
      "T0: invalidate_at 0x1ffe+0x2 block unmap\n"  // starts at the last byte
      "T0: invalidate_at 0x1fff+0x1 block unmap\n"  // starts one byte after
      "T0: invalidate_at 0x1ffe+0x1 block clear\n"  // the last byte alone
      "T0: invalidate_at 0x1fff+0x1002 block clear\n"  // one byte after, to 0x3000
      "T0: insert_at s1 0x2000+0x1\n"                // [0x2000, 0x2000]: abuts s0 + 1
      "T0: invalidate_at 0x1fff+0x2 block unmap\n"  // [0x1fff, 0x2000]: s1 only
      "T0: invalidate_at 0x1ffe+0x2 block unmap\n"  // [0x1ffe, 0x1fff]: s0 only
  );
  ASSERT_EQ(cb.size(), 8u);
  EXPECT_TRUE(absl::StrContains(cb[1], "invalidate s0")) << cb[1];
  EXPECT_EQ(cb[2], "");
  EXPECT_TRUE(absl::StrContains(cb[3], "invalidate s0")) << cb[3];
  EXPECT_EQ(cb[4], "");
  EXPECT_TRUE(absl::StrContains(cb[6], "invalidate s1") && !absl::StrContains(cb[6], "s0"))
      << cb[6];
  EXPECT_TRUE(absl::StrContains(cb[7], "invalidate s0") && !absl::StrContains(cb[7], "s1"))
      << cb[7];
}

TEST(Sequential, EmptyRangesOverlapNothing) {
  const std::vector<std::string> cb = OpCallbacks(
      "T0: insert_at s0 0x0+0x2000\n"
      "T0: fault_at s0 0x0+0x2000\n"
      "T0: invalidate_at 0x1000+0x0 block unmap\n"  // inside s0: still nothing
      "T0: invalidate_at 0x0+0x0 block unmap\n"     // [0, 0): end - 1 would wrap
      "T0: inv_start_at 0x1800+0x0 nonblock clear\n"
      "T0: inv_end\n"
      "T0: insert_at s1 0x1000+0x0\n"                // rejected: length 0
      "T0: fault_at s0 0x800+0x0\n");                // installs nothing
  ASSERT_EQ(cb.size(), 8u);
  for (int i : {2, 3, 4}) EXPECT_EQ(cb[i], "") << i;
}

TEST(Sequential, TopOfTheAddressSpace) {
  const std::vector<std::string> cb = OpCallbacks(
      "T0: insert_at s0 0xffffffffffff0000+0x10000\n"    // last == ULONG_MAX
      "T0: insert_at s1 0xffffffffffffffff+0x1\n"        // [ULONG_MAX, ULONG_MAX]
      "T0: insert_at s2 0xfffffffffffff001+0x1000\n"     // overflows by one: rejected
      "T0: invalidate_at 0xfffffffffffffffe+0x1 block unmap\n"   // ends at ULONG_MAX
      "T0: invalidate_at 0xfffffffffffff7ff+0x800 block unmap\n"  // last ULONG_MAX - 1
      "T0: release\n");  // the RELEASE walk reaches s1 too (§5)
  ASSERT_EQ(cb.size(), 6u);
  EXPECT_TRUE(absl::StrContains(cb[3], "invalidate s0") && !absl::StrContains(cb[3], "s1"))
      << cb[3];
  EXPECT_TRUE(absl::StrContains(cb[4], "invalidate s0") && !absl::StrContains(cb[4], "s1"))
      << cb[4];
  EXPECT_TRUE(absl::StrContains(cb[5], "invalidate s0") && absl::StrContains(cb[5], "invalidate s1"))
      << cb[5];
}

TEST(Sequential, SubPageRangesChangeOnlyWholePages) {
  // s0 mirrors page 1 from byte 0x1001; a range ending at 0x1000 shares the page
  // but not a byte: no callback, and the page keeps its value (P6 holds).
  RunText(
      "T0: insert_at s0 0x1001+0xfff\n"
      "T0: fault_at s0 0x1001+0x1\n"
      "T0: invalidate_at 0x0+0x1001 block unmap\n"
      "T0: invalidate_at 0x1000+0x2 block unmap\n"  // byte 0x1001: erases s0's page 1
      "T0: fault_at s0 0x1fff+0x1\n"
      "T0: invalidate 0x1000+0x1000 block unmap\n");
}

TEST(Sequential, DriverMisbehavioursWarnAsPredicted) {
  const std::vector<std::string> cb = OpCallbacks(
      "T0: insert s0 0x0+0x2000\n"
      "T0: insert s1 0x1000+0x2000\n"
      "T0: register c0 start,end\n"
      "T0: misbehave s0 fail_blockable\n"
      "T0: misbehave s1 even_seq\n"
      "T0: misbehave c0 fail_start\n"
      "T0: invalidate 0x0+0x4000 nonblock unmap\n"  // not blockable: nothing misbehaves
      "T0: invalidate 0x0+0x4000 block unmap\n"     // all three: the walk goes on
      "T0: invalidate 0x0+0x4000 block unmap\n"     // used up: all well
      "T0: misbehave s1 fail_blockable\n"
      "T0: misbehave s3 even_seq\n"                 // empty slot: arms nothing
      "T0: insert s3 0x8000+0x1000\n"
      "T0: invalidate 0x8000+0x1000 block unmap\n"  // s3: no warning
      "T0: release\n");                              // s1 fails on RELEASE: warns
  ASSERT_EQ(cb.size(), 14u);
  EXPECT_TRUE(absl::StrContains(cb[6], "invalidate s1") && !absl::StrContains(cb[6], "false"))
      << cb[6];
  EXPECT_TRUE(absl::StrContains(cb[7], "-> false") && absl::StrContains(cb[7], "EAGAIN") &&
              absl::StrContains(cb[7], "invalidate s1") && absl::StrContains(cb[7], "end c0"))
      << cb[7];
  EXPECT_FALSE(absl::StrContains(cb[8], "false") || absl::StrContains(cb[8], "EAGAIN")) << cb[8];
  EXPECT_TRUE(absl::StrContains(cb[13], "release cur_seq") && absl::StrContains(cb[13], "-> false"))
      << cb[13];
}

TEST(Sequential, RandomBoundaryProgramsAgreeWithTheModel) {
  std::mt19937 rng(5);
  for (int i = 0; i < 1000; ++i) {
    Program p;
    p.threads.assign(1 + rng() % 2, {});
    const int n = static_cast<int>(rng() % 24);
    for (int k = 0; k < n; ++k) {
      // Mostly boundary ops, some page-granular ones and classic subscribers.
      std::vector<uint8_t> one = {0};
      const unsigned pick = rng() % 10;
      if (pick < 7) {
        one.push_back(kEscapeOpcode);
        one.push_back(EscapeByte(kFirstBoundaryOp + rng() % (kNumOpCodes - kFirstBoundaryOp)));
      } else {
        one.push_back(static_cast<uint8_t>(pick == 7 ? 0 : pick == 8 ? 9 : rng() % kFirstBoundaryOp));
      }
      for (int b = 0; b < 5; ++b) one.push_back(static_cast<uint8_t>(rng()));
      const Program q = Decode(one);
      if (q.num_ops() > 0) p.Append(static_cast<int>(rng() % p.threads.size()), q.threads[0][0]);
    }
    TestOneInput(p);
  }
}

TEST(Sequential, RandomProgramsAgreeWithTheModel) {
  std::mt19937 rng(4);
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> bytes(rng() % 160);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    // Mostly known opcodes, so that programs do something.
    for (size_t k = 1; k < bytes.size(); k += 4) bytes[k] &= 0xcf;
    TestOneInput(Decode(bytes));
  }
}

}  // namespace
}  // namespace nf::fuzz
