# The test run under AddressSanitizer and UndefinedBehaviorSanitizer
# (-DDPOOL_SANITIZE=ON, `make sanitize`): included by the top-level
# CMakeLists.txt before the directories that add tests.
#
# Every process a test starts inherits the options from the test's
# environment: executors (the test programs themselves, dpool-executor,
# test_task_host), the `dpool` command's daemons, clients. Each writes its
# reports to a file of its own under sanitizer-reports/ (log_path, named by
# test and pid), and the sanitizer_reports test, run after all the others,
# fails if there is one: an executor that dies of a report is otherwise only
# a crashed worker, which many tests expect and some retry. abort_on_error
# makes such a death a SIGABRT, never an exit code a task could have chosen.
# See docs/security.md for what runs here and what does not.
set(dpool_reports ${CMAKE_BINARY_DIR}/sanitizer-reports)

# Tests of programs outside dpool, or of none of ours: not what this run is for.
#   dashboard: headless Chromium renders the page (the HTTP endpoint itself
#     runs in the http test).
#   slurm, multihost_netns, multihost_ssh_launch: a SLURM cluster, network
#     namespaces, sshd; our processes there run the same code as the cluster
#     tests do.
#   package_install_and_consume, package_deb: build a consumer with the
#     plain compiler against the installed library, which would need the
#     sanitizer runtime; they test packaging, not memory.
#   systemd_units: systemd-analyze reads unit files; none of our code runs.
set(dpool_unsanitized dashboard slurm multihost_netns multihost_ssh_launch
  package_install_and_consume package_deb systemd_units)

# handle_segv=0: tests crash executors with SIGSEGV on purpose and check that
# the executor died of SIGSEGV; ASan's handler would turn that into a report
# and a SIGABRT. A wild access still kills its process, as a crash the tests
# see, but without a report.
set(dpool_asan_options abort_on_error=1 halt_on_error=1 check_initialization_order=1
  detect_leaks=1 handle_segv=0)
# GCC's libubsan, loaded next to libasan, ignores log_path: UBSan reports go
# to the process's stderr. abort_on_error makes the process die of SIGABRT,
# and a test whose output shows a report fails (FAIL_REGULAR_EXPRESSION
# below); a report on the stderr of a daemon whose output the test reads
# from a pipe shows only as that daemon's death.
set(dpool_ubsan_options print_stacktrace=1 halt_on_error=1 abort_on_error=1)

add_test(NAME sanitizer_reports_clear
  COMMAND ${CMAKE_COMMAND} -DDIR=${dpool_reports} -DMODE=clear
          -P ${CMAKE_CURRENT_LIST_DIR}/SanitizerReports.cmake)
add_test(NAME sanitizer_reports
  COMMAND ${CMAKE_COMMAND} -DDIR=${dpool_reports} -DMODE=check
          -P ${CMAKE_CURRENT_LIST_DIR}/SanitizerReports.cmake)
set_tests_properties(sanitizer_reports_clear PROPERTIES FIXTURES_SETUP sanitizer_reports)
set_tests_properties(sanitizer_reports PROPERTIES FIXTURES_CLEANUP sanitizer_reports)

# Called at the end of each directory that adds tests (tests/, examples/,
# bench/): CMake 3.25 sets a test's properties only in its own directory.
function(dpool_sanitize_tests)
  list(JOIN dpool_asan_options : asan)
  list(JOIN dpool_ubsan_options : ubsan)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    if(test IN_LIST dpool_unsanitized)
      set_tests_properties(${test} PROPERTIES DISABLED TRUE)
      continue()
    endif()
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
      "ASAN_OPTIONS=${asan}:log_path=${dpool_reports}/${test}"
      "UBSAN_OPTIONS=${ubsan}:log_path=${dpool_reports}/${test}")
    set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED sanitizer_reports)
    set_property(TEST ${test} APPEND PROPERTY FAIL_REGULAR_EXPRESSION
      "runtime error: " "ERROR: AddressSanitizer" "ERROR: LeakSanitizer")
  endforeach()
endfunction()
