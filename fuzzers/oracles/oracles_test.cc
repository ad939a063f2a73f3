// Each oracle of fuzzers/oracles/oracles.h on short event sequences: one that
// breaks its property (the oracle must fail, naming that property) and one
// that does not (it must pass), so that an oracle that cannot fail is caught
// here and not by a mutant run. Also the Property names and their clauses.
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "fuzzers/oracles/oracles.h"
#include "fuzzers/oracles/property.h"
#include "gtest/gtest.h"
#include "target/target.h"

namespace nf::fuzz {
namespace {

// A classic subscriber handle: only its id and behaviour are read.
class FakeClassic final : public ClassicSub {
 public:
  explicit FakeClassic(int id, uint8_t behaviour = 0) : ClassicSub(id, behaviour) {}
};

Range MakeRange(uint64_t start, uint64_t end, Event event = Event::kUnmap) {
  return Range{.start = start, .end = end, .blockable = true, .event = event, .owner = nullptr};
}

Range ReleaseRange() { return MakeRange(0, std::numeric_limits<uint64_t>::max(), Event::kRelease); }

// Expects f to fail with property p and a text starting with its name.
void ExpectViolates(const Failure& f, Property p) {
  ASSERT_FALSE(f.empty()) << "the oracle passed where " << PropertyName(p) << " is broken";
  EXPECT_EQ(f.property, p) << f.text;
  EXPECT_EQ(f.text.substr(0, PropertyName(p).size() + 2), std::string(PropertyName(p)) + ": ")
      << f.text;
}

void ExpectHolds(const Failure& f) { EXPECT_TRUE(f.empty()) << f.text; }

// --- Property ----------------------------------------------------------------

TEST(Property, EveryPropertyHasItsNameAndAClauseInTheContract) {
  std::ifstream in(NF_SOURCE_DIR "/docs/contract.md");
  ASSERT_TRUE(in) << "docs/contract.md";
  std::stringstream contract;
  contract << in.rdbuf();
  EXPECT_EQ(PropertyName(Property::kNone), "");
  for (int i = 1; i <= kNumProperties; ++i) {
    const Property p = static_cast<Property>(i);
    EXPECT_EQ(std::string(PropertyName(p)), absl::StrCat("P", i));
    EXPECT_NE(contract.str().find(absl::StrCat("| **P", i, "** |")), std::string::npos)
        << PropertyName(p) << " has no clause in docs/contract.md §7";
  }
}

TEST(Property, ViolatedNamesThePropertyFirst) {
  const Failure f = Violated(Property::kP10, "data race: x");
  EXPECT_EQ(f.text, "P10: data race: x");
  EXPECT_EQ(f.property, Property::kP10);
  EXPECT_EQ(NotAProperty("P3: not one").property, Property::kNone);
}

// --- P1 ------------------------------------------------------------------------

TEST(P1, OddSeqAtAQuiescentPointFails) {
  ExpectViolates(P1QuiescentPoint({.global_seq = 0x5}), Property::kP1);
  ExpectHolds(P1QuiescentPoint({.global_seq = 0x6}));
}

// --- P2 ------------------------------------------------------------------------

TEST(P2, EvenOwnSeqInACallbackFails) {
  ExpectViolates(P2IntervalSeqRead({.slot = 1, .own_seq = 0x4}), Property::kP2);
  ExpectHolds(P2IntervalSeqRead({.slot = 1, .own_seq = 0x5}));
}

// --- Interval callbacks (P3, P5, P9) -----------------------------------------------

// A callback on s0 [0x1000,0x1fff] in the walk of [0x0,0x4000) at seq 3, the
// walk's first.
IntervalCallbackEntered GoodCallback() {
  IntervalCallbackEntered e;
  e.slot = 0;
  e.range = MakeRange(0, 0x4000);
  e.cur_seq = 3;
  e.global_seq = 3;
  e.in_walk = true;
  e.start = 0x1000;
  e.last = 0x1fff;
  e.walk_range = e.range;
  return e;
}

TEST(P3, IntervalCallbackHoldsAndEachBreachFails) {
  ExpectHolds(CheckIntervalCallback(GoodCallback()));
  IntervalCallbackEntered e = GoodCallback();
  e.global_seq = 4;  // even
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.global_seq = 5;  // odd, but not cur_seq
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.walk_range = MakeRange(0, 0x8000);  // another walk's range
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.start = 0x5000;  // does not overlap
  e.last = 0x5fff;
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.walk_cur_seq = 1;  // an earlier callback of the walk had another cur_seq
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.called_before = true;
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.in_walk = false;  // outside any start
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
}

TEST(P3, EmptyRangeOverlapsNothingButTheReleaseWalkCoversAll) {
  IntervalCallbackEntered e = GoodCallback();
  e.range = e.walk_range = MakeRange(0x1000, 0x1000);
  ExpectViolates(CheckIntervalCallback(e), Property::kP3);
  e = GoodCallback();
  e.range = e.walk_range = ReleaseRange();
  e.release_walk = true;
  e.releases = 1;
  e.start = e.last = std::numeric_limits<uint64_t>::max();
  ExpectHolds(CheckIntervalCallback(e));
}

TEST(P3, StartThatSkippedASubscriptionFails) {
  StartReturned e{.range = MakeRange(0, 0x4000), .walked_to_end = true};
  ExpectHolds(CheckStartReturned(e));
  e.missed_slot = 2;
  e.missed_start = 0x1000;
  e.missed_last = 0x1fff;
  ExpectViolates(CheckStartReturned(e), Property::kP3);
  e.walked_to_end = false;  // a failed interval walk need not call everyone
  ExpectHolds(CheckStartReturned(e));
}

TEST(P3, SequentialCallbackChecksSeqTreeAndOverlap) {
  // A handle the oracle only compares (as a target's callbacks pass them).
  const int handle = 0;
  const auto* sub = reinterpret_cast<const IntervalSub*>(&handle);
  Snapshot snap;
  snap.invalidate_seq = 3;
  snap.tree.push_back({sub, 0x1000, 0x1fff, 3});
  const SequentialCallback e{
      .sub = sub, .slot = 1, .range = MakeRange(0, 0x4000), .cur_seq = 3, .snapshot = &snap};
  ExpectHolds(P3SequentialCallback(e));
  SequentialCallback bad = e;
  bad.cur_seq = 5;
  ExpectViolates(P3SequentialCallback(bad), Property::kP3);
  bad = e;
  bad.range = MakeRange(0x2000, 0x4000);
  ExpectViolates(P3SequentialCallback(bad), Property::kP3);
  snap.tree.clear();
  ExpectViolates(P3SequentialCallback(e), Property::kP3);
}

TEST(P5, CallbacksOnSubscribersNotLiveFail) {
  IntervalCallbackEntered e = GoodCallback();
  e.slot = -1;
  ExpectViolates(CheckIntervalCallback(e), Property::kP5);
  const FakeClassic c(1);
  using Kind = ClassicCallbackEntered::Kind;
  for (const Kind k : {Kind::kRelease, Kind::kStart, Kind::kEnd, Kind::kFree}) {
    ExpectViolates(P5ClassicCallback({.kind = k, .sub = nullptr}), Property::kP5);
    ExpectHolds(P5ClassicCallback({.kind = k, .sub = &c}));
  }
  ExpectViolates(P5SequentialCallback({.live = false, .range = MakeRange(0, 0x1000)}),
                 Property::kP5);
  ExpectHolds(P5SequentialCallback({.live = true}));
}

TEST(P9, ASecondReleaseOrACallbackAfterReleaseFails) {
  IntervalCallbackEntered e = GoodCallback();
  e.range = e.walk_range = ReleaseRange();
  e.release_walk = true;
  e.releases = 1;
  ExpectHolds(CheckIntervalCallback(e));
  e.releases = 2;
  ExpectViolates(CheckIntervalCallback(e), Property::kP9);
  e = GoodCallback();
  e.after_release_walk = true;
  ExpectViolates(CheckIntervalCallback(e), Property::kP9);
}

TEST(P9, ClassicReleaseOnceExceptAgainstUnregisterWhereTheTargetSaysSo) {
  const FakeClassic c(0);
  using Kind = ClassicCallbackEntered::Kind;
  Traits once;  // nf's: release once, even against unregister
  Traits kernel;
  kernel.release_once_against_unregister = false;
  ExpectHolds(P9ClassicCallback({.kind = Kind::kRelease, .sub = &c, .releases = 1}, once));
  ExpectViolates(P9ClassicCallback({.kind = Kind::kRelease, .sub = &c, .releases = 2}, once),
                 Property::kP9);
  const ClassicCallbackEntered racing{
      .kind = Kind::kRelease, .sub = &c, .releases = 2, .may_unlink = true};
  ExpectViolates(P9ClassicCallback(racing, once), Property::kP9);
  ExpectHolds(P9ClassicCallback(racing, kernel));
  ClassicCallbackEntered third = racing;
  third.releases = 3;
  ExpectViolates(P9ClassicCallback(third, kernel), Property::kP9);
  for (const Kind k : {Kind::kStart, Kind::kEnd}) {
    ExpectViolates(P9ClassicCallback({.kind = k, .sub = &c, .after_release_walk = true}, once),
                   Property::kP9);
    ExpectHolds(P9ClassicCallback({.kind = k, .sub = &c}, once));
  }
}

TEST(P9, EveryLiveSubscriptionGetsOneReleaseTopBytePerTraits) {
  Traits nf;
  Traits kernel;
  kernel.release_walk_covers_top_address = false;
  ExpectHolds(P9ReleaseDone({.slot = 0, .start = 0, .last = 0xfff, .releases = 1}, nf));
  ExpectViolates(P9ReleaseDone({.slot = 0, .start = 0, .last = 0xfff, .releases = 0}, nf),
                 Property::kP9);
  constexpr uint64_t kTop = std::numeric_limits<uint64_t>::max();
  const ReleaseDone top{.slot = 1, .start = kTop, .last = kTop, .releases = 0};
  ExpectViolates(P9ReleaseDone(top, nf), Property::kP9);
  ExpectHolds(P9ReleaseDone(top, kernel));
}

// §10.8: a subscription that may have been a deferred insert when release ran
// (an invalidation without a user held the epoch open) gets at most one.
TEST(P9, ADeferredInsertAcrossReleaseGetsAtMostOne) {
  Traits nf;
  ReleaseDone e{.slot = 5, .start = 0x5000, .last = 0x9fff, .releases = 0, .may_miss = true};
  ExpectHolds(P9ReleaseDone(e, nf));
  e.releases = 1;
  ExpectHolds(P9ReleaseDone(e, nf));
  e.releases = 2;
  ExpectViolates(P9ReleaseDone(e, nf), Property::kP9);
  e.releases = 0;
  e.may_miss = false;
  ExpectViolates(P9ReleaseDone(e, nf), Property::kP9);
}

// --- P6 ------------------------------------------------------------------------

TEST(P6, StaleMirrorFailsUnlessAnInvalidationCoversThePage) {
  std::array<PageValue, harness::kTablePages> mirror{};
  std::array<PageValue, harness::kTablePages> table;
  table.fill(1);
  std::array<int, harness::kTablePages> covered{};
  MirrorRead e{.slot = 0, .mirror = &mirror, .table = &table, .covered = &covered};
  mirror[3] = 1;  // current
  ExpectHolds(P6MirrorRead(e));
  table[3] = 2;  // the page changed: the mirror is stale
  ExpectViolates(P6MirrorRead(e), Property::kP6);
  covered[3] = 1;  // an invalidation in progress covers it
  ExpectHolds(P6MirrorRead(e));
  e.all_pages = true;  // the end of a run: no exemption
  ExpectViolates(P6MirrorRead(e), Property::kP6);
}

// --- P7 ------------------------------------------------------------------------

TEST(P7, FinalStateMustBeCleanAndARunMustEnd) {
  std::array<long, kNumWarnings> accepted{};
  std::array<long, kNumWarnings> owed{};
  Snapshot s;
  s.refs = 1;
  s.released = true;
  FinalState e{.snapshot = &s, .accepted_warnings = &accepted, .owed_warnings = &owed};
  ExpectHolds(P7FinalState(e));
  s.active_invalidate_ranges = 1;
  ExpectViolates(P7FinalState(e), Property::kP7);
  s.active_invalidate_ranges = 0;
  owed[0] = 1;  // a warning owed and never given
  ExpectViolates(P7FinalState(e), Property::kP7);
  owed[0] = 0;
  e.subscriptions_not_freed = 1;
  ExpectViolates(P7FinalState(e), Property::kP7);
  ExpectHolds(CheckRunEnded({.kind = RunEnded::Kind::kFinished}));
  ExpectViolates(CheckRunEnded({.kind = RunEnded::Kind::kStuck, .description = "deadlock"}),
                 Property::kP7);
  ExpectViolates(P7RunEnded({.kind = RunEnded::Kind::kWatchdog, .watchdog_seconds = 10}),
                 Property::kP7);
}

// --- P8 ------------------------------------------------------------------------

TEST(P8, FailedStartThatLeftAClassicUnendedFails) {
  StartReturned e{.range = MakeRange(0, 0x1000), .code = absl::StatusCode::kUnavailable};
  ExpectHolds(CheckStartReturned(e));
  e.classic_unended = 1u << 2;
  ExpectViolates(CheckStartReturned(e), Property::kP8);
  e.code = absl::StatusCode::kOk;  // a successful start ends its classics later
  ExpectHolds(CheckStartReturned(e));
}

TEST(P8, FailedStartThatChangedTheStateFails) {
  Traits nf;
  nf.counts_open_invalidations = true;
  Snapshot before;
  before.invalidate_seq = 2;
  Snapshot after = before;
  ExpectHolds(P8FailedStartStates({.before = &before, .after = &after}, nf));
  after.active_invalidate_ranges = 1;
  ExpectViolates(P8FailedStartStates({.before = &before, .after = &after}, nf), Property::kP8);
  after = before;
  after.invalidate_seq = 3;  // left the epoch odd
  ExpectViolates(P8FailedStartStates({.before = &before, .after = &after}, nf), Property::kP8);
  // Opened under another active invalidation: the parity stays odd until its end.
  before.active_invalidate_ranges = 1;
  after.active_invalidate_ranges = 1;
  ExpectHolds(P8FailedStartStates({.before = &before, .after = &after}, nf));
  // The open count only where the target counts it.
  after = before;
  after.open_invalidations = 1;
  ExpectViolates(P8FailedStartStates({.before = &before, .after = &after}, nf), Property::kP8);
  Traits kernel;
  kernel.counts_open_invalidations = false;
  ExpectHolds(P8FailedStartStates({.before = &before, .after = &after}, kernel));
}

// --- P10 -----------------------------------------------------------------------

TEST(P11, ALockOrderInversionFails) {
  ExpectViolates(CheckRunEnded({.kind = RunEnded::Kind::kLockOrder, .description = "cycle"}),
                 Property::kP11);
  ExpectHolds(P11RunEnded({.kind = RunEnded::Kind::kDataRace, .description = "data race"}));
}

TEST(P10, ADataRaceFails) {
  ExpectViolates(CheckRunEnded({.kind = RunEnded::Kind::kDataRace, .description = "data race"}),
                 Property::kP10);
  ExpectHolds(P10RunEnded({.kind = RunEnded::Kind::kStuck, .description = "deadlock"}));
}

// --- §10 (the rest of the kernel's API) -------------------------------------

// Expects f to fail a clause of §10: no property of §7, a text naming it.
void ExpectBreaksClause(const Failure& f, std::string_view clause) {
  ASSERT_FALSE(f.empty()) << "the check passed where " << clause << " is broken";
  EXPECT_EQ(f.property, Property::kNone) << f.text;
  EXPECT_EQ(f.text.substr(0, clause.size() + 1), std::string(clause) + ":") << f.text;
}

using target::SecondaryCall;

TEST(S10, SecondaryCallbackOnASubscriberWithoutTheMethodFails) {
  Traits kernel;
  const FakeClassic plain(1, target::kClassicHasStart);
  const FakeClassic secondary(2, target::kClassicSecondary | target::kClassicHasStart);
  const FakeClassic tlb(3, target::kClassicSecondary);
  SecondaryCallbackEntered e{.sub = &secondary, .call = SecondaryCall::kClearYoung,
                             .in_secondary_op = true};
  ExpectHolds(CheckSecondaryCallback(e, kernel));
  e.sub = &plain;  // registered by register, not register_secondary
  ExpectBreaksClause(CheckSecondaryCallback(e, kernel), "§10");
  // §10.3: the secondary-TLB method only without start and end.
  e.call = SecondaryCall::kSecondaryTlb;
  e.sub = &secondary;
  ExpectBreaksClause(CheckSecondaryCallback(e, kernel), "§10.3");
  e.sub = &tlb;
  ExpectHolds(CheckSecondaryCallback(e, kernel));
  // A subscriber that is not live: P5's, before §10.
  e.sub = nullptr;
  ExpectViolates(CheckSecondaryCallback(e, kernel), Property::kP5);
  ExpectHolds(S10SecondaryCallback(e, kernel));
}

TEST(S10, SecondaryCallbackOutsideASecondaryOpFailsButAnEndsTlbCall) {
  Traits v6_1;
  v6_1.end_calls_secondary_tlb = true;
  Traits v6_12;
  const FakeClassic tlb(3, target::kClassicSecondary);
  SecondaryCallbackEntered e{.sub = &tlb, .call = SecondaryCall::kSecondaryTlb,
                             .in_secondary_op = false};
  ExpectHolds(CheckSecondaryCallback(e, v6_1));  // 6.1's end calls invalidate_range
  ExpectBreaksClause(CheckSecondaryCallback(e, v6_12), "§10");
  e.call = SecondaryCall::kTestYoung;
  ExpectBreaksClause(CheckSecondaryCallback(e, v6_1), "§10");
}

// clear_young of [0x1000,0x3000) with two callbacks, one young: every field
// consistent; each test breaks one.
SecondaryCallReturned YoungCall(const Op* op) {
  SecondaryCallReturned e;
  e.op = op;
  e.call = SecondaryCall::kClearYoung;
  e.start = e.called_start = op->start();
  e.end = e.called_end = op->start() + op->length();
  e.young = true;
  e.n = 2;
  e.young_answers = 1;
  return e;
}

TEST(S10, SecondaryCallThatCalledWrongFails) {
  Traits kernel;
  const Op op = RangeOp(OpCode::kClearYoung, 1, 2);
  ExpectHolds(S10SecondaryCallReturned(YoungCall(&op), kernel));
  SecondaryCallReturned e = YoungCall(&op);
  e.called_twice = "c1";
  ExpectBreaksClause(S10SecondaryCallReturned(e, kernel), "§10");
  e = YoungCall(&op);
  e.other_call = true;
  ExpectBreaksClause(S10SecondaryCallReturned(e, kernel), "§10");
  e = YoungCall(&op);
  e.called_end += 0x1000;  // another range than the op's
  ExpectBreaksClause(S10SecondaryCallReturned(e, kernel), "§10");
  e = YoungCall(&op);
  e.n = 0;  // no callback: the range is not compared
  e.young_answers = 0;
  e.young = false;
  e.called_end = 0;
  ExpectHolds(S10SecondaryCallReturned(e, kernel));
}

TEST(S10, YoungResultThatIsNotTheOrOfTheAnswersFails) {
  Traits kernel;
  const Op op = RangeOp(OpCode::kClearYoung, 1, 2);
  SecondaryCallReturned e = YoungCall(&op);
  e.young = false;  // one answered young
  ExpectBreaksClause(S10SecondaryCallReturned(e, kernel), "§10.1");
  e.young_answers = 0;
  ExpectHolds(S10SecondaryCallReturned(e, kernel));
  // test_young (at an address) stops at its first young answer.
  const Op test = RangeOp(OpCode::kTestYoung, 1, 2);
  e = YoungCall(&test);
  e.call = SecondaryCall::kTestYoung;
  e.called_end = e.called_start;
  e.last_young = true;
  ExpectHolds(S10SecondaryCallReturned(e, kernel));
  e.last_young = false;  // asked another after the young one
  ExpectBreaksClause(S10SecondaryCallReturned(e, kernel), "§10.1");
  e.young_answers = 2;
  e.last_young = true;
  ExpectBreaksClause(S10SecondaryCallReturned(e, kernel), "§10.1");
}

TEST(S10, ChangePteThatCallsBackOnAVersionWithoutItFails) {
  Traits v6_1;
  v6_1.has_change_pte = true;
  Traits v6_12;
  const Op op = RangeOp(OpCode::kChangePte, 1, 1);
  SecondaryCallReturned e;  // one callback, at the address
  e.op = &op;
  e.call = SecondaryCall::kChangePte;
  e.start = e.called_start = e.called_end = op.start();
  e.end = op.start() + op.length();
  e.n = 1;
  ExpectHolds(S10SecondaryCallReturned(e, v6_1));
  ExpectBreaksClause(S10SecondaryCallReturned(e, v6_12), "§10.2");
  e.n = 0;
  ExpectHolds(S10SecondaryCallReturned(e, v6_12));
}

TEST(S10, ReadOnlyThatAnswersOtherThanTheVersionFails) {
  Traits v6_1;
  v6_1.has_range_update_to_read_only = true;
  Traits v6_12;
  ReadOnlyReturned e{.range = MakeRange(0, 0x1000, Event::kProtectionVma), .result = true};
  ExpectHolds(S10ReadOnlyReturned(e, v6_1));
  ExpectBreaksClause(S10ReadOnlyReturned(e, v6_12), "§10.4");
  e.result = false;
  ExpectBreaksClause(S10ReadOnlyReturned(e, v6_1), "§10.4");
  ExpectHolds(S10ReadOnlyReturned(e, v6_12));
  e.range.event = Event::kUnmap;  // only PROTECTION_VMA is true
  ExpectHolds(S10ReadOnlyReturned(e, v6_1));
}

TEST(S10, SynchronizeThatLeftAFreeQueuedWhileAloneFails) {
  ExpectBreaksClause(S10SynchronizeReturned({.alone = true, .pending_frees = 1}), "§10.7");
  ExpectHolds(S10SynchronizeReturned({.alone = true, .pending_frees = 0}));
  // Another thread inside an op may have begun a read-side section after it.
  ExpectHolds(S10SynchronizeReturned({.alone = false, .pending_frees = 1}));
}

}  // namespace
}  // namespace nf::fuzz
