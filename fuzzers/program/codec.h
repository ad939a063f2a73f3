// fuzzers/program/codec.h: the byte form of a Program (the fuzz input format).
//
// Decode is total and deterministic: any bytes decode to a valid Program, the same
// bytes always to the same Program, and running out of input yields defaults.
// Encode is its inverse on valid programs: Decode(Encode(p)) == p.
//
// Layout (every value one byte):
//
//   header        bits 0-1: thread count - 1; bit 2: initial seq near-wrap;
//                 bits 3-7: ignored (Encode writes 0). Empty input: 1 thread.
//   op*           [op byte][operands]. The op byte is thread-tagged:
//                   bits 6-7  thread (reduced modulo the thread count)
//                   bits 0-5  opcode (program.h OpCode; append-only)
//                 An opcode with no op is unknown: that one byte is skipped
//                 (never wrapped onto a known opcode). Ops past kMaxOpsPerThread
//                 in a thread are read and dropped. The order of the op bytes is
//                 the program order (Program::order).
//                 The boundary ops (OpCode kFirstBoundaryOp and after) are
//                 escaped: the op byte carries kEscapeOpcode (62), and the next
//                 byte is kEscapeBase + (OpCode - kFirstBoundaryOp), i.e.
//                 0x90 insert_at .. 0x94 misbehave, and for the API ops
//                 kApiEscapeBase + (OpCode - kFirstApiOp): 0x9b clear_flush_young
//                 .. 0xa5 invalidate_mm (0x95..0x9a name no op). An escape not followed by
//                 such a byte is an unknown byte (skipped; the next byte is read
//                 as an op byte), and so is an op byte whose opcode is 16..61.
//                 Why an escape: the committed corpora hold every opcode 16..63
//                 as skipped bytes, so a plain new opcode would change their
//                 meaning; no committed input has opcode 62 followed by a byte
//                 in 0x86..0xbc (checked when the escape was chosen), which
//                 leaves room for 45 escaped ops. With the CMake option
//                 NF_BOUNDARY_OPS=OFF (kBoundaryOpsEnabled false) the decoder
//                 knows no escaped op: every escape is an unknown byte.
//   0xff          ends the ops (only where an op byte is expected)
//   schedule*     every byte after 0xff, kept verbatim (at most kMaxScheduleBytes)
//
// Operands (a byte flip changes one operand of one op; past the end they read 0):
//
//   opcode            operands
//   0  insert         slot, page, shape   shape 0x00-0xdf: normal, pages = b % 16 + 1
//                                               0xe0-0xef: overflow, pages = b % 16 + 1
//                                               0xf0-0xff: zero length
//   1  remove         slot
//   2  invalidate     page, count, flags  flags bit 0: nonblock; bits 1-3: event
//   3  inv_start      page, count, flags
//   4  inv_end        -
//   5  read_begin     slot
//   6  read_retry     slot
//   7  check_retry    slot
//   8  fault          slot, page, count
//   9  register       cslot, behaviour
//   10 unregister     cslot
//   11 get            behaviour
//   12 put            behaviour
//   13 release        -
//   14 lock           slot
//   15 unlock         slot
//   escaped (62, then the byte below):
//   0x90 insert_at     slot, at-range
//   0x91 invalidate_at at-range, flags
//   0x92 inv_start_at  at-range, flags
//   0x93 fault_at      slot, at-range
//   0x94 misbehave     kind, slot       kind % 3 (program.h Misbehaviour):
//                                         0 fail_blockable, 1 even_seq: slot % 6;
//                                         2 fail_start: slot % 4 (classic)
//   0x9b clear_flush_young  page, count, flags (flags ignored: Encode writes 0)
//   0x9c clear_young        page, count, flags (ignored)
//   0x9d test_young         page, count, flags (ignored)
//   0x9e change_pte         page, count, flags (ignored)
//   0x9f secondary_tlb      page, count, flags (ignored)
//   0xa0 register_secondary cslot, behaviour
//   0xa1 insert_locked      slot, page, shape (as insert)
//   0xa2 read_only          page, count, flags
//   0xa3 inv_only_end       -
//   0xa4 synchronize        -
//   0xa5 invalidate_mm      page, count, flags
//
//   at-range          where, offsets, pages (program.h BoundaryRange)
//                       where    bits 0-3 page; bit 4 top (the top 16 pages of
//                                the address space); bits 5-7 ignored
//                       offsets  bits 0-2 start offset, bits 4-6 end offset:
//                                indices into kBoundaryOffsets; bits 3, 7 ignored
//                       pages    b % 17: the end is that many pages after the
//                                start's page, at its end offset
//                     then normalized (NormalizeBoundary: empty ranges, ranges
//                     that end at the top); Encode writes the normalized fields.
//
// Reductions: slot % kIntervalSlots, cslot % kClassicSlots, page % kSpacePages,
// count % kMaxRangePages + 1, behaviour: the low five bits, normalized
// (NormalizeBehaviour). Encode writes each operand in its canonical form.
#ifndef NF_FUZZERS_CODEC_H_
#define NF_FUZZERS_CODEC_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "fuzzers/program/program.h"

namespace nf::fuzz {

inline constexpr uint8_t kEndOfOps = 0xff;
inline constexpr int kThreadShift = 6;
inline constexpr uint8_t kOpcodeMask = 0x3f;
// The boundary ops' escape (see the layout above).
inline constexpr int kEscapeOpcode = 62;
inline constexpr int kEscapeBase = 0x90;
// The API ops (OpCode kClearFlushYoung and after) are escaped from 0x9b: when
// they were added the committed corpora held 62 followed by 0x95, 0x97 and
// 0x9a at op positions (skipped bytes), and none by 0x9b..0xad.
inline constexpr int kFirstApiOp = static_cast<int>(OpCode::kClearFlushYoung);
inline constexpr int kApiEscapeBase = 0x9b;
static_assert(kFirstApiOp - kFirstBoundaryOp <= kApiEscapeBase - kEscapeBase,
              "the boundary ops' escapes stay below the API ops'");
static_assert(kNumOpCodes - kFirstApiOp <= 0xad - kApiEscapeBase + 1,
              "escaped API ops stay in 0x9b..0xad, which no committed input uses after 62");

// The byte after the escape for an escaped op (code >= kFirstBoundaryOp).
constexpr uint8_t EscapeByte(int code) {
  return static_cast<uint8_t>(code >= kFirstApiOp ? kApiEscapeBase + (code - kFirstApiOp)
                                                  : kEscapeBase + (code - kFirstBoundaryOp));
}

Program Decode(absl::Span<const uint8_t> data);
std::vector<uint8_t> Encode(const Program& p);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_CODEC_H_
