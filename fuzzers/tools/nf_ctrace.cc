// fuzzers/tools/nf_ctrace.cc: the concurrent fuzzer's replay and trace tool. Built in
// the deterministic flavour (it links nf_core_sched), so it is a binary of its
// own; `nf_tool creplay` runs it.
//
//   nf_ctrace FILE_OR_DIR...          run each input (bytes, or text if it ends
//                                     in .nfp; fuzzers/program/input_files.h
//                                     says which files of a directory) through the concurrent fuzzer's
//                                     checks; print the program, its schedule,
//                                     the interleaving trace (<step> t<thread>
//                                     <event>, with a note per op begin, result
//                                     and callback) and the verdict
//   nf_ctrace --json FILE...          the same, but one JSON run document
//                                     (fuzzers/executors/report_json.h) per
//                                     input on stdout instead of the text; a
//                                     failing input's document too, before
//                                     the abort
//   nf_ctrace --determinism PATH...   run every input (files; directories
//                                     recursively, skipping .nfp, EXPECT and .md
//                                     files) twice with the trace on and compare
//                                     the two traces byte for byte
//
// Exit status: 0 success, 1 a determinism mismatch, 2 bad usage, a missing or
// unreadable path, an empty directory, bad or empty text; a violation aborts (the report, with the trace, is on stderr).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "fuzzers/program/codec.h"
#include "fuzzers/executors/concurrent.h"
#include "fuzzers/executors/report_json.h"
#include "fuzzers/program/input_files.h"
#include "fuzzers/program/program_text.h"

namespace {

using nf::fuzz::Program;

int Usage() {
  std::fprintf(stderr,
               "usage: nf_ctrace FILE...\n"
               "       nf_ctrace --json FILE...\n"
               "       nf_ctrace --determinism FILE_OR_DIR...\n");
  return 2;
}

// 0 ok, else the exit status (2: unreadable, bad or empty text), the reason on
// stderr.
int Load(const std::filesystem::path& path, Program* p) {
  absl::StatusOr<Program> loaded = nf::fuzz::LoadProgramFile(path.string());
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  *p = *std::move(loaded);
  return 0;
}

int Replay(int n, char** args, bool json) {
  if (json) nf::fuzz::SetJsonReportStream(stdout);
  std::vector<std::filesystem::path> files;
  if (!nf::fuzz::CollectInputs(n, args, &files, nf::fuzz::Inputs::kBytesAndText)) return 2;
  for (const auto& f : files) {
    Program p;
    if (const int rc = Load(f, &p); rc != 0) return rc;
    nf::fuzz::ConcurrentOptions options;
    if (json) {
      nf::fuzz::SetJsonReportInput(f.string());
      options.json = true;
      nf::fuzz::RunConcurrent(p, options);
      continue;
    }
    std::printf("==== creplay %s%s ====\n", f.c_str(),
                nf::fuzz::IsTextProgram(f) ? " (read as a text program)" : "");
    std::fflush(stdout);
    options.trace = stdout;
    nf::fuzz::RunConcurrent(p, options);
    std::printf("==== %s: no violation ====\n", f.c_str());
    std::fflush(stdout);
  }
  return 0;
}

int Determinism(int n, char** args) {
  std::vector<std::filesystem::path> files;
  if (!nf::fuzz::CollectInputs(n, args, &files)) return 2;
  int mismatches = 0;
  size_t bytes = 0;
  for (const auto& f : files) {
    Program p;
    if (const int rc = Load(f, &p); rc != 0) return rc;
    const std::string first = nf::fuzz::ConcurrentTrace(p);
    const std::string second = nf::fuzz::ConcurrentTrace(p);
    bytes += first.size();
    if (first != second) {
      ++mismatches;
      size_t at = 0;
      while (at < first.size() && at < second.size() && first[at] == second[at]) ++at;
      const size_t line_start = first.rfind('\n', at == 0 ? 0 : at - 1);
      const size_t from = line_start == std::string::npos ? 0 : line_start + 1;
      std::fprintf(stderr, "%s: the two traces differ at byte %zu:\n  first:  %s\n  second: %s\n",
                   f.c_str(), at, first.substr(from, 100).c_str(),
                   second.substr(from, 100).c_str());
    }
  }
  std::printf("determinism: %zu input(s) traced twice (%zu trace bytes each pass), %d mismatch(es)\n",
              files.size(), bytes, mismatches);
  return mismatches == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string_view first = argv[1];
  if (first == "--determinism") return argc < 3 ? Usage() : Determinism(argc - 2, argv + 2);
  if (first == "--json") return argc < 3 ? Usage() : Replay(argc - 2, argv + 2, true);
  if (!first.empty() && first[0] == '-') return Usage();
  return Replay(argc - 1, argv + 1, false);
}
