#include "fuzzers/program/program_text.h"

#include <array>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "fuzzers/program/codec.h"
#include "fuzzers/program/input_files.h"

namespace nf::fuzz {
namespace {

// The core's name of an event (core/notifier.cc has the one table of them).
absl::string_view EventText(Event e) {
  const std::string_view n = EventName(e);
  return absl::string_view(n.data(), n.size());
}

struct BehaviourName {
  uint8_t bit;
  absl::string_view name;
};
constexpr std::array<BehaviourName, 5> kBehaviourNames = {{
    {kHasRelease, "release"},
    {kHasStart, "start"},
    {kHasEnd, "end"},
    {kFailsNonblock, "fails"},
    {kPutsSelfOnRelease, "selfput"},
}};

std::string RangeText(const Op& op) {
  return absl::StrFormat("0x%x+0x%x", op.start(), op.length());
}

// A parse error for the current line.
class LineError {
 public:
  LineError(absl::string_view file, int line) : file_(file), line_(line) {}
  // The reason quotes the text it rejects: escaped (EscapeForMessage), so that
  // binary garbage never reaches the terminal raw.
  absl::Status operator()(absl::string_view reason) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", line_, ": ", EscapeForMessage({reason.data(), reason.size()})));
  }

 private:
  absl::string_view file_;
  int line_;
};

std::optional<int> ParseIndex(absl::string_view tok, char prefix, int limit) {
  if (tok.size() < 2 || tok[0] != prefix) return std::nullopt;
  int v;
  if (!absl::SimpleAtoi(tok.substr(1), &v) || v < 0 || v >= limit) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseNumber(absl::string_view tok) {
  uint64_t v;
  if (absl::ConsumePrefix(&tok, "0x") || absl::ConsumePrefix(&tok, "0X")) {
    if (tok.empty() || !absl::SimpleHexAtoi(tok, &v)) return std::nullopt;
    return v;
  }
  if (!absl::SimpleAtoi(tok, &v)) return std::nullopt;
  return v;
}

// Parses "START+LENGTH" into op->page/pages/shape. Inserts may be zero-length or
// overflowing; other ranges must be normal.
absl::Status ParseRange(absl::string_view tok, bool insert, Op* op, const LineError& err) {
  const std::vector<absl::string_view> parts = absl::StrSplit(tok, '+');
  if (parts.size() != 2) return err(absl::StrCat("expected START+LENGTH, got '", tok, "'"));
  const std::optional<uint64_t> start = ParseNumber(parts[0]);
  const std::optional<uint64_t> length = ParseNumber(parts[1]);
  if (!start || !length) return err(absl::StrCat("bad number in range '", tok, "'"));
  if (*start % kPageSize != 0 || *length % kPageSize != 0) {
    return err(absl::StrCat("range '", tok, "' is not page-aligned (pages are 0x1000)"));
  }
  const uint64_t len_pages = *length / kPageSize;
  if (insert && *start >= kOverflowBase) {
    const uint64_t page = (*start - kOverflowBase) / kPageSize;
    if (len_pages < kSpacePages + 1 || len_pages > kSpacePages + kMaxRangePages) {
      return err(absl::StrFormat(
          "an overflowing insert at 0x%x needs a length of 0x%x..0x%x", *start,
          (kSpacePages + 1) * kPageSize, (kSpacePages + kMaxRangePages) * kPageSize));
    }
    op->page = static_cast<uint8_t>(page);
    op->pages = static_cast<uint8_t>(len_pages - kSpacePages);
    op->shape = InsertShape::kOverflow;
    return absl::OkStatus();
  }
  if (*start / kPageSize >= kSpacePages) {
    return err(absl::StrFormat("start 0x%x is past the space (0x0..0x%x)", *start,
                               (kSpacePages - 1) * kPageSize));
  }
  op->page = static_cast<uint8_t>(*start / kPageSize);
  if (insert && len_pages == 0) {
    op->pages = 0;
    op->shape = InsertShape::kZeroLength;
    return absl::OkStatus();
  }
  if (len_pages < 1 || len_pages > kMaxRangePages) {
    return err(absl::StrFormat("length 0x%x is not 0x1000..0x%x", *length,
                               kMaxRangePages * kPageSize));
  }
  op->pages = static_cast<uint8_t>(len_pages);
  return absl::OkStatus();
}

// Parses "START+LENGTH" of a boundary op into op->at (see BoundaryRange): start
// and end must each be a page plus one of kBoundaryOffsets, in the low space or
// (both) in the top kSpacePages pages.
absl::Status ParseBoundaryRange(absl::string_view tok, bool insert, Op* op,
                                const LineError& err) {
  const std::vector<absl::string_view> parts = absl::StrSplit(tok, '+');
  if (parts.size() != 2) return err(absl::StrCat("expected START+LENGTH, got '", tok, "'"));
  const std::optional<uint64_t> start = ParseNumber(parts[0]);
  const std::optional<uint64_t> length = ParseNumber(parts[1]);
  if (!start || !length) return err(absl::StrCat("bad number in range '", tok, "'"));
  auto offset_index = [](uint64_t off) -> int {
    for (int i = 0; i < kNumBoundaryOffsets; ++i) {
      if (kBoundaryOffsets[i] == off) return i;
    }
    return -1;
  };
  BoundaryRange r;
  r.top = *start >= kOverflowBase;
  const uint64_t rel = *start - (r.top ? kOverflowBase : 0);
  const int soff = offset_index(rel % kPageSize);
  if (rel / kPageSize >= kSpacePages || soff < 0) {
    return err(absl::StrFormat("start 0x%x is not a page of 0x0..0x%x (or of the top 16 pages "
                               "from 0x%x) plus one of the boundary offsets",
                               *start, (kSpacePages - 1) * kPageSize, kOverflowBase));
  }
  r.page = static_cast<uint8_t>(rel / kPageSize);
  r.start_off = static_cast<uint8_t>(soff);
  constexpr uint64_t kMaxLength = (kMaxRangePages + 1) * kPageSize;
  if (*length > kMaxLength) return err(absl::StrFormat("length 0x%x is past 0x%x", *length, kMaxLength));
  const uint64_t rel_end = rel + *length;
  if (!insert && r.top && rel_end == kSpacePages * kPageSize - 1) {
    r.pages = static_cast<uint8_t>(kSpacePages - r.page);  // ends at ULONG_MAX
    r.end_off = 0;
  } else {
    const int eoff = offset_index(rel_end % kPageSize);
    const uint64_t pages = rel_end / kPageSize - r.page;
    if (eoff < 0 || pages > kMaxRangePages) {
      return err(absl::StrFormat("range '%s' does not end at a page plus a boundary offset "
                                 "within %d pages of its start's page",
                                 std::string(tok), kMaxRangePages));
    }
    r.pages = static_cast<uint8_t>(pages);
    r.end_off = static_cast<uint8_t>(eoff);
  }
  if (NormalizeBoundary(r, insert) != r) {
    return err(absl::StrCat("range '", tok, "' is not in normal form (an empty range is "
                            "START+0; an invalidation at the top ends at 0xffffffffffffffff)"));
  }
  op->at = r;
  return absl::OkStatus();
}

absl::StatusOr<uint8_t> ParseBehaviour(absl::string_view tok, bool registered,
                                       const LineError& err) {
  if (tok == "none") return uint8_t{0};
  uint8_t bits = 0;
  for (absl::string_view name : absl::StrSplit(tok, ',')) {
    bool found = false;
    for (const BehaviourName& b : kBehaviourNames) {
      if (b.name == name) {
        bits |= b.bit;
        found = true;
      }
    }
    if (!found) {
      return err(absl::StrCat("unknown behaviour '", name,
                              "' (release, start, end, fails, selfput or none)"));
    }
  }
  if ((bits & kFailsNonblock) && !(bits & kHasStart)) return err("'fails' needs 'start'");
  if ((bits & kFailsNonblock) && (bits & kHasEnd)) {
    return err("'fails' excludes 'end' (a subscriber that can fail has no end, spec §3)");
  }
  if ((bits & kPutsSelfOnRelease) && registered) {
    return err("'selfput' is for get/put subscribers only");
  }
  if ((bits & kPutsSelfOnRelease) && !(bits & kHasRelease)) {
    return err("'selfput' needs 'release'");
  }
  return bits;
}

absl::StatusOr<Op> ParseOp(const std::vector<absl::string_view>& tok, const LineError& err) {
  const std::optional<OpCode> code = OpCodeFromName(std::string_view(tok[0].data(), tok[0].size()));
  if (!code) return err(absl::StrCat("unknown op '", tok[0], "'"));
  size_t want = 1;
  if (UsesIntervalSlot(*code) || UsesClassicSlot(*code)) ++want;
  if (UsesRange(*code) || UsesBoundaryRange(*code)) ++want;
  if (UsesRangeFlags(*code)) want += 2;
  if (*code == OpCode::kMisbehave) want += 2;
  if (UsesBehaviour(*code)) ++want;
  if (tok.size() != want) {
    return err(absl::StrFormat("'%s' takes %d operand(s), got %d", tok[0], want - 1,
                               tok.size() - 1));
  }
  Op op;
  op.code = *code;
  size_t i = 1;
  if (UsesIntervalSlot(*code)) {
    const std::optional<int> s = ParseIndex(tok[i], 's', kIntervalSlots);
    if (!s) return err(absl::StrCat("expected an interval slot s0..s5, got '", tok[i], "'"));
    op.slot = static_cast<uint8_t>(*s);
    ++i;
  }
  if (UsesClassicSlot(*code)) {
    const std::optional<int> c = ParseIndex(tok[i], 'c', kClassicSlots);
    if (!c) return err(absl::StrCat("expected a classic slot c0..c3, got '", tok[i], "'"));
    op.slot = static_cast<uint8_t>(*c);
    ++i;
  }
  if (*code == OpCode::kMisbehave) {
    // misbehave s<slot> fail_blockable|even_seq, misbehave c<slot> fail_start
    std::optional<Misbehaviour> m;
    for (int k = 0; k < kNumMisbehaviours; ++k) {
      const std::string_view n = MisbehaviourName(static_cast<Misbehaviour>(k));
      if (tok[2] == absl::string_view(n.data(), n.size())) m = static_cast<Misbehaviour>(k);
    }
    if (!m) {
      return err(absl::StrCat("unknown misbehaviour '", tok[2],
                              "' (fail_blockable, even_seq or fail_start)"));
    }
    const bool interval = MisbehaviourOnInterval(*m);
    const std::optional<int> s = interval ? ParseIndex(tok[1], 's', kIntervalSlots)
                                          : ParseIndex(tok[1], 'c', kClassicSlots);
    if (!s) {
      return err(absl::StrCat(interval ? "expected an interval slot s0..s5" : "expected a classic "
                              "slot c0..c3", " for ", tok[2], ", got '", tok[1], "'"));
    }
    return MisbehaveOp(*m, *s);
  }
  if (UsesRange(*code)) {
    absl::Status st =
        ParseRange(tok[i], Info(*code).operands == Operands::kInsert, &op, err);
    if (!st.ok()) return st;
    ++i;
  }
  if (UsesBoundaryRange(*code)) {
    absl::Status st = ParseBoundaryRange(tok[i], *code == OpCode::kInsertAt, &op, err);
    if (!st.ok()) return st;
    ++i;
  }
  if (UsesRangeFlags(*code)) {
    if (tok[i] == "block") {
      op.blockable = true;
    } else if (tok[i] == "nonblock") {
      op.blockable = false;
    } else {
      return err(absl::StrCat("expected block or nonblock, got '", tok[i], "'"));
    }
    ++i;
    bool found = false;
    // The text names are the core's (EventName): one table, in core/notifier.cc.
    for (int e = 0; e < kNumEvents; ++e) {
      if (EventText(static_cast<Event>(e)) == tok[i]) {
        op.event = static_cast<Event>(e);
        found = true;
      }
    }
    if (!found) return err(absl::StrCat("unknown event '", tok[i], "'"));
    ++i;
  }
  if (UsesBehaviour(*code)) {
    absl::StatusOr<uint8_t> b = ParseBehaviour(tok[i], IsRegister(*code), err);
    if (!b.ok()) return b.status();
    op.behaviour = *b;
  }
  return op;
}

}  // namespace

std::string_view EventTextName(Event e) { return EventName(e); }

std::string BehaviourText(uint8_t behaviour) {
  std::string out;
  for (const BehaviourName& b : kBehaviourNames) {
    if (behaviour & b.bit) absl::StrAppend(&out, out.empty() ? "" : ",", b.name);
  }
  return out.empty() ? "none" : out;
}

std::string PrintOp(const Op& op) {
  const std::string_view name = OpCodeName(op.code);
  std::string out(name.data(), name.size());
  if (UsesIntervalSlot(op.code)) absl::StrAppend(&out, " s", op.slot);
  if (UsesClassicSlot(op.code)) absl::StrAppend(&out, " c", op.slot);
  if (op.code == OpCode::kMisbehave) {
    const std::string_view m = MisbehaviourName(op.misbehaviour);
    absl::StrAppend(&out, MisbehaviourOnInterval(op.misbehaviour) ? " s" : " c", op.slot, " ",
                    absl::string_view(m.data(), m.size()));
  }
  if (UsesRange(op.code) || UsesBoundaryRange(op.code)) absl::StrAppend(&out, " ", RangeText(op));
  if (UsesRangeFlags(op.code)) {
    absl::StrAppend(&out, op.blockable ? " block " : " nonblock ", EventText(op.event));
  }
  if (UsesBehaviour(op.code)) absl::StrAppend(&out, " ", BehaviourText(op.behaviour));
  return out;
}

std::string Print(const Program& p) {
  std::string out = absl::StrFormat("threads %d\n", p.threads.size());
  if (p.initial_seq == InitialSeq::kNearWrap) out += "initial_seq near_wrap\n";
  ForEachOp(p, [&](int thread, size_t, const Op& op) {
    absl::StrAppend(&out, "T", thread, ": ", PrintOp(op), "\n");
  });
  for (size_t i = 0; i < p.schedule.size(); i += 16) {
    out += "schedule:";
    for (size_t j = i; j < p.schedule.size() && j < i + 16; ++j) {
      absl::StrAppendFormat(&out, " %02x", p.schedule[j]);
    }
    out += "\n";
  }
  return out;
}

absl::StatusOr<Program> Parse(std::string_view text_in, std::string_view filename_in) {
  const absl::string_view text(text_in.data(), text_in.size());
  const absl::string_view filename(filename_in.data(), filename_in.size());
  Program p;
  p.threads.clear();
  std::optional<int> declared_threads;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    const LineError err(filename, line_no);
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    const std::vector<absl::string_view> tok =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (tok.empty()) continue;
    if (tok[0] == "threads") {
      int n;
      if (tok.size() != 2 || !absl::SimpleAtoi(tok[1], &n) || n < 1 || n > kMaxThreads) {
        return err("expected 'threads N' with N in 1..4");
      }
      if (declared_threads) return err("'threads' given twice");
      if (static_cast<int>(p.threads.size()) > n) {
        return err(absl::StrFormat("'threads %d' but thread T%d already has ops", n,
                                   p.threads.size() - 1));
      }
      declared_threads = n;
      continue;
    }
    if (tok[0] == "initial_seq") {
      if (tok.size() == 2 && tok[1] == "default") {
        p.initial_seq = InitialSeq::kDefault;
      } else if (tok.size() == 2 && tok[1] == "near_wrap") {
        p.initial_seq = InitialSeq::kNearWrap;
      } else {
        return err("expected 'initial_seq default' or 'initial_seq near_wrap'");
      }
      continue;
    }
    if (tok[0] == "schedule:") {
      for (size_t i = 1; i < tok.size(); ++i) {
        int v;
        if (tok[i].size() != 2 || !absl::SimpleHexAtoi(tok[i], &v)) {
          return err(absl::StrCat("schedule byte '", tok[i], "' is not two hex digits"));
        }
        if (p.schedule.size() >= kMaxScheduleBytes) {
          return err(absl::StrFormat("more than %d schedule bytes", kMaxScheduleBytes));
        }
        p.schedule.push_back(static_cast<uint8_t>(v));
      }
      continue;
    }
    absl::string_view head = tok[0];
    int thread;
    if (head.size() < 3 || head[0] != 'T' || head.back() != ':' ||
        !absl::SimpleAtoi(head.substr(1, head.size() - 2), &thread)) {
      return err(absl::StrCat("expected 'T<n>: <op>', 'threads', 'initial_seq' or "
                              "'schedule:', got '", head, "'"));
    }
    const int limit = declared_threads ? *declared_threads : kMaxThreads;
    if (thread < 0 || thread >= limit) {
      return err(absl::StrFormat("thread T%d is not in T0..T%d", thread, limit - 1));
    }
    if (tok.size() < 2) return err("missing op after the thread tag");
    absl::StatusOr<Op> op = ParseOp({tok.begin() + 1, tok.end()}, err);
    if (!op.ok()) return op.status();
    if (static_cast<int>(p.threads.size()) <= thread) p.threads.resize(thread + 1);
    if (!p.Append(thread, *op)) {
      return err(absl::StrFormat("thread T%d has more than %d ops", thread, kMaxOpsPerThread));
    }
  }
  const size_t n = declared_threads ? *declared_threads : p.threads.size();
  p.threads.resize(n == 0 ? 1 : n);
  return p;
}

std::string EscapeForMessage(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += absl::StrFormat("\\x%02x", u);
    }
  }
  return out;
}

absl::Status CheckNotEmpty(const Program& p, std::string_view path) {
  if (p.num_ops() > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      EscapeForMessage(path), ": the program has no ops (an empty program; --allow-empty "
      "accepts one)"));
}

absl::StatusOr<Program> LoadProgramFile(const std::string& path, bool allow_empty) {
  std::string contents;
  if (!ReadFile(path, &contents)) {
    return absl::NotFoundError(absl::StrCat(EscapeForMessage(path), ": cannot read"));
  }
  if (!absl::EndsWith(path, ".nfp")) {
    return Decode({reinterpret_cast<const uint8_t*>(contents.data()), contents.size()});
  }
  absl::StatusOr<Program> p = Parse(contents, EscapeForMessage(path));
  if (p.ok() && !allow_empty) {
    if (absl::Status st = CheckNotEmpty(*p, path); !st.ok()) return st;
  }
  return p;
}

}  // namespace nf::fuzz
