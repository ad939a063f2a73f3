// fuzzers/program/program.h: the op vocabulary shared by every fuzzer, test and tool.
//
// A Program is what one fuzz input means: 1 to kMaxThreads logical threads, each
// with its own list of ops on one address space, plus schedule bytes that only the
// concurrent fuzzer interprets (here they are decoded and kept verbatim).
//
// Addresses come from a small page-granular space so that ranges collide often:
// a range starts at one of kSpacePages pages and covers 1..kMaxRangePages pages,
// so no range reaches past page kTablePages - 1.
//
// The boundary ops (insert_at, invalidate_at, inv_start_at, fault_at; OpCode
// kFirstBoundaryOp and after) reach byte granularity: a range starts at a byte
// offset within its page and ends at one within another, both drawn from the
// small table kBoundaryOffsets (0, 1, pagesize - 1 and their neighbours), so that
// a subscription's boundary and a range's boundary fall inside one page and abut
// (one byte before, at, one byte after) often; a range may be empty (length 0),
// and may sit in the top kSpacePages pages of the address space (an insert whose
// last byte is ULONG_MAX, an invalidation that ends at ULONG_MAX). The misbehave
// op arms a driver misbehaviour the core warns about (Misbehaviour).
//
// The byte form is in codec.h, the text form in program_text.h. OpCode values are
// the byte form's opcodes: append-only (see codec.h).
#ifndef NF_FUZZERS_PROGRAM_H_
#define NF_FUZZERS_PROGRAM_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "harness/geometry.h"
#include "target/target.h"

