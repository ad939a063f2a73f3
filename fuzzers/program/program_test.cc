// Property tests of the op vocabulary, the byte codec and the text form.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fuzzers/program/codec.h"
#include "fuzzers/program/program.h"
#include "fuzzers/program/program_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf::fuzz {
namespace {

BoundaryRange RandomBoundary(std::mt19937& rng) {
  BoundaryRange r;
  r.top = rng() % 4 == 0;
  r.page = static_cast<uint8_t>(rng() % kSpacePages);
  r.start_off = static_cast<uint8_t>(rng() % kNumBoundaryOffsets);
  r.pages = static_cast<uint8_t>(rng() % (kMaxRangePages + 1));
  r.end_off = static_cast<uint8_t>(rng() % kNumBoundaryOffsets);
  return r;  // the op constructors normalize it
}

// A random valid program (fixed seeds: the tests are deterministic).
Program RandomProgram(std::mt19937& rng) {
  auto below = [&rng](int n) { return static_cast<int>(rng() % n); };
  Program p;
  p.threads.assign(1 + below(kMaxThreads), {});
  p.initial_seq = below(2) ? InitialSeq::kNearWrap : InitialSeq::kDefault;
  std::vector<int> budget(p.threads.size());
  for (int& n : budget) n = below(4) == 0 ? below(kMaxOpsPerThread + 1) : below(12);
  for (;;) {
    std::vector<int> live;
    for (size_t t = 0; t < budget.size(); ++t) {
      if (budget[t] > 0) live.push_back(static_cast<int>(t));
    }
    if (live.empty()) break;
    const int thread = live[below(static_cast<int>(live.size()))];
    --budget[thread];
    {
      // Decode knows the boundary ops only with NF_BOUNDARY_OPS on.
      const auto code =
          static_cast<OpCode>(below(kBoundaryOpsEnabled ? kNumOpCodes : kFirstBoundaryOp));
      Op op;
      // By the op's operand layout (the op table's), so that a new op is drawn
      // as soon as it has a row.
      switch (Info(code).operands) {
        case Operands::kInsert:
          op = InsertOp(below(kIntervalSlots), below(kSpacePages), 1 + below(kMaxRangePages),
                        static_cast<InsertShape>(below(3)));
          op.code = code;  // insert or insert_locked
          break;
        case Operands::kRange:
          // RangeOp keeps the flags only where the op has them.
          op = RangeOp(code, below(kSpacePages), 1 + below(kMaxRangePages), below(2) == 0,
                       static_cast<Event>(below(kNumEvents)));
          break;
        case Operands::kFault:
          op = FaultOp(below(kIntervalSlots), below(kSpacePages), 1 + below(kMaxRangePages));
          break;
        case Operands::kRegister:
          op = RegisterOp(below(kClassicSlots), static_cast<uint8_t>(below(256)));
          op.code = code;  // register or register_secondary
          break;
        case Operands::kIntervalSlot:
          op = SlotOp(code, below(kIntervalSlots));
          break;
        case Operands::kClassicSlot:
          op = SlotOp(code, below(kClassicSlots));
          break;
        case Operands::kBehaviour:
          op = BehaviourOp(code, static_cast<uint8_t>(below(256)));
          break;
        case Operands::kNone:
          op = BareOp(code);
          break;
        case Operands::kInsertAt:
          op = InsertAtOp(below(kIntervalSlots), RandomBoundary(rng));
          break;
        case Operands::kRangeAt:
          op = RangeAtOp(code, RandomBoundary(rng), below(2) == 0,
                         static_cast<Event>(below(kNumEvents)));
          break;
        case Operands::kFaultAt:
          op = FaultAtOp(below(kIntervalSlots), RandomBoundary(rng));
          break;
        case Operands::kMisbehave: {
          const auto m = static_cast<Misbehaviour>(below(kNumMisbehaviours));
          op = MisbehaveOp(m, below(MisbehaviourOnInterval(m) ? kIntervalSlots : kClassicSlots));
          break;
        }
      }
      p.Append(thread, op);
    }
  }
  if (below(3) == 0) {
    p.schedule.resize(below(40));
    for (auto& b : p.schedule) b = static_cast<uint8_t>(rng());
  }
  return p;
}

std::vector<uint8_t> RandomBytes(std::mt19937& rng) {
  std::vector<uint8_t> b(rng() % 200);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(Codec, DecodeEncodeRoundTripsGeneratedPrograms) {
  std::mt19937 rng(1);
  for (int i = 0; i < 3000; ++i) {
    const Program p = RandomProgram(rng);
    ASSERT_TRUE(IsValid(p)) << Print(p);
    const Program q = Decode(Encode(p));
    ASSERT_EQ(q, p) << "program:\n" << Print(p) << "decoded:\n" << Print(q);
  }
}

TEST(Codec, AnyBytesDecodeToAValidProgramThatReencodesToItself) {
  std::mt19937 rng(2);
  for (int i = 0; i < 3000; ++i) {
    const std::vector<uint8_t> bytes = RandomBytes(rng);
    const Program p = Decode(bytes);
    ASSERT_TRUE(IsValid(p));
    ASSERT_EQ(Decode(bytes), p) << "not deterministic";
    const std::vector<uint8_t> canonical = Encode(p);
    ASSERT_EQ(Decode(canonical), p) << Print(p);
    ASSERT_EQ(Encode(Decode(canonical)), canonical);
  }
}

// The API ops (docs/contract.md §10) behind the escape from 0x9b, each with
// its operands; the flags byte of an op without flags is read and dropped.
TEST(Codec, ApiOpsAreEscapedFrom0x9b) {
  struct Case {
    std::vector<uint8_t> bytes;
    const char* text;
  };
  const Case cases[] = {
      {{0x00, 62, 0x9b, 0x01, 0x01, 0x03}, "clear_flush_young 0x1000+0x2000"},
      {{0x00, 62, 0x9c, 0x02, 0x00, 0x00}, "clear_young 0x2000+0x1000"},
      {{0x00, 62, 0x9d, 0x00, 0x00, 0x00}, "test_young 0x0+0x1000"},
      {{0x00, 62, 0x9e, 0x03, 0x00, 0x00}, "change_pte 0x3000+0x1000"},
      {{0x00, 62, 0x9f, 0x00, 0x03, 0x00}, "secondary_tlb 0x0+0x4000"},
      {{0x00, 62, 0xa0, 0x01, 0x07}, "register_secondary c1 release,start,end"},
      {{0x00, 62, 0xa1, 0x02, 0x01, 0x01}, "insert_locked s2 0x1000+0x2000"},
      {{0x00, 62, 0xa2, 0x00, 0x00, 0x04}, "read_only 0x0+0x1000 block protection_vma"},
      {{0x00, 62, 0xa3}, "inv_only_end"},
      {{0x00, 62, 0xa4}, "synchronize"},
      {{0x00, 62, 0xa5, 0x00, 0x00, 0x01}, "invalidate_mm 0x0+0x1000 nonblock unmap"},
  };
  for (const Case& c : cases) {
    const Program p = Decode(c.bytes);
    ASSERT_EQ(p.threads[0].size(), 1u) << c.text;
    EXPECT_EQ(PrintOp(p.threads[0][0]), c.text);
    std::vector<uint8_t> canonical = c.bytes;
    if (c.bytes[2] <= 0x9f) canonical.back() = 0;  // no flags: written as 0
    EXPECT_EQ(Encode(p), canonical) << c.text;
  }
}

TEST(Codec, EmptyInputIsOneThreadWithNoOps) {
  const Program p = Decode({});
  EXPECT_EQ(p.threads.size(), 1u);
  EXPECT_TRUE(p.threads[0].empty());
  EXPECT_EQ(p.initial_seq, InitialSeq::kDefault);
  EXPECT_TRUE(p.schedule.empty());
}

TEST(Codec, UnknownOpcodesAreSkippedNotWrapped) {
  // insert s1 page 2, 3 pages; then remove s1.
  const std::vector<uint8_t> plain = {0x00, 0x00, 0x01, 0x02, 0x02, 0x01, 0x01};
  const Program want = Decode(plain);
  ASSERT_EQ(want.threads[0].size(), 2u);
  // 16..20 are the boundary ops' OpCode values, but only behind the escape.
  for (int opcode = kFirstBoundaryOp; opcode < 64; ++opcode) {
    for (int tag = 0; tag < 4; ++tag) {
      const uint8_t b = static_cast<uint8_t>(tag << kThreadShift | opcode);
      if (b == kEndOfOps) continue;
      std::vector<uint8_t> with = plain;
      with.insert(with.begin() + 5, b);  // between the two ops
      with.insert(with.begin() + 1, b);  // before the first
      EXPECT_EQ(Decode(with), want) << "opcode byte " << int{b};
    }
  }
}

TEST(Codec, OpcodeValuesAreFrozen) {
  // Append-only: committed corpora depend on these values.
  EXPECT_EQ(static_cast<int>(OpCode::kInsert), 0);
  EXPECT_EQ(static_cast<int>(OpCode::kInvalidate), 2);
  EXPECT_EQ(static_cast<int>(OpCode::kFault), 8);
  EXPECT_EQ(static_cast<int>(OpCode::kRelease), 13);
  EXPECT_EQ(static_cast<int>(OpCode::kUnlock), 15);
  EXPECT_EQ(static_cast<int>(OpCode::kInsertAt), 16);
  EXPECT_EQ(static_cast<int>(OpCode::kMisbehave), 20);
  EXPECT_EQ(static_cast<int>(OpCode::kClearFlushYoung), 21);
  EXPECT_EQ(static_cast<int>(OpCode::kRegisterSecondary), 26);
  EXPECT_EQ(static_cast<int>(OpCode::kInvalidateMm), 31);
  EXPECT_EQ(kNumOpCodes, 32);
  EXPECT_EQ(kEscapeOpcode, 62);
  EXPECT_EQ(kEscapeBase, 0x90);
  EXPECT_EQ(kApiEscapeBase, 0x9b);
  const Program p = Decode(std::vector<uint8_t>{0x00, 0x00, 0x01, 0x02, 0x02});
  ASSERT_EQ(p.threads[0].size(), 1u);
  EXPECT_EQ(p.threads[0][0], InsertOp(1, 2, 3));
}

TEST(Codec, BoundaryOpsAreEscaped) {
  if (!kBoundaryOpsEnabled) GTEST_SKIP() << "built with NF_BOUNDARY_OPS=OFF";
  // T1: insert_at s2, where: top | page 15, offsets: start 0xfff, end 0; 1 page.
  const std::vector<uint8_t> bytes = {0x01, 0x40 | kEscapeOpcode, kEscapeBase, 0x02,
                                      0x1f, 0x02, 0x01};
  const Program p = Decode(bytes);
  ASSERT_EQ(p.threads[1].size(), 1u);
  const Op& op = p.threads[1][0];
  EXPECT_EQ(op.code, OpCode::kInsertAt);
  EXPECT_EQ(op.slot, 2);
  EXPECT_EQ(op.start(), ~uint64_t{0});  // the top byte of the address space
  EXPECT_EQ(op.length(), 1u);
  EXPECT_FALSE(InsertRejected(op));
  EXPECT_EQ(Encode(p), bytes);
  EXPECT_EQ(PrintOp(op), "insert_at s2 0xffffffffffffffff+0x1");
}

TEST(Codec, WithoutBoundaryOpsEveryEscapeIsAnUnknownByte) {
  if (kBoundaryOpsEnabled) GTEST_SKIP() << "built with NF_BOUNDARY_OPS=ON";
  for (int k = 0; k < kNumOpCodes - kFirstBoundaryOp; ++k) {
    const std::vector<uint8_t> bytes = {0x00, kEscapeOpcode, EscapeByte(kFirstBoundaryOp + k),
                                        0x01, 0x02};
    EXPECT_EQ(Decode(bytes), Decode(std::vector<uint8_t>{0x00, 0x01, 0x02})) << k;
  }
}

TEST(Codec, AnEscapeWithoutAnOpIsAnUnknownByte) {
  // The neighbours of the escaped range (0x85, 0xbd) and its first byte past the
  // last op: the escape alone is skipped and the next byte is an op byte.
  // Also the gap between the boundary ops' and the API ops' escapes.
  const uint8_t past = static_cast<uint8_t>(EscapeByte(kNumOpCodes - 1) + 1);
  const uint8_t gap = static_cast<uint8_t>(EscapeByte(kFirstApiOp - 1) + 1);
  for (const uint8_t next : {uint8_t{0x85}, uint8_t{0xbd}, past, gap, uint8_t{0x9a}, uint8_t{0x01}}) {
    const std::vector<uint8_t> bytes = {0x00, kEscapeOpcode, next, 0x03};
    const Program p = Decode(bytes);
    const Program plain = Decode(std::vector<uint8_t>{0x00, next, 0x03});
    EXPECT_EQ(p, plain) << "next byte " << int{next};
  }
  // The unescaped OpCode values of the boundary ops are unknown bytes too.
  for (int code = kFirstBoundaryOp; code < kNumOpCodes; ++code) {
    EXPECT_EQ(Decode(std::vector<uint8_t>{0x00, static_cast<uint8_t>(code)}).num_ops(), 0u);
  }
}

TEST(Codec, BoundaryRangesAreNormalized) {
  // Empty: pages 0 and an end offset at or before the start offset.
  const Op empty = RangeAtOp(OpCode::kInvalidateAt, {false, 3, /*start_off=*/2, 0, /*end_off=*/1});
  EXPECT_EQ(empty.at.end_off, 2);
  EXPECT_EQ(empty.start(), 0x3fffu);
  EXPECT_EQ(empty.length(), 0u);
  EXPECT_TRUE(PagesOfOp(empty).empty());
  // An invalidation at the top that would pass 2^64 ends at ULONG_MAX.
  const Op top = RangeAtOp(OpCode::kInvalidateAt, {true, 10, 1, 16, 5});
  EXPECT_EQ(top.at.pages, kSpacePages - 10);
  EXPECT_EQ(top.at.end_off, 0);
  EXPECT_EQ(top.start() + top.length(), ~uint64_t{0});
  // The same fields as an insert keep their nominal end: it overflows.
  const Op insert = InsertAtOp(0, {true, 10, 1, 16, 5});
  EXPECT_EQ(insert.at.pages, 16);
  EXPECT_TRUE(InsertRejected(insert));
  EXPECT_TRUE(InsertRejected(InsertAtOp(0, {false, 4, 3, 0, 3})));  // length 0
  // Sub-page ranges: the pages they touch, and the whole pages they change.
  const Op sub = RangeAtOp(OpCode::kInvalidateAt, {false, 1, /*1*/ 1, 2, /*0xfff*/ 2});
  EXPECT_EQ(sub.start(), 0x1001u);
  EXPECT_EQ(sub.start() + sub.length(), 0x3fffu);
  EXPECT_EQ(PagesOfOp(sub).first, 1);
  EXPECT_EQ(PagesOfOp(sub).end, 4);
  const harness::PageSpan whole = harness::WholePagesOf(0x1001, 0x3ffe);
  EXPECT_EQ(whole.first, 2);
  EXPECT_EQ(whole.end, 3);
  EXPECT_TRUE(harness::WholePagesOf(0x1001, 0x1ffe).empty());
  EXPECT_EQ(harness::WholePagesOf(0x1000, 0x1fff).first, 1);
  EXPECT_EQ(harness::WholePagesOf(0x1000, 0x1fff).end, 2);
}

TEST(Codec, OperandsAreReducedAndShortInputYieldsDefaults) {
  // insert with slot 0xff % 6 = 3, page 0x13 % 16 = 3, then the input ends: the
  // shape byte reads 0 (normal, 1 page).
  const Program p = Decode(std::vector<uint8_t>{0x00, 0x00, 0xff, 0x13});
  ASSERT_EQ(p.threads[0].size(), 1u);
  EXPECT_EQ(p.threads[0][0], InsertOp(3, 3, 1));
  const Program z = Decode(std::vector<uint8_t>{0x00, 0x00, 0x00, 0x05, 0xf7});
  EXPECT_EQ(z.threads[0][0], InsertOp(0, 5, 0, InsertShape::kZeroLength));
  const Program o = Decode(std::vector<uint8_t>{0x00, 0x00, 0x00, 0x05, 0xe3});
  EXPECT_EQ(o.threads[0][0], InsertOp(0, 5, 4, InsertShape::kOverflow));
}

TEST(Codec, ThreadTagsAreReducedModuloTheThreadCount) {
  // Two threads; an op tagged thread 3 goes to thread 3 % 2 = 1.
  const Program p = Decode(std::vector<uint8_t>{0x01, 0xc4});
  ASSERT_EQ(p.threads.size(), 2u);
  EXPECT_TRUE(p.threads[0].empty());
  ASSERT_EQ(p.threads[1].size(), 1u);
  EXPECT_EQ(p.threads[1][0], BareOp(OpCode::kInvEnd));
}

TEST(Codec, OpsPastTheBoundAreDropped) {
  std::vector<uint8_t> bytes = {0x00};
  for (int i = 0; i < kMaxOpsPerThread + 10; ++i) bytes.push_back(0x0d);  // release
  EXPECT_EQ(Decode(bytes).threads[0].size(), static_cast<size_t>(kMaxOpsPerThread));
}

TEST(Codec, ScheduleBytesFollowTheSeparatorVerbatim) {
  const Program p = Decode(std::vector<uint8_t>{0x00, 0x0d, 0xff, 0x01, 0xff, 0x3a});
  EXPECT_EQ(p.threads[0].size(), 1u);
  EXPECT_EQ(p.schedule, (std::vector<uint8_t>{0x01, 0xff, 0x3a}));
  // 0xff inside operands is an operand, not the separator.
  const Program q = Decode(std::vector<uint8_t>{0x00, 0x0b, 0xff});
  ASSERT_EQ(q.threads[0].size(), 1u);
  EXPECT_TRUE(q.schedule.empty());
}

TEST(Codec, BehavioursAreNormalized) {
  EXPECT_EQ(NormalizeBehaviour(kFailsNonblock | kHasEnd, false), kFailsNonblock | kHasStart);
  EXPECT_EQ(NormalizeBehaviour(kPutsSelfOnRelease, false), kPutsSelfOnRelease | kHasRelease);
  EXPECT_EQ(NormalizeBehaviour(kPutsSelfOnRelease | kHasRelease, true), kHasRelease);
  EXPECT_EQ(NormalizeBehaviour(0xe0 | kHasStart, false), kHasStart);
}

TEST(Text, PrintParseRoundTripsGeneratedPrograms) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const Program p = RandomProgram(rng);
    const std::string text = Print(p);
    const absl::StatusOr<Program> q = Parse(text, "gen.nfp");
    ASSERT_TRUE(q.ok()) << q.status() << "\n" << text;
    ASSERT_EQ(*q, p) << text;
  }
}

