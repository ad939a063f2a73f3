// The rest of the kernel's API (docs/contract.md §10) through the sequential
// checker, on the target this test is linked with: sequential_api_test (nf's
// core, where §10.1-§10.4 are outside the contract and skipped),
// sequential_api_test_kernel (6.1) and sequential_api_test_kernel_6_12. Every
// run aborts on a disagreement with the reference model; the tests below pin
// the callbacks and results on top. The Model tests at the end make the model's
// new checks fail on purpose.
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzzers/executors/report_json.h"
#include "fuzzers/executors/sequential.h"
#include "fuzzers/executors/sequential_steps.h"
#include "fuzzers/oracles/model.h"
#include "fuzzers/program/program_text.h"
#include "fuzzers/world/world.h"
#include "gtest/gtest.h"

namespace nf::fuzz {
namespace {

// The linked target's traits.
target::Traits LinkedTraits() {
  std::unique_ptr<target::Target> t = NewTarget(InitialSeq::kDefault);
  const target::Traits traits = t->traits();
  t->PutUser();  // the program's user exits (release), then the harness's reference goes
  t->Finish();
  return traits;
}

std::vector<std::string> Steps(const char* text) { return StepTexts(text, /*results=*/true); }

// §10.1: each secondary subscriber once, answers ORed (c0 on page 0 young, c1
// old; page 1 the other way round); test_young stops at the first young one.
TEST(SequentialApi, YoungCalls) {
  const std::vector<std::string> s = Steps(
      "T0: register_secondary c0 none\n"
      "T0: register_secondary c1 start\n"
      "T0: register c2 start,end\n"
      "T0: clear_flush_young 0x0+0x2000\n"
      "T0: clear_young 0x1000+0x1000\n"
      "T0: test_young 0x0+0x1000\n"
      "T0: unregister c0\n"
      "T0: test_young 0x2000+0x1000\n"
      "T0: unregister c1\n"
      "T0: clear_young 0x0+0x1000\n");
  ASSERT_EQ(s.size(), 10u);
  if (!LinkedTraits().secondary_mmu_api) {
    for (int i : {0, 1, 3, 4, 5, 7, 9}) EXPECT_EQ(s[i], "skipped") << i;
    return;
  }
  EXPECT_TRUE(absl::StrContains(s[3], "true; ")) << s[3];
  EXPECT_TRUE(absl::StrContains(s[3], "clear_flush_young c0 [0x0,0x2000) -> young")) << s[3];
  EXPECT_TRUE(absl::StrContains(s[3], "clear_flush_young c1 [0x0,0x2000) -> old")) << s[3];
  EXPECT_FALSE(absl::StrContains(s[3], "c2")) << s[3];
  EXPECT_TRUE(absl::StrContains(s[4], "clear_young c1 [0x1000,0x2000) -> young")) << s[4];
  EXPECT_TRUE(absl::StrContains(s[4], "clear_young c0 [0x1000,0x2000) -> old")) << s[4];
  EXPECT_TRUE(absl::StrContains(s[5], "true")) << s[5];
  EXPECT_TRUE(absl::StrContains(s[7], "false; test_young c1 0x2000 -> old")) << s[7];
  EXPECT_EQ(s[9], "false");  // no secondary subscriber left
}

// §10.2 and §10.3, §10.6: change_pte (6.1 only), the secondary-TLB invalidate,
// 6.1's end that calls it and the range-only end that does not.
TEST(SequentialApi, ChangePteSecondaryTlbAndTheRangeOnlyEnd) {
  const std::vector<std::string> s = Steps(
      "T0: register_secondary c0 release\n"
      "T0: register c1 end\n"
      "T0: change_pte 0x3000+0x1000\n"
      "T0: secondary_tlb 0x0+0x4000\n"
      "T0: invalidate 0x0+0x1000 block unmap\n"
      "T0: inv_start 0x0+0x1000 block unmap\n"
      "T0: inv_only_end\n");
  ASSERT_EQ(s.size(), 7u);
  const target::Traits tr = LinkedTraits();
  if (!tr.secondary_mmu_api) {
    EXPECT_EQ(s[0], "skipped");
    EXPECT_EQ(s[6], "OK; end c1 [0x0,0x1000) block unmap");  // nf's range-only end: an end
    return;
  }
  EXPECT_EQ(absl::StrContains(s[2], "change_pte c0 0x3000"), tr.has_change_pte) << s[2];
  EXPECT_TRUE(absl::StrContains(s[3], "secondary_tlb c0 [0x0,0x4000)")) << s[3];
  EXPECT_FALSE(absl::StrContains(s[3], "c1")) << s[3];
  EXPECT_EQ(absl::StrContains(s[4], "secondary_tlb c0 [0x0,0x1000)"), tr.end_calls_secondary_tlb)
      << s[4];
  EXPECT_TRUE(absl::StrContains(s[4], "end c1")) << s[4];
  EXPECT_FALSE(absl::StrContains(s[6], "secondary_tlb")) << s[6];
  EXPECT_TRUE(absl::StrContains(s[6], "end c1")) << s[6];
}

// §10.4: read_only is true for protection_vma only, where the version defines it.
TEST(SequentialApi, ReadOnly) {
  const std::vector<std::string> s = Steps(
      "T0: read_only 0x0+0x1000 block protection_vma\n"
      "T0: read_only 0x0+0x1000 nonblock unmap\n");
  ASSERT_EQ(s.size(), 2u);
  const target::Traits tr = LinkedTraits();
  if (!tr.secondary_mmu_api) {
    EXPECT_EQ(s[0], "skipped");
    return;
  }
  EXPECT_EQ(s[0], tr.has_range_update_to_read_only ? "true" : "false");
  EXPECT_EQ(s[1], "false");
}

// §10.5: insert_locked has insert's results, deferred inserts included.
TEST(SequentialApi, InsertLocked) {
  const std::vector<std::string> s = Steps(
      "T0: insert_locked s0 0x1000+0x2000\n"
      "T0: insert_locked s1 0x0+0x0\n"
      "T0: inv_start 0x0+0x4000 block unmap\n"
      "T0: insert_locked s2 0x2000+0x1000\n"
      "T0: inv_end\n"
      "T0: invalidate 0x2000+0x1000 block unmap\n");
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0], "OK");
  EXPECT_EQ(s[1], "OUT_OF_RANGE");
  EXPECT_EQ(s[3], "OK");
  EXPECT_TRUE(absl::StrContains(s[5], "invalidate s2")) << s[5];
  EXPECT_TRUE(absl::StrContains(s[5], "invalidate s0")) << s[5];
}

