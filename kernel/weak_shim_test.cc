// kernel/weak_shim_test.cc: the kernel shim's marked accesses under the
// scheduler's weak-memory mode (sync/weak_memory.h): SB and MP written with
// the kernel's own WRITE_ONCE/READ_ONCE/smp_mb/smp_store_release/
// smp_load_acquire (kernel/weak_shim_bodies.c, compiled as the kernel's file
// is), every schedule, the mode on and off. The seam's own litmus tests are
// sync/weak_memory_test.cc.
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernel/weak_shim_bodies.h"
#include "sync/litmus_for_testing.h"

namespace {

using nf::sched::LitmusOutcomes;

struct Program {
  nfk_litmus l{};
  std::vector<std::function<void()>> bodies;
  std::set<std::string> Run(bool weak) {
    return LitmusOutcomes(
        bodies, [this] { l = nfk_litmus{}; },
        [this] { return absl::StrCat("r0=", l.r[0], " r1=", l.r[1]); }, weak);
  }
};

TEST(KernelWeakShimTest, SbWriteOnceReadOnce) {
  Program p;
  p.bodies = {[&p] { nfk_sb0(&p.l, 0); }, [&p] { nfk_sb1(&p.l, 0); }};
  EXPECT_EQ(p.Run(true).count("r0=0 r1=0"), 1u);   // LKMM: Sometimes
  EXPECT_EQ(p.Run(false).count("r0=0 r1=0"), 0u);  // sequential consistency
}

TEST(KernelWeakShimTest, SbSmpMbForbidsTheWeakOutcome) {
  Program p;
  p.bodies = {[&p] { nfk_sb0(&p.l, 1); }, [&p] { nfk_sb1(&p.l, 1); }};
  const std::set<std::string> weak = p.Run(true);
  EXPECT_EQ(weak.count("r0=0 r1=0"), 0u);  // LKMM: Never
  EXPECT_EQ(weak.size(), 3u);
}

TEST(KernelWeakShimTest, MpOnceAllowsReleaseAcquireForbids) {
  Program once;
  once.bodies = {[&once] { nfk_mp_producer(&once.l, 0); },
                 [&once] { nfk_mp_consumer(&once.l, 0); }};
  EXPECT_EQ(once.Run(true).count("r0=1 r1=0"), 1u);   // LKMM: Sometimes
  EXPECT_EQ(once.Run(false).count("r0=1 r1=0"), 0u);
  Program ra;
  ra.bodies = {[&ra] { nfk_mp_producer(&ra.l, 1); }, [&ra] { nfk_mp_consumer(&ra.l, 1); }};
  const std::set<std::string> weak = ra.Run(true);
  EXPECT_EQ(weak.count("r0=1 r1=0"), 0u);  // LKMM: Never
  EXPECT_EQ(weak.count("r0=1 r1=1"), 1u);
}

}  // namespace