namespace nf::fuzz {

// The contract's vocabulary (target/target.h).
using target::Event;
using target::EventName;
using target::kNumEvents;
using target::kNumWarnings;
using target::Range;
using target::Seq;
using target::Warning;
using target::WarningName;

// --- Named budgets -----------------------------------------------------------
// More threads multiply interleavings past what a schedule of bytes can steer.
inline constexpr int kMaxThreads = 4;
// Every known counterexample needs a few dozen ops; longer programs only slow
// exec/s (each op is checked against the model).
inline constexpr int kMaxOpsPerThread = 64;
// Six subscriptions over 16 pages collide on nearly every range.
inline constexpr int kIntervalSlots = 6;
// Enough for "two subscribers, the second fails" plus a bystander or two.
inline constexpr int kClassicSlots = 4;
// Ranges start on one of these pages: small, so that ranges overlap often.
inline constexpr int kSpacePages = 16;
// Ranges cover 1..kMaxRangePages pages (a whole-space range is possible).
inline constexpr int kMaxRangePages = 16;
// The highest page any range can reach, plus one: the page table's size.
inline constexpr int kTablePages = kSpacePages + kMaxRangePages;
static_assert(kTablePages == harness::kTablePages, "the driver model's page table fits the space");
using harness::kPageSize;
using harness::kMaxFaultAttempts;
// The concurrent fuzzer spends at most one schedule byte per switch point; a few
// KiB steer programs of kMaxThreads * kMaxOpsPerThread ops.
inline constexpr size_t kMaxScheduleBytes = 4096;

// Overflowing inserts start in the top kSpacePages pages of the 64-bit space.
inline constexpr uint64_t kOverflowBase = ~uint64_t{0} - kSpacePages * kPageSize + 1;
// FUZZING_ONLY: the initial global seq a program may select to reach the
// wrap-around of the counter in two epochs (even, as the seq must start).
inline constexpr Seq kNearWrapSeq = ~Seq{0} - 3;

// --- Ops ---------------------------------------------------------------------
// Append-only: a new op takes the next value; no value is ever reused or moved.
enum class OpCode : uint8_t {
  kInsert = 0,       // insert s<slot> <start>+<length>
  kRemove = 1,       // remove s<slot>
  kInvalidate = 2,   // invalidate <start>+<length> block|nonblock <event>: start,
                     //   change the page table, end
  kInvStart = 3,     // inv_start ...: start (and change the page table); stays open
  kInvEnd = 4,       // inv_end: ends this thread's most recent open inv_start
  kReadBegin = 5,    // read_begin s<slot>: remembers the seq (per thread, per slot)
  kReadRetry = 6,    // read_retry s<slot>: under the driver's lock
  kCheckRetry = 7,   // check_retry s<slot>: lockless
  kFault = 8,        // fault s<slot> <start>+<length>: the driver loop of spec §6
  kRegister = 9,     // register c<slot> <behaviour>
  kUnregister = 10,  // unregister c<slot>
  kGet = 11,         // get <behaviour>: GetClassic with that behaviour's ops
  kPut = 12,         // put <behaviour>: PutClassic of one reference get returned
  kRelease = 13,     // release: the program's own user of the space exits
  kLock = 14,        // lock s<slot>: hold the driver's user lock across ops
  kUnlock = 15,      // unlock s<slot>
  // The boundary ops (byte-granular ranges, see BoundaryRange): the same meaning
  // as the op they are named after. The byte form writes them behind an escape
  // (codec.h); with NF_BOUNDARY_OPS off the decoder does not know them.
  kInsertAt = 16,      // insert_at s<slot> <start>+<length>
  kInvalidateAt = 17,  // invalidate_at <start>+<length> block|nonblock <event>
  kInvStartAt = 18,    // inv_start_at ...
  kFaultAt = 19,       // fault_at s<slot> <start>+<length>
  kMisbehave = 20,     // misbehave <target> <misbehaviour>: arms one driver bug
  // The rest of the kernel's API (docs/contract.md §10.5, §10.6, §10.7, §10.8, §10),
  // escaped like the boundary ops. Range operands as invalidate's; where an op
  // takes no flags (the young calls, change_pte, secondary_tlb) it has none.
  kClearFlushYoung = 21,    // clear_flush_young <start>+<length>: §10.1
  kClearYoung = 22,         // clear_young <start>+<length>: §10.1
  kTestYoung = 23,          // test_young <start>+<length>: §10.1, at the start address
  kChangePte = 24,          // change_pte <start>+<length>: §10.2, at the start address
  kSecondaryTlb = 25,       // secondary_tlb <start>+<length>: §10.3
  kRegisterSecondary = 26,  // register_secondary c<slot> <behaviour>: a subscriber
                            //   that also has every secondary-MMU method (§10)
  kInsertLocked = 27,       // insert_locked s<slot> <start>+<length>: §10.5
  kReadOnly = 28,           // read_only <start>+<length> block|nonblock <event>: §10.4
  kInvOnlyEnd = 29,         // inv_only_end: the range-only end of the newest open
                            //   inv_start (§10.6)
  kSynchronize = 30,        // synchronize: §10.7
  kInvalidateMm = 31,       // invalidate_mm <start>+<length> block|nonblock <event>:
                            //   invalidate holding only a reference to the space,
                            //   no user (§10.8: truncate, reclaim)
};
inline constexpr int kNumOpCodes = 32;
// clear_flush_young .. secondary_tlb are target::SecondaryCall's calls, in its order.
static_assert(static_cast<int>(OpCode::kSecondaryTlb) - static_cast<int>(OpCode::kClearFlushYoung) ==
              static_cast<int>(target::SecondaryCall::kSecondaryTlb));
// The first opcode the byte form writes behind the escape (codec.h).
inline constexpr int kFirstBoundaryOp = 16;
// Whether the decoder knows the boundary ops (CMake option NF_BOUNDARY_OPS, the
// ablation switch of `./nf mutants --ablate boundary`).
#if defined(NF_BOUNDARY_OPS) && !NF_BOUNDARY_OPS
inline constexpr bool kBoundaryOpsEnabled = false;
#else
inline constexpr bool kBoundaryOpsEnabled = true;
#endif
std::string_view OpCodeName(OpCode code);
std::optional<OpCode> OpCodeFromName(std::string_view name);

// The shape of an insert's range.
enum class InsertShape : uint8_t {
  kNormal = 0,      // [page * kPageSize, +pages * kPageSize), pages in 1..kMaxRangePages
  kZeroLength = 1,  // start page * kPageSize, length 0: rejected (OutOfRange)
  kOverflow = 2,    // start kOverflowBase + page * kPageSize, length
                    //   (kSpacePages + pages) * kPageSize: start + length - 1
                    //   overflows; rejected (OutOfRange)
};

// The byte offsets within a page that boundary ops use for a range's start and
// its end (exclusive): the page's first and last bytes and their neighbours, and
// the middle. Distinct values, so that a range has one field form.
inline constexpr int kNumBoundaryOffsets = 8;
inline constexpr uint64_t kBoundaryOffsets[kNumBoundaryOffsets] = {
    0, 1, kPageSize - 1, 2, kPageSize - 2, kPageSize / 2, kPageSize / 2 - 1, kPageSize / 2 + 1};
// A boundary op's range (Op::at):
//   start = base + page * kPageSize + kBoundaryOffsets[start_off]
//   end   = base + (page + pages) * kPageSize + kBoundaryOffsets[end_off]
// with base 0, or kOverflowBase when `top` (the top kSpacePages pages of the
// address space). pages is 0..kMaxRangePages. Normalized (Decode, IsValid):
//   - empty: pages == 0 and end offset <= start offset: end_off = start_off
//     (length 0);
//   - an invalidation or fault at the top whose end would be 2^64 - 1 or past:
//     pages = kSpacePages - page, end_off = 0, and the range ends at ULONG_MAX
//     (the highest end a Range can say: the last byte is ULONG_MAX - 1).
// An insert keeps its nominal end: past 2^64 its start + length - 1 overflows
// (rejected, OutOfRange); exactly 2^64 makes last == ULONG_MAX.
struct BoundaryRange {
  bool top = false;
  uint8_t page = 0;       // < kSpacePages
  uint8_t start_off = 0;  // < kNumBoundaryOffsets
  uint8_t pages = 0;      // 0..kMaxRangePages
  uint8_t end_off = 0;    // < kNumBoundaryOffsets
  bool operator==(const BoundaryRange&) const = default;
};
// Brings r into its normalized form (for an insert when `insert`).
BoundaryRange NormalizeBoundary(BoundaryRange r, bool insert);

// The driver misbehaviours the core detects and warns about (misbehave op).
// Each arms the slot's driver for its next callback that qualifies, once:
enum class Misbehaviour : uint8_t {
  kFailBlockable = 0,   // interval slot: the callback does its work (lock, set_seq,
                        //   erase) and then returns false on a blockable range
                        //   (kBlockableCallbackFailed; on RELEASE
                        //   kReleaseCallbackFailed)
  kEvenSeq = 1,         // interval slot: the callback first calls set_seq with an
                        //   even seq (cur_seq - 1; kSetSeqEven), then set_seq(cur_seq)
  kFailStart = 2,       // classic slot: its invalidate_range_start returns false on
                        //   a blockable range (kBlockableCallbackFailed)
};
inline constexpr int kNumMisbehaviours = 3;
std::string_view MisbehaviourName(Misbehaviour m);
// The slot a misbehaviour's op names is an interval slot (else a classic slot).
inline bool MisbehaviourOnInterval(Misbehaviour m) { return m != Misbehaviour::kFailStart; }

// A classic subscriber's behaviour: which callbacks its ops have and what they do.
// Normalized (see NormalizeBehaviour): kFailsNonblock implies kStart and excludes
// kEnd (spec §3.2: a subscriber that can fail must not have an end);
// kPutsSelfOnRelease implies kRelease.
enum Behaviour : uint8_t {
  kHasRelease = target::kClassicHasRelease,
  kHasStart = target::kClassicHasStart,
  kHasEnd = target::kClassicHasEnd,
  kFailsNonblock = 1 << 3,      // start returns false when !range.blockable
  kPutsSelfOnRelease = 1 << 4,  // release calls PutClassic on the references the
                                //   program holds (get/put subscribers only)
};
inline constexpr int kNumBehaviours = 32;  // every value of the five bits
static_assert(kNumBehaviours == target::kNumClassicBehaviours);
// For `register`: kPutsSelfOnRelease is dropped (only get/put subscribers may).
uint8_t NormalizeBehaviour(uint8_t bits, bool registered);

struct Op {
  OpCode code = OpCode::kInvEnd;
  uint8_t slot = 0;       // interval slot (s) or classic slot (c)
  uint8_t page = 0;       // first page, < kSpacePages
  uint8_t pages = 0;      // page count: 1..kMaxRangePages (0 for a zero-length insert)
  InsertShape shape = InsertShape::kNormal;  // inserts only
  bool blockable = true;  // invalidate, inv_start
  Event event = Event::kUnmap;  // invalidate, inv_start
  uint8_t behaviour = 0;  // register, get, put (normalized)
  BoundaryRange at;       // boundary ops (normalized)
  Misbehaviour misbehaviour = Misbehaviour::kFailBlockable;  // misbehave

