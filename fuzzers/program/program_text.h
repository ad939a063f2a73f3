// fuzzers/program/program_text.h: the text form of a Program (.nfp files), for people.
//
// One op per line, in program order (the order the sequential fuzzer runs them;
// each thread's ops keep their relative order); `#` starts a comment.
//
//   file      := line*
//   line      := [stmt] ['#' comment]
//   stmt      := 'threads' N                      (1..4; default: highest T + 1)
//              | 'initial_seq' ('default' | 'near_wrap')
//              | 'schedule:' HEXBYTE*             (appends; may repeat)
//              | 'T' N ':' op
//   op        := 'insert' S RANGE | 'remove' S
//              | 'invalidate' RANGE MODE EVENT | 'inv_start' RANGE MODE EVENT
//              | 'inv_end'
//              | 'read_begin' S | 'read_retry' S | 'check_retry' S
//              | 'fault' S RANGE
//              | 'register' C BEHAVIOUR | 'unregister' C
//              | 'get' BEHAVIOUR | 'put' BEHAVIOUR
//              | 'release' | 'lock' S | 'unlock' S
//              | 'insert_at' S ARANGE | 'fault_at' S ARANGE
//              | 'invalidate_at' ARANGE MODE EVENT | 'inv_start_at' ARANGE MODE EVENT
//              | 'misbehave' S ('fail_blockable' | 'even_seq') | 'misbehave' C 'fail_start'
//   S         := 's' 0..5          C := 'c' 0..3
//   RANGE     := START '+' LENGTH  (C integers, 0x for hex; page-granular: start on
//                one of the 16 pages 0x0..0xf000, length 0x1000..0x10000; an insert
//                may also be zero-length or start at 0xffffffffffff0000 + page and
//                overflow, see program.h InsertShape)
//   ARANGE    := START '+' LENGTH  (byte-granular, program.h BoundaryRange: start a
//                page of 0x0..0xf000 (or of the 16 pages from 0xffffffffffff0000)
//                plus one of the offsets 0, 1, 0xfff, 2, 0xffe, 0x800, 0x7ff, 0x801;
//                the end (start + length) likewise, 0..16 pages on; LENGTH may
//                be 0; an invalidation or fault may end at 0xffffffffffffffff)
//   MODE      := 'block' | 'nonblock'
//   EVENT     := unmap | clear | protection_vma | protection_page | soft_dirty
//              | release | migrate | exclusive
//   BEHAVIOUR := 'none' | NAME (',' NAME)*   NAME := release | start | end | fails
//              | selfput      (fails needs start and excludes end; selfput needs
//                              release and is for get/put only)
//
// Example:
//   threads 2
//   T0: insert s1 0x1000+0x4000
//   T0: inv_start 0x3000+0x2000 nonblock unmap
//   T1: insert s2 0x3000+0x1000     # deferred: the seq is odd
//   T0: inv_end
//   schedule: 01 ff 3a
//
// Parse(Print(p)) == p for every valid p. A bad file yields an error
// "<filename>:<line>: <reason>" and no program.
#ifndef NF_FUZZERS_PROGRAM_TEXT_H_
#define NF_FUZZERS_PROGRAM_TEXT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzzers/program/program.h"

namespace nf::fuzz {

std::string Print(const Program& p);
// One op without its thread tag, e.g. "insert s1 0x1000+0x4000".
std::string PrintOp(const Op& op);
absl::StatusOr<Program> Parse(std::string_view text, std::string_view filename);

// The program in a file: a text program if its name ends in ".nfp" (Parse),
// else input bytes (Decode, which never fails). An unreadable path (missing, a
// directory) is NotFound "PATH: cannot read"; bad text is Parse's error; a text
// program with no op (an empty or comment-only file) is InvalidArgument unless
// allow_empty (input bytes always decode: an empty program is a fuzzer input
// like any other).
absl::StatusOr<Program> LoadProgramFile(const std::string& path, bool allow_empty = false);

// InvalidArgument "PATH: the program has no ops ..." for a program without ops.
absl::Status CheckNotEmpty(const Program& p, std::string_view path);

// `text` for a one-line message: printable ASCII as it is, a tab as \t, every
// other byte as \xNN (a parse error quotes what it rejects; a file may hold any
// bytes).
std::string EscapeForMessage(std::string_view text);

std::string_view EventTextName(Event e);
std::string BehaviourText(uint8_t behaviour);

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_PROGRAM_TEXT_H_
