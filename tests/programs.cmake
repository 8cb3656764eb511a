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

# Every ```c block in README.md and docs/ compiles (and links, when it has a main).
file(GLOB_RECURSE WEFT_DOC_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
if(WEFT_SANITIZE STREQUAL "thread")
  set(WEFT_SNIPPET_FLAGS "-fsanitize=thread")
elseif(WEFT_SANITIZE STREQUAL "address")
  set(WEFT_SNIPPET_FLAGS "-fsanitize=address,undefined")
endif()
add_test(NAME docs_snippets_compile
  COMMAND ${CMAKE_COMMAND} -E env "SNIPPET_FLAGS=${WEFT_SNIPPET_FLAGS}"
          ${PROJECT_SOURCE_DIR}/scripts/check-snippets ${CMAKE_C_COMPILER}
          ${PROJECT_SOURCE_DIR}/include $<TARGET_FILE:weft_static>
          ${PROJECT_SOURCE_DIR}/README.md ${WEFT_DOC_PAGES})
set_tests_properties(docs_snippets_compile PROPERTIES TIMEOUT 120)

# Seed 002's StoppableThread: stop() ends a 300 ms sleep at once.
if(TARGET stoppable)
  add_test(NAME example_stoppable COMMAND stoppable 400)
  set_tests_properties(example_stoppable PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "worker: stopped after 2 rounds.*main: worker joined [0-9.]+ ms after stop\\(\\): success")
endif()

# Seed 000's radio: three named threads, one real SIGINT, everyone stops cleanly, exit 0.
if(TARGET radio)
  add_test(NAME example_radio_ctrl_c
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/sigint-run "press Ctrl-C" 1 $<TARGET_FILE:radio>)
  set_tests_properties(example_radio_ctrl_c PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "stopped cleanly.*stopped cleanly.*stopped cleanly.*main: all threads stopped \\(SIGINT received\\).*exit status: 0")
endif()
