# Tests that run whole programs: the examples, and checks on the tree. Blocks appended below.

if(TARGET workers)
  # 9592 primes below 100000; the deliberately broken slice reports its message through join.
  add_test(NAME example_workers COMMAND workers 3 100000)
  set_tests_properties(example_workers PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "primes-3 failed: WEFT_EINVAL: empty slice \\[10, 5\\).*9592 primes below 100000, 3 threads")
endif()

# Every exported function is declared with a documenting comment in its header.
add_test(NAME api_documented
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-api-docs $<TARGET_FILE:weft_shared>
          ${PROJECT_SOURCE_DIR}/include)
set_tests_properties(api_documented PROPERTIES TIMEOUT 60)