TEST(Text, ParsesTheDocumentedForms) {
  const char* text =
      "# a comment\n"
      "threads 3\n"
      "initial_seq near_wrap\n"
      "T1: invalidate 0x3000+0x2000 nonblock unmap   # trailing comment\n"
      "T2: insert s1 0x1000+0x4000\n"
      "T0: register c0 release,start,end\n"
      "T0: insert s2 0x2000+0\n"
      "T0: insert s3 0xffffffffffff1000+0x12000\n"
      "T0: get start,fails\n"
      "T0: put release,selfput\n"
      "T1: fault s1 0x0+0x10000\n"
      "\n"
      "schedule: 01 ff 3a\n"
      "schedule: 00\n";
  const absl::StatusOr<Program> p = Parse(text, "doc.nfp");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->threads.size(), 3u);
  EXPECT_EQ(p->initial_seq, InitialSeq::kNearWrap);
  EXPECT_EQ(p->threads[1][0], RangeOp(OpCode::kInvalidate, 3, 2, false, Event::kUnmap));
  EXPECT_EQ(p->threads[2][0], InsertOp(1, 1, 4));
  EXPECT_EQ(p->threads[0][0], RegisterOp(0, kHasRelease | kHasStart | kHasEnd));
  EXPECT_EQ(p->threads[0][1], InsertOp(2, 2, 0, InsertShape::kZeroLength));
  EXPECT_EQ(p->threads[0][2], InsertOp(3, 1, 2, InsertShape::kOverflow));
  EXPECT_EQ(p->threads[0][3], BehaviourOp(OpCode::kGet, kHasStart | kFailsNonblock));
  EXPECT_EQ(p->threads[0][4], BehaviourOp(OpCode::kPut, kHasRelease | kPutsSelfOnRelease));
  EXPECT_EQ(p->threads[1][1], FaultOp(1, 0, 16));
  EXPECT_EQ(p->schedule, (std::vector<uint8_t>{0x01, 0xff, 0x3a, 0x00}));
  EXPECT_EQ(InsertOp(3, 1, 2, InsertShape::kOverflow).start() +
                (InsertOp(3, 1, 2, InsertShape::kOverflow).length() - 1),
            0x2fffu)  // it wraps: the core must reject it
      << "overflow shape";
}