  // Fields an op does not use keep their defaults, so == compares meaning.
  bool operator==(const Op&) const = default;

  // The insert's or range's start address and length (see InsertShape and,
  // for the boundary ops, BoundaryRange).
  uint64_t start() const;
  uint64_t length() const;
};

// The page-table pages an op's range touches (empty for a length-0 range); a
// sub-page range touches every page it overlaps.
harness::PageSpan PagesOfOp(const Op& op);
// An insert the contract rejects (OutOfRange): length 0, or start + length - 1
// overflows.
bool InsertRejected(const Op& op);

// Constructors that leave unused fields at their defaults.
Op InsertOp(int slot, int page, int pages, InsertShape shape = InsertShape::kNormal);
Op SlotOp(OpCode code, int slot);  // remove, read_*, check_retry, unregister, lock, unlock
Op RangeOp(OpCode code, int page, int pages, bool blockable = true,
           Event event = Event::kUnmap);  // invalidate, inv_start
Op FaultOp(int slot, int page, int pages);
Op RegisterOp(int slot, uint8_t behaviour);
Op BehaviourOp(OpCode code, uint8_t behaviour);  // get, put
Op BareOp(OpCode code);                          // inv_end, release
// insert_at, invalidate_at, inv_start_at, fault_at (r is normalized here).
Op InsertAtOp(int slot, BoundaryRange r);
Op RangeAtOp(OpCode code, BoundaryRange r, bool blockable = true, Event event = Event::kUnmap);
Op FaultAtOp(int slot, BoundaryRange r);
Op MisbehaveOp(Misbehaviour m, int slot);

// --- The op table ------------------------------------------------------------
// Everything the codec, the text form, the skip rules and the result printing
// need to know about an op, in one row per opcode (program.cc kOpTable). Adding
// an op: append an OpCode, append its row, and give each executor (world.cc,
// concurrent_world.cc) and the reference model (oracles/model.cc) its meaning;
// an op whose operand layout is new also needs that layout in the codec and the
// text form (docs/where-a-change-goes.md).

// The operands an op carries, in the byte form's order (codec.h). A generator
// that draws ops from the table builds each layout with its constructor below
// the Op struct (kInsertAt: InsertAtOp, kRangeAt: RangeAtOp, kFaultAt:
// FaultAtOp, kMisbehave: MisbehaveOp; a BoundaryRange with any fields, which
// they normalize) and writes it with Encode.
enum class Operands : uint8_t {
  kNone,          // inv_end, release
  kIntervalSlot,  // s<slot>
  kClassicSlot,   // c<slot>
  kInsert,        // s<slot> <start>+<length>: slot, page, shape byte
  kRange,         // <start>+<length> block|nonblock <event>: page, count, flags
  kFault,         // s<slot> <start>+<length>: slot, page, count
  kRegister,      // c<slot> <behaviour>
  kBehaviour,     // <behaviour>
  kInsertAt,      // s<slot> <start>+<length>: slot, at-range (codec.h)
  kRangeAt,       // <start>+<length> block|nonblock <event>: at-range, flags
  kFaultAt,       // s<slot> <start>+<length>: slot, at-range
  kMisbehave,     // s<slot>|c<slot> <misbehaviour>: misbehaviour, slot
};

// What an op's result is, for printing.
enum class ResultKind : uint8_t { kStatus, kSeq, kRetry, kAttempts, kFlag };

// How the caller contract of the concurrent world (concurrent_world.h, the skip
// rule) treats an op, from the calling thread's own state: "open" (it has an
// open inv_start) and "held" (it holds a driver lock through a `lock` op).
enum class Contract : uint8_t {
  kFree,          // never skipped for the thread's own state
  kMaySleep,      // may sleep or take a driver lock: not while open or held
  kInsert,        // the first insert registers (waits): not while open or held
                  //   unless the interval tree exists
  kWalk,          // a blockable walk takes driver locks: not while held
  kEndsOpen,      // ends this thread's newest open inv_start: needs one
  kSlotLock,      // takes its slot's driver lock: only the one held, if any
  kTakesLock,     // takes a driver lock and keeps it: not while held
  kDropsLock,     // drops the driver lock of its slot: only if held
  kReleaseWalk,   // the RELEASE walk takes every driver lock: not while held
  kRmapCall,      // a secondary-MMU call, made under the rmap locks (the
                  //   kernel's callers hold one, or the mmap lock), which rank
                  //   above the driver locks: not while held
};

// The misuse of an op that nf's core detects and warns of (fuzzers/oracles/model.h)
// and a target without Traits::reports_misuse is never asked (the sequential
// executor's skip rule; the concurrent world skips every misuse by its slot
// states).
enum class Misuse : uint8_t {
  kNone,
  kIntervalSlotTaken,  // an insert into a slot whose subscription is inserted
  kIntervalSlotEmpty,  // a remove of an empty slot
  kClassicSlotTaken,   // a register into a classic slot that has a subscriber
  kClassicSlotEmpty,   // an unregister of an empty classic slot
  kNoReference,        // a put without a reference
  kNoOpenStart,        // an end with no open start in the thread
};

struct OpInfo {
  std::string_view name;  // the text form's (append-only, like the opcode)
  Operands operands;
  ResultKind result;
  bool changes_state;     // may change the target's state (else only reads it)
  Contract contract;
  // May change a mirror, the page table or the pages under an open
  // invalidation without an interval callback (a fault fills its slot's mirror,
  // a remove clears it, an invalidation bumps the page table, an end or a
  // release ends what covered pages; the kernel API's ops are counted in): the
  // sequential checker compares mirrors and the page table after these ops and
  // after any op that made an interval callback (every other change to a mirror
  // comes from a callback, which the world logs).
  bool may_change_mirrors;
  Misuse misuse;
  // Part of the secondary-MMU API (Traits::secondary_mmu_api): the young calls,
  // change_pte, secondary_tlb, register_secondary, read_only.
  bool secondary_mmu;
};
const OpInfo& Info(OpCode code);

// Which operands an op has (from the table).
bool UsesIntervalSlot(OpCode c);
bool UsesClassicSlot(OpCode c);
bool UsesRange(OpCode c);  // page, pages (and blockable/event for invalidations)
bool UsesBehaviour(OpCode c);
bool UsesBoundaryRange(OpCode c);  // Op::at: the boundary ops
// Which ops an executor treats as an insert, an invalidation (with blockable and
// event), a fault: the page-granular op and its boundary twin.
bool IsInsert(OpCode c);
bool IsInvalidation(OpCode c);
bool IsInvStart(OpCode c);  // inv_start, inv_start_at: stays open
bool IsFault(OpCode c);
// insert, insert_at and insert_locked: an insert (its result and state alike).
bool IsAnyInsert(OpCode c);
// register and register_secondary.
bool IsRegister(OpCode c);
// The ops whose range carries block|nonblock and an event: the invalidations,
// invalidate_mm and read_only.
bool UsesRangeFlags(OpCode c);
// OpInfo::secondary_mmu: the secondary-MMU API (Traits::secondary_mmu_api).
bool IsSecondaryMmuOp(OpCode c);
// The classic behaviour a register-kind op gives its subscriber (with
// target::kClassicSecondary for register_secondary).
uint8_t RegisteredBehaviour(const Op& op);

enum class InitialSeq : uint8_t {
  kDefault = 0,   // 2, the kernel's
  kNearWrap = 1,  // kNearWrapSeq: the counter wraps within two odd epochs
};
Seq InitialSeqValue(InitialSeq s);

struct Program {
  // threads.size() is the thread count, 1..kMaxThreads; a thread may have no ops.
  // Each thread's ops in its own order: what the concurrent fuzzer runs, one
  // logical thread per list, interleaved by the schedule.
  std::vector<std::vector<Op>> threads = {{}};
  // The program order: the thread of each op, in the order the ops appear in the
  // byte form and the text form. The sequential fuzzer runs the ops in this
  // order. Thread t appears exactly threads[t].size() times.
  std::vector<uint8_t> order;
  InitialSeq initial_seq = InitialSeq::kDefault;
  // Only the concurrent fuzzer interprets these; at most kMaxScheduleBytes.
  std::vector<uint8_t> schedule;

  bool operator==(const Program&) const = default;
  size_t num_ops() const { return order.size(); }
  // Appends op to thread's list (and to the program order). False, and nothing
  // appended, if the thread already has kMaxOpsPerThread ops.
  bool Append(int thread, const Op& op);
};

// True if p is within every bound above, with every operand in range, every
// behaviour normalized and a consistent program order: exactly the programs
// Decode can produce.
bool IsValid(const Program& p);

// Calls fn(thread, index in the thread's list, op) for each op in program order.
template <typename Fn>
void ForEachOp(const Program& p, Fn&& fn) {
  std::vector<size_t> next(p.threads.size(), 0);
  for (const uint8_t t : p.order) {
    const size_t i = next[t]++;
    fn(static_cast<int>(t), i, p.threads[t][i]);
  }
}

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_PROGRAM_H_
