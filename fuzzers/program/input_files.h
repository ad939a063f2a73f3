// fuzzers/program/input_files.h: the input files of a replay command line, shared
// by the fuzz targets' replay main (replay_main.cc), nf_tool and nf_ctrace.
//
// Every file named, and every regular file under every directory named
// (recursively, in sorted path order, so runs are deterministic). Files that sit
// beside regression inputs in corpus/regress/ and are not inputs are skipped: the
// EXPECT regex (and EXPECT.<suffix>) and *.md notes, and a `X.nfp` beside an input `X` (its decoded
// text). A `.nfp` with no such twin is a text program: the tools that read text
// (nf_tool, nf_ctrace: Inputs::kBytesAndText) take it, the fuzz targets' replay
// main (bytes only) skips it. A directory with no input under it is an error,
// so that a replay of a folder never passes having run nothing. Header-only: the
// replay main is a single source added to each fuzz target.
#ifndef NF_FUZZERS_INPUT_FILES_H_
#define NF_FUZZERS_INPUT_FILES_H_

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

namespace nf::fuzz {

// Which files under a directory a tool can run.
enum class Inputs {
  kBytes,          // input bytes only (the fuzz targets)
  kBytesAndText,   // and text programs, *.nfp (nf_tool, nf_ctrace)
};

inline bool EndsWith(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline bool IsTextProgram(const std::filesystem::path& p) {
  return EndsWith(p.filename().string(), ".nfp");
}

// A file under a directory that is not an input: the notes beside regression
// inputs, a `.nfp` that is the decoded text of the input beside it, and any
// `.nfp` where only bytes are wanted.
inline bool IsNotAnInput(const std::filesystem::path& p, Inputs inputs) {
  const std::string name = p.filename().string();
  // EXPECT, and EXPECT.<version or variant> (tools/kernel_regress_check.sh).
  if (name == "EXPECT" || name.rfind("EXPECT.", 0) == 0 || EndsWith(name, ".md")) return true;
  if (!IsTextProgram(p)) return false;
  if (inputs == Inputs::kBytes) return true;
  std::error_code ec;
  std::filesystem::path twin = p;
  twin.replace_extension();
  return std::filesystem::is_regular_file(twin, ec);
}

// Appends the inputs of args[0..n) to *files. On a missing path, an unreadable
// directory or a directory with no input under it prints the reason to stderr
// and returns false.
inline bool CollectInputs(int n, char** args, std::vector<std::filesystem::path>* files,
                          Inputs inputs = Inputs::kBytes) {
  for (int i = 0; i < n; ++i) {
    const std::filesystem::path arg(args[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> found;
      for (auto it = std::filesystem::recursive_directory_iterator(arg, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && !IsNotAnInput(it->path(), inputs)) {
          found.push_back(it->path());
        }
      }
      if (ec) {
        std::fprintf(stderr, "%s: %s\n", args[i], ec.message().c_str());
        return false;
      }
      if (found.empty()) {
        std::fprintf(stderr, "%s: no input files under this directory%s\n", args[i],
                     inputs == Inputs::kBytes ? " (text programs, *.nfp, are not read here)"
                                              : "");
        return false;
      }
      std::sort(found.begin(), found.end());
      files->insert(files->end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      files->push_back(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", args[i]);
      return false;
    }
  }
  return true;
}

// The bytes of a regular file (any container of char-sized elements). False for
// a directory, a missing file or a read error; never throws.
template <typename Container>
bool ReadFile(const std::filesystem::path& path, Container* out) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  try {
    out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    return false;
  }
  return !in.bad();
}

}  // namespace nf::fuzz

#endif  // NF_FUZZERS_INPUT_FILES_H_