TEST(Text, ParsesTheBoundaryForms) {
  const absl::StatusOr<Program> p = Parse(
      "T0: insert_at s1 0x1001+0xfff\n"
      "T0: invalidate_at 0x0+0x0 nonblock clear\n"
      "T0: inv_start_at 0xfffffffffffff7ff+0x800 block unmap\n"
      "T0: fault_at s1 0x1fff+0x2\n"
      "T0: misbehave s1 even_seq\n"
      "T0: misbehave c3 fail_start\n",
      "t.nfp");
  ASSERT_TRUE(p.ok()) << p.status();
  const std::vector<Op>& ops = p->threads[0];
  ASSERT_EQ(ops.size(), 6u);
  EXPECT_EQ(ops[0], InsertAtOp(1, {false, 1, 1, 1, 0}));
  EXPECT_EQ(ops[1], RangeAtOp(OpCode::kInvalidateAt, {false, 0, 0, 0, 0}, false, Event::kClear));
  EXPECT_EQ(ops[2].start(), 0xfffffffffffff7ffu);
  EXPECT_EQ(ops[2].start() + ops[2].length(), ~uint64_t{0});  // ends at the top
  EXPECT_EQ(ops[3], FaultAtOp(1, {false, 1, 2, 1, 1}));
  EXPECT_EQ(ops[4], MisbehaveOp(Misbehaviour::kEvenSeq, 1));
  EXPECT_EQ(ops[5], MisbehaveOp(Misbehaviour::kFailStart, 3));
  EXPECT_EQ(Parse(Print(*p), "again.nfp").value(), *p);
  for (const char* bad : {
           "T0: insert_at s0 0x1003+0x10\n",           // 0x3 is not a boundary offset
           "T0: invalidate_at 0x0+0x5 block unmap\n",  // neither is 0x5
           "T0: misbehave s0 fail_start\n",           // fail_start names a classic slot
           "T0: misbehave c0 even_seq\n",
           "T0: misbehave s0 sometimes\n",
           "T0: invalidate_at 0xffffffffffff0000+0x10001 block unmap\n",  // past the top
       }) {
    EXPECT_FALSE(Parse(bad, "bad.nfp").ok()) << bad;
  }
}

