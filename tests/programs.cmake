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

# src/ is layered: core/ stands on os/ alone, and no include circle joins two modules.
add_test(NAME layers COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-layers ${PROJECT_SOURCE_DIR}/src)
set_tests_properties(layers PROPERTIES TIMEOUT 60)

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

# Seed 002's StoppableThread: stop() ends a sleep at once. The worker sleeps 60 s a round and is
# stopped at 400 ms, in its first sleep however slow the machine; a join that waited for the
# sleep would time out at 30 s instead of giving success.
if(TARGET stoppable)
  add_test(NAME example_stoppable COMMAND stoppable 400 60000)
  set_tests_properties(example_stoppable PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "worker: stopped after 1 round\n.*main: worker joined [0-9.]+ ms after stop\\(\\): success")
endif()

# Seed 000's radio: three named threads, one real SIGINT, everyone stops cleanly, exit 0.
if(TARGET radio)
  add_test(NAME example_radio_ctrl_c
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/sigint-run "press Ctrl-C" 1 $<TARGET_FILE:radio>)
  set_tests_properties(example_radio_ctrl_c PROPERTIES TIMEOUT 120
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

# Seed 002's echo server (issue 22). echo-run: 32 clients, every byte checked, then a real
# SIGINT with an idle client connected: the server closes it and exits 0. echo-crowd: 1,000
# connections to 4 workers, 900 of them idle holders that connect first: all 100 active clients
# are served and the holders stay connected. echo-emfile: under `ulimit -n 64`, with clients
# waiting that it has no descriptor for, the server does not spin (CPU time over a 2 s window)
# and serves new clients once descriptors are free.
if(TARGET echo_server AND TARGET echo_load)
  set(WEFT_ECHO_ARGS $<TARGET_FILE:echo_server> $<TARGET_FILE:echo_load>)
  add_test(NAME example_echo_server
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/echo-run ${WEFT_ECHO_ARGS})
  set_tests_properties(example_echo_server PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "32 of 32 connections progressed.*every byte correct.*echo server stopped: 33 clients served, [0-9]+ bytes echoed, 0 clients refused, 1 closed at shutdown, pool shutdown success.*idle client after the server stopped: closed.*exit status: 0")
  add_test(NAME example_echo_server_idle_holders
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/echo-crowd ${WEFT_ECHO_ARGS})
  set_tests_properties(example_echo_server_idle_holders PROPERTIES TIMEOUT 180
    PASS_REGULAR_EXPRESSION "100 of 100 connections progressed.*idle holders still connected: 900 of 900.*every byte correct.*echo server stopped: 1000 clients served.*load status: 0, server exit status: 0")
  add_test(NAME example_echo_server_emfile
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/echo-emfile ${WEFT_ECHO_ARGS})
  set_tests_properties(example_echo_server_emfile PROPERTIES TIMEOUT 180
    PASS_REGULAR_EXPRESSION "echo_server: out of file descriptors: closed a new client.*no spin.*load status after: 0, server exit status: 0")
endif()

# Seed 004's first of several URLs (issue 22): the self-contained mode (in-process servers),
# and first-answer-run against real HTTP servers in python: the fastest wins and the rest are
# cancelled, ties exit 0, nobody answering is status 3 at the deadline, bad arguments status 2.
if(TARGET first_answer)
  # The losers answer after a minute: the 20 ms server wins however slow the machine.
  add_test(NAME example_first_answer COMMAND first_answer --local 60000 20 60000)
  set_tests_properties(example_first_answer PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "answer from server 2 after 20 ms.*cancelled 2 other fetch")
  find_program(WEFT_PYTHON3 python3)
  if(WEFT_PYTHON3)
    add_test(NAME example_first_answer_http
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/first-answer-run $<TARGET_FILE:first_answer>)
    set_tests_properties(example_first_answer_http PROPERTIES TIMEOUT 120
      PASS_REGULAR_EXPRESSION "all first_answer checks passed")
  else()
    message(STATUS "example_first_answer_http skipped: no python3")
  endif()
endif()

# The shared library loads with dlopen and runs a task (its initial-exec thread-locals must fit
# dlopen's static-TLS reserve: tests/programs/dlopen_check.c).
add_executable(dlopen_check ${CMAKE_CURRENT_SOURCE_DIR}/programs/dlopen_check.c)
target_include_directories(dlopen_check PRIVATE ${PROJECT_SOURCE_DIR}/include
                           ${WEFT_GENERATED_INCLUDE})
target_link_libraries(dlopen_check PRIVATE ${CMAKE_DL_LIBS})
add_dependencies(dlopen_check weft_shared)
add_test(NAME shared_library_dlopen COMMAND dlopen_check $<TARGET_FILE:weft_shared>)
set_tests_properties(shared_library_dlopen PROPERTIES TIMEOUT 60
  PASS_REGULAR_EXPRESSION "loaded and ran a task")

# Every public header compiles alone as C99/C11/C17 and C++11/14/17; the time macros keep
# integers exact and round fractions (scripts/check-headers).
if(CMAKE_CXX_COMPILER_LOADED) # without a C++ compiler (a C-only build) it is skipped
add_test(NAME headers_compile
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check-headers ${CMAKE_C_COMPILER} ${CMAKE_CXX_COMPILER}
          ${PROJECT_SOURCE_DIR}/include)
set_tests_properties(headers_compile PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "all compile")
endif()

# dirlist against find where the tree above does not reach: a chain of 2,000 directories (paths
# far past PATH_MAX), errors (find's messages and its exit status 1: a missing argument, a
# directory that cannot be opened, one that cannot be entered), and files, symbolic links and a
# FIFO named as arguments (find -P: a link is not followed, "link/" is).
if(TARGET dirlist)
  foreach(case deep errors arguments)
    add_test(NAME example_dirlist_${case}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/dirlist-vs-find ${case} $<TARGET_FILE:dirlist>)
    set_tests_properties(example_dirlist_${case} PROPERTIES TIMEOUT 300
      PASS_REGULAR_EXPRESSION "dirlist-vs-find ${case}: ok")
  endforeach()
endif()

# printer under Ctrl-C: 10,000 lines (300 MB if all were made), SIGINT once the first output
# arrived. Both threads stop: status 130 within 60 s (a bound for a slow machine), peak RSS under
# 64 MB (a queue of a few lines, not every line main could make).
if(TARGET printer)
  add_test(NAME example_printer_ctrl_c
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/printer-ctrl-c 65536 60 10000
            $<TARGET_FILE:printer>)
  set_tests_properties(example_printer_ctrl_c PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "printer-ctrl-c: ok")
endif()

# weft's service threads end at exit: a program that uses the signal thread, the default pool
# (tasks still queued when main returns) and a pending timer runs every task.
add_executable(services_exit ${CMAKE_CURRENT_SOURCE_DIR}/programs/services_exit.c)
target_link_libraries(services_exit PRIVATE weft_static)
add_test(NAME services_exit COMMAND services_exit)
set_tests_properties(services_exit PROPERTIES TIMEOUT 60 PASS_REGULAR_EXPRESSION "ran 100 of 100 tasks")

# valgrind: every example frees what it allocated and ends every thread, its own and weft's,
# before it exits: `valgrind --leak-check=full --error-exitcode=9` exits as the program does.
# Each test runs the example's own driver with valgrind/NAME (in the build tree) in place of
# the program: a wrapper that execs valgrind on it, so the driver's signals reach the program.
# Plain builds only (valgrind cannot run sanitizer builds), when valgrind is installed.
find_program(WEFT_VALGRIND valgrind)
if(WEFT_VALGRIND AND WEFT_SANITIZE STREQUAL "")
  set(vg ${CMAKE_CURRENT_BINARY_DIR}/valgrind)
  set(support ${CMAKE_CURRENT_SOURCE_DIR}/support)
  foreach(ex workers producer_consumer dirlist stoppable radio printer rangesum echo_server
             echo_load first_answer hello_processes rangesum_processes crash_demo
             rangesum_procpool)
    if(TARGET ${ex})
      file(GENERATE OUTPUT ${vg}/${ex}
        CONTENT "#!/bin/sh\nexec ${WEFT_VALGRIND} --leak-check=full --error-exitcode=9 --suppressions=${support}/valgrind.supp $<TARGET_FILE:${ex}> \"$@\"\n"
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                         WORLD_READ WORLD_EXECUTE)
    endif()
  endforeach()
  # name: the test; then the command. A test without a PASS_REGULAR_EXPRESSION passes on exit 0.
  function(weft_valgrind_test name)
    add_test(NAME valgrind_${name} COMMAND ${ARGN})
    set_tests_properties(valgrind_${name} PROPERTIES TIMEOUT 600)
  endfunction()
  if(TARGET workers)
    weft_valgrind_test(workers ${vg}/workers 3 10000)
  endif()
  if(TARGET producer_consumer)
    weft_valgrind_test(producer_consumer ${vg}/producer_consumer 2000 4)
  endif()
  if(TARGET dirlist)
    weft_valgrind_test(dirlist ${vg}/dirlist 3 ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
    foreach(case deep errors arguments)
      weft_valgrind_test(dirlist_${case} ${support}/dirlist-vs-find ${case} ${vg}/dirlist)
    endforeach()
  endif()
  if(TARGET stoppable)
    weft_valgrind_test(stoppable ${vg}/stoppable 400 60000)
  endif()
  if(TARGET radio)
    weft_valgrind_test(radio ${support}/sigint-run "press Ctrl-C" 1 ${vg}/radio)
    set_tests_properties(valgrind_radio PROPERTIES PASS_REGULAR_EXPRESSION "exit status: 0")
  endif()
  if(TARGET printer)
    weft_valgrind_test(printer ${vg}/printer --width 40 99)
    weft_valgrind_test(printer_ctrl_c ${support}/printer-ctrl-c 0 120 100000 ${vg}/printer)
  endif()
  if(TARGET rangesum)
    weft_valgrind_test(rangesum ${vg}/rangesum 200000)
  endif()
  if(TARGET echo_server AND TARGET echo_load)
    weft_valgrind_test(echo_server ${support}/echo-run ${vg}/echo_server $<TARGET_FILE:echo_load>)
    weft_valgrind_test(echo_load ${support}/echo-run $<TARGET_FILE:echo_server> ${vg}/echo_load)
    set_tests_properties(valgrind_echo_server valgrind_echo_load PROPERTIES
      PASS_REGULAR_EXPRESSION "exit status: 0")
  endif()
  if(TARGET first_answer)
    weft_valgrind_test(first_answer ${vg}/first_answer --local 60000 20 60000)
  endif()
  if(TARGET hello_processes)
    weft_valgrind_test(hello_processes ${vg}/hello_processes 10)
    weft_valgrind_test(rangesum_processes ${vg}/rangesum_processes 2000000)
  endif()
  # weft's own services at exit: a program that uses the signal thread, the default pool (tasks
  # still queued when main returns) and a pending timer (tests/programs/services_exit.c).
  weft_valgrind_test(services_exit ${WEFT_VALGRIND} --leak-check=full --error-exitcode=9
    --suppressions=${support}/valgrind.supp $<TARGET_FILE:services_exit>)
  set_tests_properties(valgrind_services_exit PROPERTIES PASS_REGULAR_EXPRESSION "ran 100 of 100 tasks")
  # valgrind runs a program's threads one at a time, slowly, and takes a whole CPU: alone, it
  # neither starves the spinning race tests that would share the machine nor misses the
  # start-up waits of the scripts above.
  get_property(WEFT_ALL_TESTS DIRECTORY PROPERTY TESTS)
  foreach(t ${WEFT_ALL_TESTS})
    if(t MATCHES "^valgrind_")
      set_tests_properties(${t} PROPERTIES RUN_SERIAL TRUE)
    endif()
  endforeach()
endif()

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

# A user's program built with -fsanitize=thread against the uninstrumented shared libweft:
# weft's happens-before annotations (src/core/annotate.h) leave a correct producer/consumer
# with no report, and a race planted in the program is still reported. Only in a build
# without sanitizers (the library must not be instrumented) and where the compiler has TSan.
if(NOT WEFT_SANITIZE AND TARGET weft_shared)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=thread")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=thread")
  check_c_source_compiles("int main(void) { return 0; }" WEFT_HAVE_TSAN_RUNTIME)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(WEFT_HAVE_TSAN_RUNTIME)
    add_executable(tsan_user ${CMAKE_CURRENT_SOURCE_DIR}/programs/tsan_user.c)
    target_compile_options(tsan_user PRIVATE -fsanitize=thread -g -O1)
    target_link_options(tsan_user PRIVATE -fsanitize=thread)
    target_link_libraries(tsan_user PRIVATE weft_shared)
    add_test(NAME tsan_user_clean COMMAND tsan_user clean)
    set_tests_properties(tsan_user_clean PROPERTIES TIMEOUT 120
      PASS_REGULAR_EXPRESSION "tsan_user: clean run ok" FAIL_REGULAR_EXPRESSION "ThreadSanitizer")
    add_test(NAME tsan_user_race COMMAND tsan_user race)
    set_tests_properties(tsan_user_race PROPERTIES TIMEOUT 120
      PASS_REGULAR_EXPRESSION "WARNING: ThreadSanitizer: data race.*tsan_user.c")
  endif()
endif()

# The spawn method under valgrind (docs/design/process.md, "Under valgrind"): the program is
# executed by the path readlink gives, and the pidfd comes from CLONE_PIDFD.
if(TARGET hello_processes AND WEFT_VALGRIND AND WEFT_SANITIZE STREQUAL "")
  weft_valgrind_test(hello_processes_spawn ${vg}/hello_processes 3 spawn)
  set_tests_properties(valgrind_hello_processes_spawn PROPERTIES RUN_SERIAL TRUE
    PASS_REGULAR_EXPRESSION "3 processes joined, 0 failed")
endif()

# process pool examples (issue 16): the crash demo, each misbehaviour of task 4 fails that task
# alone with what happened, and the pool serves on; seed 004's sum over a process pool.
if(TARGET crash_demo)
  set(want_segv "WEFT_EDIED: worker [0-9] \\(pid [0-9]+\\) was killed by SIGSEGV \\(Segmentation fault\\) while running task 4")
  set(want_exit "WEFT_EDIED: worker [0-9] \\(pid [0-9]+\\) exited with status 3 while running task 4")
  set(want_abort "WEFT_EDIED: worker [0-9] \\(pid [0-9]+\\) was killed by SIGABRT \\(Aborted\\) while running task 4")
  set(want_hang "WEFT_ETIMEDOUT: task 4 timed out after 200 ms; worker [0-9] \\(pid [0-9]+\\) was killed by SIGTERM")
  set(want_oom "WEFT_ENOMEM: out of memory after [0-9]+ MiB")
  foreach(mode segv exit abort hang oom)
    add_test(NAME example_crash_demo_${mode} COMMAND crash_demo ${mode})
    set_tests_properties(example_crash_demo_${mode} PROPERTIES TIMEOUT 60
      PASS_REGULAR_EXPRESSION "task  3: 9\ntask  4: ${want_${mode}}\ntask  5: 25.*task 10: 100\nafterwards: the pool still serves\n9 of 10 succeeded")
  endforeach()
  if(WEFT_SANITIZE STREQUAL "address" OR WEFT_SANITIZE STREQUAL "thread")
    # RLIMIT_AS cannot hold a sanitizer's shadow memory
    set_tests_properties(example_crash_demo_oom PROPERTIES DISABLED TRUE)
  endif()
endif()
if(TARGET rangesum_procpool)
  add_test(NAME example_rangesum_procpool COMMAND rangesum_procpool 20000000 32)
  set_tests_properties(example_rangesum_procpool PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "process pool .*speed-up.*the sums agree")
endif()
if(WEFT_VALGRIND AND WEFT_SANITIZE STREQUAL "" AND TARGET crash_demo AND TARGET rangesum_procpool)
  weft_valgrind_test(crash_demo ${vg}/crash_demo segv)
  weft_valgrind_test(rangesum_procpool ${vg}/rangesum_procpool 2000000 8)
  set_tests_properties(valgrind_crash_demo PROPERTIES RUN_SERIAL TRUE
    PASS_REGULAR_EXPRESSION "9 of 10 succeeded")
  set_tests_properties(valgrind_rangesum_procpool PROPERTIES RUN_SERIAL TRUE
    PASS_REGULAR_EXPRESSION "the sums agree")
endif()

# The pool's and select's happens-before edges, and once's, for the same user TSan build
# (tests/programs/tsan_user.c "future" and "select"); a race between a task and its submitter
# is still reported ("future-race").
if(TARGET tsan_user)
  add_test(NAME tsan_user_future COMMAND tsan_user future)
  set_tests_properties(tsan_user_future PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "tsan_user: future run ok" FAIL_REGULAR_EXPRESSION "ThreadSanitizer")
  add_test(NAME tsan_user_select COMMAND tsan_user select)
  set_tests_properties(tsan_user_select PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "tsan_user: select run ok" FAIL_REGULAR_EXPRESSION "ThreadSanitizer")
  add_test(NAME tsan_user_future_race COMMAND tsan_user future-race)
  set_tests_properties(tsan_user_future_race PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "WARNING: ThreadSanitizer: data race.*tsan_user.c")
endif()

# The default pool is sized to the CPUs the process may use, not the online ones: under
# `taskset -c 0` it has one worker (issue 21; src/os/linux_cpu.c, tests/unit/os_cpu_test.c).
find_program(WEFT_TASKSET taskset)
add_executable(pool_size ${CMAKE_CURRENT_SOURCE_DIR}/programs/pool_size.c)
target_link_libraries(pool_size PRIVATE weft_static)
if(WEFT_TASKSET)
  add_test(NAME pool_size_follows_taskset COMMAND ${WEFT_TASKSET} -c 0 $<TARGET_FILE:pool_size>)
  set_tests_properties(pool_size_follows_taskset PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "^default pool: 1 workers\n$")
endif()

# MPI (issue 21): examples/mpi_rangesum on 1, 2 and 4 ranks (tests/support/mpi-run): the
# reduced and the streamed sums equal the serial sum, every streamed partial sum arrives exactly
# once. Only when MPI was found, and not under the sanitizers (Open MPI is not instrumented:
# its shared-memory transport and its exit would be reported, not weft).
if(TARGET mpi_rangesum AND MPIEXEC_EXECUTABLE AND WEFT_SANITIZE STREQUAL "")
  foreach(np 1 2 4)
    add_test(NAME example_mpi_rangesum_np${np}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/mpi-run ${MPIEXEC_EXECUTABLE}
              $<TARGET_FILE:mpi_rangesum> ${np})
    set_tests_properties(example_mpi_rangesum_np${np} PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
      PASS_REGULAR_EXPRESSION "mpi-run: ${np} ranks ok")
  endforeach()
endif()

# The reference (issue 18): every WEFT_API function has a comment for Doxygen to take
# (scripts/doxify --check), and the filter that feeds Doxygen is idempotent and leaves every
# header compilable (tests/support/doxify-run). `./dev docs` builds the reference itself.
add_test(NAME doxify_check COMMAND ${PROJECT_SOURCE_DIR}/scripts/doxify --check
         ${PROJECT_SOURCE_DIR}/include/weft)
set_tests_properties(doxify_check PROPERTIES TIMEOUT 60)
add_test(NAME doxify_filter COMMAND ${PROJECT_SOURCE_DIR}/tests/support/doxify-run
         ${PROJECT_SOURCE_DIR} ${CMAKE_C_COMPILER})
set_tests_properties(doxify_filter PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "doxify-run: ok")
# issue 18 (packaging). Scripts that compile the headers with -I include/ alone also need the
# generated weft/version_numbers.h: CPATH adds the build tree's generated include directory.
foreach(t headers_compile docs_snippets_compile doxify_filter)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "CPATH=${WEFT_GENERATED_INCLUDE}")
  endif()
