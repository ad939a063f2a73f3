// fuzzers/codec.h: the byte form of a Program (the fuzz input format).
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
//                 An opcode >= kNumOpCodes is unknown: that one byte is skipped
//                 (never wrapped onto a known opcode), so committed corpora keep
//                 their meaning when opcodes are added. Ops past kMaxOpsPerThread
//                 in a thread are read and dropped. The order of the op bytes is
//                 the program order (Program::order).
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

Program Decode(absl::Span<const uint8_t> data);
std::vector<uint8_t> Encode(const Program& p);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_CODEC_H_