TEST(Text, ErrorsNameTheFileAndLine) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"T0: insert s1 0x1000+0x1000\nT0: frobnicate\n", "f.nfp:2: unknown op 'frobnicate'"},
      {"\n\nT0: insert s9 0x0+0x1000\n", "f.nfp:3: expected an interval slot"},
      {"T0: insert s1 0x1800+0x1000\n", "f.nfp:1: range '0x1800+0x1000' is not page-aligned"},
      {"T0: invalidate 0x0+0x0 block unmap\n", "f.nfp:1: length 0x0 is not"},
      {"T0: invalidate 0x0+0x1000 sometimes unmap\n", "f.nfp:1: expected block or nonblock"},
      {"T0: invalidate 0x0+0x1000 block boom\n", "f.nfp:1: unknown event 'boom'"},
      {"threads 2\nT2: release\n", "f.nfp:2: thread T2 is not in T0..T1"},
      {"T0: register c0 start,fails,end\n", "f.nfp:1: 'fails' excludes 'end'"},
      {"T0: register c0 release,selfput\n", "f.nfp:1: 'selfput' is for get/put"},
      {"T0: get selfput\n", "f.nfp:1: 'selfput' needs 'release'"},
      {"schedule: 1\n", "f.nfp:1: schedule byte '1'"},
      {"T0: remove\n", "f.nfp:1: 'remove' takes 1 operand(s), got 0"},
      {"T0 insert s1 0x0+0x1000\n", "f.nfp:1: expected 'T<n>: <op>'"},
      {"T0: insert s1 0x10000+0x1000\n", "f.nfp:1: start 0x10000 is past the space"},
      {"T1: release\nthreads 1\n", "f.nfp:2: 'threads 1' but thread T1"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<Program> p = Parse(c.text, "f.nfp");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(std::string(p.status().message()).find(c.want), 0u)
        << "got: " << p.status().message() << "\nwant prefix: " << c.want;
  }
}

