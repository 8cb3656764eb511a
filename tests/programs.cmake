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

# queue examples. producer_consumer checks its own result (exit status). dirlist must print
# exactly what `find DIR -type f` prints (as a sorted set) on a tree the test builds: nested
# and empty directories, a deep chain, a wide directory, names with spaces, symbolic links
# (not followed, not listed), a FIFO (not a regular file) - plus the repo's own src/ and tests/.
if(TARGET producer_consumer)
  add_test(NAME example_producer_consumer COMMAND producer_consumer 200000 4)
  set_tests_properties(example_producer_consumer PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "200000 items by 4 consumers")
endif()
if(TARGET dirlist)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/dirlist_test.sh [=[
set -eu
prog=$1; shift
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/a/b/c" "$tree/empty" "$tree/with space/x" "$tree/wide"
d="$tree/deep"; for i in $(seq 1 40); do d="$d/d$i"; done; mkdir -p "$d"; : > "$d/leaf"
for i in $(seq 1 500); do : > "$tree/wide/f$i"; done
: > "$tree/top"; : > "$tree/a/one"; : > "$tree/a/b/two"; : > "$tree/a/b/c/three"
: > "$tree/with space/x/file name"
ln -s ../a "$tree/wide/link_to_dir"; ln -s ../top "$tree/a/link_to_file"; mkfifo "$tree/a/fifo"
for workers in 1 3 8; do
  "$prog" "$workers" "$tree" "$@" | LC_ALL=C sort > "$tree.got"
  find "$tree" "$@" -type f | LC_ALL=C sort > "$tree.want"
  cmp "$tree.got" "$tree.want" || { diff "$tree.got" "$tree.want" | head; rm -f "$tree.got" "$tree.want"; exit 1; }
done
echo "dirlist matches find: $(wc -l < "$tree.want") files"
rm -f "$tree.got" "$tree.want"
]=])
  add_test(NAME example_dirlist
    COMMAND sh ${CMAKE_CURRENT_BINARY_DIR}/dirlist_test.sh $<TARGET_FILE:dirlist>
            ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  set_tests_properties(example_dirlist PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "dirlist matches find")
endif()

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

# Seed 002's printer thread: 99 lines wrapped to 40 columns; every row fits, no word is lost
# (the numbers 1..i-1 for i = 1..99 are 4851 words), and the queue's close ends the printer.
if(TARGET printer)
  add_test(NAME example_printer
    COMMAND sh -c "$<TARGET_FILE:printer> --width 40 99 | awk 'length > 40 { bad = 1 } { words += NF } END { print \"rows ok:\", !bad, \"words:\", words }'")
  set_tests_properties(example_printer PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "rows ok: 1 words: 4851")
endif()

# Seed 004's range sum: serial, hand-split threads and parallel_reduce give the same sum.
if(TARGET rangesum)
  add_test(NAME example_rangesum COMMAND rangesum 20000000)
  set_tests_properties(example_rangesum PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "all three sums agree")
endif()

# Seed 002's echo server on a worker pool: 32 concurrent clients, every byte checked, then a
# real SIGINT with one idle client connected: the server stops cleanly and exits 0.
if(TARGET echo_server AND TARGET echo_load)
  add_test(NAME example_echo_server
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/echo-run $<TARGET_FILE:echo_server>
            $<TARGET_FILE:echo_load>)
  set_tests_properties(example_echo_server PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "32 clients, [0-9]+ bytes echoed, every byte correct.*echo server stopped: 33 clients served.*shutdown success.*exit status: 0")
endif()

# Seed 004's first of several servers: the fastest answers, the other queries are cancelled.
if(TARGET first_answer)
  add_test(NAME example_first_answer COMMAND first_answer 400 20 200)
  set_tests_properties(example_first_answer PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "first: answer from server 2 after 20 ms.*cancelled the other 2 queries")
endif()

# The shared library loads with dlopen and runs a task (its initial-exec thread-locals must fit
# dlopen's static-TLS reserve: tests/programs/dlopen_check.c).
add_executable(dlopen_check ${CMAKE_CURRENT_SOURCE_DIR}/programs/dlopen_check.c)
target_include_directories(dlopen_check PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(dlopen_check PRIVATE ${CMAKE_DL_LIBS})
add_dependencies(dlopen_check weft_shared)
add_test(NAME shared_library_dlopen COMMAND dlopen_check $<TARGET_FILE:weft_shared>)
set_tests_properties(shared_library_dlopen PROPERTIES TIMEOUT 60
  PASS_REGULAR_EXPRESSION "loaded and ran a task")

# process examples (seed 004): ten processes each greeting, all joined; the range sum over
# processes agrees with the serial and thread sums.
if(TARGET hello_processes)
  add_test(NAME example_hello_processes COMMAND hello_processes 10)
  set_tests_properties(example_hello_processes PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "hello bob-10 from process.*10 processes joined, 0 failed|10 processes joined, 0 failed")
  add_test(NAME example_rangesum_processes COMMAND rangesum_processes 20000000)
  set_tests_properties(example_rangesum_processes PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "processes .*speed-up.*all three agree")
endif()