// §10.8: an invalidation holding a reference only: after release the walk still
// calls the subscriptions in the tree; the classic subscribers get nothing.
TEST(SequentialApi, InvalidationWithoutAUserAfterRelease) {
  const std::vector<std::string> s = Steps(
      "T0: insert s0 0x0+0x2000\n"
      "T0: register c0 release,start,end\n"
      "T0: invalidate_mm 0x0+0x1000 block unmap\n"
      "T0: release\n"
      "T0: invalidate_mm 0x1000+0x1000 block clear\n"
      "T0: synchronize\n");
  ASSERT_EQ(s.size(), 6u);
  EXPECT_TRUE(absl::StrContains(s[2], "start c0")) << s[2];
  EXPECT_TRUE(absl::StrContains(s[2], "invalidate s0")) << s[2];
  EXPECT_TRUE(absl::StrContains(s[4], "OK; invalidate s0 [0x1000,0x2000) block clear")) << s[4];
  EXPECT_FALSE(absl::StrContains(s[4], "c0")) << s[4];
}

// The seeds of corpus/seeds/sequential_fuzzer_kernel/ run clean on every target.
TEST(SequentialApi, TheSeeds) {
  for (const char* name : {"secondary_mmu", "insert_locked", "invalidate_without_user"}) {
    const std::string path =
        absl::StrCat(NF_SOURCE_DIR, "/corpus/seeds/sequential_fuzzer_kernel/", name, ".nfp");
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::stringstream text;
    text << in.rdbuf();
    const absl::StatusOr<Program> p = Parse(text.str(), path);
    ASSERT_TRUE(p.ok()) << p.status();
    TestOneInput(*p);
  }
}

