#include "fuzzers/program/codec.h"

#include "fuzzers/program/byte_reader.h"

namespace nf::fuzz {
namespace {

constexpr uint8_t kShapeOverflow = 0xe0;   // 0xe0-0xef
constexpr uint8_t kShapeZeroLength = 0xf0;  // 0xf0-0xff

uint8_t Count(ByteReader& in) { return static_cast<uint8_t>(in.Below(kMaxRangePages) + 1); }

// A boundary op's range: [where][offsets][pages] (codec.h).
BoundaryRange ReadBoundary(ByteReader& in, bool insert) {
  const uint8_t where = in.Byte();
  const uint8_t offsets = in.Byte();
  BoundaryRange r;
  r.page = where & 0x0f;
  r.top = (where & 0x10) != 0;
  r.start_off = offsets & 0x07;
  r.end_off = (offsets >> 4) & 0x07;
  r.pages = in.Below(kMaxRangePages + 1);
  return NormalizeBoundary(r, insert);
}

void WriteBoundary(const BoundaryRange& r, std::vector<uint8_t>* out) {
  out->push_back(static_cast<uint8_t>(r.page | (r.top ? 0x10 : 0)));
  out->push_back(static_cast<uint8_t>(r.start_off | (r.end_off << 4)));
  out->push_back(r.pages);
}

// An op without flags (UsesRangeFlags false) writes 0, which reads back as its
// defaults.
uint8_t FlagsByte(const Op& op) {
  return static_cast<uint8_t>((op.blockable ? 0 : 1) | (static_cast<uint8_t>(op.event) << 1));
}

// Reads op's operands. Returns false for an unknown opcode (nothing consumed).
// opcode: the op byte's, or for a boundary op (behind the escape) its OpCode.
bool ReadOperands(int opcode, ByteReader& in, Op* op) {
  if (opcode >= kNumOpCodes) return false;
  const auto code = static_cast<OpCode>(opcode);
  switch (Info(code).operands) {
    case Operands::kInsert: {
      const int slot = in.Below(kIntervalSlots);
      const int page = in.Below(kSpacePages);
      const uint8_t shape = in.Byte();
      if (shape >= kShapeZeroLength) {
        *op = InsertOp(slot, page, 0, InsertShape::kZeroLength);
      } else if (shape >= kShapeOverflow) {
        *op = InsertOp(slot, page, shape % kMaxRangePages + 1, InsertShape::kOverflow);
      } else {
        *op = InsertOp(slot, page, shape % kMaxRangePages + 1);
      }
      op->code = code;  // insert or insert_locked
      return true;
    }
    case Operands::kIntervalSlot:
      *op = SlotOp(code, in.Below(kIntervalSlots));
      return true;
    case Operands::kRange: {
      const int page = in.Below(kSpacePages);
      const int pages = Count(in);
      const uint8_t flags = in.Byte();
      *op = RangeOp(code, page, pages, (flags & 1) == 0,
                    static_cast<Event>((flags >> 1) % kNumEvents));
      return true;
    }
    case Operands::kNone:
      *op = BareOp(code);
      return true;
    case Operands::kFault: {
      const int slot = in.Below(kIntervalSlots);
      const int page = in.Below(kSpacePages);
      *op = FaultOp(slot, page, Count(in));
      return true;
    }
    case Operands::kRegister: {
      const int slot = in.Below(kClassicSlots);
      *op = RegisterOp(slot, in.Byte());
      op->code = code;  // register or register_secondary
      return true;
    }
    case Operands::kClassicSlot:
      *op = SlotOp(code, in.Below(kClassicSlots));
      return true;
    case Operands::kBehaviour:
      *op = BehaviourOp(code, in.Byte());
      return true;
    case Operands::kInsertAt: {
      const int slot = in.Below(kIntervalSlots);
      *op = InsertAtOp(slot, ReadBoundary(in, /*insert=*/true));
      return true;
    }
    case Operands::kRangeAt: {
      const BoundaryRange r = ReadBoundary(in, /*insert=*/false);
      const uint8_t flags = in.Byte();
      *op = RangeAtOp(code, r, (flags & 1) == 0, static_cast<Event>((flags >> 1) % kNumEvents));
      return true;
    }
    case Operands::kFaultAt: {
      const int slot = in.Below(kIntervalSlots);
      *op = FaultAtOp(slot, ReadBoundary(in, /*insert=*/false));
      return true;
    }
    case Operands::kMisbehave: {
      const auto m = static_cast<Misbehaviour>(in.Below(kNumMisbehaviours));
      *op = MisbehaveOp(m, in.Below(MisbehaviourOnInterval(m) ? kIntervalSlots : kClassicSlots));
      return true;
    }
  }
  return false;
}

// The boundary op behind an escape byte: the next byte, if it names one (then
// consumed), else -1 (the escape is an unknown byte; nothing consumed).
int ReadEscaped(ByteReader& in) {
  if (!kBoundaryOpsEnabled || in.empty()) return -1;
  const int b = in.Peek();
  int code = -1;
  if (b >= kEscapeBase && b < kEscapeBase + (kFirstApiOp - kFirstBoundaryOp)) {
    code = kFirstBoundaryOp + (b - kEscapeBase);
  } else if (b >= kApiEscapeBase && b < kApiEscapeBase + (kNumOpCodes - kFirstApiOp)) {
    code = kFirstApiOp + (b - kApiEscapeBase);
  }
  if (code < 0) return -1;
  in.Byte();
  return code;
}

void WriteOperands(const Op& op, std::vector<uint8_t>* out) {
  switch (Info(op.code).operands) {
    case Operands::kInsert:
      out->push_back(op.slot);
      out->push_back(op.page);
      switch (op.shape) {
        case InsertShape::kNormal:
          out->push_back(static_cast<uint8_t>(op.pages - 1));
          break;
        case InsertShape::kOverflow:
          out->push_back(static_cast<uint8_t>(kShapeOverflow | (op.pages - 1)));
          break;
        case InsertShape::kZeroLength:
          out->push_back(kShapeZeroLength);
          break;
      }
      return;
    case Operands::kIntervalSlot:
    case Operands::kClassicSlot:
      out->push_back(op.slot);
      return;
    case Operands::kRange:
      out->push_back(op.page);
      out->push_back(static_cast<uint8_t>(op.pages - 1));
      out->push_back(FlagsByte(op));
      return;
    case Operands::kNone:
      return;
    case Operands::kFault:
      out->push_back(op.slot);
      out->push_back(op.page);
      out->push_back(static_cast<uint8_t>(op.pages - 1));
      return;
    case Operands::kRegister:
      out->push_back(op.slot);
      out->push_back(op.behaviour);
      return;
    case Operands::kBehaviour:
      out->push_back(op.behaviour);
      return;
    case Operands::kInsertAt:
    case Operands::kFaultAt:
      out->push_back(op.slot);
      WriteBoundary(op.at, out);
      return;
    case Operands::kRangeAt:
      WriteBoundary(op.at, out);
      out->push_back(FlagsByte(op));
      return;
    case Operands::kMisbehave:
      out->push_back(static_cast<uint8_t>(op.misbehaviour));
      out->push_back(op.slot);
      return;
  }
}

}  // namespace

Program Decode(absl::Span<const uint8_t> data) {
  ByteReader in(data);
  Program p;
  const uint8_t header = in.Byte();
  p.threads.assign((header & 3) + 1, {});
  p.initial_seq = (header & 4) ? InitialSeq::kNearWrap : InitialSeq::kDefault;
  const unsigned nthreads = static_cast<unsigned>(p.threads.size());
  while (!in.empty()) {
    const uint8_t b = in.Byte();
    if (b == kEndOfOps) {
      absl::Span<const uint8_t> rest = in.Rest(kMaxScheduleBytes);
      p.schedule.assign(rest.begin(), rest.end());
      break;
    }
    Op op;
    int opcode = b & kOpcodeMask;
    if (opcode == kEscapeOpcode) opcode = ReadEscaped(in);
    if (opcode < 0 || (opcode >= kFirstBoundaryOp && opcode < kNumOpCodes &&
                       (b & kOpcodeMask) != kEscapeOpcode)) {
      continue;  // unknown: skip the byte
    }
    if (!ReadOperands(opcode, in, &op)) continue;  // unknown: skip the byte
    p.Append(static_cast<int>((b >> kThreadShift) % nthreads), op);  // dropped when full
  }
  return p;
}

std::vector<uint8_t> Encode(const Program& p) {
  std::vector<uint8_t> out;
  out.reserve(1 + p.num_ops() * 4 + 1 + p.schedule.size());
  out.push_back(static_cast<uint8_t>((p.threads.size() - 1) |
                                     (p.initial_seq == InitialSeq::kNearWrap ? 4 : 0)));
  ForEachOp(p, [&](int thread, size_t, const Op& op) {
    const int code = static_cast<int>(op.code);
    if (code >= kFirstBoundaryOp) {
      out.push_back(static_cast<uint8_t>((thread << kThreadShift) | kEscapeOpcode));
      out.push_back(EscapeByte(code));
    } else {
      out.push_back(static_cast<uint8_t>((thread << kThreadShift) | code));
    }
    WriteOperands(op, &out);
  });
  if (!p.schedule.empty()) {
    out.push_back(kEndOfOps);
    out.insert(out.end(), p.schedule.begin(), p.schedule.end());
  }
  return out;
}

}  // namespace nf::fuzz