endforeach()
# The version macros, weft_version() / weft_version_string() and pkg-config --modversion of
# the build tree's weft.pc agree (and match project(VERSION)).
add_executable(version_check ${CMAKE_CURRENT_SOURCE_DIR}/programs/version_check.c)
target_link_libraries(version_check PRIVATE weft_shared)
if(PKG_CONFIG_EXECUTABLE)
  add_test(NAME version_agrees
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/version-agrees $<TARGET_FILE:version_check>
            ${PKG_CONFIG_EXECUTABLE} ${PROJECT_BINARY_DIR} ${PROJECT_VERSION})
  set_tests_properties(version_agrees PROPERTIES TIMEOUT 60 PASS_REGULAR_EXPRESSION "version-agrees: ok")
endif()
# The SONAME carries the 0.x minor (libweft.so.0.1), read from the built library's dynamic section.
add_test(NAME shared_library_soname
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/soname-check $<TARGET_FILE:weft_shared>
          libweft.so.${WEFT_SOVERSION})
set_tests_properties(shared_library_soname PROPERTIES TIMEOUT 60 PASS_REGULAR_EXPRESSION "soname-check: ok")
# The smoke program CI builds with musl-gcc (scripts/check-packaging musl) runs here with glibc.
add_executable(musl_smoke ${CMAKE_CURRENT_SOURCE_DIR}/programs/musl_smoke.c)
target_link_libraries(musl_smoke PRIVATE weft_static)
target_compile_options(musl_smoke PRIVATE ${WEFT_WARNINGS})
add_test(NAME musl_smoke_glibc COMMAND musl_smoke)
set_tests_properties(musl_smoke_glibc PROPERTIES TIMEOUT 120 PASS_REGULAR_EXPRESSION "musl-smoke: ok")
# The condition, semaphore, latch, barrier and RLock hand-offs for a user's TSan build, as the
# tests above (tsan_user.c "sync"); the same program runs under helgrind and DRD below.
if(TARGET tsan_user)
  add_test(NAME tsan_user_sync COMMAND tsan_user sync)
  set_tests_properties(tsan_user_sync PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "tsan_user: sync run ok" FAIL_REGULAR_EXPRESSION "ThreadSanitizer")
