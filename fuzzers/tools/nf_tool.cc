// fuzzers/nf_tool.cc: the op-program tool behind `./nf decode|encode|replay`.
//
//   nf_tool decode [--json] FILE   print any input file as a text program, with
//                                  a comment line giving its schedule as the
//                                  concurrent fuzzer reads it (strategy, bytes);
//                                  --json: the program document of
//                                  fuzzers/executors/report_json.h instead
//   nf_tool encode FILE.nfp [OUT]  write the program's bytes to OUT (or stdout);
//                                  a bad file: "FILE:LINE: reason", exit 2, OUT
//                                  not written
//   nf_tool replay [--json] FILE...
//                                  run each input (bytes, or text if it ends in
//                                  .nfp) through the sequential fuzzer's
//                                  TestOneInput, logging every op, its result,
//                                  its callbacks and the state after it; --json:
//                                  one run document (report_json.h) per input
//                                  on stdout instead, a failing one included
//   nf_tool creplay [--json] FILE...
//                                  the same through the concurrent fuzzer's
//                                  checks, printing the interleaving trace and
//                                  the verdict: runs nf_ctrace (built beside
//                                  nf_tool, in the deterministic flavour)
//
// Exit status: 0 success, 1 I/O error, 2 bad usage or bad text; a replay that
// finds a violation aborts (the report is on stderr).
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
               "       nf_tool encode FILE.nfp [OUT]\n"
               "       nf_tool replay [--json] FILE...\n"
               "       nf_tool creplay [--json] FILE...\n");
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
    std::fprintf(stderr, "%s: cannot read\n", path);
    return 1;
  }
  const Program p = FromBytes(bytes);
  if (json) {
    nf::fuzz::Json j;
    j.BeginObject()
        .Key("nf").String("program")
        .Key("version").Int(1)
        .Key("file").String(path)
        .Key("size").UInt(bytes.size())
        .Key("schedule_description")
        .String(nf::sched::ScheduleInput::Decode(p.schedule).DebugString())
        .Key("program").Raw(nf::fuzz::ProgramJson(p))
        .EndObject();
    std::printf("%s\n", j.str().c_str());
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::printf("# %s (%zu bytes)\n# schedule (concurrent fuzzer): %s, %zu byte(s)\n%s", path,
              bytes.size(), nf::sched::ScheduleInput::Decode(p.schedule).DebugString().c_str(),
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

int Encode(const char* path, const char* out_path) {
  std::string text;
  if (!ReadFile(path, &text)) {
    std::fprintf(stderr, "%s: cannot read\n", path);
    return 1;
  }
  const absl::StatusOr<Program> p = nf::fuzz::Parse(text, path);
  if (!p.ok()) {
    std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
    return 2;
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
    std::fprintf(stderr, "%s: cannot write\n", out_path);
    return 1;
  }
  return 0;
}

int Replay(int n, char** args) {
  const bool json = n > 0 && std::string_view(args[0]) == "--json";
  if (json) {
    --n;
    ++args;
    if (n == 0) return Usage();
    nf::fuzz::SetJsonReportStream(stdout);
  }
  std::vector<std::filesystem::path> files;
  if (!nf::fuzz::CollectInputs(n, args, &files)) return 2;
  for (const auto& f : files) {
    absl::StatusOr<Program> p = nf::fuzz::LoadProgramFile(f.string());
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
      return absl::IsNotFound(p.status()) ? 1 : 2;
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
    std::printf("==== replay %s ====\n", f.c_str());
    options.verbose = stdout;
    nf::fuzz::TestOneInput(*p, options);
    std::printf("==== %s: no violation ====\n", f.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string_view cmd = argv[1];
  if (cmd == "decode" && argc == 3) return Decode(argv[2], false);
  if (cmd == "decode" && argc == 4 && std::string_view(argv[2]) == "--json") {
    return Decode(argv[3], true);
  }
  if (cmd == "encode" && (argc == 3 || argc == 4)) {
    return Encode(argv[2], argc == 4 ? argv[3] : nullptr);
  }
  if (cmd == "replay") return Replay(argc - 2, argv + 2);
  if (cmd == "creplay") return CReplay(argc - 2, argv + 2);
  return Usage();
}
