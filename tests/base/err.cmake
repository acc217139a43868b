# Criterion unit tests of base/err (the error type) and base/deadline (the
# monotonic clock and deadlines), as their own CTest entry base_err_unit.
# Included from tests/CMakeLists.txt.
add_executable(test-base-err ${CMAKE_CURRENT_LIST_DIR}/test_err.c
                             ${CMAKE_CURRENT_LIST_DIR}/test_deadline.c)
target_compile_definitions(test-base-err PRIVATE _GNU_SOURCE)
target_link_libraries(test-base-err PRIVATE mgd_base PkgConfig::CRITERION)
add_test(NAME base_err_unit COMMAND test-base-err --jobs 2)
set_tests_properties(base_err_unit PROPERTIES LABELS unit FAIL_REGULAR_EXPRESSION
                                              "runtime error|Sanitizer")
