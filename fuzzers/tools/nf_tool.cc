// fuzzers/tools/nf_tool.cc: the op-program tool behind `./nf decode|encode|replay`.
//
//   nf_tool decode [--json] FILE   print an input file as a text program, with a
//                                  comment line saying how it was read (input
//                                  bytes, or a text program if FILE ends in
//                                  .nfp) and its schedule as the concurrent
//                                  fuzzer reads it (strategy, bytes); --json: the
//                                  program document of
//                                  fuzzers/executors/report_json.h instead
//   nf_tool encode [--allow-empty] FILE.nfp [OUT]
//                                  write the program's bytes to OUT (or stdout);
//                                  a bad file: "FILE:LINE: reason", exit 2, OUT
//                                  not written; OUT may not be FILE.nfp itself;
//                                  a program with no op is refused unless
//                                  --allow-empty
//   nf_tool replay [--json] FILE_OR_DIR...
//                                  run each input (bytes, or text if it ends in
//                                  .nfp; fuzzers/program/input_files.h says
//                                  which files of a directory) through the
//                                  sequential fuzzer's TestOneInput, logging
//                                  every op, its result, its callbacks and the
//                                  state after it; --json: one run document
//                                  (report_json.h) per input on stdout instead,
//                                  a failing one included
//   nf_tool creplay [--json] FILE_OR_DIR...
//                                  the same through the concurrent fuzzer's
//                                  checks, printing the interleaving trace and
//                                  the verdict: runs nf_ctrace (built beside
//                                  nf_tool, in the deterministic flavour)
//
// Flags may come anywhere on the line ("--" ends them). Exit status: 0 success,
// 1 a write error, 2 bad usage, a missing or unreadable input, an empty
// directory, bad or empty text; a replay that finds a violation aborts (the
// report is on stderr).
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "fuzzers/program/codec.h"
#include "fuzzers/program/input_files.h"
#include "fuzzers/program/program_text.h"
#include "sync/scheduler.h"
#include "fuzzers/executors/report_json.h"
#include "fuzzers/executors/sequential.h"

namespace {

using nf::fuzz::Program;

int Usage() {
  std::fprintf(stderr,
               "usage: nf_tool decode [--json] FILE\n"
               "       nf_tool encode [--allow-empty] FILE.nfp [OUT]\n"
               "       nf_tool replay [--json] FILE_OR_DIR...\n"
               "       nf_tool creplay [--json] FILE_OR_DIR...\n");
  return 2;
}

using nf::fuzz::ReadFile;

Program FromBytes(const std::string& bytes) {
  return nf::fuzz::Decode(
      {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

int Decode(const char* path, bool json) {
  std::string bytes;
  if (!ReadFile(path, &bytes)) {
    std::fprintf(stderr, "%s: cannot read (no such file, or not a regular file)\n",
                 nf::fuzz::EscapeForMessage(path).c_str());
    return 2;
  }
  // A text program is parsed, never decoded as bytes: its bytes are its text.
  const bool text = nf::fuzz::IsTextProgram(path);
  Program p;
  if (text) {
    absl::StatusOr<Program> parsed = nf::fuzz::LoadProgramFile(path);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
      return 2;
    }
    p = *std::move(parsed);
  } else {
    p = FromBytes(bytes);
  }
  if (json) {
    nf::fuzz::Json j;
    j.BeginObject()
        .Key("nf").String("program")
        .Key("version").Int(1)
        .Key("file").String(path)
        .Key("form").String(text ? "text" : "bytes")
        .Key("size").UInt(bytes.size())
        .Key("schedule_description")
        .String(nf::sched::ScheduleInput::Decode(p.schedule).DebugString())
        .Key("program").Raw(nf::fuzz::ProgramJson(p))
        .EndObject();
    std::printf("%s\n", j.str().c_str());
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::printf("# %s (%zu bytes%s)\n# schedule (concurrent fuzzer): %s, %zu byte(s)\n%s", path,
              bytes.size(), text ? ", read as a text program" : "",
              nf::sched::ScheduleInput::Decode(p.schedule).DebugString().c_str(),
              p.schedule.size(), nf::fuzz::Print(p).c_str());
  return 0;
}

// Runs nf_ctrace, from the directory of this executable, with the same files.
int CReplay(int n, char** paths) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::fprintf(stderr, "nf_tool: cannot find its own path: %s\n", ec.message().c_str());
    return 1;
  }
  // nf_tool runs nf_ctrace; nf_tool_kernel (the kernel target) nf_ctrace_kernel.
  const std::string name = self.filename().string();
  const std::string suffix = name.rfind("nf_tool", 0) == 0 ? name.substr(7) : "";
  const std::string tool = (self.parent_path() / ("nf_ctrace" + suffix)).string();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(tool.c_str()));
  for (int i = 0; i < n; ++i) argv.push_back(paths[i]);
  argv.push_back(nullptr);
  execv(tool.c_str(), argv.data());
  std::fprintf(stderr, "nf_tool: cannot run %s: %s\n", tool.c_str(), std::strerror(errno));
  return 1;
}

int Encode(const char* path, const char* out_path, bool allow_empty) {
  std::string text;
  if (!ReadFile(path, &text)) {
    std::fprintf(stderr, "%s: cannot read (no such file, or not a regular file)\n",
                 nf::fuzz::EscapeForMessage(path).c_str());
    return 2;
  }
  if (out_path != nullptr) {
    // Never write over the text source (`encode same.nfp same.nfp`).
    std::error_code ec;
    if (std::filesystem::equivalent(path, out_path, ec)) {
      std::fprintf(stderr, "%s: OUT is the input itself: refusing to overwrite it\n",
                   nf::fuzz::EscapeForMessage(out_path).c_str());
      return 2;
    }
  }
  const absl::StatusOr<Program> p = nf::fuzz::Parse(text, nf::fuzz::EscapeForMessage(path));
  if (!p.ok()) {
    std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
    return 2;
  }
  if (!allow_empty) {
    if (const absl::Status st = nf::fuzz::CheckNotEmpty(*p, path); !st.ok()) {
      std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
      return 2;
    }
  }
  const std::vector<uint8_t> bytes = nf::fuzz::Encode(*p);
  if (out_path == nullptr) {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "%s: cannot write\n", nf::fuzz::EscapeForMessage(out_path).c_str());
    return 1;
  }
  return 0;
}

