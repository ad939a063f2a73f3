// fuzzers/tools/replay_main.cc: the main of a fuzz target outside the `fuzz` preset.
//
// Runs LLVMFuzzerTestOneInput on every file named on the command line and on
// every regular file under every directory named (fuzzers/program/input_files.h: sorted,
// recursive, skipping the notes beside regression inputs), then prints how many
// inputs ran. An input that fails aborts the process (the fuzz targets abort on
// any violation), so a non-zero exit means a crash; a missing path is an error
// (exit 2). With no arguments it prints usage and exits 2.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "fuzzers/program/input_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n  replays each input once\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  if (!nf::fuzz::CollectInputs(argc - 1, argv + 1, &files)) return 2;
  std::vector<uint8_t> data;
  for (const auto& f : files) {
    if (!nf::fuzz::ReadFile(f, &data)) {
      std::fprintf(stderr, "%s: cannot read\n", f.c_str());
      return 2;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", f.c_str(), data.size());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("replayed %zu input(s), no crash\n", files.size());
  return 0;
}
