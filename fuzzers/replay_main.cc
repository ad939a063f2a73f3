// fuzzers/replay_main.cc: the main of a fuzz target outside the `fuzz` preset.
//
// Runs LLVMFuzzerTestOneInput on every file named on the command line and on
// every regular file under every directory named (recursively, in sorted path
// order, so runs are deterministic; files named EXPECT, *.nfp and *.md, which sit
// beside regression inputs in corpus/regress/, are not inputs and are skipped),
// then prints how many inputs ran. An input
// that fails aborts the process (the fuzz targets abort on any violation), so a
// non-zero exit means a crash; a missing path is an error (exit 2). With no
// arguments it prints usage and exits 2.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool ReadFile(const std::filesystem::path& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// Text that sits beside inputs (corpus/regress/<fuzzer>/<mutant>/: the EXPECT
// regex and each input's decoded .nfp).
bool IsNotAnInput(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  auto ends_with = [&name](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name == "EXPECT" || ends_with(".nfp") || ends_with(".md");
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n  replays each input once\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> found;
      for (auto it = std::filesystem::recursive_directory_iterator(arg, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && !IsNotAnInput(it->path())) found.push_back(it->path());
      }
      if (ec) {
        std::fprintf(stderr, "%s: %s\n", argv[i], ec.message().c_str());
        return 2;
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  std::vector<uint8_t> data;
  for (const auto& f : files) {
    if (!ReadFile(f, &data)) {
      std::fprintf(stderr, "%s: cannot read\n", f.c_str());
      return 2;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", f.c_str(), data.size());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("replayed %zu input(s), no crash\n", files.size());
  return 0;
}
