// Runs a libFuzzer target without libFuzzer: every file named on the command
// line (or inside a folder named there), then random and mutated inputs from a
// fixed seed, bounded in count so the test always ends. With --config=fuzz the
// real libFuzzer main is linked instead of this file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run_one(const std::vector<uint8_t>& input) {
  // Copy into an exact-size heap buffer so ASan sees reads past the end.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[input.size() + 1]);
  std::copy(input.begin(), input.end(), exact.get());
  LLVMFuzzerTestOneInput(exact.get(), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<uint8_t>> corpus;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) corpus.push_back(read_file(entry.path()));
      }
    } else if (std::filesystem::is_regular_file(arg)) {
      corpus.push_back(read_file(arg));
    } else {
      std::fprintf(stderr, "fuzz driver: %s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  for (const auto& input : corpus) run_one(input);

  const char* iterations_env = std::getenv("NTSD_FUZZ_ITERATIONS");
  const long iterations = iterations_env ? std::atol(iterations_env) : 20000;
  std::mt19937_64 rng(0x6e747364);  // fixed seed: failures reproduce
  std::vector<uint8_t> input;
  for (long i = 0; i < iterations; ++i) {
    if (!corpus.empty() && (i & 1)) {
      input = corpus[rng() % corpus.size()];
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips && !input.empty(); ++f) {
        switch (rng() % 4) {
          case 0: input[rng() % input.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
          case 1: input[rng() % input.size()] = static_cast<uint8_t>(rng()); break;
          case 2: input.resize(rng() % (input.size() + 1)); break;
          default: input.push_back(static_cast<uint8_t>(rng())); break;
        }
      }
    } else {
      input.resize(rng() % 1500);
      for (auto& byte : input) byte = static_cast<uint8_t>(rng());
    }
    run_one(input);
  }
  std::printf("fuzz driver: %zu corpus inputs, %ld generated inputs, no failure\n", corpus.size(),
              iterations);
  return 0;
}
