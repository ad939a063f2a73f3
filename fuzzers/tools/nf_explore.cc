// fuzzers/tools/nf_explore.cc: `./nf explore`: one op program under every
// schedule with at most K preemptions (sync/explore.h), through the concurrent
// fuzzer's checks (fuzzers/executors/concurrent.h). Built in the deterministic
// flavour beside nf_ctrace, once per target and variant (nf_explore,
// nf_explore_kernel, nf_explore_kernel_contract, ..._fixed, ..._6_12, and the
// mutant twins nf_explore_mut_<m>).
//
//   nf_explore [--preemptions K] [--max-schedules N] [--reduction] [--weak]
//              [--out PATH] [--] FILE
//
// --weak: the scheduler's weak-memory mode (sync/weak_memory.h): relaxed
// marked stores are buffered, and the explorer enumerates the flush choices
// with the threads (each early flush counts as a preemption). Not with
// --reduction (which does not see the buffers). A failing input found with it
// replays with the mode on: NF_WEAK_MEMORY=1 in the environment of ./nf replay
// or the fuzz target.
//
// --reduction: prune by happens-before state caching (sync/explore.h: sound
// only where every shared access goes through the seam); default: plain
// enumeration of every schedule within the bound.
//
// FILE: input bytes, or a text program if it ends in .nfp; its own schedule
// bytes are replaced by the explorer's. Prints the schedules explored, the
// distinct terminal states, the time and the verdict. On a failure it writes
// the failing schedule as an input file, PATH (default: FILE's name with
// `.explore-fail` appended, in the current directory), the program with the
// schedule bytes that replay it (strategy direct), and its text beside it
// (PATH.nfp); then it runs PATH again and checks that it fails the same way.
// A progress line goes to stderr every 10,000 schedules. Under ASan a report
// that ends the process inside a run (a use after free, a wild access) writes
// that run's schedule as the failing input first (the death callback); it is
// not replayed then: replay it with the fuzz target of the same build.
//
// Exit status: 0 every schedule within the bound passed; 1 a failure found,
// the bound of schedules reached before the end (not a pass), a run that did
// not replay, or a write error; 2 bad usage, a missing or unreadable input,
// bad or empty text.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "fuzzers/executors/concurrent.h"
#include "fuzzers/program/codec.h"
#include "fuzzers/program/input_files.h"
#include "fuzzers/program/program_text.h"
#include "sync/explore.h"
#include "sync/scheduler.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NF_EXPLORE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NF_EXPLORE_ASAN 1
#endif
#if defined(NF_EXPLORE_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace {

using nf::fuzz::Program;
using Verdict = nf::sched::ExploreResult::Verdict;

int Usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "nf_explore: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: nf_explore [--preemptions K] [--max-schedules N] [--reduction] "
               "[--weak] [--out PATH] FILE\n");
  return 2;
}

bool WriteFile(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  return static_cast<bool>(out);
}

// The first line of a failure (the report's headline).
std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// Writes `p` as an input file at `path` and its text at path.nfp.
bool WriteInput(const Program& p, const std::string& path, size_t* size) {
  const std::vector<uint8_t> bytes = nf::fuzz::Encode(p);
  const std::string text = nf::fuzz::Print(p);
  *size = bytes.size();
  return WriteFile(path, bytes.data(), bytes.size()) &&
         WriteFile(path + ".nfp", text.data(), text.size());
}

// The run in flight, for a sanitizer report that ends the process inside it:
// its schedule is written as the failing input.
const Program* g_in_flight = nullptr;
const std::string* g_out_path = nullptr;
uint64_t g_run_number = 0;

