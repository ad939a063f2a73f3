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
#include "gtest/gtest.h"

namespace nf::fuzz {
namespace {

void RunText(const char* text) {
  const absl::StatusOr<Program> p = Parse(text, "test.nfp");
  ASSERT_TRUE(p.ok()) << p.status();
  TestOneInput(*p);
}

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
