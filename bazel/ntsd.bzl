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

    corpus may be a file, a folder or a filegroup of files. libFuzzer writes new
    inputs into a corpus folder it is given, and the runfiles are read-only in
    the test sandbox, so under libFuzzer the corpus goes in as -seed_inputs
    (a generated comma-separated list of its files) and nothing is written.
    """
    seed_args = []
    if corpus:
        native.genrule(
            name = name + "_seed_list",
            srcs = [corpus],
            outs = [name + "_seed_list.txt"],
            cmd = "for f in $(rootpaths %s); do " % corpus +
                  "if [ -d $$f ]; then find $$f -type f | sort; else echo $$f; fi; " +
                  "done | paste -s -d, - | tr -d '\\n' > $@",
            testonly = True,
        )
        seed_args = ["-seed_inputs=@$(rootpath :%s_seed_list)" % name]
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
        args = select({
            "//bazel:libfuzzer": seed_args + ["-max_total_time=20"],
            "//conditions:default": ["$(locations %s)" % corpus] if corpus else [],
        }),
        data = ([corpus, ":%s_seed_list" % name] if corpus else []),
        **kwargs
    )
