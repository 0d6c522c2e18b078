// The translation unit that compiles the tests' precompiled header (test/CMakeLists.txt).