TEST(Text, LinesKeepTheirOrderAsTheProgramOrder) {
  const absl::StatusOr<Program> p = Parse(
      "threads 2\nT0: release\nT0: inv_end\nT1: release\nT0: release\n", "f.nfp");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->order, (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(Print(*p),
            "threads 2\nT0: release\nT0: inv_end\nT1: release\nT0: release\n");
  EXPECT_EQ(Decode(Encode(*p)).order, p->order);
}

TEST(Program, IsValidChecksTheOrder) {
  Program p;
  p.threads.assign(2, {});
  p.Append(1, BareOp(OpCode::kRelease));
  EXPECT_TRUE(IsValid(p));
  p.order[0] = 0;  // says thread 0, which has no op
  EXPECT_FALSE(IsValid(p));
}

TEST(Text, TooManyOpsIsAnError) {
  std::string text;
  for (int i = 0; i <= kMaxOpsPerThread; ++i) text += "T0: release\n";
  const absl::StatusOr<Program> p = Parse(text, "f.nfp");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(std::string(p.status().message()).find("f.nfp:65: "), 0u) << p.status();
}

// The file loader behind nf_tool and nf_ctrace: a directory or a missing path
// is a clear error (no exception, nothing loaded); text and bytes both load.
TEST(LoadProgramFile, RejectsDirectoriesAndMissingFilesAndLoadsBothForms) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("nf_program_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const std::string& path : {dir.string(), (dir / "missing").string()}) {
    const absl::StatusOr<Program> p = LoadProgramFile(path);
    EXPECT_TRUE(absl::IsNotFound(p.status())) << path << ": " << p.status();
    EXPECT_EQ(p.status().message(), path + ": cannot read");
  }
  auto write = [&](const std::string& name, const std::string& contents) {
    std::ofstream(dir / name, std::ios::binary) << contents;
    return (dir / name).string();
  };
  const std::string bad = write("bad.nfp", "threads 1\nT0: bogus\n");
  EXPECT_THAT(std::string(LoadProgramFile(bad).status().message()),
              ::testing::StartsWith(bad + ":2: "));
  const absl::StatusOr<Program> text = LoadProgramFile(write("ok.nfp", "threads 1\nT0: release\n"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->num_ops(), 1u);
  const std::vector<uint8_t> bytes = Encode(*text);
  const absl::StatusOr<Program> decoded =
      LoadProgramFile(write("ok.bin", std::string(bytes.begin(), bytes.end())));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, *text);
  std::filesystem::remove_all(dir);
}