endif()

# helgrind and DRD understand weft (src/core/annotate.h): the examples and a user's program
# (tests/programs/tsan_user.c built plain as vg_user: queue, lock, event, join, pool, futures,
# select, once, condition, semaphore, latch, barrier, RLock) report no error under either tool,
# and a race planted in the program is still reported, with its line. Each test runs the program
# under valgrind/<tool>-NAME, a wrapper like the memcheck ones above (--error-exitcode=9; the
# children of the process examples are valgrind's too, and any error summary above 0 fails the
# test). Only where the library carries the annotations, in a build without sanitizers; small
# sizes: valgrind serializes the threads and is slow (the 34 tests take 30-60 s here).
if(WEFT_VALGRIND AND WEFT_SANITIZE STREQUAL "" AND WEFT_VALGRIND_ANNOTATIONS
   AND WEFT_HAVE_HELGRIND_H AND WEFT_HAVE_DRD_H)
  add_executable(vg_user ${CMAKE_CURRENT_SOURCE_DIR}/programs/tsan_user.c)
  target_link_libraries(vg_user PRIVATE weft_static)
  target_compile_options(vg_user PRIVATE -g)
  set(vgt ${CMAKE_CURRENT_BINARY_DIR}/valgrind)
  set(hb_helgrind "Possible data race during (read|write) of size 8 at 0x[0-9A-F]+ by thread #[0-9]+\n[^\n]*Locks held: none\n[^\n]* at 0x[0-9A-F]+: [a-z_]+ \\(tsan_user.c:[0-9]+\\)")
  set(hb_drd "Conflicting (load|store) by thread [0-9]+ at 0x[0-9a-f]+ size 8\n[^\n]* at 0x[0-9A-F]+: [a-z_]+ \\(tsan_user.c:[0-9]+\\)")
  foreach(tool helgrind drd)
    foreach(ex producer_consumer workers printer stoppable rangesum hello_processes
               rangesum_procpool first_answer dirlist rangesum_processes crash_demo vg_user)
      if(TARGET ${ex})
        file(GENERATE OUTPUT ${vgt}/${tool}-${ex}
          CONTENT "#!/bin/sh\nexec ${WEFT_VALGRIND} --tool=${tool} --error-exitcode=9 --suppressions=${CMAKE_CURRENT_SOURCE_DIR}/support/thirdparty-hb.supp $<TARGET_FILE:${ex}> \"$@\"\n"
          FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                           WORLD_READ WORLD_EXECUTE)
      endif()
    endforeach()
    # name, expected output; then the command.
    function(weft_hb_test name want)
      add_test(NAME ${name} COMMAND ${ARGN})
      set_tests_properties(${name} PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
        PASS_REGULAR_EXPRESSION "${want}" FAIL_REGULAR_EXPRESSION "ERROR SUMMARY: [1-9]")
    endfunction()
    if(TARGET producer_consumer)
      weft_hb_test(${tool}_producer_consumer "2000 items by 4 consumers"
                   ${vgt}/${tool}-producer_consumer 2000 4)
    endif()
    if(TARGET workers)
      weft_hb_test(${tool}_workers "1229 primes below 10000, 3 threads" ${vgt}/${tool}-workers 3 10000)
    endif()
    if(TARGET printer)
      weft_hb_test(${tool}_printer "rows ok: 1 words: 435"
        sh -c "${vgt}/${tool}-printer --width 40 30 | awk 'length > 40 { bad = 1 } { words += NF } END { print \"rows ok:\", !bad, \"words:\", words }'")
      # the pipe hides the status: the summary goes to stderr, which the test sees
    endif()
    if(TARGET stoppable)
      weft_hb_test(${tool}_stoppable "main: worker joined [0-9.]+ ms after stop\\(\\): success"
                   ${vgt}/${tool}-stoppable 400 60000)
    endif()
    if(TARGET rangesum)
      weft_hb_test(${tool}_rangesum "all three sums agree" ${vgt}/${tool}-rangesum 200000)
    endif()
    if(TARGET hello_processes)
      weft_hb_test(${tool}_hello_processes "3 processes joined, 0 failed"
                   ${vgt}/${tool}-hello_processes 3)
    endif()
    if(TARGET dirlist) # the source tree's own src/: a fixed, small tree
      weft_hb_test(${tool}_dirlist "[0-9]+ files in .* with 2 workers"
                   ${vgt}/${tool}-dirlist 2 ${PROJECT_SOURCE_DIR}/src)
    endif()
    if(TARGET rangesum_processes)
      weft_hb_test(${tool}_rangesum_processes "all three agree"
                   ${vgt}/${tool}-rangesum_processes 200000)
    endif()
    if(TARGET crash_demo) # the dying worker is valgrind's too: its SIGSEGV is the point
      weft_hb_test(${tool}_crash_demo "9 of 10 succeeded" ${vgt}/${tool}-crash_demo segv)
    endif()
    if(TARGET first_answer) # libcurl's and p11-kit's own locks: support/thirdparty-hb.supp
      weft_hb_test(${tool}_first_answer "answer from server 2 after 20 ms.*cancelled 2 other fetch"
                   ${vgt}/${tool}-first_answer --local 60000 20 60000)
    endif()
    if(TARGET rangesum_procpool)
      weft_hb_test(${tool}_rangesum_procpool "the sums agree" ${vgt}/${tool}-rangesum_procpool 200000 4)
    endif()
    foreach(mode clean future select sync)
      weft_hb_test(${tool}_user_${mode} "tsan_user: ${mode} run ok" ${vgt}/${tool}-vg_user ${mode})
    endforeach()
    foreach(mode race future-race)
      add_test(NAME ${tool}_user_${mode} COMMAND ${vgt}/${tool}-vg_user ${mode})
      set_tests_properties(${tool}_user_${mode} PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
        PASS_REGULAR_EXPRESSION "${hb_${tool}}")
    endforeach()
  endforeach()
