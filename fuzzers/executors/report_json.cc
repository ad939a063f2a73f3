#include "fuzzers/executors/report_json.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzzers/program/program_text.h"

namespace nf::fuzz {

// --- Json --------------------------------------------------------------------

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        // Control bytes, DEL and every byte >= 0x80 (the reports are ASCII; a
        // stray byte must not make the document invalid UTF-8) as \u00XX.
        if (c < 0x20 || c >= 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

void Json::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (first_.empty()) return;
  if (!first_.back()) out_ += ',';
  first_.back() = false;
}

Json& Json::Open(char bracket) {
  Separate();
  out_ += bracket;
  first_.push_back(true);
  return *this;
}
Json& Json::Close(char bracket) {
  out_ += bracket;
  first_.pop_back();
  return *this;
}
Json& Json::BeginObject() { return Open('{'); }
Json& Json::EndObject() { return Close('}'); }
Json& Json::BeginArray() { return Open('['); }
Json& Json::EndArray() { return Close(']'); }
Json& Json::Key(std::string_view key) {
  Separate();
  out_ += JsonQuote(key);
  out_ += ':';
  after_key_ = true;
  return *this;
}
Json& Json::String(std::string_view s) {
  Separate();
  out_ += JsonQuote(s);
  return *this;
}
Json& Json::Int(int64_t v) {
  Separate();
  absl::StrAppend(&out_, v);
  return *this;
}
Json& Json::UInt(uint64_t v) {
  Separate();
  absl::StrAppend(&out_, v);
  return *this;
}
Json& Json::Bool(bool v) {
  Separate();
  out_ += v ? "true" : "false";
  return *this;
}
Json& Json::Null() {
  Separate();
  out_ += "null";
  return *this;
}
Json& Json::Raw(std::string_view json) {
  Separate();
  out_.append(json.data(), json.size());
  return *this;
}

// --- Programs ----------------------------------------------------------------

namespace {

std::string_view ShapeName(InsertShape s) {
  switch (s) {
    case InsertShape::kNormal: return "normal";
    case InsertShape::kZeroLength: return "zero_length";
    case InsertShape::kOverflow: return "overflow";
  }
  return "normal";
}

void AppendOp(Json& j, int thread, size_t index, const Op& op) {
  const std::string_view code = OpCodeName(op.code);
  j.BeginObject()
      .Key("thread").Int(thread)
      .Key("index").UInt(index)
      .Key("code").String(code)
      .Key("text").String(PrintOp(op));
  if (UsesIntervalSlot(op.code)) j.Key("slot").Int(op.slot);
  if (UsesClassicSlot(op.code)) j.Key("classic").Int(op.slot);
  if (UsesRange(op.code)) {
    j.Key("start").UInt(op.start()).Key("length").UInt(op.length());
    j.Key("page").Int(op.page).Key("pages").Int(op.pages);
  }
  if (UsesBoundaryRange(op.code)) {
    j.Key("start").UInt(op.start()).Key("length").UInt(op.length());
  }
  if (op.code == OpCode::kMisbehave) {
    j.Key(MisbehaviourOnInterval(op.misbehaviour) ? "slot" : "classic").Int(op.slot);
    j.Key("misbehaviour").String(MisbehaviourName(op.misbehaviour));
  }
  if (op.code == OpCode::kInsert) j.Key("shape").String(ShapeName(op.shape));
  if (IsInvalidation(op.code)) {
    j.Key("blockable").Bool(op.blockable).Key("event").String(EventTextName(op.event));
  }
  if (UsesBehaviour(op.code)) j.Key("behaviour").String(BehaviourText(op.behaviour));
  j.EndObject();
}

}  // namespace

std::string ProgramJson(const Program& p) {
  Json j;
  j.BeginObject()
      .Key("threads").Int(static_cast<int64_t>(p.threads.size()))
      .Key("initial_seq").String(p.initial_seq == InitialSeq::kNearWrap ? "near_wrap" : "default");
  j.Key("order").BeginArray();
  for (const uint8_t t : p.order) j.Int(t);
  j.EndArray();
  j.Key("ops").BeginArray();
  ForEachOp(p, [&j](int thread, size_t index, const Op& op) { AppendOp(j, thread, index, op); });
  j.EndArray();
  std::string hex;
  for (const uint8_t b : p.schedule) absl::StrAppendFormat(&hex, "%02x", b);
  j.Key("schedule").String(hex).Key("text").String(Print(p));
  j.EndObject();
  return j.str();
}

// --- Verdicts ----------------------------------------------------------------

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Verdict FailureVerdict(const Failure& failure) {
  Verdict v;
  v.ok = false;
  v.message = failure.text;
  const std::string_view what = failure.text;
  if (failure.property != Property::kNone) {
    v.property = std::string(PropertyName(failure.property));
  } else if (StartsWith(what, "NONDETERMINISM")) {
    v.property = "nondeterminism";
  } else if (StartsWith(what, "a sanitizer report")) {
    v.property = "sanitizer";
  } else if (StartsWith(what, "internal")) {
    v.property = "internal";
  } else if (StartsWith(what, "after cleanup") || StartsWith(what, "cleanup")) {
    v.property = "cleanup";
  } else {
    v.property = "model";
    // "state differs after the op:\n  s1 seq: core 0x3, model 0x5": the first
    // difference is a subscription's seq.
    const size_t nl = what.find('\n');
    const std::string_view first_diff =
        nl == std::string_view::npos ? what : what.substr(nl + 1, what.find('\n', nl + 1) - nl - 1);
    if (first_diff.find(" seq: core ") != std::string_view::npos) v.detail = "sub seq";
  }
  return v;
}

// --- Runs --------------------------------------------------------------------

namespace {
// The input being run (SetJsonReportInput), for the document's "file".
std::string* CurrentInput() {
  static std::string* const input = new std::string();
  return input;
}
}  // namespace

std::string RunJson(const RunRecord& r) {
  Json j;
  j.BeginObject().Key("nf").String("run").Key("version").Int(1);
  j.Key("executor").String(r.executor);
  j.Key("file");
  const std::string* input = CurrentInput();
  if (input->empty()) {
    j.Null();
  } else {
    j.String(*input);
  }
  j.Key("program");
  if (r.program != nullptr) {
    j.Raw(ProgramJson(*r.program));
  } else {
    j.Null();
  }
  j.Key("schedule");
  if (r.concurrent_schedule) {
    j.String(r.schedule);
  } else {
    j.Null();
  }
  j.Key("trace");
  if (r.has_trace) {
    j.BeginObject().Key("header").String(r.trace_header).Key("end").String(r.trace_end);
    j.Key("events").BeginArray();
    for (const TraceEvent& e : r.trace) {
      j.BeginObject()
          .Key("step").UInt(e.step)
          .Key("thread").Int(e.thread)
          .Key("kind").String(e.kind)
          .Key("text").String(e.text);
      if (e.other >= 0) j.Key("other").Int(e.other);
      j.EndObject();
    }
    j.EndArray().EndObject();
  } else {
    j.Null();
  }
  const Verdict& v = r.verdict;
  j.Key("verdict").BeginObject().Key("ok").Bool(v.ok).Key("property");
  if (v.property.empty()) {
    j.Null();
  } else {
    j.String(v.property);
  }
  j.Key("detail").String(v.detail).Key("message").String(v.message);
  auto nullable = [&j](const char* key, int64_t value) {
    j.Key(key);
    if (value < 0) {
      j.Null();
    } else {
      j.Int(value);
    }
  };
  nullable("step", v.step);
  nullable("thread", v.thread);
  nullable("op", v.op);
  j.Key("cleanup").Bool(v.cleanup).Key("where").String(v.where);
  j.EndObject().EndObject();
  return j.str();
}

// --- The sink ----------------------------------------------------------------

namespace {
FILE* g_stream = nullptr;
}  // namespace

void SetJsonReportStream(FILE* f) { g_stream = f; }

void SetJsonReportInput(std::string_view path) {
  CurrentInput()->assign(path.data(), path.size());
}

bool JsonReportWanted() {
  const char* env = std::getenv("NF_REPORT_JSON");
  return g_stream != nullptr || (env != nullptr && *env != '\0');
}

void EmitRunJson(const RunRecord& r) {
  if (!JsonReportWanted()) return;
  const std::string doc = RunJson(r);
  if (g_stream != nullptr) {
    std::fprintf(g_stream, "%s\n", doc.c_str());
    std::fflush(g_stream);
  }
  const char* env = std::getenv("NF_REPORT_JSON");
  if (env != nullptr && *env != '\0') {
    if (FILE* f = std::fopen(env, "w")) {
      std::fprintf(f, "%s\n", doc.c_str());
      std::fclose(f);
    }
  }
}

}  // namespace nf::fuzz