// The dictionaries of the program fuzzers against the op table: an entry named
// after an op ("insert", or "t1_insert" for thread 1) holds exactly the bytes
// the codec writes for that op's opcode in that thread (codec.h), and every op
// of the table has its entry.
std::vector<uint8_t> OpcodeBytes(OpCode code, int thread) {
  const int c = static_cast<int>(code);
  if (c < kFirstBoundaryOp) return {static_cast<uint8_t>((thread << kThreadShift) | c)};
  return {static_cast<uint8_t>((thread << kThreadShift) | kEscapeOpcode),
          EscapeByte(c)};
}

// name="value" lines, \xHH escapes decoded; comments and blank lines skipped.
std::vector<std::pair<std::string, std::vector<uint8_t>>> ReadDict(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find("=\"");
    EXPECT_NE(eq, std::string::npos) << path << ": " << line;
    if (eq == std::string::npos || line.back() != '"') continue;
    std::vector<uint8_t> bytes;
    for (size_t i = eq + 2; i + 1 < line.size(); ++i) {
      if (line[i] == '\\' && i + 3 < line.size() && line[i + 1] == 'x') {
        bytes.push_back(static_cast<uint8_t>(std::stoi(line.substr(i + 2, 2), nullptr, 16)));
        i += 3;
      } else {
        bytes.push_back(static_cast<uint8_t>(line[i]));
      }
    }
    out.emplace_back(line.substr(0, eq), bytes);
  }
  return out;
}