int Replay(std::vector<char*> args, bool json) {
  if (args.empty()) return Usage();
  if (json) nf::fuzz::SetJsonReportStream(stdout);
  std::vector<std::filesystem::path> files;
  if (!nf::fuzz::CollectInputs(static_cast<int>(args.size()), args.data(), &files,
                               nf::fuzz::Inputs::kBytesAndText)) {
    return 2;
  }
  for (const auto& f : files) {
    absl::StatusOr<Program> p = nf::fuzz::LoadProgramFile(f.string());
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
      return 2;
    }
    nf::fuzz::SequentialOptions options;
    if (json) {
      // The events go into the document; a violation writes it (report_json.h).
      std::vector<nf::fuzz::TraceEvent> events;
      options.events = &events;
      nf::fuzz::SetJsonReportInput(f.string());
      nf::fuzz::TestOneInput(*p, options);
      nf::fuzz::RunRecord r;
      r.executor = "sequential";
      r.program = &*p;
      r.has_trace = true;
      r.trace = std::move(events);
      nf::fuzz::EmitRunJson(r);
      continue;
    }
    std::printf("==== replay %s%s ====\n", f.c_str(),
                nf::fuzz::IsTextProgram(f) ? " (read as a text program)" : "");
    options.verbose = stdout;
    nf::fuzz::TestOneInput(*p, options);
    std::printf("==== %s: no violation ====\n", f.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string_view cmd = argv[1];
  // Flags anywhere on the line; "--" ends them.
  bool json = false, allow_empty = false, flags_done = false;
  std::vector<char*> args;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (!flags_done && a == "--") {
      flags_done = true;
    } else if (!flags_done && a == "--json" && cmd != "encode") {
      json = true;
    } else if (!flags_done && a == "--allow-empty" && cmd == "encode") {
      allow_empty = true;
    } else if (!flags_done && a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "nf_tool %s: unknown flag '%s'\n",
                   nf::fuzz::EscapeForMessage(cmd).c_str(),
                   nf::fuzz::EscapeForMessage(a).c_str());
      return Usage();
    } else {
      args.push_back(argv[i]);
    }
  }
  if (cmd == "decode" && args.size() == 1) return Decode(args[0], json);
  if (cmd == "encode" && (args.size() == 1 || args.size() == 2)) {
    return Encode(args[0], args.size() == 2 ? args[1] : nullptr, allow_empty);
  }
  if (cmd == "replay") return Replay(std::move(args), json);
  if (cmd == "creplay") {
    if (args.empty()) return Usage();
    if (json) args.insert(args.begin(), const_cast<char*>("--json"));
    return CReplay(static_cast<int>(args.size()), args.data());
  }
  return Usage();
}