#if defined(NF_EXPLORE_ASAN)
void WriteInFlightOnDeath() {
  if (g_in_flight == nullptr || g_out_path == nullptr) return;
  size_t size = 0;
  const bool written = WriteInput(*g_in_flight, *g_out_path, &size);
  std::printf("FAILED on schedule %llu: a sanitizer report ended the process (above)\n",
              static_cast<unsigned long long>(g_run_number));
  if (written) {
    std::printf("failing input: %s (%zu bytes; schedule: %s), its text %s.nfp; not replayed "
                "here (the sanitizer ends the process)\n",
                g_out_path->c_str(), size,
                nf::sched::ScheduleInput::Decode(g_in_flight->schedule).DebugString().c_str(),
                g_out_path->c_str());
  } else {
    std::printf("error: cannot write %s\n", g_out_path->c_str());
  }
  std::fflush(stdout);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  nf::sched::ExploreOptions options;
  std::string file, out_path;
  bool flags_done = false;
  bool weak = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (flags_done || a == "--" || a.size() < 2 || a[0] != '-') {
      if (!flags_done && a == "--") {
        flags_done = true;
      } else if (file.empty()) {
        file = argv[i];
      } else {
        return Usage("takes one FILE");
      }
      continue;
    }
    auto value = [&](uint64_t max, uint64_t* v) {
      if (i + 1 >= argc) return false;
      const char* text = argv[++i];
      return absl::SimpleAtoi(text, v) && *v <= max;
    };
    uint64_t v = 0;
    if (a == "--preemptions") {
      if (!value(64, &v)) return Usage("--preemptions needs a number from 0 to 64");
      options.preemptions = static_cast<int>(v);
    } else if (a == "--max-schedules") {
      if (!value(uint64_t{1} << 40, &v) || v == 0) {
        return Usage("--max-schedules needs a positive number");
      }
      options.max_schedules = v;
    } else if (a == "--reduction") {
      options.reduction = true;
    } else if (a == "--no-reduction") {
      options.reduction = false;
    } else if (a == "--weak") {
      weak = true;
    } else if (a == "--out") {
      if (i + 1 >= argc) return Usage("--out needs a path");
      out_path = argv[++i];
    } else {
      return Usage("unknown flag '" + nf::fuzz::EscapeForMessage(a) + "'");
    }
  }
  if (file.empty()) return Usage("needs a FILE");
  if (weak && options.reduction) {
    return Usage("--weak and --reduction do not go together (the reduction does not see the "
                 "store buffers)");
  }
  // Before any scheduler is made (the executor's is made on first use).
  if (weak) nf::sched::SetWeakMemoryDefault(true);
  absl::StatusOr<Program> loaded = nf::fuzz::LoadProgramFile(file);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  const Program program = *std::move(loaded);
  if (out_path.empty()) {
    std::string base = std::filesystem::path(file).filename().string();
    if (nf::fuzz::IsTextProgram(base)) base.resize(base.size() - 4);
    out_path = base + ".explore-fail";
  }

  std::printf("explore %s: %zu thread(s), up to %d preemption(s), reduction %s, at most %llu "
              "schedules%s\n",
              file.c_str(), program.threads.size(), options.preemptions,
              options.reduction ? "on (happens-before state caching)" : "off (plain enumeration)",
              static_cast<unsigned long long>(options.max_schedules),
              nf::sched::WeakMemoryDefault() ? ", weak memory on (store buffers)" : "");
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  options.progress = [&](const nf::sched::ExploreStats& s) {
    std::fprintf(stderr, "explore: %llu schedules, %llu terminal states, %.1f s\n",
                 static_cast<unsigned long long>(s.schedules),
                 static_cast<unsigned long long>(s.terminal_states), seconds());
  };
  Program run_program = program;
  g_in_flight = &run_program;
  g_out_path = &out_path;
#if defined(NF_EXPLORE_ASAN)
  __sanitizer_set_death_callback(&WriteInFlightOnDeath);
#endif
  const nf::sched::ExploreResult r = nf::sched::Explore(
      [&](absl::Span<const uint8_t> schedule) {
        run_program.schedule.assign(schedule.begin(), schedule.end());
        ++g_run_number;
        return nf::fuzz::RunConcurrentQuiet(run_program);
      },
      options);
  g_in_flight = nullptr;
  const double elapsed = seconds();
  std::printf("schedules explored: %llu (choice points pruned by the reduction: %llu; most "
              "choice points in one run: %llu)\n"
              "distinct terminal states: %llu\n"
              "time: %.2f s\n",
              static_cast<unsigned long long>(r.stats.schedules),
              static_cast<unsigned long long>(r.stats.pruned),
              static_cast<unsigned long long>(r.stats.max_choice_points),
              static_cast<unsigned long long>(r.stats.terminal_states), elapsed);
  switch (r.verdict) {
    case Verdict::kAllPassed:
      std::printf("all passed up to %d preemption(s)\n", options.preemptions);
      return 0;
    case Verdict::kBoundReached:
      std::printf("bound reached after %llu schedules, no failure (not every schedule within %d "
                  "preemption(s) was run: raise --max-schedules)\n",
                  static_cast<unsigned long long>(r.stats.schedules), options.preemptions);
      return 1;
    case Verdict::kError:
      std::printf("error: %s (the program does not run the same way twice)\n", r.error.c_str());
      return 1;
    case Verdict::kFailed:
      break;
  }
  std::printf("FAILED on schedule %llu (%d preemption(s)): %s\n",
              static_cast<unsigned long long>(r.stats.schedules), r.failing_preemptions,
              FirstLine(r.failure).c_str());
  if (r.failing_schedule.size() > nf::fuzz::kMaxScheduleBytes) {
    std::printf("error: the failing schedule needs %zu bytes, more than the %zu an input holds\n",
                r.failing_schedule.size(), nf::fuzz::kMaxScheduleBytes);
    return 1;
  }
  Program failing = program;
  failing.schedule = r.failing_schedule;
  size_t size = 0;
  if (!WriteInput(failing, out_path, &size)) {
    std::printf("error: cannot write %s\n", out_path.c_str());
    return 1;
  }
  // The file, read back as any replay reads it, must fail the same way.
  absl::StatusOr<Program> back = nf::fuzz::LoadProgramFile(out_path);
  const std::string again = back.ok() ? nf::fuzz::RunConcurrentQuiet(*back) : "(unreadable)";
  if (again != r.failure) {
    std::printf("error: the written input %s does not fail the same way: %s\n", out_path.c_str(),
                again.empty() ? "it passes" : FirstLine(again).c_str());
    return 1;
  }
  std::printf("failing input: %s (%zu bytes; schedule: %s), its text %s.nfp; replayed: fails "
              "the same way\n",
              out_path.c_str(), size,
              nf::sched::ScheduleInput::Decode(failing.schedule).DebugString().c_str(),
              out_path.c_str());
  return 1;
}