TEST(Dictionaries, OpEntriesMatchTheOpTableAndCodec) {
  for (const char* fuzzer : {"sequential_fuzzer", "concurrent_fuzzer", "codec_fuzzer"}) {
    const std::string path = std::string(NF_SOURCE_DIR) + "/fuzzers/" + fuzzer + ".dict";
    std::vector<bool> seen(kNumOpCodes, false);
    int checked = 0;
    for (const auto& [name, bytes] : ReadDict(path)) {
      int thread = 0;
      std::string op_name = name;
      if (name.size() > 3 && name[0] == 't' && name[2] == '_' && name[1] >= '0' &&
          name[1] < '0' + kMaxThreads) {
        thread = name[1] - '0';
        op_name = name.substr(3);
      }
      const std::optional<OpCode> code = OpCodeFromName(op_name);
      if (!code) continue;  // not an op entry (headers, operands, schedules)
      ++checked;
      if (thread == 0) seen[static_cast<int>(*code)] = true;
      EXPECT_EQ(bytes, OpcodeBytes(*code, thread)) << path << ": " << name;
    }
    EXPECT_GT(checked, 0) << path;
    for (int c = 0; c < kNumOpCodes; ++c) {
      EXPECT_TRUE(seen[c]) << path << " has no entry for op "
                           << OpCodeName(static_cast<OpCode>(c));
    }
  }
}

TEST(Dictionaries, TheCheckFailsOnAWrongEntry) {
  // The check above would catch a stale entry: the bytes of another op differ.
  EXPECT_NE(OpcodeBytes(OpCode::kInsert, 0), OpcodeBytes(OpCode::kRemove, 0));
  EXPECT_NE(OpcodeBytes(OpCode::kInsertAt, 0), OpcodeBytes(OpCode::kInsertAt, 1));
  EXPECT_EQ(OpcodeBytes(OpCode::kInsertAt, 1), (std::vector<uint8_t>{0x7e, 0x90}));
  const std::string dir = ::testing::TempDir() + "/nf_dict_test";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/x.dict") << "# c\ninsert=\"\\x01\"\nt1_remove=\"\\x41\"\n"; }
  const auto entries = ReadDict(dir + "/x.dict");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_NE(entries[0].second, OpcodeBytes(OpCode::kInsert, 0));  // a stale byte is seen
  EXPECT_EQ(entries[1].second, OpcodeBytes(OpCode::kRemove, 1));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nf::fuzz