endif()

# Seed 000's radio as a daemon: three SIGHUPs arrive as items on a queue (weft_signals_notify)
# and reload without stopping anything; then one SIGINT still stops every thread cleanly.
if(TARGET radio)
  add_test(NAME example_radio_sighup_reloads
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/radio-hup-run $<TARGET_FILE:radio>)
  set_tests_properties(example_radio_sighup_reloads PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "reloaded \\(3 so far\\).*stopped cleanly.*stopped cleanly.*stopped cleanly.*main: all threads stopped \\(SIGINT received\\).*exit status: 0")
endif()

# A weft pool behind an epoll loop (issue 18): 8 clients pipeline 50 requests each, every
# answer checked; completions reach the loop through a queue's fd, SIGINT through another's.
if(TARGET epoll_pool)
  add_test(NAME example_epoll_pool
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/support/epoll-pool-run $<TARGET_FILE:epoll_pool>)
  set_tests_properties(example_epoll_pool PROPERTIES TIMEOUT 120
    PASS_REGULAR_EXPRESSION "400 of 400 answers correct, 0 wrong, 0 missing.*bad request answered: \\? error.*idle client's answer: 1 1.*SIGINT: stopping.*401 requests served, 1 errors, 10 clients closed at shutdown.*exit status: 0")
endif()
