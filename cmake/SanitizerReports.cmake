# cmake -DDIR=<dir> -DMODE=clear|check -P SanitizerReports.cmake
# The sanitizer run's fixture (tests/CMakeLists.txt): `clear` empties the
# directory every sanitized process writes its reports to (log_path), before
# the tests; `check` prints every report found there after them and fails if
# there is one. A report from an executor or a daemon the tests started would
# otherwise only show as a crashed worker, which several tests expect.
if(MODE STREQUAL "clear")
  file(REMOVE_RECURSE "${DIR}")
  file(MAKE_DIRECTORY "${DIR}")
  return()
endif()
file(GLOB reports "${DIR}/*")
if(NOT reports)
  message(STATUS "no sanitizer reports in ${DIR}")
  return()
endif()
list(LENGTH reports count)
foreach(report IN LISTS reports)
  file(READ "${report}" text)
  message("==== ${report}\n${text}")
endforeach()
message(FATAL_ERROR "${count} sanitizer report(s) in ${DIR}")