// --- The model's checks fail where they must --------------------------------

CallbackRecord Secondary(CallbackRecord::Kind kind, int id, uint64_t start, uint64_t end,
                         bool young) {
  return CallbackRecord{.kind = kind, .id = id, .start = start, .end = end, .result = young};
}

class ModelApi : public ::testing::Test {
 protected:
  void SetUp() override {
    target::Traits k;
    k.secondary_mmu_api = k.has_change_pte = k.end_calls_secondary_tlb = true;
    m_.SetTraits(k);
    ASSERT_EQ(m_.Apply(0, SlotOp(OpCode::kRegisterSecondary, 0), OpResult{}, {}).text, "");
    ASSERT_EQ(m_.Apply(0, SlotOp(OpCode::kRegisterSecondary, 1), OpResult{}, {}).text, "");
  }
  // A young call on page 0 that returned young, and the callbacks of c0 (young)
  // and c1 (old) with [0, end).
  struct YoungCall {
    Op op;
    OpResult young;
    CallbackRecord c0, c1;
  };
  static YoungCall MakeYoungCall(OpCode code, uint64_t end) {
    const auto kind = static_cast<CallbackRecord::Kind>(
        static_cast<int>(CallbackRecord::Kind::kClearFlushYoung) +
        static_cast<int>(code) - static_cast<int>(OpCode::kClearFlushYoung));
    return YoungCall{.op = RangeOp(code, 0, 1),
                     .young = OpResult{.flag = true},
                     .c0 = Secondary(kind, 0, 0, end, true),
                     .c1 = Secondary(kind, 1, 0, end, false)};
  }
  Model m_{InitialSeq::kDefault, 1};
};

TEST_F(ModelApi, AYoungCallMissingOrRepeatedOrWithAnotherAnswerFails) {
  const auto [op, young, c0, c1] = MakeYoungCall(OpCode::kClearYoung, 0x1000);
  EXPECT_EQ(m_.Apply(0, op, young, {c0, c1}).text, "");
  EXPECT_NE(m_.Apply(0, op, young, {c0}).text, "");              // c1 not called
  EXPECT_NE(m_.Apply(0, op, young, {c0, c1, c1}).text, "");      // c1 twice
  CallbackRecord wrong = c1;
  wrong.result = true;
  EXPECT_NE(m_.Apply(0, op, young, {c0, wrong}).text, "");       // another answer
  EXPECT_NE(m_.Apply(0, op, OpResult{}, {c0, c1}).text, "");     // not the OR
}

TEST_F(ModelApi, TestYoungThatGoesOnAfterAYoungAnswerFails) {
  const auto [op, young, c0, c1] = MakeYoungCall(OpCode::kTestYoung, 0);
  EXPECT_EQ(m_.Apply(0, op, young, {c1, c0}).text, "");
  EXPECT_EQ(m_.Apply(0, op, young, {c0}).text, "");
  EXPECT_NE(m_.Apply(0, op, young, {c0, c1}).text, "");  // went on after c0's young
  EXPECT_NE(m_.Apply(0, op, young, {c1}).text, "");      // stopped without a young answer
}

TEST_F(ModelApi, AClassicCallbackOfAnInvalidationWithoutAUserAfterReleaseFails) {
  ASSERT_EQ(m_.Apply(0, RegisterOp(2, kHasStart | kHasEnd), OpResult{}, {}).text, "");
  ASSERT_EQ(m_.Apply(0, BareOp(OpCode::kRelease), OpResult{}, {}).text, "");
  const Op op = RangeOp(OpCode::kInvalidateMm, 0, 1);
  CallbackRecord start;
  start.kind = CallbackRecord::Kind::kStart;
  start.id = 2;
  start.end = 0x1000;
  EXPECT_EQ(m_.Apply(0, op, OpResult{}, {}).text, "");
  EXPECT_NE(m_.Apply(0, op, OpResult{}, {start}).text, "");  // unlinked by release
}

}  // namespace
}  // namespace nf::fuzz
