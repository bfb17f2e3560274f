"""Project macros: every C++ rule goes through these so flags are set once."""

NTSD_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-missing-field-initializers",
]

def _copts(copts):
    return NTSD_COPTS + (copts or [])

def ntsd_cc_library(name, copts = None, **kwargs):
    native.cc_library(name = name, copts = _copts(copts), **kwargs)

def ntsd_cc_binary(name, copts = None, deps = None, malloc = None, **kwargs):
    """A binary; jemalloc is the allocator unless a sanitizer brings its own."""
    native.cc_binary(
        name = name,
        copts = _copts(copts),
        deps = (deps or []) + select({
            "//bazel:sanitized": [],
            "//bazel:sanitized_ubsan": ["//third_party:jemalloc"],
            "//bazel:sanitized_tsan": [],
            "//conditions:default": ["//third_party:jemalloc"],
        }),
        **kwargs
    )

def ntsd_cc_test(name, copts = None, deps = None, **kwargs):
    """A GoogleTest unit test (gtest_main supplies main)."""
    native.cc_test(
        name = name,
        copts = _copts(copts),
        deps = (deps or []) + ["//third_party:gtest_main"],
        **kwargs
    )

def ntsd_cc_fuzz_test(name, srcs, deps = None, corpus = None, copts = None, **kwargs):
    """A libFuzzer target (LLVMFuzzerTestOneInput).

    Under --config=fuzz (clang) it links libFuzzer and `bazel run` fuzzes.
    In every other build it links tests/fuzz/standalone_driver.cc and runs as a
    test: the corpus files plus a bounded number of random and mutated inputs.
    """
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = _copts(copts),
        deps = (deps or []) + select({
            "//bazel:libfuzzer": [],
            "//conditions:default": ["//tests/fuzz:standalone_driver"],
        }),
        linkopts = select({
            "//bazel:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        # Under libFuzzer a test run is a bounded fuzzing session: 20 s per target.
        args = (["$(location %s)" % corpus] if corpus else []) + select({
            "//bazel:libfuzzer": ["-max_total_time=20"],
            "//conditions:default": [],
        }),
        data = [corpus] if corpus else [],
        **kwargs
    )
